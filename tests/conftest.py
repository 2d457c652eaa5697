"""Shared fixtures. Tests never touch the network; run directories go under pytest's tmp_path."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs"


@pytest.fixture
def runs_dir() -> Path:
    """The shipped experiment definitions."""
    return RUNS


@pytest.fixture
def tiny_config():
    """A very small red_door config (fast enough for unit tests)."""
    from evosim.config import load_config

    return load_config(RUNS / "quickstart.toml", {"evolution.population": 40, "evolution.generations": 4,
                                                  "evolution.episodes": 4, "evolution.checkpoint_every": 2})


def small_mixed_run(path: Path, report: bool = True) -> Path:
    """A red_door quickstart run small enough for the viewer's tests: planners and heuristics,
    genomes saved every 3rd generation and at the last, 12 probe episodes per distribution; with its report
    (no figures) unless ``report=False``."""
    from evosim.config import load_config
    from evosim.experiment import run_experiment
    from evosim.report import report_run

    cfg = load_config(RUNS / "quickstart.toml", {"evolution.population": 40, "evolution.generations": 6,
                                                 "evolution.episodes": 4, "evolution.checkpoint_every": 3,
                                                 "probe.episodes": 12, "probe.decision_episodes": 5,
                                                 "probe.random_rollouts": 4})
    run_experiment(cfg, path, mode="new", progress=False)
    if report:
        report_run(path, figures=False)
    return path
