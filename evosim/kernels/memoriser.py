"""The memoriser's kernels: its move (``_memo_action``) and its episode loop (``_memoriser_play``).
Naive twin: ``evosim.reference.naive.memo_action`` (in its ``episode``).

decide: the move its genome lists for this step (no perception, no objective).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from evosim.constants import MEMO_STEPS
from evosim.genome import M_PLAN, MEMO_GENE_CLIP
from evosim.kernels.episode import _episode_start, _move_and_interact

M_PLAN0 = M_PLAN.start


@njit(cache=True, inline="always")
def _memo_action(genome, step):
    """A memoriser's move at ``step``: floor(2 * g) mod 4 of plan gene step mod MEMO_STEPS (``genome.memo_actions``)."""
    g = min(max(np.float64(genome[M_PLAN0 + step % MEMO_STEPS]), -MEMO_GENE_CLIP), MEMO_GENE_CLIP)
    return np.int64(math.floor(2.0 * g)) & 3


@njit(cache=True)
def _memoriser_play(genome, lay, rules, sc, reach, trace, record):
    """One episode of a memoriser (as ``_heuristic_play``, returning its first five): it plays ``_memo_action`` at each step,
    with no perception and no objective. No plans, no work."""
    walls, obj_pos, obj_kind = lay.walls, lay.obj_pos, lay.obj_kind
    kind_reward, kind_proxy, kind_inter = rules.kind_reward, rules.kind_proxy, rules.kind_inter
    max_steps, capacity = rules.max_steps, rules.capacity
    alive = sc.alive
    direct, chests, keys = _episode_start(lay, kind_inter, kind_reward, alive, reach, trace, record)
    y, x = lay.start[0], lay.start[1]
    inv = 0
    ret = 0.0
    proxy = 0.0
    steps = 0
    eaten = 0
    while steps < max_steps:
        if direct == 0 and (chests == 0 or (inv == 0 and keys == 0)):
            break
        a = _memo_action(genome, steps)
        y, x, steps, inv, direct, chests, keys, eaten, ret, proxy, touched, ended = _move_and_interact(
            walls, a, y, x, steps, obj_pos, obj_kind, kind_inter, kind_reward, kind_proxy, alive, reach, inv, direct,
            chests, keys, eaten, capacity, ret, proxy)
        if record:  # (here, not in the helper: a write in a branch there costs reference counting)
            trace[steps] = y * walls.shape[1] + x
        if ended:
            break
    return ret, proxy, steps, 0, 0
