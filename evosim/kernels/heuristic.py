"""The heuristic's kernels: its decision written in its episode loop (``_heuristic_play``), its one-state
entry point (``_heuristic_action``, behind ``evosim.kernels.heuristic_action``), its signals
(``_signals_into``) and the per-layout signal tables the population dispatcher fills once
(``_signal_tables``). Naive twin: ``evosim.reference.naive.heuristic_action`` (in its ``episode``).

decide: argmax over moves of a linear score of directional feature signals (path: BFS-gradient toward
perceived objects, the planner's distances; or compass: Manhattan-direction sums), wall bits,
inventory, momentum and Gumbel noise (no lookahead).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from evosim.constants import MAX_FEATURES, MAX_STEPS_LIMIT, OPPOSITE, SIGNAL_PATH
from evosim.genome import H_ATTRACT, H_ATTRACT_KEY, H_BACK, H_LOGTEMP, H_MOMENTUM, H_WALL
from evosim.kernels import rng as _rng
from evosim.kernels.checks import _decision_inputs, _dist_input, _signal_code
from evosim.kernels.episode import (
    EpisodeLayout, Rules, _blocked, _episode_start, _move_and_interact, _new_scratch, _path_signals_into,
)
from evosim.kernels.rng import _splitmix64, _uniform

H_ATT0 = H_ATTRACT.start
H_KEY0 = H_ATTRACT_KEY.start


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


# -- the public wrapper of one decision (``evosim.kernels.heuristic_action``) ----------------------
def heuristic_action(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat, radius,
                     n_feat: int, key, step: int, heuristic_signal: str = "path") -> int:
    """The move (``Action``) a heuristic genome takes at one state: standing on (y, x) of
    ``walls[H, W]`` after move ``prev`` (-1: none yet) holding ``inv`` keys, with objects
    ``obj_pos[M, 2]`` / ``obj_kind[M]`` of which ``alive[M]`` are still there, the layout's
    ``dist[M, H, W]`` from ``distance_maps``, at step ``step`` of the episode with random key
    ``key`` (see ``episode_keys``), sensing ``heuristic_signal`` ("path" or "compass")."""
    fn = "heuristic_action"
    mode = _signal_code(fn, heuristic_signal)
    (genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, kind_feat, radius, n_feat, key,
     step) = _decision_inputs(fn, genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, kind_feat, radius, n_feat,
                              key, step)
    dist = _dist_input(fn, dist, len(obj_kind), walls.shape)
    return int(_heuristic_action(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat, radius,
                                 n_feat, key, step, mode))
