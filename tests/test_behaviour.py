"""Organisms do what their genes say: hand-set planners pursue their utility; heuristics can evolve."""
from __future__ import annotations

import numpy as np
import pytest

import evosim
from evosim import genome as gn
from evosim import kernels, worlds
from evosim.config import WorldConfig, load_config


def _planner(utility, depth=2, n=1):
    g = np.zeros((n, gn.N_GENES), dtype=np.float32)
    g[:, gn.ARCH] = 1.0
    g[:, gn.P_UTILITY.start:gn.P_UTILITY.start + len(utility)] = utility
    g[:, gn.P_DEPTH] = depth
    g[:, gn.P_DISCOUNT] = 2.0
    return g


def _first_reached_kind(world, lay, rec):
    """Kind name of the first object reached in each episode (None if nothing reached)."""
    out = []
    for e in range(rec.reach.shape[1]):
        r = rec.reach[0, e]
        if (r < 0).all():
            out.append(None)
            continue
        o = int(np.argmin(np.where(r < 0, 10**9, r)))
        out.append(world.kinds[lay.obj_kind[e, o]].name)
    return out


@pytest.mark.parametrize("dist", ["shift", "control"])
def test_planner_valuing_red_goes_to_red_and_door_valuer_to_doors(dist):
    """False if a planner's behaviour does not follow its mesa-objective: with utility on `red` it must
    end on red objects, with utility on `door` on doors, in >= 90% of episodes where it reaches anything.
    Open layouts (no walls), so a path around every other object exists: in mazes a shortest path can
    run through a trap (planners path by BFS over walls), which is a capability limit, not a goal."""
    cfg = WorldConfig(name="red_door", size=11, wall_density=0.0, n_distractors=2, max_steps=60,
                      radius={"red": 20, "green": 20, "door": 20})
    w = worlds.make(cfg)
    lay = w.sample(np.random.default_rng(7), dist, 60)
    for util, wanted in (([1.0, 0.0, 0.0], {"red_door", "red_ball"}), ([0.0, 0.0, 1.0], {"red_door", "blue_door"})):
        rec = kernels.rollout(_planner(util), lay, np.arange(len(lay)), 1, 1, 0, np.arange(1),
                              kernels.EpisodeSpec(w.table, w.radius, 3, 3, cfg.max_steps))
        first = [k for k in _first_reached_kind(w, lay, rec) if k is not None]
        assert len(first) >= 50
        hit = np.mean([k in wanted for k in first])
        assert hit >= 0.9, (util, hit)


def test_planner_with_chest_utility_fetches_keys_first():
    """The planner's world model knows keys open chests: valuing only chests, it still opens chests
    (it must pick up a key first). False if planning ignores what picking up a key enables."""
    cfg = WorldConfig(name="keys_chests", size=11, wall_density=0.05, n_distractors=2, max_steps=60,
                      radius={"key": 20, "chest": 20})
    w = worlds.make(cfg)
    lay = w.sample(np.random.default_rng(3), "train", 40)
    spec = kernels.EpisodeSpec(w.table, w.radius, 2, 3, 60)
    rec = kernels.rollout(_planner([0.0, 1.0], depth=2), lay, np.arange(40), 1, 1, 0, np.arange(1), spec)
    assert rec.ret.mean() >= 1.0
    depth1 = kernels.rollout(_planner([0.0, 1.0], depth=1), lay, np.arange(40), 1, 1, 0, np.arange(1), spec)
    assert depth1.ret.mean() < rec.ret.mean()  # depth 1 sees no value in a key


@pytest.mark.slow
def test_heuristic_evolves_to_solve_open_red_door():
    """With planners absent, evolution alone must produce a reactive heuristic that reaches the door in an
    open (wall-free) red_door layout in >= 80% of episodes. False if the heuristic cannot express
    competent behaviour (wrong observation or action scoring)."""
    cfg = load_config("runs/quickstart.toml", {
        "world.wall_density": 0.0, "organisms.initial_planner_share": 0.0, "evolution.arch_flip_rate": 0.0,
        "evolution.generations": 30, "evolution.population": 150})
    m = evosim.EvolutionModel(cfg, rng=1)
    for _ in range(cfg.evolution.generations):
        m.step()
    heur = np.flatnonzero(m.architecture == 0)
    assert len(heur) > 0.9 * len(m.genomes)  # mutation of the architecture gene may create a few planners
    best = m.genomes[heur[np.argsort(-m.fitness[heur])[:10]]]
    lay = m.world.sample(np.random.default_rng(99), "train", 100)
    rec = kernels.rollout(best, lay, np.arange(100), 2, 9, 0, np.arange(10),
                          kernels.EpisodeSpec.from_config(cfg, m.world))
    assert rec.ret.mean() >= 0.8, rec.ret.mean()
