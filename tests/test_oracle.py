"""The oracle equals a brute-force search over the step dynamics (evosim/reference/naive_probe.py)."""
from __future__ import annotations

import numpy as np
import pytest

from evosim import worlds
from evosim.config import WorldConfig
from evosim.probe import best_value, oracle_returns
from evosim.worlds.base import Layouts
from evosim.reference.naive_probe import brute_oracle


def _world(name, **kw):
    return worlds.make(WorldConfig(name=name, **kw))


def _brute(lay, i, values, table, max_steps):
    return brute_oracle(lay.walls[i], lay.start[i], lay.obj_pos[i], lay.obj_kind[i], values, table.reward,
                        table.interaction, max_steps, table.capacity)


@pytest.mark.parametrize("name", ["red_door", "keys_chests", "ancestral_modern"])
@pytest.mark.parametrize("distribution", ["train", "shift", "control"])
def test_oracle_matches_brute_force(name, distribution):
    """Exact on random small layouts for both objectives; false if any DP value differs from brute force."""
    w = _world(name, size=7, wall_density=0.25, n_distractors=2, max_steps=12)
    rng = np.random.default_rng([11, len(name), len(distribution)])
    lay = w.sample(rng, distribution, 12)
    for max_steps in (3, 7, 12):
        true_best, proxy_best = oracle_returns(lay, w.table, max_steps)
        for i in range(len(lay)):
            assert true_best[i] == pytest.approx(_brute(lay, i, w.table.reward, w.table, max_steps))
            assert proxy_best[i] == pytest.approx(_brute(lay, i, w.table.proxy, w.table, max_steps))


def _layout(walls_rows, objects, start):
    """A single layout from ASCII walls ('#' wall) and [(row, col, kind)] objects."""
    walls = np.array([[c == "#" for c in row] for row in walls_rows], dtype=np.uint8)[None]
    m = max(1, len(objects))
    pos = np.zeros((1, m, 2), dtype=np.int64)
    kind = np.full((1, m), -1, dtype=np.int64)
    for j, (y, x, k) in enumerate(objects):
        pos[0, j] = (y, x)
        kind[0, j] = k
    from evosim.kernels import distance_maps
    lay = Layouts(walls, np.array([start], dtype=np.int64), pos, kind)
    lay.dist = distance_maps(lay.walls, lay.obj_pos, lay.obj_kind)
    return lay


CORRIDOR = ["#######", "#.....#", "#######"]


def test_episode_ending_object_in_the_way_blocks_the_door():
    """A red ball (ends the episode, reward 0) between start and door: the door is out of reach."""
    w = _world("red_door")
    rd, rb = w.kind_index("red_door"), w.kind_index("red_ball")
    lay = _layout(CORRIDOR, [(1, 5, rd), (1, 3, rb)], (1, 1))
    t, p = oracle_returns(lay, w.table, 20)
    assert t[0] == 0.0 and p[0] == 1.0
    lay = _layout(CORRIDOR, [(1, 5, rd)], (1, 1))
    assert oracle_returns(lay, w.table, 4)[0][0] == 1.0
    assert oracle_returns(lay, w.table, 3)[0][0] == 0.0


def test_key_needed_and_chest_walked_over_without_key():
    """A chest before the key is walked over (no key yet), then opened on the way back."""
    w = _world("keys_chests")
    key, chest = w.kind_index("key"), w.kind_index("chest")
    lay = _layout(CORRIDOR, [(1, 3, chest), (1, 5, key)], (1, 1))
    # 4 steps to the key, 2 back; the key costs KEY_COST (-0.1)
    assert best_value(lay, w.table.reward, w.table, 6)[0] == pytest.approx(1.0 + float(w.table.reward[key]))
    assert best_value(lay, w.table.reward, w.table, 5)[0] == 0.0
    # the episode ends once no chest can be opened any more: keys after the last chest do not count
    lay = _layout(CORRIDOR, [(1, 2, key), (1, 3, chest), (1, 5, key)], (1, 1))
    assert best_value(lay, w.table.proxy, w.table, 20)[0] == 1.0
    assert _brute(lay, 0, w.table.proxy, w.table, 20) == 1.0


def test_negative_food_is_avoided_unless_forced():
    """A bitter berry in a corridor must be eaten to reach the fruit behind it (1 - 0.5)."""
    w = _world("ancestral_modern")
    fruit, berry = w.kind_index("fruit"), w.kind_index("bitter_berry")
    lay = _layout(CORRIDOR, [(1, 5, fruit), (1, 3, berry)], (1, 1))
    assert best_value(lay, w.table.reward, w.table, 10)[0] == pytest.approx(0.5)
    lay = _layout(["#######", "#.....#", "#.....#", "#######"], [(1, 5, fruit), (1, 3, berry)], (1, 1))
    assert best_value(lay, w.table.reward, w.table, 10)[0] == pytest.approx(1.0)


def test_unreachable_and_empty():
    w = _world("red_door")
    lay = _layout(["#######", "#..#..#", "#######"], [(1, 5, w.kind_index("red_door"))], (1, 1))
    assert oracle_returns(lay, w.table, 30)[0][0] == 0.0
    lay = _layout(CORRIDOR, [], (1, 1))
    assert oracle_returns(lay, w.table, 30)[0][0] == 0.0


def test_satiety_caps_what_can_be_eaten():
    """ancestral_modern's satiety (3 items) bounds the oracle: with 5 fruit in an open row the best
    return is 3, not 5. False if the oracle ignores the world's capacity."""
    w = _world("ancestral_modern")
    assert w.table.capacity == 3
    fruit = w.kind_index("fruit")
    lay = _layout(["#########", "#.......#", "#########"], [(1, c, fruit) for c in (3, 4, 5, 6, 7)], (1, 1))
    true_best, proxy_best = oracle_returns(lay, w.table, 20)
    assert true_best[0] == 3.0 and proxy_best[0] == 3.0
    assert _brute(lay, 0, w.table.reward, w.table, 20) == 3.0
