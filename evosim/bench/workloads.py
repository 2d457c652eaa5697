"""Benchmark workloads: a population, the layouts it plays and the settings of one rollout call.

Owns ``Workload`` and the standard workloads the suite measures (random heuristics on red_door, random
planners on the keys_chests maze, random memorisers, random networks of a given iteration count on red_door
at the default size, a half-and-half mix of heuristics and planners on red_door). Nothing
here times anything (``evosim.bench.timing``) or reports (``evosim.bench.report``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Workload:
    """A population, the layouts its episodes play and the settings of one rollout call."""

    genomes: np.ndarray
    layouts: object
    episode_layout: np.ndarray
    world: object
    max_depth: int
    max_steps: int
    seed: int = 1
    stream: int = 1
    generation: int = 0
    heuristic_signal: str = "path"
    min_depth: int = 1
    network_max_iterations: int = 8

    @property
    def n_features(self) -> int:
        return len(self.world.features)

    def spec(self):
        """The rollout's ``EpisodeSpec``."""
        from evosim.kernels.spec import EpisodeSpec

        return EpisodeSpec(self.world.table, self.world.radius, self.n_features, self.max_depth, self.max_steps,
                           self.heuristic_signal, self.min_depth, network_max_iterations=self.network_max_iterations)

    def args(self):
        """Positional arguments of ``kernels.rollout`` and its naive twin."""
        return (self.genomes, self.layouts, self.episode_layout, self.seed, self.stream, self.generation,
                np.arange(len(self.genomes), dtype=np.int64), self.spec())

    def run(self, record_trace: bool = False):
        from evosim import kernels

        return kernels.rollout(*self.args(), record=record_trace)

    def subset(self, n: int, episodes: int) -> "Workload":
        return Workload(self.genomes[:n], self.layouts, self.episode_layout[:episodes], self.world, self.max_depth,
                        self.max_steps, self.seed, self.stream, self.generation, self.heuristic_signal, self.min_depth,
                        self.network_max_iterations)


def make_world(**settings):
    from evosim import worlds
    from evosim.config import WorldConfig

    return worlds.make(WorldConfig(**settings))


def heuristic_workload(n: int, episodes: int, size: int = 15, max_steps: int = 100, seed: int = 0) -> Workload:
    """Random heuristic organisms on red_door ``size`` x ``size`` training layouts (default settings)."""
    from evosim import genome as gn

    w = make_world(name="red_door", size=size, max_steps=max_steps)
    rng = np.random.default_rng([seed, 61])
    layouts = w.sample(rng, "train", episodes)
    g = gn.random_population(rng, n, 0.0)
    return Workload(g, layouts, np.arange(episodes, dtype=np.int64), w, 3, max_steps)


def planner_workload(n: int, episodes: int, size: int = 21, depth: int = 2, max_steps: int = 100,
                     seed: int = 0) -> Workload:
    """Random planners of search depth ``depth`` on a ``size`` x ``size`` keys_chests maze.

    keys_chests rather than red_door: every red_door object ends the episode, so a plan never
    extends past its first object and the depth would not matter. With ``n_distractors=6``
    a training layout holds 4 keys and 8 chests; radius 40 puts all of them in view, so the
    planner perceives its maximum of 8 (``MAX_PERCEIVED``) until few are left.
    """
    from evosim import genome as gn

    w = make_world(name="keys_chests", size=size, wall_density=0.2, n_distractors=6, max_steps=max_steps,
               radius={"key": 40, "chest": 40})
    rng = np.random.default_rng([seed, 62])
    layouts = w.sample(rng, "train", episodes)
    g = gn.random_population(rng, n, 1.0)
    g[:, gn.P_DEPTH] = float(depth)
    return Workload(g, layouts, np.arange(episodes, dtype=np.int64), w, 3, max_steps, min_depth=0 if depth == 0 else 1)


def memoriser_workload(n: int, episodes: int, size: int = 15, max_steps: int = 100, seed: int = 0) -> Workload:
    """Random memorisers (open-loop plans, actions uniform) on red_door ``size`` x ``size`` training layouts."""
    from evosim import genome as gn

    w = make_world(name="red_door", size=size, max_steps=max_steps)
    rng = np.random.default_rng([seed, 64])
    layouts = w.sample(rng, "train", episodes)
    g = gn.random_population(rng, n, 0.0)
    g[:, gn.M_ARCH] = 1.0
    g[:, gn.M_PLAN] = rng.uniform(0.0, 2.0, size=(n, gn.MEMO_STEPS))
    return Workload(g, layouts, np.arange(episodes, dtype=np.int64), w, 3, max_steps)


def network_workload(n: int, episodes: int, iterations: int = 4, size: int = 11, max_steps: int = 40,
                     seed: int = 0) -> Workload:
    """Random networks of ``iterations`` iterations per step (4 hidden channels, tanh, the whole grid) on red_door
    ``size`` x ``size`` training layouts: the default world size and step limit."""
    from evosim import genome as gn

    w = make_world(name="red_door", size=size, max_steps=max_steps)
    rng = np.random.default_rng([seed, 65])
    layouts = w.sample(rng, "train", episodes)
    g = gn.random_population(rng, n, 0.0, rng_net=rng, network_share=1.0)
    g[:, gn.N_ITER] = float(iterations)
    return Workload(g, layouts, np.arange(episodes, dtype=np.int64), w, 3, max_steps,
                    network_max_iterations=max(8, iterations))


def mixed_workload(n: int, episodes: int, size: int = 15, max_steps: int = 100, seed: int = 0) -> Workload:
    """Half heuristics, half planners (random genomes) on red_door, as in an early generation."""
    from evosim import genome as gn

    w = make_world(name="red_door", size=size, max_steps=max_steps)
    rng = np.random.default_rng([seed, 63])
    layouts = w.sample(rng, "train", episodes)
    g = gn.random_population(rng, n, 0.5)
    return Workload(g, layouts, np.arange(episodes, dtype=np.int64), w, 3, max_steps)


__all__ = ["Workload", "heuristic_workload", "planner_workload", "memoriser_workload", "mixed_workload",
           "network_workload"]
