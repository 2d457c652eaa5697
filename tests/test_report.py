"""``evosim report``: outputs on disk, atomic re-runs, determinism, CLI errors."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import evosim
from evosim.cli import main
from evosim.experiment import run_experiment
from evosim.objectives import CLASSES
from evosim.report import report_run

FIGURES = {"fitness_planner_share.png", "outcome_classes.png", "true_vs_proxy.png", "mesa_vs_behavioural.png",
           "agreement.png", "utility_lineage.png", "threshold_sensitivity.png", "power.png", "interventions.png"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from evosim.config import load_config

    from conftest import RUNS

    cfg = load_config(RUNS / "quickstart.toml", {"evolution.population": 30, "evolution.generations": 4,
                                                 "evolution.episodes": 4, "evolution.checkpoint_every": 2,
                                                 "probe.episodes": 10, "probe.decision_episodes": 5,
                                                 "probe.random_rollouts": 4})
    d = tmp_path_factory.mktemp("runs") / "tiny"
    run_experiment(cfg, d, mode="new", progress=False)
    return d


def test_report_writes_tables_and_figures(run_dir):
    """probe.parquet (readable via load_run), interventions.parquet, every figure, and a class-share summary."""
    tab = report_run(run_dir)
    run = evosim.load_run(run_dir)
    probe = run.probe
    assert len(probe) == 30 * 3
    assert set(probe["class"].astype(str)) <= set(CLASSES)
    assert set(run.interventions["edit"]) <= {"none", "proxy_to_true", "true_to_proxy"}
    assert {p.name for p in (run_dir / "figures").glob("*.png")} == FIGURES
    for p in (run_dir / "figures").glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    assert set(tab.columns) == {"generation", "architecture", "distribution", "n", *CLASSES}
    shares = tab[list(CLASSES)].sum(axis=1)
    assert ((shares - 1).abs() < 1e-9).all()
    assert not list(run_dir.glob(".*.tmp")) and not list((run_dir / "figures").glob(".*.tmp"))
    assert not (run_dir / ".lock").exists()


def test_report_is_deterministic_and_replaces_outputs(run_dir):
    """Re-running gives byte-identical tables; checkpointed generations can be probed too."""
    report_run(run_dir, figures=False)
    first = (run_dir / "probe.parquet").read_bytes()
    report_run(run_dir, generations=[0, 3], figures=False)
    both = pd.read_parquet(run_dir / "probe.parquet")
    assert sorted(both["generation"].unique()) == [0, 3]
    report_run(run_dir, figures=False)
    assert (run_dir / "probe.parquet").read_bytes() == first


def test_report_same_at_one_and_two_threads(run_dir, tmp_path):
    """NUMBA_NUM_THREADS=1 gives the same probe table as the default (2 threads)."""
    report_run(run_dir, figures=False)
    ref = pd.read_parquet(run_dir / "probe.parquet")
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    code = f"import evosim.report as r; r.report_run({str(run_dir)!r}, figures=False)"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600)
    pd.testing.assert_frame_equal(pd.read_parquet(run_dir / "probe.parquet"), ref)


def test_cli_report(run_dir, capsys):
    assert main(["report", str(run_dir), "--quiet", "--episodes", "6"]) == 0
    out = capsys.readouterr().out
    assert "pseudo_aligned" in out and "robust" in out


@pytest.mark.parametrize("args", [["report", "/nonexistent/run"], ["report", "RUN", "--generations", "1"],
                                  ["report", "RUN", "--episodes", "0"]])
def test_cli_report_user_errors(run_dir, capsys, args):
    """Bad run dir, unsaved generation, bad episode count: one line, exit 2, probe.parquet untouched."""
    before = (run_dir / "probe.parquet").read_bytes() if (run_dir / "probe.parquet").exists() else None
    args = [str(run_dir) if a == "RUN" else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("evosim: error:")
    after = (run_dir / "probe.parquet").read_bytes() if (run_dir / "probe.parquet").exists() else None
    assert before == after


def test_report_on_a_directory_that_is_not_a_run(tmp_path):
    with pytest.raises(evosim.RunError):
        report_run(tmp_path)
    assert not list(Path(tmp_path).iterdir())
