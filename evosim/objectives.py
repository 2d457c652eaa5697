"""Objectives of organisms: behavioural objective inference, agreement, outcome classes, power.

Pure NumPy/SciPy on arrays that ``evosim.probe`` extracts from rollouts; no kernels here.

Behavioural objective (the behavioural approach of seeds 000/001)
    A Boltzmann-rational choice model: at a choice event the organism picks option ``o``
    among the perceived objects, or the outside option "none of them" (value 0), with
    probability proportional to ``exp(w . phi(o) * gamma ** d(o))``, where ``phi`` is what it
    could see of ``o`` (features beyond their perception radius read 0) and ``d`` the path
    distance. ``w`` (the utility, inverse temperature folded in) is fitted by maximum
    likelihood with a small ridge penalty (choices of deterministic organisms are often
    separable) by Newton's method (the problem is convex in ``w``; numba kernel in
    ``kernels/probe_kernels.py``, checked against SciPy in tests/test_objectives.py);
    ``gamma`` by profile likelihood over ``GAMMAS``. The fit is validated on
    planners with planted utilities (tests/test_objectives.py).
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from evosim.schema import CLASSES, class_shares  # noqa: F401 - re-exported (their home is evosim.schema)

#: discount values tried for the behavioural model (profile likelihood)
GAMMAS = (0.7, 0.85, 0.92, 0.97)
#: ridge penalty on the behavioural utility (keeps separable fits finite)
RIDGE = 0.5
#: at most this many choice events per organism enter the fit (the first ones, deterministic)
MAX_EVENTS = 1500


# -- behavioural objective -------------------------------------------------------------------
def _design(feat: np.ndarray, dist: np.ndarray, nopt: np.ndarray, gamma: float):
    """X[n, 1 + K, F] (slot 0 = outside option, zero) and the valid-slot mask."""
    n, k, f = feat.shape
    x = np.zeros((n, k + 1, f))
    x[:, 1:, :] = feat * (gamma ** dist.astype(np.float64))[:, :, None]
    mask = np.zeros((n, k + 1), dtype=bool)
    mask[:, 0] = True
    mask[:, 1:] = np.arange(k)[None, :] < nopt[:, None]
    return x, mask


def _objective(w_ev, x, mask, target):
    """Per-event log-likelihood and choice probabilities for per-event weights ``w_ev[n, F]``."""
    s = np.where(mask, np.einsum("nkf,nf->nk", x, w_ev), -np.inf)
    mx = s.max(axis=1)
    e = np.exp(s - mx[:, None])
    z = e.sum(axis=1)
    ll = s[np.arange(len(target)), target] - mx - np.log(z)
    return ll, e / z[:, None]


def fit_behavioural_batch(feat, dist, nopt, chosen, org, n_org, gammas=GAMMAS, ridge=RIDGE):
    """Fit the choice model for many organisms at once (numba, behind ``evosim.kernels.fit_choices``).

    ``feat[n, K, F]`` visible features of the options, ``dist[n, K]`` path distances,
    ``nopt[n]`` options per event, ``chosen[n]`` the option slot picked or -1 (none),
    ``org[n]`` the organism (0..n_org-1) of each event. Returns (w[n_org, F], gamma[n_org]);
    NaN rows for organisms without events.
    """
    from evosim.kernels import fit_choices

    org = np.asarray(org, dtype=np.int64)
    order = np.argsort(org, kind="stable")
    start = np.searchsorted(org[order], np.arange(n_org + 1)).astype(np.int64)
    w, g, _ = fit_choices(feat[order], dist[order], nopt[order], chosen[order], start, gammas, ridge)
    return w, g


def fit_behavioural(feat, dist, nopt, chosen, gammas=GAMMAS, ridge=RIDGE):
    """Fit the choice model to one organism's events: (w[F], gamma, LL per event, LL of uniform choice)."""
    n = len(chosen)
    f = feat.shape[2]
    if n == 0:
        return np.full(f, np.nan), np.nan, np.nan, np.nan
    w, g = fit_behavioural_batch(feat, dist, nopt, chosen, np.zeros(n, dtype=np.int64), 1, gammas, ridge)
    ll, ll0 = choice_loglik(w[0], g[0], feat, dist, nopt, chosen)
    return w[0], float(g[0]), ll, ll0


def choice_loglik(w, gamma, feat, dist, nopt, chosen) -> tuple[float, float]:
    """Mean log-likelihood per event of (w, gamma) and of a uniform choice, on one organism's events."""
    ll, ll0 = choice_loglik_batch(np.atleast_2d(w), np.atleast_1d(gamma), feat, dist, nopt, chosen,
                                  np.zeros(len(chosen), dtype=np.int64), 1)
    return float(ll[0]), float(ll0[0])


def choice_loglik_batch(w, gamma, feat, dist, nopt, chosen, org, n_org) -> tuple[np.ndarray, np.ndarray]:
    """Per organism: mean log-likelihood per event under (w[i], gamma[i]) and under a uniform choice."""
    org = np.asarray(org, dtype=np.int64)
    ll = np.zeros(len(org))
    ll0 = np.zeros(len(org))
    target = np.asarray(chosen, dtype=np.int64) + 1
    for g in np.unique(gamma[np.isfinite(gamma)]):
        sel = np.isfinite(gamma[org]) & (gamma[org] == g)
        if not sel.any():
            continue
        x, mask = _design(feat[sel], dist[sel], nopt[sel], g)
        ll[sel], _ = _objective(w[org[sel]], x, mask, target[sel])
        ll0[sel] = -np.log(mask.sum(axis=1))
    cnt = np.bincount(org, minlength=n_org).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(cnt > 0, np.bincount(org, weights=ll, minlength=n_org) / cnt, np.nan),
                np.where(cnt > 0, np.bincount(org, weights=ll0, minlength=n_org) / cnt, np.nan))


def pseudo_r2(ll, ll0):
    """McFadden's pseudo-R^2 = 1 - LL / LL(uniform): 1 = perfect, 0 = no better than chance."""
    ll, ll0 = np.asarray(ll, dtype=np.float64), np.asarray(ll0, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isfinite(ll) & np.isfinite(ll0) & (ll0 != 0), 1.0 - ll / ll0, np.nan)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity (NaN where a row is zero or NaN)."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (a * b).sum(axis=1) / (na * nb)
    return np.where((na > 0) & (nb > 0), out, np.nan)


# -- agreement relative to a distribution (seed 003) -----------------------------------------
def _midranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mid-ranks of ``values`` in a sample where value i occurs ``weights[i]`` times."""
    order = np.argsort(values, kind="stable")
    v, wt = values[order], weights[order]
    ranks = np.empty(len(v))
    below = 0.0
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[j + 1] == v[i]:
            j += 1
        tot = wt[i:j + 1].sum()
        ranks[i:j + 1] = below + (tot + 1) / 2
        below += tot
        i = j + 1
    out = np.empty(len(v))
    out[order] = ranks
    return out


def agreement(utility: np.ndarray, kind_feat: np.ndarray, kind_reward: np.ndarray, kind_counts: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between base reward and utility over the objects of a distribution.

    Each object available in the distribution's layouts is one event; kinds enter with their
    counts, so agreement is always relative to that distribution. ``utility[N, F]``,
    ``kind_feat[K, F]``, ``kind_reward[K]``, ``kind_counts[K]``. NaN where either side is
    constant over the events (nothing to agree on).
    """
    utility = np.atleast_2d(utility)
    present = kind_counts > 0
    feat, reward, cnt = kind_feat[present], kind_reward[present].astype(np.float64), kind_counts[present].astype(np.float64)
    out = np.full(len(utility), np.nan)
    if present.sum() < 2:
        return out
    r_rank = _midranks(reward, cnt)
    wsum = cnt.sum()
    for i, u in enumerate(utility):
        if not np.isfinite(u).all():
            continue
        val = np.round(feat @ u, 9)
        u_rank = _midranks(val, cnt)
        mr, mu = (cnt * r_rank).sum() / wsum, (cnt * u_rank).sum() / wsum
        cov = (cnt * (r_rank - mr) * (u_rank - mu)).sum()
        vr, vu = (cnt * (r_rank - mr) ** 2).sum(), (cnt * (u_rank - mu) ** 2).sum()
        if vr > 0 and vu > 0:
            out[i] = cov / np.sqrt(vr * vu)
    return out


# -- outcome classes -------------------------------------------------------------------------
def classify(normalised_return, normalised_proxy_return, competent: float) -> np.ndarray:
    """``robust`` if the base objective is pursued competently (normalised return >= competent),
    else ``pseudo_aligned`` if the proxy is (normalised proxy return >= competent), else
    ``capability_failure``."""
    t = np.asarray(normalised_return, dtype=np.float64)
    p = np.asarray(normalised_proxy_return, dtype=np.float64)
    return np.where(t >= competent, "robust", np.where(p >= competent, "pseudo_aligned", "capability_failure"))


# -- what organisms value, from utilities (never from outcomes) --------------------------------
def prefers_proxy(utility, kind_feat, proxy_kind: int, true_kind: int) -> np.ndarray:
    """1.0 where ``utility . features`` of ``proxy_kind`` is strictly above that of ``true_kind``,
    0.0 where not, NaN where the utility row is not finite. ``utility[N, F]``, ``kind_feat[K, F]``."""
    u = np.atleast_2d(np.asarray(utility, dtype=np.float64))
    kf = np.asarray(kind_feat, dtype=np.float64)
    ok = np.isfinite(u).all(axis=1)
    u0 = np.where(ok[:, None], u, 0.0)
    out = (u0 @ kf[proxy_kind] > u0 @ kf[true_kind]).astype(np.float64)
    return np.where(ok, out, np.nan)


def prefers_proxy_shares(probe: pd.DataFrame) -> pd.DataFrame:
    """Per class, architecture and distribution (final generation probed): organisms ``n`` and the share
    whose evolved utility (``mesa_share``, planners; NaN rows excluded) and behavioural utility
    (``behav_share``) prefer the proxy target (columns ``mesa_prefers_proxy``, ``behav_prefers_proxy``)."""
    df = probe[probe["generation"] == probe["generation"].max()]
    keys = ["class", "architecture", "distribution"]
    g = df.groupby(keys, observed=True)
    return pd.concat([g.size().rename("n"), g["mesa_prefers_proxy"].mean().rename("mesa_share"),
                      g["behav_prefers_proxy"].mean().rename("behav_share")], axis=1).reset_index()


def balanced_accuracy(predicted, actual) -> float:
    """Mean of sensitivity and specificity of boolean ``predicted`` for boolean ``actual``
    (NaN predictions dropped; NaN if either class of ``actual`` is empty)."""
    p = np.asarray(predicted, dtype=np.float64)
    a = np.asarray(actual, dtype=bool)
    ok = np.isfinite(p)
    p, a = p[ok] > 0.5, a[ok]
    if a.all() or not a.any():
        return float("nan")
    return float(0.5 * ((p & a).sum() / a.sum() + (~p & ~a).sum() / (~a).sum()))


# -- optimisation power ----------------------------------------------------------------------
def power_bits(score: np.ndarray, random_score: np.ndarray) -> np.ndarray:
    """-log2 of the fraction of random-policy outcomes scoring at least as well as the organism.

    ``score[N, E]`` the organism's score per episode, ``random_score[N or 1, R, E]`` random
    outcomes on the same layouts. The fraction pools all (r, e) pairs and is smoothed as
    (count + 1) / (total + 1), so power stays finite (at most log2(R * E + 1) bits).
    """
    score = np.asarray(score, dtype=np.float64)
    rs = np.asarray(random_score, dtype=np.float64)
    at_least = (rs >= score[:, None, :] - 1e-9).sum(axis=(1, 2))
    total = rs.shape[1] * rs.shape[2]
    return -np.log2((at_least + 1.0) / (total + 1.0))
