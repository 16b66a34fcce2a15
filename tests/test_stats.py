"""The report's statistics against known answers: intervals only from 3 runs, paired speed-ups,
and the coverage simulation the Method section prints (kerasbench.report.stats)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats as scipy_stats

from kerasbench.report import stats


def numpy_percentile_ci(x, n_resamples, seed, level=0.95):
    """What scipy.stats.bootstrap(method='percentile') computes for a mean, spelled out."""
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), (n_resamples, len(x)))].mean(axis=-1)
    alpha = (1 - level) / 2
    return tuple(np.quantile(means, [alpha, 1 - alpha]))


# ---------------------------------------------------------------------------------------------
# No interval under 3 runs


@pytest.mark.parametrize("values", [[], [2.0], [2.0, 3.0], [2.0, np.nan, 3.0]])
def test_no_interval_under_three_runs(values):
    low, high = stats.mean_ci(values)
    assert math.isnan(low) and math.isnan(high)


def test_three_runs_interval_is_min_to_max():
    # n = 3: each extreme value is a whole resample with probability 1/27 > 2.5%, so the
    # percentile interval's ends are the smallest and the largest run.
    low, high = stats.mean_ci([1.0, 1.3, 2.0], n_resamples=20_000, rng=np.random.default_rng(1))
    assert (low, high) == pytest.approx((1.0, 2.0))


def test_mean_ci_matches_numpy():
    x = np.array([2.1, 2.5, 1.9, 3.2, 2.8, 2.2, 2.6, 4.0])
    got = stats.mean_ci(x, n_resamples=10_000, rng=np.random.default_rng(42))
    np.testing.assert_allclose(got, numpy_percentile_ci(x, 10_000, 42), rtol=1e-12)


def test_degenerate_data_never_raises():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DegenerateDataWarning either
        assert stats.mean_ci([3.5] * 6) == (3.5, 3.5)
        assert all(math.isnan(v) for v in stats.mean_ci([np.nan, 1.0, np.inf]))


# ---------------------------------------------------------------------------------------------
# Paired speed-up: the ratio within each repeat, then an interval across repeats


def test_paired_speedup_removes_the_drift_between_repeats():
    # Repeat 1 ran twice as slow as repeat 0 on both backends, repeat 2 three times: unpaired,
    # the runs spread 1-3 s and 2-6 s; paired, torch takes exactly twice as long every time.
    jax = {0: 1.0, 1: 2.0, 2: 3.0}
    torch = {0: 2.0, 1: 4.0, 2: 6.0}
    result = stats.paired_speedup(torch, jax, n_resamples=5_000, rng=np.random.default_rng(0))
    assert result == {"ratio": 2.0, "low": 2.0, "high": 2.0, "pairs": 3, "paired": True}


def test_paired_speedup_known_interval():
    # Per-repeat ratios 1.5, 2.0, 2.5: mean 2.0, and (n = 3) the interval is [min, max].
    result = stats.paired_speedup(
        {0: 3.0, 1: 4.0, 2: 5.0},
        {0: 2.0, 1: 2.0, 2: 2.0},
        n_resamples=20_000,
        rng=np.random.default_rng(3),
    )
    assert result["ratio"] == pytest.approx(2.0)
    assert (result["low"], result["high"]) == pytest.approx((1.5, 2.5))
    assert result["pairs"] == 3


def test_paired_speedup_with_two_repeats_has_no_interval():
    result = stats.paired_speedup({0: 3.0, 1: 5.0}, {0: 2.0, 1: 2.0})
    assert result["ratio"] == pytest.approx(2.0) and result["pairs"] == 2
    assert math.isnan(result["low"]) and math.isnan(result["high"])


def test_paired_speedup_pairs_only_common_repeats():
    # Repeat 3 of the numerator has no partner; repeat "x" of the denominator neither.
    result = stats.paired_speedup(
        {0: 2.0, 1: 2.0, 2: 2.0, 3: 100.0}, {0: 1.0, 1: 1.0, 2: 1.0, "x": 9.0}
    )
    assert result["ratio"] == 2.0 and result["pairs"] == 3


def test_speedup_without_common_repeats_is_a_ratio_of_means_without_interval():
    result = stats.paired_speedup({"a": 3.0, "b": 5.0}, {"c": 2.0})
    assert result["ratio"] == pytest.approx(2.0) and not result["paired"]
    assert math.isnan(result["low"])


# ---------------------------------------------------------------------------------------------
# Coverage simulation


def test_vectorised_bootstrap_is_scipys_method():
    x = np.array([2.0, 2.4, 1.7, 2.9, 2.2, 2.05, 2.6, 1.95, 2.3, 2.45])
    low, high = stats.percentile_bootstrap_means(x[None, :], n_resamples=40_000, rng=1)
    res = scipy_stats.bootstrap(
        (x,), np.mean, n_resamples=40_000, method="percentile", rng=np.random.default_rng(2)
    )
    # Two Monte Carlo estimates of the same quantiles (interval about 0.5 wide): within 0.01.
    assert low[0] == pytest.approx(res.confidence_interval.low, abs=0.01)
    assert high[0] == pytest.approx(res.confidence_interval.high, abs=0.01)


@pytest.mark.parametrize("n, expected", [(2, 0.50), (3, 0.75)])
def test_coverage_known_answers(n, expected):
    # n = 2: the interval is [min, max] of two draws, which misses when both fall on one side
    # (1/4 + 1/4). n = 3: [min, max] of three, misses with 1/8 + 1/8. 2,000 studies: standard
    # error about 1 point, so +-4 points is a false-failure rate far below 0.1%.
    assert stats.simulate_coverage(n, studies=2000, n_resamples=1000, seed=5) == pytest.approx(
        expected, abs=0.04
    )


def test_coverage_grows_towards_the_nominal_level():
    few = stats.simulate_coverage(5, studies=1500, n_resamples=1000, seed=6)
    many = stats.simulate_coverage(30, studies=1500, n_resamples=1000, seed=6)
    assert 0.75 < few < 0.90 < many < 0.97
