"""The statistics the report shows, each with a stated meaning; known answers in tests/test_stats.py.

- An interval is computed across runs, and only from MIN_RUNS (3) or more: one run's epochs are
  not independent repeats of the study, so they give no confidence interval (the report may draw
  their spread, labelled as such, never as an interval).
- The interval method is the percentile bootstrap (`scipy.stats.bootstrap`, method="percentile").
  With 3-5 runs it is too narrow: `simulate_coverage` measures how often a nominal 95% interval
  over n runs covers the true mean (normal noise), and the report prints that figure for the n it
  used. For n = 3 the answer is known: the bootstrap's 2.5% and 97.5% points are the smallest and
  largest of the three values (each extreme is a resample with probability 1/27 > 2.5%), and
  [min, max] of three draws misses the true mean when all three fall on one side: 1 - 2/8 = 75%.
- A speed-up is paired: backends of one repeat ran on one machine, interleaved, so the ratio of
  their epoch times is taken within each repeat, and the interval is over those per-repeat ratios
  (a drift that slows one repeat slows both sides of its ratio).

Why percentile and not BCa: with 3-5 values BCa's acceleration and bias correction come from a
jackknife of 3-5 means and are themselves noise, and BCa returns NaN on degenerate data. The
percentile interval is always defined and its coverage is what `simulate_coverage` measures.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
from scipy import stats

MIN_RUNS = 3
METHOD = "percentile"


def group_rng(seed: int, *key) -> np.random.Generator:
    """A generator for one interval, derived from seed and the group's names.

    Each interval gets its own stream, so adding runs of another workload or backend does not
    change the intervals of this one.
    """
    tag = zlib.crc32("\x1f".join(str(k) for k in key).encode("utf-8"))
    return np.random.default_rng([int(seed), tag])


def _finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[np.isfinite(x)]


def mean_ci(
    values, *, confidence_level: float = 0.95, n_resamples: int = 10_000, rng=None
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of values, one value per run (NaNs dropped).

    Fewer than MIN_RUNS values: (nan, nan), no interval. All equal: (value, value).
    Never raises for degenerate input.
    """
    x = _finite(values)
    if x.size < MIN_RUNS:
        return math.nan, math.nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    res = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=n_resamples,
        vectorized=True,
        confidence_level=confidence_level,
        method=METHOD,
        rng=rng,
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_ratios(numerator: dict, denominator: dict) -> np.ndarray:
    """numerator[r] / denominator[r] for every repeat r both have (finite, positive values),
    in repeat order. numerator and denominator map a repeat to that run's mean epoch seconds."""
    common = sorted(set(numerator) & set(denominator), key=str)
    ratios = []
    for r in common:
        a, b = float(numerator[r]), float(denominator[r])
        if math.isfinite(a) and math.isfinite(b) and b > 0:
            ratios.append(a / b)
    return np.asarray(ratios, dtype=float)


def paired_speedup(
    numerator: dict,
    denominator: dict,
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 10_000,
    rng=None,
) -> dict:
    """How many times longer numerator's epochs take than denominator's, paired by repeat.

    Returns {"ratio", "low", "high", "pairs", "paired"}: with at least one repeat in common the
    ratio is the mean of the per-repeat ratios ("paired": True) and its interval is `mean_ci` of
    them (so none under MIN_RUNS pairs); without a common repeat it is the ratio of the means
    and has no interval.
    """
    ratios = paired_ratios(numerator, denominator)
    if ratios.size:
        low, high = mean_ci(
            ratios, confidence_level=confidence_level, n_resamples=n_resamples, rng=rng
        )
        return {
            "ratio": float(ratios.mean()),
            "low": low,
            "high": high,
            "pairs": int(ratios.size),
            "paired": True,
        }
    a, b = _finite(list(numerator.values())), _finite(list(denominator.values()))
    ratio = float(a.mean() / b.mean()) if a.size and b.size and b.mean() > 0 else math.nan
    return {"ratio": ratio, "low": math.nan, "high": math.nan, "pairs": 0, "paired": False}


def percentile_bootstrap_means(
    samples: np.ndarray, *, confidence_level: float = 0.95, n_resamples: int = 2000, rng=None
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap intervals of the mean for many samples at once (rows of `samples`).

    The same method as `mean_ci` (scipy's percentile interval), vectorised over rows so the
    coverage simulation stays fast; tests/test_stats.py checks the two agree.
    """
    rng = np.random.default_rng(rng)
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    studies, n = samples.shape
    picks = rng.integers(0, n, size=(studies, n_resamples, n))
    means = np.take_along_axis(samples[:, None, :].repeat(n_resamples, axis=1), picks, axis=2).mean(
        axis=2
    )
    alpha = (1 - confidence_level) / 2
    low, high = np.percentile(means, [100 * alpha, 100 * (1 - alpha)], axis=1)
    return low, high


def simulate_coverage(
    n: int,
    *,
    confidence_level: float = 0.95,
    studies: int = 2000,
    n_resamples: int = 2000,
    seed: int = 0,
) -> float:
    """How often a nominal `confidence_level` percentile interval of the mean of n runs contains
    the true mean, over `studies` simulated studies with normal run-to-run noise.

    The answer depends only on n (the interval is location-scale equivariant), so the noise is
    standard normal and the true mean 0.
    """
    if n < 2:
        return math.nan
    rng = np.random.default_rng([int(seed), int(n)])
    covered = 0
    for start in range(0, studies, 250):
        block = rng.standard_normal((min(250, studies - start), n))
        low, high = percentile_bootstrap_means(
            block, confidence_level=confidence_level, n_resamples=n_resamples, rng=rng
        )
        covered += int(np.sum((low <= 0) & (0 <= high)))
    return covered / studies
