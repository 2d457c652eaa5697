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
