"""Worlds, driven by the registry: docstrings, layout validity, what each distribution holds, decision
layouts and seeding. Every test names the invariant it checks; a layout that breaks it fails the test."""
from __future__ import annotations

import re
from collections import Counter

from evosim.reference import naive
import numpy as np
import pytest

from evosim.config import WorldConfig
from evosim.constants import MAX_FEATURES, NO_KIND, UNREACHABLE, Interaction
from evosim.schema import DISTRIBUTIONS
from evosim.worlds import WORLDS

SECTIONS = ("Description", "Objects", "Observation", "Reward", "Termination", "Distributions")
SIZES = ((7, 0), (11, 3), (13, 8))  # (size, n_distractors): the fullest worlds put 16 objects on 13x13


def make_world(name, size=11, n_distractors=3, **kw):
    return WORLDS[name](WorldConfig(name=name, size=size, n_distractors=n_distractors, **kw))


def kinds_of(world, lay, i):
    return Counter(world.kinds[k].name for k in lay.obj_kind[i] if k != NO_KIND)


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_docstring_has_fixed_sections_in_order(name):
    """The class docstring has the sections Description ... Distributions, each as its own line, in
    order, each followed by indented text."""
    doc = WORLDS[name].__doc__
    lines = [ln.strip() for ln in doc.splitlines()]
    at = [lines.index(s) for s in SECTIONS]
    assert at == sorted(at)
    for i in at:
        assert lines[i + 1], f"section {lines[i]} is empty"


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_kind_table_matches_docstring(name):
    """Every kind named in the docstring's Objects section exists and vice versa; features live on
    declared channels; every channel has a radius; the true targets pay and the proxy targets do not."""
    cls = WORLDS[name]
    doc = cls.__doc__
    objects = doc.split("Objects")[1].split("Observation")[0]
    assert set(re.findall(r"``(\w+)``", objects)) == {k.name for k in cls.kinds}
    assert len(cls.features) <= MAX_FEATURES and set(cls.default_radius) == set(cls.features)
    table = cls.kind_table()
    for i, k in enumerate(cls.kinds):
        assert set(k.features) <= set(cls.features)
        assert table.reward[i] == np.float32(k.reward) and table.interaction[i] == int(k.interaction)
    by_name = {k.name: k for k in cls.kinds}
    assert all(by_name[t].reward > 0 for t in cls.true_target)
    assert all(by_name[p].reward <= 0 < by_name[p].proxy for p in cls.proxy_target)


@pytest.mark.parametrize("size,nd", SIZES)
@pytest.mark.parametrize("distribution", [d for d in DISTRIBUTIONS if d != "shift_balanced"])  # test_balanced.py
@pytest.mark.parametrize("name", sorted(WORLDS))
def test_sampled_layouts_are_valid(name, distribution, size, nd):
    """Border walls; start on a free cell; objects on distinct free cells reachable from the start,
    none on the start (nor next to it); as many objects as the distribution asks for, none dropped;
    padding slots hold NO_KIND; distance maps equal the naive BFS twin's."""
    world = make_world(name, size, nd, wall_density=0.25)
    rng = np.random.default_rng([7, size, DISTRIBUTIONS.index(distribution)])
    lay = world.sample(rng, distribution, 12)
    assert lay.walls.shape == (12, size, size) and lay.obj_kind.shape == (12, world.max_objects)
    assert np.array_equal(lay.dist, naive.distance_maps(lay.walls, lay.obj_pos, lay.obj_kind))
    for i in range(len(lay)):
        w = lay.walls[i]
        assert w[0].all() and w[-1].all() and w[:, 0].all() and w[:, -1].all()
        sy, sx = (int(v) for v in lay.start[i])
        assert w[sy, sx] == 0
        from_start = naive.bfs(w.tolist(), sy, sx)
        live = lay.obj_kind[i] != NO_KIND
        n_live = int(live.sum())
        assert (lay.obj_kind[i][n_live:] == NO_KIND).all() and live[:n_live].all()  # packed, then padding
        cells = [tuple(int(v) for v in p) for p in lay.obj_pos[i][live]]
        assert len(set(cells)) == n_live
        for y, x in cells:
            assert w[y, x] == 0 and from_start[y][x] < UNREACHABLE
            assert abs(y - sy) + abs(x - sx) >= 2
        assert (lay.dist[i][~live] == UNREACHABLE).all()
        # none dropped: every world asks for a fixed number of objects per distribution
        assert n_live == len(world._objects(np.random.default_rng(i), distribution)) <= world.max_objects


@pytest.mark.parametrize("size,nd", SIZES)
def test_red_door_distributions(size, nd):
    """train: one red door and only green balls; shift: one blue door and only red balls; control:
    both door colours and both ball colours occur across samples, so red is decorrelated from doors."""
    world = make_world("red_door", size, nd)
    rng = np.random.default_rng(1)
    for i in range(10):
        assert kinds_of(world, world.sample(rng, "train", 1), 0) == Counter({"red_door": 1, "green_ball": nd})
        assert kinds_of(world, world.sample(rng, "shift", 1), 0) == Counter({"blue_door": 1, "red_ball": nd})
    seen = Counter()
    lay = world.sample(rng, "control", 40)
    for i in range(40):
        c = kinds_of(world, lay, i)
        assert c["red_door"] + c["blue_door"] == 1 and c["red_ball"] + c["green_ball"] == nd
        seen.update(c)
    assert seen["red_door"] > 0 and seen["blue_door"] > 0
    if nd:
        assert seen["red_ball"] > 0 and seen["green_ball"] > 0
    # the proxy (red) pays exactly on red things; only doors carry reward; colour and shape equally visible
    t = world.table
    assert dict(zip(t.names, t.proxy)) == {"red_door": 1, "blue_door": 0, "red_ball": 1, "green_ball": 0}
    assert dict(zip(t.names, t.reward)) == {"red_door": 1, "blue_door": 1, "red_ball": 0, "green_ball": 0}
    assert world.radius[world.features.index("door")] == world.radius[world.features.index("red")]


@pytest.mark.parametrize("size,nd", SIZES)
def test_keys_chests_distributions(size, nd):
    """train: 1 + nd//2 keys (scarce), 2 + nd chests; shift: 2 + nd keys, 1 chest; control:
    2 + nd keys, 2 + nd//2 chests (keys plentiful in training too)."""
    world = make_world("keys_chests", size, nd)
    rng = np.random.default_rng(2)
    want = {"train": (1 + nd // 2, 2 + nd), "shift": (2 + nd, 1), "control": (2 + nd, 2 + nd // 2)}
    for dist, (keys, chests) in want.items():
        lay = world.sample(rng, dist, 5)
        for i in range(5):
            assert kinds_of(world, lay, i) == Counter({"key": keys, "chest": chests})
    assert want["train"][0] < want["train"][1] and want["shift"][0] > want["shift"][1]
    t = world.table
    assert t.interaction[world.kind_index("key")] == Interaction.PICKED_UP
    assert t.interaction[world.kind_index("chest")] == Interaction.OPENED_WITH_KEY


@pytest.mark.parametrize("size,nd", SIZES)
def test_ancestral_modern_distributions(size, nd):
    """ancestral (train): ripe and green fruit and bitter berries, no candy, and every sweet kind present is
    nutritious; modern (shift): one fruit, 2 + nd candies; control: candy in training. Candy is
    sweet and empty; fruit is sweet, ripe and nutritious."""
    world = make_world("ancestral_modern", size, nd)
    rng = np.random.default_rng(3)
    sweet = world.features.index("sweet")
    for dist in DISTRIBUTIONS:
        lay = world.sample(rng, dist, 6)
        for i in range(6):
            c = kinds_of(world, lay, i)
            if dist == "train":
                k = 2 + nd // 2
                assert c == Counter({"fruit": k - k // 2, "green_fruit": k // 2, "bitter_berry": nd})
                for k in lay.obj_kind[i][lay.obj_kind[i] != NO_KIND]:
                    if world.table.features[k, sweet] > 0:
                        assert world.table.reward[k] > 0
            elif dist == "shift":
                assert c == Counter({"fruit": 1, "candy": 2 + nd, "bitter_berry": nd // 2})
            elif dist == "control":
                assert c == Counter({"fruit": 2 + nd // 2, "candy": 2 + nd // 2, "bitter_berry": nd // 2})
    candy = world.kind_index("candy")
    assert world.table.features[candy, sweet] > 0 and world.table.reward[candy] == 0


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_decision_layouts_split_true_and_proxy_targets(name):
    """decision=True (shift): the first object is a true target and the second a proxy target; they
    lie strictly on opposite sides of the start along one axis, each at least max(2, size // 3)
    cells (Manhattan) from the start, and the layout is flagged as a decision layout."""
    world = make_world(name, 11, 3)
    rng = np.random.default_rng(4)
    lay = world.sample(rng, "shift", 15, decision=True)
    assert lay.decision.all()
    names = [k.name for k in world.kinds]
    far = max(2, world.size // 3)
    for i in range(len(lay)):
        t, p = lay.obj_pos[i, 0], lay.obj_pos[i, 1]
        assert names[lay.obj_kind[i, 0]] in world.true_target and names[lay.obj_kind[i, 1]] in world.proxy_target
        s = lay.start[i]
        assert ((t[0] - s[0]) * (p[0] - s[0]) < 0) or ((t[1] - s[1]) * (p[1] - s[1]) < 0)
        assert abs(t - s).sum() >= far and abs(p - s).sum() >= far


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("name", sorted(WORLDS))
def test_same_seed_same_layouts(name, distribution):
    """The same rng seed gives identical layouts (every array); another seed gives different ones."""
    world = make_world(name)
    a = world.sample(np.random.default_rng([5, 1]), distribution, 6)
    b = world.sample(np.random.default_rng([5, 1]), distribution, 6)
    c = world.sample(np.random.default_rng([5, 2]), distribution, 6)
    for f in ("walls", "start", "obj_pos", "obj_kind", "dist", "decision"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert not (np.array_equal(a.walls, c.walls) and np.array_equal(a.obj_pos, c.obj_pos))


def test_unknown_distribution_is_refused():
    """A distribution outside DISTRIBUTIONS is an error naming the allowed ones."""
    with pytest.raises(ValueError, match="allowed"):
        make_world("red_door").sample(np.random.default_rng(0), "modern", 1)


# today's hand-written padding widths (before ``n_objects_max`` was derived from ``composition``): the
# padded object arrays must keep exactly this width, since it fixes Parquet and array shapes
_WIDTH_BEFORE = {
    "red_door": lambda n: 1 + n,
    "keys_chests": lambda n: max(1 + n // 2 + 2 + n, 2 + n + 1, 2 + n + 2 + n // 2),
    "ancestral_modern": lambda n: max(2 + n // 2 + n, 1 + 2 + n + n // 2, 2 + n // 2 + 2 + n // 2 + n // 2),
}


@pytest.mark.parametrize("name", sorted(_WIDTH_BEFORE))
def test_padding_width_derived_from_composition_is_unchanged(name):
    """n_objects_max (derived from the per-distribution composition) equals the old hand-written width for
    n_distractors 0..8, stays within MAX_OBJECTS, and draws no random numbers; each distribution's
    ``_objects`` has exactly ``n_objects(distribution)`` kinds whatever the rng."""
    from evosim.constants import MAX_OBJECTS

    for nd in range(9):
        world = make_world(name, 13, nd)
        assert world.n_objects_max() == world.max_objects == _WIDTH_BEFORE[name](nd) <= MAX_OBJECTS, nd
        for d in DISTRIBUTIONS:
            for seed in range(5):
                assert len(world._objects(np.random.default_rng(seed), d)) == world.n_objects(d)


def test_every_world_declares_its_composition():
    """The registry's worlds all say what their layouts hold in ``composition`` (no hand-written widths)."""
    from evosim.worlds.base import World

    for cls in WORLDS.values():
        assert cls.composition is not World.composition
        assert cls.n_objects_max is World.n_objects_max


def test_red_door_control_draws_as_before():
    """The control distribution's random door and ball colours use the same draws as the old ``_objects``."""
    world = make_world("red_door", 11, 5)
    for seed in range(20):
        rng = np.random.default_rng(seed)
        door = "red_door" if rng.integers(2) else "blue_door"
        old = [door] + [("red_ball" if rng.integers(2) else "green_ball") for _ in range(5)]
        new_rng = np.random.default_rng(seed)
        assert world._objects(new_rng, "control") == old
        assert new_rng.random() == rng.random()  # and leave the layout stream where it was


def test_redesigned_kind_tables_and_radii():
    """Equal visibility: in training the true goal and the proxy are equally visible. red_door: colour and door
    shape share one default radius; ancestral_modern: candy is sweet but not fruity, fruit and green
    fruit are both, sweetness and fruitiness share one radius and ripe colour is nearer; keys_chests:
    a key's reward is negative (carrying it costs energy); no world exceeds MAX_FEATURES."""
    rd = make_world("red_door")
    assert rd.default_radius["red"] == rd.default_radius["green"] == rd.default_radius["door"]
    am = make_world("ancestral_modern")
    f = {n: am.features.index(n) for n in am.features}
    t = am.table.features
    candy, fruit, green = (am.kind_index(k) for k in ("candy", "fruit", "green_fruit"))
    assert t[candy, f["sweet"]] > 0 and t[candy, f["fruity"]] == 0
    for k in (fruit, green):
        assert t[k, f["sweet"]] > 0 and t[k, f["fruity"]] > 0 and am.table.reward[k] > 0
    assert t[green, f["ripe"]] == 0 and t[fruit, f["ripe"]] > 0
    assert am.default_radius["sweet"] == am.default_radius["fruity"] > am.default_radius["ripe"]
    kc = make_world("keys_chests")
    assert kc.table.reward[kc.kind_index("key")] < 0 < kc.table.reward[kc.kind_index("chest")]
    for name in WORLDS:
        assert len(WORLDS[name].features) <= MAX_FEATURES
