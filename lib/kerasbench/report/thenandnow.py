"""Then and now: each reference's ratio between two backends beside this study's, per workload.

Host side only (pandas, never Keras). The 2017 comparison is made through ratios, never seconds
on today's axis, and both sides through the means over the epochs after the first, so the 2017
warm-up does not weigh on one side only; this study's ratio is within blocks (ratios.py).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kerasbench.report import stats
from kerasbench.report.naming import is_native
from kerasbench.report.ratios import comparison, pairing_text


def then_and_now(
    table: pd.DataFrame,
    after_first: dict | None = None,
    confidence_level: float = 0.95,
    comparisons: list | None = None,
) -> pd.DataFrame:
    """Each reference's ratio between two backends beside this study's, per workload: the 2017
    comparison is made through ratios, never seconds on today's axis.

    For every pair of backends a reference ran (default configuration) that this study also ran:
    columns workload, numerator, denominator, reference, reference_ratio, source, ratio, low,
    high, pairing, runs ("1 / 3": the runs of each side). Both ratios are of the means over the
    epochs after the first (mean_after_first), so the 2017 warm-up does not weigh on one side
    only; this study's is within blocks (after_first: GROUP key -> {block: mean_after_first},
    stats.paired_ratio), and the ratio of the two rows' means where they share no block.
    """
    columns = [
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
    if table.empty:
        return pd.DataFrame(columns=columns)
    after_first = after_first or {}
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
        ours = mine[mine["workload"] == workload]
        theirs = ref.set_index("backend")
        for this_source, block in ours.groupby("source", sort=False):
            block = block.set_index("backend")
            backends = [b for b in theirs.index if b in block.index]
            for i, first in enumerate(backends):
                for second in backends[i + 1 :]:
                    keys = [(this_source, workload, b, "default") for b in (second, first)]
                    if all(k in after_first for k in keys):
                        result = stats.paired_ratio(
                            after_first[keys[0]],
                            after_first[keys[1]],
                            confidence_level=confidence_level,
                        )
                    else:  # no per-run values (a table built by hand): the ratio of the means
                        result = {
                            "ratio": block.loc[second, "mean_after_first"]
                            / block.loc[first, "mean_after_first"],
                            "low": math.nan,
                            "high": math.nan,
                            "blocks": 0,
                            "machines": 0,
                            "paired": False,
                        }
                    if comparisons is not None:
                        comparisons.append(
                            comparison(
                                this_source,
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
                            "reference": source,
                            "reference_ratio": (
                                theirs.loc[second, "mean_after_first"]
                                / theirs.loc[first, "mean_after_first"]
                            ),
                            "source": this_source,
                            "ratio": result["ratio"],
                            "low": result["low"],
                            "high": result["high"],
                            "pairing": pairing_text(
                                result["blocks"], result["machines"], result["paired"]
                            ),
                            "runs": f"{int(block.loc[second, 'runs'])} / {int(block.loc[first, 'runs'])}",
                        }
                    )
    return pd.DataFrame(rows, columns=columns)
