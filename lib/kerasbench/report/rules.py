"""What the page shows of a summary, decided once: which rows are this study's, what a row is
called, and (below) the caveats that make a row not a plain comparable result, each stated once
as a short phrase (the verdict table) and as a sentence (beside the workload's charts).

Functions over the summary table (summary.SUMMARY_COLUMNS) and the summary; no statistics and
no HTML here: `notes` words them, `tables`, `figures` and `sections` draw them.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd

from kerasbench.report import stats
from kerasbench.report import machines
from kerasbench.report import naming


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
    return table[~table["backend"].map(naming.is_native)]


def verdict_of(summary, source, workload) -> pd.DataFrame:
    """The verdicts row of one source's workload (empty where it has none)."""
    v = summary.verdicts
    return v[(v["source"] == source) & (v["workload"] == workload)]


def device_words(device, trained=None) -> str | None:
    """What one run trained on, its kind said: 'NVIDIA H200 GPU', '2-core AMD EPYC CPU' (a GPU
    host's CPU where the run trained on it); None where run.json says nothing."""
    device = device if isinstance(device, dict) else {}
    if device.get("gpu") and not machines.trained_on_cpu_of_gpu_host(trained, device):
        name = str(device["gpu"])
        return name if "GPU" in name.upper() else f"{name} GPU"
    name = device.get("cpu")
    if not name:
        return None
    cores = device.get("cores")
    name = f"{cores}-core {name}" if cores else str(name)
    return name if "CPU" in name.upper() else f"{name} CPU"


def hardware_kind(words) -> str | None:
    """'GPU' or 'CPU' as a hardware description names it (a reference's source.yaml), else None."""
    text = str(words or "").upper()
    kinds = [k for k in ("GPU", "CPU") if k in text]
    return kinds[0] if len(kinds) == 1 else None


def study_hardware(runs: pd.DataFrame, source, workload, backends, config="default") -> str:
    """What this study's ok runs of a workload's backends trained on: '2-core AMD EPYC CPU',
    'NVIDIA H200 GPU' (distinct ones joined by ' / ')."""
    hit = runs[
        (runs["source"] == source)
        & (runs["workload"] == workload)
        & runs["backend"].isin(list(backends))
        & (runs["config"] == config)
        & runs["ok"].astype(bool)
    ]
    words = (device_words(d, t) for d, t in zip(hit["device"], hit["trained_on"]))
    return " / ".join(dict.fromkeys(w for w in words if w)) or "hardware not recorded"


def beside_reference(table: pd.DataFrame, workload, reference) -> bool:
    """Whether a reference's curves may share axes with this study's for a workload: only where
    every Keras row of this study that ran it ran the reference's profile (the full one) for the
    reference's number of epochs; a quick study's 3 epochs on a subset are no 2017 curve."""
    rows = table[(table["workload"] == workload) & (table["runs"] > 0)]
    ref = rows[rows["reference"] & (rows["source"] == reference)]
    study = rows[~rows["reference"] & ~rows["backend"].map(naming.is_native)]
    if ref.empty or study.empty:
        return False
    full = all(set(str(p).split(" / ")) == {"full"} for p in study["profile"])
    return full and set(study["epochs"].astype(int)) == {int(ref["epochs"].max())}


# ---------------------------------------------------------------------------------------------
# Caveats: what makes a row not a plain comparable result


class Seen(NamedTuple):
    """What a rule may look at beside its row: the rows of its workload in its source (the
    verdict table's caveats) and the statuses of its runs that are not ok, from the run index,
    runs that logged no epoch included (the notes)."""

    block: pd.DataFrame | None = None
    left_out: Counter | None = None


class Caveat(NamedTuple):
    """One rule, said two ways: `phrase` in the verdict table, `sentence` beside the workload's
    charts (None: not said there). `final`: where it applies, no rule after it is said."""

    name: str
    applies: Callable
    phrase: Callable | None
    sentence: Callable | None
    final: bool = False


def _runs(row) -> int:
    return int(row["runs"])


def _left_out(row, seen: Seen) -> int:
    """The row's runs that are not ok: from the run index where the notes have it."""
    if seen.left_out is not None:
        return sum(seen.left_out.values())
    return int(row.get("not_ok_runs", 0) or 0)


def _on_cpu(row) -> bool:
    names = str(row.get("machine_names") or "").split(" / ")
    return any(str(m).startswith(machines.CPU_ONLY) for m in names)


def _subset(row) -> bool:
    return not is_generated(row) and "subset" in str(row.get("data_source") or "")


def _profiles_differ(row, seen: Seen) -> bool:
    return seen.block is not None and len(set(seen.block["profile"].dropna())) > 1


def _not_full(row) -> bool:
    profile = row.get("profile")
    return (
        bool(profile)
        and not naming.is_native(row["backend"])
        and ("full" not in str(profile).split(" / "))
    )


def _left_out_sentence(row, seen: Seen) -> str:
    detail = ", ".join(f"{n} {status}" for status, n in sorted(seen.left_out.items()))
    return f"{_left_out(row, seen)} run(s) left out ({detail}; see the failed runs table)."


# In the verdict table's order; the notes say LEFT_OUT first (the runs left out are said even
# where no run finished ok).
CAVEATS = (
    Caveat(
        "no run",
        lambda r, s: _runs(r) == 0,
        lambda r, s: "no run finished ok",
        lambda r, s: "no run finished ok, so no statistics.",
        final=True,
    ),
    Caveat(
        "patched",
        lambda r, s: naming.is_patched(r.get("config")),
        lambda r, s: "patched Keras (not as shipped)",
        None,
    ),
    Caveat(
        "generated",
        lambda r, s: is_generated(r),
        lambda r, s: "generated data: time only",
        lambda r, s: (
            "trained on generated data (the real dataset was not available): the "
            "accuracy is not a result and is not drawn; only the time per epoch is."
        ),
    ),
    Caveat(
        "subset",
        lambda r, s: _subset(r),
        lambda r, s: "data subset",
        lambda r, s: (
            "trained on a subset of the data: accuracy and time per epoch are not "
            "comparable with 2017."
        ),
    ),
    Caveat(
        "profiles differ",
        _profiles_differ,
        lambda r, s: f"profile {r['profile']} (others differ)",
        None,
    ),
    Caveat(
        "not the full profile",
        lambda r, s: _not_full(r),
        None,
        lambda r, s: (
            f"profile {r['profile']} (fewer epochs or less data than 2017): the final "
            "metric is not comparable with 2017."
        ),
    ),
    Caveat(
        "few runs",
        lambda r, s: _runs(r) < stats.MIN_RUNS,
        lambda r, s: f"{_runs(r)} run{'s' * (_runs(r) != 1)}: no interval",
        lambda r, s: (
            f"{_runs(r)} run(s): no confidence interval (it takes {stats.MIN_RUNS}); "
            "the grey whisker is the spread of the steady epochs within the run(s), not an interval."
        ),
    ),
    Caveat(
        "cpu",
        lambda r, s: _on_cpu(r),
        lambda r, s: "trained on the CPU",
        None,
    ),
    Caveat(
        "machines",
        lambda r, s: bool(r.get("machines", 0)) and r["machines"] > 1,
        lambda r, s: f"runs on {int(r['machines'])} machines",
        lambda r, s: (
            f"its {_runs(r)} runs come from {int(r['machines'])} different machines "
            f"({r['machine_names']}): the spread includes the machines."
        ),
    ),
    Caveat(
        "did not learn",
        lambda r, s: bool(r.get("not_learning_runs", 0)),
        lambda r, s: "did not learn",
        lambda r, s: (
            f"the training loss did not go down in {int(r['not_learning_runs'])} of "
            f"{_runs(r)} run(s) (it diverged or stuck): this backend did not learn the model as the "
            "others did; see its curve and generated text."
        ),
    ),
    Caveat(
        "left out",
        lambda r, s: _left_out(r, s) > 0,
        lambda r, s: f"{_left_out(r, s)} not ok",
        _left_out_sentence,
    ),
    Caveat(
        "one epoch",
        lambda r, s: not math.isfinite(r["mean_epoch_seconds"]),
        lambda r, s: "one epoch: no steady time",
        lambda r, s: "only one epoch logged, so no steady-state time (epoch 0 is warm-up).",
    ),
)
LEFT_OUT = next(c for c in CAVEATS if c.name == "left out")


FEW_RUNS = next(c for c in CAVEATS if c.name == "few runs")


def _said(row, seen: Seen, rules, how: str) -> list:
    """[(rule, what it says)] for the rules that apply, said `how` ("phrase" or "sentence")."""
    out = []
    for rule in rules:
        say = getattr(rule, how)
        if say is None or not rule.applies(row, seen):
            continue
        out.append((rule, say(row, seen)))
        if rule.final:
            break
    return out


def caveats(row, block: pd.DataFrame | None = None) -> list:
    """Why a row of the verdict table is not a plain comparable result (short phrases); block:
    the rows of its workload in its source."""
    return [text for _, text in _said(row, Seen(block=block), CAVEATS, "phrase")]


def sentences(row, left_out: Counter) -> list:
    """The same rules as sentences, for the notes beside a workload's charts (the row's runs
    that are not ok first, by status: left_out)."""
    rules = (LEFT_OUT, *(c for c in CAVEATS if c is not LEFT_OUT))
    return [text for _, text in _said(row, Seen(left_out=left_out), rules, "sentence")]


# ---------------------------------------------------------------------------------------------
# The verdict table: which rows, and where each caveat is said


class VerdictLayout(NamedTuple):
    """One source's verdict table: `rows` shown (summary table rows), `hidden` lever rows per
    workload, `no_interval` (no row has MIN_RUNS runs: said once, in the caption), the caveats
    every row shares (`common`: the caption), those every row of a workload shares (`shared`:
    its verdict row) and each row's own (`own`: the caveat column, there only where `per_row`)."""

    rows: pd.DataFrame
    hidden: pd.Series
    no_interval: bool
    common: list
    shared: dict
    own: dict
    per_row: bool


def _shown(summary, source, block: pd.DataFrame) -> list:
    """Issue 15's lever rows only where the verdict names one; the rest wait in "All rows"."""
    verdicts = summary.verdicts
    named = {
        (v["workload"], n)
        for _, v in verdicts[verdicts["source"] == source].iterrows()
        for n in v["named"]
    }
    return [
        not naming.is_lever(row["config"]) or (row["workload"], label(row)) in named
        for _, row in block.iterrows()
    ]


def verdict_layout(summary, source, block: pd.DataFrame) -> VerdictLayout:
    """Which of one source's Keras rows the verdict table shows and where each caveat goes: a
    caveat of every row to the caption, of every row of a workload to its verdict row, the rest
    to the row (fewer than MIN_RUNS runs everywhere: said once, not per row)."""
    said = {
        i: _said(row, Seen(block=block[block["workload"] == row["workload"]]), CAVEATS, "phrase")
        for i, row in block.iterrows()
    }
    shown = _shown(summary, source, block)
    hidden = block[[not s for s in shown]].groupby("workload", sort=False).size()
    block = block[shown]
    no_interval = not (block["runs"] >= stats.MIN_RUNS).any()
    caveats = {
        i: [text for rule, text in said[i] if not (no_interval and rule is FEW_RUNS)]
        for i in block.index
    }
    common = [c for c in next(iter(caveats.values())) if all(c in v for v in caveats.values())]
    shared = {}
    for workload, rows in block.groupby("workload", sort=False):
        shared[workload] = [
            c
            for c in caveats[rows.index[0]]
            if c not in common and len(rows) > 1 and all(c in caveats[i] for i in rows.index)
        ]
    own = {
        i: [c for c in v if c not in common and c not in shared[block.at[i, "workload"]]]
        for i, v in caveats.items()
    }
    return VerdictLayout(
        block, hidden, no_interval, common, shared, own, any(v for v in own.values())
    )
