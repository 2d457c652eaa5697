"""The benchmark machinery: record format and names, the Mesa reference, the numba cache guard.

Nothing here asserts a speed: timings are measured by ``evosim bench``, never tested.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

from evosim import bench
from evosim.bench import report as bench_report
from evosim.bench import suite, workloads

HEADLINE = {"heuristic_steps_per_s_per_core", "planner_steps_per_s_per_core", "heuristic_speedup_vs_naive",
            "planner_speedup_vs_naive", "heuristic_speedup_vs_mesa", "parallel_speedup_2_threads"}


def _check_record(r):
    assert set(r) == {"name", "value", "unit", "params"}
    assert isinstance(r["name"], str) and isinstance(r["unit"], str) and isinstance(r["params"], dict)
    assert isinstance(r["value"], float)
    json.dumps(r, default=str)


@pytest.fixture(scope="module")
def tiny_records():
    return bench.run_suite("tiny", log=lambda m: None)


def test_tiny_suite_emits_the_headline_records(tiny_records):
    """Every headline record that the tiny profile covers is present, once, under its
    exact name, in the {name, value, unit, params} format; rates and ratios are positive.
    False if a name drifts (e.g. ``heuristic_steps_per_sec``) or a measurement silently drops out."""
    names = [r["name"] for r in tiny_records]
    assert HEADLINE <= set(names)
    assert len(names) == len(set(names))
    for r in tiny_records:
        _check_record(r)
        if r["name"] in HEADLINE:
            assert r["value"] > 0 and math.isfinite(r["value"]), r
    plans = next(r for r in tiny_records if r["name"] == "planner_plans_per_step")
    assert plans["value"] > 6, "the planner benchmark must search over several perceived objects"


def _keys_chests_heuristics(n, episodes):
    from evosim import genome as gn

    w = workloads.make_world(name="keys_chests", size=9, n_distractors=2, max_steps=40)
    rng = np.random.default_rng(5)
    lay = w.sample(rng, "control", episodes)
    g = gn.random_population(rng, n, 0.0)
    g[:, gn.H_ATTRACT] += 2.0  # seek keys and chests, so inventories fill and chests open
    return workloads.Workload(g, lay, np.arange(episodes), w, 3, 40)


def _ancestral_heuristics(n, episodes):
    from evosim import genome as gn

    w = workloads.make_world(name="ancestral_modern", size=11, max_steps=40)
    rng = np.random.default_rng(6)
    lay = w.sample(rng, "shift", episodes)
    g = gn.random_population(rng, n, 0.0)
    g[:, gn.H_ATTRACT] += 2.0  # seek food, so that some organisms eat their fill
    return workloads.Workload(g, lay, np.arange(episodes), w, 3, 40)


@pytest.mark.parametrize("make", [lambda: bench.heuristic_workload(6, 3, size=11, max_steps=40),
                                  lambda: _keys_chests_heuristics(6, 3), lambda: _ancestral_heuristics(6, 3)],
                         ids=["red_door", "keys_chests", "ancestral_modern"])
def test_mesa_reference_matches_the_kernel(make):
    """The Mesa reference (agents on a MultiGrid, ``agents_by_type[...].do("step")``) plays the
    same episodes as the kernel: identical traces, step counts and returns. False if it computed
    a different policy, used other random draws, or ended episodes under another rule, in which
    case ``heuristic_speedup_vs_mesa`` would compare different work."""
    work = make()
    work.heuristic_signal = "compass"  # the Mesa reference implements the compass signal
    rec = work.run(record_trace=True)
    steps, ret, trace = bench.mesa_rollout(work)
    np.testing.assert_array_equal(steps, rec.steps)
    np.testing.assert_array_equal(ret, rec.ret)
    np.testing.assert_array_equal(trace, rec.trace)
    assert rec.steps.sum() > 0


def test_comparisons_refuse_different_work(monkeypatch):
    """A speedup is only reported when both sides produced identical episodes."""
    work = bench.heuristic_workload(3, 1, size=11, max_steps=20)
    real = bench.mesa_rollout

    def wrong(w):
        steps, ret, trace = real(w)
        return steps + 1, ret, trace

    monkeypatch.setattr(bench.suite, "mesa_rollout", wrong)  # where speedup_vs_mesa looks it up
    with pytest.raises(RuntimeError, match="disagree"):
        bench.speedup_vs_mesa(work, 1)


def test_cli_json_and_doc(tmp_path, monkeypatch):
    """``evosim bench --json OUT --doc MD`` writes a JSON list of records and rewrites only the
    generated section of the Markdown file (text outside the markers survives)."""
    monkeypatch.setitem(bench.PROFILES, "quick", bench.PROFILES["tiny"])
    out, doc = tmp_path / "b.json", tmp_path / "perf.md"
    doc.write_text(f"# Perf\n\nnarrative stays\n\n{bench_report.DOC_START}\nold numbers\n{bench_report.DOC_END}\n\ntail stays\n")
    from evosim.cli import main

    assert main(["bench", "--quick", "--json", str(out), "--doc", str(doc)]) == 0
    recs = json.loads(out.read_text())
    assert isinstance(recs, list) and HEADLINE <= {r["name"] for r in recs}
    for r in recs:
        _check_record(r)
    text = doc.read_text()
    assert "narrative stays" in text and "tail stays" in text and "old numbers" not in text
    assert "`heuristic_steps_per_s_per_core`" in text and "evosim bench --quick" in text


def test_cli_bad_output_directory_is_a_user_error(tmp_path, capsys):
    from evosim.cli import main

    assert main(["bench", "--quick", "--json", str(tmp_path / "nope" / "b.json")]) == 2
    err = capsys.readouterr().err
    assert "--json" in err and "does not exist" in err and "Traceback" not in err


def test_experiment_files_skip_sweeps(tmp_path):
    (tmp_path / "a.toml").write_text('name = "a"\n[world]\nsize = 9\n')
    (tmp_path / "s.toml").write_text('base = "a.toml"\nname = "s"\n[grid]\n"world.size" = [9, 11]\n')
    keep, skipped = suite.experiment_files(tmp_path)
    assert [p.name for p in keep] == ["a.toml"] and skipped == ["s.toml"]


def test_shipped_experiments_are_found(runs_dir):
    keep, _ = suite.experiment_files(runs_dir)
    assert "quickstart.toml" in {p.name for p in keep}


def test_scaling_exponent_and_rows(tmp_path):
    """The fitted exponent recovers a known power law; scaling rows carry their work and a figure is drawn."""
    x = np.array([1e3, 1e4, 1e5])
    assert suite.fit_exponent(x, 3e-6 * x**1.0) == pytest.approx(1.0)
    assert suite.fit_exponent(x, 2e-9 * x**2.0) == pytest.approx(2.0)
    rows = suite.scaling_rows([20, 40], [1, 2], [9, 11], [1, 2], 1, lambda m: None)
    assert {r["factor"] for r in rows} == {"population", "episodes", "grid size", "planner depth"}
    pop = [r for r in rows if r["factor"] == "population"]
    assert [r["organisms"] for r in pop] == [20, 40] and all(r["seconds"] > 0 for r in rows)
    recs = suite.scaling_records(rows)
    assert {r["name"] for r in recs} == {"scaling_exponent_population", "scaling_exponent_episodes",
                                         "scaling_exponent_grid_size", "scaling_exponent_depth"}
    bench_report.scaling_figure(rows, tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_cache_guard_is_installed_for_kernels():
    """Kernels are cached under a stamp that includes a digest of every kernel source (see bfs.py)."""
    import importlib

    bfs = importlib.import_module("evosim.kernels.bfs")
    rollout = importlib.import_module("evosim.kernels.rollout")
    loc = rollout._rollout._cache._impl._locator
    assert getattr(type(loc), "evosim_guard", False)
    assert loc.get_source_stamp()[1] == bfs._kernel_sources_digest()


_UNREACHABLE_PROBE = r"""
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import evosim.kernels as k
assert k.__file__.startswith(sys.argv[1]), k.__file__
walls = np.zeros((1, 5, 5), np.uint8); walls[0, 2, :] = 1
d = k.distance_maps(walls, np.array([[[0, 0]]]), np.array([[0]]))
print(int(d[0, 0, 4, 4]))
"""


@pytest.mark.slow
def test_cache_is_not_stale_after_a_dependency_changes(tmp_path):
    """bfs._distance_maps freezes constants.UNREACHABLE into its compiled code. After constants.py
    changes (bfs.py untouched) a fresh process with the same NUMBA_CACHE_DIR must recompile and
    use the new value. False without the cache guard: numba would load the stale kernel."""
    src = Path(bench.__file__).resolve().parents[1]  # the evosim package (bench is a subpackage)
    shutil.copytree(src, tmp_path / "pkg" / "evosim", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))

    def unreachable():
        p = subprocess.run([sys.executable, "-c", _UNREACHABLE_PROBE, str(tmp_path / "pkg")], env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        return int(p.stdout.split()[-1])

    assert unreachable() == 32767
    const = tmp_path / "pkg" / "evosim" / "constants.py"
    const.write_text(const.read_text().replace("UNREACHABLE = 32767", "UNREACHABLE = 32000"))
    assert unreachable() == 32000
