"""What every architecture's episode loop shares (numba; arrays and scalars only).

Per step an organism observes, decides, moves and interacts:

    observe   objects within the perception radius of each feature channel (Manhattan)
    decide    its architecture's decision (``kernels/heuristic.py``, ``kernels/planner.py``,
              ``kernels/memoriser.py``, ``kernels/network.py``: each holds its decision and its episode
              loop side by side)
    move      into a wall or off the grid: stay put
    interact  with the object on the new cell (consume, end, pick up, open with key)

Owns the shared part: the episode start (``_episode_start``), the move and its interactions
(``_move_and_interact``), the wall test (``_blocked``), the path-gradient signal both the heuristic and
the depth-0 planner sense (``_path_signals_into``), the architecture of a genome (``_arch_of``) and the
small namedtuples the per-episode inputs travel in: ``EpisodeLayout`` (one layout), ``Rules`` (kind
table, radii and limits, constant over a rollout) and ``Scratch`` (one organism's work arrays,
allocated once). ``kernels/rollout.py`` holds the population's parallel dispatcher (``_rollout``).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from evosim.constants import (
    DX, DY, I_CONSUMED, I_ENDS, I_OPENED, I_PICKED, MAX_DEPTH, MAX_FEATURES, MAX_PERCEIVED, UNREACHABLE,
)
from evosim.constants import Arch
from evosim.genome import ARCH, M_ARCH, N_ARCH

#: architecture codes (``evosim.constants.Arch``, ``evosim.architectures``) as plain ints for the kernels
#: (numba freezes module-level ints as constants)
A_HEURISTIC, A_PLANNER, A_MEMORISER = int(Arch.HEURISTIC), int(Arch.PLANNER), int(Arch.MEMORISER)
A_NETWORK = int(Arch.NETWORK)


@njit(cache=True, inline="always")
def _blocked(walls, y, x, a):
    yy, xx = y + DY[a], x + DX[a]
    h, w = walls.shape
    return yy < 0 or yy >= h or xx < 0 or xx >= w or walls[yy, xx] != 0


@njit(cache=True, inline="always")
def _path_signals_into(sig, walls, y, x, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat):
    """The SIGNAL_PATH sums of ``_signals_into`` (``sig`` already zeroed). Returns how many objects
    entered the sums (live, not on (y, x), within the largest radius, reachable): the objects a
    depth-0 planner scores."""
    h, w = walls.shape
    max_r = 0
    for f in range(n_feat):
        if radius[f] > max_r:
            max_r = radius[f]
    # which moves stay on the grid off walls (dist is UNREACHABLE on walls, but the grid edge needs a test)
    free_n = y > 0 and walls[y - 1, x] == 0
    free_e = x < w - 1 and walls[y, x + 1] == 0
    free_s = y < h - 1 and walls[y + 1, x] == 0
    free_w = x > 0 and walls[y, x - 1] == 0
    n_in = 0
    for o in range(obj_kind.shape[0]):
        if not alive[o]:
            continue
        md = abs(obj_pos[o, 0] - y) + abs(obj_pos[o, 1] - x)
        if md == 0 or md > max_r:
            continue
        d = dist[o, y, x]
        if d >= UNREACHABLE:
            continue
        down_n = free_n and dist[o, y - 1, x] < d
        down_e = free_e and dist[o, y, x + 1] < d
        down_s = free_s and dist[o, y + 1, x] < d
        down_w = free_w and dist[o, y, x - 1] < d
        n_in += 1
        k = obj_kind[o]
        for f in range(n_feat):
            v = kind_feat[k, f]
            if v != 0.0 and md <= radius[f]:
                s = v / np.int64(d)
                if down_n:
                    sig[f, 0] += s
                if down_e:
                    sig[f, 1] += s
                if down_s:
                    sig[f, 2] += s
                if down_w:
                    sig[f, 3] += s
    return n_in


#: one organism's work arrays, allocated once per organism (``_new_scratch``) and reused for every
#: decision of every episode:
#:   alive [M] bool, which objects are still there; cand / cand_d / util [MAX_PERCEIVED]: the
#:   perceived objects (index, path distance, utility); plan [MAX_DEPTH]: the latest best plan;
#:   path [3, MAX_DEPTH] int64 and path_v [MAX_DEPTH]: the planner's search stack (candidate slot,
#:   arrival time, inventory after; value after) per depth; sig / w_free / w_key: the heuristic's
#:   signals and expressed weights; powtab: the discount table, gamma ** t by arrival time t, -1 where
#:   not yet computed (see ``_search``)
Scratch = namedtuple("Scratch", ["alive", "cand", "cand_d", "util", "plan", "path", "path_v", "sig", "w_free", "w_key",
                                 "powtab"])
#: one episode's layout: walls [H, W], start [2], obj_pos [M, 2], obj_kind [M], dist [M, H, W]
EpisodeLayout = namedtuple("EpisodeLayout", ["walls", "start", "obj_pos", "obj_kind", "dist"])
#: what is constant over a rollout: the kind table (features, base reward, proxy, interaction),
#: the radius per channel, channels used, the depth cap, the step limit, the satiety capacity and
#: the heuristic's signal mode (SIGNAL_PATH / SIGNAL_COMPASS) and the smallest planner depth
Rules = namedtuple("Rules", ["kind_feat", "kind_reward", "kind_proxy", "kind_inter", "radius", "n_feat", "max_depth",
                             "max_steps", "capacity", "signal", "min_depth"])


@njit(cache=True)
def _new_scratch(m, n_powtab):
    """Fresh ``Scratch`` for layouts of ``m`` object slots, with a discount table of ``n_powtab``
    entries (all -1: not yet computed)."""
    powtab = np.empty(n_powtab)
    powtab[:] = -1.0
    return Scratch(np.empty(m, dtype=np.bool_), np.empty(MAX_PERCEIVED, dtype=np.int64),
                   np.empty(MAX_PERCEIVED, dtype=np.int64), np.empty(MAX_PERCEIVED, dtype=np.float64),
                   np.empty(MAX_DEPTH, dtype=np.int64), np.empty((3, MAX_DEPTH), dtype=np.int64),
                   np.empty(MAX_DEPTH, dtype=np.float64), np.empty((MAX_FEATURES + 2, 4)), np.empty(MAX_FEATURES),
                   np.empty(MAX_FEATURES), powtab)


@njit(cache=True, inline="always")
def _powtab_size(walls):
    """Entries of the discount table: a plan's arrival time is at most MAX_DEPTH path lengths."""
    return MAX_DEPTH * walls.shape[0] * walls.shape[1] + 1


@njit(cache=True, inline="always")
def _arch_of(genome):
    """``Arch`` code of a genome: network if the network gene is > 0, else memoriser if the memoriser gene is > 0,
    else planner if ARCH > 0, else heuristic."""
    if genome[N_ARCH] > 0:
        return A_NETWORK
    if genome[M_ARCH] > 0:
        return A_MEMORISER
    if genome[ARCH] > 0:
        return A_PLANNER
    return A_HEURISTIC


@njit(cache=True, inline="always")
def _episode_start(lay, kind_inter, kind_reward, alive, reach, trace, record):
    """Reset an episode: ``alive`` and ``reach`` per object slot, ``trace[0]`` if ``record``.
    Returns the counts that decide when nothing is left to gain: (objects that pay on contact,
    chests that pay, keys)."""
    obj_kind = lay.obj_kind
    direct = 0
    chests = 0
    keys = 0
    for o in range(obj_kind.shape[0]):
        reach[o] = -1
        k = obj_kind[o]
        alive[o] = k >= 0
        if k < 0:
            continue
        if kind_inter[k] == I_OPENED:
            if kind_reward[k] > 0:
                chests += 1
        elif kind_inter[k] == I_PICKED:
            keys += 1
        elif kind_reward[k] > 0:
            direct += 1
    if record:
        trace[0] = lay.start[0] * lay.walls.shape[1] + lay.start[1]
    return direct, chests, keys


@njit(cache=True, inline="always")
def _move_and_interact(walls, a, y, x, steps, obj_pos, obj_kind, kind_inter, kind_reward, kind_proxy,
                       alive, reach, inv, direct, chests, keys, eaten, capacity, ret, proxy):
    """Take move ``a`` from (y, x) (into a wall or off the grid: stay put) and count the step, then
    every live object on the new cell acts, in slot order: a chest opens if a key is held (spending it),
    a key is picked up, anything else is consumed or ends the episode. Returns the updated
    (y, x, steps, inv, direct, chests, keys, eaten, ret, proxy) (rewards added one object at a time,
    in slot order), whether any object was touched and whether the episode ended (an ending object,
    or ``capacity`` > 0 objects eaten)."""
    if not _blocked(walls, y, x, a):
        y += DY[a]
        x += DX[a]
    steps += 1
    ended = False
    touched = False
    for o in range(obj_kind.shape[0]):
        if not alive[o] or obj_pos[o, 0] != y or obj_pos[o, 1] != x:
            continue
        k = obj_kind[o]
        it = kind_inter[k]
        if it == I_OPENED:
            if inv == 0:
                continue
            inv -= 1
            if kind_reward[k] > 0:
                chests -= 1
        elif it == I_PICKED:
            inv += 1
            keys -= 1
        elif kind_reward[k] > 0:
            direct -= 1
        alive[o] = False
        touched = True
        reach[o] = steps
        ret += kind_reward[k]
        proxy += kind_proxy[k]
        if it == I_ENDS:
            ended = True
        elif it == I_CONSUMED:
            eaten += 1
            if capacity > 0 and eaten >= capacity:
                ended = True
    return y, x, steps, inv, direct, chests, keys, eaten, ret, proxy, touched, ended


# The episode loops (``_heuristic_play`` in kernels/heuristic.py, ``_planner_play`` in kernels/planner.py,
# ``_memoriser_play`` in kernels/memoriser.py: one per architecture) share ``_episode_start`` and
# ``_move_and_interact`` above and differ only in the decision; each is its own function so that its hot
# loop carries no other architecture's branches.
# The heuristic's and the planner's decisions are written in their loop bodies, and their one-state
# entry points (``_heuristic_action``, ``_planner_action``) run one decision of the same loop:
# numba copies every array argument of an inlined call into a new variable, and across the
# decisions' control flow the copies' reference counts (two atomic operations per array per call)
# are not pruned. They cost more than the arithmetic: written as inlined helpers the two loops ran
# 1.5x (heuristic) and 1.3-2x (planner) slower (docs/performance.md). The helpers left in the
# loops (``_perceive``, ``_search``, ``_move_and_interact``, ``_blocked``) keep straight-line entries and
# exits, whose copies the pruning removes.
#
# Each fills ``reach`` (step at which each object was interacted with, -1 if never) and, if
# ``record``, ``trace`` (cell index after each step; trace[0] is the start), and returns
# (return, proxy return, steps taken, plans evaluated, work[, last action]).
