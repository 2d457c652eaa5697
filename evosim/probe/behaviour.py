"""What organisms pursue, from their behaviour: choice events, the behavioural fit, perception radii
estimated from behaviour, and the validation of the fit on planners with planted utilities.

The behavioural objective (the behavioural approach of the mesa-optimisation essays) is a
Boltzmann-rational choice model: at a choice event the organism picks option ``o`` among the
perceived objects, or the outside option "none of them" (value 0), with probability proportional
to ``exp(w . phi(o) * gamma ** d(o))``, where ``phi`` is what it could see of ``o`` (features beyond
their perception radius read 0) and ``d`` the path distance. ``w`` (the utility, inverse
temperature folded in) is fitted by maximum likelihood with a small ridge penalty (choices of
deterministic organisms are often separable) by Newton's method (the problem is convex in ``w``;
numba kernel ``evosim.kernels.fit_choices``, checked against SciPy in tests/test_objectives.py);
``gamma`` by profile likelihood over ``GAMMAS``. The likelihood itself (``choice_loglik*``) is a
measure on arrays and lives in ``evosim.objectives``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from evosim import genome as gn
from evosim import kernels
from evosim.constants import STREAM_PROBE
from evosim.objectives import (choice_information_batch, choice_loglik, cosine, preference_identified,
                                preference_sd)
from evosim.probe.sets import _roll, random_genomes
from evosim.schema import DISTRIBUTIONS

#: discount values tried for the behavioural model (profile likelihood)
GAMMAS = (0.7, 0.85, 0.92, 0.97)
#: ridge penalty on the behavioural utility (keeps separable fits finite)
RIDGE = 0.5
#: at most this many choice events per organism enter the fit (the first ones, deterministic)
MAX_EVENTS = 1500


def fit_behavioural_batch(feat, dist, nopt, chosen, org, n_org, gammas=GAMMAS, ridge=RIDGE, objective=False):
    """Fit the choice model for many organisms at once (numba, behind ``evosim.kernels.fit_choices``).

    ``feat[n, K, F]`` visible features of the options, ``dist[n, K]`` path distances,
    ``nopt[n]`` options per event, ``chosen[n]`` the option slot picked or -1 (none),
    ``org[n]`` the organism (0..n_org-1) of each event. Returns (w[n_org, F], gamma[n_org]);
    NaN rows for organisms without events; with ``objective`` also the maximised penalised
    log-likelihood per organism (summed over its events).
    """
    org = np.asarray(org, dtype=np.int64)
    order = np.argsort(org, kind="stable")
    start = np.searchsorted(org[order], np.arange(n_org + 1)).astype(np.int64)
    w, g, obj = kernels.fit_choices(feat[order], dist[order], nopt[order], chosen[order], start, gammas, ridge)
    return (w, g, obj) if objective else (w, g)


def fit_behavioural(feat, dist, nopt, chosen, gammas=GAMMAS, ridge=RIDGE):
    """Fit the choice model to one organism's events: (w[F], gamma, LL per event, LL of uniform choice)."""
    n = len(chosen)
    f = feat.shape[2]
    if n == 0:
        return np.full(f, np.nan), np.nan, np.nan, np.nan
    w, g = fit_behavioural_batch(feat, dist, nopt, chosen, np.zeros(n, dtype=np.int64), 1, gammas, ridge)
    ll, ll0 = choice_loglik(w[0], g[0], feat, dist, nopt, chosen)
    return w[0], float(g[0]), ll, ll0


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


def fit_train(events: dict[str, dict], n: int, pf: int, tf: int):
    """The behavioural objective from training behaviour only (the red-door essay's point: from training
    choices alone the objective may be underdetermined). One fit per organism on its choice events of the
    ``train`` distribution only (at most ``MAX_EVENTS``, evenly spread); no other distribution's events are
    read. Returns (utility [n, F], discount [n], Laplace SD of ``w[pf] - w[tf]`` [n], identified [n]: 1.0
    where the fitted difference exceeds 1.96 of its SD, see ``objectives.preference_identified``)."""
    ev = _cap(events["train"], n, MAX_EVENTS)
    w, g = fit_behavioural_batch(ev["feat"], ev["dist"], ev["nopt"], ev["chosen"], ev["org"], n)
    info = choice_information_batch(w, g, ev["feat"], ev["dist"], ev["nopt"], ev["chosen"], ev["org"], n, RIDGE)
    sd = preference_sd(info, pf, tf)
    return w, g, sd, preference_identified(w, sd, pf, tf)


# -- perception radii estimated from behaviour -------------------------------
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
    # With the window fixed, the events (which steps, their options, order, distances and the choice) do
    # not depend on the radii: channel j's features read 0 beyond r[j] and nothing else changes. So the
    # events are extracted once per candidate value c (every channel at radius c) and a radius vector
    # takes channel j's features from the extraction at r[j] (the same numbers a direct extraction writes).
    at: dict[int, dict] = {}

    def events_at(c: int) -> dict:
        if c not in at:
            rad = np.zeros_like(world.radius)
            rad[:nf] = c
            at[c] = {d: _cap(choice_events(t, lay, world, rad, window), n, RADIUS_EVENTS) for d, (t, lay) in sub.items()}
        return at[c]

    def score(r: tuple) -> float:
        if r not in scores:
            ev = {}
            for d in sub:
                ev[d] = dict(events_at(r[0])[d])
                ev[d]["feat"] = np.array(ev[d]["feat"], copy=True)
                for j in range(1, nf):
                    ev[d]["feat"][..., j] = events_at(r[j])[d]["feat"][..., j]
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


# -- validation of the behavioural objective on planted utilities ----------------------------
def planted_planners(rng: np.random.Generator, n: int, world, max_depth: int, positive: bool = False) -> np.ndarray:
    """``n`` planner genomes with random utilities, random depth and discount.

    Utilities are uniform on the unit sphere (``positive``: on its non-negative orthant),
    redrawn until at least one kind that the probed layouts hold is worth pursuing (else no
    behaviour can reveal anything about the utility).
    """
    nf = len(world.features)
    probed = world.kinds_in()
    kind_feat = world.table.features[[k for k, kind in enumerate(world.kinds) if kind.name in probed], :nf]
    kind_feat = kind_feat.astype(np.float64)
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
