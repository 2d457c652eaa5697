"""Measures on tables and arrays: outcome classes, agreement, optimisation power, preferences.

Pure NumPy/SciPy on arrays that ``evosim.probe`` extracts from rollouts, or on its tables; no
kernels here (``tests/test_layers.py`` checks that importing this module loads none). The fit of
the behavioural objective (the choice model, a numba kernel) lives in ``evosim.probe.behaviour``;
its likelihood under given weights (``choice_loglik*``, ``pseudo_r2``) is here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd



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


def choice_information_batch(w, gamma, feat, dist, nopt, chosen, org, n_org, ridge) -> np.ndarray:
    """Per organism: the negative Hessian of the penalised log-likelihood at (w[i], gamma[i]) (the observed
    information plus ``ridge`` on the diagonal: the fit's penalty is ``0.5 * ridge * |w|^2``), ``[n_org, F, F]``;
    NaN for organisms without events or fit. Its inverse is the Laplace approximation of the fit's covariance:
    how far each weight (or a difference of weights) is determined by the organism's own choices."""
    org = np.asarray(org, dtype=np.int64)
    f = feat.shape[2]
    info = np.zeros((n_org, f, f))
    target = np.asarray(chosen, dtype=np.int64) + 1
    for g in np.unique(gamma[np.isfinite(gamma)]):
        sel = np.isfinite(gamma[org]) & (gamma[org] == g)
        if not sel.any():
            continue
        x, mask = _design(feat[sel], dist[sel], nopt[sel], g)
        _, p = _objective(w[org[sel]], x, mask, target[sel])
        xbar = np.einsum("nk,nkf->nf", p, x)
        cov = np.einsum("nk,nkf,nkg->nfg", p, x, x) - xbar[:, :, None] * xbar[:, None, :]
        np.add.at(info, org[sel], cov)
    info += ridge * np.eye(f)[None]
    cnt = np.bincount(org, minlength=n_org)
    bad = (cnt == 0) | ~np.isfinite(gamma) | ~np.isfinite(w).all(axis=1)
    info[bad] = np.nan
    return info


def preference_sd(info: np.ndarray, proxy_feature: int, true_feature: int) -> np.ndarray:
    """Laplace standard deviation of the fitted ``w[proxy] - w[true]`` from ``choice_information_batch``:
    ``sqrt(c' H^-1 c)`` with ``c = e_proxy - e_true``; NaN where the information is NaN. With no information
    on the difference (the two cues always appear together), it is the ridge prior's ``sqrt(2 / ridge)``."""
    info = np.asarray(info, dtype=np.float64)
    n, f = info.shape[0], info.shape[1]
    c = np.zeros(f)
    c[proxy_feature], c[true_feature] = 1.0, -1.0
    out = np.full(n, np.nan)
    ok = np.isfinite(info).all(axis=(1, 2))
    if ok.any():
        sol = np.linalg.solve(info[ok], np.broadcast_to(c, (int(ok.sum()), f))[..., None])[..., 0]
        out[ok] = np.sqrt(np.maximum(sol @ c, 0.0))
    return out


def preference_identified(utility, sd, proxy_feature: int, true_feature: int, z: float = 1.96) -> np.ndarray:
    """1.0 where the fitted ``|w[proxy] - w[true]|`` exceeds ``z`` of its own Laplace standard deviation
    (the choices separate the two cues beyond the fit's noise), 0.0 where not, NaN without a fit."""
    u = np.atleast_2d(np.asarray(utility, dtype=np.float64))
    d = u[:, proxy_feature] - u[:, true_feature]
    sd = np.asarray(sd, dtype=np.float64)
    ok = np.isfinite(d) & np.isfinite(sd)
    return np.where(ok, (np.abs(d) > z * sd).astype(np.float64), np.nan)


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


# -- agreement relative to a distribution (the type-signature essay) -----------------------------------------
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


def kind_agreement(utility: np.ndarray, kind_feat: np.ndarray, kind_reward: np.ndarray, kind_counts: np.ndarray) -> np.ndarray:
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


#: the old name of ``kind_agreement`` (probe columns kindcorr_behav / kindcorr_mesa)
agreement = kind_agreement


# -- agreement on tasks: outputs, f and g (as the type-signature essay constructs it) ------------
def _check_fg(f, g):
    f = np.asarray(f, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"task agreement: f must be [L, K] (tasks x outputs), got shape {f.shape}")
    if g.ndim == 2:
        g = g[None]
    if g.ndim != 3 or g.shape[1:] != f.shape:
        raise ValueError(f"task agreement: g must be [N, L, K] matching f {f.shape}, got shape {g.shape}")
    out_f = np.isfinite(f)
    if not out_f[:, 0].all():
        raise ValueError("task agreement: output slot 0 (none of them) must be valued on every task")
    if (np.isfinite(g) != out_f[None]).any():
        raise ValueError("task agreement: f and g must value the same outputs (NaN = no output, in both)")
    return f, g


def mesa_choice(g) -> np.ndarray:
    """The output a search picks: the first object slot with the highest g if that is > 0, else slot 0
    (none of them: the planner explores), as ``kernels.planner_plan`` does. ``g[N, L, K]`` -> int64 [N, L]."""
    g = np.asarray(g, dtype=np.float64)
    if g.ndim != 3 or g.shape[2] < 1:
        raise ValueError(f"mesa_choice: g must be [N, L, K], got shape {g.shape}")
    obj = np.where(np.isfinite(g[:, :, 1:]), g[:, :, 1:], -np.inf)
    if obj.shape[2] == 0:
        return np.zeros(g.shape[:2], dtype=np.int64)
    best = obj.argmax(axis=2)
    top = np.take_along_axis(obj, best[:, :, None], axis=2)[:, :, 0]
    return np.where(top > 0, best + 1, 0).astype(np.int64)


def _ranks(v: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Mid-ranks of v[..., K] among the entries where ok (NaN elsewhere)."""
    a = np.where(ok, v, np.nan)  # NaN compares False: entries outside ok count nowhere
    less = (a[..., None, :] < a[..., :, None]).sum(-1)
    eq = (a[..., None, :] <= a[..., :, None]).sum(-1) - less
    r = less + (eq + 1) / 2.0
    return np.where(ok, r, np.nan)


def task_agreement(f, g, choice=None) -> dict:
    """Agreement of the base objective and an organism's objective on each task.

    ``f[L, K]`` base value of every output of every task (``kernels.task_values``; NaN: no such
    output; slot 0 = none of them), ``g[N, L, K]`` each organism's value of the same outputs (its
    search, ``kernels.mesa_values``, or its behavioural model, ``behavioural_values``), ``choice``
    [N, L] the output each picks (default ``mesa_choice(g)``). Returns per (organism, task):

    ``regret``   (max f - f(choice)) / (max f - min f) over the task's outputs: 0 = the organism's
                 objective picks a base-optimal output, 1 = the base-worst; NaN where f is constant
                 (every output is as good: nothing to regret)
    ``rankcorr`` Spearman correlation of f and g over the task's outputs (mid-ranks for ties); NaN
                 where there are < 2 outputs or f or g is constant
    ``value``    f(choice), the base value of what the organism's objective picks
    """
    f, g = _check_fg(f, g)
    if choice is None:
        choice = mesa_choice(g)
    choice = np.asarray(choice, dtype=np.int64)
    if choice.shape != g.shape[:2] or (choice < 0).any() or (choice >= f.shape[1]).any():
        raise ValueError(f"task_agreement: choice must be [N, L] output slots, got shape {choice.shape}")
    ok = np.isfinite(f)
    if not np.take_along_axis(np.broadcast_to(ok[None], g.shape), choice[:, :, None], axis=2).all():
        raise ValueError("task_agreement: a choice is not an output of its task")
    fmax = np.where(ok, f, -np.inf).max(axis=1)
    fmin = np.where(ok, f, np.inf).min(axis=1)
    value = np.take_along_axis(np.broadcast_to(f[None], g.shape), choice[:, :, None], axis=2)[:, :, 0]
    rng_ = fmax - fmin
    with np.errstate(invalid="ignore", divide="ignore"):
        regret = np.where(rng_[None] > 0, (fmax[None] - value) / rng_[None], np.nan)
    rf = _ranks(f, ok)[None]
    okb = np.broadcast_to(ok[None], g.shape)
    rg = _ranks(g, okb)
    k = ok.sum(axis=1)[None].astype(np.float64)
    mf = np.nansum(rf, axis=2, keepdims=True) / k[..., None]
    mg = np.nansum(rg, axis=2, keepdims=True) / k[..., None]
    cov = np.nansum((rf - mf) * (rg - mg), axis=2)
    vf = np.nansum((rf - mf) ** 2, axis=2)
    vg = np.nansum((rg - mg) ** 2, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        rank = np.where((k >= 2) & (vf > 1e-12) & (vg > 1e-12), cov / np.sqrt(vf * vg), np.nan)
    return {"regret": regret, "rankcorr": rank, "value": value}


def behavioural_values(w, gamma, tasks) -> np.ndarray:
    """g of the behavioural model over the outputs of ``tasks`` (``kernels.TaskValues``): slot 0 (none) = 0,
    object q = w . (features visible from the start) * gamma ** distance, as in the choice model;
    NaN rows where the fit is missing. ``w[N, F]``, ``gamma[N]`` -> [N, L, K]."""
    w = np.atleast_2d(np.asarray(w, dtype=np.float64))
    gamma = np.atleast_1d(np.asarray(gamma, dtype=np.float64))
    if w.shape[1] != tasks.vis.shape[2] or gamma.shape != (len(w),):
        raise ValueError(f"behavioural_values: need w[N, {tasks.vis.shape[2]}] and gamma[N], got {w.shape}, {gamma.shape}")
    nl, p = tasks.cand.shape
    out = np.full((len(w), nl, p + 1), np.nan)
    ok = np.isfinite(w).all(axis=1) & np.isfinite(gamma) & (gamma > 0)
    live = np.isfinite(tasks.f[:, 1:])
    u = np.einsum("lpf,nf->nlp", tasks.vis, np.where(ok[:, None], w, 0.0))
    disc = np.where(ok[:, None, None], np.where(ok, gamma, 1.0)[:, None, None] ** tasks.cand_d[None].astype(np.float64), 0)
    out[:, :, 1:] = np.where(live[None], u * disc, np.nan)
    out[:, :, 0] = 0.0
    out[~ok] = np.where(np.isfinite(tasks.f)[None], 0.0, np.nan)  # no fit: indifferent (excluded below)
    return out


def mixture_means(values_a, values_b, p) -> np.ndarray:
    """Mean of per-task values under D_p = (1 - p) * uniform(tasks of A) + p * uniform(tasks of B),
    NaN tasks excluded (renormalised): ``values_a[..., La]``, ``values_b[..., Lb]``, ``p`` in [0, 1]
    (scalar or 1-D) -> [..., len(p)]. Each task's value is computed once; mixtures only reweight."""
    p = np.atleast_1d(np.asarray(p, dtype=np.float64))
    if p.ndim != 1 or ((p < 0) | (p > 1)).any():
        raise ValueError("mixture_means: p must be mixing rates in [0, 1]")
    a, b = np.asarray(values_a, dtype=np.float64), np.asarray(values_b, dtype=np.float64)
    if a.shape[-1] == 0 or b.shape[-1] == 0:
        raise ValueError("mixture_means: both distributions need at least one task")
    sa, na = np.nansum(a, axis=-1), np.isfinite(a).sum(axis=-1)
    sb, nb = np.nansum(b, axis=-1), np.isfinite(b).sum(axis=-1)
    return mixture_from_summaries(sa / a.shape[-1], na / a.shape[-1], sb / b.shape[-1], nb / b.shape[-1], p)


def mixture_from_summaries(mean_sum_a, valid_a, mean_sum_b, valid_b, p) -> np.ndarray:
    """``mixture_means`` from per-distribution summaries: the mean over all tasks of the value with NaN
    read as 0 (``mean_sum``) and the share of tasks with a value (``valid``), so a figure can draw the
    curve from probe.parquet alone. Returns [..., len(p)]."""
    p = np.atleast_1d(np.asarray(p, dtype=np.float64))
    sa, va, sb, vb = (np.asarray(x, dtype=np.float64)[..., None] for x in (mean_sum_a, valid_a, mean_sum_b, valid_b))
    num = (1 - p) * sa + p * sb
    den = (1 - p) * va + p * vb
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


# -- outcome classes -------------------------------------------------------------------------
def classify(normalised_return, normalised_proxy_return, competent: float) -> np.ndarray:
    """``robust`` if the base objective is pursued competently (normalised return >= competent),
    else ``pseudo_aligned`` if the proxy is (normalised proxy return >= competent), else
    ``capability_failure``."""
    t = np.asarray(normalised_return, dtype=np.float64)
    p = np.asarray(normalised_proxy_return, dtype=np.float64)
    return np.where(t >= competent, "robust", np.where(p >= competent, "pseudo_aligned", "capability_failure"))


def normalise(total, chance_total, reference_total) -> np.ndarray:
    """(R - R_chance) / (R_ref - R_chance): 0 = no better than chance (the better of the random and the
    idle policy), 1 = as good as the reference; sums (or means) over the same layouts. NaN where the
    reference does not beat chance (nothing to normalise against)."""
    r = np.asarray(total, dtype=np.float64)
    span = float(reference_total) - float(chance_total)
    if not np.isfinite(span) or span <= 0:
        return np.full(r.shape, np.nan)
    return (r - float(chance_total)) / span


# -- what organisms value, from utilities (never from outcomes) --------------------------------
def prefers_proxy(utility, proxy_feature: int, true_feature: int) -> np.ndarray:
    """Cue preference: 1.0 where the utility weight of the proxy cue (feature channel ``proxy_feature``,
    ``world.proxy_feature``) is strictly above that of the true cue (``true_feature``), 0.0 where not,
    NaN where either weight is not finite. Compares cues, not bundles of features: a sweetness-only valuer
    in ancestral_modern prefers the proxy although candy's features are a subset of fruit's.
    ``utility[N, F]``."""
    u = np.atleast_2d(np.asarray(utility, dtype=np.float64))
    p, t = u[:, proxy_feature], u[:, true_feature]
    ok = np.isfinite(p) & np.isfinite(t)
    return np.where(ok, (p > t).astype(np.float64), np.nan)


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
