"""The report's statistics against known answers (kerasbench.report.stats): Student t intervals on
log values, ratios within blocks (same repeat, same machine), which row is fastest by paired
evidence, the too-close-to-call threshold, the 2017 epoch bootstrap, and the coverage simulation
the Method section prints, with the H200 constants recomputed from the committed runs."""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest
from scipy import stats as scipy_stats

from kerasbench.report import stats

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
H200_RUNS = os.path.join(REPO, "output", "reference", "h200", "runs")
# Student t's 97.5% point with 2 degrees of freedom (3 values), in closed form: for 2 degrees of
# freedom t_p = (2p - 1) / sqrt(2p(1 - p)). Often quoted as 4.302652729911275 (older scipy), which
# is 4e-11 off.
T_975_2 = (2 * 0.975 - 1) / math.sqrt(2 * 0.975 * 0.025)


def numpy_percentile_ci(x, n_resamples, seed, level=0.95):
    """What scipy.stats.bootstrap(method='percentile') computes for a mean, spelled out."""
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), (n_resamples, len(x)))].mean(axis=-1)
    alpha = (1 - level) / 2
    return tuple(np.quantile(means, [alpha, 1 - alpha]))


# ---------------------------------------------------------------------------------------------
# Student t on log values


def test_t_quantile_is_scipys():
    assert stats.t_quantile(3) == pytest.approx(T_975_2, rel=1e-12)
    assert stats.t_quantile(3) == pytest.approx(4.302652729911275, rel=1e-10)
    assert stats.t_quantile(3) == pytest.approx(scipy_stats.t.ppf(0.975, 2), rel=1e-12)


def test_log_t_interval_by_hand():
    # log 1, log 2, log 4: mean log 2, standard deviation log 2, so the half-width on the log
    # scale is t(0.975, 2) * log 2 / sqrt 3, and the centre the geometric mean 2.
    half = T_975_2 * math.log(2) / math.sqrt(3)
    centre, low, high = stats.log_t_interval([1.0, 2.0, 4.0])
    assert centre == pytest.approx(2.0)
    assert (low, high) == pytest.approx((2 * math.exp(-half), 2 * math.exp(half)), rel=1e-12)
    # The shown value is the interval's centre on the log scale.
    assert math.log(centre) == pytest.approx((math.log(low) + math.log(high)) / 2)


@pytest.mark.parametrize("values", [[], [2.0], [2.0, 3.0], [2.0, np.nan, 3.0], [2.0, -1.0, 3.0]])
def test_no_interval_under_three_values(values):
    centre, low, high = stats.log_t_interval(values)
    assert math.isnan(low) and math.isnan(high)
    if len([v for v in values if v > 0]) == 2:
        assert centre == pytest.approx(math.sqrt(6.0))  # the geometric mean of 2 and 3


def test_degenerate_data_never_raises():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert stats.log_t_interval([3.5] * 6) == (3.5, 3.5, 3.5)
        centre, low, high = stats.log_t_interval([np.nan, 1.0, np.inf])
        assert centre == 1.0 and math.isnan(low)
        assert stats.bootstrap_mean_ci([3.5] * 12) == (3.5, 3.5)
        assert all(math.isnan(v) for v in stats.bootstrap_mean_ci([np.nan, 1.0, np.inf]))


# ---------------------------------------------------------------------------------------------
# The 2017 method: percentile bootstrap over the epochs of one run


def test_epoch_bootstrap_known_case():
    # Nine epochs of 1 s and one of 11 s: a resample's mean is 1 + k, k ~ Binomial(10, 0.1).
    # P(k = 0) = 0.349 > 2.5%, so the low end is 1; P(k <= 2) = 0.930 < 97.5% <= P(k <= 3) =
    # 0.987, so the high end is 1 + 3 = 4.
    low, high = stats.bootstrap_mean_ci(
        [1.0] * 9 + [11.0], n_resamples=40_000, rng=np.random.default_rng(4)
    )
    assert (low, high) == pytest.approx((1.0, 4.0))


def test_epoch_bootstrap_matches_numpy_and_needs_enough_epochs():
    x = np.array([2.1, 2.5, 1.9, 3.2, 2.8, 2.2, 2.6, 4.0, 2.4, 2.3])
    got = stats.bootstrap_mean_ci(x, n_resamples=10_000, rng=np.random.default_rng(42))
    np.testing.assert_allclose(got, numpy_percentile_ci(x, 10_000, 42), rtol=1e-12)
    assert all(math.isnan(v) for v in stats.bootstrap_mean_ci(x[: stats.MIN_EPOCHS - 1]))


# ---------------------------------------------------------------------------------------------
# Ratios within blocks


def test_paired_ratio_removes_the_drift_between_blocks():
    # Block 1 ran twice as slow as block 0 on both rows, block 2 three times: torch takes
    # exactly twice as long in every block.
    jax = {(0, "A"): 1.0, (1, "A"): 2.0, (2, "B"): 3.0}
    torch = {(0, "A"): 2.0, (1, "A"): 4.0, (2, "B"): 6.0}
    result = stats.paired_ratio(torch, jax)
    assert result == {
        "ratio": pytest.approx(2.0),
        "low": pytest.approx(2.0),
        "high": pytest.approx(2.0),
        "blocks": 3,
        "machines": 2,
        "paired": True,
    }


def test_paired_ratio_is_the_geometric_mean_of_block_ratios():
    # Per-block ratios 1.5, 2, 2.5: geometric mean 7.5 ** (1/3), t interval on their logs.
    result = stats.paired_ratio(
        {(r, "A"): v for r, v in enumerate([3.0, 4.0, 5.0])},
        {(r, "A"): 2.0 for r in range(3)},
    )
    logs = np.log([1.5, 2.0, 2.5])
    half = T_975_2 * logs.std(ddof=1) / math.sqrt(3)
    assert result["ratio"] == pytest.approx(7.5 ** (1 / 3))
    assert (result["low"], result["high"]) == pytest.approx(
        (math.exp(logs.mean() - half), math.exp(logs.mean() + half))
    )
    assert result["blocks"] == 3 and result["machines"] == 1


def test_two_blocks_give_no_interval():
    result = stats.paired_ratio({(0, "A"): 3.0, (1, "A"): 6.0}, {(0, "A"): 2.0, (1, "A"): 2.0})
    assert result["ratio"] == pytest.approx(math.sqrt(1.5 * 3.0)) and result["blocks"] == 2
    assert math.isnan(result["low"]) and math.isnan(result["high"])


def test_runs_pair_only_with_the_same_repeat_and_the_same_machine():
    # Repeat 0 ran on machine A for one row and B for the other: not a block. Repeat 1 ran on B
    # for both. A machine that is not recorded (None) pairs with nothing.
    numerator = {(0, "A"): 10.0, (1, "B"): 2.0, (2, None): 5.0}
    denominator = {(0, "B"): 1.0, (1, "B"): 1.0, (2, None): 1.0}
    result = stats.paired_ratio(numerator, denominator)
    assert result["ratio"] == pytest.approx(2.0)
    assert (result["blocks"], result["machines"], result["paired"]) == (1, 1, True)


def test_no_shared_block_is_a_ratio_of_means_marked_not_paired():
    result = stats.paired_ratio({(0, "A"): 3.0, (1, "A"): 12.0}, {(0, "B"): 2.0})
    assert result["ratio"] == pytest.approx(6.0 / 2.0)  # geometric means 6 and 2
    assert not result["paired"] and result["blocks"] == 0 and math.isnan(result["low"])


# ---------------------------------------------------------------------------------------------
# Which row is fastest: paired evidence only


def test_fastest_is_decided_when_every_other_row_is_beaten():
    # A beats B on machine 1; B beats C on machine 2; A and C never met, but C is beaten.
    rows = {
        "A": {(0, "m1"): 1.0},
        "B": {(0, "m1"): 1.2, (1, "m2"): 1.0},
        "C": {(1, "m2"): 1.1},
    }
    pick = stats.pick_fastest(rows)
    assert pick == {"fastest": "A", "decided": True, "contenders": (), "paired": True}


def test_rows_that_never_met_leave_the_fastest_undecided():
    # The MNIST MLP's case: tuned (machine A) and tuned-callbacks (machine B) never shared a
    # block; each beat the row beside it. The lower mean is named, the other listed.
    rows = {
        "jax tuned": {(0, "A"): 0.40},
        "jax quiet": {(0, "A"): 0.60},
        "jax tuned-callbacks": {(0, "B"): 0.37},
        "jax tuned-epoch": {(0, "B"): 0.41},
    }
    pick = stats.pick_fastest(rows)
    assert pick["fastest"] == "jax tuned-callbacks" and not pick["decided"]
    assert pick["contenders"] == ("jax tuned",)


def test_a_row_faster_only_across_machines_is_not_the_fastest():
    # B ran alone (no block with anyone) and has the lowest mean: it cannot be named fastest.
    rows = {"A": {(0, "m1"): 2.0}, "C": {(0, "m1"): 3.0}, "B": {(0, "m2"): 1.0}}
    pick = stats.pick_fastest(rows)
    assert pick["fastest"] == "A" and not pick["decided"] and pick["contenders"] == ("B",)


def test_no_pairs_at_all_decides_nothing():
    rows = {"A": {(0, "m1"): 2.0}, "B": {(0, "m2"): 1.0}}
    pick = stats.pick_fastest(rows)
    assert pick == {"fastest": "B", "decided": False, "contenders": ("A",), "paired": False}
    assert stats.pick_fastest({"A": {(0, "m1"): 2.0}})["decided"]


def test_a_tie_on_one_machine_is_decided_and_left_to_the_threshold():
    rows = {"A": {(0, "m1"): 2.0}, "B": {(0, "m1"): 2.0}}
    pick = stats.pick_fastest(rows, {"A": 2.0, "B": 2.0})
    assert pick["decided"] and pick["contenders"] == () and pick["fastest"] == "A"


# ---------------------------------------------------------------------------------------------
# Too close to call


def test_pooled_sd_by_hand():
    # [1, 2, 3]: squares 2, df 2; [10, 14]: squares 8, df 1; a single value adds nothing.
    sd, df = stats.pooled_sd([[1.0, 2.0, 3.0], [10.0, 14.0], [7.0]])
    assert (sd, df) == (pytest.approx(math.sqrt(10 / 3)), 3)
    assert math.isnan(stats.pooled_sd([[1.0]])[0])


def test_noise_threshold_by_hand():
    z = 1.959963984540054  # scipy.stats.norm.ppf(0.975)
    assert stats.noise_threshold(0.1, 1) == pytest.approx(math.exp(z * 0.1))
    assert stats.noise_threshold(0.1, 4) == pytest.approx(math.exp(z * 0.05))
    assert math.isnan(stats.noise_threshold(math.nan, 1))


@pytest.mark.parametrize("blocks", [1, 2])
def test_equal_speeds_exceed_the_threshold_one_time_in_twenty(blocks):
    # Two equally fast rows, per-block log ratios normal with sd: the geometric mean of k blocks'
    # ratios lies beyond the threshold (either way) in 5% of studies. 40,000 studies: standard
    # error 0.1 point.
    rng = np.random.default_rng(11)
    logs = stats.SD_RATIO_LOG * rng.standard_normal((40_000, blocks))
    threshold = stats.noise_threshold(stats.SD_RATIO_LOG, blocks)
    beyond = np.abs(logs.mean(axis=1)) > math.log(threshold)
    assert beyond.mean() == pytest.approx(0.05, abs=0.006)


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


@pytest.mark.parametrize("n", [3, 5])
@pytest.mark.parametrize("sd", [stats.SD_RUN_LOG, stats.SD_RATIO_LOG])
def test_t_interval_covers_at_the_nominal_level(n, sd):
    # Log-normal values: t on the logs is exact, 95%. 20,000 studies: standard error 0.15 point.
    result = stats.simulate_coverage(n, sd=sd, method="t", studies=20_000, seed=3)
    assert result["coverage"] == pytest.approx(0.95, abs=0.01)
    # Its mean width, by hand: E[s] = sd * c4(n), half-width t * s / sqrt(n) on the log scale.
    c4 = math.sqrt(2 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))
    expected = 2 * stats.t_quantile(n) * sd * c4 / math.sqrt(n)  # width ~ 2 * half on the log scale
    assert result["width"] == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("n, expected", [(2, 0.50), (3, 0.75)])
def test_percentile_coverage_known_answers(n, expected):
    # n = 2: the interval is [min, max] of two draws, which misses when both fall on one side
    # (1/4 + 1/4). n = 3: [min, max] of three, misses with 1/8 + 1/8. 2,000 studies: standard
    # error about 1 point, so +-4 points is a false-failure rate far below 0.1%.
    result = stats.simulate_coverage(n, method="percentile", studies=2000, n_resamples=1000, seed=5)
    assert result["coverage"] == pytest.approx(expected, abs=0.04)


def test_a_slow_host_is_not_rescued_by_the_interval():
    # One run in three on a 1.5x slower host. At n = 3 the t interval still contains the normal
    # host's time about as often as nominal, but only by being more than twice as wide; with
    # more runs it narrows around the biased centre and covers far less. The percentile
    # bootstrap is worse at any n.
    kw = dict(sd=stats.SD_RUN_LOG, studies=20_000, seed=8)
    slow = dict(slow_fraction=stats.SLOW_HOST_FRACTION)
    plain3 = stats.simulate_coverage(3, **kw)
    slow3 = stats.simulate_coverage(3, **kw, **slow)
    slow10 = stats.simulate_coverage(10, **kw, **slow)
    assert slow3["width"] > 2 * plain3["width"]
    assert slow10["coverage"] < 0.8
    boot3 = stats.simulate_coverage(
        3, method="percentile", n_resamples=500, **dict(kw, studies=2000), **slow
    )
    assert boot3["coverage"] < 0.75


def test_h200_constants_are_what_the_committed_runs_measure():
    if not os.path.isdir(H200_RUNS):
        pytest.skip("no committed H200 runs")
    from kerasbench.report import noise, rundata, runstats

    per_run = runstats.run_stats(rundata.load_study(H200_RUNS, []).epochs, n_resamples=10)
    measured = noise.spread(per_run)
    assert measured["sd_run"] == pytest.approx(stats.SD_RUN_LOG, abs=0.0005)
    assert measured["sd_ratio"] == pytest.approx(stats.SD_RATIO_LOG, abs=0.0005)
    assert (measured["df_run"], measured["df_ratio"], measured["ratio_pairs"]) == (18, 14, 7)
