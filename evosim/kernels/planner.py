"""The planner's kernels: its decision written in its episode loop (``_planner_play``), its one-state entry
point (``_planner_action``, behind ``evosim.kernels.planner_action`` / ``planner_plan``), perception
(``_perceive``), the search (``_search``), exploration (``_explore``) and its expressed genes
(``_planner_genes``). Naive twin: ``evosim.reference.naive.planner_action`` / ``reactive_action`` (depth 0).

decide: enumerate ordered visits to up to ``depth`` perceived objects under its world model (BFS
distances, keys open chests, exits end the episode), value each plan with its utility, discounted by
arrival time, and take the first step of the best plan; with no plan worth > 0, explore (depth 0: no
plans, the utility-weighted path gradient of what it perceives).
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from evosim.constants import DX, DY, I_ENDS, I_OPENED, I_PICKED, MAX_DEPTH, MAX_PERCEIVED, SIGNAL_PATH, UNREACHABLE
from evosim.genome import P_DEPTH, P_DISCOUNT, P_UTILITY
from evosim.kernels.checks import _arr, _decision_inputs, _dist_input, _int, _shape
from evosim.kernels.episode import (
    EpisodeLayout, Rules, _blocked, _episode_start, _move_and_interact, _new_scratch, _path_signals_into,
    _powtab_size,
)
from evosim.kernels.rng import _uniform

P_U0 = P_UTILITY.start

#: exploring planners keep their heading with this probability unless blocked
EXPLORE_KEEP = 0.75


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


#: ``EpisodeSpec.explore`` codes: the organisms' rule (``_explore``) and frontier exploration (``_frontier``)
EXPLORE_RANDOM = 0
EXPLORE_FRONTIER = 1

#: frontier exploration's state, allocated once per organism (``_new_frontier``) for layouts of H x W cells and
#: reset every episode: seen [H, W] bool, the cells seen so far; queue / first [H * W] int64 and mark [H * W] bool,
#: ``_frontier``'s BFS work arrays
Frontier = namedtuple("Frontier", ["seen", "queue", "first", "mark"])


@njit(cache=True)
def _new_frontier(h, w):
    """A ``Frontier`` for layouts of ``h`` x ``w`` cells."""
    return Frontier(np.zeros((h, w), dtype=np.bool_), np.empty(h * w, dtype=np.int64), np.empty(h * w, dtype=np.int64),
                    np.empty(h * w, dtype=np.bool_))


@njit(cache=True)
def _mark_seen(seen, y, x, r):
    """Mark every cell within Manhattan distance ``r`` of (y, x) as seen: the perception geometry of
    ``_perceive`` (an object is perceived within Manhattan distance of the largest radius)."""
    h, w = seen.shape
    for dy in range(-r, r + 1):
        yy = y + dy
        if yy < 0 or yy >= h:
            continue
        rem = r - abs(dy)
        for dx in range(-rem, rem + 1):
            xx = x + dx
            if 0 <= xx < w:
                seen[yy, xx] = True


@njit(cache=True)
def _seen_radius(genome, radius, n_feat):
    """Radius within which a cell counts as seen by frontier exploration: the smallest radius among the channels
    the utility weighs (non-zero weight), where everything it values shows (its whole value is perceived
    there, by ``_perceive``'s geometry); the largest radius if it weighs none."""
    r = -1
    big = 0
    for f in range(n_feat):
        if radius[f] > big:
            big = radius[f]
        if genome[P_U0 + f] != 0 and (r < 0 or radius[f] < r):
            r = radius[f]
    return r if r >= 0 else big


@njit(cache=True)
def _frontier(walls, y, x, seen, obj_pos, alive, queue, first, mark):
    """Frontier exploration (the reference planners' rule when nothing valued is perceived): the first move
    of a shortest path to the nearest reachable cell not yet seen, by BFS from (y, x) over cells with no wall
    and no live object (touching an unvalued object would trigger it), neighbours in action order (north,
    east, south, west), the first unseen cell dequeued winning; -1 if no unseen cell is reachable.
    ``queue``/``first`` int64 [H * W], ``mark`` bool [H * W] are work arrays."""
    h, w = walls.shape
    mark[:] = False
    for o in range(obj_pos.shape[0]):
        if alive[o]:
            mark[obj_pos[o, 0] * w + obj_pos[o, 1]] = True
    c0 = y * w + x
    mark[c0] = True
    first[c0] = -1
    head = 0
    tail = 0
    queue[tail] = c0
    tail += 1
    while head < tail:
        c = queue[head]
        head += 1
        cy = c // w
        cx = c - cy * w
        for a in range(4):
            if _blocked(walls, cy, cx, a):
                continue
            ny = cy + DY[a]
            nx = cx + DX[a]
            nc = ny * w + nx
            if mark[nc]:
                continue
            mark[nc] = True
            f = a if c == c0 else first[c]
            if not seen[ny, nx]:
                return f
            first[nc] = f
            queue[tail] = nc
            tail += 1
    return -1


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
    _, _, _, p, work, a = _planner_play(genome, lay, rules, key, sc, none, none, False, prev, inv, step, True, None)
    plan[:] = sc.plan
    return a, p, work - p


@njit(cache=True)
def _planner_genes(genome, max_depth, min_depth):
    """Expressed (search depth, discount) of a planner genome: constant over its episodes. Depth is
    clip(floor(g + 0.5), min_depth, max_depth) with min_depth 1 (the original expression) or 0."""
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
def _occupied(obj_pos, alive, y, x, skip):
    """Whether a live object other than ``skip`` lies on (y, x)."""
    for o in range(alive.shape[0]):
        if o != skip and alive[o] and obj_pos[o, 0] == y and obj_pos[o, 1] == x:
            return True
    return False


@njit(cache=True)
def _planner_play(genome, lay, rules, key, sc, reach, trace, record, prev, inv, step, decide_only, fr):
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
    if every shortest step is occupied, the first. With no plan worth > 0, explore (``_explore``; given a
    ``Frontier`` ``fr`` (``EpisodeSpec.explore`` = EXPLORE_FRONTIER) and depth > 0, ``_frontier`` first,
    ``_explore`` only once no unseen cell is reachable: the reference planners' systematic exploration).
    ``fr`` is None for the organisms: numba compiles one loop per type of ``fr`` and prunes every ``fr is not
    None`` branch from the organisms' loop, which runs as fast as before the explorer existed.
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
    # frontier exploration (reference planners only; pruned at compile time when ``fr`` is None)
    max_r = -1
    if fr is not None:
        fr.seen[:] = False
        if depth > 0:
            max_r = _seen_radius(genome, radius, n_feat)
            _mark_seen(fr.seen, y, x, max_r)
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
                if fr is not None:
                    a = _frontier(walls, y, x, fr.seen, obj_pos, alive, fr.queue, fr.first, fr.mark)
                if a < 0:
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
        if fr is not None:
            _mark_seen(fr.seen, y, x, max_r)
        if ended:
            break
    return ret, proxy, steps, plans, work, a


# -- the public wrappers of one decision (``evosim.kernels.planner_action`` / ``planner_plan``) --------
def _planner_call(fn, genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat, kind_inter, radius,
                  n_feat, max_depth, key, step, min_depth=1):
    (genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, kind_feat, radius, n_feat, key,
     step) = _decision_inputs(fn, genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, kind_feat, radius, n_feat,
                              key, step)
    dist = _dist_input(fn, dist, len(obj_kind), walls.shape)
    kind_inter = _arr(f"{fn}: kind_inter", kind_inter, np.int64, 1)
    _shape(f"{fn}: kind_inter", kind_inter, (kind_feat.shape[0],))
    if kind_inter.size and (kind_inter.min() < 0 or kind_inter.max() > 3):
        raise ValueError(f"{fn}: kind_inter must hold Interaction codes 0..3")
    max_depth = _int(f"{fn}: max_depth", max_depth, 1, MAX_DEPTH)
    min_depth = _int(f"{fn}: min_depth", min_depth, 0, 1)
    plan = np.full(MAX_DEPTH, -1, dtype=np.int64)
    a, p, _ = _planner_action(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat, kind_inter,
                              radius, n_feat, max_depth, key, step, plan, min_depth)
    return int(a), int(p), plan


def planner_action(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat, kind_inter, radius,
                   n_feat: int, max_depth: int, key, step: int, min_depth: int = 1) -> tuple[int, int]:
    """(move, plans evaluated) of a planner genome at one state (arguments as in
    ``heuristic_action``, plus the layout's ``dist[M, H, W]`` from ``distance_maps``, the kinds'
    ``kind_inter`` codes, the depth cap ``max_depth`` and the smallest depth ``min_depth``, 1 or 0:
    ``organisms.min_depth``)."""
    a, p, _ = _planner_call("planner_action", genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist,
                            kind_feat, kind_inter, radius, n_feat, max_depth, key, step, min_depth)
    return a, p


def planner_plan(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat, kind_inter, radius,
                 n_feat: int, max_depth: int, key, step: int, min_depth: int = 1) -> tuple[int, int, np.ndarray]:
    """``planner_action`` with the plan it follows: (move, plans evaluated, plan), ``plan``
    int64 [MAX_DEPTH] the object indices of the best plan in visiting order, padded with -1
    (all -1 when the planner explores); the move heads for ``plan[0]``."""
    return _planner_call("planner_plan", genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat,
                         kind_inter, radius, n_feat, max_depth, key, step, min_depth)
