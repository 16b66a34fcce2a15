"""How noisy this study's runs are, and what "too close to call" measures its ratios against.

Host side only (pandas, never Keras). `spread` measures the noise as stats' constants were
measured on the H200 (between runs of a cell on one machine; between blocks of two rows);
`noise` picks, per source, the standard deviation of a per-block log ratio that
stats.noise_threshold uses, and says where it comes from.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kerasbench.report import stats
from kerasbench.report.naming import is_native
from kerasbench.report.ratios import blocks_of
from kerasbench.report.runstats import GROUP


def spread(per_run: pd.DataFrame) -> dict:
    """The noise of this study's Keras runs (references and native loops left out), as the
    constants in stats are measured:

    - sd_run, df_run: between-run standard deviation of the log run mean within a cell (source,
      workload, backend, configuration) on one machine, pooled over cells with 2+ runs there;
    - sd_ratio, df_ratio, ratio_pairs: standard deviation of the per-block log ratio between two
      rows of one workload, pooled over the pairs of rows that share MIN_RUNS or more blocks
      (ratio_pairs: how many pairs).
    NaN and 0 where there is nothing to measure.
    """
    runs = per_run[
        per_run["ok"]
        & ~per_run["reference"].astype(bool)
        & ~per_run["backend"].map(is_native)
        & np.isfinite(per_run["mean_epoch_seconds"].astype(float))
        & (per_run["mean_epoch_seconds"].astype(float) > 0)
    ]
    cells = [
        np.log(g["mean_epoch_seconds"].to_numpy(dtype=float))
        for _, g in runs.dropna(subset=["machine"]).groupby(GROUP + ["machine"], sort=False)
    ]
    sd_run, df_run = stats.pooled_sd(cells)
    groups, pairs = [], 0
    for _, workload in runs.groupby(["source", "workload"], sort=False):
        rows = {
            key: blocks_of(g)
            for key, g in workload.groupby(["backend", "config"], sort=False, dropna=False)
        }
        keys = list(rows)
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                ratios = stats.block_ratios(rows[a], rows[b])
                if ratios.size >= stats.MIN_RUNS:
                    groups.append(np.log(ratios))
                    pairs += 1
    sd_ratio, df_ratio = stats.pooled_sd(groups)
    return {
        "sd_run": sd_run,
        "df_run": df_run,
        "sd_ratio": sd_ratio,
        "df_ratio": df_ratio,
        "ratio_pairs": pairs,
    }


def noise(per_run: pd.DataFrame) -> dict:
    """Per source of this study: the standard deviation of a per-block log ratio that the "too
    close to call" threshold uses (`stats.noise_threshold`), and where it comes from.

    Preferred: measured between blocks, pooled over this source's pairs of rows with 3+ blocks.
    Else the between-run spread of a cell on one machine times sqrt(2) (a ratio of two runs
    carries the noise of both). Else the H200's measurement (stats.SD_RATIO_LOG).
    Returns {source: {"sd", "df", "basis"}}.
    """
    out = {}
    mine = per_run[~per_run["reference"].astype(bool)]
    for source, runs in mine.groupby("source", sort=False):
        s = spread(runs)
        if s["df_ratio"]:
            out[source] = {
                "sd": s["sd_ratio"],
                "df": s["df_ratio"],
                "basis": (
                    f"the standard deviation of per-block log ratios, pooled over the "
                    f"{s['ratio_pairs']} pair{'s' * (s['ratio_pairs'] != 1)} of rows with "
                    f"{stats.MIN_RUNS} or more blocks in this study ({s['df_ratio']} degrees of "
                    "freedom)"
                ),
            }
        elif s["df_run"]:
            out[source] = {
                "sd": s["sd_run"] * math.sqrt(2),
                "df": s["df_run"],
                "basis": (
                    "no two rows share 3 blocks here: the between-run standard deviation of a "
                    "cell's log run means on one machine, pooled over this study's cells "
                    f"({s['df_run']} degrees of freedom), times √2 for a ratio of two runs"
                ),
            }
        else:
            out[source] = {
                "sd": stats.SD_RATIO_LOG,
                "df": 0,
                "basis": (
                    "nothing here to measure it from (no two rows share 3 blocks, no cell ran "
                    "twice on one machine): the H200's per-block log ratios (stats.SD_RATIO_LOG)"
                ),
            }
    return out
