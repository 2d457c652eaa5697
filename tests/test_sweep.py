"""Condition sweeps (evosim.sweep): local cluster == serial, resume, failed cells, strict sweep files.

Everything runs on loopback with a tiny base config (2 cells x 2 seeds); most of the time is
starting Dask worker processes. The runs' reports draw no figures (``run_figures=False``) where a
test compares tables (figures change no table); ``test_bad_override_value_fails_only_its_cell``
runs the CLI's default, with figures.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evosim import sweep as sw
from evosim.cli import main
from evosim.schema import CLASSES
from evosim.sweep.results import summarise

TINY_BASE = """
name = "tiny"
seed = 0
[world]
name = "red_door"
size = 9
n_distractors = 2
max_steps = 30
[organisms]
initial_planner_share = 0.3
[evolution]
population = 16
generations = 3
episodes = 2
elitism = 1
checkpoint_every = 2
[probe]
episodes = 4
decision_episodes = 2
random_rollouts = 2
"""


def write_sweep(tmp_path: Path, body: str, name: str = "s.toml") -> Path:
    (tmp_path / "base.toml").write_text(TINY_BASE)
    p = tmp_path / name
    p.write_text('base = "base.toml"\n' + body)
    return p


GRID = """
seeds = [1, 2]
[grid]
"world.train_pool" = [0, 2]
"""


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The tiny GRID sweep run once in this process (the reference the other modes must equal)."""
    tmp = tmp_path_factory.mktemp("serial")
    f = write_sweep(tmp, GRID)
    res = sw.run_sweep(sw.load_sweep(f), out=tmp / "out", workers=0, progress=False, log=lambda m: None,
                       run_figures=False)
    return f, res


def manifests(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in sorted((out / "cells").glob("*/manifest.json"))}


def test_local_cluster_equals_serial(tmp_path, serial):
    """A 2-worker LocalCluster gives the same sweep.parquet as running every cell in this process.

    False if results depended on where or in which order runs execute (gathering out of order,
    per-process state leaking between runs, threads changing results), or if the cluster path
    silently ran nothing on the workers.
    """
    f, ref = serial
    sw.run_sweep(sw.load_sweep(f), out=tmp_path / "local", workers=2, progress=False, log=lambda m: None,
                 run_figures=False)
    assert ref.n_failed == 0 and len(ref.table) == 4
    a = pd.read_parquet(ref.out / "sweep.parquet")
    b = pd.read_parquet(tmp_path / "local" / "sweep.parquet")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(pd.read_parquet(ref.out / "summary.parquet"),
                                  pd.read_parquet(tmp_path / "local" / "summary.parquet"))
    # the cluster really did the work, in other processes
    man = json.loads((tmp_path / "local" / "manifest.json").read_text())
    assert man["mode"] == "local" and man["runs_computed"] == 4
    pids = {r["pid"] for r in man["runs"]}
    assert os.getpid() not in pids and len(pids) >= 1
    # rows are the runs' own tables: each run directory is an ordinary, loadable run
    import evosim

    for h, ps in zip(a["cell_hash"], a["planner_share"]):
        run = evosim.load_run(tmp_path / "local" / "cells" / h)
        assert run.generations["planner_share"].iloc[-1] == ps
    # different seeds really differ (the table is not constant)
    assert a["fitness_mean"].nunique() > 1


def test_resume_skips_complete_runs(tmp_path, serial):
    """A killed sweep re-run recomputes only the unfinished run and ends with the same table.

    Simulates a kill: one run directory is left mid-run (status 'running', tables missing, the
    dead process's lock file) and sweep.parquet was never written. False if the re-run recomputed finished runs (their
    manifests would be rewritten), skipped the unfinished one, or produced a different table.
    """
    f, first = serial
    out = tmp_path / "out"
    shutil.copytree(first.out, out)
    want = pd.read_parquet(out / "sweep.parquet")
    before = manifests(out)
    assert len(before) == 4
    victim = first.table["cell_hash"].iloc[2]
    mpath = out / "cells" / victim / "manifest.json"
    man = json.loads(mpath.read_text())
    man["status"] = "running"
    mpath.write_text(json.dumps(man))
    (out / "cells" / victim / "generations.parquet").unlink()
    dead = subprocess.Popen(["true"])
    dead.wait()  # the lock of a killed process: its pid no longer runs
    (out / "cells" / victim / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    (out / "sweep.parquet").unlink()
    before = manifests(out)
    again = sw.run_sweep(sw.load_sweep(f), out=out, workers=0, progress=False, log=lambda m: None, run_figures=False)
    after = manifests(out)
    assert again.n_computed == 1 and again.n_skipped == 3
    assert {h for h in after if after[h] != before[h]} == {victim}
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), want)
    # a third run computes nothing at all
    third = sw.run_sweep(sw.load_sweep(f), out=out, workers=0, progress=False, log=lambda m: None, run_figures=False)
    assert third.n_computed == 0 and manifests(out) == after


def test_bad_override_value_fails_only_its_cell(tmp_path, capsys):
    """A value the config rejects fails that cell (with the config's message); the others complete.

    False if one bad cell stopped the sweep, wrote a half-run directory, or was recorded without
    saying which setting and value were wrong.
    """
    f = write_sweep(tmp_path, """
seeds = [1, 2]
[grid]
"organisms.planning_cost" = [0.001, -1.0]
""")
    out = tmp_path / "out"
    code = main(["sweep", str(f), "--workers", "0", "--out", str(out), "--quiet"])
    assert code == 1  # some runs failed; tables still written
    t = pd.read_parquet(out / "sweep.parquet")
    ok, bad = t[t["organisms.planning_cost"] == 0.001], t[t["organisms.planning_cost"] == -1.0]
    assert (ok["status"] == "complete").all() and ok["planner_share"].notna().all()
    assert (bad["status"] == "failed").all() and bad["planner_share"].isna().all()
    assert all("planning_cost" in e and "-1.0" in e for e in bad["error"])
    assert len(list((out / "cells").iterdir())) == 2  # no directory for the rejected cell
    s = pd.read_parquet(out / "summary.parquet")
    ps = s[s["metric"] == "planner_share"].set_index("cell")
    assert ps.loc[0, "n"] == 2 and ps.loc[1, "n"] == 0 and ps.loc[1, "n_failed"] == 2
    assert "failed" in capsys.readouterr().err


def test_scheduler_mode_retries_a_dead_worker(tmp_path, serial):
    """--scheduler mode on an existing cluster; a worker killed mid-run has its run retried.

    One run kills its worker process (os._exit) on the first attempt. False if that run ends up
    failed or missing, or if the table differs from the serial one.
    """
    from distributed import Client, LocalCluster

    f, ref = serial
    sweep = sw.load_sweep(f)
    target = ref.table["cell_hash"].iloc[1]
    marker = tmp_path / "died_once"

    def install(dask_worker, target=target, marker=str(marker)):
        import evosim.sweep.execute as mod  # run_sweep submits execute_run from there

        real = mod.execute_run

        def dying(spec, threads=None, **kw):
            if spec.cell_hash == target and not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(1)
            return real(spec, threads, **kw)
        mod.execute_run = dying

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      silence_logs=50) as cluster, Client(cluster) as client:
        client.run(install)
        res = sw.run_sweep(sweep, out=tmp_path / "cluster", scheduler=cluster.scheduler_address, progress=False,
                           log=lambda m: None, run_figures=False)
    assert marker.exists()  # the worker did die once
    assert res.n_failed == 0
    pd.testing.assert_frame_equal(res.table, ref.table)


@pytest.mark.parametrize("body, needle", [
    ("seeds = [1]\nseed = [1]\n[grid]\n\"world.size\" = [9]\n", "unknown key (did you mean 'seeds'?)"),
    ("seeds = [1]\n[grid]\n\"organisms.planing_cost\" = [0.0]\n", "did you mean 'organisms.planning_cost'"),
    ("seeds = [1]\n[grid]\n", "empty grid"),
    ("seeds = [1]\n", "empty grid"),
    ("seeds = [1]\n[grid]\n\"world.size\" = []\n", "empty list"),
    ("seeds = [1]\n[grid]\n\"world.size\" = 9\n", "expected a list"),
    ("seeds = [1]\n[grid]\n\"world.size\" = [9, 9]\n", "repeated"),
    ("seeds = []\n[grid]\n\"world.size\" = [9]\n", "non-empty list"),
    ("seeds = [1, -2]\n[grid]\n\"world.size\" = [9]\n", "-2 is not allowed"),
    ("seeds = [1, 1]\n[grid]\n\"world.size\" = [9]\n", "repeated"),
    ("seeds = [true]\n[grid]\n\"world.size\" = [9]\n", "True is not allowed"),
    ("[grid]\n\"world.size\" = [9]\n", "seeds: missing"),
    ("seeds = [1]\n[grid]\nseed = [1, 2]\n", "cannot be swept"),
    ("seeds = [1]\n[grid]\n\"world.size\" = [9]\n[[cells]]\n\"world.size\" = 11\n", "also a grid key"),
    ("seeds = [1]\n[[cells]]\nworld.sise = 11\n", "did you mean 'world.size'"),
])
def test_bad_sweep_file_exits_2_and_writes_nothing(tmp_path, capsys, body, needle):
    """Each malformed sweep file gives a one-line error naming the problem, exit 2, and no output directory.

    False if a typo were silently ignored (a sweep that does not sweep what the user meant),
    if a traceback were printed, or if anything were written.
    """
    f = write_sweep(tmp_path, body)
    out = tmp_path / "out"
    code = main(["sweep", str(f), "--workers", "0", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and str(f) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_base_and_missing_file(tmp_path, capsys):
    """A missing sweep file or a base experiment with a bad key is a user error (exit 2), nothing written."""
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "nope.toml"), "--out", str(out)]) == 2
    f = tmp_path / "s.toml"
    (tmp_path / "base.toml").write_text(TINY_BASE.replace("size = 9", "sise = 9"))
    f.write_text('base = "base.toml"\nseeds = [1]\n[grid]\n"world.size" = [9]\n')
    assert main(["sweep", str(f), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "sise" in err
    assert not out.exists()


def test_grid_and_cells_expand_in_order(tmp_path):
    """[[cells]] crossed with [grid], in file order; nested and quoted dotted keys mean the same."""
    f = write_sweep(tmp_path, """
seeds = [3, 1]
[grid]
world.train_pool = [0, 4]
"organisms.planning_cost" = [0.0, 0.01]
[[cells]]
"world.size" = 9
[[cells]]
world.size = 11
""")
    s = sw.load_sweep(f)
    assert s.keys == ("world.train_pool", "organisms.planning_cost", "world.size")
    assert len(s.cells) == 8 and s.cells[0] == {"world.size": 9, "world.train_pool": 0, "organisms.planning_cost": 0.0}
    specs = sw.plan_runs(s, tmp_path / "o")
    assert [(r.cell, r.seed) for r in specs][:3] == [(0, 3), (0, 1), (1, 3)]
    assert len({r.cell_hash for r in specs}) == 16
    # the hash is a function of the resolved config only
    again = sw.plan_runs(sw.load_sweep(f), tmp_path / "elsewhere")
    assert [r.cell_hash for r in again] == [r.cell_hash for r in specs]


def test_summary_uses_t_interval_for_unbounded_metrics_and_bootstrap_for_shares():
    """summary.parquet's CI: for an unbounded metric mean +- t(0.975, n-1) * sd / sqrt(n) over complete seeds;
    for a share the BCa bootstrap over seeds (evosim.stats.bca_interval, inside [0, 1]); failed seeds excluded."""
    from scipy import stats

    from evosim.stats import bca_interval

    vals = [0.1, 0.4, 0.35, 0.9]
    table = pd.DataFrame({"cell": [0] * 5, "k": [1] * 5, "seed": range(5),
                          "status": ["complete"] * 4 + ["failed"], "planner_share": vals + [math.nan],
                          "fitness_mean": vals + [math.nan]})
    summ = summarise(table, ["k"]).set_index("metric")
    s = summ.loc["fitness_mean"]
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(vals), scale=stats.sem(vals))
    assert s["n"] == 4 and s["n_failed"] == 1 and s["interval"] == "t"
    assert s["mean"] == pytest.approx(np.mean(vals)) and s["ci_lo"] == pytest.approx(lo) and s["ci_hi"] == pytest.approx(hi)
    b = summ.loc["planner_share"]
    assert b["interval"] == "bootstrap" and (b["ci_lo"], b["ci_hi"]) == bca_interval(vals, rng=0)
    assert 0.0 <= b["ci_lo"] <= b["mean"] <= b["ci_hi"] <= 1.0


def test_figures_from_tables(tmp_path):
    """Phase diagram (3 grid keys) and dose response (1 key) are drawn from summary tables alone."""
    from evosim.sweep import figures as sweep_figures

    rows = []
    for i, (pool, cost, size) in enumerate([(p, c, z) for p in (0, 4) for c in (0.0, 0.01) for z in (9, 13)]):
        rows.append({"cell": i, "world.train_pool": pool, "organisms.planning_cost": cost, "world.size": size,
                     "metric": "planner_share", "n": 5, "n_failed": 0, "mean": 0.5, "sd": 0.1, "ci_lo": 0.4,
                     "ci_hi": 0.6})
    figs = sweep_figures.sweep_figures(pd.DataFrame(rows), ["world.train_pool", "organisms.planning_cost",
                                                            "world.size"], tmp_path / "f")
    assert [p.name for p in figs] == ["phase_diagram.png"]
    dose = pd.DataFrame([{"cell": i, "world.proxy_break_rate": r, "metric": f"shift_all_{c}", "n": 5, "n_failed": 0,
                          "mean": 0.3, "sd": 0.1, "ci_lo": 0.2, "ci_hi": 0.4}
                         for i, r in enumerate((0.0, 0.01, 0.5)) for c in CLASSES])
    figs = sweep_figures.sweep_figures(dose, ["world.proxy_break_rate"], tmp_path / "f")
    assert [p.name for p in figs] == ["dose_response.png"]
    for p in (tmp_path / "f").iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_shipped_sweep_files_are_valid(runs_dir):
    """runs/conditions.toml loads, resolves and has >= 5 seeds per cell (the dose-response sweeps, built on the shipped
    experiments, are checked in tests/test_dose_response.py)."""
    s = sw.load_sweep(runs_dir / "conditions.toml")
    assert len(s.seeds) >= 5 and len(s.grid_keys) == 3
    assert all(r.config is not None for r in sw.plan_runs(s, Path("/nonexistent")))
