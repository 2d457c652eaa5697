"""analysis/results.py: intervals, pairing by seed (seeds as the unit: BCa, exact sign-flip p, Holm, fixation),
the doc writer, tables from synthetic probes, and an end-to-end run of the command on a tiny definition that
checks every generated block (doc and README) is filled and its numbers agree with the tables."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evosim.store import RunDirectory

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("analysis_results", ROOT / "analysis" / "results.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


R = _load()


# -- the interval ---------------------------------------------------------------------------------
@pytest.mark.parametrize("values", [
    [0.0, 0.0, 1.0, 1.0, 0.0, 1.0],          # bimodal, as per-seed outcomes are
    [0.0] * 19 + [1.0],                       # one seed of 20
    [0.99, 1.0, 0.98],                        # near the upper bound
    [0.22, 0.0, 0.0],                         # the case the old t-interval took below 0 (0.22 ± 0.53)
    list(np.random.default_rng(3).uniform(0, 1, 20)),
])
def test_bootstrap_interval_inside_unit_interval_and_contains_mean(values):
    lo, hi = R._mean_interval(values, n_boot=10000, seed=0)
    m = float(np.mean(values))
    assert 0.0 <= lo <= m <= hi <= 1.0
    assert (lo, hi) == R._mean_interval(values, n_boot=10000, seed=0)  # fixed seed: reproducible


def test_bootstrap_interval_edge_cases():
    assert R._mean_interval([0.4]) == (0.4, 0.4)
    assert R._mean_interval([0.0, 0.0, 0.0]) == (0.0, 0.0)
    assert all(np.isnan(R._mean_interval([])))
    assert R._mean_interval([np.nan, 0.5]) == (0.5, 0.5)


# -- pairing by seed -------------------------------------------------------------------------------
def _per_seed(rng, seeds=range(1, 9)):
    rows = []
    for s in seeds:
        for e in ("exp", "ctl"):
            for d in ("train", "shift"):
                pa = rng.uniform()
                rows.append({"experiment": e, "seed": s, "distribution": d, "pseudo_aligned": pa, "robust": 1 - pa})
    return pd.DataFrame(rows)


def test_paired_difference_pairs_by_seed_whatever_the_row_order():
    df = _per_seed(np.random.default_rng(0))
    per, summ = R.paired_difference(df, "exp", "ctl", "pseudo_aligned", n_boot=2000, seed=0)
    shuffled = df.sample(frac=1.0, random_state=7).reset_index(drop=True)
    per2, summ2 = R.paired_difference(shuffled, "exp", "ctl", "pseudo_aligned", n_boot=2000, seed=0)
    assert summ == summ2
    pd.testing.assert_frame_equal(per, per2)
    # independently: difference of the shift values of the same seed
    sh = df[df["distribution"] == "shift"]
    for s in range(1, 9):
        want = (sh[(sh.experiment == "exp") & (sh.seed == s)].pseudo_aligned.iloc[0]
                - sh[(sh.experiment == "ctl") & (sh.seed == s)].pseudo_aligned.iloc[0])
        assert per.loc[per.seed == s, "diff"].iloc[0] == pytest.approx(want)
    d = per["diff"].to_numpy()
    assert summ["n_pos"] == int((d > 0).sum()) and summ["seeds"] == 8
    assert summ["lo"] <= summ["mean"] <= summ["hi"]


def test_paired_difference_uses_only_seeds_present_in_both():
    df = _per_seed(np.random.default_rng(1))
    df = df[~((df.experiment == "ctl") & (df.seed == 3))]
    per, summ = R.paired_difference(df, "exp", "ctl", "robust", n_boot=500)
    assert summ["seeds"] == 7 and 3 not in set(per["seed"])


def test_architecture_table_compares_seeds_where_planners_were_lost_and_fixed():
    """Seeds are the unit: fixation counted from the final planner share, the pseudo-aligned share of the seeds
    where planners were lost vs fixed compared by stats.two_sample_test; no test (NaN) with one seed in a group."""
    from evosim import stats

    share = {"a": [0.99, 0.98, 0.01, 0.02, 0.5], "b": [0.99, 0.99, 0.99, 0.01, 0.99]}
    pa = {"a": [0.1, 0.2, 0.9, 0.8, 0.5], "b": [0.3, 0.4, 0.5, 0.6, 0.2]}
    df = pd.DataFrame([{"experiment": e, "seed": s + 1, "distribution": "shift", "planner_share": share[e][s],
                        "pseudo_aligned": pa[e][s]} for e in ("a", "b") for s in range(5)])
    t = R.architecture_table(df, 999, 0).set_index("experiment")
    a = t.loc["a"]
    assert (a.planners_fixed, a.planners_lost, a.polymorphic, a.seeds) == (2, 2, 1, 5)
    assert (a.fixed_lo, a.fixed_hi) == pytest.approx(stats.clopper_pearson(2, 5))
    want = stats.two_sample_test([0.9, 0.8], [0.1, 0.2], n_resamples=999, rng=0)
    assert a["diff"] == pytest.approx(0.7) and a.p == want.p and a.pa_lost == pytest.approx(0.85)
    b = t.loc["b"]
    assert b.planners_lost == 1 and np.isnan(b.p) and np.isnan(b["diff"])
    assert a.p_holm == pytest.approx(a.p)  # the NaN row is not counted in the family


# -- the doc writer --------------------------------------------------------------------------------
DOC = """# Title

prose before
<!-- results:a:start -->
old a
<!-- results:a:end -->
middle prose
<!-- results:b:start -->
<!-- results:b:end -->
prose after
"""


def test_doc_writer_replaces_blocks_and_keeps_prose(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(DOC)
    R.write_doc(doc, {"a": "new a\n| x |", "b": "new b"})
    text = doc.read_text()
    assert "old a" not in text and "new a\n| x |" in text and "new b" in text
    for prose in ("prose before", "middle prose", "prose after", "# Title"):
        assert prose in text
    R.write_doc(doc, {"a": "new a\n| x |", "b": "new b"})  # idempotent
    assert doc.read_text() == text


@pytest.mark.parametrize("broken", [
    DOC.replace("<!-- results:b:end -->\n", ""),
    DOC.replace("<!-- results:a:start -->\n", ""),
    DOC + "<!-- results:a:start -->\n",
])
def test_doc_writer_refuses_a_missing_marker_and_writes_nothing(tmp_path, broken):
    doc = tmp_path / "doc.md"
    doc.write_text(broken)
    with pytest.raises(R.ResultsError, match="markers"):
        R.write_doc(doc, {"a": "new a", "b": "new b"})
    assert doc.read_text() == broken
    assert list(tmp_path.iterdir()) == [doc]


def test_shipped_doc_and_readme_have_every_generated_block():
    """docs/results.md and README.md carry every block the command writes (else the full run stops before running)."""
    R.check_markers((ROOT / "docs" / "results.md").read_text(), R.BLOCKS, "docs/results.md")
    R.check_markers((ROOT / "README.md").read_text(), R.README_BLOCKS, "README.md")
    assert "dose_response" not in (ROOT / "README.md").read_text() + (ROOT / "docs" / "results.md").read_text()


def test_command_refuses_a_doc_without_markers_before_running(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("# no markers\n")
    msgs = []
    rc = R.main(["--doc", str(doc), "--out", str(tmp_path / "out"), "--workers", "0"], log=msgs.append)
    assert rc == 2 and "provenance" in msgs[-1]
    assert doc.read_text() == "# no markers\n" and not (tmp_path / "out").exists()


# -- tables from synthetic probe tables ----------------------------------------------------------
def _synthetic_run(d: Path, rng, values: bool) -> pd.DataFrame:
    """A fake run directory with a probe table (two generations) and a generations table."""
    d.mkdir(parents=True)
    n = 30
    rows = []
    for gen in (0, 5):
        arch = rng.choice(["planner", "heuristic"], n)
        for dist in ("train", "shift", "control"):
            nr, npr = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
            from evosim.objectives import classify
            df = pd.DataFrame({"generation": gen, "organism_id": np.arange(n), "architecture": arch,
                               "distribution": dist, "episodes": 20, "normalised_return": nr,
                               "normalised_proxy_return": npr, "class": classify(nr, npr, 0.5),
                               "proxy_target_reached": rng.uniform(0, 2, n), "true_target_reached": rng.uniform(0, 1, n),
                               "power_true_bits": rng.uniform(0, 3, n), "power_behav_bits": rng.uniform(0, 3, n)})
            if values:
                m = rng.choice([0.0, 1.0], n)
                df["mesa_prefers_proxy"] = np.where(arch == "planner", m, np.nan)
                b = rng.choice([0.0, 1.0, np.nan], n)
                df["behav_prefers_proxy"] = b
            rows.append(df)
    probe = pd.concat(rows, ignore_index=True)
    for c in ("architecture", "distribution", "class"):
        probe[c] = probe[c].astype("category")
    rd = RunDirectory(d)
    rd.write_table("probe", probe)
    rd.write_table("generations", pd.DataFrame({"generation": [0, 5], "planner_share": [0.5, rng.uniform()]}))
    return probe[probe.generation == 5].assign(**{c: probe[probe.generation == 5][c].astype(str)
                                                  for c in ("architecture", "distribution", "class")})


def _defn(**kw):
    base = dict(path=Path("x.toml"), probe_episodes=20, thresholds=(0.3, 0.5, 0.7), n_boot=1000,
                boot_seed=0, accuracy_experiment="red_door",
                pairs=(R.Pair("red_door", Path("a.toml")),), overrides={})
    base.update(kw)
    return R.Definition(**base)


def _ctx():
    return {"command": "python analysis/results.py", "date": "2026-01-01", "commit": "abc", "seeds": [1, 2, 3],
            "episodes": 20, "out_rel": "out", "run_dirs": [], "notes": [], "info": {"computed": 0, "skipped": 6},
            "workers": 0, "definition": "x.toml", "thresholds": (0.3, 0.5, 0.7), "n_boot": 1000, "boot_seed": 0,
            "accuracy_experiment": "red_door", "wall_s": 1.0}


@pytest.mark.parametrize("values", [True, False])
def test_tables_from_synthetic_probes(tmp_path, values):
    rng = np.random.default_rng(5)
    runs, probes = [], {}
    for e, role in (("red_door", "experiment"), ("red_door_control", "control")):
        for s in (1, 2, 3):
            d = tmp_path / f"{e}__seed{s}"
            probes[(e, s)] = _synthetic_run(d, rng, values)
            runs.append({"experiment": e, "pair": "red_door", "role": role, "seed": s, "run_dir": str(d)})
    t = R.build_tables(pd.DataFrame(runs), _defn(), list(_defn().pairs))
    # thresholds: recomputed with the rule of classify, independently here
    for (e, s), p in probes.items():
        sh = p[p.distribution == "shift"]
        for th in (0.3, 0.7):
            want = ((sh.normalised_return < th) & (sh.normalised_proxy_return >= th)).mean()
            got = t.thresholds_per_seed.query("experiment == @e and seed == @s and threshold == @th").pseudo_aligned
            assert got.iloc[0] == pytest.approx(want)
        # beyond need
        got = t.baselines_per_seed.query("experiment == @e and seed == @s").beyond_need.iloc[0]
        assert got == pytest.approx((sh.proxy_target_reached - sh.true_target_reached).mean())
    blocks = R.render_blocks(t, _ctx(), {"paired": "p.png", "classes": "c.png"})
    if not values:
        assert "not available in these runs" in blocks["values"]
        assert t.accuracy.empty
    else:
        # balanced accuracy per seed among that seed's planners, then the mean over seeds with a value
        want = {}
        for (e, s), p in probes.items():
            if e != "red_door":
                continue
            pl = p[(p.distribution == "shift") & (p.architecture == "planner")]
            pred, truth = pl.mesa_prefers_proxy == 1, pl["class"] == "pseudo_aligned"
            want[s] = 0.5 * (pred[truth].mean() + (~pred[~truth]).mean()) if truth.any() and (~truth).any() else np.nan
        got = t.accuracy.set_index("seed")["balanced_accuracy"]
        for s, w in want.items():
            assert got[s] == pytest.approx(w, nan_ok=True)
        mean = np.nanmean(list(want.values()))
        summ = t.accuracy_summary.query("experiment == 'red_door' and seeds_with == 'all'").iloc[0]
        assert summ["mean"] == pytest.approx(mean) and summ["seeds"] == sum(np.isfinite(list(want.values())))
        assert f"**{mean:.2f} [" in blocks["values"] and "pooled" not in blocks["values"]
        # share of planners preferring the proxy, seed 2 of red_door
        p = probes[("red_door", 2)]
        sub = p[(p.distribution == "shift") & (p.architecture == "planner")]
        got = t.values_per_seed.query("experiment == 'red_door' and seed == 2").mesa_prefers_proxy_planners.iloc[0]
        assert got == pytest.approx((sub.mesa_prefers_proxy == 1).mean())
    # paired rows: exact sign-flip p of evosim.stats and Holm across the rows
    from evosim import stats

    pp = t.paired_per_seed
    for i, r in t.paired.iterrows():
        sub = pp[(pp.pair == r.pair) & (pp.quantity == r.quantity)]
        assert r.p == stats.paired_test(sub.experiment, sub.control, n_resamples=1000).p
    np.testing.assert_allclose(t.paired.p_holm, stats.holm(t.paired.p))
    assert "p (Holm)" in blocks["paired"]
    # architecture: fixation counted per seed from the final planner share
    sh = t.per_seed[t.per_seed.distribution == "shift"]
    for e, g in sh.groupby("experiment"):
        r = t.architecture.set_index("experiment").loc[e]
        assert r.planners_fixed == int((g.planner_share >= 0.97).sum()) and r.seeds == 3
        assert (r.fixed_lo, r.fixed_hi) == pytest.approx(stats.clopper_pearson(r.planners_fixed, 3))
    assert "not available" in blocks["baselines"]  # no planted aligned reference columns here
    R.make_figures(t, pd.DataFrame(runs), tmp_path / "figs", 200, 0)
    assert (tmp_path / "figs" / "results_paired_pseudo_aligned.png").exists()


def test_balanced_accuracy():
    assert R.balanced_accuracy([1, 1, 0, 0], [1, 1, 0, 0]) == 1.0
    assert R.balanced_accuracy([1, 1, 1, 1], [1, 0, 0, 0]) == 0.5
    assert np.isnan(R.balanced_accuracy([1, 0], [1, 1]))


# -- end to end --------------------------------------------------------------------------------------
TINY = """
probe_episodes = 12
n_boot = 1000
[[pairs]]
name = "red_door"
sweep = "{runs}/results_red_door.toml"
[[pairs]]
name = "absent"
sweep = "{runs}/results_no_such_pair.toml"
[overrides]
"evolution.population" = 40
"evolution.generations" = 6
"evolution.episodes" = 4
"evolution.checkpoint_every" = 3
"probe.decision_episodes" = 5
"probe.random_rollouts" = 4
"probe.intervention_planners" = 5
"""


def _cell(text: str, block: str, first: str, second: str | None = None) -> list[str]:
    body = text.split(f"<!-- results:{block}:start -->")[1].split(f"<!-- results:{block}:end -->")[0]
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == first and (second is None or cells[1] == second):
            return cells
    raise AssertionError(f"no row {first} {second} in block {block}")


NUMBER = re.compile(r"(?<![\w.`-])-?\d+(?:\.\d+)?(?:e-?\d+)?(?![\w`])")
PLACEHOLDER = "_Filled by the next full regeneration"


def _block(text: str, name: str) -> str:
    return text.split(f"<!-- results:{name}:start -->")[1].split(f"<!-- results:{name}:end -->")[0]


def _check_blocks_filled_and_numbers_from_tables(doc: str, readme: str) -> None:
    """Every generated block of the doc and README is filled (no placeholder); every number the generated prose
    (the doc's claim blocks, README's headline table) cites appears in one of the doc's table blocks."""
    for name in R.BLOCKS:
        assert PLACEHOLDER not in _block(doc, name) and _block(doc, name).strip(), name
    for name in R.README_BLOCKS:
        assert PLACEHOLDER not in _block(readme, name) and "|" in _block(readme, name), name
    tables = " ".join(_block(doc, n).replace("/", " ").replace("[", " ").replace("]", " ").replace(",", " ")
                      .replace("(", " ").replace(")", " ").replace("|", " ")
                      for n in R.BLOCKS if n not in R.CLAIMS)
    known = set(NUMBER.findall(tables))
    prose = [_block(doc, n) for n in R.CLAIMS if "Not in this regeneration" not in _block(doc, n)]
    head = _block(readme, "headline")
    for proxy in R.PROXIES.values():  # the design column (perception radii), not a result
        head = head.replace(proxy, "")
    prose.append(head)
    assert len(prose) >= 3  # red_door, its architecture, README's table
    for text in prose:
        text = text.replace("[", " ").replace("]", " ").replace(",", " ").replace("(", " ").replace(")", " ")
        for num in NUMBER.findall(text):
            if num in ("0.97", "0.03", "95", "2", "1"):  # the fixation thresholds, the level, "2^n", "1 - ..."
                continue
            assert num in known, f"{num!r} in {text[:200]!r}... appears in no table block"


def _run_dirs(out: Path) -> dict:
    """(experiment, seed) -> run directory, from the pair's sweep table (the sweep engine's record)."""
    t = pd.read_parquet(out / "results_red_door" / "sweep.parquet")
    return {("red_door" if tr == "train" else "red_door_control", int(s)): out / "results_red_door" / "cells" / h
            for tr, s, h in zip(t["world.training"].astype(str), t["seed"], t["cell_hash"])}


def test_command_end_to_end_on_a_tiny_definition(tmp_path):
    from evosim.store import RunDirectory, load_run

    defn = tmp_path / "tiny.toml"
    defn.write_text(TINY.format(runs=ROOT / "runs"))
    doc = tmp_path / "results.md"
    shutil.copy(ROOT / "docs" / "results.md", doc)
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    out = tmp_path / "out"
    msgs = []
    args = ["--workers", "0", "--seeds", "2", "--definition", str(defn), "--out", str(out), "--doc", str(doc),
            "--readme", str(readme)]
    assert R.main(args, log=msgs.append) == 0, msgs
    text = doc.read_text()
    _check_blocks_filled_and_numbers_from_tables(text, readme.read_text())
    assert "What the simulation says about the essays" in text and "## Sweeps" in text  # prose outside the blocks kept
    assert "pair absent skipped" in text
    assert "seeds 1, 2;" in text or "seeds 1, 2" in text
    # every number checked below is recomputed here from the probe tables
    dirs = _run_dirs(out)
    assert sorted(dirs) == [(e, s) for e in ("red_door", "red_door_control") for s in (1, 2)]
    for (e, s), d in dirs.items():
        assert RunDirectory(d).report_is_complete() and not RunDirectory(d).figures.exists()  # no report figures
        assert load_run(d).config.probe.episodes == 12 and load_run(d).config.evolution.population == 40
    pa = {}
    for e in ("red_door", "red_door_control"):
        for s in (1, 2):
            p = RunDirectory(dirs[(e, s)]).read_table("probe")
            p = p[(p.generation == p.generation.max()) & (p.distribution.astype(str) == "shift")]
            pa[(e, s)] = float((p["class"].astype(str) == "pseudo_aligned").mean())
            rob = float((p["class"].astype(str) == "robust").mean())
            g = RunDirectory(dirs[(e, s)]).read_table("generations")
            row = _cell(text, "per_seed", str(s))
            col = 1 if e == "red_door" else 2
            assert row[col] == f"{pa[(e, s)]:.2f} / {rob:.2f} / {g.planner_share.iloc[-1]:.2f}"
        mean = np.mean([pa[(e, 1)], pa[(e, 2)]])
        lo, hi = min(pa[(e, 1)], pa[(e, 2)]), max(pa[(e, 1)], pa[(e, 2)])
        cell = _cell(text, "class_shares", e, "shift")[5]
        m = re.fullmatch(r"(-?[\d.]+) \[(-?[\d.]+), (-?[\d.]+)\]", cell)
        assert m and m.group(1) == f"{mean:.2f}"
        assert lo - 0.005 <= float(m.group(2)) <= float(m.group(3)) <= hi + 0.005
    cell = _cell(text, "class_shares", "red_door", "shift")[5]
    assert f"pseudo-aligned {cell} vs {_cell(text, 'class_shares', 'red_door_control', 'shift')[5]}" in \
        _block(readme.read_text(), "headline")
    assert f"pseudo-aligned share under shift is {cell}" in _block(text, "claim_red_door")
    for name in ("claim_short_sighted", "claim_keys_chests", "claim_ancestral_modern"):
        assert "Not in this regeneration" in _block(text, name)
    # the balanced shift is reported beside shift, with the malign share, both paired by seed
    bal = _block(text, "claim_balanced")
    assert "`red_door`, balanced shift: pseudo-aligned " + _cell(text, "class_shares", "red_door", "shift_balanced")[5] in bal
    assert "malign" in bal and _cell(text, "paired", "red_door − red_door_control", "malign share, shift_balanced")
    diffs = [pa[("red_door", s)] - pa[("red_door_control", s)] for s in (1, 2)]
    row = _cell(text, "paired", "red_door − red_door_control", "pseudo-aligned share, shift")
    assert row[3].startswith(f"{np.mean(diffs):.2f}")
    assert row[4] == f"{sum(d > 0 for d in diffs)} of 2"
    from evosim import stats

    test = stats.paired_test([pa[("red_door", s)] for s in (1, 2)], [pa[("red_door_control", s)] for s in (1, 2)])
    assert row[6] == R.fmt_p(test.p)
    assert (out / "tables" / "per_seed.csv").exists() and (tmp_path / "results_class_shares.png").exists()
    # pairing: the same seed gives the same generation-0 population in experiment and control
    for s in (1, 2):
        a = load_run(dirs[("red_door", s)]).genomes_at(0)
        b = load_run(dirs[("red_door_control", s)]).genomes_at(0)
        pd.testing.assert_frame_equal(a, b)
    a1 = load_run(dirs[("red_door", 1)]).genomes_at(0)
    a2 = load_run(dirs[("red_door", 2)]).genomes_at(0)
    assert not a1.drop(columns=["organism_id"], errors="ignore").equals(a2.drop(columns=["organism_id"], errors="ignore"))
    # resumable: a second call, on a running Dask cluster (--scheduler), computes nothing and writes the same tables
    from distributed import LocalCluster

    before = {p.name: p.read_bytes() for p in (out / "tables").iterdir()}
    msgs.clear()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None,
                      silence_logs=50) as cluster:
        args2 = [a for a in args if a not in ("--workers", "0")] + ["--scheduler", cluster.scheduler_address]
        assert R.main(args2, log=msgs.append) == 0, msgs
    assert any("0 to run, 4 already complete" in m for m in msgs), msgs
    assert {p.name: p.read_bytes() for p in (out / "tables").iterdir()} == before
    man = json.loads((out / "results_red_door" / "manifest.json").read_text())
    assert man["mode"] == "scheduler" and man["scheduler"] == cluster.scheduler_address
    assert f"on the Dask cluster at {cluster.scheduler_address})" in doc.read_text()


# -- the sweep engine, --scheduler, no private imports ----------------------------------------------
def test_scheduler_address_goes_to_the_sweep_engine(tmp_path, monkeypatch):
    import evosim.sweep
    from evosim.sweep import SweepError

    seen = []

    def start_client(workers, scheduler):
        seen.append(scheduler)
        raise SweepError(f"--scheduler {scheduler}: cannot connect: refused")

    monkeypatch.setattr(evosim.sweep, "start_client", start_client)
    defn = tmp_path / "tiny.toml"
    defn.write_text(TINY.format(runs=ROOT / "runs"))
    doc = tmp_path / "results.md"
    shutil.copy(ROOT / "docs" / "results.md", doc)
    msgs = []
    args = ["--scheduler", "tcp://127.0.0.1:9", "--seeds", "1", "--definition", str(defn), "--out", str(tmp_path / "o"),
            "--doc", str(doc), "--readme", ""]
    assert R.main(args, log=msgs.append) == 2
    assert seen == ["tcp://127.0.0.1:9"] and msgs[-1] == "results: --scheduler tcp://127.0.0.1:9: cannot connect: refused"
    with pytest.raises(SystemExit):  # one or the other
        R.main(["--workers", "3", "--scheduler", "tcp://127.0.0.1:9"])


def test_write_up_pairs_are_sweeps_of_the_experiment_and_its_control():
    from evosim.config import load_config, to_dict
    from evosim.sweep import load_sweep, plan_runs

    defn = R.load_definition(R.DEFAULT_DEFINITION)
    assert len(defn.pairs) == 4
    for p in defn.pairs:
        sw = load_sweep(p.sweep)
        assert sw.keys == ("world.training",) and sw.seeds == tuple(range(1, 21))
        specs = plan_runs(sw, Path("/nonexistent"))
        for s in specs[:1] + specs[-1:]:  # the experiment and the control of its TOML, up to the name
            role = R.ROLES[s.config["world"]["training"]]
            toml = ROOT / "runs" / (f"{p.name}.toml" if role == "experiment" else f"{p.name}_control.toml")
            want = to_dict(load_config(toml, {"seed": s.seed}))
            assert R._experiment_name(s.config) == want["name"]
            assert {**s.config, "name": want["name"]} == want


def test_results_imports_nothing_private_from_evosim():
    src = (ROOT / "analysis" / "results.py").read_text()
    assert not re.findall(r"from evosim[\w.]* import \(?[^)\n]*\b_\w+", src)
    assert "def balanced_accuracy" not in src and "from evosim.objectives import balanced_accuracy" in src
