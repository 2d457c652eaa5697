"""Numba kernels behind small public wrappers that check their inputs and allocate outputs.

Kernels see arrays and scalars only. Each has a slow, obviously-correct twin in
``tests/naive.py``; the tests compare them trajectory by trajectory.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evosim.constants import MAX_DEPTH, MAX_FEATURES
from evosim.genome import N_GENES
from evosim.kernels.bfs import _distance_maps
from evosim.kernels.rollout import _rollout


def distance_maps(walls: np.ndarray, obj_pos: np.ndarray, obj_kind: np.ndarray) -> np.ndarray:
    """BFS distance from every object to every cell: int16 [L, M, H, W] (UNREACHABLE if cut off)."""
    walls = np.ascontiguousarray(walls, dtype=np.uint8)
    obj_pos = np.ascontiguousarray(obj_pos, dtype=np.int64)
    obj_kind = np.ascontiguousarray(obj_kind, dtype=np.int64)
    if walls.ndim != 3 or obj_pos.ndim != 3 or obj_kind.ndim != 2:
        raise ValueError("distance_maps: expected walls[L,H,W], obj_pos[L,M,2], obj_kind[L,M]")
    n, h, w = walls.shape
    m = obj_kind.shape[1]
    if obj_pos.shape != (n, m, 2) or obj_kind.shape[0] != n:
        raise ValueError(f"distance_maps: shapes disagree: walls {walls.shape}, obj_pos {obj_pos.shape}, obj_kind {obj_kind.shape}")
    live = obj_kind >= 0
    if live.any():
        ys, xs = obj_pos[..., 0][live], obj_pos[..., 1][live]
        if ys.min() < 0 or xs.min() < 0 or ys.max() >= h or xs.max() >= w:
            raise ValueError("distance_maps: an object lies outside the grid")
    out = np.empty((n, m, h, w), dtype=np.int16)
    _distance_maps(walls, obj_pos, obj_kind, out)
    return out


@dataclass
class Rollouts:
    """Per-episode records of a rollout, all [N, E] (``reach`` [N, E, M], ``trace`` [N, E, T+1])."""

    ret: np.ndarray  # float64: base-objective return
    proxy: np.ndarray  # float64: what the proxy would have paid
    steps: np.ndarray  # int64: steps taken
    plans: np.ndarray  # int64: plans evaluated (0 for heuristics)
    reach: np.ndarray  # int64: step at which each object was reached, -1 if never
    trace: np.ndarray | None  # int64: cell index (row * W + col) after each step, -1 after the end


def rollout(genomes, layouts, episode_layout, table, radius, n_features: int, max_depth: int, max_steps: int,
            seed: int, stream: int, generation: int, organism_ids, record: bool = False) -> Rollouts:
    """Roll every genome out on every episode; episode ``e`` plays layout ``episode_layout[e]``.

    ``table.capacity`` (> 0) ends an episode once that many objects have been eaten (satiety).
    The random numbers of episode ``e`` of organism ``organism_ids[i]`` derive from
    (seed, stream, generation, organism_ids[i], e) only.
    """
    genomes = np.ascontiguousarray(genomes, dtype=np.float32)
    if genomes.ndim != 2 or genomes.shape[1] != N_GENES:
        raise ValueError(f"rollout: genomes must be [N, {N_GENES}], got {genomes.shape}")
    if not np.isfinite(genomes).all():
        raise ValueError("rollout: genomes contain NaN or inf")
    if layouts.dist is None:
        raise ValueError("rollout: layouts have no distance maps")
    episode_layout = np.ascontiguousarray(episode_layout, dtype=np.int64)
    if episode_layout.ndim != 1 or (len(episode_layout) and (episode_layout.min() < 0 or episode_layout.max() >= len(layouts))):
        raise ValueError("rollout: episode_layout must index the layouts")
    if not 1 <= n_features <= MAX_FEATURES:
        raise ValueError(f"rollout: n_features must be in 1..{MAX_FEATURES}")
    if not 1 <= max_depth <= MAX_DEPTH:
        raise ValueError(f"rollout: max_depth must be in 1..{MAX_DEPTH}")
    organism_ids = np.ascontiguousarray(organism_ids, dtype=np.int64)
    if organism_ids.shape != (len(genomes),):
        raise ValueError("rollout: one organism id per genome")
    n, e = len(genomes), len(episode_layout)
    m = layouts.obj_kind.shape[1]
    ret = np.zeros((n, e))
    proxy = np.zeros((n, e))
    steps = np.zeros((n, e), dtype=np.int64)
    plans = np.zeros((n, e), dtype=np.int64)
    reach = np.zeros((n, e, m), dtype=np.int64)
    trace = np.full((n, e, max_steps + 1) if record else (1, 1, max_steps + 1), -1, dtype=np.int64)
    _rollout(genomes, np.ascontiguousarray(layouts.walls, dtype=np.uint8), np.ascontiguousarray(layouts.start, dtype=np.int64),
             np.ascontiguousarray(layouts.obj_pos, dtype=np.int64), np.ascontiguousarray(layouts.obj_kind, dtype=np.int64),
             layouts.dist, episode_layout, np.ascontiguousarray(table.features, dtype=np.float64),
             np.ascontiguousarray(table.reward, dtype=np.float64), np.ascontiguousarray(table.proxy, dtype=np.float64),
             np.ascontiguousarray(table.interaction, dtype=np.int64), np.ascontiguousarray(radius, dtype=np.int64),
             int(n_features), int(max_depth), int(max_steps), np.uint64(seed), np.uint64(stream), np.uint64(generation),
             organism_ids, ret, proxy, steps, plans, reach, trace, bool(record), int(getattr(table, "capacity", 0)))
    return Rollouts(ret, proxy, steps, plans, reach, trace if record else None)


__all__ = ["distance_maps", "rollout", "Rollouts"]
