"""Architecture competition: memorisers, depth-0 planners, description cost, the memoriser block's own RNG stream.

Kernels against their naive twins trajectory by trajectory (every world and distribution), the
golden invariance of runs without memorisers (the memoriser block's genes do not change anything
they do not express), a memoriser that memorises its one training layout, and the settings.
"""
from __future__ import annotations

import numpy as np
import pytest

from evosim.reference import naive
from evosim import genome as gn
from evosim.config import WorldConfig, load_config, memorisers_enabled, replace, resolved_shares
from evosim.constants import MAX_DEPTH, MEMO_STEPS, Arch
from evosim.kernels import EpisodeSpec, rollout
from evosim.schema import DISTRIBUTIONS
from evosim.worlds import WORLDS

FIELDS = ("ret", "proxy", "steps", "plans", "work", "reach", "trace")


def make_world(name, **kw):
    return WORLDS[name](WorldConfig(name=name, **kw))


def mixed_genomes(rng, n, min_depth):
    """Genomes of all three architectures: a third memorisers (plan genes spread over every action),
    planners with depths cycling through min_depth..MAX_DEPTH, heuristics."""
    g = gn.random_population(rng, n, 0.5, sigma=2.0, min_depth=min_depth)
    depths = list(range(min_depth, MAX_DEPTH + 1))
    for i in range(n):
        g[i, gn.P_DEPTH] = depths[(i // 3) % len(depths)] + rng.uniform(-0.45, 0.45)
        g[i, gn.M_PLAN] = rng.normal(0.0, 2.0, MEMO_STEPS)
        g[i, gn.M_ARCH] = 0.5 if i % 3 == 0 else -0.5
        g[i, gn.ARCH] = 0.5 if i % 3 != 2 else -0.5  # memorisers carry either core architecture
    return g


def both(world, lay, g, max_steps, min_depth, seed=5, signal="path", max_depth=MAX_DEPTH):
    spec = EpisodeSpec(world.table, world.radius, len(world.features), max_depth, max_steps, signal, min_depth)
    args = (g, lay, np.array([0, 1, 2, 1]), seed, 1, 2, np.arange(50, 50 + len(g)), spec)
    return rollout(*args, record=True), naive.rollout(*args, record=True)


def assert_same(k, t):
    for f in FIELDS:
        a, b = getattr(k, f), getattr(t, f)
        if not np.array_equal(a, b):
            bad = (a != b).reshape(a.shape[0], a.shape[1], -1).any(-1)
            i, e = np.argwhere(bad)[0]
            raise AssertionError(f"{f} differs first at organism {i}, episode {e}:\nkernel {a[i, e]}\ntwin   {b[i, e]}")


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("name", sorted(WORLDS))
def test_memorisers_and_depth0_planners_equal_twin(name, distribution):
    """Memorisers, depth-0 planners (min_depth 0), deeper planners and heuristics in one population:
    every record (return, proxy, steps, plans, work, reach, trace) equals the naive twin's."""
    rng = np.random.default_rng([sum(map(ord, name)), DISTRIBUTIONS.index(distribution), 14])
    for size, nd, max_steps in ((9, 2, 30), (11, 4, 70), (13, 8, 40)):
        world = make_world(name, size=size, n_distractors=nd, wall_density=0.2)
        lay = world.sample(rng, distribution, 3)
        g = mixed_genomes(rng, 15, 0)
        k, t = both(world, lay, g, max_steps, 0)
        assert_same(k, t)
        arch = gn.architecture(g)
        memo = arch == int(Arch.MEMORISER)
        d0 = (arch == int(Arch.PLANNER)) & (gn.depth(g, MAX_DEPTH, 0) == 0)
        assert memo.any() and d0.any()
        assert (k.work[memo] == 0).all() and (k.plans[memo] == 0).all()
        assert (k.plans[d0] == 0).all()
        # min_depth 1 keeps today's expression: the same genomes, depth-0 genes express depth 1
        assert_same(*both(world, lay, g, max_steps, 1, signal="compass"))


def test_memoriser_plays_its_plan_open_loop():
    """A memoriser's trace is its plan: floor(2 g) mod 4 per step (moves into walls stay put),
    whatever the objects, and it does no work."""
    world = make_world("red_door", size=9, wall_density=0.0)
    lay = world.sample(np.random.default_rng(0), "train", 1)
    g = gn.random_population(np.random.default_rng(1), 1, 0.0)
    g[0, gn.M_ARCH] = 1.0
    g[0, gn.M_PLAN] = 0.75  # floor(1.5) = 1: east every step
    rec = rollout(g, lay, np.array([0]), 0, 1, 0, np.array([0]), EpisodeSpec(world.table, world.radius, 3, 3, 5),
                  record=True)
    y, x = lay.start[0]
    w = lay.walls.shape[2]
    want = [y * w + min(x + s, w - 2) for s in range(rec.steps[0, 0] + 1)]
    assert rec.trace[0, 0, : len(want)].tolist() == want
    assert rec.work[0, 0] == 0
    assert gn.memo_actions(np.array([[0] * gn.M_PLAN.start + [-0.3, 0.0, 0.49, 0.5, 1.0, 1.6] + [0] * 58],
                                    dtype=np.float32))[0, :6].tolist() == [3, 0, 0, 1, 2, 3]


def test_depth0_planner_follows_its_utility_gradient():
    """A depth-0 planner valuing doors walks down the door's BFS gradient (here: around a wall) and
    scores objects without evaluating a plan; valuing nothing it explores."""
    world = make_world("red_door", size=9)
    rng = np.random.default_rng(3)
    lay = world.sample(rng, "train", 1)
    g = gn.random_population(np.random.default_rng(2), 2, 1.0)
    g[:, gn.P_DEPTH] = -1.0
    g[:, gn.P_UTILITY] = 0.0
    g[0, gn.P_UTILITY.start + world.features.index("door")] = 1.0
    rec = rollout(g, lay, np.array([0]), 0, 1, 0, np.arange(2),
                  EpisodeSpec(world.table, world.radius, 3, 3, 40, min_depth=0), record=True)
    door = [o for o in range(lay.obj_kind.shape[1]) if lay.obj_kind[0, o] == world.kind_index("red_door")][0]
    d0 = int(lay.dist[0, door][tuple(lay.start[0])])
    assert rec.ret[0, 0] == 1.0 and rec.steps[0, 0] == d0  # a shortest path
    assert rec.plans[0].sum() == 0 and rec.work[0, 0] > 0


def tiny(**over):
    base = {"evolution.population": 24, "evolution.generations": 3, "evolution.episodes": 2}
    base.update(over)
    return replace(load_config("runs/red_door.toml"), **base)


def test_memoriser_genes_change_nothing_in_a_run_without_memorisers():
    """Golden invariance by construction: a run without memorisers equals the same run whose memoriser
    block (plan genes and the negative memoriser gene) is perturbed in every generation's genomes."""
    from evosim import ga

    cfg = tiny()
    assert not memorisers_enabled(cfg.organisms)
    a = ga.GA(cfg)
    b_state = a.state
    pert = np.array(b_state.genomes)
    rng = np.random.default_rng(9)
    pert[:, gn.M_PLAN] = rng.normal(0, 5, (len(pert), MEMO_STEPS))
    pert[:, gn.M_ARCH] = -rng.uniform(0.1, 3, len(pert))
    b = ga.GA(cfg, ga.GAState(pert, b_state.parents, None, 0))
    for _ in range(3):
        a.ask()
        b.ask()
        ea, eb = a.evaluate(), b.evaluate()
        for f in ("ret", "proxy", "steps", "plans", "work", "reach"):
            assert np.array_equal(getattr(ea.records, f), getattr(eb.records, f)), f
        assert np.array_equal(ea.fitness, eb.fitness)
        a.tell(ea.fitness)
        b.tell(eb.fitness)
        assert np.array_equal(a.state.genomes[:, gn.CORE], b.state.genomes[:, gn.CORE])
        assert (a.state.genomes[:, gn.M_ARCH] < 0).all() and (b.state.genomes[:, gn.M_ARCH] < 0).all()


def test_core_draws_do_not_depend_on_the_memoriser_block():
    """The core of generation 0 and of every bred generation is drawn from the GA stream with the
    shapes it had before the block existed (the code before memorisers, re-enacted here)."""
    from evosim import ga

    cfg = tiny()
    st0 = ga.initial_state(cfg)
    rng = np.random.default_rng([cfg.seed, 4, 2**32 - 1])
    assert np.array_equal(st0.genomes[:, gn.CORE], gn.random_core(rng, 24, cfg.organisms.initial_planner_share,
                                                                  cfg.organisms.init_sigma))
    fit = np.random.default_rng(0).normal(size=24)
    st1 = ga.breed(st0.with_fitness(fit), cfg.evolution, cfg.seed)
    # the old breed on the core alone
    ev = cfg.evolution
    rng = np.random.default_rng([cfg.seed, 4, 0])
    core = st0.genomes[:, gn.CORE]
    order = np.argsort(-fit, kind="stable")
    elites = order[: ev.elitism]
    n_pairs = (24 - len(elites) + 1) // 2
    pa = gn.select_tournament(fit, rng, ev.tournament_size, n_pairs)
    pb = gn.select_tournament(fit, rng, ev.tournament_size, n_pairs)
    ca, cb = gn.crossover_uniform(core[pa], core[pb], rng, ev.crossover_rate)
    kids = np.concatenate([ca, cb])[: 24 - len(elites)]
    kids = gn.flip_architecture(gn.mutate_gaussian(kids, rng, ev.mutation_sigma, ev.mutation_rate), rng,
                                ev.arch_flip_rate)
    assert np.array_equal(st1.genomes[:, gn.CORE], np.concatenate([core[elites], kids]))


def test_initial_shares_and_memoriser_flips():
    cfg = tiny(**{"evolution.population": 200, "organisms.initial_shares": {"heuristic": 0.45, "planner": 0.1,
                                                                            "memoriser": 0.45}})
    from evosim import ga

    arch = gn.architecture(ga.initial_state(cfg).genomes)
    counts = np.bincount(arch, minlength=3) / 200
    assert np.allclose(counts, [0.45, 0.1, 0.45], atol=0.02)
    assert memorisers_enabled(cfg.organisms) and resolved_shares(cfg.organisms)["memoriser"] == 0.45
    # flips on without memorisers at the start: memorisers arise
    cfg2 = tiny(**{"organisms.memoriser_flips": True, "evolution.arch_flip_rate": 0.5})
    st = ga.initial_state(cfg2)
    assert not (gn.architecture(st.genomes) == 2).any()
    st = ga.breed(st.with_fitness(np.zeros(24)), cfg2.evolution, cfg2.seed, True)
    assert (gn.architecture(st.genomes) == 2).any()


def test_description_cost_charges_expressed_genes():
    from evosim import ga

    cfg = tiny(**{"organisms.initial_shares": {"heuristic": 0.4, "planner": 0.3, "memoriser": 0.3},
                  "organisms.description_cost": 0.01, "organisms.planning_cost": 0.0})
    g = ga.GA(cfg)
    g.ask()
    ev = g.evaluate()
    arch = gn.architecture(g.state.genomes)
    want = np.array([2 * 3 + 4, 3 + 2, min(MEMO_STEPS, cfg.world.max_steps)])[arch]
    assert np.array_equal(ev.description, want)
    assert np.allclose(ev.fitness, ev.ret - 0.01 * want)


def test_memoriser_memorises_its_one_layout():
    """train_pool = 1, memorisers only (seed 3, population 60, 25 generations, 4 episodes): the best
    memoriser reaches the door on its one training layout every time, and on fresh layouts (probe
    stream, 64 layouts) it mostly does not: a memorised path, not a policy."""
    from evosim import ga, worlds
    from evosim.model import EvolutionModel

    cfg = replace(load_config("runs/red_door.toml"), **{
        "seed": 3, "world.train_pool": 1, "world.size": 9, "evolution.population": 60,
        "evolution.generations": 25, "evolution.episodes": 4, "organisms.initial_shares": {"memoriser": 1.0},
        "organisms.planning_cost": 0.0})
    m = EvolutionModel(cfg)
    for _ in range(cfg.evolution.generations):
        m.step()
    best = int(np.argmax(m.fitness))
    g = np.array(m.genomes[best: best + 1])
    assert gn.architecture(g)[0] == int(Arch.MEMORISER)
    world = worlds.make(cfg.world)
    pool = ga.make_pool(cfg, world)
    spec = EpisodeSpec(world.table, world.radius, 3, 3, cfg.world.max_steps)
    on_pool = rollout(g, pool, np.zeros(4, dtype=np.int64), 1, 1, 0, np.array([0]), spec)
    fresh = world.sample(np.random.default_rng(123), "train", 64)
    off = rollout(g, fresh, np.arange(64), 1, 1, 0, np.array([0]), spec)
    assert on_pool.ret.mean() == 1.0
    assert off.ret.mean() < 0.4


def test_keep_all_genomes_and_lineages(tmp_path):
    """evolution.keep_all_genomes writes every generation's genomes; analysis/lineages.py traces the final
    planners through parent_a to generation 0 and writes its tables and figure."""
    import subprocess
    import sys

    import pandas as pd

    from conftest import ROOT

    out = tmp_path / "run"
    from evosim.cli import main

    assert main(["run", str(ROOT / "runs" / "conditions_base.toml"), "--seed", "1", "--out", str(out), "--quiet",
                 "--set", "evolution.population=30", "--set", "evolution.generations=6", "--set", "evolution.episodes=2",
                 "--set", "evolution.keep_all_genomes=true", "--set", "evolution.checkpoint_every=4"]) == 0
    g = pd.read_parquet(out / "genomes.parquet")
    assert sorted(g["generation"].unique()) == list(range(6))
    r = subprocess.run([sys.executable, str(ROOT / "analysis" / "lineages.py"), str(out)], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "generation numbers are exact" in r.stdout
    lin = pd.read_csv(out / "analysis" / "lineages.csv")
    steps = pd.read_csv(out / "analysis" / "lineage_steps.csv")
    assert len(lin) and set(lin["order"]) <= {"depth_before", "depth_after", "never_rose"}
    assert (steps.groupby("final_planner")["generation"].min() == 0).all()
    assert (out / "analysis" / "lineages.png").exists()
