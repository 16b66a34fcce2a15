"""Which metric the report follows for each workload (host side, pandas only).

The seven 2017 workloads follow their registry metric (test accuracy; the text models' final
training loss). A model file follows its own: the first metric it was compiled with, as its runs
logged it (run.json `metrics`: Keras' log order, which is compile() order), on the test set where
the runs logged it there (`val_<name>`: the test set is the validation data), else on the
training data; a model compiled without a metric, the training loss. A column of epochs.csv that
holds no value is no metric (every epochs.csv has `accuracy` and `val_accuracy`, empty where the
model logs no such name). Runs recorded before run.json named the metrics: the columns
themselves, `accuracy` first, then the others by name.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from kerasbench import registry, runfiles
from kerasbench.report import tidy

LOSS = "loss"  # the training loss: what a model without a metric is followed by
VALIDATION = "val_"
# epochs.csv's columns before the loss (runfiles' format): the epoch, its times and its
# throughput, never a metric
NOT_METRICS = tuple(runfiles.COLUMNS[: runfiles.COLUMNS.index(LOSS)])


def is_loss(name: str) -> bool:
    """A loss rather than a metric: `loss`, `val_loss`, a head's `main_out_loss`, a model's own
    `kl_loss` tracker."""
    return str(name).endswith(LOSS)


def holds_values(epochs: pd.DataFrame, column: str) -> bool:
    return column in epochs.columns and bool(
        np.isfinite(pd.to_numeric(epochs[column], errors="coerce").to_numpy(float)).any()
    )


def compiled_metrics(logged) -> list:
    """The metrics of a log's names, in order: not a loss, not a validation name."""
    return [
        n
        for n in logged
        if isinstance(n, str)
        and not n.startswith(VALIDATION)
        and not is_loss(n)
        and n not in NOT_METRICS
    ]


def choose(workload: str, epochs: pd.DataFrame, logged=None) -> str:
    """The column the report follows for `workload`, from its epochs (every source's rows of it;
    the ok runs' where there are any) and the names its runs logged, in order (None: unknown)."""
    if workload in registry.WORKLOADS:
        return registry.WORKLOADS[workload].metric
    if "ok" in epochs.columns and epochs["ok"].astype(bool).any():
        epochs = epochs[epochs["ok"].astype(bool)]
    if not logged:  # older runs: the columns, accuracy first, then the others by name
        known = set(runfiles.COLUMNS) | set(tidy.RUN_COLUMNS)
        extra = sorted(c for c in epochs.columns if c not in known)
        logged = ["accuracy"] + extra
    for name in compiled_metrics(logged):
        for column in (VALIDATION + name, name):
            if holds_values(epochs, column):
                return column
    return LOSS


def logged_names(runs: pd.DataFrame) -> list:
    """The names the runs' run.json `metrics` list, in the order first seen (ok runs first);
    [] where no run recorded them."""
    names: dict = {}
    if runs.empty or "path" not in runs.columns:
        return []
    ordered = runs.sort_values("ok", ascending=False, kind="stable") if "ok" in runs else runs
    for path in ordered["path"]:
        record = runfiles.read_json(os.path.join(str(path), runfiles.RUN_JSON))
        logged = record.get("metrics") if isinstance(record, dict) else None
        if isinstance(logged, list):
            names.update(dict.fromkeys(n for n in logged if isinstance(n, str)))
    return list(names)


def chosen(study) -> dict:
    """{workload: column} for every workload of a loaded study (rundata.Study)."""
    epochs, runs = study.epochs, study.runs
    found = {}
    for workload, block in epochs.groupby("workload", sort=False):
        logged = None
        if workload not in registry.WORKLOADS:
            logged = logged_names(runs[runs["workload"] == workload])
        found[workload] = choose(workload, block, logged)
    return found


def followed(epochs: pd.DataFrame, metrics: dict | None) -> dict:
    """{workload: column}: `metrics` (chosen) where given, else chosen from the epochs alone."""
    found = dict(metrics or {})
    for workload, block in epochs.groupby("workload", sort=False):
        if workload not in found:
            found[workload] = choose(workload, block)
    return found


def label(metric: str) -> str:
    """What a metric column is, for titles and tables, with its name as Keras logs it:
    'test sparse_categorical_accuracy (val_sparse_categorical_accuracy)', 'training loss'."""
    metric = str(metric)
    if metric == LOSS:
        return "training loss"
    if metric.startswith(VALIDATION):
        return f"test {metric[len(VALIDATION) :]} ({metric})"
    return f"training {metric}"
