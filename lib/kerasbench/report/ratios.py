"""Ratios between rows of the summary, within blocks: times the fastest, times the floor, and
every comparison the report shows.

Host side only (pandas, never Keras). A block is one repeat of a workload on one machine
(machines.machine_id); `blocks_of` keys a row's ok runs by block. Every ratio is the
geometric mean of within-block ratios (`stats.paired_ratio`), with an interval from 3 blocks;
rows that share no block get the ratio of their means, paired False, no interval, which
`pairing_text` says. The fastest row is picked by paired evidence only (`stats.pick_fastest`):
`add_speedups` fills times_fastest (all Keras configurations as shipped together) and the first
screen's comparisons, `add_floor` times_floor (the fastest native loop); each comparison is a
row of COMPARISON_COLUMNS, each pick one of RANKING_COLUMNS.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kerasbench.report import stats
from kerasbench.report.naming import is_native, is_patched
from kerasbench.report.runstats import GROUP

COMPARISON_COLUMNS = [
    "source",
    "workload",
    "kind",
    "numerator",
    "denominator",
    "ratio",
    "low",
    "high",
    "blocks",
    "machines",
    "paired",
    "pairing",
]
RANKING_COLUMNS = ["source", "workload", "among", "fastest", "decided", "contenders", "paired"]


def blocks_of(runs: pd.DataFrame, column: str = "mean_epoch_seconds") -> dict:
    """{(repeat, machine): value} of one row's ok runs (a run without a recorded machine keys
    (repeat, None), which pairs with nothing); two runs in one block: their geometric mean."""
    found: dict = {}
    for repeat, machine, value in zip(runs["repeat"], runs["machine"], runs[column]):
        if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
            key = (repeat, machine if isinstance(machine, str) and machine else None)
            found.setdefault(key, []).append(float(value))
    # exp(log v) of one value, as stats.geometric_mean computes it, in one call for all blocks
    single = [k for k, v in found.items() if len(v) == 1]
    values = np.exp(np.log(np.array([found[k][0] for k in single], dtype=float)))
    blocks = {k: float(v) for k, v in zip(single, values)}
    blocks.update({k: stats.geometric_mean(v) for k, v in found.items() if len(v) > 1})
    return {k: blocks[k] for k in found}


def pairing_text(blocks, machines, paired) -> str:
    """'3 blocks on 2 machines', '1 block', or 'across machines, not paired'."""
    if not paired:
        return "across machines, not paired"
    blocks, machines = int(blocks), int(machines)
    text = f"{blocks} block{'s' * (blocks != 1)}"
    return text + (f" on {machines} machines" if machines > 1 else "")


def row_label(row) -> str:
    return f"{row['backend']} {row['config']}"


def comparison(source, workload, kind, numerator, denominator, result) -> dict:
    return {
        "source": source,
        "workload": workload,
        "kind": kind,
        "numerator": numerator,
        "denominator": denominator,
        "ratio": result["ratio"],
        "low": result["low"],
        "high": result["high"],
        "blocks": result["blocks"],
        "machines": result["machines"],
        "paired": result["paired"],
        "pairing": pairing_text(result["blocks"], result["machines"], result["paired"]),
    }


def rank(source, workload, among, rows: pd.DataFrame, blocks) -> dict:
    labels = {row_label(r): tuple(r[GROUP]) for _, r in rows.iterrows()}
    pick = stats.pick_fastest(
        {label: blocks[key] for label, key in labels.items()},
        {row_label(r): float(r["mean_epoch_seconds"]) for _, r in rows.iterrows()},
    )
    return {"source": source, "workload": workload, "among": among, **pick}


# Where a row's ratio (stats.paired_ratio) goes in the summary table: times the fastest, the floor.
FASTEST_CELLS = {
    "ratio": "times_fastest",
    "low": "times_fastest_low",
    "high": "times_fastest_high",
    "blocks": "pairs",
    "paired": "paired",
    "pairing": "pairing",
}
FLOOR_CELLS = {
    "ratio": "times_floor",
    "low": "times_floor_low",
    "high": "times_floor_high",
    "blocks": "floor_pairs",
    "pairing": "floor_pairing",
}


def add_speedups(table, blocks, confidence_level, comparisons, rankings):
    """times_fastest per (source, workload), all Keras configurations together, within blocks;
    the first screen's comparisons among the `default` rows (report.grid) and the speed-up of the
    fastest over its backend's default (the Method section)."""
    timed = np.isfinite(table["mean_epoch_seconds"].astype(float)) & ~table["backend"].map(
        is_native
    )
    for (source, workload), group in table[timed].groupby(["source", "workload"], sort=False):
        shipped = group[~group["config"].map(is_patched)]
        candidates = shipped if not shipped.empty else group
        ranking = rank(source, workload, "configurations", candidates, blocks)
        rankings.append(ranking)
        best = _picked(group, ranking)
        for i, row in group.iterrows():
            table.at[i, "fastest"] = ranking["fastest"]
            table.at[i, "fastest_decided"] = ranking["decided"]
            if i == best.name:
                # The fastest against itself is 1 by definition, not an estimate.
                table.at[i, "times_fastest"] = 1.0
                table.at[i, "pairing"] = "fastest"
                continue
            result = _paired(row, best, blocks, confidence_level)
            _put(table, i, FASTEST_CELLS, result)
            comparisons.append(
                comparison(
                    source, workload, "× fastest", row_label(row), ranking["fastest"], result
                )
            )
        own_default = group[(group["backend"] == best["backend"]) & (group["config"] == "default")]
        if best["config"] != "default" and not own_default.empty:
            default = own_default.iloc[0]
            result = _paired(default, best, blocks, confidence_level)
            comparisons.append(
                comparison(
                    source, workload, "over default", row_label(default), ranking["fastest"], result
                )
            )
        defaults = group[group["config"] == "default"]
        if not defaults.empty:
            _as_shipped(source, workload, defaults, blocks, confidence_level, comparisons, rankings)


def _as_shipped(source, workload, defaults, blocks, confidence_level, comparisons, rankings):
    """The first screen's comparisons: each `default` row against the fastest of them."""
    ranking = rank(source, workload, "default", defaults, blocks)
    rankings.append(ranking)
    first = _picked(defaults, ranking)
    for _, row in defaults.iterrows():
        if row.name == first.name:
            continue
        result = _paired(row, first, blocks, confidence_level)
        comparisons.append(
            comparison(source, workload, "as shipped", row_label(row), ranking["fastest"], result)
        )


def add_floor(table, blocks, confidence_level, comparisons, rankings):
    """Each Keras row's epoch time as a multiple of the floor: the fastest native loop of the same
    source and workload (picked like the fastest), within blocks like times_fastest."""
    finite = np.isfinite(table["mean_epoch_seconds"].astype(float))
    native = table["backend"].map(is_native)
    for (source, workload), group in table[finite].groupby(["source", "workload"], sort=False):
        natives = group[native[group.index]]
        if natives.empty:
            continue
        ranking = rank(source, workload, "floor", natives, blocks)
        rankings.append(ranking)
        floor = _picked(natives, ranking)
        for i, row in group[~native[group.index]].iterrows():
            result = _paired(row, floor, blocks, confidence_level)
            table.at[i, "floor"] = row_label(floor)
            table.at[i, "floor_seconds"] = floor["mean_epoch_seconds"]
            _put(table, i, FLOOR_CELLS, result)
            comparisons.append(
                comparison(source, workload, "× floor", row_label(row), row_label(floor), result)
            )


def _picked(rows: pd.DataFrame, ranking: dict) -> pd.Series:
    """The row of `rows` that a ranking (`rank`) names fastest."""
    return rows[rows.apply(row_label, axis=1) == ranking["fastest"]].iloc[0]


def _paired(row, other, blocks, confidence_level) -> dict:
    """How many times longer row's epochs take than other's, within blocks (stats.paired_ratio)."""
    return stats.paired_ratio(
        blocks[tuple(row[GROUP])], blocks[tuple(other[GROUP])], confidence_level=confidence_level
    )


def _put(table: pd.DataFrame, i, cells: dict, result: dict):
    """A ratio (stats.paired_ratio) into row i of the summary table, in the columns `cells` names."""
    for key, column in cells.items():
        if key == "pairing":
            table.at[i, column] = pairing_text(
                result["blocks"], result["machines"], result["paired"]
            )
        else:
            table.at[i, column] = result[key]
