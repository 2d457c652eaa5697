"""evosim.stats: intervals and tests over seeds, checked against scipy, hand computations and
enumerations done here."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from evosim import stats


# -- Clopper-Pearson -------------------------------------------------------------------------
@pytest.mark.parametrize("k,n", [(0, 20), (1, 20), (7, 20), (19, 20), (20, 20), (3, 5), (0, 1), (1, 1)])
def test_clopper_pearson_is_scipys_exact_interval(k, n):
    """Equal to binomtest's exact interval, and to its definition by beta quantiles."""
    ci = st.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert stats.clopper_pearson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)
    lo = 0.0 if k == 0 else st.beta.ppf(0.025, k, n - k + 1)
    hi = 1.0 if k == n else st.beta.ppf(0.975, k + 1, n - k)
    assert stats.clopper_pearson(k, n) == pytest.approx((lo, hi), abs=1e-9)


def test_clopper_pearson_edges():
    """k = 0: lower bound exactly 0, upper 1 - 0.025^(1/n); k = n: upper exactly 1; n = 0: NaN; bad k: error."""
    lo, hi = stats.clopper_pearson(0, 20)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 20), abs=1e-9)
    lo, hi = stats.clopper_pearson(20, 20)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 20), abs=1e-9)
    assert all(math.isnan(x) for x in stats.clopper_pearson(0, 0))
    with pytest.raises(ValueError):
        stats.clopper_pearson(21, 20)


# -- BCa -------------------------------------------------------------------------------------
def test_bca_is_scipys_bca_and_deterministic():
    """The same numbers as scipy.stats.bootstrap(method='BCa') with the same generator seed; repeatable."""
    v = np.random.default_rng(3).beta(2, 5, 20)
    ref = st.bootstrap((v,), np.mean, method="BCa", n_resamples=2000, rng=np.random.default_rng(7))
    got = stats.bca_interval(v, n_resamples=2000, rng=7)
    assert got == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high), abs=1e-12)
    assert got == stats.bca_interval(v, n_resamples=2000, rng=7)
    assert got[0] < v.mean() < got[1]


def test_bca_degenerate_samples():
    """All values equal: the point; fewer than 2 values (after dropping NaN): NaN."""
    assert stats.bca_interval([0.4] * 20) == pytest.approx((0.4, 0.4), abs=1e-15)
    assert stats.bca_interval([0.0] * 20) == (0.0, 0.0)
    assert all(math.isnan(x) for x in stats.bca_interval([0.3]))
    assert all(math.isnan(x) for x in stats.bca_interval([0.3, np.nan]))
    assert all(math.isnan(x) for x in stats.bca_interval([]))


@pytest.mark.parametrize("values", [
    [0.0] * 19 + [1.0],                     # one fixed seed of 20
    [1.0] * 19 + [0.0],
    [0.0] * 10 + [1.0] * 10,
    list(np.random.default_rng(0).beta(0.2, 3, 20)),
    list(np.random.default_rng(1).beta(3, 0.2, 20)),
])
def test_bca_of_shares_stays_in_unit_interval(values):
    """The interval of a mean of shares is finite, lies in [0, 1] and contains the mean."""
    lo, hi = stats.bca_interval(values, n_resamples=2000)
    m = float(np.mean(values))
    assert 0.0 <= lo <= m <= hi <= 1.0


# -- paired test -----------------------------------------------------------------------------
def enumerate_sign_flips(d):
    """Two-sided p of the mean difference by listing all 2^n sign flips (scipy's definition)."""
    d = np.asarray(d, dtype=float)
    obs = d.mean()
    null = np.array([np.mean(np.array(s) * d) for s in itertools.product((-1.0, 1.0), repeat=len(d))])
    tol = abs(obs) * np.finfo(float).eps * 100
    return min(1.0, 2 * min(np.mean(null >= obs - tol), np.mean(null <= obs + tol)))


def test_paired_p_equals_enumeration_of_all_sign_flips():
    """On tiny paired samples the exact p is the enumerated one and scipy's exact permutation_test's."""
    a = np.array([0.9, 0.7, 0.8, 0.6, 0.75, 0.5])
    b = np.array([0.5, 0.6, 0.3, 0.65, 0.4, 0.45])
    res = stats.paired_test(a, b, n_resamples=2000)
    d = a - b
    assert res.exact and res.n == 6 and res.mean_diff == pytest.approx(d.mean())
    assert res.p == pytest.approx(enumerate_sign_flips(d), abs=1e-12)
    ref = st.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples",
                              n_resamples=np.inf)
    assert res.p == pytest.approx(ref.pvalue, abs=1e-12)
    assert res.lo <= res.mean_diff <= res.hi


def test_paired_p_hand_computed():
    """d = (1, 2, 3): sign flips give means {±1 ±2 ±3}/3; |sum| >= 6 only for all + or all -: p = 2/8."""
    res = stats.paired_test([2, 3, 4], [1, 1, 1])
    assert res.p == pytest.approx(0.25) and res.mean_diff == pytest.approx(2.0)
    # d = (1, -1, 2, 0): the p from listing the 16 flips
    res = stats.paired_test([1, 0, 2, 5], [0, 1, 0, 5])
    assert res.p == pytest.approx(enumerate_sign_flips([1, -1, 2, 0]))


def test_paired_test_drops_nan_pairs_and_handles_no_difference():
    res = stats.paired_test([0.5, np.nan, 0.7, 0.2], [0.1, 0.3, np.nan, 0.1])
    assert res.n == 2 and res.mean_diff == pytest.approx(0.25)
    same = stats.paired_test([0.3] * 5, [0.3] * 5)
    assert same.p == 1.0 and same.mean_diff == 0.0
    with pytest.raises(ValueError):
        stats.paired_test([1, 2], [1, 2, 3])


def test_paired_exact_at_twenty_seeds_and_sampled_beyond():
    """n = 20 enumerates all 2^20 flips; n = 25 samples them with a fixed seed (repeatable), close to the normal
    approximation of the sign-flip null."""
    rng = np.random.default_rng(5)
    a, b = rng.beta(3, 4, 20), rng.beta(2, 4, 20)
    res = stats.paired_test(a, b, n_resamples=1000)
    assert res.exact and 0 <= res.p <= 1
    d = a - b
    null = stats.sign_flip_null(d)
    assert len(null) == 2 ** 20 and null.mean() == pytest.approx(0.0, abs=1e-12)
    a, b = rng.beta(3, 4, 25), rng.beta(2, 4, 25)
    r1, r2 = stats.paired_test(a, b, n_resamples=1000), stats.paired_test(a, b, n_resamples=1000)
    assert not r1.exact and r1.p == r2.p
    d = a - b
    z = d.mean() / math.sqrt((d ** 2).sum()) * len(d)
    assert r1.p == pytest.approx(2 * st.norm.sf(abs(z)), abs=0.03)


# -- two-sample test -------------------------------------------------------------------------
def test_two_sample_exact_p_by_enumerating_splits():
    a, b = np.array([0.9, 0.8, 0.7, 0.95]), np.array([0.2, 0.5, 0.75, 0.3, 0.4])
    res = stats.two_sample_test(a, b, n_resamples=2000)
    pooled = np.concatenate([a, b])
    obs = a.mean() - b.mean()
    null = []
    for idx in itertools.combinations(range(9), 4):
        m = np.zeros(9, bool)
        m[list(idx)] = True
        null.append(pooled[m].mean() - pooled[~m].mean())
    null = np.array(null)
    tol = abs(obs) * np.finfo(float).eps * 100
    want = min(1.0, 2 * min(np.mean(null >= obs - tol), np.mean(null <= obs + tol)))
    assert res.exact and res.p == pytest.approx(want, abs=1e-12)
    assert res.diff == pytest.approx(obs) and res.lo <= res.diff <= res.hi
    assert (res.n_a, res.n_b) == (4, 5)


def test_two_sample_twenty_seeds_each_is_sampled_and_repeatable():
    rng = np.random.default_rng(2)
    a, b = rng.beta(2, 3, 20), rng.beta(3, 2, 20)
    r1, r2 = stats.two_sample_test(a, b, n_resamples=1000), stats.two_sample_test(a, b, n_resamples=1000)
    assert not r1.exact and r1 == r2
    ref = st.ttest_ind(a, b).pvalue
    assert r1.p == pytest.approx(ref, abs=0.02)


# -- Holm ------------------------------------------------------------------------------------
def test_holm_hand_computed():
    """p = (0.01, 0.04, 0.03, 0.005), m = 4. Sorted: 0.005, 0.01, 0.03, 0.04 -> 4x0.005 = 0.02,
    3x0.01 = 0.03, 2x0.03 = 0.06, 1x0.04 = 0.04 -> running max 0.06; in input order."""
    got = stats.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_skips_nan():
    got = stats.holm([0.5, np.nan, 0.2])
    assert math.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2]], [0.5, 0.4])
    np.testing.assert_allclose(stats.holm([0.6, 0.7, 0.9]), [1.0, 1.0, 1.0])
    with pytest.raises(ValueError):
        stats.holm([1.2])


# -- tidy tables -----------------------------------------------------------------------------
def organisms():
    """Two experiments x 3 seeds; organisms per seed differ (so organism-pooled means differ from seed means)."""
    rows = []
    for exp, shares in (("a", [0.0, 0.5, 1.0]), ("b", [0.2, 0.2, 0.8])):
        for seed, (share, n) in enumerate(zip(shares, (2, 4, 10))):
            k = round(share * n)
            rows += [{"experiment": exp, "seed": seed, "pseudo": i < k, "x": float(i)} for i in range(n)]
    return pd.DataFrame(rows)


def test_per_seed_then_over_seeds():
    ps = stats.per_seed(organisms(), ["pseudo", "x"], by="experiment")
    assert list(ps.columns) == ["experiment", "seed", "n_organisms", "pseudo", "x"]
    np.testing.assert_allclose(ps[ps.experiment == "a"]["pseudo"], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(ps["n_organisms"], [2, 4, 10] * 2)
    summ = stats.summarise_over_seeds(ps, "pseudo", by="experiment", n_resamples=1000)
    assert list(summ.columns) == ["experiment", "metric", "n_seeds", "mean", "sd", "ci_lo", "ci_hi"]
    a = summ[summ.experiment == "a"].iloc[0]
    assert a.n_seeds == 3 and a["mean"] == pytest.approx(0.5) and a.sd == pytest.approx(0.5)
    assert 0 <= a.ci_lo <= a["mean"] <= a.ci_hi <= 1
    # the seed mean (0.5), not the organism-pooled share (12 / 16)
    assert organisms().query("experiment == 'a'")["pseudo"].mean() == pytest.approx(0.75)
    with pytest.raises(ValueError, match="per_seed first"):
        stats.summarise_over_seeds(organisms(), "pseudo", by="experiment")
    with pytest.raises(ValueError, match="no column"):
        stats.per_seed(organisms(), "nope")


def test_summary_without_groups():
    ps = pd.DataFrame({"seed": range(5), "v": [0.1, 0.2, 0.3, np.nan, 0.4]})
    s = stats.summarise_over_seeds(ps, "v", n_resamples=500)
    assert len(s) == 1 and s.n_seeds.iloc[0] == 4 and s["mean"].iloc[0] == pytest.approx(0.25)


# -- fixation --------------------------------------------------------------------------------
def test_fixation_counts_and_exact_interval():
    shares = [1.0, 0.98, 0.97, 0.5, 0.03, 0.0, np.nan, 0.2]
    f = stats.fixation(shares)
    assert (f.n, f.fixed, f.lost, f.polymorphic) == (7, 3, 2, 2)
    assert (f.lo, f.hi) == stats.clopper_pearson(3, 7)
    none = stats.fixation([0.1] * 20)
    assert none.fixed == 0 and none.lo == 0.0 and none.hi == pytest.approx(1 - 0.025 ** (1 / 20))
    with pytest.raises(ValueError):
        stats.fixation([0.5], low=0.9, high=0.1)


# -- dose response: ED50 and the smallest rate that matters ------------------------------------
RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def _planted(mid_rate, lower=0.75, upper=0.05, slope=2.5, sd=0.08, seeds=20, rng=0):
    """Per-seed shares of a planted logistic in log10(rate) (rate 0 one decade below 0.001) plus noise."""
    g = np.random.default_rng(rng)
    rates = np.repeat(RATES, seeds)
    x, _ = stats.dose_axis(rates)
    true = lower + (upper - lower) / (1 + np.exp(-slope * (x - np.log10(mid_rate))))
    return rates, np.clip(true + g.normal(0, sd, len(x)), 0, 1), np.tile(np.arange(1, seeds + 1), len(RATES))


def test_dose_axis_places_rate_zero_a_decade_below_the_smallest_rate():
    x, zero_x = stats.dose_axis([0, 0.001, 1])
    assert zero_x == pytest.approx(-4) and x.tolist() == pytest.approx([-4, -3, 0])
    with pytest.raises(ValueError):
        stats.dose_axis([0, 0])


@pytest.mark.parametrize("mid", [0.004, 0.02, 0.15])
def test_ed50_recovers_a_planted_logistic_within_its_interval(mid):
    """The planted midpoint lies in the interval, the interval spans less than a decade, and the point
    estimate is within a third of a decade of the truth; the fit is reproducible (seeded bootstrap)."""
    rates, values, _ = _planted(mid)
    f = stats.ed50(rates, values, n_resamples=300, rng=1)
    assert f.reason == "" and f.ed50 is not None
    assert f.lo <= mid <= f.hi, f
    assert f.hi / f.lo < 10, f
    assert abs(np.log10(f.ed50) - np.log10(mid)) < 1 / 3, f
    assert f.lower == pytest.approx(0.75, abs=0.08) and f.upper == pytest.approx(0.05, abs=0.08)
    assert f.zero_rate_at == pytest.approx(1e-4) and f.n_seeds == 160 and f.turned > 0.9
    assert stats.ed50(rates, values, n_resamples=300, rng=1) == f


def test_ed50_of_a_rising_curve():
    rates, values, _ = _planted(0.01, lower=0.1, upper=0.9)
    f = stats.ed50(rates, values, n_resamples=200)
    assert f.lo <= 0.01 <= f.hi and f.upper > f.lower


def test_ed50_none_when_the_curve_does_not_turn():
    """A flat curve (noise around 0.5) and a curve that turns only beyond the tested rates give no ED50."""
    g = np.random.default_rng(4)
    rates = np.repeat(RATES, 20)
    flat = stats.ed50(rates, np.clip(0.5 + g.normal(0, 0.1, len(rates)), 0, 1), n_resamples=50)
    assert flat.ed50 is None and np.isnan(flat.lo) and flat.reason, flat
    r, v, _ = _planted(30.0, slope=4)  # the midpoint a decade and a half above the largest rate
    beyond = stats.ed50(r, v, n_resamples=50)
    assert beyond.ed50 is None and ("outside" in beyond.reason or "flat" in beyond.reason), beyond
    assert stats.ed50([0, 1], [0.5, 0.1]).reason == "fewer than 3 rates"


def test_smallest_effective_rate_pairs_by_seed_with_holm():
    """A step after 0.01 (every seed drops by 0.5): 0.03 is the smallest rate that matters; the paired test and
    Holm's adjustment are those of evosim.stats; with no effect, no rate matters."""
    rates, _, seeds = _planted(0.02)
    g = np.random.default_rng(2)
    seed_level = g.uniform(0.3, 0.9, 20)  # large between-seed spread: only pairing by seed sees the step
    values = seed_level[seeds - 1] - np.where(rates >= 0.03, 0.25, 0.0) + g.normal(0, 0.01, len(rates))
    smallest, table = stats.smallest_effective_rate(rates, seeds, values, n_resamples=500)
    assert smallest == 0.03
    assert table["rate"].tolist() == list(RATES[1:])
    t = stats.paired_test(values[rates == 0.03], values[rates == 0.0], n_resamples=500)
    row = table[table.rate == 0.03].iloc[0]
    assert row.p == t.p and row.mean_diff == pytest.approx(-0.25, abs=0.01)
    np.testing.assert_allclose(table["p_holm"], stats.holm(table["p"]))
    assert not table.loc[table.rate < 0.03, "differs"].any() and table.loc[table.rate >= 0.03, "differs"].all()
    # shuffled rows: the same answer (pairing by seed, not by position)
    perm = g.permutation(len(rates))
    assert stats.smallest_effective_rate(rates[perm], seeds[perm], values[perm], n_resamples=500)[0] == 0.03
    none, _ = stats.smallest_effective_rate(rates, seeds, seed_level[seeds - 1] + g.normal(0, 0.01, len(rates)),
                                            n_resamples=200)
    assert none is None
