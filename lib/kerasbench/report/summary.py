"""One summary per report: per-run numbers, one row per (source, workload, backend, config), the
paired speed-ups, the notes and the verdicts, computed once by `build` and then only displayed.

Definitions (the Method section of the report says the same):
- mean_epoch_seconds: the mean over a run's epochs after the first (epoch 0 carries compilation
  and warm-up; it is warmup_seconds), averaged over the ok runs. A reference (2017) row keeps that
  study's own method, the mean over all epochs (`mean_basis` says which), and also has
  mean_after_first, the first-epoch-apart mean, for comparison.
- ci_low/ci_high: percentile bootstrap interval of the mean across runs (one value per run), only
  from 3 runs on (`stats.MIN_RUNS`); otherwise NaN. spread_low/spread_high: the smallest and
  largest steady epoch of the runs, given only where there is no interval: it is the within-run
  spread, not a confidence interval, and is drawn and labelled differently.
- times_fastest: this row's epoch time over the fastest row of the same source and workload (all
  Keras backends and configurations together; the native loops are the floor, not candidates).
  Paired by repeat (`stats.paired_speedup`): the mean of the per-repeat ratios, with an interval
  across repeats from 3 pairs on; where some runs have no partner repeat, the point is the ratio
  of the two rows' means. The fastest row is 1 by definition (no interval).
- final_metric: the workload's registry metric at the last epoch (val_accuracy = test accuracy;
  the text models log training loss only), mean over ok runs with min and max.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.report import notes as notes_mod
from kerasbench.report import rundata, stats
from kerasbench.report.rundata import ALL_EPOCHS, is_native, is_patched, sort_key

GROUP = ["source", "workload", "backend", "config"]

SUMMARY_COLUMNS = [
    "source",
    "workload",
    "backend",
    "config",
    "runs",
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
    "fastest",
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
    coverage: dict = field(default_factory=dict)
    coverage_studies: int = 2000
    coverage_used: bool = (
        True  # False: no row had an interval; coverage is for MIN_RUNS, as context
    )
    then_and_now: pd.DataFrame = None
    confidence_level: float = 0.95
    n_resamples: int = 10_000
    seed: int = 0

    def write_csv(self, out_dir) -> Path:
        """summary.csv in out_dir (created if needed); returns its path."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "summary.csv"
        self.table.to_csv(path, index=False, float_format="%.10g")
        return path


def _mean_or_nan(values) -> float:
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def run_stats(epochs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: warm-up (first epoch), mean epoch seconds, final metric, throughput."""
    columns = GROUP + [
        "run_id",
        "repeat",
        "reference",
        "status",
        "ok",
        "data_source",
        "profile",
        "mean_basis",
        "machine",
        "epochs",
        "warmup_seconds",
        "mean_epoch_seconds",
        "mean_after_first",
        "steady_min",
        "steady_max",
        "final_metric_name",
        "final_metric",
        "samples_per_second",
        "not_learning",
    ]
    rows = []
    for keys, run in epochs.groupby(GROUP + ["run_id"], sort=False, dropna=False):
        run = run.sort_values("epoch")
        first = run.iloc[0]
        seconds = run["epoch_seconds"].to_numpy(dtype=float)
        after_first = seconds[1:][np.isfinite(seconds[1:])]
        steady = seconds[np.isfinite(seconds)] if first["mean_basis"] == ALL_EPOCHS else after_first
        rate = run["samples_per_second"].to_numpy(dtype=float)[1:]
        metric = rundata.metric_name(keys[1], run.columns)
        final = float(run[metric].iloc[-1]) if metric in run.columns else math.nan
        losses = run["loss"].to_numpy(dtype=float) if "loss" in run.columns else np.array([])
        losses = losses[~np.isnan(losses)]  # a log without the column (2017 two-head model)
        rows.append(
            {
                **dict(zip(GROUP + ["run_id"], keys)),
                "repeat": first["repeat"],
                "reference": bool(first["reference"]),
                "status": first["status"],
                "ok": bool(first["ok"]),
                "data_source": first["data_source"],
                "profile": first["profile"],
                "mean_basis": first["mean_basis"],
                "machine": first["machine"],
                "epochs": len(run),
                "warmup_seconds": float(seconds[0]),
                "mean_epoch_seconds": float(steady.mean()) if steady.size else math.nan,
                "mean_after_first": float(after_first.mean()) if after_first.size else math.nan,
                "steady_min": float(steady.min()) if steady.size else math.nan,
                "steady_max": float(steady.max()) if steady.size else math.nan,
                "final_metric_name": metric,
                "final_metric": final,
                "samples_per_second": _mean_or_nan(rate),
                # Did it learn? A training loss that ends no lower than it started (or non-finite).
                "not_learning": bool(losses.size >= 2 and not losses[-1] < losses[0]),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _by_repeat(runs: pd.DataFrame) -> dict:
    return {r: m for r, m in zip(runs["repeat"], runs["mean_epoch_seconds"]) if math.isfinite(m)}


def summarize(
    per_run: pd.DataFrame,
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (source, workload, backend, config): SUMMARY_COLUMNS.

    Only ok runs enter the statistics; a group whose runs all failed is kept with runs=0 and NaN
    statistics, and not_ok_runs counts its runs that are not ok.
    """
    rows = []
    ok_runs = {}
    for keys, group in per_run.groupby(GROUP, sort=False, dropna=False):
        ok = group[group["ok"]]
        ok_runs[tuple(keys)] = ok
        means = ok["mean_epoch_seconds"].to_numpy(dtype=float)
        finite = means[np.isfinite(means)]
        low, high = stats.mean_ci(
            finite,
            confidence_level=confidence_level,
            n_resamples=n_resamples,
            rng=stats.group_rng(seed, *keys),
        )
        no_interval = finite.size < stats.MIN_RUNS
        finals = ok["final_metric"].to_numpy(dtype=float)
        finals = finals[np.isfinite(finals)]
        machines = [m for m in dict.fromkeys(ok["machine"]) if m]
        rows.append(
            {
                **dict(zip(GROUP, keys)),
                "reference": bool(group["reference"].iloc[0]),
                "runs": len(ok),
                "not_ok_runs": int((~group["ok"]).sum()),
                "not_learning_runs": int(ok["not_learning"].sum()),
                "epochs": int(ok["epochs"].max()) if len(ok) else 0,
                "mean_epoch_seconds": float(finite.mean()) if finite.size else math.nan,
                "ci_low": low,
                "ci_high": high,
                "spread_low": float(ok["steady_min"].min())
                if no_interval and len(ok)
                else math.nan,
                "spread_high": float(ok["steady_max"].max())
                if no_interval and len(ok)
                else math.nan,
                "warmup_seconds": _mean_or_nan(ok["warmup_seconds"]),
                "final_metric_name": group["final_metric_name"].iloc[0],
                "final_metric": float(finals.mean()) if finals.size else math.nan,
                "final_metric_min": float(finals.min()) if finals.size else math.nan,
                "final_metric_max": float(finals.max()) if finals.size else math.nan,
                "mean_basis": group["mean_basis"].iloc[0],
                "mean_after_first": _mean_or_nan(ok["mean_after_first"]),
                "samples_per_second": _mean_or_nan(ok["samples_per_second"]),
                "data_source": rundata.joined(ok["data_source"]),
                "profile": rundata.joined(ok["profile"]),
                "machines": len(machines),
                "machine_names": " / ".join(machines) or None,
                "confidence_level": confidence_level,
                "n_resamples": n_resamples,
                "ci_method": stats.METHOD,
            }
        )
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
    ):
        table[column] = table[column].astype(float)
    for column in ("fastest", "floor"):
        table[column] = table[column].astype(object)
    if table.empty:
        return table
    _add_speedups(table, ok_runs, confidence_level, n_resamples, seed)
    _add_floor(table, ok_runs, confidence_level, n_resamples, seed)
    return table.sort_values(
        ["reference", "source", "workload", "backend", "config"], key=sort_key, ignore_index=True
    )


def _label(row) -> str:
    return f"{row['backend']} {row['config']}"


def _add_speedups(table, ok_runs, confidence_level, n_resamples, seed):
    """times_fastest per (source, workload): all Keras configurations together, paired by repeat."""
    timed = np.isfinite(table["mean_epoch_seconds"].astype(float)) & ~table["backend"].map(
        is_native
    )
    for _, block in table[timed].groupby(["source", "workload"], sort=False):
        shipped = block[~block["config"].map(is_patched)]
        candidates = shipped if not shipped.empty else block
        best = candidates.loc[candidates["mean_epoch_seconds"].idxmin()]
        best_runs = _by_repeat(ok_runs[tuple(best[GROUP])])
        for i, row in block.iterrows():
            table.at[i, "fastest"] = _label(best)
            if i == best.name:
                # The fastest against itself is 1 by definition, not an estimate.
                table.at[i, "times_fastest"] = 1.0
                table.at[i, "pairs"] = row["runs"]
                continue
            result = stats.paired_speedup(
                _by_repeat(ok_runs[tuple(row[GROUP])]),
                best_runs,
                confidence_level=confidence_level,
                n_resamples=n_resamples,
                rng=stats.group_rng(seed, *row[GROUP], "vs", _label(best)),
            )
            if not result["pairs"] == row["runs"] == best["runs"]:
                # Some runs have no partner in the other row: the point is the ratio of the two
                # means the table shows; the interval (if any) stays over the pairs.
                result["ratio"] = row["mean_epoch_seconds"] / best["mean_epoch_seconds"]
            table.at[i, "times_fastest"] = result["ratio"]
            table.at[i, "times_fastest_low"] = result["low"]
            table.at[i, "times_fastest_high"] = result["high"]
            table.at[i, "pairs"] = result["pairs"]


def _add_floor(table, ok_runs, confidence_level, n_resamples, seed):
    """Each Keras row's epoch time as a multiple of the floor: the fastest native loop of the same
    source and workload, paired by repeat like times_fastest."""
    finite = np.isfinite(table["mean_epoch_seconds"].astype(float))
    native = table["backend"].map(is_native)
    for _, block in table[finite].groupby(["source", "workload"], sort=False):
        natives = block[native[block.index]]
        if natives.empty:
            continue
        floor = natives.loc[natives["mean_epoch_seconds"].idxmin()]
        floor_runs = _by_repeat(ok_runs[tuple(floor[GROUP])])
        for i, row in block[~native[block.index]].iterrows():
            result = stats.paired_speedup(
                _by_repeat(ok_runs[tuple(row[GROUP])]),
                floor_runs,
                confidence_level=confidence_level,
                n_resamples=n_resamples,
                rng=stats.group_rng(seed, *row[GROUP], "vs floor"),
            )
            table.at[i, "floor"] = _label(floor)
            table.at[i, "floor_seconds"] = floor["mean_epoch_seconds"]
            table.at[i, "times_floor"] = result["ratio"]
            table.at[i, "times_floor_low"] = result["low"]
            table.at[i, "times_floor_high"] = result["high"]


def metric_curves(epochs: pd.DataFrame) -> pd.DataFrame:
    """Mean of each workload's metric per epoch over the ok runs of a (source, backend, config).

    Columns: source, workload, backend, config, reference, metric, epoch, value, elapsed_seconds, runs.
    """
    parts = []
    for workload, block in epochs[epochs["ok"]].groupby("workload", sort=False):
        metric = rundata.metric_name(workload, block.columns)
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


def then_and_now(table: pd.DataFrame) -> pd.DataFrame:
    """Each reference's ratio between two backends beside this study's, per workload: the 2017
    comparison is made through ratios, never seconds on today's axis.

    For every pair of backends a reference ran (default configuration) that this study also ran:
    columns workload, numerator, denominator, reference, reference_ratio, source, ratio, runs
    ("1 / 3": the runs behind this study's ratio). Both ratios are of the means over the epochs
    after the first (mean_after_first), so the 2017 warm-up does not weigh on one side only.
    """
    rows = []
    defaults = table[
        (table["config"] == "default")
        & np.isfinite(table["mean_epoch_seconds"].astype(float))
        & ~table["backend"].map(is_native)
    ]
    mine = defaults[~defaults["reference"]]
    for (source, workload), ref in defaults[defaults["reference"]].groupby(
        ["source", "workload"], sort=False
    ):
        ours = mine[mine["workload"] == workload].set_index("backend")
        theirs = ref.set_index("backend")
        backends = [b for b in theirs.index if b in ours.index]
        for i, first in enumerate(backends):
            for second in backends[i + 1 :]:
                for this_source, block in ours.groupby("source", sort=False):
                    rows.append(
                        {
                            "workload": workload,
                            "numerator": second,
                            "denominator": first,
                            "reference": source,
                            "reference_ratio": (
                                theirs.loc[second, "mean_after_first"]
                                / theirs.loc[first, "mean_after_first"]
                            ),
                            "source": this_source,
                            "ratio": (
                                block.loc[second, "mean_after_first"]
                                / block.loc[first, "mean_after_first"]
                            ),
                            "runs": f"{int(block.loc[second, 'runs'])} / {int(block.loc[first, 'runs'])}",
                        }
                    )
    return pd.DataFrame(
        rows,
        columns=[
            "workload",
            "numerator",
            "denominator",
            "reference",
            "reference_ratio",
            "source",
            "ratio",
            "runs",
        ],
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
    per_run = run_stats(study.epochs)
    table = summarize(
        per_run, confidence_level=confidence_level, n_resamples=n_resamples, seed=seed
    )
    used = sorted(
        {int(n) for n in table["runs"] if n >= stats.MIN_RUNS}
        | {int(n) for n in table["pairs"].dropna() if n >= stats.MIN_RUNS}
    )
    coverage_used = bool(used)
    coverage = {
        n: stats.simulate_coverage(
            n, confidence_level=confidence_level, studies=coverage_studies, seed=seed
        )
        for n in (used or [stats.MIN_RUNS])
    }
    return Summary(
        study=study,
        per_run=per_run,
        table=table,
        then_and_now=then_and_now(table),
        curves=metric_curves(study.epochs),
        notes=notes_mod.notes(table, study),
        verdicts=notes_mod.verdicts(table),
        coverage=coverage,
        coverage_used=coverage_used,
        coverage_studies=coverage_studies,
        confidence_level=confidence_level,
        n_resamples=n_resamples,
        seed=seed,
    )
