"""The Mesa model: ``EvolutionModel`` (one ``step()`` = one generation) and ``Organism`` agents.

This module owns the Mesa face of a run: resolving a config plus keyword settings (for
``mesa.batch_run``), the agents, per-generation statistics, the ``DataCollector`` and the
organism rows not yet written to disk. The GA itself (population state, breeding, evaluation)
lives in ``evosim.ga``; the model holds a ``ga.GA`` and exposes its immutable ``GAState`` as
``model.state``. Kernels do the heavy lifting on arrays; agents are the bookkeeping face of
the population (id, architecture, fitness, lineage) that Mesa users expect.
"""
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import mesa
import numpy as np
import pandas as pd

from evosim import genome as gn
from evosim import ga, kernels, worlds
from evosim.config import Config, load_config, memorisers_enabled, networks_enabled, replace
from evosim.architectures import ARCHITECTURES, by_code
from evosim.constants import MAX_DEPTH, Arch
from evosim.schema import SELECTION_COLUMNS, architectures


def conditions_columns(cfg: Config) -> bool:
    """Whether a run's generation statistics carry the architecture-competition columns (memoriser_share, heuristic_share,
    memoriser_fitness_mean, depth_0..depth_3, description_mean): when memorisers take part, depth 0 can be
    expressed, a description cost is charged or networks take part. Other runs keep the columns they had before."""
    org = cfg.organisms
    return memorisers_enabled(org) or org.min_depth == 0 or org.description_cost > 0 or networks_enabled(org)

#: the per-architecture columns every run's generation statistics have had (planner share, planner and heuristic
#: mean fitness, in this order); ``_architecture_columns`` adds the rest
_BASE_ARCH_COLUMNS = ("planner_share", "planner_fitness_mean", "heuristic_fitness_mean")


def _architecture_columns(networks: bool = True) -> list[str]:
    """The conditions columns of each registered architecture (``<name>_share``, then ``<name>_fitness_mean``,
    in code order) not among the base columns: heuristic_share, memoriser_share, memoriser_fitness_mean, and,
    in runs with networks (``networks``), network_share, network_fitness_mean and the network's own statistics
    (``iterations_mean``)."""
    archs = [a for a in ARCHITECTURES if networks or a.code != int(Arch.NETWORK)]
    shares = [f"{a.name}_share" for a in archs]
    means = [f"{a.name}_fitness_mean" for a in archs]
    extra = [c for a in archs if a.code == int(Arch.NETWORK) for c in a.stats]
    return [c for c in shares + means if c not in _BASE_ARCH_COLUMNS] + extra




def standardized_differential(z: np.ndarray, w: np.ndarray) -> float:
    """cov(z, (w - mean w) / sd(w)) over the given organisms (population moments, ddof 0): the selection
    differential on trait ``z`` in units of the trait per standard deviation of fitness. NaN for fewer than
    2 organisms; 0 when fitness does not vary (selection has nothing to act on)."""
    z, w = np.asarray(z, dtype=np.float64), np.asarray(w, dtype=np.float64)
    if len(z) < 2:
        return float("nan")
    sd = w.std()
    if sd == 0:
        return 0.0
    return float(np.mean((z - z.mean()) * (w - w.mean())) / sd)


def selection_stats(genomes: np.ndarray, arch: np.ndarray, fitness: np.ndarray, proxy: int, true: int) -> dict:
    """The ``SELECTION_COLUMNS`` of one evaluated generation: the preference trait (``genome.preference_trait``:
    proxy cue minus true cue, planner utilities for planners, heuristic attraction weights for heuristics), its
    mean and its standardized selection differential within each architecture; ``selection_differential`` is
    the planners' where there are at least 2 planners, else the heuristics'. Memorisers have no such trait."""
    z_p, z_h = gn.preference_trait(genomes, proxy, true)
    nan = float("nan")
    out = {}
    for name, z, mine in (("planner", z_p, arch == int(Arch.PLANNER)), ("heuristic", z_h, arch == int(Arch.HEURISTIC))):
        out[f"selection_differential_{name}"] = standardized_differential(z[mine], fitness[mine])
        out[f"trait_mean_{name}"] = float(z[mine].mean()) if mine.any() else nan
    sp = out["selection_differential_planner"]
    return {"selection_differential": sp if not np.isnan(sp) else out["selection_differential_heuristic"],
            **{k: out[k] for k in SELECTION_COLUMNS[1:]}}


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
    "heuristic_signal": "organisms.heuristic_signal",
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
        return by_code(self.model.architecture[self.row]).name

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

    A thin Mesa shell over ``evosim.ga``. Each step::

        if the population was already evaluated: breed the next one (``ga.breed``)
            elites <- best ``elitism`` organisms, unchanged
            parents <- tournament selection
            children <- uniform crossover, Gaussian mutation, architecture flips
        evaluation <- ga.evaluate: this generation's training layouts, kernels.rollout
            fitness = mean return - planning_cost * mean search work per episode
                      (work: objects scored + plans evaluated; 0 for heuristics)
        tell the GA the fitness; statistics and organism rows; datacollector.collect(self)

    The population lives in ``model.state`` (an immutable ``ga.GAState``); ``genomes``,
    ``parents``, ``fitness``, ``generation`` and ``architecture`` are read-only views of it.
    Organism rows not yet written to disk are held by the model: ``drain_organism_rows()``
    takes them, ``pending_organism_rows()`` peeks at them, ``pending_rows=`` restores them on resume.

    ``config`` is a ``Config``, a TOML path or None (the quickstart defaults); keyword
    settings (``population=``, ``planning_cost=``, ...) override it, so ``mesa.batch_run``
    can sweep them. ``rng`` is the run's integer seed (default: ``config.seed``). ``state``
    (a ``GAState`` or the dict read from a checkpoint) continues a run.
    """

    def __init__(self, config=None, rng=None, *, world=None, size=None, n_distractors=None, training=None,
                 proxy_break_rate=None, train_pool=None, initial_planner_share=None, planning_cost=None,
                 heuristic_signal=None, population=None, generations=None, episodes=None, state=None, pending_rows=None):
        cfg = resolve_config(config)
        given = {"world": world, "size": size, "n_distractors": n_distractors, "training": training,
                 "proxy_break_rate": proxy_break_rate, "train_pool": train_pool,
                 "initial_planner_share": initial_planner_share, "planning_cost": planning_cost,
                 "heuristic_signal": heuristic_signal, "population": population, "generations": generations, "episodes": episodes}
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
        self._ga = ga.GA(cfg, state, world=self.world)
        self._arch = (None, None)
        self._records: kernels.Rollouts | None = None
        self._stats: dict = {}
        self.networks = networks_enabled(cfg.organisms)
        """whether networks take part (``config.networks_enabled``): their columns are written only then"""
        self.arch_categories = list(architectures(memorisers_enabled(cfg.organisms), self.networks))
        """categories of the ``architecture`` columns (``schema.architectures``)"""
        self._description = None
        self._pending: list[pd.DataFrame] = []
        if pending_rows is not None and len(pending_rows):
            self._pending.append(pending_rows)
        self._datacollector = mesa.DataCollector(
            model_reporters={name: (lambda m, k=name: m.stats[k]) for name in self.stat_names()},
        )
        self._spawn_agents()
        self.running = True

    # -- read-only views of the GA state ------------------------------------------------------
    @property
    def state(self) -> ga.GAState:
        """The current generation (immutable): genomes, parents, fitness (None until evaluated), generation."""
        return self._ga.state

    @property
    def genomes(self) -> np.ndarray:
        return self.state.genomes

    @property
    def parents(self) -> np.ndarray:
        return self.state.parents

    @property
    def fitness(self) -> np.ndarray | None:
        return self.state.fitness

    @property
    def generation(self) -> int:
        return self.state.generation

    @property
    def architecture(self) -> np.ndarray:
        """``Arch`` code per organism of the current generation (int64, read-only)."""
        st = self.state
        if self._arch[0] is not st:
            a = gn.architecture(st.genomes)
            a.setflags(write=False)
            self._arch = (st, a)
        return self._arch[1]

    @property
    def records(self) -> kernels.Rollouts | None:
        """The last generation's rollout records (per organism and episode)."""
        return self._records

    @property
    def stats(self) -> MappingProxyType:
        """The last generation's statistics (the DataCollector's model reporters)."""
        return MappingProxyType(self._stats)

    @property
    def datacollector(self) -> mesa.DataCollector:
        return self._datacollector

    @property
    def organism_tables(self) -> tuple[pd.DataFrame, ...]:
        """Organism rows not yet drained, one table per generation (read-only view)."""
        return tuple(self._pending)

    def drain_organism_rows(self) -> pd.DataFrame | None:
        """Organism rows since the last drain (or the resumed checkpoint), as one table; the model forgets them."""
        rows = self.pending_organism_rows()
        self._pending.clear()
        return rows

    def pending_organism_rows(self) -> pd.DataFrame | None:
        """Organism rows not yet drained, as one table (None if there are none); the model keeps them."""
        return pd.concat(self._pending, ignore_index=True) if self._pending else None

    # -- the generation ---------------------------------------------------------------------
    def step(self) -> None:
        bred = self.state.evaluated
        self._ga.ask()
        if bred:
            self._spawn_agents()
        result = self._ga.evaluate()
        self._records = result.records
        self._description = result.description
        self._ga.tell(result.fitness)
        self._record(result.ret, result.proxy, result.steps, result.plans, result.work)
        self.datacollector.collect(self)
        self.running = self.generation + 1 < self.config.evolution.generations

    def stat_names(self) -> list[str]:
        feats = self.world.features
        return (["generation", "fitness_mean", "fitness_max", "fitness_std", "return_mean", "return_max",
                 "proxy_mean", "steps_mean", "plans_mean", "work_mean", "planner_share", "planner_fitness_mean",
                 "heuristic_fitness_mean", "depth_mean"]
                + [f"u_{f}_mean" for f in feats] + [f"h_attract_{f}_mean" for f in feats]
                + list(SELECTION_COLUMNS)
                + (_architecture_columns(self.networks) + [f"depth_{d}" for d in range(MAX_DEPTH + 1)]
                   + ["description_mean"]
                   if conditions_columns(self.config) else []))

    def training_layouts(self, generation: int):
        """This generation's training layouts and the layout played in each episode (under regret selection:
        the candidates, ``ga.training_layouts``)."""
        return ga.training_layouts(self.config, self.world, generation, self._ga.pool)

    def organism_ids(self) -> np.ndarray:
        return self.state.organism_ids()

    def _record(self, ret, proxy, steps, plans, work) -> None:
        g, arch, fit = self.genomes, self.architecture, self.fitness
        planner = arch == int(Arch.PLANNER)
        heur = arch == int(Arch.HEURISTIC)
        org = self.config.organisms
        dep = gn.depth(g, org.max_depth, org.min_depth)
        network = arch == int(Arch.NETWORK)
        its = gn.iterations(g, org.network_min_iterations, org.network_max_iterations)
        util = gn.utility(g, self.n_features)
        nan = float("nan")
        s = {
            "generation": self.generation,
            "fitness_mean": float(fit.mean()), "fitness_max": float(fit.max()), "fitness_std": float(fit.std()),
            "return_mean": float(ret.mean()), "return_max": float(ret.max()), "proxy_mean": float(proxy.mean()),
            "steps_mean": float(steps.mean()), "plans_mean": float(plans.mean()), "work_mean": float(work.mean()),
            "planner_share": float(planner.mean()),
            "planner_fitness_mean": float(fit[planner].mean()) if planner.any() else nan,
            "heuristic_fitness_mean": float(fit[heur].mean()) if heur.any() else nan,
            "depth_mean": float(dep[planner].mean()) if planner.any() else nan,
        }
        s.update(selection_stats(g, arch, fit, self.world.features.index(self.world.proxy_feature),
                                 self.world.features.index(self.world.true_feature)))
        for j, f in enumerate(self.world.features):
            s[f"u_{f}_mean"] = float(util[planner, j].mean()) if planner.any() else nan
            s[f"h_attract_{f}_mean"] = float(g[heur, gn.H_ATTRACT.start + j].mean()) if heur.any() else nan
        if conditions_columns(self.config):
            archs = [a for a in ARCHITECTURES if self.networks or a.code != int(Arch.NETWORK)]
            for a in archs:  # every architecture's share and mean fitness (the ones not above)
                mine = arch == a.code
                if f"{a.name}_share" not in s:
                    s[f"{a.name}_share"] = float(mine.mean())
            for a in archs:
                mine = arch == a.code
                if f"{a.name}_fitness_mean" not in s:
                    s[f"{a.name}_fitness_mean"] = float(fit[mine].mean()) if mine.any() else nan
            if self.networks:
                s["iterations_mean"] = float(its[network].mean()) if network.any() else nan
            for d in range(MAX_DEPTH + 1):
                s[f"depth_{d}"] = float((dep[planner] == d).mean()) if planner.any() else nan
            desc = self._description if self._description is not None else gn.expressed_genes(
                g, self.n_features, self.config.world.max_steps, org.network_channels)
            s["description_mean"] = float(np.mean(desc))
        self._stats = s
        rows = pd.DataFrame({
            "generation": np.full(len(g), self.generation, dtype=np.int64),
            "organism_id": self.organism_ids(),
            "parent_a": self.parents[:, 0], "parent_b": self.parents[:, 1],
            "architecture": self._arch_categorical(arch),
            "fitness": fit, "return_mean": ret, "proxy_mean": proxy, "steps_mean": steps, "plans_mean": plans,
            "work_mean": work, "depth": np.where(planner, dep, -1).astype(np.int64),
        })
        if self.networks:
            rows["iterations"] = np.where(network, its, -1).astype(np.int64)
        self._pending.append(rows)

    def _arch_categorical(self, arch: np.ndarray) -> pd.Categorical:
        """``Arch`` codes as the ``architecture`` column (categories ``arch_categories``, which leave out the
        architectures not in the experiment, so a code is looked up by name)."""
        position = np.array([self.arch_categories.index(a.name) if a.name in self.arch_categories else -1
                             for a in ARCHITECTURES], dtype=np.int64)
        return pd.Categorical.from_codes(position[arch], categories=self.arch_categories)

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
        """Organism rows not yet drained (all of them if nothing drains: a run in memory)."""
        rows = self.pending_organism_rows()
        return pd.DataFrame() if rows is None else rows

    def genomes_table(self) -> pd.DataFrame:
        """The current population's genomes with readable gene names (without the network block in runs without
        networks, where it never changes: their tables are written as before the block existed)."""
        names = gn.gene_names(self.world.features)
        g = self.genomes
        if not self.networks:
            names, g = names[:gn.N_ARCH], g[:, :gn.N_ARCH]
        df = pd.DataFrame(g, columns=names)
        df.insert(0, "organism_id", self.organism_ids())
        df.insert(0, "generation", np.int64(self.generation))
        df.insert(2, "architecture", self._arch_categorical(self.architecture))
        return df
