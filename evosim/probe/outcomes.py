"""What organisms achieve on held-out layouts: the outcome columns and ``probe_population``, the
probe's table (one row per organism and distribution, ``evosim.schema.PROBE_COLUMNS["probe"]``).

For every organism and distribution it measures what the organism achieves (base return, proxy
return, both against a perception-matched reference planner and against an exact oracle), how it
behaves (path efficiency, what it reaches first, choices on decision-point layouts), what it
pursues (a behavioural utility fitted to its choices; for planners also the mesa-objective read
from the genome), how that agrees with the base reward under each distribution, and its
optimisation power.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from evosim import genome as gn
from evosim.config import memorisers_enabled, networks_enabled
from evosim.architectures import NAMES as ARCH_NAMES
from evosim.constants import Arch, Interaction
from evosim.objectives import (
    choice_loglik_batch, classify, cosine, kind_agreement, power_bits, prefers_proxy, pseudo_r2,
)
from evosim.probe.agreement import preference_features, task_agreement_columns
from evosim.probe.behaviour import (choice_events, estimate_radius, fit_pooled, fit_train, fit_with_radius,
                                   radius_subsample)
from evosim.probe.sets import ProbeSet, _feature_counts, _roll
from evosim.schema import CLASSES, DISTRIBUTIONS, architectures


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


def _balanced_choice(rec, lay, world) -> tuple[np.ndarray, np.ndarray]:
    """(proxy_choice_rate, decision_reach_rate) per organism on balanced layouts (``shift_balanced``: every proxy
    object of ``world.balanced_pair`` paired with a true one at the same path distance from the start): the
    share of episodes whose first pair object reached is the proxy kind, among episodes where one was reached;
    and the share of episodes where one was."""
    pk, tk = (world.kind_index(k) for k in world.balanced_pair)
    big = np.iinfo(np.int64).max
    kinds = lay.obj_kind[None]
    first_p = np.where((rec.reach >= 0) & (kinds == pk), rec.reach, big).min(axis=2)
    first_t = np.where((rec.reach >= 0) & (kinds == tk), rec.reach, big).min(axis=2)
    either = (first_p < big) | (first_t < big)
    n_either = either.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n_either > 0, (either & (first_p < first_t)).sum(axis=1) / n_either, np.nan)
    return rate, either.mean(axis=1)


def _beyond_need(world, reached, kinds) -> tuple[np.ndarray, np.ndarray]:
    """(keys_beyond_need, candy_beyond_need) per organism, means per episode; NaN in worlds without the thing.

    keys_beyond_need: keys picked up minus chests opened (worlds with a picked-up kind: keys_chests).
    candy_beyond_need: sweet-but-empty items consumed: eaten objects that pay proxy but no base reward
    (proxy > 0, reward <= 0, interaction CONSUMED: ancestral_modern's candy)."""
    t = world.table
    n = reached.shape[0]
    inter = np.asarray(t.interaction)
    picked = np.flatnonzero(inter == int(Interaction.PICKED_UP))
    opened = np.flatnonzero(inter == int(Interaction.OPENED_WITH_KEY))
    empty = np.flatnonzero((inter == int(Interaction.CONSUMED)) & (np.asarray(t.proxy) > 0) & (np.asarray(t.reward) <= 0))

    def count(ks):
        return (reached & np.isin(kinds, ks)[None]).sum(axis=2).mean(axis=1).astype(np.float64)

    keys = count(picked) - count(opened) if len(picked) else np.full(n, np.nan)
    candy = count(empty) if len(empty) else np.full(n, np.nan)
    return keys, candy


def _outcomes(cfg, world, s: ProbeSet, rec) -> dict:
    """Per-organism achievement columns of one distribution."""
    nan = np.nan
    out = {
        "episodes": np.full(len(rec.ret), len(s.layouts), dtype=np.int64),
        "true_return": rec.ret.mean(axis=1),
        "oracle_return": np.full(len(rec.ret), s.oracle_true.mean()),
        "normalised_return": s.normalised(rec.ret),
        "proxy_return": rec.proxy.mean(axis=1),
        "proxy_oracle_return": np.full(len(rec.ret), s.oracle_proxy.mean()),
        "normalised_proxy_return": s.normalised_proxy(rec.proxy),
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
    out["normalised_return_omniscient"] = s.normalised_omniscient(rec.ret)
    out["normalised_proxy_return_omniscient"] = s.normalised_proxy_omniscient(rec.proxy)
    out["class_omniscient"] = classify(out["normalised_return_omniscient"], out["normalised_proxy_return_omniscient"],
                                       cfg.probe.competent)
    out["keys_beyond_need"], out["candy_beyond_need"] = _beyond_need(world, reached, kinds)
    # worse than doing nothing and than acting at random, on the same layouts (means over them)
    tr = out["true_return"]
    out["malign"] = (tr < s.idle_ret.mean()) & (tr < s.random_ret.mean())
    for k, v in (s.baseline or {}).items():
        out[k] = np.full(n, v, dtype=object if isinstance(v, str) else None)
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
        elif dist == "shift_balanced":
            cols["proxy_choice_rate"], cols["decision_reach_rate"] = _balanced_choice(rec, s.layouts, world)
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
    pf, tf = preference_features(world)
    # The same model fitted to training choices only (train distribution's events; nothing else read)
    behav_tr, gamma_tr, sd_tr, ident_tr = fit_train(events, n, pf, tf)
    unit = behav / np.linalg.norm(behav, axis=1, keepdims=True)
    unit = np.where(np.isfinite(unit), unit, 0.0)
    rows = []
    for dist in DISTRIBUTIONS:
        s, cols = sets[dist], parts[dist]
        df = pd.DataFrame({
            "generation": np.full(n, generation, dtype=np.int64),
            "organism_id": ids,
            "architecture": [ARCH_NAMES[int(a)] for a in arch],
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
        df["mesa_prefers_proxy"] = np.where(planner, prefers_proxy(mesa, pf, tf), np.nan)
        df["behav_prefers_proxy"] = prefers_proxy(behav, pf, tf)
        for j, f in enumerate(feats):
            df[f"behav_est_radius_{f}"] = np.full(n, est_radius[j], dtype=np.int64)
        for j, f in enumerate(feats):
            df[f"behav_est_u_{f}"] = behav_est[:, j]
        df["behav_est_gamma"] = gamma_est
        df["behav_est_prefers_proxy"] = prefers_proxy(behav_est, pf, tf)
        for j, f in enumerate(feats):
            df[f"behav_train_u_{f}"] = behav_tr[:, j]
        df["behav_train_gamma"] = gamma_tr
        df["behav_train_prefers_proxy"] = prefers_proxy(behav_tr, pf, tf)
        df["behav_train_preference_sd"] = sd_tr
        df["behav_train_identified"] = ident_tr
        rows.append(df)
    out = pd.concat(rows, ignore_index=True)
    # heuristic and planner only unless memorisers or networks take part (schema.architectures)
    out["architecture"] = pd.Categorical(out["architecture"], categories=list(
        architectures(memorisers_enabled(cfg.organisms), networks_enabled(cfg.organisms))))
    out["distribution"] = pd.Categorical(out["distribution"], categories=list(DISTRIBUTIONS))
    out["class"] = pd.Categorical(out["class"], categories=list(CLASSES))
    for c in ("class_omniscient", "random_class", "idle_class"):
        out[c] = pd.Categorical(out[c], categories=list(CLASSES))
    return out
