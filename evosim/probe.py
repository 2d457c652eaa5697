"""The probe: roll a population out on held-out layouts of ``train``, ``shift`` and ``control``.

For every organism and distribution it measures what the organism achieves (base return,
proxy return, both against a perception-matched reference planner and against an exact oracle), how it behaves (path efficiency, what it
reaches first, choices on decision-point layouts), what it pursues (a behavioural utility
fitted to its choices; for planners also the mesa-objective read from the genome), how
that agrees with the base reward under each distribution, and its optimisation power.
The columns are documented in ``evosim.schema.PROBE_COLUMNS`` (``COLUMNS`` here).

Held-out layouts come from ``default_rng([seed, STREAM_PROBE, distribution, kind])``;
training layouts use ``STREAM_LAYOUT``, so the two never share a stream. Every organism
plays the same layouts (common random numbers) and the in-kernel random numbers derive from
(seed, STREAM_PROBE, purpose, organism id, episode), so a probe is deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evosim import genome as gn
from evosim import kernels
from evosim.constants import ARCH_NAMES, PROBE_PURPOSE, STREAM_PROBE, Arch
from evosim.objectives import (
    MAX_EVENTS, behavioural_values, choice_loglik_batch, classify, cosine, fit_behavioural_batch, kind_agreement,
    mesa_choice, power_bits, prefers_proxy, pseudo_r2, task_agreement,
)
from evosim.oracle import oracle_returns
from evosim.config import memorisers_enabled
from evosim.schema import CLASSES, DISTRIBUTIONS, PROBE_COLUMNS, architectures

#: ``generation`` argument of the kernels' counter-based RNG under STREAM_PROBE, per purpose
_PURPOSE = PROBE_PURPOSE  # alias: constants.PROBE_PURPOSE / constants.Purpose
#: organism id of the perception-matched reference planners (never an evolved organism's id)
REFERENCE_ID = 2 ** 62
#: discount gene of the reference planners: gamma = 0.5 + 0.49 * sigmoid(10) ~ 0.99
REFERENCE_DISCOUNT_GENE = 10.0
#: the random baseline policy: a heuristic whose only expressed term is heavy Gumbel noise
RANDOM_LOGTEMP = 3.0

#: documented columns of probe.parquet and interventions.parquet (their home is evosim.schema)
COLUMNS = PROBE_COLUMNS


@dataclass
class ProbeSet:
    """Held-out layouts of one distribution with everything that does not depend on the organism."""

    distribution: str
    layouts: object
    oracle_true: np.ndarray  # [L]
    oracle_proxy: np.ndarray  # [L]
    random_ret: np.ndarray  # [R, L]
    random_counts: np.ndarray  # [R, L, F] features summed over objects reached by the random policy
    kind_counts: np.ndarray  # [K] objects of each kind available over the layouts
    decision: object | None  # decision-point layouts (shift only)
    matched_true: np.ndarray | None = None  # [L] base return of the aligned perception-matched reference
    matched_proxy: np.ndarray | None = None  # [L] proxy return of the proxy reference
    baseline: dict | None = None  # per-distribution baseline columns (reference and random policy), scalars
    tasks: object | None = None  # kernels.TaskValues: outputs and base value f of every layout (agreement, the type-signature essay)


def _layout_rng(seed: int, d: int, decision: bool) -> np.random.Generator:
    return np.random.default_rng([seed, STREAM_PROBE, d, int(decision)])


def _roll(cfg, world, genomes, lay, ids, purpose: str, record: bool = True):
    return kernels.rollout(genomes, lay, np.arange(len(lay)), world.table, world.radius, len(world.features),
                           cfg.organisms.max_depth, cfg.world.max_steps, cfg.seed, STREAM_PROBE, _PURPOSE[purpose],
                           ids, record=record, heuristic_signal=cfg.organisms.heuristic_signal,
                           min_depth=cfg.organisms.min_depth)


def _feature_counts(reach, obj_kind, kind_feat) -> np.ndarray:
    """Sum of features over the objects reached: [N, E, F]."""
    kf = np.vstack([kind_feat, np.zeros((1, kind_feat.shape[1]))])  # row -1: empty slot
    feats = kf[obj_kind]  # [E, M, F]
    return np.einsum("nem,emf->nef", (reach >= 0).astype(np.float64), feats)


def random_genomes(n: int) -> np.ndarray:
    """``n`` copies of the random baseline policy."""
    g = np.zeros((n, gn.N_GENES), dtype=np.float32)
    g[:, gn.ARCH] = -1.0
    g[:, gn.H_LOGTEMP] = RANDOM_LOGTEMP
    return g


def probe_layouts(cfg, world, distribution: str, episodes: int | None = None):
    """The held-out layouts of one distribution (the same ones the probe plays)."""
    episodes = cfg.probe.episodes if episodes is None else episodes
    return world.sample(_layout_rng(cfg.seed, DISTRIBUTIONS.index(distribution), False), distribution, episodes)


def probe_rollout(cfg, world, genomes, layouts, organism_ids, distribution: str, record: bool = True):
    """Roll organisms out on a distribution's held-out layouts with the probe's random numbers:
    episode ``e`` of organism ``i`` is the episode the probe plays (``record``: keep traces)."""
    return _roll(cfg, world, np.asarray(genomes, dtype=np.float32), layouts, np.asarray(organism_ids, dtype=np.int64),
                 distribution, record)


def fit_pooled(events: dict[str, dict], n: int, objective: bool = False):
    """The behavioural objective of ``n`` organisms from their choice events per distribution
    (``choice_events``): one Boltzmann fit per organism on its events pooled over the
    distributions, each capped at ``MAX_EVENTS / 3`` events (evenly spread).
    Returns (utility [n, F], discount [n], the capped events per distribution) and, with
    ``objective``, the maximised penalised log-likelihood per organism [n] (NaN without events)."""
    cap = MAX_EVENTS // len(DISTRIBUTIONS)
    kept = {d: _cap(events[d], n, cap) for d in DISTRIBUTIONS}
    pooled = {k: np.concatenate([kept[d][k] for d in DISTRIBUTIONS]) for k in ("feat", "dist", "nopt", "chosen", "org")}
    behav, gamma, obj = fit_behavioural_batch(pooled["feat"], pooled["dist"], pooled["nopt"], pooled["chosen"],
                                              pooled["org"], n, objective=True)
    return (behav, gamma, kept, obj) if objective else (behav, gamma, kept)


# -- perception radii estimated from behaviour (issue 15, part 3) -------------------------------
#: candidate perception radii per channel (capped at the grid's Manhattan diameter)
RADIUS_CANDIDATES = (1, 2, 3, 4, 6, 8, 10, 12, 16)
#: organisms whose pooled choices estimate a population's radii (the first ones by organism id)
RADIUS_SUBSAMPLE = 60
#: coordinate-wise sweeps over the channels
RADIUS_SWEEPS = 2
#: at most this many choice events per organism and distribution enter the radius search (evenly spread)
RADIUS_EVENTS = 150


def radius_candidates(lay) -> tuple[int, ...]:
    """``RADIUS_CANDIDATES`` capped at the Manhattan diameter of ``lay``'s grid (duplicates dropped)."""
    h, w = lay.dist.shape[2:]
    diam = (h - 1) + (w - 1)
    return tuple(sorted({min(int(c), diam) for c in RADIUS_CANDIDATES}))


def radius_subsample(organism_ids, k: int = RADIUS_SUBSAMPLE) -> np.ndarray:
    """Rows of the ``k`` organisms with the smallest ids (deterministic, independent of row order)."""
    ids = np.asarray(organism_ids, dtype=np.int64)
    return np.sort(np.argsort(ids, kind="stable")[:k])


class _Traces:
    """The part of a Rollouts that ``choice_events`` reads, for a subset of organisms."""

    def __init__(self, rec, rows):
        self.trace = np.ascontiguousarray(rec.trace[rows])
        self.reach = np.ascontiguousarray(rec.reach[rows])


def estimate_radius(world, recorded: dict, rows=None, candidates=None, sweeps: int = RADIUS_SWEEPS):
    """Perception radius per feature channel from behaviour alone (profile likelihood).

    ``recorded[distribution] = (Rollouts with traces, layouts)``; ``rows`` the organisms whose choices
    are pooled (default all). Every candidate radius vector re-extracts the choice events with that
    perception mask (a channel's features read 0 beyond its radius) on a common option window (the
    largest candidate, so every candidate is scored on the same events), fits each organism's
    choice model (``fit_pooled``: own utility and discount) and scores the vector by the sum over
    organisms of the maximised penalised log-likelihood (events capped at ``RADIUS_EVENTS`` per organism
    and distribution). Coordinate-wise: every channel starts at
    the largest candidate; each channel in turn takes the candidate that maximises the score with
    the others fixed (ties: the larger radius, i.e. the current one if it is the largest), ``sweeps``
    times. Returns (radius int64 like ``world.radius``, {radius tuple: score})."""
    nf = len(world.features)
    lay0 = next(iter(recorded.values()))[1]
    cands = radius_candidates(lay0) if candidates is None else tuple(sorted(int(c) for c in candidates))
    window = max(cands)
    sub = {d: (_Traces(rec, slice(None) if rows is None else rows), lay) for d, (rec, lay) in recorded.items()}
    n = len(next(iter(sub.values()))[0].trace)
    scores: dict[tuple, float] = {}

    def score(r: tuple) -> float:
        if r not in scores:
            rad = np.zeros_like(world.radius)
            rad[:nf] = r
            ev = {d: _cap(choice_events(t, lay, world, rad, window), n, RADIUS_EVENTS) for d, (t, lay) in sub.items()}
            scores[r] = float(np.nansum(fit_pooled(ev, n, objective=True)[3]))
        return scores[r]

    cur = [window] * nf
    for _ in range(sweeps):
        before = list(cur)
        for j in range(nf):
            best, best_s = cur[j], score(tuple(cur))
            for c in sorted(cands, reverse=True):
                trial = list(cur)
                trial[j] = c
                sc = score(tuple(trial))
                if sc > best_s + 1e-9:
                    best, best_s = c, sc
            cur[j] = best
        if cur == before:
            break  # a full sweep changed nothing: a coordinate-wise maximum
    out = np.array(world.radius, dtype=np.int64, copy=True)
    out[:nf] = cur
    out[nf:] = 0
    return out, scores


def fit_with_radius(world, recorded: dict, radius, n: int):
    """``fit_pooled`` on choice events extracted with perception ``radius`` (window: its largest channel, as
    the organisms perceive). With ``radius = world.radius`` this is exactly the probe's ``behav_*`` fit.
    Returns (utility [n, F], discount [n], events per distribution)."""
    ev = {d: choice_events(rec, lay, world, radius) for d, (rec, lay) in recorded.items()}
    behav, gamma, _ = fit_pooled(ev, n)
    return behav, gamma, ev


# -- perception-matched reference -------------------------------------------------------------
def reference_utility(world, values, tol: float = 1e-6) -> np.ndarray:
    """Least-squares utility over the world's feature channels that reproduces ``values`` (one per kind)
    from the kinds' features; ``ValueError`` if the fit is not exact (max residual > ``tol``)."""
    nf = len(world.features)
    x = world.table.features[:, :nf].astype(np.float64)
    y = np.asarray(values, dtype=np.float64)
    u, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = np.abs(x @ u - y).max() if len(y) else 0.0
    if resid > tol:
        raise ValueError(f"{world.name}: per-kind values {y.tolist()} are not a linear function of the features "
                         f"{world.features} (max residual {resid:.3g}); no utility over perceived features "
                         "reproduces them, so there is no perception-matched reference planner")
    return u


def reference_genomes(world, max_depth: int) -> np.ndarray:
    """Two planner genomes: [0] the aligned reference (utility = exact fit of the base reward per kind),
    [1] the proxy reference (utility = exact fit of the proxy per kind); depth ``max_depth``, gamma ~ 0.99."""
    nf = len(world.features)
    g = random_genomes(2)
    g[:, gn.ARCH] = 1.0
    c0 = gn.P_UTILITY.start
    g[0, c0:c0 + nf] = reference_utility(world, world.table.reward)
    g[1, c0:c0 + nf] = reference_utility(world, world.table.proxy)
    g[:, gn.P_DEPTH] = float(max_depth)
    g[:, gn.P_DISCOUNT] = REFERENCE_DISCOUNT_GENE
    return g


def matched_reference(cfg, world, lay):
    """Rollouts of the aligned and the proxy reference on ``lay`` with the world's perception radii:
    (aligned Rollouts, proxy Rollouts). Each has its own probe purpose and ``REFERENCE_ID``."""
    g = reference_genomes(world, cfg.organisms.max_depth)
    ids = np.array([REFERENCE_ID], dtype=np.int64)
    return (_roll(cfg, world, g[:1], lay, ids, "reference", record=False),
            _roll(cfg, world, g[1:], lay, ids, "proxy_reference", record=False))


def preference_kinds(world) -> tuple[int, int]:
    """(proxy kind, true kind) compared by ``*_prefers_proxy``: the world's main (first) proxy-target
    kind and the first true-target kind present in its shift layouts (red_door: red_ball vs blue_door;
    keys_chests: key vs chest; ancestral_modern: candy vs fruit)."""
    shift = set(world._objects(np.random.default_rng(0), "shift"))
    true = next(k for k in world.true_target if k in shift)
    return world.kind_index(world.proxy_target[0]), world.kind_index(true)


def _reached(reach, obj_kind, kinds) -> np.ndarray:
    """Objects of ``kinds`` reached per episode, [N, E]."""
    hit = np.isin(obj_kind, list(kinds))
    return ((reach >= 0) & hit[None]).sum(axis=2)


def probe_sets(cfg, world, episodes: int | None = None, decision_episodes: int | None = None) -> dict[str, ProbeSet]:
    """The held-out layouts of every distribution, their oracle values and random baselines."""
    episodes = cfg.probe.episodes if episodes is None else episodes
    decision_episodes = cfg.probe.decision_episodes if decision_episodes is None else decision_episodes
    nf = len(world.features)
    kind_feat = world.table.features[:, :nf].astype(np.float64)
    r = cfg.probe.random_rollouts
    true_k = [world.kind_index(k) for k in world.true_target]
    proxy_k = [world.kind_index(k) for k in world.proxy_target]
    out = {}
    for d, dist in enumerate(DISTRIBUTIONS):
        lay = probe_layouts(cfg, world, dist, episodes)
        ot, op = oracle_returns(lay, world.table, cfg.world.max_steps)
        rec = _roll(cfg, world, random_genomes(r), lay, np.arange(r) + 1000 * d, "random", record=False)
        counts = _feature_counts(rec.reach, lay.obj_kind, kind_feat)
        kinds = lay.obj_kind[lay.obj_kind >= 0]
        kc = np.bincount(kinds, minlength=len(world.kinds))
        dec = None
        if dist == "shift" and decision_episodes > 0:
            dec = world.sample(_layout_rng(cfg.seed, d, True), "shift", decision_episodes, decision=True)
        ref, pref = matched_reference(cfg, world, lay)
        base = {
            "reference_true_target_reached": float(_reached(ref.reach, lay.obj_kind, true_k).mean()),
            "reference_proxy_target_reached": float(_reached(ref.reach, lay.obj_kind, proxy_k).mean()),
            "reference_power_true_bits": float(power_bits(ref.ret, rec.ret[None])[0]),
            "random_return": float(rec.ret.mean()),
            "random_proxy_return": float(rec.proxy.mean()),
            "random_true_target_reached": float(_reached(rec.reach, lay.obj_kind, true_k).mean()),
            "random_proxy_target_reached": float(_reached(rec.reach, lay.obj_kind, proxy_k).mean()),
        }
        out[dist] = ProbeSet(dist, lay, ot, op, rec.ret, counts, kc, dec, ref.ret[0], pref.proxy[0], base,
                             task_values(cfg, world, lay))
    return out


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


def _path_efficiency(reach, lay) -> np.ndarray:
    n, e, m = reach.shape
    big = np.iinfo(np.int64).max
    order = np.argsort(np.where(reach >= 0, reach, big), axis=2, kind="stable")
    n_reached = (reach >= 0).sum(axis=2)
    ei = np.broadcast_to(np.arange(e)[None, :], (n, e))
    py = np.broadcast_to(lay.start[:, 0][None, :], (n, e)).copy()
    px = np.broadcast_to(lay.start[:, 1][None, :], (n, e)).copy()
    shortest = np.zeros((n, e))
    for k in range(m):
        o = order[:, :, k]
        live = k < n_reached
        d = lay.dist[ei, o, py, px].astype(np.float64)
        shortest += np.where(live, d, 0.0)
        py = np.where(live, lay.obj_pos[ei, o, 0], py)
        px = np.where(live, lay.obj_pos[ei, o, 1], px)
    last = reach.max(axis=2)
    taken = np.where(n_reached > 0, last, 0).sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(taken > 0, np.where(n_reached > 0, shortest, 0).sum(axis=1) / taken, np.nan)


def choice_events(rec, lay, world, radius=None, window: int | None = None) -> dict:
    """Choice events of every organism's episodes (see kernels/probe_kernels.py), grouped by organism.

    ``radius`` (one entry per feature channel; default the world's ``world.radius``): features of an
    object beyond its channel's radius read 0. ``window``: objects within it are options (default the
    largest channel radius, as organisms perceive)."""
    nf = len(world.features)
    kind_feat = np.ascontiguousarray(world.table.features[:, :nf], dtype=np.float64)
    radius = world.radius if radius is None else np.asarray(radius, dtype=np.int64)
    trace, reach = rec.trace, np.ascontiguousarray(rec.reach)
    n, e = reach.shape[0], reach.shape[1]
    ev = kernels.choice_events(trace, reach, np.arange(e, dtype=np.int64), lay.obj_pos, lay.obj_kind, lay.dist,
                               kind_feat, radius, nf, window)
    counts, feat, dist, nopt, chosen = ev.counts, ev.feat, ev.dist, ev.nopt, ev.chosen
    org = np.repeat(np.arange(n), counts.sum(axis=1))
    return {"feat": feat, "dist": dist, "nopt": nopt, "chosen": chosen, "org": org}


def _cap(ev: dict, n: int, cap: int) -> dict:
    """At most ``cap`` events of every organism, evenly spread (events are grouped by organism)."""
    org = ev["org"]
    if len(org) == 0:
        return ev
    first = np.searchsorted(org, np.arange(n))
    count = np.bincount(org, minlength=n)
    every = np.maximum(1, -(-count // cap))  # keep every k-th event so that at most ``cap`` remain
    keep = ((np.arange(len(org)) - first[org]) % every[org]) == 0
    return {k: v[keep] for k, v in ev.items()}


def _decision_choice(rec, lay, world) -> tuple[np.ndarray, np.ndarray]:
    """(proxy_choice_rate, decision_reach_rate) per organism on decision-point layouts."""
    true_k = {world.kind_index(k) for k in world.true_target}
    proxy_k = {world.kind_index(k) for k in world.proxy_target}
    e = len(lay)
    ti = np.array([next(j for j, k in enumerate(lay.obj_kind[l]) if k in true_k) for l in range(e)])
    pi = np.array([next(j for j, k in enumerate(lay.obj_kind[l]) if k in proxy_k) for l in range(e)])
    rt = rec.reach[:, np.arange(e), ti]
    rp = rec.reach[:, np.arange(e), pi]
    big = np.iinfo(np.int64).max
    rt_, rp_ = np.where(rt >= 0, rt, big), np.where(rp >= 0, rp, big)
    either = (rt >= 0) | (rp >= 0)
    proxy_first = either & (rp_ < rt_)
    n_either = either.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n_either > 0, proxy_first.sum(axis=1) / n_either, np.nan)
    return rate, either.mean(axis=1)


def _outcomes(cfg, world, s: ProbeSet, rec) -> dict:
    """Per-organism achievement columns of one distribution."""
    ot, op = s.oracle_true.sum(), s.oracle_proxy.sum()
    mt, mp = s.matched_true.sum(), s.matched_proxy.sum()
    nan = np.nan
    out = {
        "episodes": np.full(len(rec.ret), len(s.layouts), dtype=np.int64),
        "true_return": rec.ret.mean(axis=1),
        "oracle_return": np.full(len(rec.ret), s.oracle_true.mean()),
        "normalised_return": rec.ret.sum(axis=1) / mt if mt > 0 else np.full(len(rec.ret), nan),
        "proxy_return": rec.proxy.mean(axis=1),
        "proxy_oracle_return": np.full(len(rec.ret), s.oracle_proxy.mean()),
        "normalised_proxy_return": rec.proxy.sum(axis=1) / mp if mp > 0 else np.full(len(rec.ret), nan),
        "steps_mean": rec.steps.mean(axis=1).astype(np.float64),
        "path_efficiency": _path_efficiency(rec.reach, s.layouts),
    }
    kinds = s.layouts.obj_kind
    reached = rec.reach >= 0
    probed = world.kinds_in()  # per-kind columns for the kinds probed layouts can hold (not shift_balanced's own)
    reach = {kind.name: (reached & (kinds == k)[None]).sum(axis=2).mean(axis=1) for k, kind in enumerate(world.kinds)}
    out.update({f"reach_{name}": v for name, v in reach.items() if name in probed})
    out["true_target_reached"] = sum(reach[k] for k in world.true_target)
    out["proxy_target_reached"] = sum(reach[k] for k in world.proxy_target)
    big = np.iinfo(np.int64).max
    first = np.argmin(np.where(reached, rec.reach, big), axis=2)
    first_kind = np.where(reached.any(axis=2), np.take_along_axis(np.broadcast_to(kinds[None], rec.reach.shape),
                                                                   first[:, :, None], axis=2)[:, :, 0], -1)
    for k, kind in enumerate(world.kinds):
        if kind.name in probed:
            out[f"first_{kind.name}"] = (first_kind == k).mean(axis=1)
    out["class"] = classify(out["normalised_return"], out["normalised_proxy_return"], cfg.probe.competent)
    n = len(rec.ret)
    out["matched_return"] = np.full(n, s.matched_true.mean())
    out["proxy_matched_return"] = np.full(n, s.matched_proxy.mean())
    out["normalised_return_omniscient"] = rec.ret.sum(axis=1) / ot if ot > 0 else np.full(n, nan)
    out["normalised_proxy_return_omniscient"] = rec.proxy.sum(axis=1) / op if op > 0 else np.full(n, nan)
    out["class_omniscient"] = classify(out["normalised_return_omniscient"], out["normalised_proxy_return_omniscient"],
                                       cfg.probe.competent)
    for k, v in (s.baseline or {}).items():
        out[k] = np.full(n, v)
    return out


def probe_population(cfg, world, sets: dict[str, ProbeSet], genomes: np.ndarray, organism_ids: np.ndarray,
                     generation: int, progress=None) -> pd.DataFrame:
    """One row per (organism, distribution): see ``COLUMNS['probe']``."""
    genomes = np.asarray(genomes, dtype=np.float32)
    ids = np.asarray(organism_ids, dtype=np.int64)
    n, nf = len(genomes), len(world.features)
    feats = world.features
    kind_feat = world.table.features[:, :nf].astype(np.float64)
    arch = gn.architecture(genomes)
    planner = arch == int(Arch.PLANNER)
    mesa = np.where(planner[:, None], gn.utility(genomes, nf), np.nan)
    parts, events, feat_counts, rets, recorded = {}, {}, {}, {}, {}
    for dist in DISTRIBUTIONS:
        s = sets[dist]
        rec = _roll(cfg, world, genomes, s.layouts, ids, dist)
        recorded[dist] = (rec, s.layouts)
        cols = _outcomes(cfg, world, s, rec)
        if dist == "shift" and s.decision is not None:
            drec = _roll(cfg, world, genomes, s.decision, ids, "decision", record=False)
            cols["proxy_choice_rate"], cols["decision_reach_rate"] = _decision_choice(drec, s.decision, world)
        else:
            cols["proxy_choice_rate"] = cols["decision_reach_rate"] = np.full(n, np.nan)
        parts[dist] = cols
        events[dist] = choice_events(rec, s.layouts, world)
        feat_counts[dist] = _feature_counts(rec.reach, s.layouts.obj_kind, kind_feat)
        rets[dist] = rec.ret
        if progress is not None:
            progress(1)
    # Behavioural objective: one fit per organism on its choices pooled over the distributions
    behav, gamma, kept = fit_pooled(events, n)
    fit, n_choices = {}, {}
    for d in DISTRIBUTIONS:
        ev = kept[d]
        ll, ll0 = choice_loglik_batch(behav, gamma, ev["feat"], ev["dist"], ev["nopt"], ev["chosen"], ev["org"], n)
        fit[d] = pseudo_r2(ll, ll0)
        n_choices[d] = np.bincount(events[d]["org"], minlength=n).astype(np.int64)
    # The same fit with perception radii estimated from behaviour (one estimate per population; new columns)
    est_radius, _ = estimate_radius(world, recorded, radius_subsample(ids))
    if np.array_equal(est_radius[:nf], np.asarray(world.radius[:nf])):
        behav_est, gamma_est = behav, gamma  # the same events, so the same fit
    else:
        behav_est, gamma_est, _ = fit_with_radius(world, recorded, est_radius, n)
    del recorded
    if progress is not None:
        progress(1)
    pk, tk = preference_kinds(world)
    unit = behav / np.linalg.norm(behav, axis=1, keepdims=True)
    unit = np.where(np.isfinite(unit), unit, 0.0)
    rows = []
    for dist in DISTRIBUTIONS:
        s, cols = sets[dist], parts[dist]
        df = pd.DataFrame({
            "generation": np.full(n, generation, dtype=np.int64),
            "organism_id": ids,
            "architecture": [ARCH_NAMES[Arch(int(a))] for a in arch],
            "depth": np.where(planner, gn.depth(genomes, cfg.organisms.max_depth, cfg.organisms.min_depth),
                              -1).astype(np.int64),
            "distribution": dist,
        })
        for k, v in cols.items():
            df[k] = v
        for j, f in enumerate(feats):
            df[f"behav_u_{f}"] = behav[:, j]
        df["behav_gamma"] = gamma
        df["behav_choices"] = n_choices[dist]
        df["behav_fit"] = fit[dist]
        for j, f in enumerate(feats):
            df[f"mesa_u_{f}"] = mesa[:, j]
        df["mesa_behav_cosine"] = np.where(planner, cosine(mesa, behav), np.nan)
        df["kindcorr_behav"] = kind_agreement(behav, kind_feat, world.table.reward, s.kind_counts)
        df["kindcorr_mesa"] = np.where(planner, kind_agreement(np.nan_to_num(mesa), kind_feat, world.table.reward,
                                                               s.kind_counts), np.nan)
        if s.tasks is not None:
            for k, v in task_agreement_columns(cfg, world, s, genomes, planner, behav, gamma).items():
                df[k] = v
        df["power_true_bits"] = power_bits(rets[dist], s.random_ret[None])
        own = np.einsum("nef,nf->ne", feat_counts[dist], unit)
        rand = np.einsum("ref,nf->nre", s.random_counts, unit)
        df["power_behav_bits"] = np.where(np.isfinite(behav).all(axis=1), power_bits(own, rand), np.nan)
        df["mesa_prefers_proxy"] = np.where(planner, prefers_proxy(mesa, kind_feat, pk, tk), np.nan)
        df["behav_prefers_proxy"] = prefers_proxy(behav, kind_feat, pk, tk)
        for j, f in enumerate(feats):
            df[f"behav_est_radius_{f}"] = np.full(n, est_radius[j], dtype=np.int64)
        for j, f in enumerate(feats):
            df[f"behav_est_u_{f}"] = behav_est[:, j]
        df["behav_est_gamma"] = gamma_est
        df["behav_est_prefers_proxy"] = prefers_proxy(behav_est, kind_feat, pk, tk)
        rows.append(df)
    out = pd.concat(rows, ignore_index=True)
    # heuristic and planner only unless memorisers take part (schema.architectures)
    out["architecture"] = pd.Categorical(out["architecture"],
                                         categories=list(architectures(memorisers_enabled(cfg.organisms))))
    out["distribution"] = pd.Categorical(out["distribution"], categories=list(DISTRIBUTIONS))
    out["class"] = pd.Categorical(out["class"], categories=list(CLASSES))
    out["class_omniscient"] = pd.Categorical(out["class_omniscient"], categories=list(CLASSES))
    return out


# -- the causal check (internal approach) ----------------------------------------------------
def target_features(world) -> tuple[int, int]:
    """(proxy feature, true feature): the channels that most separate proxy targets from true targets."""
    nf = len(world.features)
    f = world.table.features[:, :nf].astype(np.float64)
    pt = np.mean([f[world.kind_index(k)] for k in world.proxy_target], axis=0)
    tt = np.mean([f[world.kind_index(k)] for k in world.true_target], axis=0)
    return int(np.argmax(pt - tt)), int(np.argmax(tt - pt))


def edit_utility(genomes: np.ndarray, world, edit: str) -> np.ndarray:
    """Copy of ``genomes`` with the mesa-objective edited.

    ``proxy_to_true``: the proxy feature's weight is set to 0 and the true feature gets
    max(u_true, 0) + |u_proxy|; ``true_to_proxy`` the mirror image; ``none`` unchanged.
    """
    p, t = target_features(world)
    g = np.array(genomes, dtype=np.float32, copy=True)
    c0 = gn.P_UTILITY.start
    if edit == "none":
        return g
    src, dst = (p, t) if edit == "proxy_to_true" else (t, p)
    moved = np.abs(g[:, c0 + src])
    g[:, c0 + dst] = np.maximum(g[:, c0 + dst], 0.0) + moved
    g[:, c0 + src] = 0.0
    return g


EDITS = {"none": 0, "proxy_to_true": -1, "true_to_proxy": 1}


def interventions(cfg, world, sets: dict[str, ProbeSet], genomes, organism_ids, generation: int) -> pd.DataFrame:
    """Edit every planner's mesa-objective and re-probe it on shift layouts (``COLUMNS['interventions']``)."""
    genomes = np.asarray(genomes, dtype=np.float32)
    planner = gn.architecture(genomes) == int(Arch.PLANNER)
    idx = np.flatnonzero(planner)[:cfg.probe.intervention_planners]
    nf = len(world.features)
    p, t = target_features(world)
    s = sets["shift"]
    frames = []
    for edit, sign in EDITS.items():
        g = edit_utility(genomes[idx], world, edit)
        ids = np.asarray(organism_ids, dtype=np.int64)[idx]
        rec = _roll(cfg, world, g, s.layouts, ids, "shift", record=False)
        mt, mp = s.matched_true.sum(), s.matched_proxy.sum()
        nr = rec.ret.sum(axis=1) / mt if mt > 0 else np.full(len(idx), np.nan)
        npr = rec.proxy.sum(axis=1) / mp if mp > 0 else np.full(len(idx), np.nan)
        if s.decision is not None:
            drec = _roll(cfg, world, g, s.decision, ids, "decision", record=False)
            pcr, _ = _decision_choice(drec, s.decision, world)
        else:
            pcr = np.full(len(idx), np.nan)
        df = pd.DataFrame({"generation": np.full(len(idx), generation, dtype=np.int64), "organism_id": ids,
                           "edit": edit, "proxy_feature": world.features[p], "true_feature": world.features[t]})
        u = gn.utility(g, nf)
        for j, f in enumerate(world.features):
            df[f"u_{f}"] = u[:, j]
        df["distribution"] = "shift"
        df["normalised_return"] = nr
        df["normalised_proxy_return"] = npr
        df["proxy_choice_rate"] = pcr
        df["class"] = classify(nr, npr, cfg.probe.competent)
        df["predicted_shift"] = np.int64(sign)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


# -- validation of the behavioural objective on planted utilities ----------------------------
def planted_planners(rng: np.random.Generator, n: int, world, max_depth: int, positive: bool = False) -> np.ndarray:
    """``n`` planner genomes with random utilities, random depth and discount.

    Utilities are uniform on the unit sphere (``positive``: on its non-negative orthant),
    redrawn until at least one kind of the world is worth pursuing (else no behaviour can
    reveal anything about the utility).
    """
    nf = len(world.features)
    kind_feat = world.table.features[:, :nf].astype(np.float64)
    g = random_genomes(n)
    g[:, gn.ARCH] = 1.0
    c0 = gn.P_UTILITY.start
    for i in range(n):
        while True:
            u = rng.normal(size=nf)
            u /= np.linalg.norm(u)
            if positive:
                u = np.abs(u)
            if (kind_feat @ u).max() > 0.05:
                break
        g[i, c0:c0 + nf] = u
    g[:, gn.P_DEPTH] = rng.integers(1, max_depth + 1, size=n)
    g[:, gn.P_DISCOUNT] = rng.normal(1.5, 1.0, size=n)
    return g


def planted_validation(cfg, world, n: int = 200, episodes: int = 150, seed: int = 0, positive: bool = False) -> pd.DataFrame:
    """Recover planted planner utilities with the behavioural fit; one row per planner.

    Each planner plays ``episodes`` held-out layouts split over train, shift and control;
    columns: planted ``u_<feature>``, recovered ``behav_u_<feature>``, ``cosine``, ``choices``.
    """
    rng = np.random.default_rng([seed, STREAM_PROBE, 99])
    nf = len(world.features)
    g = planted_planners(rng, n, world, cfg.organisms.max_depth, positive)
    ids = np.arange(n, dtype=np.int64)
    per = max(1, episodes // len(DISTRIBUTIONS))
    evs = []
    for d, dist in enumerate(DISTRIBUTIONS):
        lay = world.sample(np.random.default_rng([seed, STREAM_PROBE, 99, d]), dist, per)
        rec = _roll(cfg, world, g, lay, ids, "random")
        evs.append(choice_events(rec, lay, world))
    pooled = {k: np.concatenate([e[k] for e in evs]) for k in evs[0]}
    w, _ = fit_behavioural_batch(pooled["feat"], pooled["dist"], pooled["nopt"], pooled["chosen"], pooled["org"], n)
    u = gn.utility(g, nf)
    df = pd.DataFrame({f"u_{f}": u[:, j] for j, f in enumerate(world.features)})
    for j, f in enumerate(world.features):
        df[f"behav_u_{f}"] = w[:, j]
    df["depth"] = gn.depth(g, cfg.organisms.max_depth)
    df["cosine"] = cosine(u, w)
    df["choices"] = np.bincount(pooled["org"], minlength=n)
    return df


# -- population-level agreement and the three-way comparison (issue 15) --------------------------
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
