"""The genetic algorithm as ask / evaluate / tell over an explicit, immutable ``GAState``.

This module owns the GA: the population state (``GAState``: genomes, lineage, fitness,
generation), its checkpoint form (``to_arrays`` / ``from_arrays``: the keys and dtypes of a
checkpoint's ``state.npz``), the initial population (``initial_state``), selection and
variation (``breed``, a pure function), the generation's training layouts
(``make_pool``, ``training_layouts``; under ``world.training_selection = "regret"`` the candidates,
of which ``evaluate`` keeps those of highest regret: ``episode_regret``, ``select_by_regret``) and
the rollout that scores a population (``evaluate``). ``GA`` is a small driver over them::

    ga = GA(cfg)
    for _ in range(cfg.evolution.generations):
        genomes, ids = ga.ask()              # breeds first if the population was evaluated
        result = evaluate(cfg, ga.world, ga.state, ga.pool)
        ga.tell(result.fitness)              # -> the new GAState, fitness set

Every random number derives from (seed, stream, generation), so a state read back from a
checkpoint continues exactly as an uninterrupted run. The Mesa model (``evosim.model``) is a
thin shell over this module; it adds agents, statistics and the DataCollector.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evosim import genome as gn
from evosim import kernels
from evosim.constants import STREAM_GA, STREAM_GA_MEMO, STREAM_GA_NET, STREAM_LAYOUT, STREAM_TRAIN

#: keys of ``GAState.to_arrays()`` (and of a checkpoint's state.npz), in the order written
STATE_KEYS = ("genomes", "parents", "fitness", "generation")


def _frozen(a: np.ndarray | None, dtype) -> np.ndarray | None:
    """A read-only array of ``dtype`` owned by the state (a copy unless it is already one)."""
    if a is None:
        return None
    a = np.asarray(a)
    if a.dtype != dtype or a.flags.writeable or not a.flags.c_contiguous:
        a = np.array(a, dtype=dtype, order="C")
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class GAState:
    """One generation of the GA: who is in it, where they came from and (once evaluated) how fit.

    Arrays are read-only copies owned by the state, so a state never changes after it is made.
    """

    genomes: np.ndarray
    """float32 [N, G]: the population (``evosim.genome`` layout)"""
    parents: np.ndarray
    """int64 [N, 2]: organism ids of each organism's parents in the previous generation (-1: none)"""
    fitness: np.ndarray | None
    """float64 [N] once evaluated, else None"""
    generation: int
    """generation index (0 = the initial random population)"""

    def __post_init__(self):
        object.__setattr__(self, "genomes", _frozen(self.genomes, np.float32))
        object.__setattr__(self, "parents", _frozen(self.parents, np.int64))
        object.__setattr__(self, "fitness", _frozen(self.fitness, np.float64))
        object.__setattr__(self, "generation", int(self.generation))
        n = len(self.genomes)
        if self.genomes.ndim != 2 or self.parents.shape != (n, 2):
            raise ValueError(f"GAState: genomes [N, G] and parents [N, 2] expected, got {self.genomes.shape} "
                             f"and {self.parents.shape}")
        if self.fitness is not None and self.fitness.shape != (n,):
            raise ValueError(f"GAState: fitness [N] expected, got {self.fitness.shape}")

    @property
    def evaluated(self) -> bool:
        return self.fitness is not None

    @property
    def population(self) -> int:
        return len(self.genomes)

    def organism_ids(self) -> np.ndarray:
        """Run-wide organism ids of this generation: generation * N + row (int64)."""
        n = len(self.genomes)
        return self.generation * n + np.arange(n, dtype=np.int64)

    def with_fitness(self, fitness) -> "GAState":
        """This generation with its fitness set (a new state)."""
        return GAState(self.genomes, self.parents, np.asarray(fitness, dtype=np.float64), self.generation)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The checkpoint form: genomes float32, parents int64, fitness float64, generation int64 (0-d).

        The keys and dtypes are those of a checkpoint's state.npz, in the order written. An
        unevaluated state has no ``fitness`` key (npz cannot hold None without pickle).
        """
        d = {"genomes": self.genomes, "parents": self.parents}
        if self.fitness is not None:
            d["fitness"] = self.fitness
        d["generation"] = np.int64(self.generation)
        return d

    @classmethod
    def from_arrays(cls, d) -> "GAState":
        """The state in ``d`` (``to_arrays()`` or the dict read from a checkpoint's state.npz)."""
        fit = d.get("fitness")
        return cls(np.asarray(d["genomes"]), np.asarray(d["parents"]),
                   None if fit is None else np.asarray(fit), int(d["generation"]))


def initial_state(cfg) -> GAState:
    """Generation 0: random genomes, no parents, not evaluated. The core from ``(cfg.seed, STREAM_GA,
    2**32 - 1)``, the memoriser block from ``(cfg.seed, STREAM_GA_MEMO, 2**32 - 1)``.

    Shares (``organisms.initial_shares``, or ``initial_planner_share`` for two architectures): the
    core expresses planners in the proportion planner / (planner + heuristic) (exactly
    ``initial_planner_share`` when there are no memorisers), then that share of each core
    architecture becomes a memoriser (``genome.random_memo_block``). ``organisms.init_bias`` = b then adds
    +b to the proxy cue's genes and -b to the true cue's (``genome.bias_cues``), after every draw.

    Networks (``config.networks_enabled``): the network block from ``(cfg.seed, STREAM_GA_NET, 2**32 - 1)``,
    the network share q of each other architecture becoming networks (``genome.random_network_block``; the
    memoriser share is then drawn as m / (1 - q) of the core, so that every share is the one asked for);
    without networks the block is switched off and no draw is made."""
    from evosim.config import networks_enabled, resolved_shares

    org = cfg.organisms
    shares = resolved_shares(org)
    p, h, m = shares["planner"], shares["heuristic"], shares["memoriser"]
    q = shares["network"]
    core_share = org.initial_planner_share if not org.initial_shares else (p / (p + h) if p + h > 0 else 0.0)
    rng = np.random.default_rng([cfg.seed, STREAM_GA, 2**32 - 1])
    n = cfg.evolution.population
    rng_net = np.random.default_rng([cfg.seed, STREAM_GA_NET, 2**32 - 1]) if networks_enabled(org) else None
    if q > 0:
        m = m / (1.0 - q) if q < 1 else 0.0
    genomes = gn.random_population(rng, n, core_share, org.init_sigma, org.min_depth,
                                   np.random.default_rng([cfg.seed, STREAM_GA_MEMO, 2**32 - 1]), m,
                                   rng_net, q, org.network_min_iterations, org.network_max_iterations)
    if org.init_bias != 0.0:
        from evosim.worlds import WORLDS

        w = WORLDS[cfg.world.name]
        genomes = gn.bias_cues(genomes, w.features.index(w.proxy_feature), w.features.index(w.true_feature),
                               org.init_bias)
    return GAState(genomes, np.full((n, 2), -1, dtype=np.int64), None, 0)


def breed(state: GAState, evolution_cfg, seed: int, memoriser_flips: bool = False, networks: bool = False) -> GAState:
    """``_breed``: see there. ``memoriser_flips`` (``config.memorisers_enabled``): whether the
    memoriser gene mutates and flips; ``networks`` (``config.networks_enabled``): whether the network block
    varies at all."""
    return _breed(state, evolution_cfg, seed, memoriser_flips, networks)


def _breed(state: GAState, evolution_cfg, seed: int, memoriser_flips: bool, networks: bool = False) -> GAState:
    """Selection and variation: evaluated generation g -> unevaluated generation g + 1. Pure.

    elites <- the best ``elitism`` organisms, unchanged (ties: lower row first); none if ``neutral``
    parents <- two rounds of tournament selection (``neutral``: of uniform choice, ``genome.select_uniform``)
    children <- uniform crossover, Gaussian mutation, architecture flips

    With ``arch_flip_rate`` 0 the architecture genes (ARCH, the memoriser gene) keep their parent's value
    (mutation's draws are made as usual, then not applied to them), so no organism changes architecture
    unless crossover mixes architectures.

    The core's random numbers come from ``default_rng([seed, STREAM_GA, state.generation])``, in
    exactly the shapes they had before the memoriser block existed; the memoriser block's (its
    crossover swaps, mutation, flips of the memoriser gene) from ``default_rng([seed,
    STREAM_GA_MEMO, state.generation])``. Unless ``memoriser_flips``, the memoriser gene is left
    out of mutation and never flips, so an experiment without memorisers never grows one.

    The network block varies only if ``networks``, from ``default_rng([seed, STREAM_GA_NET,
    state.generation])``: crossover swaps, then mutation of the whole block, then flips of the network gene
    at ``arch_flip_rate`` (at rate 0 the network gene keeps its parent's value, as the other architecture
    genes do). Without networks the block is left as it is (switched off in every genome) and no draw is made.
    """
    if state.fitness is None:
        raise ValueError("breed: the state has no fitness (evaluate and tell first)")
    ev = evolution_cfg
    rng = np.random.default_rng([seed, STREAM_GA, state.generation])
    rng_memo = np.random.default_rng([seed, STREAM_GA_MEMO, state.generation])
    rng_net = np.random.default_rng([seed, STREAM_GA_NET, state.generation]) if networks else None
    genomes, fitness = state.genomes, state.fitness
    n = len(genomes)
    ids = state.organism_ids()
    # Elitism (none when neutral)
    order = np.argsort(-fitness, kind="stable")
    elites = order[: 0 if ev.neutral else ev.elitism]
    # Selection (neutral: the first contestant of each tournament, drawn exactly as the tournament draws)
    n_kids = n - len(elites)
    n_pairs = (n_kids + 1) // 2
    select = gn.select_uniform if ev.neutral else gn.select_tournament
    pa = select(fitness, rng, ev.tournament_size, n_pairs)
    pb = select(fitness, rng, ev.tournament_size, n_pairs)
    # Variation
    ca, cb = gn.crossover_blocks(genomes[pa], genomes[pb], rng, rng_memo, ev.crossover_rate, rng_net)
    kids = np.concatenate([ca, cb])[:n_kids]
    kid_parents = np.concatenate([np.stack([ids[pa], ids[pb]], 1), np.stack([ids[pb], ids[pa]], 1)])[:n_kids]
    core = gn.mutate_gaussian(kids[:, gn.CORE], rng, ev.mutation_sigma, ev.mutation_rate)
    fixed = ev.arch_flip_rate == 0  # architectures fixed: the architecture genes are not mutated either
    if fixed:
        core[:, gn.ARCH] = kids[:, gn.ARCH]
    core = gn.flip_architecture(core, rng, ev.arch_flip_rate)
    memo = kids[:, gn.MEMO_BLOCK]
    if memoriser_flips:
        mutated = gn.mutate_gaussian(memo, rng_memo, ev.mutation_sigma, ev.mutation_rate)
        if fixed:
            mutated[:, 0] = memo[:, 0]
        memo = mutated
        flip = rng_memo.random(len(memo)) < ev.arch_flip_rate
        memo[flip, 0] = -memo[flip, 0]
    else:  # the plan genes drift; the memoriser gene stays as it is (negative: no memorisers)
        plan = gn.mutate_gaussian(memo[:, 1:], rng_memo, ev.mutation_sigma, ev.mutation_rate)
        memo = np.concatenate([memo[:, :1], plan], axis=1)
    net = kids[:, gn.NET_BLOCK]
    if networks:
        mutated = gn.mutate_gaussian(net, rng_net, ev.mutation_sigma, ev.mutation_rate)
        if fixed:
            mutated[:, 0] = net[:, 0]
        net = mutated
        flip = rng_net.random(len(net)) < ev.arch_flip_rate
        net[flip, 0] = -net[flip, 0]
    kids = np.concatenate([core, memo, net], axis=1)
    new_genomes = np.concatenate([genomes[elites], kids]).astype(np.float32)
    new_parents = np.concatenate([np.stack([ids[elites], np.full(len(elites), -1)], 1), kid_parents]).astype(np.int64)
    return GAState(new_genomes, new_parents, None, state.generation + 1)


# -- evaluation ------------------------------------------------------------------------------
def make_pool(cfg, world):
    """The fixed pool of training layouts (``world.train_pool`` > 0), else None."""
    if cfg.world.train_pool <= 0:
        return None
    rng = np.random.default_rng([cfg.seed, STREAM_LAYOUT, 2**32 - 1])
    return world.sample_training(rng, cfg.world.train_pool, cfg.world.training, cfg.world.proxy_break_rate)


def training_layouts(cfg, world, generation: int, pool=None):
    """Generation ``generation``'s training layouts and the layout played in each episode.

    Under ``world.training_selection = "regret"`` these are the candidates: ``regret_pool`` x
    ``evolution.episodes`` episodes drawn exactly as uniform training draws its episodes (same stream, same
    training distribution and break rate, same pool); ``evaluate`` keeps the ones of highest regret."""
    e = cfg.evolution.episodes
    if cfg.world.training_selection == "regret":
        e *= cfg.world.regret_pool
    rng = np.random.default_rng([cfg.seed, STREAM_LAYOUT, generation])
    if pool is not None:
        idx = rng.integers(0, len(pool), size=e)
        return pool, idx
    lay = world.sample_training(rng, e, cfg.world.training, cfg.world.proxy_break_rate)
    return lay, np.arange(e)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """What ``evaluate`` measured for one generation: fitness and the per-organism rollout records."""

    fitness: np.ndarray
    """float64 [N]: mean return - planning_cost * mean search work per episode (objects scored + plans evaluated)"""
    records: kernels.Rollouts
    """per organism and episode: ret, proxy, steps, plans, work, reach"""
    description: np.ndarray | None = None
    """int64 [N]: expressed genes per organism (``genome.expressed_genes``; what description_cost charges)"""
    selected: np.ndarray | None = None
    """int64 [E]: under regret selection, the candidate episodes kept (increasing; ``records`` holds only them);
    None under uniform selection"""
    regret: np.ndarray | None = None
    """float64 [regret_pool x E]: under regret selection, the population's regret on every candidate episode"""

    @property
    def ret(self) -> np.ndarray:
        return self.records.ret.mean(axis=1)

    @property
    def proxy(self) -> np.ndarray:
        return self.records.proxy.mean(axis=1)

    @property
    def steps(self) -> np.ndarray:
        return self.records.steps.mean(axis=1)

    @property
    def plans(self) -> np.ndarray:
        return self.records.plans.mean(axis=1)

    @property
    def work(self) -> np.ndarray:
        return self.records.work.mean(axis=1)


def episode_regret(ret: np.ndarray, layouts, idx, world, max_steps: int) -> np.ndarray:
    """Regret of a population on each episode: the exact oracle's base return on the episode's layout
    (``kernels.oracle_values``: the best any policy could collect within ``max_steps``) minus the population's
    mean return there (``ret`` [N, E]); float64 [E]."""
    lay = layouts.take(idx)
    t = world.table
    oracle = kernels.oracle_values(lay.walls, lay.start, lay.obj_pos, lay.obj_kind, t.reward, t.reward,
                                   t.interaction, int(max_steps), int(t.capacity))
    return oracle - np.asarray(ret, dtype=np.float64).mean(axis=0)


def select_by_regret(regret: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` episodes of highest regret (ties: the earlier episode), in increasing order (int64 [k])."""
    top = np.argsort(-np.asarray(regret, dtype=np.float64), kind="stable")[:k]
    return np.sort(top).astype(np.int64)


def _take_episodes(rec: kernels.Rollouts, keep: np.ndarray) -> kernels.Rollouts:
    """The records of episodes ``keep`` only."""
    cut = lambda a: None if a is None else np.ascontiguousarray(a[:, keep])  # noqa: E731
    return kernels.Rollouts(cut(rec.ret), cut(rec.proxy), cut(rec.steps), cut(rec.plans), cut(rec.reach),
                            cut(rec.trace), cut(rec.work))


def evaluate(cfg, world, state: GAState, pool=None) -> Evaluation:
    """Roll every organism of ``state`` out on its generation's training layouts (``kernels.rollout``).

    Under regret selection every organism plays every candidate episode; fitness and the records are those
    of the ``evolution.episodes`` candidates of highest regret (``episode_regret``, ``select_by_regret``)."""
    layouts, idx = training_layouts(cfg, world, state.generation, pool)
    # a writable copy: numba compiles read-only arrays as a separate type
    rec = kernels.rollout(np.array(state.genomes), layouts, idx, cfg.seed, STREAM_TRAIN, state.generation,
                          state.organism_ids(), kernels.EpisodeSpec.from_config(cfg, world))
    selected = regret = None
    if cfg.world.training_selection == "regret":
        regret = episode_regret(rec.ret, layouts, idx, world, cfg.world.max_steps)
        selected = select_by_regret(regret, cfg.evolution.episodes)
        rec = _take_episodes(rec, selected)
    ret = rec.ret.mean(axis=1)
    work = rec.work.mean(axis=1)
    fitness = ret - cfg.organisms.planning_cost * work
    desc = gn.expressed_genes(state.genomes, len(world.features), cfg.world.max_steps, cfg.organisms.network_channels)
    if cfg.organisms.description_cost > 0:
        fitness = fitness - cfg.organisms.description_cost * desc
    return Evaluation(fitness, rec, desc, selected, regret)


# -- the driver ------------------------------------------------------------------------------
class GA:
    """Ask / tell driver over ``GAState``: holds the current state, the world and the layout pool.

    ``ask()`` breeds the next generation if the current one was told its fitness and returns
    the genomes to evaluate and their organism ids; ``tell(fitness)`` returns (and keeps) the
    state with fitness set. ``evaluate()`` is the module function on the current state.
    """

    def __init__(self, cfg, state: GAState | dict | None = None, world=None):
        from evosim import worlds

        self.cfg = cfg
        self.world = worlds.make(cfg.world) if world is None else world
        self.pool = make_pool(cfg, self.world)
        if state is None:
            state = initial_state(cfg)
        elif not isinstance(state, GAState):
            state = GAState.from_arrays(state)
        if state.genomes.shape[1] in (gn.CORE_GENES, gn.N_ARCH):  # a checkpoint from before the memoriser or network block
            state = GAState(gn.upgrade(state.genomes), state.parents, state.fitness, state.generation)
        self._state = state

    @property
    def state(self) -> GAState:
        return self._state

    def ask(self) -> tuple[np.ndarray, np.ndarray]:
        """(genomes [N, G] float32, organism ids [N] int64) of the generation to evaluate next."""
        if self._state.fitness is not None:
            from evosim.config import memorisers_enabled, networks_enabled

            org = self.cfg.organisms
            self._state = breed(self._state, self.cfg.evolution, self.cfg.seed, memorisers_enabled(org),
                                networks_enabled(org))
        return self._state.genomes, self._state.organism_ids()

    def evaluate(self) -> Evaluation:
        return evaluate(self.cfg, self.world, self._state, self.pool)

    def tell(self, fitness) -> GAState:
        """The current generation with ``fitness`` set; it becomes the current state."""
        if self._state.fitness is not None:
            raise ValueError(f"tell: generation {self._state.generation} already has fitness (ask first)")
        self._state = self._state.with_fitness(fitness)
        return self._state


__all__ = ["GAState", "GA", "Evaluation", "STATE_KEYS", "initial_state", "breed", "evaluate", "make_pool",
           "training_layouts", "episode_regret", "select_by_regret"]
