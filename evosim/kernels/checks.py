"""Input checks of the kernels' public wrappers: each raises a one-line ``ValueError`` naming the function
and the argument (shape, dtype, range). Pure Python and numpy."""
from __future__ import annotations

import numpy as np

from evosim.constants import HEURISTIC_SIGNALS, MAX_FEATURES, N_ACTIONS
from evosim.genome import N_GENES


def _signal_code(fn: str, signal) -> int:
    """The kernels' int code of a heuristic signal name (its index in ``HEURISTIC_SIGNALS``)."""
    if not isinstance(signal, str) or signal not in HEURISTIC_SIGNALS:
        raise ValueError(f"{fn}: heuristic_signal = {signal!r}: expected one of "
                         + ", ".join(repr(v) for v in HEURISTIC_SIGNALS))
    return HEURISTIC_SIGNALS.index(signal)


# -- helpers of the wrappers -------------------------------------------------------------------
def _arr(name: str, a, dtype, ndim: int) -> np.ndarray:
    """``a`` as a C-contiguous array of ``dtype`` with ``ndim`` dimensions, else ValueError."""
    try:
        out = np.ascontiguousarray(a, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: cannot be read as {np.dtype(dtype).name}: {exc}") from None
    if out.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {out.shape}")
    return out


def _shape(name: str, a: np.ndarray, shape: tuple) -> None:
    if a.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {a.shape}")


def _finite(name: str, a: np.ndarray) -> None:
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or inf")


def _int(name: str, v, lo: int | None = None, hi: int | None = None) -> int:
    """``v`` as a Python int in lo..hi (inclusive), else ValueError."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"{name}: expected an integer, got {v!r}")
    v = int(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name}: {v} is outside {lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}")
    return v


def _kinds(fn: str, obj_kind: np.ndarray, n_kinds: int) -> None:
    if obj_kind.size and (obj_kind.min() < -1 or obj_kind.max() >= n_kinds):
        raise ValueError(f"{fn}: obj_kind must be -1 (empty slot) or a kind index below {n_kinds}")


def _inside(fn: str, obj_pos: np.ndarray, obj_kind: np.ndarray, h: int, w: int) -> None:
    live = obj_kind >= 0
    if live.any():
        ys, xs = obj_pos[..., 0][live], obj_pos[..., 1][live]
        if ys.min() < 0 or xs.min() < 0 or ys.max() >= h or xs.max() >= w:
            raise ValueError(f"{fn}: an object lies outside the grid")


# -- one decision state ---------------------------------------------------------------------------
def _decision_inputs(fn, genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, kind_feat, radius, n_feat, key,
                     step):
    genome = _arr(f"{fn}: genome", genome, np.float32, 1)
    _shape(f"{fn}: genome", genome, (N_GENES,))
    _finite(f"{fn}: genome", genome)
    walls = _arr(f"{fn}: walls", walls, np.uint8, 2)
    h, w = walls.shape
    y, x = _int(f"{fn}: y", y, 0, h - 1), _int(f"{fn}: x", x, 0, w - 1)
    prev = _int(f"{fn}: prev", prev, -1, N_ACTIONS - 1)
    inv = _int(f"{fn}: inv", inv, 0)
    obj_kind = _arr(f"{fn}: obj_kind", obj_kind, np.int64, 1)
    m = len(obj_kind)
    obj_pos = _arr(f"{fn}: obj_pos", obj_pos, np.int64, 2)
    _shape(f"{fn}: obj_pos", obj_pos, (m, 2))
    alive = _arr(f"{fn}: alive", alive, np.bool_, 1)
    _shape(f"{fn}: alive", alive, (m,))
    if (alive & (obj_kind < 0)).any():
        raise ValueError(f"{fn}: an empty slot (obj_kind -1) is marked alive")
    kind_feat = _arr(f"{fn}: kind_feat", kind_feat, np.float64, 2)
    _finite(f"{fn}: kind_feat", kind_feat)
    _kinds(fn, obj_kind, kind_feat.shape[0])
    _inside(fn, obj_pos, obj_kind, h, w)
    n_feat = _int(f"{fn}: n_feat", n_feat, 1, min(MAX_FEATURES, kind_feat.shape[1]))
    radius = _arr(f"{fn}: radius", radius, np.int64, 1)
    if len(radius) < n_feat:
        raise ValueError(f"{fn}: radius needs one entry per feature channel ({n_feat}), got {len(radius)}")
    key = _int(f"{fn}: key", key, 0, 2**64 - 1)
    step = _int(f"{fn}: step", step, 0)
    return genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, kind_feat, radius, n_feat, np.uint64(key), step


def _dist_input(fn, dist, m, shape):
    dist = np.ascontiguousarray(dist)
    if dist.dtype not in (np.int16, np.int32, np.int64):
        raise ValueError(f"{fn}: dist must be an integer array (int16 from distance_maps), got {dist.dtype}")
    _shape(f"{fn}: dist", dist, (m,) + shape)
    return dist
