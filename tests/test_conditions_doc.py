"""analysis/conditions.py: the conditions write-up's tables come from sweep.parquet, paired by seed."""
from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT


def _module():
    spec = importlib.util.spec_from_file_location("conditions_doc", ROOT / "analysis" / "conditions.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _sweep(effect: float) -> pd.DataFrame:
    """A synthetic sweep.parquet: planner share = 0.2 + effect x (fresh layouts) + seed noise."""
    rows = []
    rng = np.random.default_rng(0)
    for cell, (pool, cost, desc, size) in enumerate(itertools.product([1, 4, 32, 0], [0.0, 0.003], [0.0, 0.0035],
                                                                      [9, 13])):
        for seed in range(1, 6):
            p = float(np.clip(0.2 + (effect if pool == 0 else 0.0) + 0.01 * rng.standard_normal(), 0, 1))
            rows.append({"cell": cell, "world.train_pool": pool, "organisms.planning_cost": cost,
                         "organisms.description_cost": desc, "world.size": size, "seed": seed, "status": "complete",
                         "planner_share": p, "heuristic_share": (1 - p) / 2, "memoriser_share": (1 - p) / 2,
                         "planner_depth_mean": 1.0, "fitness_mean": 0.5, "shift_all_pseudo_aligned": 0.3,
                         **{f"depth_{d}": 0.25 for d in range(4)}})
    return pd.DataFrame(rows)


def test_paired_effect_pairs_by_seed_and_other_factors():
    """The diversity effect on planner share is the planted 0.3 (fresh minus pool 1), whatever the row order;
    false if rows were paired across seeds or cells."""
    mod = _module()
    df = _sweep(0.3)
    per_seed, n = mod.paired_effect(df, mod.POOL, 1, 0, "planner_share")
    assert n == 5 * 8 and len(per_seed) == 5
    np.testing.assert_allclose(per_seed, 0.3, atol=0.05)
    shuffled = df.sample(frac=1.0, random_state=1)
    np.testing.assert_allclose(mod.paired_effect(shuffled, mod.POOL, 1, 0, "planner_share")[0], per_seed)
    zero, _ = mod.paired_effect(df, mod.COST, 0.0, 0.003, "planner_share")
    assert np.abs(zero).max() < 0.05


def test_doc_blocks_written_and_missing_markers_refused(tmp_path):
    mod = _module()
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    _sweep(0.3).to_parquet(sweep / "sweep.parquet")
    doc = tmp_path / "conditions.md"
    doc.write_text((ROOT / "docs" / "conditions.md").read_text())
    assert mod.main(["--sweep", str(sweep), "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert "diverse training favours search" in text and "0.30 [" in text
    # seeds are the unit: the planted effect is positive in all 5 seeds, so the exact sign-flip p is 2 / 2^5;
    # Holm multiplies the smallest of the 16 rows' p-values by at most 16
    from evosim import stats

    row = next(line for line in text.splitlines()
               if line.startswith("| diverse training") and "| planner share |" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[4] == "5" and cells[6] == "5 / 0" and cells[7] == f"{2 / 2 ** 5:.3f}"
    assert float(cells[8]) >= float(cells[7]) and "p (Holm)" in text
    # no seed fixes planners (share 0.2 or 0.5): 0 of 5 with the exact interval
    lo, hi = stats.clopper_pearson(0, 5)
    assert f"| 0 of 5 [{lo:.2f}, {hi:.2f}] |" in text
    assert stats.paired_test(np.full(5, 0.3) + np.arange(5) * 1e-3, np.zeros(5)).p == pytest.approx(2 / 2 ** 5)
    bad = tmp_path / "bad.md"
    bad.write_text("# nothing\n")
    assert mod.main(["--sweep", str(sweep), "--doc", str(bad)]) == 2
    assert bad.read_text() == "# nothing\n"
