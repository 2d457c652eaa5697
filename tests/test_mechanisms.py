"""analysis/mechanisms.py: the arms of "what decides what evolves" (prior shifted, selection off, one
architecture only), planned from their sweep files, run by analysis/results.py's one command, paired by seed
with the base runs; architecture-fixed arms hold one architecture only; the blocks' numbers come from the runs."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evosim.store import RunDirectory, load_run

from test_results import R, ROOT, TINY, _block

M = R.mechanisms

ARMS_TINY = TINY.replace('[overrides]', '''[[arms]]
name = "red_door"
sweep = "{runs}/arms_red_door.toml"
[overrides]''')


def test_arm_labels_of_the_shipped_arms_sweeps():
    """Every cell of every shipped arms sweep is exactly one arm; each experiment has every arm, and the
    architecture-fixed arms in experiment and control."""
    from evosim.sweep import load_sweep, plan_runs

    defn = R.load_definition(R.DEFAULT_DEFINITION)
    assert {a.name for a in defn.arms} <= {p.name for p in defn.pairs} and defn.arms
    for a in defn.arms:
        sw = load_sweep(a.sweep)
        assert sw.seeds == tuple(range(1, 21))
        specs = plan_runs(sw, Path("/nonexistent"))
        got = {(M.arm_label(s.config), s.config["world"]["training"]) for s in specs}
        assert got == {("bias-", "train"), ("bias+", "train"), ("neutral", "train"),
                       ("heuristic_only", "train"), ("heuristic_only", "control"),
                       ("planner_only", "train"), ("planner_only", "control")}
        assert all(s.config["name"] == a.name for s in specs)


def test_a_cell_that_is_no_arm_or_two_is_refused():
    base = {"organisms": {"init_bias": 0.0, "initial_planner_share": 0.5}, "evolution": {"arch_flip_rate": 0.01}}
    with pytest.raises(M.ArmsError, match="none"):
        M.arm_label(base)
    two = {"organisms": {"init_bias": 0.5, "initial_planner_share": 0.5}, "evolution": {"neutral": True}}
    with pytest.raises(M.ArmsError, match="exactly one arm"):
        M.arm_label(two)


@pytest.mark.slow
def test_arms_end_to_end_on_a_tiny_definition(tmp_path):
    """The one command runs the arms beside the pairs; architecture-fixed arms never produce another
    architecture; the prior arms start from the base's generation-0 draws shifted by -+b; the neutral arm's
    selection differential is a number; the blocks are filled and a cited value equals its recomputation."""
    defn = tmp_path / "tiny.toml"
    defn.write_text(ARMS_TINY.format(runs=ROOT / "runs"))
    doc = tmp_path / "results.md"
    shutil.copy(ROOT / "docs" / "results.md", doc)
    out = tmp_path / "out"
    msgs = []
    args = ["--workers", "0", "--seeds", "2", "--definition", str(defn), "--out", str(out), "--doc", str(doc),
            "--readme", ""]
    assert R.main(args, log=msgs.append) == 0, msgs
    text = doc.read_text()
    for name in M.BLOCKS:
        body = _block(text, name)
        assert body.strip() and "No arms" not in body, name
    per_seed = pd.read_csv(out / "tables" / "arms_per_seed.csv")
    assert set(per_seed["arm"]) == {"base", *M.ARMS}
    assert len(per_seed) == 2 * (2 + 7)  # seeds x (base experiment, control, seven arm cells)
    # architecture-fixed arms: every generation holds one architecture only
    t = pd.read_parquet(out / "arms_red_door" / "sweep.parquet")
    for h, ps, flip in zip(t["cell_hash"], t["organisms.initial_planner_share"], t["evolution.arch_flip_rate"]):
        if flip != 0:
            continue
        g = RunDirectory(out / "arms_red_door" / "cells" / h).read_table("generations")
        assert (g["planner_share"] == ps).all(), (h, ps)
        p = RunDirectory(out / "arms_red_door" / "cells" / h).read_table("probe")
        assert set(p["architecture"].astype(str)) == {"planner" if ps == 1 else "heuristic"}
    pur = pd.read_csv(out / "tables" / "arms_purity.csv")
    assert (pur["seeds_pure"] == pur["seeds"]).all()
    # the prior arms: the base's generation-0 genomes with the bias added on the cue genes (and nothing else)
    base = pd.read_parquet(out / "results_red_door" / "sweep.parquet")
    b0 = base[(base["world.training"].astype(str) == "train") & (base["seed"] == 1)]["cell_hash"].iloc[0]
    g_base = load_run(out / "results_red_door" / "cells" / b0).genomes_at(0)
    bias = t[(t["organisms.init_bias"] == 0.5) & (t["seed"] == 1)]["cell_hash"].iloc[0]
    g_bias = load_run(out / "arms_red_door" / "cells" / bias).genomes_at(0)
    num = [c for c in g_base.columns if c != "organism_id" and pd.api.types.is_numeric_dtype(g_base[c])]
    diff = g_bias[num].to_numpy(float) - g_base[num].to_numpy(float)
    moved = np.abs(diff).max(axis=0) > 1e-6
    assert 2 <= moved.sum() <= 4  # the proxy and true cue's planner utility and heuristic weight
    # a cited value recomputed from the run: pseudo-aligned share on shift_balanced, bias+ arm, seed 2
    bias2 = t[(t["organisms.init_bias"] == 0.5) & (t["seed"] == 2)]["cell_hash"].iloc[0]
    p = RunDirectory(out / "arms_red_door" / "cells" / bias2).read_table("probe")
    p = p[(p["generation"] == p["generation"].max()) & (p["distribution"].astype(str) == "shift_balanced")]
    want = float((p["class"].astype(str) == "pseudo_aligned").mean())
    row = per_seed[(per_seed["arm"] == "bias+") & (per_seed["seed"] == 2)].iloc[0]
    assert row["pseudo_aligned"] == pytest.approx(want)
    assert np.isfinite(per_seed.loc[per_seed["arm"] == "neutral", "sel_sum"]).all()
    assert "bias+ vs bias-" in _block(text, "mech_tests")
    # the selection differential per generation: a figure and its long table (experiment, control, neutral)
    assert (tmp_path / "results_selection.png").exists() and "results_selection.png" in _block(text, "mech_selection")
    curves = pd.read_csv(out / "tables" / "arms_curves.csv")
    assert set(zip(curves["arm"], curves["role"])) == {("base", "experiment"), ("base", "control"),
                                                       ("neutral", "experiment")}


def test_shipped_doc_has_every_arm_block():
    R.check_markers((ROOT / "docs" / "results.md").read_text(), M.BLOCKS, "docs/results.md")
