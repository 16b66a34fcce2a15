"""Then and now: each reference's ratio between two backends beside this study's, per workload;
and each backend that ran in a reference and here, on its own (`same_backend`).

Host side only (pandas, never Keras). The 2017 comparison is made through ratios, never seconds
on today's axis, and both sides through the means over the epochs after the first, so the 2017
warm-up does not weigh on one side only; this study's ratio is within blocks (ratios.py).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from kerasbench.report import stats
from kerasbench.report.naming import is_native
from kerasbench.report.ratios import comparison, pairing_text


THEN_AND_NOW_COLUMNS = [
    "workload",
    "numerator",
    "denominator",
    "reference",
    "reference_ratio",
    "source",
    "ratio",
    "low",
    "high",
    "pairing",
    "runs",
]


def then_and_now(
    table: pd.DataFrame,
    after_first: dict | None = None,
    confidence_level: float = 0.95,
    comparisons: list | None = None,
) -> pd.DataFrame:
    """Each reference's ratio between two backends beside this study's, per workload: the 2017
    comparison is made through ratios, never seconds on today's axis.

    For every pair of backends a reference ran (default configuration) that this study also ran:
    THEN_AND_NOW_COLUMNS ("1 / 3": the runs of each side). Both ratios are of the means over the
    epochs after the first (mean_after_first), so the 2017 warm-up does not weigh on one side
    only; this study's is within blocks (after_first: GROUP key -> {block: mean_after_first},
    stats.paired_ratio), and the ratio of the two rows' means where they share no block.
    """
    if table.empty:
        return pd.DataFrame(columns=THEN_AND_NOW_COLUMNS)
    after_first = after_first or {}
    rows = []
    defaults = table[
        (table["config"] == "default")
        & np.isfinite(table["mean_epoch_seconds"].astype(float))
        & ~table["backend"].map(is_native)
    ]
    mine = defaults[~defaults["reference"]]
    for (reference, workload), ref in defaults[defaults["reference"]].groupby(
        ["source", "workload"], sort=False
    ):
        theirs = ref.set_index("backend")
        for source, block in mine[mine["workload"] == workload].groupby("source", sort=False):
            block = block.set_index("backend")
            backends = [b for b in theirs.index if b in block.index]
            for first, second in itertools.combinations(backends, 2):
                keys = [(source, workload, b, "default") for b in (second, first)]
                result = _ratio_now(block, second, first, keys, after_first, confidence_level)
                if comparisons is not None:
                    comparisons.append(
                        comparison(
                            source,
                            workload,
                            "then and now",
                            f"{second} default",
                            f"{first} default",
                            result,
                        )
                    )
                rows.append(
                    {
                        "workload": workload,
                        "numerator": second,
                        "denominator": first,
                        "reference": reference,
                        "reference_ratio": _ratio_of_means(theirs, second, first),
                        "source": source,
                        "ratio": result["ratio"],
                        "low": result["low"],
                        "high": result["high"],
                        "pairing": pairing_text(
                            result["blocks"], result["machines"], result["paired"]
                        ),
                        "runs": f"{int(block.loc[second, 'runs'])} / {int(block.loc[first, 'runs'])}",
                    }
                )
    return pd.DataFrame(rows, columns=THEN_AND_NOW_COLUMNS)


def _ratio_of_means(rows: pd.DataFrame, second, first) -> float:
    """second's mean_after_first over first's (rows indexed by backend)."""
    return rows.loc[second, "mean_after_first"] / rows.loc[first, "mean_after_first"]


def _ratio_now(block, second, first, keys, after_first, confidence_level) -> dict:
    """This study's ratio second / first (stats.paired_ratio's keys): within blocks where the
    per-run values are given (after_first[keys]), else the ratio of the rows' means, unpaired."""
    if all(k in after_first for k in keys):
        return stats.paired_ratio(
            after_first[keys[0]], after_first[keys[1]], confidence_level=confidence_level
        )
    # no per-run values (a table built by hand): the ratio of the means
    return {
        "ratio": _ratio_of_means(block, second, first),
        "low": math.nan,
        "high": math.nan,
        "blocks": 0,
        "machines": 0,
        "paired": False,
    }


SAME_BACKEND_COLUMNS = [
    "workload",
    "backend",
    "reference",
    "then_times_fastest",
    "then_fastest",
    "source",
    "times_fastest",
    "times_fastest_low",
    "times_fastest_high",
    "fastest",
    "pairing",
    "speedup",
    "speedup_basis",
]


def same_backend(table: pd.DataFrame, comparisons: pd.DataFrame) -> pd.DataFrame:
    """Each backend that ran a workload in a reference and in this study (default
    configuration), on its own (SAME_BACKEND_COLUMNS): its time over the fastest of its day as
    shipped, then (the reference's means over the epochs after the first) and now (the "as
    shipped" comparison of `comparisons`, within blocks, with its interval; 1 where it is that
    fastest); and `speedup`, the reference's seconds per
    epoch (after the first) over this study's, where this study ran the reference's profile (the
    2017 data sizes and epochs: `full`), else NaN; `speedup_basis` says which. Hardware, Keras
    and the framework changed together between the two: the speed-up is all of them at once,
    never a backend comparison."""
    if table.empty:
        return pd.DataFrame(columns=SAME_BACKEND_COLUMNS)
    defaults = table[
        (table["config"] == "default")
        & np.isfinite(table["mean_epoch_seconds"].astype(float))
        & ~table["backend"].map(is_native)
    ]
    mine = defaults[~defaults["reference"]]
    rows = []
    for (reference, workload), ref in defaults[defaults["reference"]].groupby(
        ["source", "workload"], sort=False
    ):
        then = ref.set_index("backend")["mean_after_first"].astype(float)
        then_epochs = ref.set_index("backend")["epochs"]
        for _, row in mine[mine["workload"] == workload].iterrows():
            if row["backend"] not in then.index:
                continue
            now = _as_shipped(comparisons, row)
            full = str(row["profile"]) == "full"  # every run of the row: the 2017 sizes
            if not full:
                basis = f"profile {row['profile']} here, not the reference's data and epochs"
            else:
                basis = "the same workload, data sizes and epochs"
                if _fewer(row["epochs"], then_epochs[row["backend"]]):
                    # --set epochs=N: a steady epoch is the same work, so the speed-up holds
                    basis = (
                        f"the same workload and data sizes, {int(row['epochs'])} epochs here "
                        f"against {int(then_epochs[row['backend']])}"
                    )
                if row["data_source"] == "generated":
                    basis += "; generated data of that size here"
            rows.append(
                {
                    "workload": workload,
                    "backend": row["backend"],
                    "reference": reference,
                    "then_times_fastest": then[row["backend"]] / then.min(),
                    "then_fastest": then.idxmin(),
                    "source": row["source"],
                    **now,
                    "speedup": then[row["backend"]] / float(row["mean_epoch_seconds"])
                    if full
                    else math.nan,
                    "speedup_basis": basis,
                }
            )
    return pd.DataFrame(rows, columns=SAME_BACKEND_COLUMNS)


def _fewer(here, then) -> bool:
    """True where this study's row trained fewer epochs than the reference's (both known)."""
    try:
        return int(here) < int(then)
    except (TypeError, ValueError):
        return False


def _as_shipped(comparisons: pd.DataFrame, row) -> dict:
    """times_fastest, its low and high, fastest and pairing of a default row against the
    fastest as shipped of its workload (the "as shipped" comparisons); 1 where it is that
    fastest, NaN where neither."""
    me = f"{row['backend']} default"
    mine = comparisons[
        (comparisons["source"] == row["source"])
        & (comparisons["workload"] == row["workload"])
        & (comparisons["kind"] == "as shipped")
    ]
    hit = mine[mine["numerator"] == me]
    if len(hit):
        c = hit.iloc[0]
        return {
            "times_fastest": c["ratio"],
            "times_fastest_low": c["low"],
            "times_fastest_high": c["high"],
            "fastest": c["denominator"],
            "pairing": c["pairing"],
        }
    fastest = (mine["denominator"] == me).any() or len(mine) == 0
    return {
        "times_fastest": 1.0 if fastest else math.nan,
        "times_fastest_low": math.nan,
        "times_fastest_high": math.nan,
        "fastest": me if fastest else None,
        "pairing": None,
    }
