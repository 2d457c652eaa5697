"""``evosim report``: outputs on disk, atomic re-runs, determinism, CLI errors."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evosim
from evosim.cli import main
from evosim.experiment import run_experiment
from evosim.schema import CLASSES, DISTRIBUTIONS
from evosim.report import report_run

FIGURES = {"fitness_planner_share.png", "outcome_classes.png", "true_vs_proxy.png", "mesa_vs_behavioural.png",
           "agreement.png", "utility_lineage.png", "threshold_sensitivity.png", "power.png", "interventions.png",
           "population_agreement.png", "three_way.png"}


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


def expected_summary(probe: pd.DataFrame) -> dict:
    """{(architecture, distribution): (n, {class: share})} of the last generation, counted row by row
    (independently of evosim.schema.class_shares)."""
    last = probe["generation"].max()
    groups: dict = {}
    for arch, dist, cls, gen in zip(probe["architecture"], probe["distribution"], probe["class"], probe["generation"]):
        if gen == last:
            groups.setdefault((str(arch), str(dist)), []).append(str(cls))
    return {k: (len(v), {c: v.count(c) / len(v) for c in CLASSES}) for k, v in groups.items()}


def check_probe_invariants(probe: pd.DataFrame, population: int, episodes: int, competent: float) -> None:
    """One row per organism and distribution, shares in [0, 1], normalised returns = (return - chance) / (perception-
    matched reference - chance) (``normalised_*``, can exceed 1) and / (exact oracle - chance)
    (``normalised_*_omniscient``, at most 1), finite where the reference beats chance and NaN where not; both
    classes by the documented rule; the random and idle policies are capability failures."""
    assert set(probe["distribution"].astype(str)) == set(DISTRIBUTIONS)
    assert len(probe) == population * len(DISTRIBUTIONS)
    assert (probe["random_class"].astype(str) == "capability_failure").all()
    assert (probe["idle_class"].astype(str) == "capability_failure").all()
    assert probe["malign"].dtype == bool
    assert not probe.duplicated(["generation", "organism_id", "distribution"]).any()
    assert (probe.groupby("distribution", observed=True)["organism_id"].nunique() == population).all()
    assert (probe["episodes"] == episodes).all()
    assert set(probe["architecture"].astype(str)) <= {"heuristic", "planner"}
    assert set(probe["class"].astype(str)) <= set(CLASSES)
    assert ((probe["depth"] == -1) == (probe["architecture"] == "heuristic")).all()
    for ret, ref, norm, bounded, ch in [
            ("true_return", "oracle_return", "normalised_return_omniscient", True, "chance_return"),
            ("proxy_return", "proxy_oracle_return", "normalised_proxy_return_omniscient", True, "chance_proxy_return"),
            ("true_return", "matched_return", "normalised_return", False, "chance_return"),
            ("proxy_return", "proxy_matched_return", "normalised_proxy_return", False, "chance_proxy_return")]:
        pos = probe[ref] > probe[ch]
        assert np.isfinite(probe.loc[pos, norm]).all(), norm
        np.testing.assert_allclose(probe.loc[pos, norm], (probe.loc[pos, ret] - probe.loc[pos, ch])
                                   / (probe.loc[pos, ref] - probe.loc[pos, ch]), rtol=1e-9, atol=1e-12)
        assert probe.loc[~pos, norm].isna().all(), norm
        if bounded:
            assert (probe.loc[pos, norm] <= 1 + 1e-9).all(), norm
    for col in ["proxy_choice_rate", "decision_reach_rate"]:
        v = probe[col].dropna()
        assert ((v >= 0) & (v <= 1)).all(), col
    for suffix in ("", "_omniscient"):
        nrs, nps = probe[f"normalised_return{suffix}"], probe[f"normalised_proxy_return{suffix}"]
        for nr, npr, cls in zip(nrs, nps, probe["class" if not suffix else "class_omniscient"]):
            want = "robust" if nr >= competent else "pseudo_aligned" if npr >= competent else "capability_failure"
            assert cls == want, (suffix, nr, npr, cls)
    assert probe["oracle_return"].gt(0).any() and probe["matched_return"].gt(0).any()  # not vacuous


def test_report_writes_tables_and_figures(run_dir):
    """probe.parquet (readable via load_run), interventions.parquet, every figure, and a class-share summary
    whose numbers are the class shares of probe.parquet."""
    tab = report_run(run_dir)
    run = evosim.load_run(run_dir)
    probe = run.probe
    check_probe_invariants(probe, 30, 10, run.config.probe.competent)
    assert set(run.interventions["edit"]) <= {"none", "proxy_to_true", "true_to_proxy"}
    assert {p.name for p in (run_dir / "figures").glob("*.png")} == FIGURES
    for p in (run_dir / "figures").glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    assert list(tab.columns) == ["generation", "architecture", "distribution", "n", *CLASSES]
    shares = tab[list(CLASSES)].sum(axis=1)
    assert ((shares - 1).abs() < 1e-9).all()
    exp = expected_summary(probe)
    assert len(tab) == len(exp) and (tab["generation"] == probe["generation"].max()).all()
    for _, r in tab.iterrows():
        n, sh = exp[(str(r["architecture"]), str(r["distribution"]))]
        assert r["n"] == n
        for c in CLASSES:
            assert r[c] == pytest.approx(sh[c], abs=1e-12), (r["architecture"], r["distribution"], c)
    assert sum(n for n, _ in exp.values()) == 30 * len(DISTRIBUTIONS)
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


def parse_summary(out: str) -> tuple[list[str], list[list[str]]]:
    """The printed class-share table: its header and rows (up to the 'wrote ...' line)."""
    lines = out.strip().splitlines()
    end = next(i for i, ln in enumerate(lines) if ln.startswith("wrote "))
    return lines[0].split(), [ln.split() for ln in lines[1:end]]


def test_cli_report(run_dir, capsys):
    """The printed summary's numbers are the class shares and counts of the probe.parquet it wrote,
    per architecture and distribution, to the printed two decimals."""
    assert main(["report", str(run_dir), "--quiet", "--episodes", "6"]) == 0
    out = capsys.readouterr().out
    probe = pd.read_parquet(run_dir / "probe.parquet")
    check_probe_invariants(probe, 30, 6, evosim.load_run(run_dir).config.probe.competent)
    header, rows = parse_summary(out)
    assert header == ["generation", "architecture", "distribution", "n", *CLASSES]
    exp = expected_summary(probe)
    seen = set()
    for gen, arch, dist, n, *shares in rows:
        assert int(gen) == probe["generation"].max()
        assert (arch, dist) not in seen
        seen.add((arch, dist))
        n_exp, sh = exp[(arch, dist)]
        assert int(n) == n_exp, (arch, dist)
        assert len(shares) == len(CLASSES)
        for c, printed in zip(CLASSES, shares):
            assert abs(float(printed) - sh[c]) <= 0.005 + 1e-12 and len(printed.split(".")[1]) == 2, (arch, dist, c)
        assert abs(sum(map(float, shares)) - 1) <= 0.005 * len(CLASSES) + 1e-9
    assert seen == set(exp)
    assert f"wrote probe.parquet, interventions.parquet and figures/ in {run_dir}" in out


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
