"""Kernels against their naive twins (tests/naive.py), trajectory by trajectory, plus RNG and threading checks.

Every comparison is exact: traces, reach steps, returns, proxy returns, steps and plans evaluated
must be identical, because the twin follows the documented semantics and floating-point order.
A comparison fails as soon as one decision of one organism in one episode differs.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

from evosim.reference import naive
import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evosim.config import WorldConfig
from evosim.constants import MAX_DEPTH, NO_KIND, UNREACHABLE
from evosim.genome import ARCH, N_GENES, P_DEPTH, P_UTILITY, random_population
from evosim.constants import MAX_PERCEIVED
from evosim.kernels import EpisodeSpec, distance_maps, episode_keys, heuristic_action, planner_plan, rollout
from evosim.kernels.rng import _episode_key as episode_key
from evosim.kernels.rng import _splitmix64 as splitmix64
from evosim.kernels.rng import _uniform as uniform
from evosim.constants import MAX_FEATURES
from evosim.kernels.heuristic import _signals_into
from evosim.kernels.planner import _explore, _planner_action
from evosim.schema import DISTRIBUTIONS
from evosim.worlds import WORLDS, Layouts

FIELDS = ("ret", "proxy", "steps", "plans", "work", "reach", "trace")
SIGNALS = ("path", "compass")
HYP = settings(max_examples=60, deadline=None, derandomize=True, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def make_world(name, **kw):
    return WORLDS[name](WorldConfig(name=name, **kw))


def genomes_for(rng, n, planner_share=0.5, depths=None, spread=2.0):
    """Random genomes of both architectures, with wider utility/attraction genes than the GA's start,
    and the planner depth gene cycling through ``depths`` (sometimes with a fractional part)."""
    g = random_population(rng, n, planner_share, sigma=spread)
    depths = depths or range(1, MAX_DEPTH + 1)
    for i in range(n):
        g[i, P_DEPTH] = list(depths)[i % len(depths)] + rng.uniform(-0.45, 0.45)
    return g


def run_both(world, lay, genomes, max_steps, seed=11, max_depth=MAX_DEPTH, radius=None, episode_layout=None,
             generation=3, organism_ids=None, signal="path"):
    radius = world.radius if radius is None else np.asarray(radius, dtype=np.int64)
    episode_layout = np.arange(len(lay)) if episode_layout is None else episode_layout
    organism_ids = np.arange(100, 100 + len(genomes)) if organism_ids is None else organism_ids
    spec = EpisodeSpec(world.table, radius, len(world.features), max_depth, max_steps, signal)
    args = (genomes, lay, episode_layout, seed, 1, generation, organism_ids, spec)
    return rollout(*args, record=True), naive.rollout(*args, record=True)


def assert_same(k, t):
    for f in FIELDS:
        a, b = getattr(k, f), getattr(t, f)
        assert a.shape == b.shape, f
        if not np.array_equal(a, b):
            bad = (a != b).reshape(a.shape[0], a.shape[1], -1).any(-1)
            i, e = np.argwhere(bad)[0]
            raise AssertionError(f"{f} differs first at organism {i}, episode {e}:\nkernel {a[i, e]}\ntwin   {b[i, e]}")


def hand_layout(walls, start, objs, m=None):
    """One layout from a wall picture ('#' wall, '.' free) and [(row, col, kind)], with kernel distance maps."""
    w = np.array([[c == "#" for c in row] for row in walls], dtype=np.uint8)
    m = max(1, len(objs)) if m is None else m
    pos = np.zeros((1, m, 2), dtype=np.int64)
    kind = np.full((1, m), NO_KIND, dtype=np.int64)
    for j, (y, x, k) in enumerate(objs):
        pos[0, j] = (y, x)
        kind[0, j] = k
    lay = Layouts(w[None], np.array([start], dtype=np.int64), pos, kind)
    lay.dist = distance_maps(lay.walls, lay.obj_pos, lay.obj_kind)
    return lay


# -- counter-based RNG ----------------------------------------------------------------------------
def _inv_xorshift(z, s):
    x = z
    for _ in range(64 // s + 1):
        x = z ^ (x >> s)
    return x


def _inv_splitmix64(z):
    z = _inv_xorshift(z, 31)
    z = (z * pow(naive.M2, -1, 1 << 64)) & naive.MASK64
    z = _inv_xorshift(z, 27)
    z = (z * pow(naive.M1, -1, 1 << 64)) & naive.MASK64
    z = _inv_xorshift(z, 30)
    return (z - naive.GOLDEN) & naive.MASK64


@HYP
@given(seed=st.integers(0, 2**64 - 1), stream=st.integers(0, 8), gen=st.integers(0, 10**6),
       org=st.integers(0, 2**40), ep=st.integers(0, 10**4), step=st.integers(0, 1000), j=st.integers(0, 7))
def test_rng_kernel_equals_twin_bit_for_bit(seed, stream, gen, org, ep, step, j):
    """The kernel hash chain and the twin's masked Python-int version agree on every bit."""
    assert int(splitmix64(np.uint64(seed))) == naive.splitmix64(seed)
    key = np.uint64(episode_key(np.uint64(seed), np.uint64(stream), np.uint64(gen), np.int64(org), np.int64(ep)))
    assert int(key) == naive.episode_key(seed, stream, gen, org, ep)
    u = uniform(key, step, j)
    assert u == naive.uniform(int(key), step, j)
    assert 0.0 < u < 1.0


def test_uniform_stays_below_one_in_the_top_bin():
    """A key whose hash is all ones hits the top bin, whose centre rounds to 1.0 in float64; the
    draw must still be < 1 (the Gumbel noise -log(-log(u)) would be +inf otherwise)."""
    key = _inv_splitmix64(naive.MASK64) ^ naive.splitmix64(0)
    u = uniform(np.uint64(key), 0, 0)
    assert u < 1.0 and u == naive.uniform(key, 0, 0) and u > 1.0 - 2.0**-52
    key0 = _inv_splitmix64(0) ^ naive.splitmix64(0)  # hash all zeros: the bottom bin
    assert uniform(np.uint64(key0), 0, 0) == 0.5 * 2.0**-53


def _chi2(u, bins):
    counts = np.bincount(np.minimum((np.asarray(u) * bins).astype(int), bins - 1), minlength=bins)
    expected = len(u) / bins
    return float(((counts - expected) ** 2 / expected).sum())


def test_uniform_is_roughly_uniform_and_a_broken_hash_is_not():
    """Chi-square over 20 bins (19 dof; p = 1e-6 at ~58) of 6000 draws along each counter (step,
    draw index, episode key), and over 8x8 cells of successive pairs (63 dof; bound 120). The same
    bound rejects the hash without its final mixing (key ^ counter, top bits), so it can fail."""
    key = np.uint64(episode_key(np.uint64(5), np.uint64(1), np.uint64(0), np.int64(0), np.int64(0)))
    along_step = [uniform(key, s, 0) for s in range(6000)]
    along_j = [uniform(key, s // 8, s % 8) for s in range(6000)]
    keys = [episode_key(np.uint64(5), np.uint64(1), np.uint64(0), np.int64(0), np.int64(e)) for e in range(6000)]
    along_ep = [uniform(np.uint64(k), 0, 0) for k in keys]
    for u in (along_step, along_j, along_ep):
        assert _chi2(u, 20) < 58.0
    pairs = np.array([(uniform(key, s, 0), uniform(key, s, 1)) for s in range(6000)])
    cells = np.minimum((pairs * 8).astype(int), 7)
    assert _chi2((cells[:, 0] * 8 + cells[:, 1] + 0.5) / 64, 64) < 120.0
    broken = [(((int(key) ^ (s * 8)) >> 11) + 0.5) * 2.0**-53 for s in range(6000)]
    assert _chi2(broken, 20) > 58.0


# -- BFS -------------------------------------------------------------------------------------------
def test_bfs_hand_checked():
    """A corridor around a wall: distances counted by hand; the walled-off cell and walls are UNREACHABLE."""
    lay = hand_layout(["#####",
                       "#..##",
                       "#.#.#",
                       "#..##",
                       "#####"], (1, 1), [(1, 2, 0), (2, 3, 0), (0, 0, 0)], m=4)
    d = lay.dist[0]
    assert d[0, 1, 2] == 0 and d[0, 1, 1] == 1 and d[0, 2, 1] == 2 and d[0, 3, 1] == 3 and d[0, 3, 2] == 4
    assert d[0, 2, 3] == UNREACHABLE and d[0, 0, 0] == UNREACHABLE
    assert d[1, 2, 3] == 0 and (d[1] == UNREACHABLE).sum() == d[1].size - 1  # sealed cell sees only itself
    assert (d[2] == UNREACHABLE).all() and (d[3] == UNREACHABLE).all()  # object on a wall; empty slot
    assert np.array_equal(d, naive.distance_maps(lay.walls, lay.obj_pos, lay.obj_kind)[0])


@HYP
@given(data=st.data(), h=st.integers(1, 12), w=st.integers(1, 12), density=st.floats(0.0, 0.7))
def test_bfs_equals_twin_on_random_walls(data, h, w, density):
    """Random walls (cut-off regions included), sources on free and wall cells, empty slots."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n, m = 2, 5
    walls = (rng.random((n, h, w)) < density).astype(np.uint8)
    pos = np.stack([rng.integers(0, h, (n, m)), rng.integers(0, w, (n, m))], axis=-1)
    kind = rng.integers(-1, 3, (n, m))
    got = distance_maps(walls, pos, kind)
    assert np.array_equal(got, naive.distance_maps(walls, pos, kind))


# -- decisions at random states --------------------------------------------------------------------
def _random_states(name, seed, trials=300):
    """(world, layouts, state) for ``trials`` random decision states of world ``name``: a random
    free cell, heading, inventory (0-2), step, alive mask (80% of objects), radii (shipped, or
    random 0..6 every third trial) and planner genome; ``state`` holds li, y, x, prev, inv, step,
    alive, radius, g, key, trial. The draws come from ``default_rng(seed)`` in a fixed order."""
    rng = np.random.default_rng(seed)
    world = make_world(name, size=9, n_distractors=6)
    lay = world.sample(rng, "control", 6)
    genomes = genomes_for(rng, 40, planner_share=1.0)
    states = []
    for trial in range(trials):
        li = trial % len(lay)
        free = np.argwhere(lay.walls[li] == 0)
        y, x = (int(v) for v in free[rng.integers(len(free))])
        prev, inv, step = int(rng.integers(-1, 4)), int(rng.integers(0, 3)), int(rng.integers(0, 50))
        alive = (lay.obj_kind[li] >= 0) & (rng.random(lay.obj_kind.shape[1]) < 0.8)
        radius = world.radius if trial % 3 else rng.integers(0, 7, 4)
        states.append(dict(li=li, y=y, x=x, prev=prev, inv=inv, step=step, alive=alive, radius=radius,
                           g=genomes[trial % len(genomes)], key=np.uint64(naive.episode_key(7, 1, 0, trial, 0)),
                           trial=trial))
    return world, lay, states


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_decisions_equal_twin_at_random_states(name):
    """planner_action, heuristic_action and _explore at random cells, headings, inventories (0-2)
    and alive masks, so states rollouts rarely reach (keys held beside chests, many objects
    eaten) are covered; radii random in 0..6 per channel."""
    world, lay, states = _random_states(name, sum(map(ord, name)))
    feats = world.table.features.astype(np.float64)
    nf = len(world.features)
    n_plans = 0
    for st_ in states:
        li, y, x, prev, inv, step = st_["li"], st_["y"], st_["x"], st_["prev"], st_["inv"], st_["step"]
        alive, radius, g, key, trial = st_["alive"], st_["radius"], st_["g"], st_["key"], st_["trial"]
        for md in (1, 2, 3):
            got = planner_plan(g, lay.walls[li], y, x, prev, inv, lay.obj_pos[li], lay.obj_kind[li], alive,
                               lay.dist[li], feats, world.table.interaction, radius, nf, md, key, step)[:2]
            want = naive.planner_action(g, lay.walls[li], y, x, prev, inv, lay.obj_pos[li], lay.obj_kind[li], alive,
                                        lay.dist[li], feats, world.table.interaction, radius, nf, md, int(key), step)
            assert tuple(got) == want, (trial, md)
            n_plans += want[1]
        for sig in SIGNALS:
            got = heuristic_action(g, lay.walls[li], y, x, prev, inv, lay.obj_pos[li], lay.obj_kind[li], alive,
                                   lay.dist[li], feats, radius, nf, key, step, heuristic_signal=sig)
            assert got == naive.heuristic_action(g, lay.walls[li], y, x, prev, inv, lay.obj_pos[li], lay.obj_kind[li],
                                                 alive, lay.dist[li], feats, radius, nf, int(key), step, sig), (trial, sig)
            want_sig = naive.signals(naive._ints(lay.walls[li]), y, x, naive._ints(lay.obj_pos[li]),
                                     naive._ints(lay.obj_kind[li]), list(alive), naive._ints(lay.dist[li]),
                                     naive._floats(feats), naive._ints(radius), nf, sig)
            got_sig = np.zeros((MAX_FEATURES, 4))
            _signals_into(got_sig, lay.walls[li], y, x, lay.obj_pos[li], lay.obj_kind[li], alive, lay.dist[li], feats,
                          np.asarray(radius, dtype=np.int64), nf, SIGNALS.index(sig))
            assert got_sig[:nf].tolist() == want_sig, (trial, sig)
        for md in (1, 2, 3):
            a, p, scored = _planner_action(g, lay.walls[li], y, x, prev, inv, lay.obj_pos[li], lay.obj_kind[li], alive,
                                           lay.dist[li], feats, world.table.interaction, np.asarray(radius, np.int64),
                                           nf, md, key, step, np.full(MAX_DEPTH, -1, np.int64), 1)
            assert scored == naive.objects_scored(y, x, naive._ints(lay.obj_pos[li]), naive._ints(lay.obj_kind[li]),
                                                  list(alive), naive._ints(lay.dist[li]), naive._ints(radius), nf)
        # depth 0 (organisms.min_depth = 0): the reactive planner, move and objects scored
        g0 = np.array(g)
        g0[P_DEPTH] = -0.7
        got = planner_plan(g0, lay.walls[li], y, x, prev, inv, lay.obj_pos[li], lay.obj_kind[li], alive, lay.dist[li],
                           feats, world.table.interaction, radius, nf, 3, key, step, min_depth=0)
        want = naive.planner_action(g0, lay.walls[li], y, x, prev, inv, lay.obj_pos[li], lay.obj_kind[li], alive,
                                    lay.dist[li], feats, world.table.interaction, radius, nf, 3, int(key), step, 0)
        assert tuple(got[:2]) == want and (got[2] == -1).all(), trial
        a0, p0, scored0 = _planner_action(g0, lay.walls[li], y, x, prev, inv, lay.obj_pos[li], lay.obj_kind[li], alive,
                                          lay.dist[li], feats, world.table.interaction, np.asarray(radius, np.int64),
                                          nf, 3, key, step, np.full(MAX_DEPTH, -1, np.int64), 0)
        assert (a0, p0, scored0) == (want[0], 0, naive.reactive_action(
            g0, lay.walls[li], y, x, prev, lay.obj_pos[li], lay.obj_kind[li], alive, lay.dist[li], feats, radius, nf,
            int(key), step)[1]), trial
        want = naive.explore(lay.walls[li], y, x, prev, int(key), step)
        assert _explore(lay.walls[li], y, x, prev, key, step) == want
    assert n_plans > 1000  # the search was actually exercised


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_planner_plan_equals_twin_at_random_states(name):
    """The ``plan`` planner_action fills equals naive.planner_plan (object indices in visiting order,
    padded with -1) at random cells, headings, inventories, alive masks and radii, max_depth 1-3;
    whenever a plan is reported, the action is a move that strictly shortens the BFS distance to
    its first object."""
    world, lay, states = _random_states(name, [sum(map(ord, name)), 5])
    feats = world.table.features.astype(np.float64)
    nf = len(world.features)
    lengths = [0] * (MAX_DEPTH + 1)
    for st_ in states:
        li, y, x, prev, inv, step = st_["li"], st_["y"], st_["x"], st_["prev"], st_["inv"], st_["step"]
        alive, radius, g, key, trial = st_["alive"], st_["radius"], st_["g"], st_["key"], st_["trial"]
        dist = lay.dist[li]
        for md in (1, 2, 3):
            a, _, plan = planner_plan(g, lay.walls[li], y, x, prev, inv, lay.obj_pos[li], lay.obj_kind[li], alive,
                                      dist, feats, world.table.interaction, radius, nf, md, key, step)
            want = naive.planner_plan(g, lay.walls[li], y, x, prev, inv, lay.obj_pos[li], lay.obj_kind[li], alive,
                                      dist, feats, world.table.interaction, radius, nf, md, int(key), step)
            assert len(want) <= md
            assert plan.tolist() == want + [-1] * (MAX_DEPTH - len(want)), (trial, md)
            lengths[len(want)] += 1
            if want:
                o = want[0]
                dy, dx = naive.MOVES[a]
                h, w = lay.walls[li].shape
                assert 0 <= y + dy < h and 0 <= x + dx < w and lay.walls[li][y + dy, x + dx] == 0, (trial, md)
                assert dist[o, y + dy, x + dx] < dist[o, y, x], (trial, md)
                assert all(alive[q] for q in want) and len(set(want)) == len(want)
    # plans of every length the world allows were reported (red_door: every object ends the episode)
    assert lengths[0] > 0 and lengths[1] > 50
    if name != "red_door":
        assert lengths[2] > 50 and lengths[3] > 20, lengths


def test_planner_plan_near_then_far():
    """Open room, two fruit (listed far first, so object indices differ from candidate slots), the
    planner two cells from the near one: it plans [near, far] at depth 2 and 3 ([far, near] is worth
    less, every arrival being later), [near] at depth 1, and steps towards near; with no utility it
    has no plan (all -1) and explores."""
    world = make_world("ancestral_modern")
    far, near = 0, 1
    lay = hand_layout(OPEN, (2, 2), [(5, 5, 0), (1, 1, 0)])
    g = np.zeros(N_GENES, np.float32)
    g[ARCH], g[P_UTILITY.start] = 1.0, 1.0
    args = (lay.walls[0], 2, 2, -1, 0, lay.obj_pos[0], lay.obj_kind[0], np.ones(2, bool), lay.dist[0],
            world.table.features.astype(np.float64), world.table.interaction, np.array([20, 20, 0, 0]), 2, 3)
    for depth, want in ((1, [near, -1, -1]), (2, [near, far, -1]), (3, [near, far, -1])):
        g[P_DEPTH] = depth
        for k in range(5):
            a, _, plan = planner_plan(g, *args, np.uint64(k), 0)
            assert plan.tolist() == want, (depth, k)
            assert a in (0, 3), (depth, k)  # north or west: towards (1, 1)
            assert naive.planner_plan(g, *args, k, 0) == [v for v in want if v >= 0]
    g[P_UTILITY.start] = 0.0
    g[P_DEPTH] = 2
    _, _, plan = planner_plan(g, *args, np.uint64(0), 0)
    assert plan.tolist() == [-1, -1, -1]
    assert naive.planner_plan(g, *args, 0, 0) == []


def test_plan_count_matches_ordered_visits():
    """Open room, every object in view and reachable, none ends the episode: depth d evaluates
    n + n(n-1) + ... ordered visits (n <= MAX_PERCEIVED); with 10 objects only the nearest 8 count."""
    world = make_world("ancestral_modern")
    walls = ["#" * 9] + ["#" + "." * 7 + "#"] * 7 + ["#" * 9]
    cells = [(1, 1), (1, 7), (7, 1), (7, 7), (4, 1), (1, 4), (7, 4), (4, 7), (2, 2), (6, 6)]
    g = np.zeros(N_GENES, np.float32)
    g[ARCH] = 1.0
    g[P_UTILITY.start] = 1.0
    for n in (1, 2, 5, 10):
        lay = hand_layout(walls, (4, 4), [(y, x, 0) for y, x in cells[:n]], m=10)
        k = min(n, MAX_PERCEIVED)
        for depth in (1, 2, 3):
            g[P_DEPTH] = depth
            want = sum(math.perm(k, r) for r in range(1, depth + 1))
            args = (lay.walls[0], 4, 4, -1, 0, lay.obj_pos[0], lay.obj_kind[0], lay.obj_kind[0] >= 0, lay.dist[0],
                    world.table.features, world.table.interaction, np.array([20, 20, 0, 0]), 2, 3, 1, 0)
            assert naive.planner_action(g, *args)[1] == want, (n, depth)
            assert planner_plan(g, *args)[1] == want, (n, depth)


# -- whole rollouts --------------------------------------------------------------------------------
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("name", sorted(WORLDS))
def test_rollout_equals_twin(name, distribution):
    """Random layouts (up to 16 objects, more than MAX_PERCEIVED), genomes of both architectures with
    depths 1-3, max_depth 1-3, two seeds, the world's radii and a shrunken radius set, both heuristic
    signals; every per-episode record (work included) identical. record=False gives the same records
    without a trace."""
    rng = np.random.default_rng([sum(map(ord, name)), DISTRIBUTIONS.index(distribution)])
    for size, nd, max_steps, max_depth in ((9, 2, 30, 3), (11, 4, 40, 2), (13, 8, 50, 3), (7, 1, 20, 1)):
        world = make_world(name, size=size, n_distractors=nd, wall_density=0.2)
        lay = world.sample(rng, distribution, 4)
        g = genomes_for(rng, 12)
        ep = np.array([0, 1, 2, 3, 1])
        for seed, sig in ((1, "path"), (2, "compass")):
            assert_same(*run_both(world, lay, g, max_steps, seed=seed, max_depth=max_depth, episode_layout=ep,
                                  signal=sig))
        for sig in SIGNALS:
            k, t = run_both(world, lay, g, max_steps, radius=[3, 1, 0, 0], signal=sig)
            assert_same(k, t)
    assert (k.plans[g[:, ARCH] <= 0] == 0).all() and (k.work[g[:, ARCH] <= 0] == 0).all()
    assert (k.work >= k.plans).all() and (k.work[g[:, ARCH] > 0].sum() > k.plans.sum())
    quiet = rollout(g, lay, np.arange(4), 11, 1, 3, np.arange(100, 112),
                    EpisodeSpec(world.table, np.array([3, 1, 0, 0]), len(world.features), 3, max_steps, "compass"))
    assert quiet.trace is None and np.array_equal(quiet.ret, k.ret) and np.array_equal(quiet.reach, k.reach)


@HYP
@given(data=st.data(), name=st.sampled_from(sorted(WORLDS)), size=st.integers(4, 8), n_obj=st.integers(0, 7),
       max_steps=st.integers(1, 25), density=st.floats(0.0, 0.5))
def test_rollout_equals_twin_on_arbitrary_layouts(data, name, size, n_obj, max_steps, density):
    """Layouts no world generates: any kinds mixed, objects anywhere free (next to the start,
    cut off by walls), random radii 0..5, any genome."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    world = make_world(name)
    walls = (rng.random((size, size)) < density).astype(np.uint8)
    free = [tuple(c) for c in np.argwhere(walls == 0)]
    if len(free) < 1:
        walls[0, 0] = 0
        free = [(0, 0)]
    order = rng.permutation(len(free))
    start = free[order[0]]
    objs = [(*free[j], int(rng.integers(len(world.kinds)))) for j in order[1:1 + n_obj]]
    lay = hand_layout(["".join("#" if v else "." for v in row) for row in walls], start, objs, m=8)
    g = genomes_for(rng, 6, spread=3.0)
    radius, seed = rng.integers(0, 6, 4), int(rng.integers(100))
    for sig in SIGNALS:
        assert_same(*run_both(world, lay, g, max_steps, radius=radius, seed=seed, signal=sig))


# -- edge cases ------------------------------------------------------------------------------------
def _both_arches(rng, n=8, utility=None):
    g = genomes_for(rng, n)
    g[: n // 2, ARCH] = -0.5
    g[n // 2:, ARCH] = 0.5
    if utility is not None:
        g[n // 2:, P_UTILITY] = np.asarray(utility, dtype=np.float32)
    return g


OPEN = ["#######",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#.....#",
        "#######"]


def test_no_object_visible_radius_zero():
    """Radius 0 on every channel: planners perceive nothing (0 plans, pure exploration) and heuristics
    feel no signal; both still move and may stumble on the door."""
    world = make_world("red_door")
    lay = hand_layout(OPEN, (3, 3), [(1, 1, 0), (5, 5, 3)])
    g = _both_arches(np.random.default_rng(1), utility=[1, 1, 1, 0])
    k, t = run_both(world, lay, g, 30, radius=[0, 0, 0, 0])
    assert_same(k, t)
    assert (k.plans == 0).all() and (k.steps > 0).all()


def test_unreachable_objects_walled_off():
    """A red door sealed in a walled pocket is never perceived by planners and never reached; the
    reachable green ball is the only plan a planner evaluates at each step."""
    world = make_world("red_door")
    walls = ["#######",
             "#...#.#",
             "#...###",
             "#.....#",
             "#.....#",
             "#.....#",
             "#######"]
    lay = hand_layout(walls, (4, 3), [(1, 5, 0), (5, 1, 3)])
    assert lay.dist[0, 0, 4, 3] == UNREACHABLE
    g = _both_arches(np.random.default_rng(2), utility=[1, 0, 1, 0])  # planners value red and doors only
    k, t = run_both(world, lay, g, 20)
    assert_same(k, t)
    assert (k.reach[:, :, 0] == -1).all()
    assert np.array_equal(k.plans[4:], k.steps[4:]) and (k.plans[:4] == 0).all()


def test_depth_larger_than_number_of_objects():
    """Depth 3 with one or two objects: only the existing ordered visits are evaluated."""
    world = make_world("ancestral_modern")
    for objs in ([(1, 1, 0)], [(1, 1, 0), (5, 5, 0)]):
        lay = hand_layout(OPEN, (3, 3), objs)
        g = _both_arches(np.random.default_rng(3), utility=[1, 1, 0, 0])
        g[:, P_DEPTH] = 3.0
        k, t = run_both(world, lay, g, 30)
        assert_same(k, t)
        planners = k.plans[4:]
        assert (planners <= k.steps[4:] * len(objs) ** 2).all() and planners.sum() > 0


def test_empty_inventory_with_chests_only():
    """Chests and no key anywhere: no reward is obtainable, so the episode ends before the first step;
    with a key on the grid it runs, and a chest passed without a key stays closed."""
    world = make_world("keys_chests")
    key, chest = world.kind_index("key"), world.kind_index("chest")
    g = _both_arches(np.random.default_rng(4), utility=[1, 1, 0, 0])
    lay = hand_layout(OPEN, (3, 3), [(1, 1, chest), (5, 5, chest)])
    k, t = run_both(world, lay, g, 30)
    assert_same(k, t)
    assert (k.steps == 0).all() and (k.ret == 0).all() and (k.trace[:, :, 1:] == -1).all()
    lay = hand_layout(OPEN, (3, 3), [(3, 4, chest), (1, 5, key), (5, 1, chest)])
    k, t = run_both(world, lay, g, 40)
    assert_same(k, t)
    # planners valuing chests and keys: key first (the adjacent chest is worth nothing keyless), then a chest
    # (the key's energy cost is paid once: return = chest reward + key reward)
    got = world.table.reward[chest] + world.table.reward[key]
    assert (k.reach[4:, 0, 1] > 0).all() and (k.ret[4:, 0] >= got - 1e-9).all()


def test_zero_objects():
    """An empty layout: nothing obtainable, zero steps, zero plans, the trace holds only the start."""
    world = make_world("red_door")
    lay = hand_layout(OPEN, (2, 2), [], m=3)
    k, t = run_both(world, lay, _both_arches(np.random.default_rng(5)), 10)
    assert_same(k, t)
    assert (k.steps == 0).all() and (k.plans == 0).all() and (k.trace[:, :, 0] == 2 * 7 + 2).all()


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_max_steps_one(name):
    """max_steps = 1: exactly one decision per episode (nothing lies next to the start)."""
    rng = np.random.default_rng(6)
    world = make_world(name)
    lay = world.sample(rng, "train", 3)
    k, t = run_both(world, lay, _both_arches(rng), 1)
    assert_same(k, t)
    assert (k.steps == 1).all() and (k.trace[:, :, 1] >= 0).all()


# -- determinism -----------------------------------------------------------------------------------
def test_organism_ids_not_rows_decide_randomness():
    """Permuting genome rows together with their organism ids permutes the records: an episode's
    randomness depends on (seed, stream, generation, organism id, episode) only."""
    rng = np.random.default_rng(8)
    world = make_world("keys_chests")
    lay = world.sample(rng, "control", 3)
    g = genomes_for(rng, 10)
    ids = np.arange(50, 60)
    perm = rng.permutation(10)
    a, _ = run_both(world, lay, g, 30, organism_ids=ids)
    b = rollout(g[perm], lay, np.arange(3), 11, 1, 3, ids[perm], EpisodeSpec(world.table, world.radius, 2, 3, 30),
                record=True)
    for f in FIELDS:
        assert np.array_equal(getattr(a, f)[perm], getattr(b, f))


def test_different_seed_gives_different_traces():
    """Same layouts and genomes, another seed: heuristic (noisy) traces must differ somewhere."""
    rng = np.random.default_rng(9)
    world = make_world("red_door")
    lay = world.sample(rng, "train", 4)
    g = genomes_for(rng, 10, planner_share=0.0)
    spec = EpisodeSpec(world.table, world.radius, 3, 3, 40)
    a = rollout(g, lay, np.arange(4), 1, 1, 0, np.arange(10), spec, record=True)
    b = rollout(g, lay, np.arange(4), 2, 1, 0, np.arange(10), spec, record=True)
    c = rollout(g, lay, np.arange(4), 1, 1, 0, np.arange(10), spec, record=True)
    assert not np.array_equal(a.trace, b.trace)
    assert np.array_equal(a.trace, c.trace) and np.array_equal(a.ret, c.ret)


THREAD_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from evosim.config import WorldConfig
    from evosim.genome import random_population
    from evosim.kernels import EpisodeSpec, rollout
    from evosim.worlds import WORLDS
    out = []
    for name in sorted(WORLDS):
        world = WORLDS[name](WorldConfig(name=name))
        rng = np.random.default_rng(42)
        lay = world.sample(rng, "train", 4)
        g = random_population(rng, 48, 0.5)
        r = rollout(g, lay, np.arange(4), 9, 1, 2, np.arange(48),
                    EpisodeSpec(world.table, world.radius, len(world.features), 3, 40), record=True)
        out += [r.ret.ravel(), r.proxy.ravel(), r.steps.ravel(), r.plans.ravel(), r.work.ravel(), r.reach.ravel(),
                r.trace.ravel()]
    np.save(sys.argv[1], np.concatenate([np.asarray(v, dtype=np.float64) for v in out]))
""")


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="NUMBA_DISABLE_JIT=1: prange runs as range in one thread, "
                    "so NUMBA_NUM_THREADS changes nothing and the comparison is vacuous")
def test_identical_at_one_and_two_threads(tmp_path):
    """Rollouts in fresh processes with NUMBA_NUM_THREADS=1 and 2 give byte-identical records."""
    script = tmp_path / "roll.py"
    script.write_text(THREAD_SCRIPT)
    arrays = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.npy"
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
        subprocess.run([sys.executable, str(script), str(out)], check=True, env=env, timeout=300)
        arrays.append(np.load(out, allow_pickle=False))
    assert arrays[0].size > 1000
    assert arrays[0].tobytes() == arrays[1].tobytes()


def test_planner_on_a_closed_chest_heads_for_the_key():
    """Standing on a chest it cannot open (no key), with a key two cells east and a second chest
    beyond it, a planner of any depth steps east, whatever the noise key. (Before plans were barred
    from starting on the planner's own cell, depth 3 preferred [this chest, key, chest] and explored.)"""
    world = make_world("keys_chests")
    key, chest = world.kind_index("key"), world.kind_index("chest")
    lay = hand_layout(OPEN, (3, 3), [(3, 3, chest), (3, 5, key), (1, 5, chest)])
    g = np.zeros(N_GENES, np.float32)
    g[ARCH], g[P_UTILITY.start], g[P_UTILITY.start + 1] = 1.0, 1.0, 1.0
    for depth in (1, 2, 3):
        g[P_DEPTH] = depth
        for k in range(20):
            a, _, _ = planner_plan(g, lay.walls[0], 3, 3, -1, 0, lay.obj_pos[0], lay.obj_kind[0], np.ones(3, bool),
                                   lay.dist[0], world.table.features.astype(np.float64), world.table.interaction,
                                   world.radius, 2, 3, np.uint64(k), 0)
            assert a == 1, (depth, k)


def test_twin_genome_layout_matches_genome_module():
    """The twin hard-codes the genome layout; it must be the one evosim.genome defines."""
    from evosim import genome as G

    assert (naive.G_ARCH, naive.G_ATTRACT, naive.G_ATTRACT_KEY, naive.G_WALL, naive.G_MOMENTUM, naive.G_BACK,
            naive.G_LOGTEMP, naive.G_UTILITY, naive.G_DEPTH, naive.G_DISCOUNT, naive.N_GENES) == (
        G.ARCH, G.H_ATTRACT.start, G.H_ATTRACT_KEY.start, G.H_WALL, G.H_MOMENTUM, G.H_BACK, G.H_LOGTEMP,
        G.P_UTILITY.start, G.P_DEPTH, G.P_DISCOUNT, G.N_GENES)
    from evosim.kernels.planner import EXPLORE_KEEP

    assert (naive.MAX_PERCEIVED, naive.EXPLORE_KEEP, naive.UNREACHABLE) == (MAX_PERCEIVED, EXPLORE_KEEP, UNREACHABLE)


# -- the loop-based search at every depth ----------------------------------------------------------
@pytest.mark.parametrize("name", sorted(WORLDS))
def test_planner_search_equals_twin_per_depth(name):
    """The iterative search (``rollout._search``) at random states with the genome's own depth 1, 2
    and 3 (max_depth 3, so the depth gene decides): same move, plan count and plan as the twin's
    explicit enumeration, and the count is never above the number of ordered visits."""
    world, lay, states = _random_states(name, [sum(map(ord, name)), 17], trials=150)
    feats = world.table.features.astype(np.float64)
    nf = len(world.features)
    for st_ in states:
        li = st_["li"]
        g = st_["g"].copy()
        args = (lay.walls[li], st_["y"], st_["x"], st_["prev"], st_["inv"], lay.obj_pos[li], lay.obj_kind[li],
                st_["alive"], lay.dist[li], feats, world.table.interaction, st_["radius"], nf, MAX_DEPTH)
        for depth in (1, 2, 3):
            g[P_DEPTH] = depth
            a, p, plan = planner_plan(g, *args, st_["key"], st_["step"])
            want = naive.planner_action(g, *args, int(st_["key"]), st_["step"])
            want_plan = naive.planner_plan(g, *args, int(st_["key"]), st_["step"])
            assert (a, p) == want, (st_["trial"], depth)
            assert plan.tolist() == want_plan + [-1] * (MAX_DEPTH - len(want_plan)), (st_["trial"], depth)
            assert p <= sum(math.perm(MAX_PERCEIVED, r) for r in range(1, depth + 1))


# -- public wrappers reject bad input --------------------------------------------------------------
def _decision_args():
    world = make_world("keys_chests")
    lay = hand_layout(OPEN, (3, 3), [(3, 5, world.kind_index("key")), (1, 5, world.kind_index("chest"))])
    g = np.zeros(N_GENES, np.float32)
    g[ARCH] = 1.0
    return dict(genome=g, walls=lay.walls[0], y=3, x=3, prev=-1, inv=0, obj_pos=lay.obj_pos[0],
                obj_kind=lay.obj_kind[0], alive=lay.obj_kind[0] >= 0, dist=lay.dist[0],
                kind_feat=world.table.features.astype(np.float64), kind_inter=world.table.interaction,
                radius=world.radius, n_feat=2, max_depth=3, key=np.uint64(1), step=0)


def _heuristic_args():
    d = _decision_args()
    for k in ("kind_inter", "max_depth"):
        d.pop(k)
    return d


@pytest.mark.parametrize("fn", ["planner_plan", "planner_action", "heuristic_action"])
@pytest.mark.parametrize("field, bad, match", [
    ("genome", np.zeros(3, np.float32), "genome"),
    ("genome", np.full(N_GENES, np.nan, np.float32), "NaN"),
    ("walls", np.zeros(5, np.uint8), "walls"),
    ("y", 99, "y"),
    ("x", -1, "x"),
    ("prev", 4, "prev"),
    ("inv", -1, "inv"),
    ("obj_pos", np.zeros((5, 2), np.int64), "obj_pos"),
    ("alive", np.ones(7, bool), "alive"),
    ("n_feat", 0, "n_feat"),
    ("radius", np.array([1]), "radius"),
    ("step", -3, "step"),
    ("key", 1.5, "key"),
    ("max_depth", 4, "max_depth"),
    ("dist", np.zeros((2, 3, 3), np.int16), "dist"),
    ("kind_inter", np.array([0, 9, 0, 0, 0][:1]), "kind_inter"),
    ("heuristic_signal", "gradient", "heuristic_signal = 'gradient': expected one of 'path', 'compass'"),
])
def test_decision_wrappers_reject_bad_input(fn, field, bad, match):
    import evosim.kernels as K

    args = _decision_args() if fn != "heuristic_action" else _heuristic_args()
    if field == "heuristic_signal" and fn == "heuristic_action":
        args[field] = "compass"
    if field not in args:
        pytest.skip(f"{fn} has no {field}")
    getattr(K, fn)(**args)  # the good arguments pass
    args[field] = bad
    with pytest.raises(ValueError, match=match):
        getattr(K, fn)(**args)


def test_episode_keys_equal_the_rollout_keys_and_reject_bad_input():
    keys = episode_keys(7, 3, 1, [0, 5], np.arange(3))
    assert keys.dtype == np.uint64 and keys.shape == (2, 3)
    assert [[int(k) for k in row] for row in keys] == [[naive.episode_key(7, 3, 1, o, e) for e in range(3)] for o in (0, 5)]
    assert episode_keys(2**64 - 1, 0, 0, 1, 1)[0, 0] == np.uint64(naive.episode_key(2**64 - 1, 0, 0, 1, 1))
    for bad, match in (((-1, 1, 0, [0], [0]), "seed"), ((1, 1, 0, [-2], [0]), "non-negative"),
                       ((1, 1.5, 0, [0], [0]), "stream"), ((1, 1, 0, [[0]], [0]), "organisms")):
        with pytest.raises(ValueError, match=match):
            episode_keys(*bad)


def test_oracle_values_rejects_bad_input():
    from evosim.kernels import oracle_values

    world = make_world("keys_chests")
    lay = hand_layout(OPEN, (3, 3), [(3, 5, world.kind_index("key")), (1, 5, world.kind_index("chest"))])
    t = world.table
    good = dict(walls=lay.walls, start=lay.start, obj_pos=lay.obj_pos, obj_kind=lay.obj_kind, kind_value=t.reward,
                kind_reward=t.reward, kind_inter=t.interaction, max_steps=30, capacity=0)
    assert oracle_values(**good).shape == (1,)
    for field, bad, match in (("walls", lay.walls[0], "walls"), ("start", np.array([[99, 0]]), "start"),
                              ("kind_value", np.ones(1), "one value per kind"), ("max_steps", -1, "max_steps"),
                              ("obj_kind", np.full((1, 20), 0), "obj_pos"),
                              ("obj_kind", np.array([[0, 99] + [-1] * (lay.obj_kind.shape[1] - 2)]), "kind index"),
                              ("kind_inter", np.full(len(t.reward), 7), "Interaction"),
                              ("capacity", -2, "capacity")):
        with pytest.raises(ValueError, match=match):
            oracle_values(**dict(good, **{field: bad}))
    many = np.zeros((1, 17), np.int64)
    with pytest.raises(ValueError, match="at most 16"):
        oracle_values(**dict(good, obj_kind=many, obj_pos=np.zeros((1, 17, 2), np.int64)))


def test_choice_events_and_fit_choices_reject_bad_input():
    from evosim.kernels import choice_events, fit_choices

    world = make_world("ancestral_modern")
    lay = hand_layout(OPEN, (2, 2), [(5, 5, 0), (1, 1, 0)])
    g = np.zeros((1, N_GENES), np.float32)
    g[0, ARCH], g[0, P_UTILITY.start], g[0, P_DEPTH] = 1.0, 1.0, 1
    rec = rollout(g, lay, np.zeros(2, np.int64), 1, 1, 0, [0], EpisodeSpec(world.table, world.radius, 2, 3, 20),
                  record=True)
    good = dict(trace=rec.trace, reach=rec.reach, episode_layout=np.zeros(2, np.int64), obj_pos=lay.obj_pos,
                obj_kind=lay.obj_kind, dist=lay.dist, kind_feat=world.table.features, radius=world.radius, n_feat=2)
    ev = choice_events(**good)
    assert ev.counts.shape == (1, 2) and len(ev.nopt) == ev.counts.sum() > 0
    assert ev.feat.shape == (len(ev.nopt), MAX_PERCEIVED, 2)
    for field, bad, match in (("trace", rec.trace[0], "trace"), ("reach", rec.reach[:, :1], "reach"),
                              ("episode_layout", np.array([0, 3]), "episode_layout"),
                              ("dist", lay.dist.astype(np.float32), "dist"), ("n_feat", 9, "n_feat"),
                              ("trace", np.full_like(rec.trace, 10**6), "cell indices")):
        with pytest.raises(ValueError, match=match):
            choice_events(**dict(good, **{field: bad}))
    n = len(ev.nopt)
    fit = dict(feat=ev.feat, dist=ev.dist, nopt=ev.nopt, chosen=ev.chosen, org_start=np.array([0, n]),
               gammas=[0.9], ridge=0.5)
    w, gam, obj = fit_choices(**fit)
    assert w.shape == (1, 2) and gam[0] == 0.9 and np.isfinite(obj[0])
    for field, bad, match in (("org_start", np.array([0, n + 1]), "org_start"), ("gammas", [], "gammas"),
                              ("gammas", [1.5], "gammas"), ("ridge", 0.0, "ridge"),
                              ("chosen", np.full(n, 99), "chosen"), ("dist", ev.dist[:, :2], "dist"),
                              ("feat", np.full_like(ev.feat, np.nan), "NaN")):
        with pytest.raises(ValueError, match=match):
            fit_choices(**dict(fit, **{field: bad}))


def test_kernel_constants_come_from_constants_py():
    """One definition of each kernel constant: the kernel modules hold the very objects of constants.py."""
    import importlib

    from evosim import constants as C

    bfs, probe_kernels, E, H, P, R, N = (importlib.import_module(f"evosim.kernels.{m}") for m in (
        "bfs", "probe_kernels", "episode", "heuristic", "planner", "rollout", "network"))

    assert N.DY is C.DY and N.OPPOSITE is C.OPPOSITE and N.NC == C.NET_MAX_CHANNELS and N.NX == C.NET_INPUTS
    assert E.DY is C.DY and E.DX is C.DX and P.DY is C.DY and H.OPPOSITE is C.OPPOSITE and bfs.DY is C.DY
    assert E.MAX_PERCEIVED == P.MAX_PERCEIVED == probe_kernels.MAX_PERCEIVED == C.MAX_PERCEIVED
    assert (C.I_CONSUMED, C.I_ENDS, C.I_PICKED, C.I_OPENED) == tuple(int(i) for i in C.Interaction)
    assert E.I_OPENED is C.I_OPENED and P.I_OPENED is C.I_OPENED and probe_kernels.I_OPENED is C.I_OPENED
    assert (E.A_HEURISTIC, E.A_PLANNER, E.A_MEMORISER, E.A_NETWORK) == tuple(int(a) for a in C.Arch)
    assert C.PROBE_PURPOSE == {"train": 0, "shift": 1, "control": 2, "decision": 3, "shift_balanced": 4, "random": 8,
                               "reference": 9, "proxy_reference": 10}
    for mod in (bfs, probe_kernels, E, H, P, R, N):
        for name in ("_DY", "_DX", "_OPP"):
            assert not hasattr(mod, name)


# -- what the heuristic senses ----------------------------------------------------------
CORRIDOR = ["#######",
            "#F....#",
            "#####.#",
            "#..S..#",
            "#######"]


def _corridor_heuristic():
    """A heuristic that follows its signal: strong attraction to fruit, walls repel, almost no noise."""
    from evosim.genome import H_ATTRACT, H_LOGTEMP, H_WALL

    g = np.zeros(N_GENES, np.float32)
    g[ARCH] = -1.0
    g[H_ATTRACT] = 10.0
    g[H_WALL] = -10.0
    g[H_LOGTEMP] = -5.0
    return g


def test_path_signal_follows_the_corridor_where_the_compass_leads_into_a_dead_end():
    """Fruit at (1, 1) behind a wall; the heuristic at (3, 3). The compass signal points north (a
    wall) and west (a dead-end pocket, (3, 1)); the path signal points east, the first step of the
    only way round (path distance 8). In "path" mode the heuristic walks the corridor and eats the
    fruit in 8 steps; in "compass" mode it goes west and shuttles in the pocket, whatever the key."""
    world = make_world("ancestral_modern")
    fruit = world.kind_index("fruit")
    lay = hand_layout(CORRIDOR, (3, 3), [(1, 1, fruit)])
    dist = lay.dist[0]
    assert dist[0, 3, 3] == 8 and dist[0, 3, 4] == 7 and dist[0, 3, 2] == 9
    feats = world.table.features.astype(np.float64)
    radius = np.array([8, 8, 0, 0])
    g = _corridor_heuristic()
    sig = {}
    for s in SIGNALS:
        sig[s] = naive.signals(naive._ints(lay.walls[0]), 3, 3, naive._ints(lay.obj_pos[0]),
                               naive._ints(lay.obj_kind[0]), [True], naive._ints(dist), naive._floats(feats),
                               naive._ints(radius), 2, s)
    assert sig["path"] == [[0.0, 1 / 8, 0.0, 0.0]] * 2  # east only: down the BFS gradient
    assert sig["compass"] == [[1 / 4, 0.0, 0.0, 1 / 4]] * 2  # north (a wall) and west (the pocket)
    for k in range(20):
        args = (g, lay.walls[0], 3, 3, -1, 0, lay.obj_pos[0], lay.obj_kind[0], np.ones(1, bool), dist, feats,
                radius, 2, np.uint64(k), 0)
        assert heuristic_action(*args, heuristic_signal="path") == 1, k  # east
        assert heuristic_action(*args, heuristic_signal="compass") == 3, k  # west, into the pocket
    genomes = np.repeat(g[None], 10, axis=0)
    for s in SIGNALS:
        k, t = run_both(world, lay, genomes, 30, radius=radius, episode_layout=np.zeros(3, np.int64), signal=s)
        assert_same(k, t)
        if s == "path":
            assert (k.reach[:, :, 0] == 8).all() and (k.ret == 1.0).all()
        else:
            assert (k.reach[:, :, 0] == -1).all() and (k.steps == 30).all()
            assert np.isin(k.trace[:, :, 1:], [3 * 7 + 1, 3 * 7 + 2]).all()  # it never leaves the pocket
    assert (k.work == 0).all()


def test_path_signal_ignores_unreachable_and_unseen_objects():
    """A sealed fruit adds nothing to the path signal (the compass still feels it); an object
    beyond the channel's Manhattan radius adds nothing in either mode, though its path is short."""
    world = make_world("ancestral_modern")
    fruit = world.kind_index("fruit")
    walls = ["#######",
             "#...#.#",
             "#...###",
             "#.....#",
             "#######"]
    lay = hand_layout(walls, (3, 3), [(1, 5, fruit), (3, 5, fruit)])
    feats = world.table.features.astype(np.float64)
    args = (naive._ints(lay.walls[0]), 3, 3, naive._ints(lay.obj_pos[0]), naive._ints(lay.obj_kind[0]),
            [True, True], naive._ints(lay.dist[0]), naive._floats(feats))
    assert naive.signals(*args, [4, 4], 2, "path") == [[0.0, 0.5, 0.0, 0.0]] * 2  # only the open fruit, east
    assert naive.signals(*args, [4, 4], 2, "compass") == [[0.25, 0.5 + 0.25, 0.0, 0.0]] * 2
    assert naive.signals(*args, [1, 1], 2, "path") == [[0.0, 0.0, 0.0, 0.0]] * 2
    for r in ([4, 4, 0, 0], [1, 1, 0, 0]):
        for i, s in enumerate(SIGNALS):
            got = np.zeros((MAX_FEATURES, 4))
            _signals_into(got, lay.walls[0], 3, 3, lay.obj_pos[0], lay.obj_kind[0], np.ones(2, bool), lay.dist[0],
                          feats, np.array(r), 2, i)
            assert got[:2].tolist() == naive.signals(*args, r, 2, s)


def test_work_counts_objects_scored_and_plans():
    """Open room, n fruit in view (none ends the episode): one depth-d decision scores n objects
    (the nearest MAX_PERCEIVED are kept, all n are scored) and evaluates sum_r perm(k, r) plans;
    a rollout's work is the sum over decisions. A heuristic does no search work."""
    world = make_world("ancestral_modern")
    walls = ["#" * 9] + ["#" + "." * 7 + "#"] * 7 + ["#" * 9]
    cells = [(1, 1), (1, 7), (7, 1), (7, 7), (4, 1), (1, 4), (7, 4), (4, 7), (2, 2), (6, 6)]
    g = np.zeros(N_GENES, np.float32)
    g[ARCH], g[P_UTILITY.start] = 1.0, 1.0
    for n in (1, 5, 10):
        lay = hand_layout(walls, (4, 4), [(y, x, 0) for y, x in cells[:n]], m=10)
        for depth in (1, 2):
            g[P_DEPTH] = depth
            k = min(n, MAX_PERCEIVED)
            a, p, scored = _planner_action(g, lay.walls[0], 4, 4, -1, 0, lay.obj_pos[0], lay.obj_kind[0],
                                           lay.obj_kind[0] >= 0, lay.dist[0], world.table.features,
                                           world.table.interaction, np.array([20, 20, 0, 0]), 2, 3, np.uint64(1), 0,
                                           np.full(MAX_DEPTH, -1, np.int64), 1)
            assert (p, scored) == (sum(math.perm(k, r) for r in range(1, depth + 1)), n)
            h = g.copy()
            h[ARCH] = -1.0
            kr, t = run_both(world, lay, np.stack([g, h]), 1, radius=[20, 20, 0, 0], episode_layout=np.zeros(1, np.int64))
            assert_same(kr, t)
            assert kr.work[0, 0] == p + n and kr.plans[0, 0] == p and kr.work[1, 0] == 0


def test_rollout_rejects_an_unknown_signal():
    world = make_world("red_door")
    lay = hand_layout(OPEN, (2, 2), [(1, 1, 0)])
    g = np.zeros((1, N_GENES), np.float32)
    with pytest.raises(ValueError, match="EpisodeSpec: heuristic_signal = 'smell': expected one of 'path', 'compass'"):
        EpisodeSpec(world.table, world.radius, 3, 3, 5, "smell")
    with pytest.raises(ValueError, match="heuristic_signal"):
        EpisodeSpec(world.table, world.radius, 3, 3, 5, 1)
    spec = EpisodeSpec(world.table, world.radius, 3, 3, 5)
    for bad, match in (({"n_features": 0}, "n_features must be in 1..4"), ({"max_depth": 4}, "max_depth must be in"),
                       ({"min_depth": 2}, "min_depth must be 0 or 1"), ({"radius": [3]}, "one radius per feature")):
        with pytest.raises(ValueError, match=match):
            spec.replace(**bad)
    with pytest.raises(TypeError, match="positional argument"):
        rollout(g, lay, np.zeros(1, np.int64), 1, 1, 0, [0], spec, 3)
