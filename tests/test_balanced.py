"""The balanced shift of every world: as many proxy as true-target objects, at equal BFS path distance
from the start, nothing else changed from ``shift``; and the proxy and true cues each world declares."""
from __future__ import annotations

from collections import Counter

from evosim.reference import naive
import numpy as np
import pytest

from evosim.config import WorldConfig
from evosim.constants import NO_KIND
from evosim.schema import DISTRIBUTIONS
from evosim.worlds import WORLDS
from evosim.worlds.base import LAYOUT_DISTRIBUTIONS

N_LAYOUTS = 2000


def make_world(name, size=11, n_distractors=3, **kw):
    return WORLDS[name](WorldConfig(name=name, size=size, n_distractors=n_distractors, **kw))


@pytest.fixture(scope="module", params=sorted(WORLDS))
def sampled(request):
    world = make_world(request.param, wall_density=0.2)
    return world, world.sample(np.random.default_rng([11, 1]), "shift_balanced", N_LAYOUTS)


def start_distances(lay, i, live):
    """BFS path distance from the start to each live object of layout ``i`` (its distance map at the start)."""
    sy, sx = lay.start[i]
    return lay.dist[i, live, sy, sx].astype(int)


def test_counts_equal_in_every_layout(sampled):
    """Every layout holds balanced_count() objects of each kind of the pair, and exactly the shift's other kinds."""
    world, lay = sampled
    proxy, true = world.balanced_pair
    k = world.balanced_count()
    others = Counter({kd: c for kd, c in world.composition("shift")
                      if kd not in world.true_target and kd not in world.proxy_target})
    for i in range(len(lay)):
        c = Counter(world.kinds[j].name for j in lay.obj_kind[i] if j != NO_KIND)
        assert c[proxy] == c[true] == k >= 1
        del c[proxy], c[true]
        assert c == others


def test_equal_path_distance_per_pair_and_on_average(sampled):
    """The sorted start distances of the proxy objects equal those of the true targets in every layout (each
    pair shares a distance), so the means over layouts are equal; distance maps match the naive BFS twin."""
    world, lay = sampled
    proxy, true = (world.kind_index(x) for x in world.balanced_pair)
    dp, dt = [], []
    for i in range(len(lay)):
        p = start_distances(lay, i, lay.obj_kind[i] == proxy)
        t = start_distances(lay, i, lay.obj_kind[i] == true)
        assert sorted(p) == sorted(t) and min(p) >= 2
        dp += list(p)
        dt += list(t)
    assert np.mean(dp) == np.mean(dt)
    sub = lay.take(np.arange(25))
    assert np.array_equal(sub.dist, naive.distance_maps(sub.walls, sub.obj_pos, sub.obj_kind))
    for i in range(len(sub)):
        sy, sx = (int(v) for v in sub.start[i])
        bfs = naive.bfs(sub.walls[i].tolist(), sy, sx)
        live = sub.obj_kind[i] != NO_KIND
        assert [bfs[y][x] for y, x in sub.obj_pos[i][live]] == list(start_distances(sub, i, live))


def test_which_cell_gets_which_kind_is_fair(sampled):
    """A fair coin assigns the pair's cells: the proxy's and the true target's offsets from the start have
    the same mean (within 4 standard errors), and neither kind holds the first object slot systematically."""
    world, lay = sampled
    proxy, true = (world.kind_index(x) for x in world.balanced_pair)
    off = {proxy: [], true: []}
    for i in range(len(lay)):
        for kd in off:
            off[kd] += list(lay.obj_pos[i][lay.obj_kind[i] == kd] - lay.start[i])
    a, b = np.array(off[proxy], float), np.array(off[true], float)
    se = np.sqrt(a.var(axis=0) / len(a) + b.var(axis=0) / len(b))
    assert (np.abs(a.mean(axis=0) - b.mean(axis=0)) < 4 * se).all()
    first = np.mean(lay.obj_kind[:, 0] == proxy)
    share = world.balanced_count() / world.n_objects("shift_balanced")
    assert abs(first - share) < 4 * np.sqrt(share * (1 - share) / len(lay))


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_same_walls_and_start_as_shift(name):
    """The walls generator and start are those of shift: from the same rng state the first layout of shift and
    of shift_balanced has the same walls and start (composition of neither draws random numbers)."""
    world = make_world(name, 13, 4, wall_density=0.15)
    for seed in range(30):
        a = world.sample(np.random.default_rng([3, seed]), "shift", 1)
        b = world.sample(np.random.default_rng([3, seed]), "shift_balanced", 1)
        assert np.array_equal(a.walls, b.walls) and np.array_equal(a.start, b.start)


@pytest.mark.parametrize("nd", range(9))
@pytest.mark.parametrize("name", sorted(WORLDS))
def test_balanced_count_and_width(name, nd):
    """Half of the shift's targets of each kind (at least one); no wider than the probed arrays except red_door
    without distractors (two objects where the probed distributions hold one)."""
    world = make_world(name, 13, nd)
    k = world.balanced_count()
    n_targets = {"red_door": 1 + nd, "keys_chests": 3 + nd, "ancestral_modern": 3 + nd}[name]
    assert k == max(1, n_targets // 2)
    lay = world.sample(np.random.default_rng(nd), "shift_balanced", 3)
    assert lay.obj_kind.shape[1] == max(world.max_objects, world.n_objects("shift_balanced"))
    if not (name == "red_door" and nd == 0):
        assert world.n_objects("shift_balanced") <= world.max_objects


def test_probed_distributions_unchanged():
    """shift_balanced is probed (third, before control); the balanced-only kind (sour fruit) is absent from the
    other distributions, which alone set the probe's per-kind columns, so those stay as they were."""
    assert DISTRIBUTIONS == ("train", "shift", "shift_balanced", "control")
    assert LAYOUT_DISTRIBUTIONS == DISTRIBUTIONS
    am = make_world("ancestral_modern")
    assert "sour_fruit" not in am.kinds_in() and "sour_fruit" in am.kinds_in(["shift_balanced"])
    for name in WORLDS:
        w = make_world(name)
        assert w.kinds_in() | w.kinds_in(["shift_balanced"]) == {k.name for k in w.kinds}
    with pytest.raises(ValueError, match="decision"):
        make_world("red_door").sample(np.random.default_rng(0), "shift_balanced", 1, decision=True)


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_cues(name):
    """proxy_feature marks the pair's proxy kind and not its true kind, true_feature the reverse; they are the
    channels the probe's causal check edits (probe.target_features); the pair pays as the world says."""
    from evosim.probe import reference_utility, target_features

    w = make_world(name)
    f = {x: w.features.index(x) for x in w.features}
    feats = w.table.features
    proxy, true = (w.kind_index(x) for x in w.balanced_pair)
    assert feats[proxy, f[w.proxy_feature]] > 0 and feats[proxy, f[w.true_feature]] == 0
    assert feats[true, f[w.true_feature]] > 0 and feats[true, f[w.proxy_feature]] == 0
    assert (w.features[target_features(w)[0]], w.features[target_features(w)[1]]) == (w.proxy_feature,
                                                                                     w.true_feature)
    assert w.balanced_pair[0] in w.proxy_target and w.balanced_pair[1] in w.true_target
    assert w.table.reward[true] > 0 >= w.table.reward[proxy] and w.table.proxy[proxy] > 0 == w.table.proxy[true]
    # the perception-matched reference planner still exists: rewards and proxy values are linear in the features
    reference_utility(w, w.table.reward)
    reference_utility(w, w.table.proxy)


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_rollout_on_balanced_layouts_equals_twin(name):
    """The kernels play shift_balanced layouts (with ancestral_modern's sour fruit) exactly as the naive twin."""
    from test_kernels import assert_same, genomes_for, run_both

    rng = np.random.default_rng([sum(map(ord, name)), 9])
    for size, nd, max_steps in ((9, 0, 30), (11, 4, 40), (13, 8, 50)):
        world = make_world(name, size, nd, wall_density=0.2)
        lay = world.sample(rng, "shift_balanced", 4)
        g = genomes_for(rng, 10)
        assert_same(*run_both(world, lay, g, max_steps, seed=3, episode_layout=np.array([0, 1, 2, 3, 2])))
