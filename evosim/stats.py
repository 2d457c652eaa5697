"""Statistics over seeds: the seed is the unit.

Organisms of one run are not independent (a population fixes: most organisms of a run share one
ancestor), so every headline number is computed per seed first (the mean over the organisms of
one run) and then summarised over seeds (n = 20 in the write-up). The intervals and tests here
come from scipy, not from hand-written resampling:

``clopper_pearson(k, n)``
    exact binomial interval (``scipy.stats.binomtest(...).proportion_ci(method="exact")``): lower
    bound 0 at k = 0, upper bound 1 at k = n.
``bca_interval(values)``
    bias-corrected and accelerated bootstrap interval of a statistic over seeds
    (``scipy.stats.bootstrap(method="BCa")``); the point for a sample whose values are all equal,
    NaN for fewer than 2 values. Its bounds are percentiles of resampled statistics, so the
    interval of a mean of shares stays inside [0, 1].
``paired_test(a, b)``
    paired seeds (experiment and control with the same seed): mean difference, its BCa interval,
    and the sign-flip permutation p-value, exact (all 2^n sign flips) for n <= 20, else
    ``scipy.stats.permutation_test(permutation_type="samples")`` with ``PAIRED_RESAMPLES`` resamples
    and a fixed seed.
``two_sample_test(a, b)``
    independent groups of seeds: difference of means, its BCa interval and the permutation p-value
    (``scipy.stats.permutation_test(permutation_type="independent")``, exact when the number of
    splits is at most ``EXACT_LIMIT``).
``holm(pvalues)``
    Holm's step-down adjusted p-values (family-wise error), NaNs left out of the family.
``per_seed(df, value, by)``, ``summarise_over_seeds(per_seed_table, value, by)``
    the two steps as tidy DataFrames: per-seed means over organisms, then mean, sd, BCa interval and
    number of seeds over seeds.
``fixation(shares)``
    how many of n seeds fixed an architecture (share >= 0.97), with a Clopper-Pearson interval.
``ed50(rates, values)``
    dose response: a logistic curve of a per-seed share against log10(rate) (one point per seed; rate 0
    placed one decade below the smallest positive rate), its midpoint (the ED50) with a percentile interval
    from a bootstrap over seeds within each rate, or None with the reason when the curve does not turn.
``smallest_effective_rate(rates, seeds, values)``
    the smallest rate whose difference from rate 0, paired by seed (``paired_test``), is significant after
    Holm's adjustment across the rates.

Coverage of nominal 95% intervals of a mean over n = 20 seeds, measured on 2000 simulated experiments
per row (``python analysis/ci_coverage.py``, 9999 resamples; docs/statistics.md has the table with
Monte Carlo intervals, about +-1 point, and interval widths):

=====================================================  =====  ==========  =====
per-seed shares                                        BCa    percentile  t
=====================================================  =====  ==========  =====
Beta(2, 5) (mean 0.29)                                 0.935  0.929       0.945
Beta(0.5, 0.5) (U-shaped, mean 0.5)                    0.957  0.941       0.957
Beta(0.3, 3) (skewed to 0, mean 0.09)                  0.907  0.882       0.893
50% of seeds near 1, the rest near 0 (fixation)        0.966  0.943       0.959
15% of seeds near 1, the rest near 0 (rare fixation)   0.946  0.920       0.924
Bernoulli(0.15): seeds exactly 0 or 1                  0.958  0.958       0.958
=====================================================  =====  ==========  =====

(percentile: ``evosim.schema.bootstrap_interval``; t: ``evosim.schema.t_interval``.) BCa covers at
least as often as the percentile bootstrap in every scenario (by up to 2.6 points). It is still
below 95% (beyond Monte Carlo error) for Beta(2, 5) and most of all for shares piled up near 0 with
a long tail (Beta(0.3, 3): 0.907), where every method under-covers at n = 20.
"""
from __future__ import annotations

import inspect
import math
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd

#: resamples of the BCa bootstrap (scipy's default is 9999)
N_RESAMPLES = 9999
#: random sign flips of ``paired_test`` when 2^n is too many to enumerate (n > ``EXACT_PAIRED_MAX``)
PAIRED_RESAMPLES = 99_999
#: largest n whose 2^n sign flips ``paired_test`` enumerates exactly (2^20 = 1,048,576)
EXACT_PAIRED_MAX = 20
#: most group splits ``two_sample_test`` enumerates exactly; beyond, ``TWO_SAMPLE_RESAMPLES`` random splits
EXACT_LIMIT = 100_000
TWO_SAMPLE_RESAMPLES = 99_999
#: shares at or above this (below ``LOW``) count as fixed (lost) in ``fixation``
HIGH, LOW = 0.97, 0.03


def _clean(values) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    return v[~np.isnan(v)]


def _generator(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _rng_kw(fn, rng) -> dict:
    """scipy >= 1.15 takes ``rng``; older versions ``random_state``."""
    name = "rng" if "rng" in inspect.signature(fn).parameters else "random_state"
    return {name: _generator(rng)}


# -- intervals -------------------------------------------------------------------------------
def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a proportion ``k / n``; (NaN, NaN) for n = 0.

    The lower bound is 0 at k = 0 and the upper bound 1 at k = n (one-sided there, as the exact
    interval is defined by scipy)."""
    from scipy import stats

    k, n = int(k), int(n)
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"clopper_pearson: need 0 <= k <= n, got {k} of {n}")
    if n == 0:
        return math.nan, math.nan
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def bca_interval(values, statistic: Callable = np.mean, level: float = 0.95, n_resamples: int = N_RESAMPLES,
                 rng=0) -> tuple[float, float]:
    """BCa bootstrap interval of ``statistic`` (default the mean) of ``values`` (NaNs dropped).

    ``scipy.stats.bootstrap(method="BCa")``, deterministic given ``rng`` (a seed or a Generator).
    Fewer than 2 values: (NaN, NaN); all values equal: (point, point). The bounds are percentiles of
    the resampled statistics, so for the mean they lie within [min(values), max(values)] (shares stay
    in [0, 1]). Where BCa itself is undefined (scipy returns NaN, e.g. a statistic that is constant on
    every jackknife sample) the percentile interval of the same resamples is returned instead.
    """
    from scipy import stats

    v = _clean(values)
    if len(v) < 2:
        return math.nan, math.nan
    if np.all(v == v[0]):
        point = float(statistic(v))
        return point, point
    kw = dict(confidence_level=level, n_resamples=n_resamples, **_rng_kw(stats.bootstrap, rng))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap((v,), statistic, method="BCa", **kw)
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isnan(lo) or math.isnan(hi):
            res = stats.bootstrap((v,), statistic, method="percentile", **kw)
            lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return lo, hi


# -- tests -----------------------------------------------------------------------------------
class PairedTest(NamedTuple):
    """Paired difference ``a - b`` over ``n`` seeds: its mean, BCa interval ``[lo, hi]`` and two-sided p."""

    n: int
    mean_diff: float
    lo: float
    hi: float
    p: float
    exact: bool
    """p from all 2^n sign flips (n <= EXACT_PAIRED_MAX), else from PAIRED_RESAMPLES random ones"""


class TwoSampleTest(NamedTuple):
    """Independent groups of seeds: means, difference ``mean_a - mean_b``, its BCa interval and two-sided p."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    diff: float
    lo: float
    hi: float
    p: float
    exact: bool


def _two_sided(null: np.ndarray, observed: float) -> float:
    """scipy.stats.permutation_test's two-sided p from a complete null distribution (same tie tolerance)."""
    gamma = np.abs(np.finfo(float).eps * 100 * observed) if observed else 0.0
    p_greater = np.mean(null >= observed - gamma)
    p_less = np.mean(null <= observed + gamma)
    return float(min(1.0, 2 * min(p_greater, p_less)))


def sign_flip_null(d: np.ndarray, batch: int = 1 << 16) -> np.ndarray:
    """Mean of ``d * s`` for every sign vector ``s`` in {-1, 1}^n (2^n values; the exact null of the
    paired test). Enumerated in batches of ``batch`` sign vectors."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    total = 1 << n
    out = np.empty(total)
    bits = np.arange(n, dtype=np.int64)
    for start in range(0, total, batch):
        idx = np.arange(start, min(total, start + batch), dtype=np.int64)
        signs = 1.0 - 2.0 * ((idx[:, None] >> bits[None, :]) & 1)
        out[start:start + len(idx)] = signs @ d / n
    return out


def paired_test(a, b, level: float = 0.95, n_resamples: int = N_RESAMPLES, rng=0) -> PairedTest:
    """Paired sign-flip permutation test of ``a - b`` (pairs with a NaN on either side dropped).

    Under the null each seed's difference is as likely to have either sign. n <= 20: exact, over
    all 2^n sign flips (``sign_flip_null``); the two-sided p follows scipy.stats.permutation_test's
    definition (twice the smaller tail, at most 1), and equals its exact result. n > 20:
    ``scipy.stats.permutation_test(permutation_type="samples")`` with ``PAIRED_RESAMPLES`` random
    flips, seeded by ``rng``. The interval is ``bca_interval`` of the differences.
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired_test: a and b must pair up, got {len(a)} and {len(b)} values")
    keep = ~(np.isnan(a) | np.isnan(b))
    d = a[keep] - b[keep]
    n = len(d)
    if n == 0:
        return PairedTest(0, math.nan, math.nan, math.nan, math.nan, True)
    mean = float(d.mean())
    lo, hi = bca_interval(d, level=level, n_resamples=n_resamples, rng=rng)
    if np.all(d == 0):
        return PairedTest(n, mean, lo, hi, 1.0, True)
    if n <= EXACT_PAIRED_MAX:
        return PairedTest(n, mean, lo, hi, _two_sided(sign_flip_null(d), mean), True)
    res = stats.permutation_test((d,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
                                 n_resamples=PAIRED_RESAMPLES, **_rng_kw(stats.permutation_test, rng))
    return PairedTest(n, mean, lo, hi, float(res.pvalue), False)


def _diff_of_means(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def two_sample_test(a, b, level: float = 0.95, n_resamples: int = N_RESAMPLES, rng=0) -> TwoSampleTest:
    """Permutation test of ``mean(a) - mean(b)`` for independent groups of seeds (NaNs dropped).

    ``scipy.stats.permutation_test(permutation_type="independent")``: exact when C(n_a + n_b, n_a) <=
    ``EXACT_LIMIT``, else ``TWO_SAMPLE_RESAMPLES`` random splits seeded by ``rng``. The interval is
    the two-sample BCa bootstrap of the difference (each group resampled on its own); NaN when a
    group has fewer than 2 values.
    """
    from scipy import stats

    a, b = _clean(a), _clean(b)
    na, nb = len(a), len(b)
    if na == 0 or nb == 0:
        return TwoSampleTest(na, nb, float(a.mean()) if na else math.nan, float(b.mean()) if nb else math.nan,
                             math.nan, math.nan, math.nan, math.nan, True)
    diff = float(a.mean() - b.mean())
    splits = math.comb(na + nb, na)
    exact = splits <= EXACT_LIMIT
    pooled = np.concatenate([a, b])
    if np.all(pooled == pooled[0]):
        p = 1.0
    else:
        res = stats.permutation_test((a, b), _diff_of_means, permutation_type="independent",
                                     n_resamples=splits if exact else TWO_SAMPLE_RESAMPLES,
                                     **_rng_kw(stats.permutation_test, rng))
        p = float(res.pvalue)
    if na < 2 or nb < 2:
        lo = hi = math.nan
    elif np.all(a == a[0]) and np.all(b == b[0]):
        lo = hi = diff
    else:
        import warnings

        kw = dict(confidence_level=level, n_resamples=n_resamples, **_rng_kw(stats.bootstrap, rng))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", stats.DegenerateDataWarning)
            ci = stats.bootstrap((a, b), _diff_of_means, method="BCa", **kw).confidence_interval
            if math.isnan(ci.low) or math.isnan(ci.high):
                ci = stats.bootstrap((a, b), _diff_of_means, method="percentile", **kw).confidence_interval
        lo, hi = float(ci.low), float(ci.high)
    return TwoSampleTest(na, nb, float(a.mean()), float(b.mean()), diff, lo, hi, p, exact)


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order (NaNs stay NaN and are not counted).

    With the m p-values sorted ascending, p_(1) <= ... <= p_(m), the adjusted value of the i-th is
    max over j <= i of min(1, (m - j + 1) p_(j)). Rejecting where adjusted <= alpha controls the
    family-wise error rate at alpha.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("holm: p-values must lie in [0, 1]")
    vals = p[ok]
    m = len(vals)
    order = np.argsort(vals, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * vals[order]))
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


# -- tidy tables -----------------------------------------------------------------------------
def _as_list(x) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def per_seed(df: pd.DataFrame, value, by=(), seed: str = "seed") -> pd.DataFrame:
    """Per-seed values: the mean of each ``value`` column over the rows (organisms) of each seed.

    Returns one row per (``by``..., ``seed``) with the columns ``*by, seed, n_organisms, *values``
    (NaNs skipped in the mean; ``n_organisms`` counts the rows of the group). A boolean column gives
    the per-seed share.
    """
    values, keys = _as_list(value), [*_as_list(by), seed]
    missing = [c for c in [*values, *keys] if c not in df.columns]
    if missing:
        raise ValueError(f"per_seed: no column(s) {missing}; columns are {list(df.columns)}")
    data = df[keys + values].copy()
    for v in values:
        data[v] = data[v].astype(float)
    g = data.groupby(keys, observed=True, sort=True)
    out = g[values].mean()
    out.insert(0, "n_organisms", g.size())
    return out.reset_index()


def summarise_over_seeds(table: pd.DataFrame, value, by=(), seed: str = "seed", level: float = 0.95,
                         n_resamples: int = N_RESAMPLES, rng=0) -> pd.DataFrame:
    """Mean over seeds of each ``value`` with its BCa interval, from a table with one row per seed.

    ``table`` has one row per (``by``..., ``seed``) (the output of ``per_seed``; ``ValueError``
    otherwise). Returns the long table ``*by, metric, n_seeds, mean, sd, ci_lo, ci_hi``: ``n_seeds``
    counts seeds with a value, ``sd`` has ddof = 1 (NaN for n < 2), the interval is
    ``bca_interval`` (NaN for n < 2) seeded by ``rng`` for every row.
    """
    values, by = _as_list(value), _as_list(by)
    if table.duplicated([*by, seed]).any():
        raise ValueError(f"summarise_over_seeds: more than one row per seed and group {by}; "
                         "reduce the organisms of each seed with per_seed first")
    rows = []
    groups = table.groupby(by, observed=True, sort=True) if by else [((), table)]
    for key, grp in groups:
        key = key if isinstance(key, tuple) else (key,)
        for v in values:
            x = _clean(grp[v])
            lo, hi = bca_interval(x, level=level, n_resamples=n_resamples, rng=rng)
            rows.append({**dict(zip(by, key)), "metric": v, "n_seeds": len(x),
                         "mean": float(x.mean()) if len(x) else math.nan,
                         "sd": float(x.std(ddof=1)) if len(x) > 1 else math.nan, "ci_lo": lo, "ci_hi": hi})
    return pd.DataFrame(rows, columns=[*by, "metric", "n_seeds", "mean", "sd", "ci_lo", "ci_hi"])


class Fixation(NamedTuple):
    """Seeds in which an architecture fixed (share >= high) or was lost (share <= low), of ``n``."""

    n: int
    fixed: int
    lost: int
    polymorphic: int
    share_fixed: float
    lo: float
    hi: float
    """Clopper-Pearson interval of ``fixed / n``"""


def fixation(shares, low: float = LOW, high: float = HIGH, level: float = 0.95) -> Fixation:
    """k of n seeds fixed for an architecture, from its per-seed share of the final population (NaNs
    dropped), with the exact interval of k / n. ``lost`` counts shares <= ``low``, ``polymorphic``
    the rest."""
    if not 0 <= low < high <= 1:
        raise ValueError(f"fixation: need 0 <= low < high <= 1, got low={low}, high={high}")
    s = _clean(shares)
    n = len(s)
    fixed, lost = int((s >= high).sum()), int((s <= low).sum())
    lo, hi = clopper_pearson(fixed, n, level)
    return Fixation(n, fixed, lost, n - fixed - lost, fixed / n if n else math.nan, lo, hi)


# -- dose response ---------------------------------------------------------------------------
#: resamples of the ED50's bootstrap over seeds (each one a curve fit)
ED50_RESAMPLES = 2000
#: smallest fitted step between the curve's two plateaus (on the share scale) that counts as a turn
MIN_STEP = 0.1
#: steepest logistic slope fitted, per decade of rate (a step between two tested rates is steeper than needed)
MAX_SLOPE = 50.0


def _logistic(x, lower, upper, mid, slope):
    """``lower`` at x -> -inf, ``upper`` at x -> +inf, halfway at ``mid``; ``slope`` >= 0 per unit of x."""
    return lower + (upper - lower) / (1.0 + np.exp(-slope * (x - mid)))


def dose_axis(rates) -> tuple[np.ndarray, float]:
    """log10 of ``rates`` with rate 0 placed one decade below the smallest positive rate (which must exist);
    returns (x, the x at which rate 0 sits)."""
    r = np.asarray(rates, dtype=float)
    if np.any(r < 0) or not np.all(np.isfinite(r)):
        raise ValueError("dose_axis: rates must be finite and >= 0")
    pos = r[r > 0]
    if not len(pos):
        raise ValueError("dose_axis: no positive rate; a log-dose axis needs at least one")
    zero_x = float(np.log10(pos.min()) - 1.0)
    with np.errstate(divide="ignore"):
        x = np.where(r > 0, np.log10(np.where(r > 0, r, 1.0)), zero_x)
    return x, zero_x


def _box_mid(box) -> tuple[float, float]:
    """The bounds of the midpoint parameter in a ``curve_fit`` bounds box."""
    return box[0][2], box[1][2]


def _fit_logistic(x: np.ndarray, y: np.ndarray, bounds: tuple[float, float], start=None):
    """Least-squares logistic fit (``scipy.optimize.curve_fit``, bounded): from ``start`` if given, else the best
    of a few starting midpoints (one between each pair of neighbouring tested doses); (lower, upper, mid,
    slope) or None if no fit converged."""
    from scipy.optimize import curve_fit

    levels = np.unique(x)
    lo_y, hi_y = float(y[x == levels[0]].mean()), float(y[x == levels[-1]].mean())
    b_lo, b_hi = bounds
    box = ([b_lo, b_lo, levels[0] - 1.0, 0.0], [b_hi, b_hi, levels[-1] + 1.0, MAX_SLOPE])
    clip = lambda v, a, b: min(max(v, a), b)  # noqa: E731
    best, best_sse = None, math.inf
    mids = (levels[:-1] + levels[1:]) / 2 if len(levels) > 1 else levels
    starts = [list(start)] if start is not None else [
        [clip(lo_y, b_lo, b_hi), clip(hi_y, b_lo, b_hi), float(m0), 2.0] for m0 in mids]
    for p0 in starts:
        p0 = [clip(p0[0], b_lo, b_hi), clip(p0[1], b_lo, b_hi), clip(p0[2], *_box_mid(box)), clip(p0[3], 1e-6, MAX_SLOPE)]
        try:
            p, _ = curve_fit(_logistic, x, y, p0=p0, bounds=box, maxfev=5000)
        except (RuntimeError, ValueError):
            continue
        sse = float(np.sum((_logistic(x, *p) - y) ** 2))
        if sse < best_sse - 1e-12:
            best, best_sse = p, sse
    return best


class ED50(NamedTuple):
    """A dose-response fit: the logistic midpoint (ED50) of a per-seed share against log10(rate)."""

    ed50: float | None
    """rate at the curve's midpoint (None when the curve does not turn: see ``reason``)"""
    lo: float
    hi: float
    """percentile interval of the ED50 from the bootstrap over seeds within each rate (NaN without an ED50)"""
    lower: float
    upper: float
    """fitted plateaus: at rates far below and far above the midpoint"""
    slope: float
    """fitted steepness per decade of rate"""
    n_seeds: int
    zero_rate_at: float
    """the rate at which rate 0 is placed on the log axis (one decade below the smallest positive rate)"""
    turned: float
    """share of the bootstrap fits that turned (NaN without an ED50); the interval is over those"""
    reason: str
    """why there is no ED50 ('' when there is one)"""


def ed50(rates, values, level: float = 0.95, n_resamples: int = ED50_RESAMPLES, rng=0,
         bounds: tuple[float, float] = (0.0, 1.0), min_step: float = MIN_STEP) -> ED50:
    """Fit ``values`` (one per seed: a per-seed share) against log10(``rates``) with a four-parameter logistic
    (two plateaus, a midpoint, a slope) and return its midpoint, the ED50, with an interval.

    Seeds are the unit: every seed's value is one point of the fit (NaNs dropped). Rate 0 has no logarithm: it
    is placed one decade below the smallest positive rate (``dose_axis``; ``zero_rate_at``). The plateaus are
    bounded to ``bounds`` (shares: [0, 1]). The curve turns when the fit converges, its plateaus differ by at
    least ``min_step``, and its midpoint lies within the tested doses; otherwise ``ed50`` is None and
    ``reason`` says which failed. The interval is the percentile interval of the midpoints of ``n_resamples``
    refits, each on the seeds of every rate resampled with replacement within that rate (seeded by ``rng``);
    refits that do not turn are left out and ``turned`` says what share did turn."""
    r = np.asarray(rates, dtype=float).ravel()
    v = np.asarray(values, dtype=float).ravel()
    if r.shape != v.shape:
        raise ValueError(f"ed50: one rate per value, got {len(r)} rates and {len(v)} values")
    keep = ~np.isnan(v)
    r, v = r[keep], v[keep]
    x, zero_x = dose_axis(r)
    nan = math.nan
    levels = np.unique(x)

    def turn(xx, yy, start=None):
        p = _fit_logistic(xx, yy, bounds, start)
        if p is None and start is not None:
            p = _fit_logistic(xx, yy, bounds)
        if p is None:
            return None, "the logistic fit did not converge"
        lower, upper, mid, slope = (float(t) for t in p)
        if abs(upper - lower) < min_step or slope == 0.0:
            return p, f"flat: the fitted plateaus differ by {abs(upper - lower):.3g} < {min_step}"
        if not levels[0] <= mid <= levels[-1]:
            return p, "the fitted midpoint lies outside the tested rates"
        return p, ""

    if len(levels) < 3:
        return ED50(None, nan, nan, nan, nan, nan, len(v), 10.0 ** zero_x, nan, "fewer than 3 rates")
    p, reason = turn(x, v)
    if p is None:
        return ED50(None, nan, nan, nan, nan, nan, len(v), 10.0 ** zero_x, nan, reason)
    lower, upper, mid, slope = (float(t) for t in p)
    if reason:
        return ED50(None, nan, nan, lower, upper, slope, len(v), 10.0 ** zero_x, nan, reason)
    gen = _generator(rng)
    groups = [np.flatnonzero(x == lv) for lv in levels]
    mids = []
    for _ in range(n_resamples):
        idx = np.concatenate([g[gen.integers(0, len(g), len(g))] for g in groups])
        q, why = turn(x[idx], v[idx], p)  # each refit starts from the point estimate
        if q is not None and not why:
            mids.append(float(q[2]))
    turned = len(mids) / n_resamples
    a = (1 - level) / 2
    lo_x, hi_x = (np.quantile(mids, [a, 1 - a]) if mids else (nan, nan))
    return ED50(10.0 ** mid, 10.0 ** lo_x, 10.0 ** hi_x, lower, upper, slope, len(v), 10.0 ** zero_x, turned, "")


def smallest_effective_rate(rates, seeds, values, alpha: float = 0.05, n_resamples: int = N_RESAMPLES,
                            rng=0) -> tuple[float | None, pd.DataFrame]:
    """The smallest positive rate whose value differs from rate 0's, paired by seed.

    For each positive rate: ``paired_test`` of the per-seed values at that rate against the same seeds' values
    at rate 0 (seeds present at both), Holm-adjusted across the rates (``holm``). Returns (the smallest rate
    with adjusted p <= ``alpha``, or None; the table ``rate, seeds, mean_diff, lo, hi, p, p_holm, differs``)."""
    df = pd.DataFrame({"rate": np.asarray(rates, dtype=float).ravel(), "seed": np.asarray(seeds).ravel(),
                       "value": np.asarray(values, dtype=float).ravel()})
    if df.duplicated(["rate", "seed"]).any():
        raise ValueError("smallest_effective_rate: more than one value per rate and seed")
    base = df[df["rate"] == 0].set_index("seed")["value"]
    if not len(base):
        raise ValueError("smallest_effective_rate: no values at rate 0")
    rows = []
    for rate in sorted(df.loc[df["rate"] > 0, "rate"].unique()):
        at = df[df["rate"] == rate].set_index("seed")["value"]
        both = pd.concat([at.rename("a"), base.rename("b")], axis=1, join="inner").sort_index()
        t = paired_test(both["a"].to_numpy(), both["b"].to_numpy(), n_resamples=n_resamples, rng=rng)
        rows.append({"rate": float(rate), "seeds": t.n, "mean_diff": t.mean_diff, "lo": t.lo, "hi": t.hi, "p": t.p})
    out = pd.DataFrame(rows, columns=["rate", "seeds", "mean_diff", "lo", "hi", "p"])
    out["p_holm"] = holm(out["p"].to_numpy(float)) if len(out) else []
    out["differs"] = out["p_holm"] <= alpha
    hit = out.loc[out["differs"], "rate"]
    return (float(hit.min()) if len(hit) else None), out


__all__ = ["clopper_pearson", "bca_interval", "PairedTest", "paired_test", "TwoSampleTest", "two_sample_test",
           "sign_flip_null", "holm", "per_seed", "summarise_over_seeds", "Fixation", "fixation",
           "ED50", "ed50", "dose_axis", "smallest_effective_rate"]
