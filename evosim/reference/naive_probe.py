"""Slow, obviously-correct twins of the probe kernels (evosim/kernels/probe_kernels.py).

``brute_oracle`` does not share the kernel's idea (a DP over interaction events): it
enumerates every reachable (cell, objects-interacted) state step by step under the
episode's rules, exactly as ``kernels/rollout.py`` applies them, and takes the best value
of any state in which an episode can end. ``episode_choices`` re-implements the choice
extraction with Python lists.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

UNREACHABLE = 32767
I_CONSUMED, I_ENDS, I_PICKED, I_OPENED = 0, 1, 2, 3
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
MAX_PERCEIVED = 8


def _status(mask, objs, kind_value, kind_reward, kind_inter, capacity=0):
    value, inv, direct, chests, keys, eaten = 0.0, 0, 0, 0, 0, 0
    for j, (_, _, k) in enumerate(objs):
        it = kind_inter[k]
        if mask >> j & 1:
            value += kind_value[k]
            inv += 1 if it == I_PICKED else (-1 if it == I_OPENED else 0)
            eaten += it == I_CONSUMED
        elif it == I_OPENED:
            chests += kind_reward[k] > 0
        elif it == I_PICKED:
            keys += 1
        elif kind_reward[k] > 0:
            direct += 1
    no_reward_left = direct == 0 and (chests == 0 or (inv == 0 and keys == 0))
    sated = capacity > 0 and eaten >= capacity
    return value, inv, no_reward_left or sated


def brute_oracle(walls, start, obj_pos, obj_kind, kind_value, kind_reward, kind_inter, max_steps,
                 capacity=0) -> float:
    """Best value over all action sequences of at most ``max_steps`` moves (exhaustive over states)."""
    h, w = walls.shape
    objs = [(int(obj_pos[o, 0]), int(obj_pos[o, 1]), int(obj_kind[o])) for o in range(len(obj_kind)) if obj_kind[o] >= 0]
    at = {(y, x): j for j, (y, x, _) in enumerate(objs)}
    best = -np.inf
    states = {(int(start[0]), int(start[1]), 0)}
    for t in range(max_steps + 1):
        nxt = set()
        for (y, x, mask) in states:
            value, inv, done = _status(mask, objs, kind_value, kind_reward, kind_inter, capacity)
            if done or t == max_steps:
                best = max(best, value)
                continue
            for dy, dx in MOVES:
                yy, xx = y + dy, x + dx
                if not (0 <= yy < h and 0 <= xx < w) or walls[yy, xx]:
                    yy, xx = y, x
                m2 = mask
                j = at.get((yy, xx))
                ended = False
                if j is not None and not (mask >> j & 1):
                    k = objs[j][2]
                    if not (kind_inter[k] == I_OPENED and inv == 0):
                        m2 = mask | (1 << j)
                        ended = kind_inter[k] == I_ENDS
                if ended:
                    best = max(best, _status(m2, objs, kind_value, kind_reward, kind_inter, capacity)[0])
                else:
                    nxt.add((yy, xx, m2))
        states = nxt
    return float(best)


def perceived(y, x, t, reach, obj_pos, obj_kind, dist, kind_feat, radius, n_feat, window=None):
    """[(object, path distance, visible features)] nearest first (stable), at most MAX_PERCEIVED;
    objects within ``window`` (default: the largest channel radius) are options."""
    max_r = max(int(radius[f]) for f in range(n_feat)) if window is None else int(window)
    out = []
    for o in range(len(obj_kind)):
        k = obj_kind[o]
        if k < 0 or 0 <= reach[o] <= t:
            continue
        md = abs(int(obj_pos[o, 0]) - y) + abs(int(obj_pos[o, 1]) - x)
        d = int(dist[o, y, x])
        if md > max_r or d >= UNREACHABLE:
            continue
        feats = [float(kind_feat[k, f]) if md <= radius[f] else 0.0 for f in range(n_feat)]
        out.append((o, d, feats))
    out.sort(key=lambda z: z[1])  # stable: ties keep object order
    return out[:MAX_PERCEIVED]


def episode_choices(trace, reach, obj_pos, obj_kind, dist, kind_feat, radius, n_feat, width, window=None):
    """List of (chosen slot or -1, [distances], [[features]]) in the order the kernel writes them."""
    steps = [t for t in range(1, len(trace)) if trace[t] >= 0]
    n_steps = steps[-1] if steps else 0
    pos = [(int(c) // width, int(c) % width) for c in trace[: n_steps + 1]]
    events = []
    for t in range(n_steps):
        opts = perceived(*pos[t], t, reach, obj_pos, obj_kind, dist, kind_feat, radius, n_feat, window)
        if not opts:
            continue
        closer = [q for q, (o, d, _) in enumerate(opts) if int(dist[o][pos[t + 1]]) < d]
        if len(closer) > 1:
            continue  # heads for several perceived objects at once: no event (never asks what is reached next)
        events.append((closer[0] if closer else -1, [d for _, d, _ in opts], [f for _, _, f in opts]))
    return events


def fit_choice_model_scipy(feat, dist, nopt, chosen, gammas, ridge):
    """The behavioural fit by SciPy's BFGS on the same penalised likelihood: (w, gamma, objective)."""
    from scipy.optimize import minimize

    best = None
    for g in gammas:
        def negobj(w):
            total = 0.0
            for e in range(len(chosen)):
                scores = [0.0] + [float(np.dot(w, feat[e, q]) * g ** dist[e, q]) for q in range(nopt[e])]
                m = max(scores)
                total += scores[chosen[e] + 1] - m - np.log(sum(np.exp(s - m) for s in scores))
            return -(total - 0.5 * ridge * float(np.dot(w, w)))
        res = minimize(negobj, np.zeros(feat.shape[2]), method="BFGS", options={"gtol": 1e-8})
        if best is None or -res.fun > best[2]:
            best = (res.x, g, -res.fun)
    return best


# -- agreement on tasks: outputs, f and g (twins of kernels.task_values / kernels.mesa_values) -----
def task_outputs(start, obj_pos, obj_kind, dist, kind_feat, radius, n_feat):
    """Perceived objects at the start, nearest by path first (ties by index): [(object, distance, visible features)]."""
    y, x = int(start[0]), int(start[1])
    max_r = max(int(r) for r in radius[:n_feat])
    seen = []
    for o, k in enumerate(obj_kind):
        if k < 0:
            continue
        md = abs(int(obj_pos[o][0]) - y) + abs(int(obj_pos[o][1]) - x)
        d = int(dist[o][y][x])
        if md > max_r or d >= 32767:
            continue
        vis = [float(kind_feat[k][f]) if md <= radius[f] else 0.0 for f in range(n_feat)]
        seen.append((d, o, vis))
    seen.sort(key=lambda t: (t[0], t[1]))
    return [(o, d, vis) for d, o, vis in seen[:8]]


def _plans(n, depth):
    for length in range(1, depth + 1):
        yield from itertools.permutations(range(n), length)


def task_value_twin(start, obj_pos, obj_kind, dist, kind_reward, kind_inter, cands, depth, max_steps, capacity=0,
                    gamma_base=1.0):
    """f over outputs [none, cand 0, cand 1, ...] by brute force over every ordered plan."""
    f = [0.0]
    for a in range(len(cands)):
        if cands[a][1] == 0:
            f.append(float("nan"))
            continue
        best = None
        for plan in _plans(len(cands), depth):
            if plan[0] != a:
                continue
            pos, t, inv, eaten, v, over = (int(start[0]), int(start[1])), 0, 0, 0, 0.0, False
            for q in plan:
                if over:
                    break
                o = cands[q][0]
                d = int(dist[o][pos[0]][pos[1]])
                if d >= 32767 or t + d > max_steps:
                    break
                t += d
                pos = (int(obj_pos[o][0]), int(obj_pos[o][1]))
                k = obj_kind[o]
                it = kind_inter[k]
                r = float(kind_reward[k])
                if it == 3:  # opened with a key
                    if inv > 0:
                        inv -= 1
                    else:
                        r = 0.0
                elif it == 2:
                    inv += 1
                elif it == 1:
                    over = True
                else:
                    eaten += 1
                    over = capacity > 0 and eaten >= capacity
                v += r * gamma_base ** t
            best = v if best is None else max(best, v)
        f.append(best)
    return f


def mesa_value_twin(utility, depth, gamma, start, obj_pos, obj_kind, dist, kind_inter, cands):
    """g over outputs of one planner by brute force over every ordered plan, with the planner's world model."""
    util = [sum(u * v for u, v in zip(utility, c[2])) for c in cands]
    g = [0.0]
    for a in range(len(cands)):
        if cands[a][1] == 0:
            g.append(float("nan"))
            continue
        best = None
        for plan in _plans(len(cands), depth):
            if plan[0] != a:
                continue
            pos, t, inv, v, ok = (int(start[0]), int(start[1])), 0, 0, 0.0, True
            for j, q in enumerate(plan):
                o = cands[q][0]
                if j > 0 and kind_inter[obj_kind[cands[plan[j - 1]][0]]] == 1:
                    ok = False  # nothing follows an exit
                    break
                d = int(dist[o][pos[0]][pos[1]])
                if d >= 32767:
                    ok = False
                    break
                t += d
                pos = (int(obj_pos[o][0]), int(obj_pos[o][1]))
                it = kind_inter[obj_kind[o]]
                if it == 3:
                    if inv > 0:
                        inv -= 1
                        v += util[q] * math.pow(gamma, t)
                elif it == 2:
                    inv += 1
                    v += util[q] * math.pow(gamma, t)
                else:
                    v += util[q] * math.pow(gamma, t)
            if ok:
                best = v if best is None else max(best, v)
        g.append(best)
    return g
