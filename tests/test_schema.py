"""evosim.schema: one home for names and columns; class shares and intervals give the numbers
the code computed before (objectives.class_shares, sweep.probe_shares, seeds_table.per_run,
sweep.summarise, seeds_table.ci) and proportion intervals stay inside [0, 1]."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evosim import schema
from evosim.constants import ARCH_NAMES, Arch
from evosim.schema import (ARCH_GROUPS, ARCHITECTURES, CLASSES, DISTRIBUTIONS, bootstrap_interval, class_share_columns,
                           class_shares, t_interval, wilson_interval)


def test_one_definition_everywhere():
    import evosim.objectives
    import evosim.probe
    import evosim.store
    import evosim.viewer.data
    import evosim.worlds
    import evosim.worlds.base

    # the vocabulary is imported from evosim.schema; no other package offers it as its own
    assert evosim.viewer.data.CLASSES is CLASSES and evosim.worlds.base.DISTRIBUTIONS is DISTRIBUTIONS
    for mod in (evosim.objectives, evosim.worlds, evosim.probe):
        assert "CLASSES" not in getattr(mod, "__all__", ()) and "DISTRIBUTIONS" not in getattr(mod, "__all__", ())
    assert not hasattr(evosim.objectives, "CLASSES") and not hasattr(evosim.objectives, "class_shares")
    assert not hasattr(evosim.worlds, "DISTRIBUTIONS")
    assert not hasattr(evosim.probe, "DISTRIBUTIONS") and not hasattr(evosim.probe, "COLUMNS")  # no aliases
    assert evosim.store.COLUMNS is schema.RUN_COLUMNS
    assert ARCHITECTURES == tuple(ARCH_NAMES[a] for a in Arch) == ("heuristic", "planner", "memoriser", "network")
    assert ARCH_GROUPS == ("all", "heuristic", "planner", "memoriser", "network")
    # categories of a run's architecture columns: memoriser only where memorisers take part, network where networks do
    assert schema.architectures(False, False) == ("heuristic", "planner") and schema.architectures(True) == ARCHITECTURES
    assert schema.architectures(True, False) == ("heuristic", "planner", "memoriser")
    assert set(schema.COLUMNS) == {"generations", "organisms", "genomes", "probe", "interventions",
                                   "population_agreement", "three_way"}


def _probe(seed=0, n=37) -> pd.DataFrame:
    """A probe-like table: two generations, categorical columns as probe.py writes them, a class
    missing for one architecture so that fill-with-zero matters."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in (3, 5):
        for oid in range(n):
            arch = ARCHITECTURES[int(rng.random() < 0.3)]
            for d in DISTRIBUTIONS:
                c = CLASSES[int(rng.integers(0, 2 if arch == "planner" else 3))]
                rows.append({"generation": g, "organism_id": oid, "architecture": arch, "distribution": d, "class": c,
                             "normalised_return": float(rng.random())})
    df = pd.DataFrame(rows)
    df["architecture"] = pd.Categorical(df["architecture"], categories=list(ARCHITECTURES))
    df["distribution"] = pd.Categorical(df["distribution"], categories=list(DISTRIBUTIONS))
    df["class"] = pd.Categorical(df["class"], categories=list(CLASSES))
    return df


def _old_objectives_class_shares(probe):
    df = probe[probe["generation"] == probe["generation"].max()]
    n = df.groupby(["architecture", "distribution"], observed=True).size().rename("n")
    shares = (df.groupby(["architecture", "distribution"], observed=True)["class"]
              .value_counts(normalize=True).unstack(fill_value=0.0))
    for c in CLASSES:
        if c not in shares:
            shares[c] = 0.0
    return pd.concat([n, shares[list(CLASSES)]], axis=1).reset_index()


def _old_sweep_probe_shares(probe):
    probe = probe[probe["generation"] == probe["generation"].max()]
    out = {}
    arch, cls, dist = (probe[k].astype(str) for k in ("architecture", "class", "distribution"))
    for d in DISTRIBUTIONS:
        in_d = dist == d
        for a in ARCH_GROUPS:
            sel = in_d if a == "all" else in_d & (arch == a)
            n = int(sel.sum())
            for c in CLASSES:
                out[f"{d}_{a}_{c}"] = float((cls[sel] == c).sum() / n) if n else math.nan
    return out


def _old_seeds_table_shares(p):
    p = p[p["generation"] == p["generation"].max()].copy()
    for k in ("architecture", "distribution", "class"):
        p[k] = p[k].astype(str)
    keys = ["architecture", "distribution"]
    shares = pd.crosstab([p[k] for k in keys], p["class"], normalize="index").reindex(columns=CLASSES, fill_value=0.0)
    shares["n"] = p.groupby(keys).size()
    allp = pd.crosstab(p["distribution"], p["class"], normalize="index").reindex(columns=CLASSES, fill_value=0.0)
    allp["n"] = p.groupby("distribution").size()
    allp.index = pd.MultiIndex.from_product([["all"], allp.index], names=keys)
    return pd.concat([shares, allp]).reset_index()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_class_shares_equal_the_three_old_computations(seed):
    p = _probe(seed)
    pd.testing.assert_frame_equal(class_shares(p), _old_objectives_class_shares(p), check_exact=True)
    new, old = class_share_columns(p), _old_sweep_probe_shares(p)
    assert new.keys() == old.keys()
    assert all(new[k] == old[k] or (math.isnan(new[k]) and math.isnan(old[k])) for k in old)
    only_heuristics = p[p["architecture"] == "heuristic"]
    new, old = class_share_columns(only_heuristics), _old_sweep_probe_shares(only_heuristics)
    assert math.isnan(new["shift_planner_robust"]) and all(
        new[k] == old[k] or (math.isnan(new[k]) and math.isnan(old[k])) for k in old)
    s = p.copy()
    for k in ("architecture", "distribution", "class"):
        s[k] = s[k].astype(str)
    mine = class_shares(s, include_all=True)[["architecture", "distribution", *CLASSES, "n"]]
    pd.testing.assert_frame_equal(mine, _old_seeds_table_shares(p), check_exact=True, check_names=False)


def test_t_interval_matches_sweep_summarise_and_seeds_table_ci():
    v = np.array([0.1, 0.4, np.nan, 0.35, 0.8, 0.2])
    t = t_interval(v)
    w = v[~np.isnan(v)]
    n = len(w)
    half = float(stats.t.ppf(0.975, n - 1) * float(w.std(ddof=1)) / math.sqrt(n))  # sweep.summarise
    assert (t.n, t.mean, t.sd, t.half, t.lo, t.hi) == (n, float(w.mean()), float(w.std(ddof=1)), half,
                                                       float(w.mean()) - half, float(w.mean()) + half)
    assert t.half == stats.t.ppf(0.975, n - 1) * w.std(ddof=1) / np.sqrt(n)  # seeds_table.ci
    one, none = t_interval([0.3]), t_interval([])
    assert one.n == 1 and one.mean == 0.3 and math.isnan(one.half) and math.isnan(one.lo)
    assert none.n == 0 and math.isnan(none.mean)
    assert t_interval([2.0, 4.0]).half == pytest.approx(12.7062047 * math.sqrt(2) / math.sqrt(2))


@pytest.mark.parametrize("k,n,lo,hi", [(0, 20, 0.0, 0.16112516), (20, 20, 0.83887484, 1.0),
                                       (10, 20, 0.29929801, 0.70070199), (1, 10, 0.01787621, 0.40415003)])
def test_wilson_known_values(k, n, lo, hi):
    """Reference values worked by hand from the closed form (z = 1.959964); 0/20 and 20/20 are the textbook 0.1611."""
    assert wilson_interval(k, n) == pytest.approx((lo, hi), abs=1e-7)


def test_wilson_and_bootstrap_stay_in_unit_interval():
    for n in (1, 2, 5, 20, 1000):
        for k in range(0, n + 1, max(1, n // 7)):
            lo, hi = wilson_interval(k, n)
            assert 0.0 <= lo <= k / n <= hi <= 1.0
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    shares = [0.0, 0.0, 0.05, 0.0, 1.0, 0.95, 1.0]
    for vals in (shares, [0.0] * 5, [1.0] * 5):
        lo, hi = bootstrap_interval(vals, rng=3, n_boot=2000)
        assert 0.0 <= lo <= np.mean(vals) <= hi <= 1.0
    assert bootstrap_interval(shares, rng=7, n_boot=500) == bootstrap_interval(shares, rng=np.random.default_rng(7),
                                                                               n_boot=500)
    assert all(math.isnan(x) for x in bootstrap_interval([], rng=0))


def test_bootstrap_is_close_to_t_for_a_normal_sample():
    v = np.random.default_rng(0).normal(0.5, 0.1, size=200)
    t = t_interval(v)
    lo, hi = bootstrap_interval(v, rng=1, n_boot=4000)
    assert lo == pytest.approx(t.lo, abs=0.005) and hi == pytest.approx(t.hi, abs=0.005)
    lo_med, hi_med = bootstrap_interval(v, rng=1, n_boot=500, statistic=np.median)
    assert lo_med < np.median(v) < hi_med
