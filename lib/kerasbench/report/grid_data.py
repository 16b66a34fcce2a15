"""What the report's first screen shows, as data: the grid's cells, each backend's learning
verdict, the machines and their load, and the key findings (report.grid draws them).

Host side. A cell (`cells`): the steady seconds per epoch (epochs after the first, validation
included) and milliseconds per training step (a steady epoch's training part, train samples /
samples per second, over ceil(train samples / batch size) steps: run.json's `data.train_samples`
and `params.batch_size`), the ratio to the workload's fastest within blocks, the final metric and
the runs. In `default` the fastest and every ratio are summary's own (summary.rankings among
`default`, comparisons "as shipped"); another configuration (`tuned`, a grid of its own) is
ranked by the same functions, stats.pick_fastest and stats.paired_ratio, over its runs' blocks.
The learning verdict per cell comes from `kerasbench parity` (report.parity.learning_groups);
the load from each run's record (runfiles.load_during).
"""

from __future__ import annotations

import math
import statistics
import os
from collections import Counter

import numpy as np
import pandas as pd

from kerasbench import runfiles
from kerasbench.report import notes, parity, rundata, stats
from kerasbench.report.ratios import pairing_text
from kerasbench.report import machines
from kerasbench.report import naming

DEFAULT = runfiles.DEFAULT_CONFIG
OPTIMISED = "tuned"
LAYERS_SHOWN = 3  # layers named in a cell's learning verdict; the parity section has them all
CAUSE_CHARS = 60  # a failure's cause in a cell; the run table has all of it
MAX_FINDINGS = 4


def finite(value) -> bool:
    return isinstance(value, (int, float, np.number)) and math.isfinite(value)


def _title(workload) -> str:
    return naming.workload_title(workload)


# ---------------------------------------------------------------------------------------------
# What the runs recorded beyond summary's table: steps per epoch, machine load


def run_records(study) -> dict:
    """{run_id: run.json record} of this study's finished Keras runs (no reference, no native
    loop): what they say of their steps per epoch and of the machine's load."""
    runs = study.runs
    mine = runs[~runs["reference"].astype(bool) & runs["finished"].astype(bool)]
    mine = mine[~mine["backend"].map(naming.is_native)]
    return {
        run_id: runfiles.read_json(os.path.join(path, runfiles.RUN_JSON))
        for run_id, path in zip(mine["run_id"], mine["path"])
    }


def steps_per_epoch(record) -> tuple:
    """(train samples, steps per epoch = ceil(train samples / batch size)) from a run.json
    record; (None, None) where it records no train samples or no batch size."""
    record = record if isinstance(record, dict) else {}
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    params = record.get("params") if isinstance(record.get("params"), dict) else {}
    samples, batch = data.get("train_samples"), params.get("batch_size")
    if not (type(samples) is int and samples > 0 and type(batch) is int and batch > 0):
        return None, None
    return samples, math.ceil(samples / batch)


def ms_per_step(samples_per_second, samples, steps) -> float:
    """Milliseconds per training step: a steady epoch's training part (samples / samples per
    second) over its steps; NaN where any is unknown."""
    if not (finite(samples_per_second) and samples_per_second > 0 and samples and steps):
        return math.nan
    return 1000.0 * samples / samples_per_second / steps


# ---------------------------------------------------------------------------------------------
# The cells


def own_source(summary) -> str | None:
    return next((s.label for s in summary.study.sources if not s.reference), None)


def _own_runs(summary) -> pd.DataFrame:
    runs = summary.study.runs
    return runs[~runs["reference"].astype(bool) & ~runs["backend"].map(naming.is_native)]


def ordered(values, column) -> list:
    """values in the report's order (rundata.sort_key: registry order first)."""
    found = pd.Series(list(dict.fromkeys(values)), name=column, dtype=object)
    return list(found.sort_values(key=rundata.sort_key)) if len(found) else []


def _blocks(runs: pd.DataFrame) -> dict:
    """{(repeat, machine): seconds} of one row's ok runs, as summary pairs them (a run without
    a recorded machine pairs with nothing; two runs in one block: their geometric mean)."""
    found: dict = {}
    for ok, repeat, machine, value in zip(
        runs["ok"], runs["repeat"], runs["machine"], runs["mean_epoch_seconds"]
    ):
        if ok and finite(value) and value > 0:
            key = (repeat, machine if isinstance(machine, str) and machine else None)
            found.setdefault(key, []).append(float(value))
    return {key: stats.geometric_mean(values) for key, values in found.items()}


def _comparison(result: dict) -> dict:
    """A stats.paired_ratio result with summary's pairing words."""
    return {
        **result,
        "pairing": pairing_text(result["blocks"], result["machines"], result["paired"]),
    }


def _ranked(summary, source, workload, rows: pd.DataFrame, config) -> tuple:
    """(ranking, {label: comparison with the fastest}) of one workload's rows of `config`.
    `default`: summary's own (rankings among `default`, comparisons "as shipped"); another
    configuration: stats.pick_fastest and stats.paired_ratio over its runs' blocks, the same
    functions summary decides with."""
    if config == DEFAULT:
        ranking = notes.ranking_of(summary.rankings, source, workload, DEFAULT)
        c = summary.comparisons
        hit = c[(c["source"] == source) & (c["workload"] == workload) & (c["kind"] == "as shipped")]
        return ranking, {r["numerator"]: r.to_dict() for _, r in hit.iterrows()}
    per_run = summary.per_run
    mine = per_run[(per_run["source"] == source) & (per_run["workload"] == workload)]
    blocks = {
        notes.label(r): _blocks(
            mine[(mine["backend"] == r["backend"]) & (mine["config"] == config)]
        )
        for _, r in rows.iterrows()
    }
    blocks = {k: v for k, v in blocks.items() if v}
    if not blocks:
        return None, {}
    means = {notes.label(r): float(r["mean_epoch_seconds"]) for _, r in rows.iterrows()}
    ranking = stats.pick_fastest(blocks, {k: means[k] for k in blocks})
    best = blocks[ranking["fastest"]]
    found = {
        k: _comparison(stats.paired_ratio(v, best, confidence_level=summary.confidence_level))
        for k, v in blocks.items()
        if k != ranking["fastest"]
    }
    return ranking, found


def _call(summary, source, c) -> str:
    """How a ratio to the fastest reads (notes.call): apart, tied, close or unpaired."""
    sd = summary.noise.get(source, {}).get("sd", stats.SD_RATIO_LOG)
    given = (c[key] for key in ("ratio", "low", "high", "blocks", "paired"))
    return notes.call(*given, sd, confidence_level=summary.confidence_level)[0]


def _over_default(summary, source, workload, backend) -> dict | None:
    """A `tuned` cell against its backend's `default`, within blocks (ratio of times: below 1 is
    faster), with its call (notes.call: "tied" or "close" is too close to call)."""
    per_run = summary.per_run
    mine = per_run[
        (per_run["source"] == source)
        & (per_run["workload"] == workload)
        & (per_run["backend"] == backend)
    ]
    tuned, default = (_blocks(mine[mine["config"] == c]) for c in (OPTIMISED, DEFAULT))
    if not (tuned and default):
        return None
    found = _comparison(
        stats.paired_ratio(tuned, default, confidence_level=summary.confidence_level)
    )
    return {**found, "call": _call(summary, source, found)}


def _not_run(runs: pd.DataFrame) -> tuple:
    """(words, cause) of a cell without an ok run: ('failed: ValueError: ...', the whole recorded
    error, which the cell's tooltip carries), ('timed out', None), ('not run', None)."""
    if runs.empty:
        return "not run", None
    status = runs["status"].mode().iloc[0]
    words = {"timeout": "timed out", "nan": "loss became NaN"}.get(status, status)
    errors = [e for e in runs["error"] if isinstance(e, str) and e.strip()]
    if errors:
        cause = errors[0] if len(errors[0]) <= CAUSE_CHARS else errors[0][:CAUSE_CHARS] + "…"
        words += f": {cause}"
    return words, errors[0] if errors else None


def only_on(runs: pd.DataFrame) -> list | None:
    """The backends a model file runs on (its BACKENDS, run.json's `params.model_backends`), from
    one workload's runs; None where it names none (every backend)."""
    return next(
        (
            list(p["model_backends"])
            for p in runs["params"]
            if isinstance(p, dict) and isinstance(p.get("model_backends"), list)
        ),
        None,
    )


def _cell(summary, source, row, runs, records, ranking, compared) -> dict:
    """One backend's cell of a workload (`row`: its summary row, or None where it has none)."""
    ok = runs[runs["ok"].astype(bool)]
    cell = {"runs": len(ok), "run_ids": list(runs["run_id"]), "paths": list(runs["path"])}
    if row is None or not len(ok) or not finite(row["mean_epoch_seconds"]):
        cell["status"], cell["cause"] = _not_run(runs)
        if len(ok):
            cell["status"], cell["cause"] = "one epoch: no steady time", None
        return cell
    steps = next(
        (s for s in (steps_per_epoch(records.get(r)) for r in ok["run_id"]) if s[0]), (None, None)
    )
    label = notes.label(row)
    cell.update(
        seconds=float(row["mean_epoch_seconds"]),
        ms_step=ms_per_step(row["samples_per_second"], *steps),
        steps=steps[1],
        metric=float(row["final_metric"]),
        metric_name=row["final_metric_name"],
        timing_runs=int(row.get("timing_runs") or 0),
        generated=notes.is_generated(row),
        not_learning=int(row["not_learning_runs"]) > 0,
        fastest=ranking is not None and ranking["fastest"] == label,
        decided=ranking is not None and bool(ranking["decided"]),
        # an undecided fastest that ran beside others is the fastest of those, not the lowest
        fastest_paired=ranking is not None and bool(ranking["paired"]),
    )
    c = compared.get(label)
    if c is not None and finite(c["ratio"]):
        cell.update(ratio=float(c["ratio"]), low=c["low"], high=c["high"], pairing=c["pairing"])
        cell["call"] = _call(summary, source, c)
    return cell


def cells(summary, config=DEFAULT, records=None) -> pd.DataFrame:
    """One row per (workload, backend) of this study in `config`: runs, run_ids, paths, seconds
    (steady s/epoch), ms_step, steps, metric, generated, not_learning, fastest (summary's pick,
    or stats.pick_fastest for another configuration), decided, fastest_paired (the fastest shares
    a block with another row), ratio/low/high/pairing/call (to the fastest), over_default (`tuned`
    against its default) or status and cause (a cell without a time: what stopped it, the whole
    recorded error), only_on (a model file's BACKENDS, None for every backend)."""
    records = run_records(summary.study) if records is None else records
    source = own_source(summary)
    runs = _own_runs(summary)
    runs = runs[(runs["config"] == config) & (runs["source"] == source)]
    _, table = source, summary.table
    table = table[(table["source"] == source) & (table["config"] == config)]
    out = []
    for workload in ordered(runs["workload"], "workload"):
        rows = table[table["workload"] == workload]
        timed = rows[np.isfinite(rows["mean_epoch_seconds"].astype(float))]
        ranking, compared = _ranked(summary, source, workload, timed, config)
        for backend in ordered(runs[runs["workload"] == workload]["backend"], "backend"):
            own = rows[rows["backend"] == backend]
            cell = _cell(
                summary,
                source,
                own.iloc[0] if len(own) else None,
                runs[(runs["workload"] == workload) & (runs["backend"] == backend)],
                records,
                ranking,
                compared,
            )
            if config == OPTIMISED and "seconds" in cell:
                cell["over_default"] = _over_default(summary, source, workload, backend)
            cell["only_on"] = only_on(runs[runs["workload"] == workload])
            out.append({"workload": workload, "backend": backend, "config": config, **cell})
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------------------------
# Learning: kerasbench parity, per cell


def _layers(text) -> str:
    names = [n for n in str(text).split(", ") if n]
    shown = ", ".join(names[:LAYERS_SHOWN])
    return shown + (f" +{len(names) - LAYERS_SHOWN} more" if len(names) > LAYERS_SHOWN else "")


def learning_groups_in(parity_folder) -> dict:
    """report.parity.learning_groups of what `kerasbench parity` wrote in `parity_folder`; {}
    where it wrote nothing (or no folder is given)."""
    loaded = parity.load(str(parity_folder)) if parity_folder else None
    return parity.learning_groups(loaded[0]) if loaded is not None and len(loaded[0]) else {}


def learning_cells(groups: dict) -> dict:
    """{(workload, backend): (kind, words)} from report.parity.learning_groups: kind "same"
    (words "learns the same", or "... as jax, torch" where others differ), "differs" ("learns
    differently (weights of embedding)"), or "outside" ("parity: failed to run")."""
    out = {}
    for workload, found in groups.items():
        groups_, layers = found["groups"], found["layers"]
        largest = groups_[found["largest"]]
        # A largest group of one, as large as another, agrees with nobody: it differs too.
        alone = len(largest) == 1 and len(groups_) > 1
        for i, group in enumerate(groups_):
            for backend in group:
                mates = [b for b in group if b != backend]
                if len(groups_) == 1:
                    out[workload, backend] = ("same", "learns the same")
                elif group is largest and not alone:
                    out[workload, backend] = ("same", "learns the same as " + ", ".join(mates))
                else:
                    named = layers[i] or next((t for t in layers if t), "")
                    words = "learns differently" + (
                        f" (weights of {_layers(named)})" if named else ""
                    )
                    if mates:
                        words += "; the same as " + ", ".join(mates)
                    out[workload, backend] = ("differs", words)
        for backend, verdict in found["outside"].items():
            out[workload, backend] = ("outside", f"parity: {verdict}")
    return out


# ---------------------------------------------------------------------------------------------
# The hardware and the machines' load


def _model(device, machine) -> tuple:
    """(kind, model) of a run's machine: ("GPU", "NVIDIA H200") or ("CPU", "AMD EPYC")."""
    device = device if isinstance(device, dict) else {}
    if device.get("gpu") and not str(machine or "").startswith(machines.CPU_ONLY):
        return "GPU", str(device["gpu"])
    return "CPU", str(device.get("cpu") or "unknown CPU")


def hardware(runs: pd.DataFrame, records: dict) -> list:
    """One entry per machine model of `runs` (the grid's ok runs): {"kind", "model", "cores",
    "host_cpu", "machines", "runs", "loads" (runfiles.load_during of each run that recorded one),
    "cpus"}."""
    out: dict = {}
    for run_id, device, machine in zip(runs["run_id"], runs["device"], runs["machine"]):
        kind, model = _model(device, machine)
        device = device if isinstance(device, dict) else {}
        entry = out.setdefault(
            (kind, model),
            {
                "kind": kind,
                "model": model,
                "cores": set(),
                "host_cpu": set(),
                "machines": set(),
                "runs": 0,
                "loads": [],
                "cpus": set(),
            },
        )
        entry["runs"] += 1
        entry["machines"].add(machine)
        if device.get("cores"):
            entry["cores"].add(device["cores"])
        if kind == "GPU" and device.get("cpu"):
            entry["host_cpu"].add(device["cpu"])
        load = runfiles.load_during(records.get(run_id))
        if load is not None:
            entry["loads"].append(load["load_1min"])
            if load["cpus"]:
                entry["cpus"].add(load["cpus"])
    return list(out.values())


def joined(values) -> str:
    return "/".join(str(v) for v in sorted(values, key=str))


def load_text(entry) -> str:
    """'load 1.9 on 2 cores (median of 28 runs, 1.2–3.4)', or what says it was not recorded."""
    loads, runs = entry["loads"], entry["runs"]
    if not loads:
        return "machine load not recorded (runs of older code)"
    cores = joined(entry["cpus"] or entry["cores"]) or "?"
    text = f"load {statistics.median(loads):.1f} on {cores} cores"
    if len(loads) > 1:
        text += f" (median of {len(loads)} runs, {min(loads):.1f}–{max(loads):.1f}"
        text += f"; not recorded for {runs - len(loads)})" if len(loads) < runs else ")"
    return text + " during the runs"


# ---------------------------------------------------------------------------------------------
# Key findings: each a sentence derived from the cells, the parity groups or the load


def _timed(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty or "seconds" not in table.columns:
        return table.iloc[0:0]
    return table[table["seconds"].map(finite)]


def wins_finding(default: pd.DataFrame) -> str | None:
    """'As shipped, jax is fastest on 4 of 7 workloads, tensorflow on 3.' over the workloads
    where two or more backends have a time; the fastest counts only where decided, and a win
    whose runner-up the grid calls too close to call is said so."""
    timed = _timed(default)
    contests = [w for w, block in timed.groupby("workload", sort=False) if len(block) > 1]
    if not contests:
        return None
    won = timed[timed["workload"].isin(contests) & timed["fastest"] & timed["decided"]]
    wins = Counter(won["backend"])
    order = ordered(wins, "backend")
    ranked = sorted(order, key=lambda b: (-wins[b], order.index(b)))
    n = len(contests)
    if not ranked:
        return f"As shipped, no backend is decided fastest on any of the {n} workloads."
    text = f"As shipped, {ranked[0]} is fastest on {wins[ranked[0]]} of {n} workload" + "s" * (
        n != 1
    )
    text += "".join(f", {b} on {wins[b]}" for b in ranked[1:])
    close = _too_close(timed, won["workload"])
    if close:
        k = len(dict.fromkeys(w for _, w in close))
        text += (
            f"; on {k} of them a runner-up is too close to call ("
            + ", ".join(f"{b} on the {_title(w)}" for b, w in close)
            + ")"
        )
    undecided = n - len(won)
    if undecided:
        text += f"; {undecided} not decided (not all ran on one machine)"
    return text + "."


def _too_close(timed: pd.DataFrame, won) -> list:
    """(backend, workload) of the cells within the noise of a decided fastest (notes.call tied
    or close): a win counted above that the grid calls too close to call."""
    if "call" not in timed.columns:
        return []
    close = timed[timed["workload"].isin(list(won)) & timed["call"].isin(notes.TOO_CLOSE)]
    return list(zip(close["backend"], close["workload"]))


def gap_finding(default: pd.DataFrame) -> str | None:
    """'The widest gap: cntk takes 9.03× as long as jax on the MNIST MLP (1 block).': the largest
    ratio to the fastest that is paired and beyond the noise (notes.call 'apart')."""
    timed = _timed(default)
    if "call" not in timed.columns:
        return None
    apart = timed[(timed["call"] == "apart") & timed["ratio"].map(finite)]
    if apart.empty:
        return None
    worst = apart.loc[apart["ratio"].astype(float).idxmax()]
    best = timed[(timed["workload"] == worst["workload"]) & timed["fastest"]]
    if best.empty:
        return None
    return (
        f"The widest gap: {worst['backend']} takes {worst['ratio']:.2f}× as long as "
        f"{best.iloc[0]['backend']} on the {_title(worst['workload'])} ({worst['pairing']})."
    )


def learning_finding(groups: dict, workloads) -> str | None:
    """Which backend learns differently most often (parity groups), and where all agree:
    'cntk learns differently from the others on 5 of 7 workloads checked, tensorflow on 3; all
    learn the same on MNIST CNN.' None where parity checked none of `workloads`."""
    checked = [w for w in workloads if w in groups]
    if not checked:
        return None
    words = learning_cells({w: groups[w] for w in checked})
    odd: dict = {}
    for (workload, backend), (kind, text) in words.items():
        if kind == "differs":
            odd.setdefault(backend, []).append((workload, text))
    same = [w for w in checked if len(groups[w]["groups"]) == 1 and not groups[w]["outside"]]
    n = len(checked)
    if not odd:
        return f"Every backend learns the same on {'all ' * (n > 1)}{n} workload{'s' * (n != 1)} checked."
    order = ordered(odd, "backend")
    ranked = sorted(order, key=lambda b: (-len(odd[b]), order.index(b)))
    top = ranked[0]
    if len(odd[top]) == 1 and len(ranked) == 1:
        workload, text = odd[top][0]
        text = f"{top} {text.replace('learns differently', f'learns the {_title(workload)} differently', 1)}"
    else:
        text = (
            f"{top} learns differently from the others on {len(odd[top])} of {n} workloads checked"
        )
        text += "".join(f", {b} on {len(odd[b])}" for b in ranked[1:])
    if same:
        text += "; all learn the same on " + ", ".join(_title(w) for w in same)
    return text + "."


def not_learning_finding(default: pd.DataFrame) -> str | None:
    """'Did not learn (training loss did not fall): cntk on the Nietzsche char-LSTM.'"""
    timed = _timed(default)
    if "not_learning" not in timed.columns:
        return None
    bad = timed[timed["not_learning"].astype(bool)]
    if bad.empty:
        return None
    where = ", ".join(f"{r['backend']} on the {_title(r['workload'])}" for _, r in bad.iterrows())
    return f"Did not learn (its training loss did not fall): {where}."


def busy_finding(entries) -> str | None:
    """'The machine was busier than its 2 cores during 5 of 28 runs (load up to 3.4): their
    times may be slower than it can do.'"""
    busy, total, top, cores = 0, 0, 0.0, set()
    for entry in entries:
        limit = max(entry["cpus"] or entry["cores"] or {0})
        over = [x for x in entry["loads"] if limit and x > limit]
        busy, total = busy + len(over), total + len(entry["loads"])
        if over:
            top, cores = max(top, max(over)), cores | {limit}
    if not busy:
        return None
    return (
        f"The machine was busier than its {joined(cores)} cores during {busy} of {total} runs "
        f"(load up to {top:.1f}): their times may be slower than it can do."
    )


def tuned_finding(tuned: pd.DataFrame) -> str | None:
    """'The tuned configuration makes jax 2.5× faster than its default on the MNIST MLP (3
    blocks); clearly faster on 6 of 8 workload and backend pairs measured side by side.' over the
    paired comparisons; where none is paired, that its gains are across machines."""
    timed = _timed(tuned)
    if "over_default" not in timed.columns:
        return None
    compared = [(r, r["over_default"]) for _, r in timed.iterrows()]
    compared = [(r, c) for r, c in compared if isinstance(c, dict) and finite(c["ratio"])]
    paired = [(r, c) for r, c in compared if notes.is_true(c["paired"])]
    if not paired:
        if not compared:
            return None
        row, c = min(compared, key=lambda rc: rc[1]["ratio"])
        return (
            "The tuned configuration never ran on one machine with default, so its gains compare "
            f"across machines, not paired: up to {1 / c['ratio']:.1f}× for {row['backend']} on "
            f"the {_title(row['workload'])}."
        )
    apart = [(r, c) for r, c in paired if c["call"] == "apart" and c["ratio"] < 1]
    if not apart:
        return (
            "The tuned configuration is not clearly faster than default anywhere it ran beside it."
        )
    row, c = min(apart, key=lambda rc: rc[1]["ratio"])
    return (
        f"The tuned configuration makes {row['backend']} {1 / c['ratio']:.1f}× faster than its "
        f"default on the {_title(row['workload'])} ({c['pairing']}); clearly faster on "
        f"{len(apart)} of {len(paired)} workload and backend pairs measured side by side."
    )


def findings(default, tuned, groups, entries) -> list:
    """2 to 4 key findings in plain words (those the data supports, in this order)."""
    found = [
        wins_finding(default),
        gap_finding(default),
        learning_finding(groups, list(dict.fromkeys(default["workload"])) if len(default) else []),
        busy_finding(entries),
        not_learning_finding(default),
        tuned_finding(tuned),
    ]
    return [f for f in found if f][:MAX_FINDINGS]
