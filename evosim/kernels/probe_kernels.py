"""Numba kernels of the probe: the exact oracle, the extraction of choice events and the fit of
the behavioural objective (the choice model) to them.

Owns ``_oracle`` (behind ``evosim.kernels.oracle_values``), ``_count_choices`` and
``_fill_choices`` (behind ``evosim.kernels.choice_events``) and ``_fit_choices`` (behind
``evosim.kernels.fit_choices``). Arrays and scalars only. Slow twins live in ``evosim/reference/naive_probe.py`` (a brute-force search
over the true step dynamics for the oracle, a plain-Python re-implementation for the choice
extraction); ``tests/test_oracle.py`` and ``tests/test_probe.py`` compare them.

Oracle
    The best value (base reward or proxy) any policy can collect within ``max_steps`` from
    the start, under the episode's real rules. A trajectory is a sequence of interaction
    events; between two events it avoids every cell whose object would interact (alive
    objects; a chest only while a key is held), so the shortest such path is a BFS that
    treats those cells as walls except the target. The state after an event is fully given
    by the set of objects interacted with (it fixes position, inventory and value), so a DP
    over (set, last object) keeping the earliest arrival time is exact. Expansion stops where
    the episode would stop: an episode-ending object, or no base reward left to earn.

Choice events
    For the behavioural objective: one event per step at which the organism perceives
    something (options: the perceived alive objects, with what it can see of them and their
    path distances, nearest ``MAX_PERCEIVED`` first). The choice does not depend on what the
    organism reaches later (no conditioning on the outcome): if the step shortens the
    path to exactly one perceived object, that object is the choice; if it shortens the path to
    none, the choice is the outside option (none of them); if it shortens the paths to several,
    the step does not say which one it heads for and gives no event.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from evosim.constants import I_ENDS, I_OPENED, I_PICKED, MAX_PERCEIVED, UNREACHABLE
from evosim.kernels.bfs import _bfs_into

#: the oracle handles at most this many objects per layout (2^m DP states)
ORACLE_MAX_OBJECTS = 16


# -- oracle ----------------------------------------------------------------------------------
@njit(cache=True)
def _oracle_one(walls, start, obj_pos, obj_kind, kind_value, kind_reward, kind_inter, max_steps, capacity):
    h, w = walls.shape
    # live objects, compacted
    m = 0
    for o in range(obj_kind.shape[0]):
        if obj_kind[o] >= 0:
            m += 1
    idx = np.empty(m, dtype=np.int64)
    j = 0
    for o in range(obj_kind.shape[0]):
        if obj_kind[o] >= 0:
            idx[j] = o
            j += 1
    n_masks = 1 << m
    big = np.int64(1) << 40
    arrive = np.full((n_masks, m + 1), big, dtype=np.int64)  # slot m: at the start
    arrive[0, m] = 0
    blocked = np.zeros((h, w), dtype=np.bool_)
    dmap = np.empty((h, w), dtype=np.int64)
    queue = np.empty(h * w, dtype=np.int64)
    best = 0.0
    for mask in range(n_masks):
        # value, inventory and what is left, given the set of objects interacted with
        value = 0.0
        inv = 0
        direct = 0
        chests = 0
        keys = 0
        eaten = 0
        ended = False
        for j in range(m):
            k = obj_kind[idx[j]]
            it = kind_inter[k]
            if mask & (1 << j):
                value += kind_value[k]
                if it == I_PICKED:
                    inv += 1
                elif it == I_OPENED:
                    inv -= 1
                elif it == I_ENDS:
                    ended = True
                else:
                    eaten += 1
            else:
                if it == I_OPENED:
                    if kind_reward[k] > 0:
                        chests += 1
                elif it == I_PICKED:
                    keys += 1
                elif kind_reward[k] > 0:
                    direct += 1
        sated = capacity > 0 and eaten >= capacity
        stop = ended or sated or (direct == 0 and (chests == 0 or (inv == 0 and keys == 0)))
        for last in range(m + 1):
            t = arrive[mask, last]
            if t > max_steps:
                continue
            if value > best:
                best = value
            if stop:
                continue
            if last == m:
                sy, sx = start[0], start[1]
            else:
                sy, sx = obj_pos[idx[last], 0], obj_pos[idx[last], 1]
            blocked[:, :] = False
            for j in range(m):
                if mask & (1 << j):
                    continue
                k = obj_kind[idx[j]]
                if kind_inter[k] == I_OPENED and inv == 0:
                    continue  # a chest without a key in hand is walked over
                blocked[obj_pos[idx[j], 0], obj_pos[idx[j], 1]] = True
            _bfs_into(walls, sy, sx, blocked, dmap, queue)
            for j in range(m):
                if mask & (1 << j):
                    continue
                y, x = obj_pos[idx[j], 0], obj_pos[idx[j], 1]
                if not blocked[y, x]:
                    continue
                d = dmap[y, x]
                if d >= UNREACHABLE:
                    continue
                nt = t + d
                if nt <= max_steps and nt < arrive[mask | (1 << j), j]:
                    arrive[mask | (1 << j), j] = nt
    return best


@njit(cache=True, parallel=True)
def _oracle(walls, start, obj_pos, obj_kind, kind_value, kind_reward, kind_inter, max_steps, capacity, out):
    for li in prange(walls.shape[0]):
        out[li] = _oracle_one(walls[li], start[li], obj_pos[li], obj_kind[li], kind_value, kind_reward, kind_inter,
                              max_steps, capacity)


# -- choice events ---------------------------------------------------------------------------
@njit(cache=True)
def _options(y, x, t, reach, obj_pos, obj_kind, dist, kind_feat, radius, n_feat, max_r, opt, opt_d, opt_f):
    """Perceived alive objects at step ``t`` from (y, x), nearest (path) first: returns how many."""
    n = 0
    for o in range(obj_kind.shape[0]):
        k = obj_kind[o]
        if k < 0 or (reach[o] >= 0 and reach[o] <= t):
            continue
        md = abs(obj_pos[o, 0] - y) + abs(obj_pos[o, 1] - x)
        if md > max_r:
            continue
        d = np.int64(dist[o, y, x])
        if d >= UNREACHABLE:
            continue
        j = n
        while j > 0 and opt_d[j - 1] > d:
            j -= 1
        if j >= MAX_PERCEIVED:
            continue
        last = min(n, MAX_PERCEIVED - 1)
        for s in range(last, j, -1):
            opt[s] = opt[s - 1]
            opt_d[s] = opt_d[s - 1]
            for f in range(n_feat):
                opt_f[s, f] = opt_f[s - 1, f]
        opt[j] = o
        opt_d[j] = d
        for f in range(n_feat):
            opt_f[j, f] = kind_feat[k, f] if md <= radius[f] else 0.0
        if n < MAX_PERCEIVED:
            n += 1
    return n


@njit(cache=True)
def _episode_choices(trace, reach, obj_pos, obj_kind, dist, kind_feat, radius, n_feat, width, window,
                     base, ev_step, ev_opt, ev_nopt, ev_chosen):
    """Choice events of one episode, written compactly from row ``base``: the step, the options
    (object indices, nearest first), how many and the slot chosen (-1: none). Returns the count.
    Objects within ``window`` (Manhattan) are options; ``window`` < 0: the largest channel radius."""
    max_r = 0
    for f in range(n_feat):
        if radius[f] > max_r:
            max_r = radius[f]
    if window >= 0:
        max_r = window
    n_steps = 0
    for t in range(1, trace.shape[0]):
        if trace[t] < 0:
            break
        n_steps = t
    opt = np.empty(MAX_PERCEIVED, dtype=np.int64)
    opt_d = np.empty(MAX_PERCEIVED, dtype=np.int64)
    opt_f = np.zeros((MAX_PERCEIVED, n_feat))
    count = 0
    for t in range(n_steps):
        c = trace[t]
        n = _options(c // width, c % width, t, reach, obj_pos, obj_kind, dist, kind_feat, radius, n_feat, max_r,
                     opt, opt_d, opt_f)
        if n == 0:
            continue
        c1 = trace[t + 1]
        pick = -1
        n_closer = 0
        for q in range(n):
            if np.int64(dist[opt[q], c1 // width, c1 % width]) < opt_d[q]:
                n_closer += 1
                pick = q
        if n_closer > 1:
            continue  # the step heads for several perceived objects at once: ambiguous, no event
        row = base + count
        ev_step[row] = t
        ev_nopt[row] = n
        ev_chosen[row] = pick
        for q in range(n):
            ev_opt[row, q] = opt[q]
        count += 1
    return count


@njit(cache=True, parallel=True)
def _scan_choices(trace, reach, episode_layout, obj_pos, obj_kind, dist, kind_feat, radius, n_feat, width, window,
                  counts, ev_step, ev_opt, ev_nopt, ev_chosen):
    """One pass over every episode: its events' compact records from row ``episode * slots`` (``slots``
    = the longest episode's steps, so no episode overflows its rows) and their count."""
    n, e = trace.shape[0], trace.shape[1]
    slots = trace.shape[2] - 1
    for t in prange(n * e):
        i, j = t // e, t % e
        li = episode_layout[j]
        counts[i, j] = _episode_choices(trace[i, j], reach[i, j], obj_pos[li], obj_kind[li], dist[li], kind_feat,
                                        radius, n_feat, width, window, t * slots, ev_step, ev_opt, ev_nopt, ev_chosen)


@njit(cache=True, parallel=True)
def _expand_choices(trace, episode_layout, obj_pos, obj_kind, dist, kind_feat, radius, n_feat, width, counts, offsets,
                    ev_step, ev_opt, ev_nopt, ev_chosen, feat, ev_dist, nopt, chosen):
    """The compact records of ``_scan_choices`` packed by episode from ``offsets`` with every option's
    path distance and perceived features (a feature beyond its channel's radius reads 0), as ``_options``
    computed them."""
    n, e = trace.shape[0], trace.shape[1]
    slots = trace.shape[2] - 1
    for t in prange(n * e):
        i, j = t // e, t % e
        li = episode_layout[j]
        for r in range(counts[i, j]):
            src = t * slots + r
            dst = offsets[t] + r
            c = trace[i, j, ev_step[src]]
            y, x = c // width, c % width
            k = ev_nopt[src]
            nopt[dst] = k
            chosen[dst] = ev_chosen[src]
            for q in range(k):
                o = ev_opt[src, q]
                ev_dist[dst, q] = np.int64(dist[li, o, y, x])
                md = abs(obj_pos[li, o, 0] - y) + abs(obj_pos[li, o, 1] - x)
                kind = obj_kind[li, o]
                for f in range(n_feat):
                    feat[dst, q, f] = kind_feat[kind, f] if md <= radius[f] else 0.0


# -- behavioural objective: penalised maximum likelihood of the choice model -----------------
@njit(cache=True)
def _discounted(feat, dist, nopt, lo, hi, gamma, xd):
    """The design of events lo..hi-1 under discount ``gamma``: ``xd[e - lo, q] = feat[e, q] * gamma ** dist[e, q]``
    for each event's options (computed once per gamma, not at every evaluation of the objective)."""
    f = feat.shape[2]
    for e in range(lo, hi):
        for q in range(nopt[e]):
            disc = gamma ** np.float64(dist[e, q])
            for j in range(f):
                xd[e - lo, q, j] = feat[e, q, j] * disc


@njit(cache=True)
def _choice_objective(w, xd, nopt, chosen, lo, hi, ridge, grad, hess, want_derivs):
    """Penalised log-likelihood of events lo..hi-1 (outside option = score 0) on their design ``xd``
    (``_discounted``); fills grad/hess.

    Written for speed, with the same floating-point operations in the same order as the plain form (score
    s_q = w . x_q, p_q = exp(s_q - max s) / z, grad += x_chosen - sum p_q x_q, hess += sum p_q x_q x_q^T - xbar xbar^T):
    the outside option's terms (no features: exact zeros) are left out, exp(0) = 1 is not computed, and
    p_q x_q is computed once for the mean and the Hessian."""
    f = w.shape[0]
    k_max = xd.shape[1]
    s = np.zeros(k_max + 1)
    p = np.zeros(k_max + 1)
    px = np.zeros((k_max, f))
    xbar = np.zeros(f)
    total = 0.0
    if want_derivs:
        grad[:] = 0.0
        hess[:, :] = 0.0
    for e in range(lo, hi):
        n = nopt[e]
        r = e - lo
        mx = 0.0
        for q in range(n):
            v = 0.0
            for j in range(f):
                v += w[j] * xd[r, q, j]
            s[q + 1] = v
            if v > mx:
                mx = v
        s[0] = 0.0
        z = 0.0
        for q in range(n + 1):
            d = s[q] - mx
            p[q] = 1.0 if d == 0.0 else np.exp(d)
            z += p[q]
        c = chosen[e] + 1
        total += s[c] - mx - np.log(z)
        if want_derivs:
            for j in range(f):
                xbar[j] = 0.0
            for q in range(n):
                pq = p[q + 1] / z
                for j in range(f):
                    t = pq * xd[r, q, j]
                    px[q, j] = t
                    xbar[j] += t
            for j in range(f):
                grad[j] += (xd[r, c - 1, j] if c > 0 else 0.0) - xbar[j]
                for l in range(f):
                    acc = -xbar[j] * xbar[l]
                    for q in range(n):
                        acc += px[q, j] * xd[r, q, l]
                    hess[j, l] += acc
    for j in range(f):
        total -= 0.5 * ridge * w[j] * w[j]
        if want_derivs:
            grad[j] -= ridge * w[j]
            hess[j, j] += ridge
    return total


@njit(cache=True)
def _fit_one(feat, dist, nopt, chosen, lo, hi, gammas, ridge, w_out):
    """Newton's method with backtracking for each gamma; keeps the best. Returns (gamma, objective).
    Each accepted trial point's derivatives come with its objective (the next Newton step needs them),
    so the objective is evaluated once per trial point."""
    f = w_out.shape[0]
    w = np.zeros(f)
    grad = np.zeros(f)
    hess = np.zeros((f, f))
    grad_c = np.zeros(f)
    hess_c = np.zeros((f, f))
    cand = np.zeros(f)
    xd = np.zeros((hi - lo, feat.shape[1], f))
    best_obj = -np.inf
    best_g = np.nan
    for gi in range(gammas.shape[0]):
        g = gammas[gi]
        _discounted(feat, dist, nopt, lo, hi, g, xd)
        obj = _choice_objective(w, xd, nopt, chosen, lo, hi, ridge, grad, hess, True)
        for _ in range(100):
            step = np.linalg.solve(hess, grad)
            t = 1.0
            improved = False
            for _ in range(30):
                for j in range(f):
                    cand[j] = w[j] + t * step[j]
                new = _choice_objective(cand, xd, nopt, chosen, lo, hi, ridge, grad_c, hess_c, True)
                if new >= obj:
                    improved = True
                    break
                t *= 0.5
            if not improved:
                break
            delta = new - obj
            w[:] = cand
            grad[:] = grad_c
            hess[:, :] = hess_c
            obj = new
            if delta < 1e-10 * (1.0 + abs(obj)) or np.max(np.abs(t * step)) < 1e-7:
                break
        if obj > best_obj:
            best_obj = obj
            best_g = g
            w_out[:] = w
    return best_g, best_obj


@njit(cache=True, parallel=True)
def _fit_choices(feat, dist, nopt, chosen, org_start, gammas, ridge, w_out, gamma_out, obj_out):
    """Fit the choice model for every organism; organism i owns events org_start[i]..org_start[i+1]-1."""
    n_org = org_start.shape[0] - 1
    for i in prange(n_org):
        lo, hi = org_start[i], org_start[i + 1]
        if hi <= lo:
            w_out[i, :] = np.nan
            gamma_out[i] = np.nan
            obj_out[i] = np.nan
            continue
        g, o = _fit_one(feat, dist, nopt, chosen, lo, hi, gammas, ridge, w_out[i])
        gamma_out[i] = g
        obj_out[i] = o


# -- agreement relative to a distribution (the type-signature essay): outputs, f and g per task -----------------
# A task is a probe layout; its outputs are the first choices open to an organism at the start:
# slot 0 = "none of them" (explore), slot q + 1 = head first for the q-th perceived object
# (nearest by path first, as the planner's ``_perceive`` orders them). f values an output by the
# base return of the best plan (up to ``depth`` visits among the perceived objects) that starts
# with it, under the true rules; g values it by the organism's own search.
@njit(cache=True)
def _task_candidates(start, obj_pos, obj_kind, dist, kind_feat, radius, n_feat, cand, cand_d, vis):
    """Perceived objects at the start into cand/cand_d/vis (visible features); returns how many.
    The choice events' perception (``_options``) at step 0 with every object present."""
    max_r = 0
    for f in range(n_feat):
        if radius[f] > max_r:
            max_r = radius[f]
    untouched = np.full(obj_kind.shape[0], -1, dtype=np.int64)
    return _options(start[0], start[1], 0, untouched, obj_pos, obj_kind, dist, kind_feat, radius, n_feat, max_r,
                    cand, cand_d, vis)


@njit(cache=True)
def _base_step(k, kind_reward, kind_inter, inv, eaten, capacity):
    """True rules of one visit: (reward, inventory after, eaten after, episode over after)."""
    it = kind_inter[k]
    if it == I_OPENED:
        if inv > 0:
            return np.float64(kind_reward[k]), inv - 1, eaten, False
        return 0.0, inv, eaten, False
    if it == I_PICKED:
        return np.float64(kind_reward[k]), inv + 1, eaten, False
    if it == I_ENDS:
        return np.float64(kind_reward[k]), inv, eaten, True
    eaten += 1
    return np.float64(kind_reward[k]), inv, eaten, capacity > 0 and eaten >= capacity


@njit(cache=True, parallel=True)
def _task_values(start, obj_pos, obj_kind, dist, kind_feat, kind_reward, kind_inter, radius, n_feat, depth,
                 max_steps, capacity, gamma_base, cand, cand_d, vis, n_cand, f_out):
    """Per task: the perceived objects (cand, cand_d, vis, n_cand) and f over outputs (f_out[L, P+1],
    NaN for slots that are no output). f(none) = 0; f(q) = max over plans of 1..depth distinct
    perceived objects starting with q of sum gamma_base**t * reward, visits arriving after
    ``max_steps`` count nothing, a plan ends at an episode-ending object or at satiety."""
    for li in prange(start.shape[0]):
        nc = _task_candidates(start[li], obj_pos[li], obj_kind[li], dist[li], kind_feat, radius, n_feat, cand[li],
                              cand_d[li], vis[li])
        n_cand[li] = nc
        f_out[li, :] = np.nan
        f_out[li, 0] = 0.0
        ok = obj_kind[li]
        op = obj_pos[li]
        dl = dist[li]
        for a in range(nc):
            t1 = cand_d[li, a]
            if t1 == 0:
                continue
            oa = cand[li, a]
            best = 0.0
            if t1 <= max_steps:
                r1, inv1, e1, end1 = _base_step(ok[oa], kind_reward, kind_inter, 0, 0, capacity)
                v1 = r1 * gamma_base ** np.float64(t1)
                best = v1
                if depth > 1 and not end1:
                    for b in range(nc):
                        if b == a:
                            continue
                        ob = cand[li, b]
                        d2 = np.int64(dl[ob, op[oa, 0], op[oa, 1]])
                        if d2 >= UNREACHABLE or t1 + d2 > max_steps:
                            continue
                        t2 = t1 + d2
                        r2, inv2, e2, end2 = _base_step(ok[ob], kind_reward, kind_inter, inv1, e1, capacity)
                        v2 = v1 + r2 * gamma_base ** np.float64(t2)
                        if v2 > best:
                            best = v2
                        if depth > 2 and not end2:
                            for c in range(nc):
                                if c == a or c == b:
                                    continue
                                oc = cand[li, c]
                                d3 = np.int64(dl[oc, op[ob, 0], op[ob, 1]])
                                if d3 >= UNREACHABLE or t2 + d3 > max_steps:
                                    continue
                                r3, inv3, e3, end3 = _base_step(ok[oc], kind_reward, kind_inter, inv2, e2, capacity)
                                v3 = v2 + r3 * gamma_base ** np.float64(t2 + d3)
                                if v3 > best:
                                    best = v3
            f_out[li, a + 1] = best


@njit(cache=True)
def _mesa_term(k, u, kind_inter, inv, t, gamma):
    """The planner's world model of one visit: (value term, inventory after) as in rollout._search."""
    it = kind_inter[k]
    if it == I_OPENED:
        if inv > 0:
            return u * math.pow(gamma, np.float64(t)), inv - 1
        return 0.0, inv
    if it == I_PICKED:
        return u * math.pow(gamma, np.float64(t)), inv + 1
    return u * math.pow(gamma, np.float64(t)), inv


@njit(cache=True, parallel=True)
def _mesa_values(utility, depth, gamma, obj_pos, obj_kind, dist, kind_inter, cand, cand_d, vis, n_cand, g_out):
    """g over outputs for every organism and task (g_out[N, L, P+1], NaN for no output): g(none) = 0;
    g(q) = max over the organism's plans (1..depth[i] distinct perceived objects, its own utility of
    what it sees from the start, its own discount, its world model) that start with q."""
    n, nl = utility.shape[0], cand.shape[0]
    nf = utility.shape[1]
    for job in prange(n * nl):
        i, li = job // nl, job % nl
        g_out[i, li, :] = np.nan
        g_out[i, li, 0] = 0.0
        nc = n_cand[li]
        util = np.zeros(MAX_PERCEIVED)
        for q in range(nc):
            s = 0.0
            for f in range(nf):
                s += utility[i, f] * vis[li, q, f]
            util[q] = s
        ok = obj_kind[li]
        op = obj_pos[li]
        dl = dist[li]
        dep = depth[i]
        gm = gamma[i]
        for a in range(nc):
            t1 = cand_d[li, a]
            if t1 == 0:
                continue
            oa = cand[li, a]
            v1, inv1 = _mesa_term(ok[oa], util[a], kind_inter, 0, t1, gm)
            best = v1
            if dep > 1 and kind_inter[ok[oa]] != I_ENDS:
                for b in range(nc):
                    if b == a:
                        continue
                    ob = cand[li, b]
                    d2 = np.int64(dl[ob, op[oa, 0], op[oa, 1]])
                    if d2 >= UNREACHABLE:
                        continue
                    term, inv2 = _mesa_term(ok[ob], util[b], kind_inter, inv1, t1 + d2, gm)
                    v2 = v1 + term
                    if v2 > best:
                        best = v2
                    if dep > 2 and kind_inter[ok[ob]] != I_ENDS:
                        for c in range(nc):
                            if c == a or c == b:
                                continue
                            oc = cand[li, c]
                            d3 = np.int64(dl[oc, op[ob, 0], op[ob, 1]])
                            if d3 >= UNREACHABLE:
                                continue
                            term3, _ = _mesa_term(ok[oc], util[c], kind_inter, inv2, t1 + d2 + d3, gm)
                            v3 = v2 + term3
                            if v3 > best:
                                best = v3
            g_out[i, li, a + 1] = best
