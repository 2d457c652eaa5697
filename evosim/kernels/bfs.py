"""Shortest-path distance maps (BFS over walls), computed once per layout."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from evosim.constants import UNREACHABLE

_DY = np.array([-1, 0, 1, 0], dtype=np.int64)
_DX = np.array([0, 1, 0, -1], dtype=np.int64)


@njit(cache=True)
def _bfs_into(walls, sy, sx, out, queue):
    h, w = walls.shape
    out[:, :] = UNREACHABLE
    if walls[sy, sx] != 0:
        return
    out[sy, sx] = 0
    queue[0] = sy * w + sx
    head, tail = 0, 1
    while head < tail:
        c = queue[head]
        head += 1
        y, x = c // w, c % w
        d = out[y, x] + 1
        for a in range(4):
            yy, xx = y + _DY[a], x + _DX[a]
            if 0 <= yy < h and 0 <= xx < w and walls[yy, xx] == 0 and out[yy, xx] == UNREACHABLE:
                out[yy, xx] = d
                queue[tail] = yy * w + xx
                tail += 1


@njit(cache=True, parallel=True)
def _distance_maps(walls, obj_pos, obj_kind, out):
    n_layouts, m = obj_kind.shape
    h, w = walls.shape[1], walls.shape[2]
    for t in prange(n_layouts * m):
        li, o = t // m, t % m
        if obj_kind[li, o] < 0:
            out[li, o, :, :] = UNREACHABLE
            continue
        queue = np.empty(h * w, dtype=np.int64)
        _bfs_into(walls[li], obj_pos[li, o, 0], obj_pos[li, o, 1], out[li, o], queue)
