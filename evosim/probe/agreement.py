"""Agreement of the base objective and organisms' objectives on tasks (the type-signature essay), at the
level of organisms (probe columns), of populations over generations (``population_agreement``) and the
three-way comparison of the internal view, the behavioural view and the outcome class (``three_way``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evosim import genome as gn
from evosim import kernels
from evosim.constants import Arch
from evosim.objectives import behavioural_values, task_agreement
from evosim.schema import DISTRIBUTIONS, PROBE_COLUMNS

if TYPE_CHECKING:
    from evosim.probe.sets import ProbeSet


def preference_kinds(world) -> tuple[int, int]:
    """(proxy kind, true kind) compared by ``*_prefers_proxy``: the world's main (first) proxy-target
    kind and the first true-target kind present in its shift layouts (red_door: red_ball vs blue_door;
    keys_chests: key vs chest; ancestral_modern: candy vs fruit)."""
    shift = set(world._objects(np.random.default_rng(0), "shift"))
    true = next(k for k in world.true_target if k in shift)
    return world.kind_index(world.proxy_target[0]), world.kind_index(true)



def task_values(cfg, world, lay):
    """Outputs and base value f of every layout of ``lay`` (``kernels.task_values``): plans of up to
    ``organisms.max_depth`` visits among the objects perceived at the start, undiscounted base reward
    within ``world.max_steps``, the world's satiety capacity."""
    nf = len(world.features)
    t = world.table
    return kernels.task_values(lay.start, lay.obj_pos, lay.obj_kind, lay.dist, t.features[:, :nf], t.reward,
                               t.interaction, world.radius, nf, cfg.organisms.max_depth, cfg.world.max_steps,
                               int(getattr(t, "capacity", 0)))


def mesa_task_values(cfg, world, genomes, lay, tasks) -> np.ndarray:
    """g [N, L, K] of every genome read as a planner (its utility, depth and discount) on the tasks."""
    nf = len(world.features)
    depth, gamma = kernels.planner_genes(genomes, cfg.organisms.max_depth, cfg.organisms.min_depth)
    # a depth-0 (reactive) planner heads along the gradient of its utility: on a task's outputs (which object
    # to head for first) it rates them as a depth-1 search would
    depth = np.maximum(depth, 1)
    u = gn.utility(np.asarray(genomes, dtype=np.float32), nf).astype(np.float64)
    return kernels.mesa_values(u, depth, gamma, tasks, lay.obj_pos, lay.obj_kind, lay.dist, world.table.interaction)


def _task_summary(res: dict, n_tasks: int, rows: np.ndarray | None = None) -> dict:
    """Per organism: mean regret and rank correlation over the tasks where each is defined, and those counts."""
    reg, rk = res["regret"], res["rankcorr"]
    nreg, nrk = np.isfinite(reg).sum(axis=1), np.isfinite(rk).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"regret": np.where(nreg > 0, np.nansum(reg, axis=1) / nreg, np.nan),
               "rankcorr": np.where(nrk > 0, np.nansum(rk, axis=1) / nrk, np.nan),
               "value": res["value"].mean(axis=1) if n_tasks else np.full(len(reg), np.nan),
               "n_regret": nreg.astype(np.int64), "n_rankcorr": nrk.astype(np.int64)}
    return out


def task_agreement_columns(cfg, world, s: ProbeSet, genomes, planner, behav, behav_gamma) -> dict:
    """The agreement columns of one distribution (``regret_mesa`` ... ``rankcorr_tasks_behav``)."""
    n = len(genomes)
    tasks, lay = s.tasks, s.layouts
    nl = len(lay)
    nan = np.full(n, np.nan)
    out = {"agree_tasks": np.full(n, nl, dtype=np.int64)}
    f = tasks.f
    frange = np.nanmax(f, axis=1) - np.nanmin(f, axis=1)
    out["regret_tasks"] = np.full(n, int((frange > 0).sum()), dtype=np.int64)
    mesa = {k: nan.copy() for k in ("regret", "rankcorr", "value")}
    mesa["n_rankcorr"] = np.zeros(n, dtype=np.int64)
    idx = np.flatnonzero(planner)
    if len(idx):
        g = mesa_task_values(cfg, world, genomes[idx], lay, tasks)
        sm = _task_summary(task_agreement(f, g), nl)
        for k in mesa:
            mesa[k][idx] = sm[k]
    ok = np.isfinite(behav).all(axis=1) & np.isfinite(behav_gamma)
    beh = {k: nan.copy() for k in ("regret", "rankcorr", "value")}
    beh["n_rankcorr"] = np.zeros(n, dtype=np.int64)
    bi = np.flatnonzero(ok)
    if len(bi):
        gb = behavioural_values(behav[bi], behav_gamma[bi], tasks)
        sm = _task_summary(task_agreement(f, gb), nl)
        for k in beh:
            beh[k][bi] = sm[k]
    out.update({"regret_mesa": mesa["regret"], "rankcorr_mesa": mesa["rankcorr"], "value_mesa": mesa["value"],
                "rankcorr_tasks_mesa": mesa["n_rankcorr"], "regret_behav": beh["regret"],
                "rankcorr_behav": beh["rankcorr"], "value_behav": beh["value"],
                "rankcorr_tasks_behav": beh["n_rankcorr"]})
    return out


# -- population-level agreement and the three-way comparison --------------------------
#: tasks per distribution of the population-level view (the first ones of the probe layouts)
POPULATION_TASKS = 100


def _take_tasks(s: ProbeSet, k: int):
    lay = s.layouts.take(np.arange(min(k, len(s.layouts))))
    t = s.tasks
    sl = slice(0, len(lay))
    return lay, kernels.TaskValues(t.cand[sl], t.cand_d[sl], t.vis[sl], t.n_cand[sl], t.f[sl])


def population_agreement(cfg, world, sets: dict[str, ProbeSet], genomes_all: pd.DataFrame, organisms: pd.DataFrame,
                         names, n_tasks: int = POPULATION_TASKS) -> pd.DataFrame:
    """Per saved generation and distribution: does selection (fitness) track the base value of what
    the mesa-objective picks on D? ``COLUMNS['population_agreement']``. ``genomes_all`` as in
    genomes.parquet, ``organisms`` as organisms.parquet (``fitness``), ``names`` the gene columns."""
    from scipy.stats import spearmanr

    if not isinstance(n_tasks, int) or n_tasks < 1:
        raise ValueError(f"population_agreement: n_tasks must be a positive integer, got {n_tasks!r}")
    missing = {"generation", "organism_id", "architecture"} - set(genomes_all.columns)
    if missing or not {"generation", "organism_id", "fitness"} <= set(organisms.columns):
        raise ValueError("population_agreement: need genomes.parquet (generation, organism_id, architecture, genes) "
                         "and organisms.parquet (generation, organism_id, fitness)")
    fit = organisms.set_index(["generation", "organism_id"])["fitness"]
    rows = []
    subsets = {d: _take_tasks(sets[d], n_tasks) for d in DISTRIBUTIONS if sets[d].tasks is not None}
    for gen in sorted(int(g) for g in genomes_all["generation"].unique()):
        pop = genomes_all[genomes_all["generation"] == gen]
        g = pop[list(names)].to_numpy(dtype=np.float32)
        planner = gn.architecture(g) == int(Arch.PLANNER)
        g, ids = g[planner], pop["organism_id"].to_numpy()[planner]
        fitness = fit.reindex(pd.MultiIndex.from_arrays([np.full(len(ids), gen), ids])).to_numpy(dtype=np.float64)
        for d, (lay, tv) in subsets.items():
            row = {"generation": gen, "distribution": d, "n_planners": int(len(ids))}
            if len(ids):
                sm = _task_summary(task_agreement(tv.f, mesa_task_values(cfg, world, g, lay, tv)), len(lay))
            ok = np.isfinite(fitness) if len(ids) else np.zeros(0, dtype=bool)
            for key, col in (("rho_fitness_value", "value"), ("rho_fitness_regret", "regret")):
                v = sm[col] if len(ids) else np.zeros(0)
                m = ok & np.isfinite(v)
                rho = np.nan
                if m.sum() >= 3 and np.ptp(fitness[m]) > 0 and np.ptp(v[m]) > 0:
                    rho = float(spearmanr(fitness[m], v[m])[0])
                row[key] = rho
            row["regret_mesa_mean"] = float(np.nanmean(sm["regret"])) if len(ids) and np.isfinite(sm["regret"]).any() else np.nan
            row["rankcorr_mesa_mean"] = (float(np.nanmean(sm["rankcorr"]))
                                         if len(ids) and np.isfinite(sm["rankcorr"]).any() else np.nan)
            rows.append(row)
    out = pd.DataFrame(rows, columns=list(PROBE_COLUMNS["population_agreement"]))
    out["distribution"] = pd.Categorical(out["distribution"], categories=list(DISTRIBUTIONS))
    return out


def three_way(probe: pd.DataFrame, world) -> pd.DataFrame:
    """Per organism of the last generation probed (shift rows): internal view (mesa_prefers_proxy), behavioural
    view (behav_prefers_proxy), outcome class, and why the views disagree (``COLUMNS['three_way']``)."""
    need = {"generation", "organism_id", "architecture", "depth", "distribution", "class", "mesa_prefers_proxy",
            "behav_prefers_proxy", "behav_fit", "behav_choices"}
    if not need <= set(probe.columns):
        raise ValueError(f"three_way: probe table lacks {sorted(need - set(probe.columns))}")
    df = probe[(probe["generation"] == probe["generation"].max()) & (probe["distribution"].astype(str) == "shift")]
    out = df[["generation", "organism_id", "architecture", "depth", "class", "mesa_prefers_proxy",
              "behav_prefers_proxy", "behav_fit", "behav_choices"]].reset_index(drop=True).copy()
    m, b = out["mesa_prefers_proxy"].to_numpy(), out["behav_prefers_proxy"].to_numpy()
    agree = np.where(np.isfinite(m) & np.isfinite(b), (m == b).astype(np.float64), np.nan)
    out["views_agree"] = agree
    pk, tk = preference_kinds(world)
    nf = len(world.features)
    kf = world.table.features[:, :nf]
    differs = np.flatnonzero(kf[pk] != kf[tk])
    r = np.asarray(world.radius[:nf])
    short = bool(len(differs)) and bool((r[differs] < r.max()).any())
    why = np.where(np.isnan(m), "no_mesa", np.where(agree == 1.0, "agree",
                   np.where(out["behav_choices"].to_numpy() < 20, "few_choices",
                   np.where(~(out["behav_fit"].to_numpy() >= 0.2), "noise",
                   np.where(out["depth"].to_numpy() > 1, "search_depth",
                   np.where(short, "perception", "unexplained"))))))
    out["why"] = why
    return out[list(PROBE_COLUMNS["three_way"])]
