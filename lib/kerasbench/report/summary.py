"""One summary per report: one row per (source, workload, backend, config), built from the
per-run numbers, with the comparisons between rows, then and now, the notes and the verdicts,
computed once by `build` and then only displayed. The parts are their modules': runstats (one
row per run), ratios (within blocks), thenandnow, noise, coverage, metrics (the metric
followed), notes (the sentences).

Definitions (the Method section of the report says the same; the statistics are stats.py's):
- mean_epoch_seconds: a run's value is the mean over its epochs after the first (epoch 0 carries
  compilation and warm-up; it is warmup_seconds); a row's is the geometric mean of its ok runs'
  values, the centre of its interval. A reference (2017) row keeps that study's own method, the
  mean over all epochs of its one run (`mean_basis` says which), and also has mean_after_first,
  the first-epoch-apart mean, for comparison.
- ci_low/ci_high: Student t interval of the mean of the log run means, exp'd back, only from 3
  runs on (`stats.MIN_RUNS`); a reference row's is the percentile bootstrap over the epochs of its
  one run (the 2017 method, from stats.MIN_EPOCHS epochs). ci_method says which. spread_low/
  spread_high: the smallest and largest steady epoch of the runs, given only where there is no
  interval: the within-run spread, not a confidence interval, drawn and labelled differently.
- Blocks: a block is one repeat of a workload on one machine (machines.machine_id). Every ratio
  (times_fastest, times_floor, the first screen's multiples and speed-ups, then and now) is the
  geometric mean of within-block ratios (`stats.paired_ratio`), with an interval from 3 blocks;
  rows that share no block get the ratio of their means, paired False, no interval.
- times_fastest: this row's epoch time over the fastest Keras row as shipped of the same source
  and workload (`stats.pick_fastest`: ranked by paired evidence only; fastest_decided False
  where rows never run beside the fastest could be faster). pairs: the blocks the ratio rests
  on; pairing: the same in words. The native loops are the floor (times_floor), not candidates.
- final_metric: the workload's metric at the last epoch (`metrics.choose`: the registry's for
  the seven, val_accuracy = test accuracy, the text models' training loss; a model file's first
  compiled metric, on the test set where logged there, else its training loss), mean over ok
  runs with min and max; metric_runs, how many. A timing block's run (fewer epochs than its
  profile's, `kerasbench run --timing-epochs`) counts in every time and ratio but not in the final
  metric or the curves; timing_runs counts them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench import studyfiles
from kerasbench.report import notes as notes_mod
from kerasbench.report import metrics as metrics_mod
from kerasbench.report import rundata, stats
from kerasbench.report.coverage import coverage_table
from kerasbench.report.naming import joined, sort_key
from kerasbench.report.noise import noise
from kerasbench.report.ratios import (
    COMPARISON_COLUMNS,
    RANKING_COLUMNS,
    add_floor,
    add_speedups,
    blocks_of,
)
from kerasbench.report.runstats import GROUP, run_stats
from kerasbench.report.thenandnow import same_backend, then_and_now

SUMMARY_COLUMNS = [
    "source",
    "workload",
    "backend",
    "config",
    "runs",
    "timing_runs",
    "metric_runs",
    "epochs",
    "mean_epoch_seconds",
    "ci_low",
    "ci_high",
    "spread_low",
    "spread_high",
    "times_fastest",
    "times_fastest_low",
    "times_fastest_high",
    "pairs",
    "paired",
    "pairing",
    "fastest",
    "fastest_decided",
    "warmup_seconds",
    "final_metric_name",
    "final_metric",
    "final_metric_min",
    "final_metric_max",
    "reference",
    "mean_basis",
    "mean_after_first",
    "samples_per_second",
    "data_source",
    "profile",
    "not_ok_runs",
    "not_learning_runs",
    "machines",
    "machine_names",
    "floor",
    "floor_seconds",
    "times_floor",
    "times_floor_low",
    "times_floor_high",
    "floor_pairs",
    "floor_pairing",
    "confidence_level",
    "n_resamples",
    "ci_method",
]


@dataclass
class Summary:
    """What the report shows, computed once (`build`)."""

    study: rundata.Study
    per_run: pd.DataFrame
    table: pd.DataFrame
    curves: pd.DataFrame
    notes: pd.DataFrame
    verdicts: pd.DataFrame
    coverage: pd.DataFrame = None  # COVERAGE_COLUMNS, for the n this report used
    coverage_studies: int = 2000
    coverage_used: bool = (
        True  # False: no row had an interval; coverage is for MIN_RUNS, as context
    )
    then_and_now: pd.DataFrame = None
    same_backend: pd.DataFrame = None  # thenandnow.SAME_BACKEND_COLUMNS: one backend, then and now
    comparisons: pd.DataFrame = None  # COMPARISON_COLUMNS: every ratio the report shows
    rankings: pd.DataFrame = None  # RANKING_COLUMNS: how each fastest was picked
    noise: dict = field(default_factory=dict)  # source -> too-close-to-call basis (notes.noise)
    confidence_level: float = 0.95
    n_resamples: int = 10_000
    seed: int = 0

    def write_csv(self, out_dir) -> Path:
        """summary.csv in out_dir (created if needed); returns its path."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / studyfiles.SUMMARY_CSV
        self.table.to_csv(path, index=False, float_format="%.10g")
        return path


def _mean_or_nan(values) -> float:
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def _group_row(keys, group, ok, confidence_level, n_resamples) -> dict:
    means = ok["mean_epoch_seconds"].to_numpy(dtype=float)
    finite = means[np.isfinite(means)]
    centre, low, high = stats.log_t_interval(finite, confidence_level=confidence_level)
    method = stats.T_METHOD if math.isfinite(low) else stats.NO_INTERVAL
    reference = bool(group["reference"].iloc[0])
    if reference and len(ok) == 1 and math.isfinite(ok["epochs_ci_low"].iloc[0]):
        low, high = float(ok["epochs_ci_low"].iloc[0]), float(ok["epochs_ci_high"].iloc[0])
        method = stats.EPOCH_METHOD
    no_interval = not math.isfinite(low)
    finals = ok["final_metric"].to_numpy(dtype=float)
    finals = finals[np.isfinite(finals)]
    machines = [m for m in dict.fromkeys(ok["machine"]) if m]
    return {
        **dict(zip(GROUP, keys)),
        "reference": reference,
        "runs": len(ok),
        "timing_runs": int(ok["timing_block"].astype(bool).sum()),
        "metric_runs": int(finals.size),
        "not_ok_runs": int((~group["ok"]).sum()),
        "not_learning_runs": int(ok["not_learning"].sum()),
        "epochs": int(ok["epochs"].max()) if len(ok) else 0,
        "mean_epoch_seconds": centre,
        "ci_low": low,
        "ci_high": high,
        "spread_low": float(ok["steady_min"].min()) if no_interval and len(ok) else math.nan,
        "spread_high": float(ok["steady_max"].max()) if no_interval and len(ok) else math.nan,
        "warmup_seconds": _mean_or_nan(ok["warmup_seconds"]),
        "final_metric_name": group["final_metric_name"].iloc[0],
        "final_metric": float(finals.mean()) if finals.size else math.nan,
        "final_metric_min": float(finals.min()) if finals.size else math.nan,
        "final_metric_max": float(finals.max()) if finals.size else math.nan,
        "mean_basis": group["mean_basis"].iloc[0],
        "mean_after_first": _mean_or_nan(ok["mean_after_first"]),
        "samples_per_second": _mean_or_nan(ok["samples_per_second"]),
        "data_source": joined(ok["data_source"]),
        "profile": joined(ok["profile"]),
        "machines": len(machines),
        "machine_names": " / ".join(machines) or None,
        "confidence_level": confidence_level,
        "n_resamples": n_resamples,
        "ci_method": method,
    }


@dataclass
class _Analysis:
    table: pd.DataFrame
    comparisons: pd.DataFrame
    rankings: pd.DataFrame
    then_and_now: pd.DataFrame


def analyse(
    per_run: pd.DataFrame, *, confidence_level: float = 0.95, n_resamples: int = 10_000
) -> _Analysis:
    """The summary table (SUMMARY_COLUMNS), every comparison the report shows
    (COMPARISON_COLUMNS), how each fastest was picked (RANKING_COLUMNS) and then-and-now.

    Only ok runs enter the statistics; a group whose runs all failed is kept with runs=0 and NaN
    statistics, and not_ok_runs counts its runs that are not ok.
    """
    rows, ok_runs = [], {}
    for keys, group in per_run.groupby(GROUP, sort=False, dropna=False):
        ok = group[group["ok"]]
        ok_runs[tuple(keys)] = ok
        rows.append(_group_row(keys, group, ok, confidence_level, n_resamples))
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for column in (
        "times_fastest",
        "times_fastest_low",
        "times_fastest_high",
        "pairs",
        "floor_seconds",
        "times_floor",
        "times_floor_low",
        "times_floor_high",
        "floor_pairs",
    ):
        table[column] = table[column].astype(float)
    for column in ("fastest", "floor", "pairing", "floor_pairing", "paired", "fastest_decided"):
        table[column] = table[column].astype(object)
    comparisons, rankings = [], []
    if not table.empty:
        blocks = {k: blocks_of(v) for k, v in ok_runs.items()}
        add_speedups(table, blocks, confidence_level, comparisons, rankings)
        add_floor(table, blocks, confidence_level, comparisons, rankings)
        table = table.sort_values(
            ["reference", "source", "workload", "backend", "config"],
            key=sort_key,
            ignore_index=True,
        )
    after_first = {k: blocks_of(v, "mean_after_first") for k, v in ok_runs.items()}
    then = then_and_now(table, after_first, confidence_level, comparisons)
    return _Analysis(
        table=table,
        comparisons=pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS),
        rankings=pd.DataFrame(rankings, columns=RANKING_COLUMNS),
        then_and_now=then,
    )


def metric_curves(epochs: pd.DataFrame, metrics: dict | None = None) -> pd.DataFrame:
    """Mean of each workload's metric per epoch over the ok runs of a (source, backend, config),
    timing blocks' runs left out.

    Columns: source, workload, backend, config, reference, metric, epoch, value, elapsed_seconds, runs.
    metrics: {workload: the column followed} (metrics.chosen); None: chosen from the epochs.
    """
    metrics = metrics_mod.followed(epochs, metrics)
    parts = []
    learned = epochs["ok"] & ~epochs["timing_block"].astype(bool)  # a timing block: times only
    for workload, block in epochs[learned].groupby("workload", sort=False):
        metric = metrics[workload]
        if metric not in block.columns:
            continue
        curve = (
            block.groupby(GROUP + ["reference", "epoch"], sort=False, dropna=False)
            .agg(
                value=(metric, "mean"),
                elapsed_seconds=("elapsed_seconds", "mean"),
                runs=("run_id", "nunique"),
            )
            .reset_index()
        )
        curve.insert(5, "metric", metric)
        parts.append(curve)
    columns = GROUP + ["reference", "metric", "epoch", "value", "elapsed_seconds", "runs"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns].sort_values(
        ["reference"] + GROUP + ["epoch"], key=sort_key, ignore_index=True
    )


def build(
    study: rundata.Study,
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    coverage_studies: int = 2000,
) -> Summary:
    """Everything the report shows, from one loaded study."""
    # The settings of every interval: the level, the bootstrap's resamples, its seed.
    settings = {"confidence_level": confidence_level, "n_resamples": n_resamples, "seed": seed}
    followed = metrics_mod.chosen(study)
    per_run = run_stats(study.epochs, metrics=followed, **settings)
    result = analyse(per_run, confidence_level=confidence_level, n_resamples=n_resamples)
    table = result.table
    mine = table[~table["reference"]] if not table.empty else table
    used = sorted(
        {int(n) for n in mine["runs"] if n >= stats.MIN_RUNS}
        | {int(n) for n in result.comparisons["blocks"] if n >= stats.MIN_RUNS}
    )
    noise_by_source = noise(per_run)
    return Summary(
        study=study,
        per_run=per_run,
        table=table,
        then_and_now=result.then_and_now,
        same_backend=same_backend(table, result.comparisons),
        comparisons=result.comparisons,
        rankings=result.rankings,
        noise=noise_by_source,
        curves=metric_curves(study.epochs, followed),
        notes=notes_mod.notes(table, study),
        verdicts=notes_mod.verdicts(
            table, result.rankings, noise_by_source, confidence_level=confidence_level
        ),
        coverage=coverage_table(used or [stats.MIN_RUNS], studies=coverage_studies, **settings),
        coverage_used=bool(used),
        coverage_studies=coverage_studies,
        **settings,
    )
