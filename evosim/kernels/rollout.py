"""Episode rollouts of heuristic, planner and memoriser organisms (numba; arrays and scalars only).

Per step an organism observes, decides, moves and interacts:

    observe   objects within the perception radius of each feature channel (Manhattan)
    decide    heuristic: argmax over moves of a linear score of directional feature
              signals (path: BFS-gradient toward perceived objects, the planner's distances;
              or compass: Manhattan-direction sums), wall bits, inventory, momentum and
              Gumbel noise (no lookahead);
              planner: enumerate ordered visits to up to ``depth`` perceived objects
              under its world model (BFS distances, keys open chests, exits end the
              episode), value each plan with its utility, discounted by arrival time,
              and take the first step of the best plan; with no plan worth > 0, explore
              (depth 0: no plans, the utility-weighted path gradient of what it perceives);
              memoriser: the move its genome lists for this step (no perception)
    move      into a wall or off the grid: stay put
    interact  with the object on the new cell (consume, end, pick up, open with key)

Owns the episode loops, one per architecture, each with its decision written in its loop body
(``_heuristic_play``, ``_planner_play``, ``_memoriser_play``), their one-state entry points
``_heuristic_action`` / ``_planner_action`` (one decision of the same loop, behind
``evosim.kernels.heuristic_action`` / ``planner_action`` / ``planner_plan``) and the parallel
rollout of a population (``_rollout``, behind ``evosim.kernels.rollout``). The per-episode inputs travel
as small namedtuples: ``EpisodeLayout`` (one layout), ``Rules`` (kind table, radii and limits,
constant over a rollout) and ``Scratch`` (one organism's work arrays, allocated once).
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange

from evosim.constants import (
    DX, DY, I_CONSUMED, I_ENDS, I_OPENED, I_PICKED, MAX_DEPTH, MAX_FEATURES, MAX_PERCEIVED, MAX_STEPS_LIMIT, OPPOSITE,
    SIGNAL_PATH, UNREACHABLE,
)
from evosim.constants import MEMO_STEPS
from evosim.genome import (
    ARCH, H_ATTRACT, H_ATTRACT_KEY, H_BACK, H_LOGTEMP, H_MOMENTUM, H_WALL, M_ARCH, M_PLAN, MEMO_GENE_CLIP, P_DEPTH,
    P_DISCOUNT, P_UTILITY,
)
from evosim.kernels import rng as _rng
from evosim.kernels.rng import _episode_key, _splitmix64, _uniform

H_ATT0 = H_ATTRACT.start
H_KEY0 = H_ATTRACT_KEY.start
P_U0 = P_UTILITY.start
M_PLAN0 = M_PLAN.start
#: architecture codes (``evosim.constants.Arch``) as plain ints for the kernels
A_HEURISTIC, A_PLANNER, A_MEMORISER = 0, 1, 2

#: exploring planners keep their heading with this probability unless blocked
EXPLORE_KEEP = 0.75


def _gumbel_brackets(bits):
    """Bounds of the Gumbel noise -log(-log(u)) on each of 2**bits equal bins of u in (0, 1).

    The noise is increasing in u, so on bin j it lies in [g(j / 2**bits), g((j + 1) / 2**bits)];
    both ends are widened by 1e-9 (far above the few-ulp error of a libm log), and the outer
    bins use the extremes over every u that ``rng.uniform`` can return (u >= 2**-54 and
    u <= 1 - 2**-53: -3.62 <= g <= 36.8). The heuristic uses them to find the argmax without
    evaluating the logs unless two moves' brackets overlap (see ``_heuristic_play``).
    """
    n = 2**bits
    edges = np.arange(n + 1, dtype=np.float64) / n
    with np.errstate(divide="ignore"):
        g = -np.log(-np.log(edges))
    lo = g[:-1] - 1e-9
    hi = g[1:] + 1e-9
    lo[0] = -4.0
    hi[-1] = 40.0
    return lo, hi


def _step_mix(n_steps):
    """splitmix64(step * 8 + j) for j in 0..3: the key-independent half of ``rng.uniform``'s
    hash for the heuristic's four draws per step, as a table [n_steps * 4] (numpy uint64
    arithmetic wraps exactly as numba's)."""
    x = (np.arange(n_steps, dtype=np.uint64)[:, None] * np.uint64(8) + np.arange(4, dtype=np.uint64)).ravel()
    z = x + _rng._GOLDEN
    z = (z ^ (z >> _rng._S30)) * _rng._M1
    z = (z ^ (z >> _rng._S27)) * _rng._M2
    return z ^ (z >> _rng._S31)


_STEP_MIX = _step_mix(MAX_STEPS_LIMIT + 1)


@njit(cache=True, inline="always")
def _move_uniform(key, step, a):
    """``rng.uniform(key, step, a)`` for a < 4, with the inner hash read from ``_STEP_MIX``."""
    b = _splitmix64(key ^ _STEP_MIX[step * 4 + a])
    return min((np.float64(b >> _rng._S11) + 0.5) * _rng._INV53, _rng._BELOW_ONE)


_GUMBEL_BITS = 10
_GUMBEL_BINS = float(2**_GUMBEL_BITS)
_GUMBEL_LO, _GUMBEL_HI = _gumbel_brackets(_GUMBEL_BITS)


@njit(cache=True, inline="always")
def _blocked(walls, y, x, a):
    yy, xx = y + DY[a], x + DX[a]
    h, w = walls.shape
    return yy < 0 or yy >= h or xx < 0 or xx >= w or walls[yy, xx] != 0


@njit(cache=True)
def _heuristic_action(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat, key,
                      step, mode):
    """Reactive policy: argmax over moves of feature signals (``mode``: SIGNAL_PATH or
    SIGNAL_COMPASS) + wall bits + momentum + noise. One decision of ``_heuristic_play`` at the
    state (y, x, prev, inv, step, alive), without moving."""
    m = obj_kind.shape[0]
    sc = _new_scratch(m, 1)
    sc.alive[:] = alive
    lay = EpisodeLayout(walls, np.array([y, x], dtype=np.int64), obj_pos, obj_kind, dist)
    k = kind_feat.shape[0]
    rules = Rules(kind_feat, np.zeros(k), np.zeros(k), np.zeros(k, dtype=np.int64), radius, n_feat, 1, step + 1, 0,
                  mode, 1)
    none = np.empty(1, dtype=np.int64)
    return _heuristic_play(genome, lay, rules, key, sc, np.empty((1, 1, 1, 1)), False, none, none, False, prev, inv,
                           step, True)[5]


@njit(cache=True)
def _heuristic_genes(genome, n_feat, w_free, w_key):
    """Expressed heuristic genes (constant over an episode), hoisted out of the step loop.

    Fills the per-channel attraction ``w_free`` (inventory empty) and ``w_key`` (holding a key:
    attraction + key attraction, the same float64 sum the step would compute) and returns
    (temperature, wall, momentum, back)."""
    for f in range(n_feat):
        w_free[f] = np.float64(genome[H_ATT0 + f])
        w_key[f] = np.float64(genome[H_ATT0 + f]) + np.float64(genome[H_KEY0 + f])
    temp = math.exp(min(max(np.float64(genome[H_LOGTEMP]), -5.0), 3.0))
    return temp, np.float64(genome[H_WALL]), np.float64(genome[H_MOMENTUM]), np.float64(genome[H_BACK])


@njit(cache=True, inline="always")
def _signals_into(sig, walls, y, x, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat, mode):
    """The heuristic's signal ``sig[f, a]`` per channel f and move a, summed in object order over
    live objects not on (y, x) whose Manhattan distance from (y, x) is within the channel's radius
    (the planner's visibility rule, ``_perceive``), of feature / distance:

        SIGNAL_PATH     distance = path distance d = dist[o, y, x] (objects cut off are skipped),
                        added to every move onto a free cell strictly nearer to o (dist < d)
        SIGNAL_COMPASS  distance = Manhattan distance, added to every move strictly toward o's side
    """
    for f in range(n_feat):
        for a in range(4):
            sig[f, a] = 0.0
    if mode == SIGNAL_PATH:
        _path_signals_into(sig, walls, y, x, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat)
        return
    for o in range(obj_kind.shape[0]):
        if not alive[o]:
            continue
        dy = obj_pos[o, 0] - y
        dx = obj_pos[o, 1] - x
        d = abs(dy) + abs(dx)
        if d == 0:
            continue
        k = obj_kind[o]
        for f in range(n_feat):
            v = kind_feat[k, f]
            if v != 0.0 and d <= radius[f]:
                s = v / d
                if dy < 0:
                    sig[f, 0] += s
                if dx > 0:
                    sig[f, 1] += s
                if dy > 0:
                    sig[f, 2] += s
                if dx < 0:
                    sig[f, 3] += s


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


#: largest episodes x cells for which ``_rollout`` tabulates the heuristic's signals (x 128 bytes)
SIGNAL_TABLE_MAX_CELLS = 250_000


@njit(cache=True)
def _signal_tables(walls, obj_pos, obj_kind, dist, episode_layout, kind_feat, radius, n_feat, mode, out):
    """``out[E, H, W, F, 4]``: the heuristic's signals (``mode`` as in ``_signals_into``) on every
    cell of episode e's layout with all of its objects present (the state of an episode until its
    first interaction)."""
    n_ep, h, w = out.shape[0], out.shape[1], out.shape[2]
    alive = np.empty(obj_kind.shape[1], dtype=np.bool_)
    for e in range(n_ep):
        li = episode_layout[e]
        for o in range(obj_kind.shape[1]):
            alive[o] = obj_kind[li, o] >= 0
        for y in range(h):
            for x in range(w):
                _signals_into(out[e, y, x], walls[li], y, x, obj_pos[li], obj_kind[li], alive, dist[li], kind_feat,
                              radius, n_feat, mode)


@njit(cache=True, inline="always")
def _explore(walls, y, x, prev, key, step):
    """Planner exploration when no plan is worth anything: keep heading, else a random free move."""
    if prev >= 0 and not _blocked(walls, y, x, prev) and _uniform(key, step, 4) < EXPLORE_KEEP:
        return prev
    n_free = 0
    for a in range(4):
        if not _blocked(walls, y, x, a):
            n_free += 1
    if n_free == 0:
        return 0
    pick = int(_uniform(key, step, 5) * n_free)
    for a in range(4):
        if not _blocked(walls, y, x, a):
            if pick == 0:
                return a
            pick -= 1
    return 0


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
#: the heuristic's signal mode (SIGNAL_PATH / SIGNAL_COMPASS)
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


@njit(cache=True)
def _planner_action(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat, kind_inter,
                    radius, n_feat, max_depth, key, step, plan, min_depth):
    """One planner decision: returns (action, plans evaluated, objects scored). One decision of
    ``_planner_play`` at the state (y, x, prev, inv, step, alive), without moving.

    ``plan`` (int64, length MAX_DEPTH) receives the best plan: the object indices (into
    ``obj_pos``/``obj_kind``) it visits in order, padded with -1; all -1 when the planner explores.
    Its first object is the one the returned action heads for."""
    sc = _new_scratch(obj_kind.shape[0], _powtab_size(walls))
    sc.alive[:] = alive
    lay = EpisodeLayout(walls, np.array([y, x], dtype=np.int64), obj_pos, obj_kind, dist)
    k = kind_feat.shape[0]
    rules = Rules(kind_feat, np.zeros(k), np.zeros(k), kind_inter, radius, n_feat, max_depth, step + 1, 0,
                  SIGNAL_PATH, min_depth)
    none = np.empty(1, dtype=np.int64)
    _, _, _, p, work, a = _planner_play(genome, lay, rules, key, sc, none, none, False, prev, inv, step, True)
    plan[:] = sc.plan
    return a, p, work - p


@njit(cache=True, inline="always")
def _powtab_size(walls):
    """Entries of the discount table: a plan's arrival time is at most MAX_DEPTH path lengths."""
    return MAX_DEPTH * walls.shape[0] * walls.shape[1] + 1


@njit(cache=True)
def _planner_genes(genome, max_depth, min_depth):
    """Expressed (search depth, discount) of a planner genome: constant over its episodes. Depth is
    clip(floor(g + 0.5), min_depth, max_depth) with min_depth 1 (the expression before issue 14) or 0."""
    # clamp before floor: floor of a huge gene overflows int64 in numba (depth 1 instead of max_depth)
    g_depth = min(max(np.float64(genome[P_DEPTH]), 0.0), np.float64(max_depth))
    depth = int(min(max(math.floor(g_depth + 0.5), np.float64(min_depth)), np.float64(max_depth)))
    gamma = 0.5 + 0.49 / (1.0 + math.exp(-np.float64(genome[P_DISCOUNT])))
    return depth, gamma


@njit(cache=True, inline="always")
def _perceive(genome, y, x, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat, cand, cand_d, util):
    """The nearest (by path, then index: a stable insertion) MAX_PERCEIVED live objects within the
    largest radius into ``cand``/``cand_d``/``util`` (utility of what is visible of each); returns
    (how many, objects scored): every live reachable object within the largest radius is scored
    (a distance lookup and a utility evaluation), kept or not."""
    max_r = 0
    for f in range(n_feat):
        if radius[f] > max_r:
            max_r = radius[f]
    n_c = 0
    scored = 0
    for o in range(obj_kind.shape[0]):
        if not alive[o]:
            continue
        md = abs(obj_pos[o, 0] - y) + abs(obj_pos[o, 1] - x)
        if md > max_r:
            continue
        d = np.int64(dist[o, y, x])
        if d >= UNREACHABLE:
            continue
        k = obj_kind[o]
        u = 0.0
        for f in range(n_feat):
            if md <= radius[f]:
                u += np.float64(genome[P_U0 + f]) * kind_feat[k, f]
        scored += 1
        # insertion by (distance, index): stable
        j = n_c
        while j > 0 and cand_d[j - 1] > d:
            j -= 1
        if j >= MAX_PERCEIVED:
            continue
        last = min(n_c, MAX_PERCEIVED - 1)
        for t in range(last, j, -1):
            cand[t] = cand[t - 1]
            cand_d[t] = cand_d[t - 1]
            util[t] = util[t - 1]
        cand[j] = o
        cand_d[j] = d
        util[j] = u
        if n_c < MAX_PERCEIVED:
            n_c += 1
    return n_c, scored


@njit(cache=True, inline="always")
def _search(y, x, inv, obj_pos, obj_kind, dist, kind_inter, n_c, cand, util, depth, gamma, powtab, path, path_v,
            best):
    """Enumerate ordered visits to up to ``depth`` distinct perceived objects (``cand[:n_c]``,
    nearest first) from (y, x) under the planner's world model, and return the number of plans
    valued. An iterative depth-first search: a plan is valued before its extensions, and the
    visits extending a plan are tried in candidate-slot order.

    A visit at arrival time t adds util * gamma**t, except a chest reached with no key in hand
    (worth nothing, spends nothing); a key adds one to the inventory, a chest opened spends one.
    Arrival times add shortest-path lengths (a visit unreachable from the previous one is no
    plan); the first visit may not be to the cell the planner stands on; a plan that visits an
    episode-ending object is not extended. A plan's value is its first visit's term, then + each
    next term, left to right. ``best`` receives the candidate slots of the first plan with the
    strictly highest positive value, padded with -1 (all -1 if none).

    The stack: ``path[0, l]`` the slot visited at depth l, ``path[1, l]`` the arrival time there,
    ``path[2, l]`` the inventory after it, ``path_v[l]`` the value so far; the state the current
    depth extends (position, time, inventory, value, slots used) is kept in locals.
    """
    for q in range(MAX_DEPTH):
        best[q] = -1
    n_pow = powtab.shape[0]
    plans = 0
    best_v = 0.0
    lvl = 0
    c = 0
    used = 0  # bit s set: candidate slot s is on the current path
    # what the current depth extends: the root (the planner's cell) at depth 0
    py, px, pt, pinv, pv = y, x, np.int64(0), inv, 0.0
    while True:
        if lvl + 1 >= depth and c == 0:
            # the innermost depth: value every unused slot in order, nothing extends (no stack writes)
            for c in range(n_c):
                if (used >> c) & 1:
                    continue
                o = cand[c]
                d = np.int64(dist[o, py, px])
                if d >= UNREACHABLE or (lvl == 0 and d == 0):
                    continue
                t = pt + d
                v = pv
                if kind_inter[obj_kind[o]] != I_OPENED or pinv > 0:
                    # gamma ** t from the organism's table, computed once per arrival time (written
                    # out: a call taking the array costs a reference-count round trip per plan)
                    if t < n_pow:
                        disc = powtab[t]
                        if disc < 0.0:
                            disc = math.pow(gamma, np.float64(t))
                            powtab[t] = disc
                    else:
                        disc = math.pow(gamma, np.float64(t))
                    term = util[c] * disc
                    v = term if lvl == 0 else pv + term
                plans += 1
                if v > best_v:
                    best_v = v
                    for q in range(MAX_DEPTH):
                        best[q] = path[0, q] if q < lvl else (c if q == lvl else -1)
            c = n_c
        if c >= n_c:
            # every extension tried: back up one depth and go on with the next slot there
            if lvl == 0:
                break
            lvl -= 1
            s = path[0, lvl]
            used ^= 1 << s
            c = s + 1
            if lvl == 0:
                py, px, pt, pinv, pv = y, x, np.int64(0), inv, 0.0
            else:
                o = cand[path[0, lvl - 1]]
                py, px, pt, pinv, pv = obj_pos[o, 0], obj_pos[o, 1], path[1, lvl - 1], path[2, lvl - 1], path_v[lvl - 1]
            continue
        if (used >> c) & 1:
            c += 1
            continue
        o = cand[c]
        d = np.int64(dist[o, py, px])
        if d >= UNREACHABLE or (lvl == 0 and d == 0):
            # lvl 0, d == 0: a chest we stand on but cannot open: no plan starts here (it would only make us explore)
            c += 1
            continue
        t = pt + d
        k = kind_inter[obj_kind[o]]
        inv_after = pinv
        v = pv
        if k != I_OPENED or pinv > 0:
            if t < n_pow:  # gamma ** t as above
                disc = powtab[t]
                if disc < 0.0:
                    disc = math.pow(gamma, np.float64(t))
                    powtab[t] = disc
            else:
                disc = math.pow(gamma, np.float64(t))
            term = util[c] * disc
            v = term if lvl == 0 else pv + term
            if k == I_OPENED:
                inv_after -= 1
            elif k == I_PICKED:
                inv_after += 1
        plans += 1
        path[0, lvl] = c
        if v > best_v:
            best_v = v
            for q in range(MAX_DEPTH):
                best[q] = path[0, q] if q <= lvl else -1
        if lvl + 1 < depth and k != I_ENDS:
            # extend this plan: it becomes what the next depth extends
            path[1, lvl] = t
            path[2, lvl] = inv_after
            path_v[lvl] = v
            used |= 1 << c
            py, px, pt, pinv, pv = obj_pos[o, 0], obj_pos[o, 1], t, inv_after, v
            lvl += 1
            c = 0
        else:
            c += 1
    return plans


@njit(cache=True, inline="always")
def _memo_action(genome, step):
    """A memoriser's move at ``step``: floor(2 * g) mod 4 of plan gene step mod MEMO_STEPS (``genome.memo_actions``)."""
    g = min(max(np.float64(genome[M_PLAN0 + step % MEMO_STEPS]), -MEMO_GENE_CLIP), MEMO_GENE_CLIP)
    return np.int64(math.floor(2.0 * g)) & 3


@njit(cache=True, inline="always")
def _arch_of(genome):
    """``Arch`` code of a genome: memoriser if the memoriser gene is > 0, else planner if ARCH > 0, else heuristic."""
    if genome[M_ARCH] > 0:
        return A_MEMORISER
    if genome[ARCH] > 0:
        return A_PLANNER
    return A_HEURISTIC


@njit(cache=True, inline="always")
def _occupied(obj_pos, alive, y, x, skip):
    """Whether a live object other than ``skip`` lies on (y, x)."""
    for o in range(alive.shape[0]):
        if o != skip and alive[o] and obj_pos[o, 0] == y and obj_pos[o, 1] == x:
            return True
    return False


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


# The three episode loops below share ``_episode_start`` and ``_move_and_interact`` and differ only in the
# decision; each is its own function so that its hot loop carries no other architecture's branches.
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

@njit(cache=True)
def _heuristic_play(genome, lay, rules, key, sc, tab, use_tab, reach, trace, record, prev, inv, step, decide_only):
    """A heuristic's episode on layout ``lay`` (``EpisodeLayout``) under ``rules`` (``Rules``) with the
    organism's ``Scratch`` ``sc``, from the layout's start with ``prev``, ``inv``, ``step`` = -1, 0, 0;
    returns (return, proxy return, steps taken, 0 plans, 0 work, last action). If ``use_tab``,
    ``tab`` holds this layout's signal table (see ``_signal_tables``).

    With ``decide_only``, the one decision at state (lay.start, prev, inv, step, sc.alive), without
    moving (``_heuristic_action``): returns (0, 0, step, 0, 0, action); ``reach`` and ``trace`` are
    not touched.

    The decision: argmax over moves a of score(a) + temperature x Gumbel(u_a), where score(a) is
    the channel signals (``_signals_into``) weighted by the attraction genes (plus the key
    attraction while holding a key), + the wall gene if a is blocked, + momentum if a repeats the
    last move, + back if it reverses it. The argmax is found exactly as the plain loop would:
    each move's total is first bracketed with the Gumbel bin bounds (no logs); if one move's lower
    bound beats every other move's upper bound it wins, otherwise the logs are evaluated, in the
    plain loop's order. ``sc.sig`` is [MAX_FEATURES + 2, 4]: channel signals, then (row
    MAX_FEATURES) each move's score without noise and (row MAX_FEATURES + 1) its uniform draw.
    While no object has been touched the signals are read from ``tab`` ([H, W, F, 4], the same
    sums) instead of being recomputed.

    The decision is written in the loop body, not in a helper (see the note above).
    """
    walls, obj_pos, obj_kind, dist = lay.walls, lay.obj_pos, lay.obj_kind, lay.dist
    kind_feat, kind_reward, kind_proxy, kind_inter = rules.kind_feat, rules.kind_reward, rules.kind_proxy, rules.kind_inter
    radius, n_feat, max_steps, capacity, mode = rules.radius, rules.n_feat, rules.max_steps, rules.capacity, rules.signal
    alive, sig, w_free, w_key = sc.alive, sc.sig, sc.w_free, sc.w_key
    if decide_only:
        direct = chests = keys = 1  # no end test: decide wherever asked
    else:
        direct, chests, keys = _episode_start(lay, kind_inter, kind_reward, alive, reach, trace, record)
    y, x = lay.start[0], lay.start[1]
    temp, g_wall, g_mom, g_back = _heuristic_genes(genome, n_feat, w_free, w_key)
    ret = 0.0
    proxy = 0.0
    steps = step
    eaten = 0
    a = -1
    pristine = use_tab
    while steps < max_steps:
        if direct == 0 and (chests == 0 or (inv == 0 and keys == 0)):
            break
        # -- decide
        if not pristine:
            _signals_into(sig, walls, y, x, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat, mode)
        best_a = 0
        best_lo = -np.inf
        for b in range(4):
            s = 0.0
            for f in range(n_feat):
                wf = w_key[f] if inv > 0 else w_free[f]
                s += wf * (tab[y, x, f, b] if pristine else sig[f, b])
            if _blocked(walls, y, x, b):
                s += g_wall
            if prev >= 0:
                if b == prev:
                    s += g_mom
                elif b == OPPOSITE[prev]:
                    s += g_back
            u = _move_uniform(key, steps, b) if steps <= MAX_STEPS_LIMIT else _uniform(key, steps, b)
            sig[MAX_FEATURES, b] = s
            sig[MAX_FEATURES + 1, b] = u
            lo = s + temp * _GUMBEL_LO[int(u * _GUMBEL_BINS)] - 1e-10 * (1.0 + abs(s) + temp)
            if lo > best_lo:
                best_lo = lo
                best_a = b
        clear = True
        for b in range(4):
            if b != best_a:
                s = sig[MAX_FEATURES, b]
                if s + temp * _GUMBEL_HI[int(sig[MAX_FEATURES + 1, b] * _GUMBEL_BINS)] + 1e-10 * (1.0 + abs(s) + temp) >= best_lo:
                    clear = False
        a = best_a
        if not clear:
            # brackets overlap: the plain loop over the moves that can still reach the maximum
            best_s = -np.inf
            a = 0
            for b in range(4):
                s = sig[MAX_FEATURES, b]
                u = sig[MAX_FEATURES + 1, b]
                if b != best_a and s + temp * _GUMBEL_HI[int(u * _GUMBEL_BINS)] + 1e-10 * (1.0 + abs(s) + temp) < best_lo:
                    continue
                s += temp * (-math.log(-math.log(u)))
                if s > best_s:
                    best_s = s
                    a = b
        if decide_only:
            break
        # -- move and interact
        prev = a
        y, x, steps, inv, direct, chests, keys, eaten, ret, proxy, touched, ended = _move_and_interact(
            walls, a, y, x, steps, obj_pos, obj_kind, kind_inter, kind_reward, kind_proxy, alive, reach, inv, direct,
            chests, keys, eaten, capacity, ret, proxy)
        if record:  # (here, not in the helper: a write in a branch there costs reference counting)
            trace[steps] = y * walls.shape[1] + x
        if touched:
            pristine = False
        if ended:
            break
    return ret, proxy, steps, 0, 0, a


@njit(cache=True)
def _planner_play(genome, lay, rules, key, sc, reach, trace, record, prev, inv, step, decide_only):
    """A planner's episode (as ``_heuristic_play``, without a signal table): returns (return, proxy
    return, steps taken, plans evaluated, work, last action). Work is the sum over its decisions
    of objects scored (``_perceive``; at depth 0 the objects in its path signal) + plans evaluated
    (``_search``); ``sc.plan`` holds its latest plan after each decision. With ``decide_only``,
    the one decision at state (lay.start, prev, inv, step, sc.alive): (0, 0, step, plans, work,
    action).

    The decision (written in the loop body, as the heuristic's): perceive (``_perceive``), search
    (``_search``; at depth 0 no plans, the utility-weighted path gradient), then take the first move along a
    shortest path to the first object of the best plan, preferring a step onto a cell that holds
    no other live object (touching one would trigger it: a trap ends the episode, food is eaten);
    if every shortest step is occupied, the first. With no plan worth > 0, explore (``_explore``).
    The organism's ``powtab`` (gamma ** t by arrival time t, -1 where not yet computed) is valid
    for this genome's gamma only and is carried across steps and episodes.
    """
    walls, obj_pos, obj_kind, dist = lay.walls, lay.obj_pos, lay.obj_kind, lay.dist
    kind_feat, kind_reward, kind_proxy, kind_inter = rules.kind_feat, rules.kind_reward, rules.kind_proxy, rules.kind_inter
    radius, n_feat, max_steps, capacity = rules.radius, rules.n_feat, rules.max_steps, rules.capacity
    alive, cand, cand_d, util, plan, path, path_v, powtab, sig = (sc.alive, sc.cand, sc.cand_d, sc.util, sc.plan,
                                                                   sc.path, sc.path_v, sc.powtab, sc.sig)
    if decide_only:
        direct = chests = keys = 1  # no end test: decide wherever asked
    else:
        direct, chests, keys = _episode_start(lay, kind_inter, kind_reward, alive, reach, trace, record)
    y, x = lay.start[0], lay.start[1]
    depth, gamma = _planner_genes(genome, rules.max_depth, rules.min_depth)
    ret = 0.0
    proxy = 0.0
    plans = 0
    work = 0
    steps = step
    eaten = 0
    a = -1
    while steps < max_steps:
        if direct == 0 and (chests == 0 or (inv == 0 and keys == 0)):
            break
        # -- decide
        a = -1
        if depth == 0:
            # a reactive planner: no plans; the path gradient of its perceived objects (the
            # heuristic's SIGNAL_PATH sums) weighted by the utility genes, channel by channel; the
            # first move with the highest strictly positive score, else explore
            for t in range(MAX_DEPTH):
                plan[t] = -1
            for f in range(n_feat):
                for b in range(4):
                    sig[f, b] = 0.0
            scored = _path_signals_into(sig, walls, y, x, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat)
            work += scored
            best_s = 0.0
            for b in range(4):
                v = 0.0
                for f in range(n_feat):
                    v += np.float64(genome[P_U0 + f]) * sig[f, b]
                if v > best_s:
                    best_s = v
                    a = b
            if a < 0:
                a = _explore(walls, y, x, prev, key, steps)
        else:
            n_c, scored = _perceive(genome, y, x, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat, cand,
                                    cand_d, util)
            # the best plan's candidate slots into ``plan``, then mapped to object indices
            p = _search(y, x, inv, obj_pos, obj_kind, dist, kind_inter, n_c, cand, util, depth, gamma, powtab, path,
                        path_v, plan)
            plans += p
            work += scored + p
            best_i = plan[0]
            if best_i >= 0 and cand_d[best_i] != 0:
                for t in range(MAX_DEPTH):
                    if plan[t] >= 0:
                        plan[t] = cand[plan[t]]
                o = cand[best_i]
                here = dist[o, y, x]
                fallback = -1
                for b in range(4):
                    if not _blocked(walls, y, x, b) and dist[o, y + DY[b], x + DX[b]] < here:
                        if not _occupied(obj_pos, alive, y + DY[b], x + DX[b], o):
                            a = b
                            break
                        if fallback < 0:
                            fallback = b
                if a < 0:
                    a = fallback
            if a < 0:
                # no plan worth anything (or, with inconsistent distance maps, no closer neighbour)
                for t in range(MAX_DEPTH):
                    plan[t] = -1
                a = _explore(walls, y, x, prev, key, steps)
        if decide_only:
            break
        # -- move and interact
        prev = a
        y, x, steps, inv, direct, chests, keys, eaten, ret, proxy, touched, ended = _move_and_interact(
            walls, a, y, x, steps, obj_pos, obj_kind, kind_inter, kind_reward, kind_proxy, alive, reach, inv, direct,
            chests, keys, eaten, capacity, ret, proxy)
        if record:  # (here, not in the helper: a write in a branch there costs reference counting)
            trace[steps] = y * walls.shape[1] + x
        if ended:
            break
    return ret, proxy, steps, plans, work, a


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


@njit(cache=True, parallel=True)
def _rollout(genomes, walls, start, obj_pos, obj_kind, dist, episode_layout, kind_feat, kind_reward, kind_proxy,
             kind_inter, radius, n_feat, max_depth, max_steps, seed, stream, generation, organism_ids,
             ret, proxy, steps, plans, work, reach, trace, record, capacity, signal, min_depth):
    n = genomes.shape[0]
    n_ep = episode_layout.shape[0]
    m = obj_kind.shape[1]
    h, w = walls.shape[1], walls.shape[2]
    # Heuristic signals while every object is present: once per episode layout, not per step
    any_heuristic = False
    for i in range(n):
        if _arch_of(genomes[i]) == A_HEURISTIC:
            any_heuristic = True
            break
    use_tab = any_heuristic and n_ep * h * w <= SIGNAL_TABLE_MAX_CELLS
    if use_tab:
        tab = np.empty((n_ep, h, w, MAX_FEATURES, 4))
        _signal_tables(walls, obj_pos, obj_kind, dist, episode_layout, kind_feat, radius, n_feat, signal, tab)
    else:
        tab = np.empty((1, 1, 1, MAX_FEATURES, 4))
    rules = Rules(kind_feat, kind_reward, kind_proxy, kind_inter, radius, n_feat, max_depth, max_steps, capacity,
                  signal, min_depth)
    for i in prange(n):
        g = genomes[i]
        arch = _arch_of(g)
        sc = _new_scratch(m, MAX_DEPTH * h * w + 1 if arch == A_PLANNER else 1)
        for e in range(n_ep):
            li = episode_layout[e]
            key = _episode_key(seed, stream, generation, organism_ids[i], e)
            lay = EpisodeLayout(walls[li], start[li], obj_pos[li], obj_kind[li], dist[li])
            tr = trace[i, e] if record else trace[0, 0]
            tb = tab[e] if use_tab else tab[0]
            if arch == A_PLANNER:
                r, p, s, pl, wk, _ = _planner_play(g, lay, rules, key, sc, reach[i, e], tr, record, -1, 0, 0,
                                                   False)
            elif arch == A_MEMORISER:
                r, p, s, pl, wk = _memoriser_play(g, lay, rules, sc, reach[i, e], tr, record)
            else:
                r, p, s, pl, wk, _ = _heuristic_play(g, lay, rules, key, sc, tb, use_tab, reach[i, e], tr, record,
                                                     -1, 0, 0, False)
            ret[i, e] = r
            proxy[i, e] = p
            steps[i, e] = s
            plans[i, e] = pl
            work[i, e] = wk
