"""What the viewer shows, computed from a run directory without writing to it.

``ViewerData`` reads a run (and its report, if there is one) and replays single episodes
through the same kernels as the probe: episode ``e`` of organism ``i`` on distribution ``d``
is the probe's episode (same held-out layout, same random numbers), so what the page shows is
what ``probe.parquet`` measured. For planners it re-derives, at every step, the plan the
organism is following (``kernels.planner_plan`` at the replayed state).
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evosim import genome as gn
from evosim import worlds
from evosim.architectures import by_code
from evosim.constants import MAX_DEPTH, PROBE_PURPOSE, STREAM_PROBE, Arch, Interaction
from evosim.errors import UserError
from evosim.kernels import episode_keys, planner_plan
from evosim.probe import choice_events, fit_pooled, probe_layouts, probe_rollout
from evosim.schema import ARCHITECTURES, CLASSES, DISTRIBUTIONS
from evosim.store import load_run
from evosim.store.layout import table_file

#: outcome-class filter values are ``any`` or ``<class> (<distribution>)`` (CLASSES, DISTRIBUTIONS: evosim.schema);
#: architecture filter values: ``any`` or one of evosim.schema.ARCHITECTURES
ARCH_FILTERS = ("any", *ARCHITECTURES)
#: replayed (organism, distribution) episode sets kept in memory per run (each is small)
ROLLOUT_CACHE = 64


class ViewerError(UserError, ValueError):
    """A selection the run cannot satisfy (unknown generation, organism, episode)."""


@dataclass
class Replay:
    """One episode of one organism, step by step (``t`` = 0 .. ``steps``)."""

    generation: int
    organism_id: int
    architecture: str
    distribution: str
    episode: int
    walls: np.ndarray  # uint8 [H, W]
    obj_pos: np.ndarray  # int64 [M, 2]
    obj_kind: np.ndarray  # int64 [M] (-1 pads)
    cells: np.ndarray  # int64 [steps + 1, 2]: (row, col) after each step; cells[0] is the start
    reach: np.ndarray  # int64 [M]: step at which each object was reached, -1 if never
    steps: int
    ret: float  # base return of the episode
    proxy: float  # proxy return of the episode
    plans: np.ndarray  # int64 [steps + 1, MAX_DEPTH]: plan followed at step t (object ids, -1 pads)
    kind_reward: np.ndarray  # float [K]
    kind_proxy: np.ndarray  # float [K]
    kind_inter: np.ndarray  # int64 [K]
    dist: np.ndarray  # int16 [M, H, W]: BFS distance from each object to every cell

    def route(self, t: int) -> np.ndarray:
        """Cells (row, col) of the shortest route through the plan followed at step ``t``
        (empty if none): the path the organism's world model expects to walk."""
        y, x = (int(v) for v in self.cells[t])
        out = [(y, x)]
        for o in self.plans[t]:
            if o < 0:
                break
            d = self.dist[o]
            while d[y, x] > 0:
                for dy, dx in ((-1, 0), (0, 1), (1, 0), (0, -1)):  # the kernels' action order
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < d.shape[0] and 0 <= nx < d.shape[1] and d[ny, nx] < d[y, x]:
                        y, x = ny, nx
                        break
                else:
                    break  # unreachable from here: the plan ends
                out.append((y, x))
        return np.array(out if len(out) > 1 else [], dtype=np.int64).reshape(-1, 2)

    def alive_at(self, t: int) -> np.ndarray:
        """Objects still in the world after step ``t``."""
        return (self.obj_kind >= 0) & ((self.reach < 0) | (self.reach > t))

    def inventory_at(self, t: int) -> int:
        """Keys held after step ``t``."""
        got = (self.reach > 0) & (self.reach <= t)
        inter = np.where(self.obj_kind >= 0, self.kind_inter[np.maximum(self.obj_kind, 0)], -1)
        return int((got & (inter == Interaction.PICKED_UP)).sum() - (got & (inter == Interaction.OPENED_WITH_KEY)).sum())

    def returns_at(self, t: int) -> tuple[float, float]:
        """(base, proxy) return collected up to step ``t``."""
        got = (self.reach > 0) & (self.reach <= t)
        k = self.obj_kind[got]
        return float(self.kind_reward[k].sum()), float(self.kind_proxy[k].sum())


class ViewerData:
    """A run directory read for viewing. Raises ``RunError`` (a ``UserError``) if it is not a run."""

    def __init__(self, path: str | Path):
        self.run = load_run(path)
        self.path = self.run.path
        self.cfg = self.run.config
        self.world = worlds.make(self.cfg.world)
        self.features = tuple(self.world.features)
        self.kind_names = tuple(k.name for k in self.world.kinds)
        self._genes = gn.gene_names(self.world.features)
        self.probe = self._read_probe()
        probed_eps = None if self.probe is None else self.probe["episodes"].iloc[0]
        self.episodes = int(probed_eps) if probed_eps is not None else int(self.cfg.probe.episodes)
        self.generations_saved = sorted(int(g) for g in self.run.genomes_all["generation"].unique())
        self._lock = threading.Lock()
        self._layouts: dict[str, object] = {}
        self._rollouts: OrderedDict[tuple, object] = OrderedDict()  # least recently used first
        self._behaviour: dict[tuple, tuple] = {}

    def _read_probe(self) -> pd.DataFrame | None:
        return self.run.report_table("probe")  # None without a report; a damaged report counts as none

    # -- tables ----------------------------------------------------------------------------
    @property
    def has_report(self) -> bool:
        return self.probe is not None

    def probed_generations(self) -> list[int]:
        return [] if self.probe is None else sorted(int(g) for g in self.probe["generation"].unique())

    def organisms(self, generation: int) -> pd.DataFrame:
        """Organisms of a saved generation, best first (fitness, then id), with their outcome class
        per distribution (``class_<distribution>``; missing if the generation was not probed)."""
        if generation not in self.generations_saved:
            raise ViewerError(f"generation {generation}: no genomes saved for it; saved: {self.generations_saved}")
        org = self.run.organisms
        rows = org[org["generation"] == generation][["organism_id", "architecture", "fitness", "return_mean",
                                                     "parent_a", "parent_b"]].copy()
        rows["architecture"] = rows["architecture"].astype(str)
        if self.probe is not None:
            pr = self.probe[self.probe["generation"] == generation]
            for d in DISTRIBUTIONS:
                cls = pr[pr["distribution"].astype(str) == d].set_index("organism_id")["class"].astype(str)
                rows[f"class_{d}"] = rows["organism_id"].map(cls)
        rows = rows.sort_values(["fitness", "organism_id"], ascending=[False, True], kind="mergesort")
        return rows.reset_index(drop=True)

    def select(self, generation: int, architecture: str = "any", outcome: str = "any", rank: int = 1) -> pd.DataFrame:
        """The organisms matching the filters, best first; ``outcome`` is ``any`` or
        ``<class> (<distribution>)``, e.g. ``pseudo_aligned (shift)``."""
        rows = self.organisms(generation)
        if architecture not in ARCH_FILTERS:
            raise ViewerError(f"architecture {architecture!r}: expected one of {', '.join(ARCH_FILTERS)}")
        if architecture != "any":
            rows = rows[rows["architecture"] == architecture]
        if outcome != "any":
            cls, _, d = outcome.partition(" (")
            d = d.rstrip(")")
            if cls not in CLASSES or d not in DISTRIBUTIONS:
                raise ViewerError(f"outcome {outcome!r}: expected 'any' or '<class> (<distribution>)' with class in "
                                  f"{', '.join(CLASSES)} and distribution in {', '.join(DISTRIBUTIONS)}")
            col = f"class_{d}"
            rows = rows[rows[col] == cls] if col in rows else rows.iloc[:0]
        return rows.reset_index(drop=True)

    def genome(self, generation: int, organism_id: int) -> np.ndarray:
        g = self.run.genomes_at(generation)
        row = g[g["organism_id"] == organism_id]
        if row.empty:
            raise ViewerError(f"organism {organism_id} is not in generation {generation}")
        return row[self._genes].to_numpy(dtype=np.float32)[0]

    def lineage(self, organism_id: int) -> pd.DataFrame:
        """The organism and its first-parent ancestors back to generation 0 (newest first)."""
        org = self.run.organisms.set_index("organism_id")
        out, cur = [], int(organism_id)
        while cur >= 0 and cur in org.index:
            r = org.loc[cur]
            out.append({"generation": int(r["generation"]), "organism_id": cur, "architecture": str(r["architecture"]),
                        "fitness": float(r["fitness"]), "parent_b": int(r["parent_b"])})
            cur = int(r["parent_a"])
        return pd.DataFrame(out, columns=["generation", "organism_id", "architecture", "fitness", "parent_b"])

    # -- episodes --------------------------------------------------------------------------
    def layouts(self, distribution: str):
        if distribution not in DISTRIBUTIONS:
            raise ViewerError(f"distribution {distribution!r}: expected one of {', '.join(DISTRIBUTIONS)}")
        with self._lock:
            if distribution not in self._layouts:
                self._layouts[distribution] = probe_layouts(self.cfg, self.world, distribution, self.episodes)
            return self._layouts[distribution]

    def _rollout(self, generation: int, organism_id: int, distribution: str):
        """All probe episodes of one organism on one distribution (the kernels key their random
        numbers by episode index, so episode ``e`` is replayed as part of the whole set)."""
        key = (generation, organism_id, distribution)
        lay = self.layouts(distribution)
        with self._lock:
            if key in self._rollouts:
                self._rollouts.move_to_end(key)
            else:
                g = self.genome(generation, organism_id)
                self._rollouts[key] = probe_rollout(self.cfg, self.world, g[None], lay, [organism_id], distribution)
                while len(self._rollouts) > ROLLOUT_CACHE:
                    self._rollouts.popitem(last=False)
            return self._rollouts[key]

    def replay(self, generation: int, organism_id: int, distribution: str, episode: int) -> Replay:
        """Episode ``episode`` of the probe's ``distribution`` layouts, as that organism played it."""
        if not 0 <= episode < self.episodes:
            raise ViewerError(f"episode {episode}: expected 0 <= episode < {self.episodes}")
        lay = self.layouts(distribution)
        rec = self._rollout(generation, organism_id, distribution)
        g = self.genome(generation, organism_id)
        steps = int(rec.steps[0, episode])
        w = lay.walls.shape[2]
        tr = rec.trace[0, episode, :steps + 1]
        cells = np.stack([tr // w, tr % w], axis=1)
        table = self.world.table
        rp = Replay(generation, organism_id, by_code(gn.architecture(g[None])[0]).name, distribution, episode,
                    lay.walls[episode], lay.obj_pos[episode], lay.obj_kind[episode], cells,
                    rec.reach[0, episode].copy(), steps, float(rec.ret[0, episode]), float(rec.proxy[0, episode]),
                    np.full((steps + 1, MAX_DEPTH), -1, dtype=np.int64), table.reward.astype(np.float64),
                    table.proxy.astype(np.float64), table.interaction.astype(np.int64), lay.dist[episode])
        if rp.architecture == "planner":
            self._plans(rp, g, lay)
        return rp

    def _plans(self, rp: Replay, g: np.ndarray, lay) -> None:
        """Fill ``rp.plans``: the planner's best plan at the state before each step, from the
        kernel's own search (so ``plans[t][0]`` is the object step ``t + 1`` moves towards)."""
        cfg, world = self.cfg, self.world
        e = rp.episode
        key = episode_keys(cfg.seed, STREAM_PROBE, PROBE_PURPOSE[rp.distribution], rp.organism_id, e)[0, 0]
        table = world.table
        kind_feat = np.ascontiguousarray(table.features, dtype=np.float64)
        radius = np.ascontiguousarray(world.radius, dtype=np.int64)
        walls = np.ascontiguousarray(lay.walls[e], dtype=np.uint8)
        obj_pos = np.ascontiguousarray(lay.obj_pos[e], dtype=np.int64)
        obj_kind = np.ascontiguousarray(lay.obj_kind[e], dtype=np.int64)
        dist = lay.dist[e]
        for t in range(rp.steps):
            y, x = int(rp.cells[t, 0]), int(rp.cells[t, 1])
            prev = _heading(rp.cells, t)
            alive = rp.alive_at(t)
            _, _, plan = planner_plan(g, walls, y, x, prev, rp.inventory_at(t), obj_pos, obj_kind, alive, dist,
                                      kind_feat, rp.kind_inter, radius, len(world.features), cfg.organisms.max_depth,
                                      key, t)
            rp.plans[t] = plan

    # -- objectives ------------------------------------------------------------------------
    def mesa_utility(self, generation: int, organism_id: int) -> np.ndarray | None:
        """A planner's evolved utility weights per feature (None for heuristics)."""
        g = self.genome(generation, organism_id)
        if not g[gn.ARCH] > 0:
            return None
        return gn.utility(g[None], len(self.features))[0].astype(np.float64)

    def behavioural_utility(self, generation: int, organism_id: int) -> tuple[np.ndarray, float, str]:
        """(utility per feature, discount, source): from ``probe.parquet`` if the report probed
        this organism, else fitted here exactly as the probe fits it (same episodes, same model)."""
        cols = [f"behav_u_{f}" for f in self.features]
        if self.probe is not None:
            pr = self.probe[(self.probe["generation"] == generation) & (self.probe["organism_id"] == organism_id)]
            if not pr.empty:
                r = pr.iloc[0]
                return r[cols].to_numpy(dtype=np.float64), float(r["behav_gamma"]), table_file("probe")
        key = (generation, organism_id)
        if key not in self._behaviour:
            events = {}
            for d in DISTRIBUTIONS:
                events[d] = choice_events(self._rollout(generation, organism_id, d), self.layouts(d), self.world)
            behav, gamma, _ = fit_pooled(events, 1)
            self._behaviour[key] = (behav[0], float(gamma[0]), "fitted by the viewer")
        return self._behaviour[key]


def _heading(cells: np.ndarray, t: int) -> int:
    """The move that led to step ``t`` (-1 at the start or after a blocked move)."""
    if t == 0:
        return -1
    dy, dx = cells[t] - cells[t - 1]
    return {(-1, 0): 0, (0, 1): 1, (1, 0): 2, (0, -1): 3}.get((int(dy), int(dx)), -1)  # kernels' _DY/_DX order


@functools.lru_cache(maxsize=4)
def open_run(path: str) -> ViewerData:
    """A ``ViewerData`` per run directory, shared by every page session."""
    return ViewerData(path)


__all__ = ["ViewerData", "Replay", "ViewerError", "open_run", "CLASSES", "ARCH_FILTERS", "Arch"]
