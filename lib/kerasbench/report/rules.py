"""What the page shows of a summary, decided once: which rows are this study's, what a row is
called, and (below) the caveats that make a row not a plain comparable result, each stated once
as a short phrase (the verdict table) and as a sentence (beside the workload's charts).

Functions over the summary table (summary.SUMMARY_COLUMNS) and the summary; no statistics and
no HTML here: `notes` words them, `tables`, `figures` and `sections` draw them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kerasbench.report import rundata


def label(row) -> str:
    """'jax tuned': backend and configuration, the name every table and legend uses."""
    return f"{row['backend']} {row['config']}"


def labels(frame: pd.DataFrame) -> pd.Series:
    """label() of every row, as a Series of strings (empty for an empty frame)."""
    return (frame["backend"].astype(str) + " " + frame["config"].astype(str)).rename("label")


def is_generated(row) -> bool:
    return "generated" in str(row.get("data_source") or "").split(" / ")


def is_true(value) -> bool:
    return value is True or (isinstance(value, (bool, np.bool_)) and bool(value))


def finite(x) -> bool:
    return (
        x is not None and isinstance(x, (int, float, np.floating, np.integer)) and math.isfinite(x)
    )


def mine(table: pd.DataFrame) -> pd.DataFrame:
    """This study's rows (no reference)."""
    return table[~table["reference"]]


def keras_rows(summary) -> pd.DataFrame:
    """This study's Keras rows: no reference, no native floor loop."""
    table = mine(summary.table)
    return table[~table["backend"].map(rundata.is_native)]


def verdict_of(summary, source, workload) -> pd.DataFrame:
    """The verdicts row of one source's workload (empty where it has none)."""
    v = summary.verdicts
    return v[(v["source"] == source) & (v["workload"] == workload)]
