"""The tidy table every loader of the report returns, and the error they raise.

Host side only (pandas, never Keras). One row per epoch: the run's identity and what its record
says (`RUN_COLUMNS`), then the `epochs.csv` columns (`EPOCH_COLUMNS`, runfiles' format), then any
other metric a model logged, sorted by name. `rundata` fills it from a runs folder, `references`
from a reference folder; `tidy` stacks such tables in the report's order (naming.sort_key). A
row's `source` is the label of where it comes from (`Source`): this study's runs, or one
reference folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kerasbench import runfiles
from kerasbench.report.naming import sort_key

EPOCH_COLUMNS = list(runfiles.COLUMNS)  # epochs.csv's leading columns: runfiles owns the format
# A run's identity: its folder's path in a runs folder (runfiles.path_identity), run_id that path.
RUN_IDENTITY = ["workload", "backend", "config", "repeat", "run_id"]
# What its record says: whether it finished well, on what data, how its mean is taken, where, and
# whether it is a timing block's (fewer epochs than its profile's: its accuracy is not reported).
RUN_FACTS = ["status", "ok", "data_source", "profile", "mean_basis", "machine", "timing_block"]
BOOL_FACTS = {"ok": bool, "reference": bool, "timing_block": bool}
RUN_COLUMNS = ["source", "reference"] + RUN_IDENTITY + RUN_FACTS

AFTER_FIRST = "epochs after the first"
ALL_EPOCHS = "all epochs (the 2017 study's method)"
UNFINISHED = "unfinished"


class RunDataError(ValueError):
    """A runs folder or file the analysis cannot read; the message is one line naming the path."""


@dataclass
class Source:
    """Where a set of results comes from: this study's runs or one reference folder."""

    label: str
    reference: bool
    hardware: str | None = None
    notes: str | None = None
    folder: str | None = None
    environment: dict = field(default_factory=dict)


def tidy(frames) -> pd.DataFrame:
    """Tidy tables stacked into one, in the report's order, columns RUN_COLUMNS + EPOCH_COLUMNS
    + any other metric sorted by name."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=object if c in RUN_COLUMNS else float)
                for c in RUN_COLUMNS + EPOCH_COLUMNS
            }
        ).astype(BOOL_FACTS)
    table = pd.concat(frames, ignore_index=True)
    if "timing_block" not in table.columns:
        table["timing_block"] = False
    table["timing_block"] = table["timing_block"].fillna(False).astype(bool)
    for column in EPOCH_COLUMNS:
        if column not in table.columns:
            table[column] = np.nan
    extra = sorted(c for c in table.columns if c not in RUN_COLUMNS + EPOCH_COLUMNS)
    table = table[RUN_COLUMNS + EPOCH_COLUMNS + extra]
    return table.sort_values(
        ["reference", "source", "workload", "backend", "config", "run_id", "epoch"],
        key=sort_key,
        ignore_index=True,
    )


def combine(*tables: pd.DataFrame) -> pd.DataFrame:
    """Tidy tables (load_runs, load_reference) stacked into one."""
    return tidy(list(tables))
