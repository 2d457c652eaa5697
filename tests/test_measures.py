"""Measures that set headline numbers: the chance floor (random and idle policies), the perception-matched
reference's frontier exploration (kernel == naive twin, better than the random walk, organisms unchanged),
the malign criterion and cue preferences."""
from __future__ import annotations

import numpy as np
import pytest

from evosim import genome as gn
from evosim import kernels, worlds
from evosim.config import load_config
from evosim.objectives import classify, prefers_proxy
from evosim.probe import (
    idle_returns, preference_features, probe_layouts, probe_sets, random_genomes, reference_genomes,
)
from evosim.probe.outcomes import _outcomes
from evosim.probe.sets import _roll
from evosim.reference import naive
from evosim.schema import DISTRIBUTIONS

from conftest import RUNS

#: every shipped experiment and its control
SHIPPED = ("red_door", "red_door_control", "red_door_short_sighted", "red_door_short_sighted_control", "keys_chests",
           "keys_chests_control", "ancestral_modern", "ancestral_modern_control")
SMALL = {"probe.episodes": 24, "probe.decision_episodes": 6, "probe.random_rollouts": 4}


def _cfg(name, **over):
    return load_config(RUNS / f"{name}.toml", {**SMALL, **over})


# -- the chance floor ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SHIPPED)
def test_random_and_idle_policies_are_capability_failures(name):
    """In every shipped world and probed distribution the random and the idle policy, classified by the same
    ``classify`` on their own normalised returns, are capability failures; the chance floor is the better of
    the two and the reference beats it (else normalised returns would be NaN)."""
    cfg = _cfg(name)
    w = worlds.make(cfg.world)
    sets = probe_sets(cfg, w)
    assert list(sets) == list(DISTRIBUTIONS)
    for d, s in sets.items():
        b = s.baseline
        assert b["random_class"] == "capability_failure", (name, d, b)
        assert b["idle_class"] == "capability_failure", (name, d, b)
        assert b["chance_return"] == max(b["random_return"], b["idle_return"])
        assert b["chance_proxy_return"] == max(b["random_proxy_return"], b["idle_proxy_return"])
        assert s.matched_true.mean() > b["chance_return"], (name, d)
        # and directly: a policy scoring chance normalises to 0
        assert s.normalised(np.full((1, len(s.layouts)), b["chance_return"]))[0] == pytest.approx(0.0, abs=1e-12)


def test_idle_policy_collects_only_what_its_start_cell_gives():
    """Layouts never put an object on the start cell, so the idle policy earns 0 everywhere; with an object
    moved onto the start cell it earns what the kernel pays on a step that stays put (a move into a wall)."""
    cfg = _cfg("red_door")
    w = worlds.make(cfg.world)
    for d in DISTRIBUTIONS:
        lay = probe_layouts(cfg, w, d, 24)
        on_start = (lay.obj_pos == lay.start[:, None, :]).all(axis=2) & (lay.obj_kind >= 0)
        assert not on_start.any()
        r, p = idle_returns(lay, w.table)
        assert (r == 0).all() and (p == 0).all()
    lay = probe_layouts(cfg, w, "shift", 6)
    door = w.kind_index("blue_door")
    j = int(np.flatnonzero(lay.obj_kind[0] == door)[0])
    lay.obj_pos[0, j] = lay.start[0]
    lay = lay.take(np.arange(len(lay)))
    lay.dist = kernels.distance_maps(lay.walls, lay.obj_pos, lay.obj_kind)
    r, p = idle_returns(lay, w.table)
    assert r[0] == 1.0 and p[0] == 0.0 and (r[1:] == 0).all()


# -- malign -----------------------------------------------------------------------------------------------------
def _planner(world, utility, depth):
    g = reference_genomes(world, depth)[:1].copy()
    c0 = gn.P_UTILITY.start
    g[0, c0:c0 + len(world.features)] = utility
    return g


def test_malign_key_grabber_and_not_the_reference():
    """keys_chests: a planner that values keys and not chests grabs the shift's keys (-0.1 each) and opens the
    one chest only by accident: worse than idle (0) and than random, so malign on shift; the aligned
    reference is malign nowhere."""
    cfg = _cfg("keys_chests", **{"probe.episodes": 60})
    w = worlds.make(cfg.world)
    sets = probe_sets(cfg, w)
    grabber = _planner(w, [1.0, 0.0], cfg.organisms.max_depth)
    ref = reference_genomes(w, cfg.organisms.max_depth)[:1]
    g = np.concatenate([grabber, ref])
    for d, s in sets.items():
        cols = _outcomes(cfg, w, s, _roll(cfg, w, g, s.layouts, np.array([1, 2]), d, record=False))
        assert not cols["malign"][1], d
        if d == "shift":
            assert cols["true_return"][0] < min(s.idle_ret.mean(), s.random_ret.mean())
            assert cols["malign"][0]
            assert cols["keys_beyond_need"][0] > 1.0
        assert np.isnan(cols["candy_beyond_need"]).all()


# -- cue preferences ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, proxy_only, true_only", [
    ("red_door", {"red": 1.0}, {"door": 1.0}),
    ("keys_chests", {"key": 1.0}, {"chest": 1.0}),
    ("ancestral_modern", {"sweet": 1.0}, {"fruity": 1.0}),
])
def test_prefers_proxy_compares_cues(name, proxy_only, true_only):
    """A valuer of the proxy cue alone prefers the proxy, of the true cue alone does not: in ancestral_modern a
    pure sweetness valuer prefers the proxy though candy's features are a subset of fruit's (a bundle
    comparison said it did not)."""
    w = worlds.make(_cfg(name).world)
    pf, tf = preference_features(w)
    assert (w.features[pf], w.features[tf]) == (w.proxy_feature, w.true_feature)

    def u(d):
        return [d.get(f, 0.0) for f in w.features]

    got = prefers_proxy(np.array([u(proxy_only), u(true_only), u({}), [np.nan] * len(w.features)]), pf, tf)
    np.testing.assert_array_equal(got, [1.0, 0.0, 0.0, np.nan])
    if name == "ancestral_modern":  # the old bundle comparison: candy (sweet) vs fruit (sweet, ripe, fruity)
        kf = w.table.features[:, :len(w.features)]
        sweet = np.array(u(proxy_only))
        assert not sweet @ kf[w.kind_index("candy")] > sweet @ kf[w.kind_index("fruit")]


def test_classify_order_unchanged_with_the_floor():
    """classify still tests robust first; the floor makes chance-level returns 0, not 0.5."""
    assert classify([0.0, 0.6, 0.1], [0.0, 0.9, 0.7], 0.5).tolist() == ["capability_failure", "robust",
                                                                        "pseudo_aligned"]


# -- the frontier explorer ----------------------------------------------------------------------------------------
def _spec(cfg, w, explore, **kw):
    return kernels.EpisodeSpec.from_config(cfg, w, explore=explore, **kw)


@pytest.mark.parametrize("name", ["red_door_short_sighted", "keys_chests", "ancestral_modern"])
def test_frontier_explorer_equals_naive_twin(name):
    """explore = 1: every trajectory, return and reach of the reference planners and of random planners equals
    the naive twin's; heuristics and memorisers are unaffected by the mode."""
    cfg = _cfg(name)
    w = worlds.make(cfg.world)
    rng = np.random.default_rng(4)
    g = np.concatenate([reference_genomes(w, cfg.organisms.max_depth), gn.random_population(rng, 6, 1.0),
                        gn.random_population(rng, 3, 0.0)])
    ids = np.arange(len(g))
    for d in ("shift", "shift_balanced"):
        lay = probe_layouts(cfg, w, d, 8)
        k = kernels.rollout(g, lay, np.arange(len(lay)), 3, 3, 9, ids, _spec(cfg, w, 1), record=True)
        nv = naive.rollout(g, lay, np.arange(len(lay)), 3, 3, 9, ids, _spec(cfg, w, 1), record=True)
        np.testing.assert_array_equal(k.trace, nv.trace)
        np.testing.assert_array_equal(k.reach, nv.reach)
        np.testing.assert_array_equal(k.ret, nv.ret)
        np.testing.assert_array_equal(k.work, nv.work)
        k0 = kernels.rollout(g, lay, np.arange(len(lay)), 3, 3, 9, ids, _spec(cfg, w, 0), record=True)
        not_planner = gn.architecture(g) != 1
        np.testing.assert_array_equal(k.trace[not_planner], k0.trace[not_planner])


def test_explore_mode_zero_is_the_organisms_rule():
    """explore = 0 (the default) is bit-identical to the naive twin's organisms' rule for every architecture,
    and EpisodeSpec refuses other modes."""
    cfg = _cfg("red_door")
    w = worlds.make(cfg.world)
    g = gn.random_population(np.random.default_rng(9), 12, 0.5)
    lay = probe_layouts(cfg, w, "train", 6)
    spec = kernels.EpisodeSpec.from_config(cfg, w)
    assert spec.explore == 0
    k = kernels.rollout(g, lay, np.arange(len(lay)), 1, 3, 0, np.arange(12), spec, record=True)
    nv = naive.rollout(g, lay, np.arange(len(lay)), 1, 3, 0, np.arange(12), spec, record=True)
    np.testing.assert_array_equal(k.trace, nv.trace)
    with pytest.raises(ValueError, match="explore"):
        spec.replace(explore=2)


def test_frontier_visits_every_reachable_cell_of_an_empty_maze():
    """With nothing valued and radius 0 (a cell is seen only once occupied) the explorer covers every free cell
    of an open grid that holds no object, within the cells' number of steps times a small factor."""
    cfg = _cfg("red_door", **{"world.wall_density": 0.0, "world.radius": {"red": 0, "green": 0, "door": 0},
                              "world.max_steps": 400})
    w = worlds.make(cfg.world)
    lay = probe_layouts(cfg, w, "shift", 4)
    lay.obj_kind[:] = -1
    lay.obj_kind[:, 0] = w.kind_index("blue_door")  # one door, unvalued by this planner: the episode never ends
    lay.dist = kernels.distance_maps(lay.walls, lay.obj_pos, lay.obj_kind)
    g = _planner(w, [0.0, 0.0, 0.0], cfg.organisms.max_depth)
    rec = kernels.rollout(g, lay, np.arange(len(lay)), 0, 3, 9, np.array([0]), _spec(cfg, w, 1), record=True)
    width = lay.walls.shape[2]
    for e in range(len(lay)):
        free = {int(c) for c in np.flatnonzero(lay.walls[e].ravel() == 0)}
        free.discard(int(lay.obj_pos[e, 0, 0] * width + lay.obj_pos[e, 0, 1]))
        visited = set(int(c) for c in rec.trace[0, e] if c >= 0)
        assert free <= visited, (e, len(free - visited))
        first_all = max(int(np.flatnonzero(rec.trace[0, e] == c)[0]) for c in free)
        assert first_all <= 3 * len(free)


def test_frontier_finds_out_of_sight_targets_more_often_than_the_random_walk():
    """red_door_short_sighted (doors seen from 2 cells): on 200 shift layouts the aligned reference with frontier
    exploration reaches the blue door in at least 15 points more episodes than with the random walk (measured:
    0.82 vs 0.46; the margin is over 4 standard errors of a difference of two shares of 200)."""
    cfg = _cfg("red_door_short_sighted")
    w = worlds.make(cfg.world)
    lay = probe_layouts(cfg, w, "shift", 200)
    g = reference_genomes(w, cfg.organisms.max_depth)[:1]
    f = kernels.rollout(g, lay, np.arange(len(lay)), 0, 3, 9, np.array([0]), _spec(cfg, w, 1))
    r = kernels.rollout(g, lay, np.arange(len(lay)), 0, 3, 9, np.array([0]), _spec(cfg, w, 0))
    assert f.ret.mean() >= r.ret.mean() + 0.15, (f.ret.mean(), r.ret.mean())


def test_random_genomes_are_heuristics():
    """The random baseline is a heuristic (never affected by the explore mode)."""
    assert (gn.architecture(random_genomes(3)) == 0).all()
