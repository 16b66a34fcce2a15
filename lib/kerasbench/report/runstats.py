"""What each run's epochs say: one row per run (`run_stats`), what the summary is built from.

Host side only (pandas, never Keras). A run's mean_epoch_seconds is the mean over its epochs
after the first (epoch 0 carries compilation and warm-up: warmup_seconds); a reference (2017)
run's is the mean over all its epochs, the 2017 study's method (`mean_basis` says which), with
mean_after_first beside it and the percentile bootstrap of its mean over its epochs
(epochs_ci_low/high, stats.bootstrap_mean_ci). final_metric is the followed metric
(metrics.followed) at the last epoch, NaN for a timing block's run (its few epochs say nothing of
how far the model learns); not_learning, a training loss that ends no lower than it started.
GROUP, the columns that name a row of the summary, leads every row.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kerasbench.report import metrics as metrics_mod
from kerasbench.report import stats
from kerasbench.report.tidy import ALL_EPOCHS, RUN_FACTS

GROUP = ["source", "workload", "backend", "config"]

RUN_STATS_COLUMNS = (
    GROUP
    + ["run_id", "repeat", "reference"]
    + RUN_FACTS
    + [
        "epochs",
        "warmup_seconds",
        "mean_epoch_seconds",
        "mean_after_first",
        "steady_min",
        "steady_max",
        "epochs_ci_low",
        "epochs_ci_high",
        "final_metric_name",
        "final_metric",
        "samples_per_second",
        "not_learning",
    ]
)


def run_stats(
    epochs: pd.DataFrame,
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    metrics: dict | None = None,
) -> pd.DataFrame:
    """One row per run: warm-up (first epoch), mean epoch seconds, final metric, throughput.

    metrics: {workload: the column followed} (metrics.chosen); None: chosen from the epochs.

    A reference run (the 2017 method: the mean over all its epochs) also gets epochs_ci_low/high,
    the percentile bootstrap of that mean over its epochs (stats.bootstrap_mean_ci, from
    stats.MIN_EPOCHS epochs); NaN for every other run.
    """
    if epochs.empty:
        return pd.DataFrame(columns=RUN_STATS_COLUMNS)
    table, by, starts, ends = _by_run(epochs)
    first = table.iloc[starts].reset_index(drop=True)
    seconds = table["epoch_seconds"].to_numpy(dtype=float)
    not_first = np.ones(len(table), dtype=bool)
    not_first[starts] = False
    finite = np.isfinite(seconds)
    all_epochs = (table["mean_basis"] == ALL_EPOCHS).to_numpy()
    after_first = pd.Series(np.where(not_first & finite, seconds, np.nan))
    steady = pd.Series(np.where(finite & (not_first | all_epochs), seconds, np.nan))
    rate = table["samples_per_second"].to_numpy(dtype=float)
    rate = pd.Series(np.where(not_first & np.isfinite(rate), rate, np.nan))
    followed = metrics_mod.followed(epochs, metrics)
    names = [followed[w] for w in first["workload"]]
    epochs_ci = np.full((len(starts), 2), math.nan)
    for i in np.flatnonzero(all_epochs[starts]):  # the references: one run each, the 2017 method
        keys = [first.at[i, c] for c in GROUP + ["run_id"]]
        values = steady.to_numpy()[starts[i] : ends[i] + 1]
        epochs_ci[i] = stats.bootstrap_mean_ci(
            values[np.isfinite(values)],
            confidence_level=confidence_level,
            n_resamples=n_resamples,
            rng=stats.group_rng(seed, *keys),
        )
    out = first[GROUP + ["run_id", "repeat"] + [f for f in RUN_FACTS if f not in ("status", "ok")]]
    out = out.assign(
        reference=first["reference"].astype(bool).to_numpy(),
        status=first["status"].to_numpy(),
        ok=first["ok"].astype(bool).to_numpy(),
        epochs=ends - starts + 1,
        warmup_seconds=seconds[starts],
        mean_epoch_seconds=steady.groupby(by).mean().to_numpy(),
        mean_after_first=after_first.groupby(by).mean().to_numpy(),
        steady_min=steady.groupby(by).min().to_numpy(),
        steady_max=steady.groupby(by).max().to_numpy(),
        epochs_ci_low=epochs_ci[:, 0],
        epochs_ci_high=epochs_ci[:, 1],
        final_metric_name=names,
        final_metric=np.where(
            first["timing_block"].astype(bool).to_numpy(),
            math.nan,
            _last_values(table, names, ends),
        ),
        samples_per_second=rate.groupby(by).mean().to_numpy(),
        not_learning=_not_learning(table, by),
    )
    return out[RUN_STATS_COLUMNS]


def _by_run(epochs: pd.DataFrame):
    """(table, by, starts, ends): every epoch at once (a loop over runs costs a pandas call per
    run), the runs in their order of first appearance, each run's epochs in epoch order; `by`
    numbers each row's run, `starts` and `ends` are each run's first and last row."""
    code = epochs.groupby(GROUP + ["run_id"], sort=False, dropna=False).ngroup().to_numpy()
    order = np.lexsort((epochs["epoch"].to_numpy(dtype=float), code))
    table = epochs.iloc[order].reset_index(drop=True)
    code = code[order]
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    ends = np.r_[starts[1:], len(code)] - 1
    return table, pd.Series(code), starts, ends


def _last_values(table: pd.DataFrame, names: list, ends) -> np.ndarray:
    """Each run's value of its metric (`names`, one per run) in its last epoch (row `ends`)."""
    final = np.full(len(ends), math.nan)
    for metric in set(names):
        if metric in table.columns:
            pick = np.array([m == metric for m in names])
            final[pick] = table[metric].to_numpy(dtype=float)[ends[pick]]
    return final


def _not_learning(table: pd.DataFrame, by: pd.Series) -> np.ndarray:
    """Did it learn? Per run: a training loss that ends no lower than it started (or is not
    finite), from 2 epochs with a loss on (a log without the column is never flagged)."""
    loss = table["loss"] if "loss" in table.columns else pd.Series(np.nan, index=table.index)
    losses = pd.Series(loss.to_numpy(dtype=float)).groupby(by)
    return ((losses.count() >= 2) & ~(losses.last() < losses.first())).to_numpy(dtype=bool)
