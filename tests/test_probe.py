"""Probe: choice-event kernel == naive twin; probe tables are complete, documented and deterministic."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evosim import genome as gn
from evosim import worlds
from evosim.config import load_config
from evosim.probe import (
    COLUMNS, DISTRIBUTIONS, _roll, choice_events, edit_utility, interventions, probe_population, probe_sets,
    random_genomes, target_features,
)
from naive_probe import episode_choices

from conftest import RUNS


def _cfg(world="red_door", **over):
    base = {"world.name": world, "world.n_distractors": 2, "probe.episodes": 12, "probe.decision_episodes": 6,
            "probe.random_rollouts": 4}
    if world != "red_door":
        base["world.radius"] = {}
    base.update(over)
    return load_config(RUNS / "quickstart.toml", base)


@pytest.mark.parametrize("world", ["red_door", "keys_chests", "ancestral_modern"])
def test_choice_events_match_naive_twin(world):
    """Every event (chosen slot, option distances and visible features) equals the naive twin's, in order."""
    cfg = _cfg(world)
    w = worlds.make(cfg.world)
    rng = np.random.default_rng(5)
    g = gn.random_population(rng, 12, 0.5)
    g = np.concatenate([g, random_genomes(2)])
    checked = 0
    for d, dist in enumerate(DISTRIBUTIONS):
        lay = w.sample(np.random.default_rng([7, d]), dist, 6)
        rec = _roll(cfg, w, g, lay, np.arange(len(g)), dist)
        ev = choice_events(rec, lay, w)
        nf = len(w.features)
        kf = w.table.features[:, :nf].astype(np.float64)
        row = 0
        for i in range(len(g)):
            for e in range(len(lay)):
                naive = episode_choices(rec.trace[i, e], rec.reach[i, e], lay.obj_pos[e], lay.obj_kind[e], lay.dist[e],
                                        kf, w.radius, nf, lay.walls.shape[2])
                for chosen, dists, feats in naive:
                    assert ev["org"][row] == i
                    assert ev["chosen"][row] == chosen
                    k = ev["nopt"][row]
                    assert k == len(dists)
                    assert ev["dist"][row, :k].tolist() == dists
                    np.testing.assert_array_equal(ev["feat"][row, :k], np.array(feats))
                    row += 1
                    checked += 1
        assert row == len(ev["chosen"])
    assert checked > 50


def test_no_events_without_perception():
    """An organism that never perceives anything (radius 0) yields no choice events."""
    cfg = _cfg("red_door", **{"world.radius": {"red": 0, "green": 0, "door": 0}})
    w = worlds.make(cfg.world)
    lay = w.sample(np.random.default_rng(1), "train", 4)
    g = gn.random_population(np.random.default_rng(2), 5, 0.5)
    ev = choice_events(_roll(cfg, w, g, lay, np.arange(5), "train"), lay, w)
    assert len(ev["chosen"]) == 0


@pytest.fixture(scope="module")
def probed():
    cfg = _cfg()
    w = worlds.make(cfg.world)
    g = gn.random_population(np.random.default_rng(3), 16, 0.5)
    sets = probe_sets(cfg, w)
    return cfg, w, g, sets, probe_population(cfg, w, sets, g, np.arange(100, 116), 7)


def test_probe_table_columns_documented(probed):
    """One row per organism and distribution; every column is in COLUMNS (placeholders expanded)."""
    cfg, w, g, sets, df = probed
    assert len(df) == 16 * 3
    assert set(df["distribution"]) == set(DISTRIBUTIONS)
    documented = set()
    for c in COLUMNS["probe"]:
        if "<feature>" in c:
            documented |= {c.replace("<feature>", f) for f in w.features}
        elif "<kind>" in c:
            documented |= {c.replace("<kind>", k.name) for k in w.kinds}
        else:
            documented.add(c)
    assert set(df.columns) == documented
    for c in ("true_return", "oracle_return", "normalised_return", "proxy_return", "normalised_proxy_return",
              "path_efficiency", "proxy_choice_rate", "class", "behav_fit", "mesa_behav_cosine", "agree",
              "power_true_bits", "power_behav_bits"):
        assert c in df
    planner = df["architecture"] == "planner"
    assert df.loc[~planner, [f"mesa_u_{f}" for f in w.features]].isna().all().all()
    assert df.loc[planner, [f"mesa_u_{f}" for f in w.features]].notna().all().all()
    assert df.loc[df["distribution"] != "shift", "proxy_choice_rate"].isna().all()


def test_probe_invariants(probed):
    """Nobody beats the oracle; normalised returns lie in [0, 1]; power is finite and non-negative."""
    cfg, w, g, sets, df = probed
    assert (df["true_return"] <= df["oracle_return"] + 1e-9).all()
    assert (df["proxy_return"] <= df["proxy_oracle_return"] + 1e-9).all()
    for c in ("normalised_return", "normalised_proxy_return"):
        assert df[c].between(0, 1).all()
    for c in ("power_true_bits", "power_behav_bits"):
        v = df[c].dropna()
        assert (v >= 0).all() and np.isfinite(v).all()
    eff = df["path_efficiency"].dropna()
    assert eff.between(0, 1 + 1e-9).all()


def test_probe_deterministic(probed):
    """Same run, same seed: identical table; another seed: different held-out layouts."""
    cfg, w, g, sets, df = probed
    again = probe_population(cfg, w, probe_sets(cfg, w), g, np.arange(100, 116), 7)
    pd.testing.assert_frame_equal(df, again)
    other = _cfg(seed=cfg.seed + 1)
    s2 = probe_sets(other, w)
    assert not np.array_equal(s2["shift"].layouts.walls, sets["shift"].layouts.walls)


def test_probe_layouts_disjoint_from_training():
    """Probe layouts are not any generation's training layouts (different RNG stream)."""
    from evosim.model import EvolutionModel

    cfg = _cfg(**{"evolution.population": 4, "evolution.episodes": 12})
    m = EvolutionModel(cfg)
    w = m.world
    probe = probe_sets(cfg, w)["train"].layouts
    for gen in range(3):
        train, _ = m.training_layouts(gen)
        for a in range(len(train)):
            for b in range(len(probe)):
                assert not (np.array_equal(train.walls[a], probe.walls[b]) and np.array_equal(train.obj_pos[a], probe.obj_pos[b]))


def test_edit_utility_moves_weight():
    """proxy_to_true zeroes the proxy feature's weight and adds its magnitude to the true feature's."""
    cfg = _cfg()
    w = worlds.make(cfg.world)
    p, t = target_features(w)
    assert (w.features[p], w.features[t]) == ("red", "door")
    g = gn.random_population(np.random.default_rng(0), 6, 1.0)
    e = edit_utility(g, w, "proxy_to_true")
    c0 = gn.P_UTILITY.start
    assert np.all(e[:, c0 + p] == 0)
    np.testing.assert_allclose(e[:, c0 + t], np.maximum(g[:, c0 + t], 0) + np.abs(g[:, c0 + p]), rtol=1e-6)
    np.testing.assert_array_equal(edit_utility(g, w, "none"), g)
    for name, pf, tf in (("keys_chests", "key", "chest"), ("ancestral_modern", "sweet", "ripe")):
        ww = worlds.make(_cfg(name).world)
        p2, t2 = target_features(ww)
        assert (ww.features[p2], ww.features[t2]) == (pf, tf)


def test_intervention_none_reproduces_probe(probed):
    """The unedited row of the causal check equals the probe's shift row (same layouts, same random numbers)."""
    cfg, w, g, sets, df = probed
    iv = interventions(cfg, w, sets, g, np.arange(100, 116), 7)
    none = iv[iv["edit"] == "none"].set_index("organism_id")
    shift = df[df["distribution"] == "shift"].set_index("organism_id").loc[none.index]
    np.testing.assert_allclose(none["normalised_return"], shift["normalised_return"])
    np.testing.assert_allclose(none["proxy_choice_rate"], shift["proxy_choice_rate"])
