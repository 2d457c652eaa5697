"""Shortest-path distance maps (BFS over walls), computed once per layout.

Owns ``_bfs_into`` (one BFS, optionally treating some cells as reached-but-not-expanded; the
oracle uses that) and ``_distance_maps`` (every object of every layout, in parallel), behind
``evosim.kernels.distance_maps``.

This is the first kernel module ``evosim.kernels`` imports, so it also installs the guard that
keeps numba's on-disk cache of every kernel module honest (``_guard_numba_cache``).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from numba import njit, prange

from evosim.constants import DX, DY, UNREACHABLE


def _kernel_sources_digest() -> str:
    """sha256 of every kernel source and of the modules whose constants the kernels freeze in."""
    here = Path(__file__).resolve().parent
    files = sorted(here.glob("*.py")) + [here.parent / "genome.py", here.parent / "constants.py"]
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _guard_numba_cache() -> None:
    """Invalidate the cached kernels whenever any kernel source changes, not just their own file.

    Numba stamps a cached function with the mtime and size of the file that defines it. A
    kernel that inlines helpers from another file (``rng.uniform``) or freezes constants from
    one (the genome layout, ``UNREACHABLE``) would be loaded stale after that file changed.
    This registers, ahead of numba's own, a cache locator for the files of this package that
    adds a digest of all of them to the stamp. It must run before any kernel is decorated.
    If numba's caching internals change shape, there is no guard (and no error).
    """
    try:
        from numba.core import caching

        impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
        base = caching._CacheLocator
        classes = impl._locator_classes
    except (ImportError, AttributeError):
        return
    if any(getattr(c, "evosim_guard", False) for c in classes):
        return
    inner_classes = list(classes)
    kernel_dir = os.path.dirname(os.path.abspath(__file__))
    digest = _kernel_sources_digest()

    class KernelCacheLocator(base):
        evosim_guard = True

        def __init__(self, inner):
            self._inner = inner

        def ensure_cache_path(self):
            self._inner.ensure_cache_path()

        def get_cache_path(self):
            return self._inner.get_cache_path()

        def get_source_stamp(self):
            return (self._inner.get_source_stamp(), digest)

        def get_disambiguator(self):
            return self._inner.get_disambiguator()

        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.dirname(os.path.abspath(py_file)) != kernel_dir:
                return None
            for c in inner_classes:
                inner = c.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner)
            return None

    classes.insert(0, KernelCacheLocator)


_guard_numba_cache()

@njit(cache=True)
def _bfs_into(walls, sy, sx, blocked, out, queue):
    """BFS distances from (sy, sx) over free cells into ``out`` (UNREACHABLE where cut off).

    Cells with ``blocked`` set are reached but not expanded (objects that would stop a path:
    the oracle uses this); pass an all-False ``blocked`` for plain distances. The start is always
    expanded; a start on a wall reaches nothing. ``queue`` is scratch of at least H * W entries.
    """
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
        if blocked[y, x] and not (y == sy and x == sx):
            continue
        d = out[y, x] + 1
        for a in range(4):
            yy, xx = y + DY[a], x + DX[a]
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
        no_block = np.zeros((h, w), dtype=np.bool_)
        _bfs_into(walls[li], obj_pos[li, o, 0], obj_pos[li, o, 1], no_block, out[li, o], queue)
