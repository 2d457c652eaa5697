"""The Mesa model: ``EvolutionModel`` (one ``step()`` = one generation) and ``Organism`` agents.

The model owns the run's seed, the population matrix and a ``DataCollector``. Kernels do the
heavy lifting on arrays; agents are the bookkeeping face of the population (id, architecture,
fitness, lineage) that Mesa users expect.
"""
from __future__ import annotations

from pathlib import Path

import mesa
import numpy as np
import pandas as pd

from evosim import genome as gn
from evosim import kernels, worlds
from evosim.config import Config, load_config, replace
from evosim.constants import ARCH_NAMES, STREAM_GA, STREAM_LAYOUT, STREAM_TRAIN, Arch

#: keyword parameters of ``EvolutionModel`` and the config setting each overrides
KEYWORD_SETTINGS = {
    "world": "world.name",
    "size": "world.size",
    "n_distractors": "world.n_distractors",
    "training": "world.training",
    "proxy_break_rate": "world.proxy_break_rate",
    "train_pool": "world.train_pool",
    "initial_planner_share": "organisms.initial_planner_share",
    "planning_cost": "organisms.planning_cost",
    "population": "evolution.population",
    "generations": "evolution.generations",
    "episodes": "evolution.episodes",
}


class Organism(mesa.Agent):
    """One member of the current generation: bookkeeping only; behaviour lives in the kernels."""

    def __init__(self, model: "EvolutionModel", row: int, organism_id: int, parent_a: int, parent_b: int):
        super().__init__(model)
        self.row = row
        """row of this organism's genome in ``model.genomes``"""
        self.organism_id = organism_id
        """run-wide id: generation * population + row"""
        self.parent_a = parent_a
        self.parent_b = parent_b
        """lineage: ids of the parents in the previous generation (-1: none)"""

    @property
    def architecture(self) -> str:
        return ARCH_NAMES[Arch(int(self.model.architecture[self.row]))]

    @property
    def fitness(self) -> float:
        return float(self.model.fitness[self.row]) if self.model.fitness is not None else float("nan")


def resolve_config(config) -> Config:
    if config is None:
        return Config()
    if isinstance(config, Config):
        return config
    if isinstance(config, (str, Path)):
        return load_config(config)
    raise TypeError(f"config must be a Config, a TOML path or None, got {type(config).__name__}")


class EvolutionModel(mesa.Model):
    """A genetic algorithm over heuristic and planner organisms; ``step()`` runs one generation.

    Each step::

        if the population was already evaluated: breed the next one
            elites <- best ``elitism`` organisms, unchanged
            parents <- tournament selection
            children <- uniform crossover, Gaussian mutation, architecture flips
        layouts <- this generation's training layouts (the same for every organism)
        records <- kernels.rollout(genomes, layouts)
        fitness <- mean return - planning_cost * mean plans evaluated per episode
        datacollector.collect(self)

    ``config`` is a ``Config``, a TOML path or None (the quickstart defaults); keyword
    settings (``population=``, ``planning_cost=``, ...) override it, so ``mesa.batch_run``
    can sweep them. ``rng`` is the run's integer seed (default: ``config.seed``).
    """

    def __init__(self, config=None, rng=None, *, world=None, size=None, n_distractors=None, training=None,
                 proxy_break_rate=None, train_pool=None, initial_planner_share=None, planning_cost=None,
                 population=None, generations=None, episodes=None, state=None):
        cfg = resolve_config(config)
        given = {"world": world, "size": size, "n_distractors": n_distractors, "training": training,
                 "proxy_break_rate": proxy_break_rate, "train_pool": train_pool,
                 "initial_planner_share": initial_planner_share, "planning_cost": planning_cost,
                 "population": population, "generations": generations, "episodes": episodes}
        overrides = {KEYWORD_SETTINGS[k]: v for k, v in given.items() if v is not None}
        if isinstance(rng, np.random.Generator):
            rng = int(rng.integers(2**63 - 1))
        if rng is not None:
            if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0:
                raise ValueError(f"rng must be a non-negative integer seed, got {rng!r}")
            overrides["seed"] = int(rng)
        if overrides:
            cfg = replace(cfg, **overrides)
        super().__init__(rng=cfg.seed)
        self.config = cfg
        self.seed = cfg.seed
        self.world = worlds.make(cfg.world)
        self.n_features = len(self.world.features)
        self._pool = None
        if cfg.world.train_pool > 0:
            pool_rng = np.random.default_rng([self.seed, STREAM_LAYOUT, 2**32 - 1])
            self._pool = self.world.sample_training(pool_rng, cfg.world.train_pool, cfg.world.training,
                                                    cfg.world.proxy_break_rate)
        n = cfg.evolution.population
        if state is None:
            init_rng = np.random.default_rng([self.seed, STREAM_GA, 2**32 - 1])
            self.genomes = gn.random_population(init_rng, n, cfg.organisms.initial_planner_share, cfg.organisms.init_sigma)
            self.generation = 0
            self.parents = np.full((n, 2), -1, dtype=np.int64)
            self.fitness = None
        else:
            self.genomes = np.asarray(state["genomes"], dtype=np.float32)
            self.generation = int(state["generation"])
            self.parents = np.asarray(state["parents"], dtype=np.int64)
            self.fitness = None if state.get("fitness") is None else np.asarray(state["fitness"], dtype=np.float64)
        self.architecture = gn.architecture(self.genomes)
        self.records: kernels.Rollouts | None = None
        self.stats: dict = {}
        self.organism_tables: list[pd.DataFrame] = []
        self.datacollector = mesa.DataCollector(
            model_reporters={name: (lambda m, k=name: m.stats[k]) for name in self.stat_names()},
        )
        self._spawn_agents()
        self.running = True

    # -- the generation ---------------------------------------------------------------------
    def step(self) -> None:
        if self.fitness is not None:
            self._breed()
        self._evaluate()
        self.datacollector.collect(self)
        self.running = self.generation + 1 < self.config.evolution.generations

    def stat_names(self) -> list[str]:
        feats = self.world.features
        return (["generation", "fitness_mean", "fitness_max", "fitness_std", "return_mean", "return_max",
                 "proxy_mean", "steps_mean", "plans_mean", "planner_share", "planner_fitness_mean",
                 "heuristic_fitness_mean", "depth_mean"]
                + [f"u_{f}_mean" for f in feats] + [f"h_attract_{f}_mean" for f in feats])

    def training_layouts(self, generation: int):
        """This generation's training layouts and the layout played in each episode."""
        e = self.config.evolution.episodes
        rng = np.random.default_rng([self.seed, STREAM_LAYOUT, generation])
        if self._pool is not None:
            idx = rng.integers(0, len(self._pool), size=e)
            return self._pool, idx
        lay = self.world.sample_training(rng, e, self.config.world.training, self.config.world.proxy_break_rate)
        return lay, np.arange(e)

    def organism_ids(self) -> np.ndarray:
        n = len(self.genomes)
        return self.generation * n + np.arange(n, dtype=np.int64)

    def _evaluate(self) -> None:
        cfg = self.config
        layouts, idx = self.training_layouts(self.generation)
        rec = kernels.rollout(self.genomes, layouts, idx, self.world.table, self.world.radius, self.n_features,
                              cfg.organisms.max_depth, cfg.world.max_steps, self.seed, STREAM_TRAIN,
                              self.generation, self.organism_ids())
        self.records = rec
        ret = rec.ret.mean(axis=1)
        plans = rec.plans.mean(axis=1)
        self.fitness = ret - cfg.organisms.planning_cost * plans
        self._record(ret, rec.proxy.mean(axis=1), rec.steps.mean(axis=1), plans)

    def _record(self, ret, proxy, steps, plans) -> None:
        g, arch, fit = self.genomes, self.architecture, self.fitness
        planner = arch == int(Arch.PLANNER)
        dep = gn.depth(g, self.config.organisms.max_depth)
        util = gn.utility(g, self.n_features)
        nan = float("nan")
        s = {
            "generation": self.generation,
            "fitness_mean": float(fit.mean()), "fitness_max": float(fit.max()), "fitness_std": float(fit.std()),
            "return_mean": float(ret.mean()), "return_max": float(ret.max()), "proxy_mean": float(proxy.mean()),
            "steps_mean": float(steps.mean()), "plans_mean": float(plans.mean()),
            "planner_share": float(planner.mean()),
            "planner_fitness_mean": float(fit[planner].mean()) if planner.any() else nan,
            "heuristic_fitness_mean": float(fit[~planner].mean()) if (~planner).any() else nan,
            "depth_mean": float(dep[planner].mean()) if planner.any() else nan,
        }
        for j, f in enumerate(self.world.features):
            s[f"u_{f}_mean"] = float(util[planner, j].mean()) if planner.any() else nan
            s[f"h_attract_{f}_mean"] = float(g[~planner, gn.H_ATTRACT.start + j].mean()) if (~planner).any() else nan
        self.stats = s
        self.organism_tables.append(pd.DataFrame({
            "generation": np.full(len(g), self.generation, dtype=np.int64),
            "organism_id": self.organism_ids(),
            "parent_a": self.parents[:, 0], "parent_b": self.parents[:, 1],
            "architecture": pd.Categorical.from_codes(arch, categories=["heuristic", "planner"]),
            "fitness": fit, "return_mean": ret, "proxy_mean": proxy, "steps_mean": steps, "plans_mean": plans,
            "depth": np.where(planner, dep, -1).astype(np.int64),
        }))

    def _breed(self) -> None:
        """Selection and variation: genomes of generation g -> generation g + 1."""
        ev = self.config.evolution
        rng = np.random.default_rng([self.seed, STREAM_GA, self.generation])
        n = len(self.genomes)
        ids = self.organism_ids()
        # Elitism
        order = np.argsort(-self.fitness, kind="stable")
        elites = order[: ev.elitism]
        # Selection
        n_kids = n - len(elites)
        n_pairs = (n_kids + 1) // 2
        pa = gn.select_tournament(self.fitness, rng, ev.tournament_size, n_pairs)
        pb = gn.select_tournament(self.fitness, rng, ev.tournament_size, n_pairs)
        # Variation
        ca, cb = gn.crossover_uniform(self.genomes[pa], self.genomes[pb], rng, ev.crossover_rate)
        kids = np.concatenate([ca, cb])[:n_kids]
        kid_parents = np.concatenate([np.stack([ids[pa], ids[pb]], 1), np.stack([ids[pb], ids[pa]], 1)])[:n_kids]
        kids = gn.mutate_gaussian(kids, rng, ev.mutation_sigma, ev.mutation_rate)
        kids = gn.flip_architecture(kids, rng, ev.arch_flip_rate)
        self.genomes = np.concatenate([self.genomes[elites], kids]).astype(np.float32)
        self.parents = np.concatenate([np.stack([ids[elites], np.full(len(elites), -1)], 1), kid_parents]).astype(np.int64)
        self.generation += 1
        self.architecture = gn.architecture(self.genomes)
        self.fitness = None
        self._spawn_agents()

    def _spawn_agents(self) -> None:
        for agent in list(self.agents):
            agent.remove()
        ids = self.organism_ids()
        for row in range(len(self.genomes)):
            Organism(self, row, int(ids[row]), int(self.parents[row, 0]), int(self.parents[row, 1]))

    # -- tables ------------------------------------------------------------------------------
    def generations_table(self) -> pd.DataFrame:
        df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        df["generation"] = df["generation"].astype(np.int64)
        return df

    def organisms_table(self) -> pd.DataFrame:
        return pd.concat(self.organism_tables, ignore_index=True) if self.organism_tables else pd.DataFrame()

    def genomes_table(self) -> pd.DataFrame:
        """The current population's genomes with readable gene names."""
        df = pd.DataFrame(self.genomes, columns=gn.gene_names(self.world.features))
        df.insert(0, "organism_id", self.organism_ids())
        df.insert(0, "generation", np.int64(self.generation))
        df.insert(2, "architecture", pd.Categorical.from_codes(self.architecture, categories=["heuristic", "planner"]))
        return df
