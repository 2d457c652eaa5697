"""``EpisodeSpec``: everything an episode's rules take that is constant over a rollout, built once.

Callers used to unpack the kind table, the radii, the feature count, the depth limits, the step limit
and the heuristic's signal from the config and the world at every rollout call; they now build one
``EpisodeSpec`` (``EpisodeSpec.from_config(cfg, world)``) and pass it to ``kernels.rollout`` (and to its
naive twin, ``evosim.reference.naive.rollout``). Pure Python and numpy: no numba here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from evosim.constants import (
    HEURISTIC_SIGNALS, MAX_DEPTH, MAX_FEATURES, MAX_SIZE, MAX_STEPS_LIMIT, NET_MAX_CHANNELS, NET_MAX_ITERATIONS,
    NETWORK_ACTIVATIONS,
)


@dataclass(frozen=True, eq=False)
class EpisodeSpec:
    """The rules of a rollout's episodes (see the module docstring). Checked on construction: a bad value
    raises a one-line ``ValueError``. ``replace(**changes)`` gives a checked copy."""

    table: object
    """the world's kind table (``worlds.KindTable``: features [K, >= n_features], reward, proxy, interaction,
    capacity: > 0 ends an episode once that many objects have been eaten)"""
    radius: np.ndarray
    """perception radius per feature channel, int64 [>= n_features]"""
    n_features: int
    """feature channels the world uses (1..MAX_FEATURES)"""
    max_depth: int
    """largest planner search depth expressed (1..MAX_DEPTH)"""
    max_steps: int
    """episode step limit (1..MAX_STEPS_LIMIT)"""
    heuristic_signal: str = "path"
    """what heuristics sense, one of ``HEURISTIC_SIGNALS``: "path" (BFS gradient) or "compass"""
    min_depth: int = 1
    """smallest planner depth expressed: 1, or 0 (a reactive planner; ``organisms.min_depth``)"""
    explore: int = 0
    """planners' exploration when nothing valued is perceived: 0 the organisms' rule (keep heading, else a
    random free move), 1 frontier exploration (toward the nearest reachable unseen cell; planners of depth
    >= 1): the perception-matched reference planners only (``evosim.probe.matched_reference``)"""
    network_channels: int = 4
    """networks' hidden channels (1..NET_MAX_CHANNELS; ``organisms.network_channels``)"""
    network_min_iterations: int = 0
    """fewest iterations per step a network expresses (``organisms.network_min_iterations``)"""
    network_max_iterations: int = 8
    """most iterations per step a network expresses (``organisms.network_max_iterations``)"""
    network_activation: str = "tanh"
    """networks' nonlinearity, one of ``NETWORK_ACTIVATIONS`` (``organisms.network_activation``)"""
    network_window: int = 0
    """half-width of the window holding a network's state, 0 for the whole grid (``organisms.network_window``)"""

    def __post_init__(self):
        if not isinstance(self.heuristic_signal, str) or self.heuristic_signal not in HEURISTIC_SIGNALS:
            raise ValueError(f"EpisodeSpec: heuristic_signal = {self.heuristic_signal!r}: expected one of "
                             + ", ".join(repr(v) for v in HEURISTIC_SIGNALS))
        for name, lo, hi in (("n_features", 1, MAX_FEATURES), ("max_depth", 1, MAX_DEPTH),
                             ("max_steps", 0, MAX_STEPS_LIMIT)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
                raise ValueError(f"EpisodeSpec: {name} must be in {lo}..{hi}, got {v!r}")
        if self.min_depth not in (0, 1) or isinstance(self.min_depth, bool):
            raise ValueError(f"EpisodeSpec: min_depth must be 0 or 1, got {self.min_depth!r}")
        if self.explore not in (0, 1) or isinstance(self.explore, bool):
            raise ValueError(f"EpisodeSpec: explore must be 0 (organisms' rule) or 1 (frontier), got {self.explore!r}")
        if not isinstance(self.network_activation, str) or self.network_activation not in NETWORK_ACTIVATIONS:
            raise ValueError(f"EpisodeSpec: network_activation = {self.network_activation!r}: expected one of "
                             + ", ".join(repr(v) for v in NETWORK_ACTIVATIONS))
        for name, lo, hi in (("network_channels", 1, NET_MAX_CHANNELS), ("network_min_iterations", 0, NET_MAX_ITERATIONS),
                             ("network_max_iterations", 0, NET_MAX_ITERATIONS), ("network_window", 0, MAX_SIZE)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
                raise ValueError(f"EpisodeSpec: {name} must be in {lo}..{hi}, got {v!r}")
        if self.network_min_iterations > self.network_max_iterations:
            raise ValueError(f"EpisodeSpec: network_min_iterations ({self.network_min_iterations}) must not exceed "
                             f"network_max_iterations ({self.network_max_iterations})")
        radius = np.ascontiguousarray(self.radius, dtype=np.int64)
        if radius.ndim != 1 or len(radius) < self.n_features:
            raise ValueError(f"EpisodeSpec: radius must hold one radius per feature channel ({self.n_features})")
        object.__setattr__(self, "radius", radius)
        if 0 < self.network_window < int(radius[:self.n_features].max(initial=0)):
            raise ValueError(f"EpisodeSpec: network_window = {self.network_window} is smaller than the largest "
                             f"perception radius ({int(radius[:self.n_features].max())}); allowed: 0 (the whole grid) "
                             "or at least that radius")

    @classmethod
    def from_config(cls, cfg, world, **changes) -> "EpisodeSpec":
        """The spec of ``cfg`` (a ``config.Config``) in ``world`` (``worlds.make(cfg.world)``): the world's kind
        table, radii and feature count, ``organisms.max_depth`` / ``min_depth`` / ``heuristic_signal`` and
        ``world.max_steps`` and the network settings (``organisms.network_*``); ``changes`` override fields (e.g.
        ``max_steps``)."""
        org = cfg.organisms
        spec = cls(world.table, world.radius, len(world.features), org.max_depth, cfg.world.max_steps,
                   org.heuristic_signal, org.min_depth, network_channels=org.network_channels,
                   network_min_iterations=org.network_min_iterations,
                   network_max_iterations=org.network_max_iterations, network_activation=org.network_activation,
                   network_window=org.network_window)
        return spec.replace(**changes) if changes else spec

    def replace(self, **changes) -> "EpisodeSpec":
        return dataclasses.replace(self, **changes)

    @property
    def capacity(self) -> int:
        """Satiety: an episode ends once this many objects have been eaten (0: no limit)."""
        return int(getattr(self.table, "capacity", 0))


__all__ = ["EpisodeSpec"]
