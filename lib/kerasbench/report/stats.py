"""The statistics the report shows, each with a stated meaning; known answers in tests/test_stats.py.

**Blocks.** A block is one workload's runs of one repeat on one machine (machines.machine_id: the
GPU's UUID where recorded, else the host and its CPU or GPU model). Runs of one block ran side by
side, so a ratio between two rows is taken only within a block (`paired_ratio`): the same repeat
and the same machine; a run whose machine is not recorded pairs with nothing. The estimate is the
geometric mean of the per-block ratios, its interval is Student t on the log ratios (from
MIN_RUNS blocks on), exp'd back. Two rows that share no block get the ratio of their (geometric)
means, marked "not paired", with no interval: the machines' difference is in it.

**Intervals.** One value per run (its mean epoch time); a row's time is the *geometric* mean of
its runs, and its interval the Student t interval of the mean of the log run means, exp'd back
(`log_t_interval`): the interval of the geometric mean, and the shown time is its centre on the
log scale. Only from MIN_RUNS (3) values on; with fewer there is none (one run's epochs are not
independent repeats of the study). Why not the percentile bootstrap: over 3-5 run means it is far
too narrow (with 3 values its ends are the smallest and largest value, which miss the true mean
whenever all three fall on one side: 75% coverage). Why t on logs: run times are positive and
multiplicative (a slower host scales every epoch), the log of a run mean is close to normal, and
t is exact for normal values at any n. `simulate_coverage` checks both under the spread measured
on the H200 (the constants below), and with a slow host.

**The 2017 method where it is valid.** A reference (the 2017 logs) is one run per backend; its
interval is the percentile bootstrap of the mean over that run's epochs (`bootstrap_mean_ci`,
`scipy.stats.bootstrap`), from MIN_EPOCHS epochs on, labelled EPOCH_METHOD: it says how steady
that run's epochs were, not how a repeat of the study would land.

**Which row is fastest** (`pick_fastest`): only paired evidence ranks rows. A row is *beaten* when
some row it shares a block with is faster over their shared blocks. The fastest is decided when
every row but one is beaten (or tied with it): no other row can then be the fastest. Otherwise the fastest is not decided: the report
names the unbeaten row with the lowest time and lists the others ("contenders") as never run
beside it.

**Too close to call** (`noise_threshold`): with 3 or more blocks, a runner-up whose interval
contains 1. With 1 or 2 blocks, one whose ratio is below exp(z * sd / sqrt(k)), k blocks, where sd
is the standard deviation of per-block log ratios between two rows (equal speeds give a ratio
beyond it in 5% of studies at the 95% level).
"""

from __future__ import annotations

import functools
import math
import zlib

import numpy as np
from scipy import stats

MIN_RUNS = 3
MIN_EPOCHS = 10  # a reference's epoch bootstrap only from this many epochs of its one run

T_METHOD = "t on log run means"
RATIO_METHOD = "t on log per-block ratios"
EPOCH_METHOD = "percentile bootstrap over epochs, one run: the 2017 method"
NO_INTERVAL = "none"

# The spread measured on the H200 (output/reference/h200/runs at e0a4f99, 112 ok runs, measured by
# noise.spread; tests/test_stats.py recomputes both from the committed runs):
# - SD_RUN_LOG: between-run standard deviation of the log run mean within one cell (workload,
#   backend, configuration) on one machine, pooled over the Keras cells with 2+ runs on one
#   machine (18 degrees of freedom). A machine here is a GPU UUID; the runs of 2026-12-02 (before
#   16:43 UTC) recorded none and count as one machine ("NVIDIA H200 on vm").
# - SD_RATIO_LOG: standard deviation of the per-block log ratio between two rows, pooled over
#   the pairs of Keras rows that share 3+ blocks: jax/torch default of six workloads (all but
#   CIFAR-10, whose backends never shared a machine) and jax/torch tuned of the BiLSTM; 14 degrees
#   of freedom. (Per repeat rather than per block, CIFAR-10's cross-machine ratios included, the
#   jax/torch default log ratio spreads 0.108.)
SD_RUN_LOG = 0.102
SD_RATIO_LOG = 0.099
# The slow-host scenario: one run in three on a host 1.5x slower (H200, 2026-12-03: the JAX MLP
# `tuned` took 0.299 s an epoch on one machine, 0.402 and 0.507 s on another).
SLOW_HOST_FACTOR = 1.5
SLOW_HOST_FRACTION = 1 / 3


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


def _positive(values) -> np.ndarray:
    x = _finite(values)
    return x[x > 0]


def geometric_mean(values) -> float:
    """exp(mean(log x)) over the finite positive values; NaN where there are none."""
    x = _positive(values)
    return float(np.exp(np.log(x).mean())) if x.size else math.nan


def t_quantile(n: int, confidence_level: float = 0.95) -> float:
    """Student t's two-sided quantile for the mean of n values (n - 1 degrees of freedom)."""
    return float(stats.t.ppf(1 - (1 - confidence_level) / 2, n - 1))


def log_t_interval(values, *, confidence_level: float = 0.95) -> tuple[float, float, float]:
    """(geometric mean, low, high): Student t interval of the mean of log(values), exp'd back.

    Finite positive values only. Fewer than MIN_RUNS: (geometric mean, nan, nan). All equal:
    (value, value, value). Never raises for degenerate input.
    """
    x = _positive(values)
    centre = geometric_mean(x)
    if x.size < MIN_RUNS:
        return centre, math.nan, math.nan
    logs = np.log(x)
    sd = float(logs.std(ddof=1))
    if sd == 0:
        return centre, centre, centre
    half = t_quantile(x.size, confidence_level) * sd / math.sqrt(x.size)
    mean = float(logs.mean())
    return centre, math.exp(mean - half), math.exp(mean + half)


def bootstrap_mean_ci(
    values,
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 10_000,
    rng=None,
    min_values: int = MIN_EPOCHS,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the arithmetic mean of values (the 2017 method, over the
    epochs of one run). Fewer than min_values finite values: (nan, nan); all equal: (v, v)."""
    x = _finite(values)
    if x.size < max(min_values, 2):
        return math.nan, math.nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    res = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=n_resamples,
        vectorized=True,
        confidence_level=confidence_level,
        method="percentile",
        rng=rng,
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


# ---------------------------------------------------------------------------------------------
# Blocks: ratios within one repeat on one machine


def _pairable(block) -> bool:
    """A block key (repeat, machine) pairs only where the machine is known."""
    return not (isinstance(block, tuple) and any(k is None for k in block))


def shared_blocks(numerator: dict, denominator: dict) -> list:
    """The blocks both rows ran (finite positive times on both sides), in a stable order."""
    common = [b for b in numerator if b in denominator and _pairable(b)]
    out = []
    for b in sorted(common, key=str):
        a, d = float(numerator[b]), float(denominator[b])
        if math.isfinite(a) and math.isfinite(d) and a > 0 and d > 0:
            out.append(b)
    return out


def block_ratios(numerator: dict, denominator: dict) -> np.ndarray:
    """numerator[b] / denominator[b] for every block b both ran (see shared_blocks).

    numerator and denominator map a block, (repeat, machine), to that row's mean epoch seconds in
    it."""
    return np.asarray(
        [
            float(numerator[b]) / float(denominator[b])
            for b in shared_blocks(numerator, denominator)
        ],
        dtype=float,
    )


def paired_ratio(numerator: dict, denominator: dict, *, confidence_level: float = 0.95) -> dict:
    """How many times longer numerator's epochs take than denominator's, within blocks.

    Returns {"ratio", "low", "high", "blocks", "machines", "paired"}. With a block in common the
    ratio is the geometric mean of the per-block ratios and its interval Student t on their logs
    (none under MIN_RUNS blocks); "machines" counts the machines of those blocks. Without one it
    is the ratio of the geometric means of the two rows' values, "paired" False, no interval.
    """
    blocks = shared_blocks(numerator, denominator)
    if blocks:
        ratios = block_ratios(numerator, denominator)
        ratio, low, high = log_t_interval(ratios, confidence_level=confidence_level)
        machines = {b[1] if isinstance(b, tuple) and len(b) > 1 else b for b in blocks}
        return {
            "ratio": ratio,
            "low": low,
            "high": high,
            "blocks": len(blocks),
            "machines": len(machines),
            "paired": True,
        }
    a, b = geometric_mean(list(numerator.values())), geometric_mean(list(denominator.values()))
    return {
        "ratio": a / b if math.isfinite(a) and math.isfinite(b) else math.nan,
        "low": math.nan,
        "high": math.nan,
        "blocks": 0,
        "machines": 0,
        "paired": False,
    }


def pick_fastest(rows: dict, means: dict | None = None) -> dict:
    """Which of `rows` is fastest, by paired evidence only.

    rows: label -> {block: seconds}; means: label -> the row's shown time (default: the geometric
    mean of its blocks), used only to choose among rows that paired evidence cannot order.
    Returns {"fastest", "decided", "contenders", "paired"}:
    - a row is beaten when its paired ratio (shared blocks) to some other row is above 1;
      isolated when it shares no block with any row;
    - decided: every row but one is beaten (or tied with it on one machine), and that one is the
      fastest: no other row can be faster; a single row is decided too;
    - otherwise the fastest is the unbeaten paired row with the lowest mean (any row with the
      lowest mean where nothing is paired, or every paired row is beaten: a cycle), and
      contenders are the other unbeaten or isolated rows that share no block with it.
    - paired: whether the fastest shares a block with any other row.
    """
    means = dict(means or {})
    labels = [
        label
        for label in rows
        if math.isfinite(means.get(label, geometric_mean(list(rows[label].values()))))
    ]
    for label in labels:
        means.setdefault(label, geometric_mean(list(rows[label].values())))
    if not labels:
        return {"fastest": None, "decided": False, "contenders": (), "paired": False}
    if len(labels) == 1:
        return {"fastest": labels[0], "decided": True, "contenders": (), "paired": False}
    partners = {label: set() for label in labels}
    beaten = set()
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            ratios = block_ratios(rows[a], rows[b])
            if not ratios.size:
                continue
            partners[a].add(b)
            partners[b].add(a)
            log_ratio = float(np.log(ratios).mean())
            if log_ratio > 0:
                beaten.add(a)
            elif log_ratio < 0:
                beaten.add(b)
    paired = [label for label in labels if partners[label]]
    unbeaten = [label for label in paired if label not in beaten]
    isolated = [label for label in labels if not partners[label]]
    pool = unbeaten or paired or labels
    fastest = min(pool, key=lambda label: (means[label], str(label)))
    contenders = [
        label
        for label in labels
        if label != fastest
        and label not in partners[fastest]
        and (label in unbeaten or label in isolated)
    ]
    contenders.sort(key=lambda label: (means[label], str(label)))
    # Every row but the fastest beaten (or tied with it on one machine): none can be faster.
    decided = bool(unbeaten) and not contenders
    return {
        "fastest": fastest,
        "decided": decided,
        "contenders": tuple(contenders),
        "paired": bool(partners[fastest]),
    }


def pooled_sd(groups) -> tuple[float, int]:
    """(pooled standard deviation, degrees of freedom) of several groups of values: each group's
    squared deviations from its own mean, over the sum of (n - 1). (nan, 0) without a group of 2."""
    squares, df = 0.0, 0
    for group in groups:
        x = _finite(group)
        if x.size >= 2:
            squares += float(((x - x.mean()) ** 2).sum())
            df += x.size - 1
    return (math.sqrt(squares / df) if df else math.nan), df


def noise_threshold(sd: float, blocks: int, *, confidence_level: float = 0.95) -> float:
    """The ratio two equally fast rows stay below in `confidence_level` of studies, with `blocks`
    blocks and per-block log ratios of standard deviation sd: exp(z * sd / sqrt(blocks))."""
    if not (math.isfinite(sd) and blocks >= 1):
        return math.nan
    z = float(stats.norm.ppf(1 - (1 - confidence_level) / 2))
    return math.exp(z * sd / math.sqrt(blocks))


# ---------------------------------------------------------------------------------------------
# Coverage simulation


def percentile_bootstrap_means(
    samples: np.ndarray, *, confidence_level: float = 0.95, n_resamples: int = 2000, rng=None
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap intervals of the mean for many samples at once (rows of `samples`).

    scipy's percentile interval (`bootstrap_mean_ci`), vectorised over rows so the coverage
    simulation stays fast; tests/test_stats.py checks the two agree. A resample is n values
    drawn with replacement, kept as how often each value was drawn (counts), so its mean is
    counts @ x / n, and the resamples of every row are one matrix product. The rows share the
    draws: each row's interval is still a bootstrap of its own values (the draws do not depend
    on them); simulate_coverage passes its studies in blocks, each with draws of its own.
    """
    rng = np.random.default_rng(rng)
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    n = samples.shape[1]
    picks = rng.integers(0, n, size=(n_resamples, n)) + n * np.arange(n_resamples)[:, None]
    counts = np.bincount(picks.ravel(), minlength=n_resamples * n).reshape(n_resamples, n)
    means = samples @ (counts.T / n)
    alpha = (1 - confidence_level) / 2
    if n_resamples < 2:
        return means[:, 0], means[:, 0]
    # np.percentile's default (linear) over each row, from the four order statistics it needs.
    at = [(n_resamples - 1) * q for q in (alpha, 1 - alpha)]
    floors = [min(int(math.floor(h)), n_resamples - 2) for h in at]
    ordered = np.partition(means, sorted({k + d for k in floors for d in (0, 1)}), axis=1)
    low, high = (
        ordered[:, k] + (h - k) * (ordered[:, k + 1] - ordered[:, k]) for h, k in zip(at, floors)
    )
    return low, high


@functools.lru_cache(maxsize=32)
def _intervals(
    n, method, sd, slow_fraction, slow_factor, confidence_level, studies, n_resamples, seed
):
    """simulate_coverage's (low, high) on the log scale, one per simulated study (cached)."""
    tag = zlib.crc32(f"{method}|{sd:.6g}|{slow_fraction:.6g}|{slow_factor:.6g}".encode())
    rng = np.random.default_rng([int(seed), int(n), tag])
    logs = sd * rng.standard_normal((studies, n))
    if slow_fraction > 0:
        logs += math.log(slow_factor) * (rng.random((studies, n)) < slow_fraction)
    if method == "t":
        mean = logs.mean(axis=1)
        half = t_quantile(n, confidence_level) * logs.std(axis=1, ddof=1) / math.sqrt(n)
        low, high = mean - half, mean + half
    else:
        lows, highs = [], []
        for start in range(0, studies, 250):
            lo, hi = percentile_bootstrap_means(
                logs[start : start + 250],
                confidence_level=confidence_level,
                n_resamples=n_resamples,
                rng=rng,
            )
            lows.append(lo)
            highs.append(hi)
        low, high = np.concatenate(lows), np.concatenate(highs)
    low.flags.writeable = high.flags.writeable = False  # cached: shared by every caller
    return low, high


def simulate_coverage(
    n: int,
    *,
    sd: float = SD_RUN_LOG,
    method: str = "t",
    slow_fraction: float = 0.0,
    slow_factor: float = SLOW_HOST_FACTOR,
    confidence_level: float = 0.95,
    studies: int = 2000,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict:
    """How often a nominal interval from n values covers the true value, and how wide it is.

    The generative model: the log of each value (a run mean, or a block's ratio) is normal around
    the truth (log 1) with standard deviation sd; with slow_fraction > 0 each value is, with that
    probability, slow_factor times higher (a run on a slower host; the truth stays the normal
    host's). method "t": `log_t_interval`; "percentile": the percentile bootstrap of the mean of
    the logs (the method the report used before, on the same scale). Returns {"coverage",
    "width"}: the fraction of `studies` simulated studies whose interval contains 1, and the mean
    of (high - low) relative to the truth.
    """
    if n < 2:
        return {"coverage": math.nan, "width": math.nan}
    if method not in ("t", "percentile"):
        raise ValueError(f"unknown interval method {method!r}")
    if slow_fraction > 0:
        low, high = _intervals(
            n, method, sd, slow_fraction, slow_factor, confidence_level, studies, n_resamples, seed
        )
    else:
        # Without a slow host both intervals scale with sd (the t interval's mean and standard
        # deviation, each bootstrap mean): one simulation at sd 1 serves every sd, so the
        # scenarios that differ only in sd share it (the same coverage, their own widths).
        low, high = (
            sd * v
            for v in _intervals(
                n, method, 1.0, 0.0, slow_factor, confidence_level, studies, n_resamples, seed
            )
        )
    covered = (low <= 0) & (0 <= high)
    return {
        "coverage": float(covered.mean()),
        "width": float((np.exp(high) - np.exp(low)).mean()),
    }
