"""The network's kernels: its episode loop with the decision written in the loop body (``_network_play``),
its expressed genes (``_network_genes``) and the per-layout wall term of its input convolution
(``_wall_drive``). Naive twin: ``evosim.reference.naive.network_action`` (in its ``episode``).

decide: a small recurrent convolutional network over what the organism perceives, on the grid around it.

    inputs   x[0, p] = 1 if cell p is a wall or off the grid, else 0 (walls are known everywhere, as the
             planner's distances know them); x[1 + f, p] = sum, over live objects on p within channel f's
             perception radius (Manhattan, from the organism), of their feature f. No distance is given.
    drive    d[c, p] = W(p) + b[c] (+ b_key[c] while holding a key) + the feature terms, where
             W(p) = sum over taps t (dy, dx in -1..1, row-major) of wx[c, 0, t] x[0, p + (dy, dx)] and the
             feature terms are added object by object (slot order), channel by channel: an object at q with
             feature v on channel f adds wx[c, 1 + f, t] v to d[c, q - (dy, dx)] for each tap t
    state    k = the expressed iterations (``n_iterations`` gene, clip(floor(g + 0.5), min, max) after
             clamping g to [0, max]); act is tanh (computed as ``_tanh``) or relu; h^1 = act(d), h^j = act(d + sum over c', t of wh[c, c', t] h^(j-1)[c',
             p + (dy, dx)]) (terms in (c', t) order), j = 2..k; the state is 0 off the grid and outside the
             window (``organisms.network_window``; 0: the whole grid)
    readout  score(a) = sum_c r_h[c] h^k[c, n_a] (k > 0) + sum_i r_x[i] x[i, n_a] (+ momentum if a repeats
             the previous move, + back if it undoes it), n_a the cell move a enters; the first maximum wins.

With 0 iterations the network is reactive: its readout sees the cells next to it and nothing else. The
readout depends on h^j only within Chebyshev distance k - j of the four neighbouring cells, so iteration j
updates those cells only (and the organism's own), clipped to the grid and the window: this is exact (the
values are those of the whole grid) and is the work charged, the cells updated summed over iterations.
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from evosim.constants import DX, DY, NET_INPUTS, NET_MAX_CHANNELS, OPPOSITE
from evosim.genome import N_BACK, N_BIAS, N_BIAS_KEY, N_ITER, N_MOMENTUM, N_READ_H, N_READ_X, N_W_H, N_W_X
from evosim.kernels.episode import _blocked, _episode_start, _move_and_interact

NX = NET_INPUTS
NC = NET_MAX_CHANNELS
N_BIAS0, N_BIAS_KEY0, N_READ_H0, N_READ_X0 = N_BIAS.start, N_BIAS_KEY.start, N_READ_H.start, N_READ_X.start
N_W_X0, N_W_H0 = N_W_X.start, N_W_H.start
#: activation codes (``constants.NETWORK_ACTIVATIONS`` order)
ACT_TANH, ACT_RELU = 0, 1

#: what is constant over a rollout for networks: hidden channels used, iteration bounds, activation code,
#: window half-width (0: the whole grid)
NetRules = namedtuple("NetRules", ["channels", "min_iter", "max_iter", "activation", "window"])
#: one organism's network arrays, allocated once per organism (``_new_net_scratch``): expressed weights wx
#: [C, NX, 9], wh [C, C, 9], b, bk, rh [C], rx [NX]; then, over the grid with a one-cell border, flattened row
#: by row (cell (y, x) at q = (y + 1) * (W + 2) + x + 1, n cells in all): wall [C, n] (the wall term W of the
#: layout), drive [C * n] (channel c at c * n + q), hid [2 * C * n] (the state at odd and even iterations, buffer
#: b channel c at (b * C + c) * n + q; the border stays 0) and acc [n] (one channel's sums). The convolution
#: indexes the flat arrays with unsigned integers: numba then emits no negative-index wraparound, and the loop
#: vectorises (7x faster than with signed indices)
NetScratch = namedtuple("NetScratch", ["wx", "wh", "b", "bk", "rh", "rx", "wall", "drive", "hid", "acc"])


@njit(cache=True)
def _new_net_scratch(c, h, w):
    n = (h + 2) * (w + 2)
    return NetScratch(np.zeros((c, NX, 9)), np.zeros((c, c, 9)), np.zeros(c), np.zeros(c), np.zeros(c), np.zeros(NX),
                      np.zeros((c, n)), np.zeros(c * n), np.zeros(2 * c * n), np.zeros(n))


@njit(cache=True, inline="always")
def _tanh(v):
    """tanh as (1 - e) / (1 + e) with e = exp(-2 |v|), signed as v (within about 1e-16 of tanh; one exp is
    cheaper than libm's tanh, and the twin evaluates the same expression)."""
    e = math.exp(-2.0 * abs(v))
    t = (1.0 - e) / (1.0 + e)
    return t if v >= 0.0 else -t


@njit(cache=True)
def _network_genes(genome, c_used, max_iter, min_iter, ns):
    """Fill ``ns``'s weights from the genome (float32 widened to float64); returns (iterations, momentum, back)."""
    for c in range(c_used):
        ns.b[c] = np.float64(genome[N_BIAS0 + c])
        ns.bk[c] = np.float64(genome[N_BIAS_KEY0 + c])
        ns.rh[c] = np.float64(genome[N_READ_H0 + c])
        for i in range(NX):
            for t in range(9):
                ns.wx[c, i, t] = np.float64(genome[N_W_X0 + (c * NX + i) * 9 + t])
        for i in range(c_used):
            for t in range(9):
                ns.wh[c, i, t] = np.float64(genome[N_W_H0 + (c * NC + i) * 9 + t])
    for i in range(NX):
        ns.rx[i] = np.float64(genome[N_READ_X0 + i])
    g = min(max(np.float64(genome[N_ITER]), 0.0), np.float64(max_iter))
    k = min(max(np.int64(math.floor(g + 0.5)), min_iter), max_iter)
    return k, np.float64(genome[N_MOMENTUM]), np.float64(genome[N_BACK])


@njit(cache=True)
def _wall_drive(walls, wx, c_used, out):
    """``out[c, cell]`` = the wall term W of the drive on every cell of the grid (flat, with the border): the sum
    over taps of wx[c, 0, t] where the tap's cell is a wall or off the grid (terms with no wall add 0 and are
    skipped: the sum starts at +0.0, so this is exact)."""
    h, w = walls.shape
    w2 = w + 2
    for c in range(c_used):
        for y in range(h):
            for x in range(w):
                acc = 0.0
                for t in range(9):
                    yy = y + t // 3 - 1
                    xx = x + t % 3 - 1
                    if yy < 0 or yy >= h or xx < 0 or xx >= w or walls[yy, xx] != 0:
                        acc += wx[c, 0, t]
                out[c, (y + 1) * w2 + x + 1] = acc


@njit(cache=True)
def _network_play(genome, lay, rules, net, sc, ns, reach, trace, record):
    """One episode of a network (as ``_heuristic_play``, returning its first five: return, proxy return, steps,
    0 plans, work = hidden-state cells updated, summed over decisions). ``net`` is a ``NetRules``, ``ns`` the
    organism's ``NetScratch``. The decision (module docstring) is written in the loop body.

    Iteration j updates the cells within Chebyshev distance r = k - j of one of the four neighbouring cells,
    and the organism's own (rows y - r - 1 .. y + r + 1; columns x - r .. x + r on the outer two rows, x - r - 1
    .. x + r + 1 on the others), clipped to the grid and the window: the cells the readout depends on. Its
    sums run over whole rows of the flattened grid (contiguous, so they vectorise); values off the updated
    cells are discarded, so each updated cell's value is its sum term by term in the documented order."""
    walls, obj_pos, obj_kind = lay.walls, lay.obj_pos, lay.obj_kind
    kind_feat, kind_reward, kind_proxy, kind_inter = rules.kind_feat, rules.kind_reward, rules.kind_proxy, rules.kind_inter
    radius, n_feat, max_steps, capacity = rules.radius, rules.n_feat, rules.max_steps, rules.capacity
    alive = sc.alive
    wx, wh, b, bk, rh, rx = ns.wx, ns.wh, ns.b, ns.bk, ns.rh, ns.rx
    wall, drive, hid, acc = ns.wall, ns.drive, ns.hid, ns.acc
    c_used = net.channels
    relu = net.activation == ACT_RELU
    h, w = walls.shape
    w2 = w + 2
    n_cells = (h + 2) * w2
    win = net.window if net.window > 0 else h + w
    k, g_mom, g_back = _network_genes(genome, c_used, net.max_iter, net.min_iter, ns)
    if k > 0:
        _wall_drive(walls, wx, c_used, wall)
    direct, chests, keys = _episode_start(lay, kind_inter, kind_reward, alive, reach, trace, record)
    y, x = lay.start[0], lay.start[1]
    inv = 0
    ret = 0.0
    proxy = 0.0
    steps = 0
    eaten = 0
    work = 0
    prev = -1
    n_obj = obj_kind.shape[0]
    max_r = 0
    for f in range(n_feat):
        if radius[f] > max_r:
            max_r = radius[f]
    while steps < max_steps:
        if direct == 0 and (chests == 0 or (inv == 0 and keys == 0)):
            break
        # -- decide: the drive on the square the first iteration reads (radius k), then k iterations
        if k > 0:
            wy0 = max(y - win, 0)
            wy1 = min(y + win, h - 1)
            wx0 = max(x - win, 0)
            wx1 = min(x + win, w - 1)
            y0 = max(y - k, wy0)
            y1 = min(y + k, wy1)
            x0 = max(x - k, wx0)
            x1 = min(x + k, wx1)
            for c in range(c_used):
                for yy in range(y0, y1 + 1):
                    for xx in range(x0, x1 + 1):
                        q = (yy + 1) * w2 + xx + 1
                        s = wall[c, q] + b[c]
                        if inv > 0:
                            s += bk[c]
                        drive[c * n_cells + q] = s
            for o in range(n_obj):
                if not alive[o]:
                    continue
                oy = obj_pos[o, 0]
                ox = obj_pos[o, 1]
                md = abs(oy - y) + abs(ox - x)
                if md > max_r:
                    continue
                kd = obj_kind[o]
                for f in range(n_feat):
                    v = kind_feat[kd, f]
                    if v == 0.0 or md > radius[f]:
                        continue
                    for t in range(9):
                        py = oy - (t // 3 - 1)
                        px = ox - (t % 3 - 1)
                        if py < y0 or py > y1 or px < x0 or px > x1:
                            continue
                        q = (py + 1) * w2 + px + 1
                        for c in range(c_used):
                            drive[c * n_cells + q] += wx[c, 1 + f, t] * v
            if win < h + w:  # the ring just outside the window reads as 0 (the organism has moved)
                for yy in range(max(y - win - 1, -1), min(y + win + 1, h) + 1):
                    for xx in range(max(x - win - 1, -1), min(x + win + 1, w) + 1):
                        if max(abs(yy - y), abs(xx - x)) == win + 1:
                            q = (yy + 1) * w2 + xx + 1
                            for c in range(2 * c_used):
                                hid[c * n_cells + q] = 0.0
            for j in range(1, k + 1):
                r = k - j
                y0 = max(y - r - 1, wy0)
                y1 = min(y + r + 1, wy1)
                cur = j % 2
                old = 1 - cur
                p0 = (y0 + 1) * w2 + 1
                span = np.uint64((y1 + 1) * w2 + w - p0 + 1)  # the flat span of rows y0..y1
                up0 = np.uint64(p0)
                for yy in range(y0, y1 + 1):
                    e = r if abs(yy - y) == r + 1 else r + 1
                    work += min(x + e, wx1) - max(x - e, wx0) + 1
                for c in range(c_used):
                    src = np.uint64(c * n_cells + p0)
                    for d in range(span):
                        acc[up0 + d] = drive[src + d]
                    if j > 1:
                        for i in range(c_used):
                            for t in range(9):
                                wt = wh[c, i, t]
                                src = np.uint64((old * c_used + i) * n_cells + p0 + (t // 3 - 1) * w2 + t % 3 - 1)
                                for d in range(span):
                                    acc[up0 + d] += wt * hid[src + d]
                    for yy in range(y0, y1 + 1):
                        e = r if abs(yy - y) == r + 1 else r + 1
                        for xx in range(max(x - e, wx0), min(x + e, wx1) + 1):
                            q = (yy + 1) * w2 + xx + 1
                            v = acc[q]
                            if relu:
                                hid[(cur * c_used + c) * n_cells + q] = v if v > 0.0 else 0.0
                            else:
                                hid[(cur * c_used + c) * n_cells + q] = _tanh(v)
        # -- readout at the four neighbouring cells
        cur = k % 2
        best_a = 0
        best_s = -np.inf
        for a in range(4):
            ny = y + DY[a]
            nx = x + DX[a]
            s = 0.0
            if k > 0:
                for c in range(c_used):
                    s += rh[c] * hid[(cur * c_used + c) * n_cells + (ny + 1) * w2 + nx + 1]
            if _blocked(walls, y, x, a):
                s += rx[0]
            for f in range(n_feat):
                val = 0.0
                for o in range(n_obj):
                    if alive[o] and obj_pos[o, 0] == ny and obj_pos[o, 1] == nx:
                        if abs(ny - y) + abs(nx - x) <= radius[f]:
                            val += kind_feat[obj_kind[o], f]
                s += rx[1 + f] * val
            if prev >= 0:
                if a == prev:
                    s += g_mom
                elif a == OPPOSITE[prev]:
                    s += g_back
            if s > best_s:
                best_s = s
                best_a = a
        a = best_a
        # -- move and interact
        prev = a
        y, x, steps, inv, direct, chests, keys, eaten, ret, proxy, touched, ended = _move_and_interact(
            walls, a, y, x, steps, obj_pos, obj_kind, kind_inter, kind_reward, kind_proxy, alive, reach, inv, direct,
            chests, keys, eaten, capacity, ret, proxy)
        if record:  # (here, not in the helper: a write in a branch there costs reference counting)
            trace[steps] = y * walls.shape[1] + x
        if ended:
            break
    return ret, proxy, steps, 0, work
