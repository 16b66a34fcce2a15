"""What the report says in words: the verdict per workload, what makes a cell not comparable,
the handicaps beside each workload's charts, and the coverage sentence of the Method section.

Functions over the summary table (summary.SUMMARY_COLUMNS); no statistics are computed here.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from kerasbench.report import rundata, stats


def fmt(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}g}"


# Without an interval, a runner-up within this fraction of the fastest is not called slower.
CLOSE = 0.05


def label(row) -> str:
    """'jax tuned': backend and configuration, the name every table and legend uses."""
    return f"{row['backend']} {row['config']}"


def is_generated(row) -> bool:
    return "generated" in str(row.get("data_source") or "").split(" / ")


def caveats(row, block: pd.DataFrame | None = None) -> list:
    """Why a row of the verdict table is not a plain comparable result (short phrases)."""
    out = []
    if row["runs"] == 0:
        return ["no run finished ok"]
    if rundata.is_patched(row.get("config")):
        out.append("patched Keras (not as shipped)")
    if is_generated(row):
        out.append("generated data: time only")
    elif "subset" in str(row.get("data_source") or ""):
        out.append("data subset")
    if block is not None:
        profiles = set(block["profile"].dropna())
        if len(profiles) > 1:
            out.append(f"profile {row['profile']} (others differ)")
    if row["runs"] < stats.MIN_RUNS:
        out.append(f"{int(row['runs'])} run{'s' * int(row['runs'] != 1)}: no interval")
    if any(
        str(m).startswith(rundata.CPU_ONLY)
        for m in str(row.get("machine_names") or "").split(" / ")
    ):
        out.append("trained on the CPU")
    if row.get("machines", 0) and row["machines"] > 1:
        out.append(f"runs on {int(row['machines'])} machines")
    if row.get("not_learning_runs", 0):
        out.append("did not learn")
    if row.get("not_ok_runs", 0):
        out.append(f"{int(row['not_ok_runs'])} not ok")
    if not math.isfinite(row["mean_epoch_seconds"]):
        out.append("one epoch: no steady time")
    return out


def _times(row) -> str:
    value = f"{row['times_fastest']:.2f}×"
    if math.isfinite(row.get("times_fastest_low", math.nan)):
        value += f" [{row['times_fastest_low']:.2f}, {row['times_fastest_high']:.2f}]"
    return value


def verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """One sentence per (source, workload) of this study's results (references excluded).

    Columns: source, workload, fastest (the label to print in bold), text (the sentence after it),
    named (the labels the sentence names: fastest, runner-up, slowest).
    """
    rows = []
    mine = (
        table[~table["reference"] & ~table["backend"].map(rundata.is_native)]
        if not table.empty
        else table
    )
    for (source, workload), block in mine.groupby(["source", "workload"], sort=False):
        timed = block[np.isfinite(block["times_fastest"].astype(float))]
        if timed.empty:
            rows.append(
                {
                    "source": source,
                    "workload": workload,
                    "fastest": None,
                    "text": "No run finished with a steady epoch: no verdict.",
                    "named": (),
                }
            )
            continue
        # The fastest is Keras as shipped (summary._add_speedups); a patched Keras keeps its
        # ratio in its row, outside the sentence.
        shipped = timed[~timed["config"].map(rundata.is_patched)]
        timed = shipped if not shipped.empty else timed
        best = timed.loc[timed["times_fastest"].idxmin()]
        others = timed.drop(index=best.name).sort_values("times_fastest")
        parts = [f"is fastest at {fmt(best['mean_epoch_seconds'])} s/epoch"]
        named = [label(best)] + [label(others.iloc[i]) for i in (0, -1) if len(others)]
        if not others.empty:
            runner = others.iloc[0]
            tied = math.isfinite(runner["times_fastest_low"]) and runner["times_fastest_low"] <= 1.0
            close = (
                not math.isfinite(runner["times_fastest_low"])
                and runner["times_fastest"] < 1 + CLOSE
            )
            if tied:
                parts.append(
                    f"but {label(runner)} ({_times(runner)}) is not distinguishable "
                    "from it: its interval includes 1"
                )
            elif close:
                parts.append(
                    f"{label(runner)} is within {CLOSE:.0%} ({_times(runner)}), too close "
                    "to call without an interval"
                )
            else:
                parts.append(f"{label(runner)} takes {_times(runner)} as long")
            if len(others) > 1:
                slowest = others.iloc[-1]
                parts.append(f"the slowest, {label(slowest)}, {_times(slowest)}")
        if block.apply(is_generated, axis=1).any():
            parts.append("accuracy not compared (generated data)")
        else:
            finals = timed["final_metric"].astype(float)
            finals = finals[np.isfinite(finals)]
            if finals.size:
                what = "final training loss" if rundata.is_text_model(workload) else "test accuracy"
                digits = 4
                low, high = f"{finals.min():.{digits}f}", f"{finals.max():.{digits}f}"
                parts.append(
                    f"{what} {low}–{high} across them" if low != high else f"{what} {low} for all"
                )
        bad = timed[timed["not_learning_runs"] > 0]
        if not bad.empty:
            parts.append("did not learn: " + ", ".join(label(r) for _, r in bad.iterrows()))
        n = sorted({int(v) for v in timed["runs"]})
        runs = f"{n[0]}" if len(n) == 1 else f"{n[0]}–{n[-1]}"
        parts.append(
            f"{runs} run{'s' * (n[-1] != 1)} each"
            + ("" if n[0] >= stats.MIN_RUNS else ", so no interval")
        )
        rows.append(
            {
                "source": source,
                "workload": workload,
                "fastest": label(best),
                "text": "; ".join(parts) + ".",
                "named": tuple(dict.fromkeys(named)),
            }
        )
    return pd.DataFrame(rows, columns=["source", "workload", "fastest", "text", "named"])


def coverage_sentences(coverage: dict, confidence_level: float) -> list:
    """'3 runs: a nominal 95% interval covers the true mean 75% of the time (simulated).'"""
    return [
        f"{n} runs (or pairs): a nominal {confidence_level:.0%} percentile interval covered the "
        f"true mean in {value:.0%} of simulated studies (normal noise)."
        for n, value in sorted(coverage.items())
    ]


def _apart(defaults: pd.DataFrame) -> list:
    """A sentence for each pair of backends whose `default` runs share no machine: their ratio is
    then measured across machines, not side by side, and carries any difference between them."""
    machines = {
        label(row): set(str(row["machine_names"]).split(" / "))
        for _, row in defaults.iterrows()
        if row["runs"] and isinstance(row["machine_names"], str)
    }
    names = list(machines)
    return [
        f"{a} and {b} ran on different machines (no machine ran both): their ratio includes "
        "any difference between the machines, which these runs cannot separate."
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if not machines[a] & machines[b]
    ]


def notes(table: pd.DataFrame, study: rundata.Study) -> pd.DataFrame:
    """Handicaps to state beside each workload's charts: columns workload, source, backends, note.

    One row per distinct statement; `backends` lists the rows (backend config) it concerns
    (None: the whole workload or source) and `note` is the sentence to print, prefixed with them.
    """
    found: dict[tuple, list] = {}

    def add(workload, source, text, who=None):
        whom = found.setdefault((workload, source, text), [])
        if who is not None and who not in whom:
            whom.append(who)

    runs = study.runs
    not_ok: dict[tuple, Counter] = {}
    for run in runs[~runs["ok"]].itertuples(index=False):
        not_ok.setdefault((run.source, run.workload, run.backend, run.config), Counter())[
            run.status
        ] += 1
    references = {s.label: s for s in study.sources if s.reference}
    for workload, block in table.groupby("workload", sort=False):
        if rundata.is_text_model(workload):
            add(
                workload,
                None,
                "Text model: no test set, so the metric is the final training loss "
                f"({rundata.metric_name(workload)}); lower is better.",
            )
        if block["reference"].all():
            add(
                workload,
                None,
                "No runs of this workload in the runs folder: the reference numbers only.",
            )
    for (workload, source), block in table[~table["reference"]].groupby(
        ["workload", "source"], sort=False
    ):
        for text in _apart(block[block["config"] == "default"]):
            add(workload, source, text)
    for _, row in table.iterrows():
        workload, source, who = row["workload"], row["source"], label(row)
        if row["reference"]:
            ref = references.get(source)
            add(
                workload,
                source,
                f"{source}: one run per backend"
                + (f" on {ref.hardware}" if ref and ref.hardware else "")
                + "; its mean includes the first epoch, as that study computed it "
                "(the first-epoch-apart mean is in summary.csv, mean_after_first); no interval.",
            )
            continue
        statuses = not_ok.get((source, workload, row["backend"], row["config"]), Counter())
        if statuses:
            detail = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
            add(
                workload,
                source,
                f"{sum(statuses.values())} run(s) left out ({detail}; see the failed runs table).",
                who,
            )
        if row["runs"] == 0:
            add(workload, source, "no run finished ok, so no statistics.", who)
            continue
        if is_generated(row):
            add(
                workload,
                source,
                "trained on generated data (the real dataset was not "
                "available): the accuracy is not a result and is not drawn; only the time per "
                "epoch is.",
                who,
            )
        elif "subset" in str(row["data_source"] or ""):
            add(
                workload,
                source,
                "trained on a subset of the data: accuracy and time per epoch "
                "are not comparable with 2017.",
                who,
            )
        if (
            row["profile"]
            and not rundata.is_native(row["backend"])
            and "full" not in str(row["profile"]).split(" / ")
        ):
            add(
                workload,
                source,
                f"profile {row['profile']} (fewer epochs or less data than 2017): "
                "the final metric is not comparable with 2017.",
                who,
            )
        if row["runs"] < stats.MIN_RUNS:
            add(
                workload,
                source,
                f"{int(row['runs'])} run(s): no confidence interval (it takes "
                f"{stats.MIN_RUNS}); the grey whisker is the spread of the steady epochs within "
                "the run(s), not an interval.",
                who,
            )
        if row["machines"] > 1:
            add(
                workload,
                source,
                f"its {int(row['runs'])} runs come from {int(row['machines'])} "
                f"different machines ({row['machine_names']}): the spread includes the machines.",
                who,
            )
        if row["not_learning_runs"]:
            add(
                workload,
                source,
                f"the training loss did not go down in {int(row['not_learning_runs'])} "
                f"of {int(row['runs'])} run(s) (it diverged or stuck): this backend did not learn the "
                "model as the others did; see its curve and generated text.",
                who,
            )
        if not math.isfinite(row["mean_epoch_seconds"]):
            add(
                workload,
                source,
                "only one epoch logged, so no steady-state time (epoch 0 is warm-up).",
                who,
            )
    logged = (
        set(zip(table["source"], table["workload"], table["backend"])) if not table.empty else set()
    )
    for run in runs[~runs["ok"]].itertuples(index=False):
        if (run.source, run.workload, run.backend) not in logged:
            add(
                run.workload,
                run.source,
                f"run {run.run_id} ended with status {run.status} before logging an epoch.",
                f"{run.backend} {run.config}",
            )
    everyone = {}
    for (workload, source), block in table.groupby(["workload", "source"], sort=False):
        everyone[(workload, source)] = {label(r) for _, r in block.iterrows()}
    rows = []
    for (workload, source, text), whom in found.items():
        if whom and set(whom) >= everyone.get((workload, source), {None}) and len(whom) > 1:
            prefix = "all rows"
        else:
            prefix = ", ".join(whom)
        rows.append(
            {
                "workload": workload,
                "source": source,
                "backends": ", ".join(whom) if whom else None,
                "note": f"{prefix}: {text}" if whom else text,
            }
        )
    return pd.DataFrame(rows, columns=["workload", "source", "backends", "note"])
