"""What the report says in words: the verdict per workload, what makes a cell not comparable,
the handicaps beside each workload's charts, and the pairing lines of the Method section.

Functions over the summary table (summary.SUMMARY_COLUMNS); no statistics are computed here.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from kerasbench.report import metrics, rules, rundata, stats
from kerasbench.report.rules import is_generated, is_true, label, labels
from kerasbench.report import naming
from kerasbench.study import params


def fmt(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}g}"


METRIC_LABELS = {
    "val_accuracy": "test accuracy (val_accuracy)",
    "accuracy": "training accuracy",
    "loss": "training loss",
    "val_loss": "test loss (val_loss)",
    "main_out_loss": "training loss of the main head (main_out_loss)",
}


def metric_label(metric: str) -> str:
    """What a metric column shows, with its name as Keras logs it (metrics.label)."""
    return METRIC_LABELS.get(metric) or metrics.label(metric)


def level_text(summary) -> str:
    """The report's confidence level as the page writes it: '95%'."""
    return f"{summary.confidence_level:.0%}"


def metric_words(workload, metric) -> str:
    """The workload's metric in a sentence: 'test accuracy' (val_accuracy), 'final training loss'
    (the text models, a model file without a metric), else its name as Keras logs it."""
    if naming.is_text_model(workload) or metric == metrics.LOSS:
        return "final training loss"
    if metric == "val_accuracy":
        return "test accuracy"
    return metrics.label(metric).split(" (")[0] if isinstance(metric, str) else "final metric"


def ratio_text(ratio, low, high, pairing) -> str:
    """'3.39× [3.10, 3.70], 3 blocks on 2 machines', '1.07×, 1 block', '1.08×, across
    machines, not paired': a ratio with its interval (if any) and what it was paired in."""
    if ratio is None or not math.isfinite(ratio):
        return "–"
    text = f"{ratio:.2f}×"
    if low is not None and math.isfinite(low):
        text += f" [{low:.2f}, {high:.2f}]"
    return text + (f", {pairing}" if pairing else "")


def times_text(row) -> str:
    return ratio_text(
        row["times_fastest"],
        row.get("times_fastest_low", math.nan),
        row.get("times_fastest_high", math.nan),
        row.get("pairing"),
    )


def _takes(row) -> str:
    """'takes 1.07× as long (1 block)', 'takes 3.01× [2.74, 3.31] as long (3 blocks)'."""
    core = ratio_text(
        row["times_fastest"],
        row.get("times_fastest_low", math.nan),
        row.get("times_fastest_high", math.nan),
        None,
    )
    return f"takes {core} as long ({row.get('pairing')})"


# The calls the page words "too close to call": an interval containing 1, or within the noise.
TOO_CLOSE = ("tied", "close")


def call(ratio, low, high, blocks, paired, sd, *, confidence_level=0.95) -> tuple[str, float]:
    """How a paired ratio to the fastest reads: ('unpaired' | 'tied' | 'close' | 'apart',
    threshold).

    tied: from MIN_RUNS blocks, its interval contains 1. close: with fewer blocks, the ratio is
    within the noise between blocks, stats.noise_threshold(sd, blocks) (returned; NaN otherwise).
    unpaired: the rows share no block, so the ratio decides nothing.
    """
    if not is_true(paired) or not (ratio is not None and math.isfinite(ratio)):
        return "unpaired", math.nan
    blocks = int(blocks) if blocks is not None and math.isfinite(blocks) else 0
    if blocks >= stats.MIN_RUNS and math.isfinite(low):
        return ("tied" if low <= 1.0 <= high else "apart"), math.nan
    threshold = stats.noise_threshold(sd, max(blocks, 1), confidence_level=confidence_level)
    return ("close" if max(ratio, 1 / ratio) <= threshold else "apart"), threshold


def ranking_of(rankings, source, workload, among="configurations"):
    if rankings is None or rankings.empty:
        return None
    hit = rankings[
        (rankings["source"] == source)
        & (rankings["workload"] == workload)
        & (rankings["among"] == among)
    ]
    return None if hit.empty else hit.iloc[0]


def _listed(rows: pd.DataFrame) -> str:
    """'jax tuned 1.08×, torch compiled 4.97×' (ratios of means: no pairing said)."""
    return ", ".join(f"{label(r)} {r['times_fastest']:.2f}×" for _, r in rows.iterrows())


VERDICT_COLUMNS = ["source", "workload", "fastest", "decided", "text", "named"]


def verdicts(
    table: pd.DataFrame,
    rankings: pd.DataFrame | None = None,
    noise: dict | None = None,
    *,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """One sentence per (source, workload) of this study's results (references excluded).

    Only paired evidence decides (summary's rankings, stats.pick_fastest): the fastest is "fastest"
    where no other row could be faster, else "the fastest of the rows it ran beside" with the
    rows that never ran beside it named; the runner-up is the paired row with the lowest ratio,
    called indistinguishable (interval contains 1, 3+ blocks) or too close to call (within the
    noise between blocks, fewer blocks: noise[source]["sd"], stats.noise_threshold); rows that
    share no block with the fastest are listed as not paired, never ranked.

    Columns: source, workload, fastest (the label to print in bold), decided, text (the sentence
    after it), named (the labels the sentence names: fastest, runner-up, slowest, contenders).
    """
    noise = noise or {}
    mine = (
        table[~table["reference"] & ~table["backend"].map(naming.is_native)]
        if not table.empty
        else table
    )
    rows = []
    for (source, workload), block in mine.groupby(["source", "workload"], sort=False):
        ranking = ranking_of(rankings, source, workload)
        sd = noise.get(source, {}).get("sd", stats.SD_RATIO_LOG)
        verdict = _verdict(workload, block, ranking, sd, confidence_level)
        rows.append({"source": source, "workload": workload, **verdict})
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)


def _verdict(workload, block: pd.DataFrame, ranking, sd: float, confidence_level: float) -> dict:
    """One workload's verdict: fastest, decided, text, named."""
    timed = block[np.isfinite(block["times_fastest"].astype(float))]
    if timed.empty:
        return {
            "fastest": None,
            "decided": False,
            "text": "No run finished with a steady epoch: no verdict.",
            "named": (),
        }
    # The fastest is Keras as shipped (ratios.add_speedups); a patched Keras keeps its
    # ratio in its row, outside the sentence.
    shipped = timed[~timed["config"].map(naming.is_patched)]
    timed = shipped if not shipped.empty else timed
    fastest = timed["fastest"].iloc[0]
    best = timed[labels(timed) == fastest].iloc[0]
    decided = bool(ranking["decided"]) if ranking is not None else True
    contender_names = tuple(ranking["contenders"]) if ranking is not None else ()
    others = timed.drop(index=best.name)
    contenders = others[labels(others).isin(contender_names)].sort_values("times_fastest")
    paired = others[others["paired"].map(is_true).astype(bool)].sort_values("times_fastest")
    unpaired = others[
        ~others["paired"].map(is_true).astype(bool) & ~labels(others).isin(contender_names)
    ].sort_values("times_fastest")
    parts = [_lead(best, decided, ranking, contenders)]
    named = [label(best)] + list(labels(contenders))
    if not paired.empty:
        said, names = _runners_up(paired, sd, confidence_level)
        parts.extend(said)
        named.extend(names)
    if not unpaired.empty:
        parts.append(
            "not paired with it (no machine ran both), so not ranked: "
            + _listed(unpaired)
            + " across machines"
        )
    parts.extend(_learned(workload, block, timed))
    return {
        "fastest": label(best),
        "decided": decided,
        "text": "; ".join(parts) + ".",
        "named": tuple(dict.fromkeys(named)),
    }


def _lead(best, decided: bool, ranking, contenders: pd.DataFrame) -> str:
    """The verdict's first part: fastest, or the fastest of the rows it ran beside."""
    seconds = fmt(best["mean_epoch_seconds"])
    if decided:
        return f"is fastest at {seconds} s/epoch"
    if ranking is not None and not ranking["paired"]:
        return (
            f"has the lowest time ({seconds} s/epoch), but no two of these rows ran on one "
            "machine: no verdict on speed"
        )
    lead = f"is the fastest of the rows it ran beside ({seconds} s/epoch)"
    if not contenders.empty:
        lead += (
            ", not decided fastest: "
            + _listed(contenders)
            + " (across machines) never ran on one machine with it, and no row on "
            "one machine with them was faster"
        )
    return lead


def _runners_up(paired: pd.DataFrame, sd: float, confidence_level: float) -> tuple:
    """The runner-up among the rows paired with the fastest (tied, too close to call, or its
    ratio) and the slowest of them: (parts, labels named)."""
    runner = paired.iloc[0]
    verdict, threshold = call(
        runner["times_fastest"],
        runner["times_fastest_low"],
        runner["times_fastest_high"],
        runner["pairs"],
        runner["paired"],
        sd,
        confidence_level=confidence_level,
    )
    if verdict == "tied":
        parts = [
            f"but {label(runner)} ({times_text(runner)}) is not distinguishable "
            "from it: its interval includes 1"
        ]
    elif verdict == "close":
        k = int(runner["pairs"])
        parts = [
            f"{label(runner)} {_takes(runner)}, within the noise between blocks (below "
            f"{threshold:.2f}× at {k} block{'s' * (k != 1)}): too close to call"
        ]
    else:
        parts = [f"{label(runner)} {_takes(runner)}"]
    named = [label(runner)]
    if len(paired) > 1:
        slowest = paired.iloc[-1]
        parts.append(f"the slowest paired with it, {label(slowest)}, {times_text(slowest)}")
        named.append(label(slowest))
    return parts, named


def _learned(workload, block: pd.DataFrame, timed: pd.DataFrame) -> list:
    """The verdict's last parts: the final metric across the rows, who did not learn, runs."""
    parts = []
    if block.apply(is_generated, axis=1).any():
        parts.append("accuracy not compared (generated data)")
    else:
        finals = timed["final_metric"].astype(float)
        finals = finals[np.isfinite(finals)]
        if finals.size:
            what = metric_words(workload, timed["final_metric_name"].iloc[0])
            low, high = f"{finals.min():.4f}", f"{finals.max():.4f}"
            parts.append(
                f"{what} {low}–{high} across them" if low != high else f"{what} {low} for all"
            )
    bad = timed[timed["not_learning_runs"] > 0]
    if not bad.empty:
        parts.append("did not learn: " + ", ".join(label(r) for _, r in bad.iterrows()))
    n = sorted({int(v) for v in timed["runs"]})
    runs = f"{n[0]}" if len(n) == 1 else f"{n[0]}–{n[-1]}"
    timing = int(timed["timing_runs"].max()) if "timing_runs" in timed else 0
    parts.append(
        f"{runs} run{'s' * (n[-1] != 1)} each"
        + (f" ({timing} of them timing blocks)" if timing else "")
        + ("" if n[0] >= stats.MIN_RUNS else ", so no interval")
    )
    return parts


def pairing_lines(comparisons: pd.DataFrame, rankings: pd.DataFrame | None, source) -> list:
    """What was paired with what, per workload of one source: [(workload, text)], e.g.
    'as shipped (jax default): torch default in 3 blocks on 2 machines · × fastest (jax tuned,
    decided): in 1 block: jax default, torch default; not paired: jax quiet'."""
    if comparisons is None or comparisons.empty:
        return []
    mine = comparisons[comparisons["source"] == source]
    out = []
    order = list(dict.fromkeys(mine["workload"]))
    for workload in order:
        rows = mine[mine["workload"] == workload]
        parts = []
        for kind in ("as shipped", "× fastest", "over default", "× floor", "then and now"):
            part = rows[rows["kind"] == kind]
            if part.empty:
                continue
            if kind in ("over default", "then and now"):
                items = [
                    f"{r['numerator']} vs {r['denominator']}: "
                    + (
                        f"in {r['pairing']}"
                        if is_true(r["paired"])
                        else "not paired (across machines)"
                    )
                    for _, r in part.iterrows()
                ]
                parts.append(f"{kind}: " + "; ".join(items))
                continue
            among = {"as shipped": "default", "× fastest": "configurations", "× floor": "floor"}
            ranking = ranking_of(rankings, source, workload, among[kind])
            against = part["denominator"].iloc[0]
            if ranking is not None and kind != "× floor":
                against += ", decided" if ranking["decided"] else ", not decided"
            groups = {}
            for _, r in part.iterrows():
                key = f"in {r['pairing']}" if is_true(r["paired"]) else "not paired"
                groups.setdefault(key, []).append(r["numerator"])
            items = sorted(groups.items(), key=lambda kv: (kv[0] == "not paired", kv[0]))
            parts.append(
                f"{kind} ({against}): " + "; ".join(f"{k}: {', '.join(v)}" for k, v in items)
            )
        out.append((workload, " · ".join(parts)))
    return out


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
        f"{a} and {b} ran on different machines (no machine ran both): their ratio is one of "
        "means across machines, includes any difference between the machines, and decides no "
        "verdict."
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
    for workload, source, text, who in _statements(table, study):
        whom = found.setdefault((workload, source, text), [])
        if who is not None and who not in whom:
            whom.append(who)
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


def _statements(table: pd.DataFrame, study: rundata.Study):
    """(workload, source, text, who) for every handicap, in the page's order: the workload's own,
    backends that never shared a machine, each row's (rules.sentences), runs with no epoch."""
    for workload, block in table.groupby("workload", sort=False):
        if naming.is_text_model(workload):
            yield (
                workload,
                None,
                "Text model: no test set, so the metric is the final training loss "
                f"({naming.metric_name(workload)}); lower is better.",
                None,
            )
        if block["reference"].all():
            yield (
                workload,
                None,
                "No runs of this workload in the runs folder: the reference numbers only.",
                None,
            )
    for (workload, source), block in table[~table["reference"]].groupby(
        ["workload", "source"], sort=False
    ):
        for text in _apart(block[block["config"] == "default"]):
            yield workload, source, text, None
    yield from _timing_statements(study.runs)
    yield from _fewer_epochs_statements(study.runs)
    yield from _xla_statements(study.runs)
    yield from _row_statements(table, study)
    runs = study.runs
    logged = (
        set(zip(table["source"], table["workload"], table["backend"])) if not table.empty else set()
    )
    for run in runs[~runs["ok"]].itertuples(index=False):
        if (run.source, run.workload, run.backend) not in logged:
            yield (
                run.workload,
                run.source,
                f"run {run.run_id} ended with status {run.status} before logging an epoch.",
                f"{run.backend} {run.config}",
            )


def _timing_statements(runs: pd.DataFrame):
    """(workload, source, text, None) where a workload has timing blocks (`kerasbench run
    --timing-epochs`): which repeats, their epochs, what they count in."""
    timing = runs[runs["ok"].astype(bool) & runs["timing_block"].astype(bool)]
    for (workload, source), part in timing.groupby(["workload", "source"], sort=False):
        repeats = sorted({int(r) for r in part["repeat"]})
        epochs = sorted({int(n) for n in part["n_epochs"]})
        full = runs[
            (runs["workload"] == workload)
            & (runs["source"] == source)
            & runs["ok"].astype(bool)
            & ~runs["timing_block"].astype(bool)
        ]
        yield (
            workload,
            source,
            f"{_repeats_words(repeats)}: timing block{'s' * (len(repeats) > 1)} "
            f"(the same data and model, {_epochs_words(epochs)} epochs"
            + (f" against {int(full['n_epochs'].max())}" if len(full) else "")
            + "): their times count in every mean, ratio and interval; the final metric and the "
            "curves are the other repeats' only.",
            None,
        )


def _repeats_words(repeats) -> str:
    """'repeat 0', 'repeats 1, 2': the repeats a note concerns."""
    return f"repeat{'s' * (len(repeats) > 1)} {', '.join(str(r) for r in sorted(repeats))}"


def _epochs_words(epochs) -> str:
    """'3', '4–5': the epochs the runs of a note trained (their range)."""
    return "–".join(str(e) for e in sorted(epochs))


def _fewer_epochs_statements(runs: pd.DataFrame):
    """(workload, source, text, None) where ok runs that are not timing blocks trained fewer
    epochs than their profile gives (`kerasbench run --set epochs=N`): which repeats, against
    how many. Their times count as any run's; their final metric is not the profile's."""
    ok = runs[runs["ok"].astype(bool) & ~runs["timing_block"].astype(bool)]
    for (workload, source, profile), part in ok.groupby(
        ["workload", "source", "profile"], sort=False
    ):
        wanted = params.profile_epochs(workload, profile)
        if wanted is None:
            continue
        asked = part["params"].map(lambda p: p.get("epochs") if isinstance(p, dict) else None)
        fewer = asked.map(lambda n: isinstance(n, int) and n < wanted)
        if not fewer.any():
            continue
        yield (
            workload,
            source,
            f"{_repeats_words({int(r) for r in part['repeat'][fewer]})}: "
            f"{_epochs_words({int(n) for n in asked[fewer]})} epochs, set for these runs, against the "
            f"{profile} profile's {wanted}: their times per epoch count as any run's; their "
            "final metric is not the profile's.",
            None,
        )


XLA_OFF = (
    "trained without XLA: Keras' jit_compile='auto' compiles TensorFlow's train step with XLA "
    "only where TensorFlow sees a GPU, and JAX's always: a handicap of Keras' defaults on a "
    "machine without a GPU, not a setting of this study."
)


def without_xla(run) -> bool:
    """True where a TensorFlow run's train step was not XLA-compiled because Keras chose so: its
    record says jit_compile False as Keras resolved "auto" (backend_settings.model_compile), or,
    in a record from before that field, "auto" was asked and it trained on the CPU (its
    trained_on, else a machine with no GPU; Keras 3's rule: no XLA for TensorFlow where it sees
    no GPU)."""
    if run.backend != "tensorflow":
        return False
    settings = run.backend_settings if isinstance(run.backend_settings, dict) else {}
    resolved = (settings.get("model_compile") or {}).get("jit_compile")
    asked = (settings.get("compile_options") or {}).get("jit_compile")
    if isinstance(resolved, bool):
        return asked == "auto" and not resolved
    trained = run.trained_on if isinstance(run.trained_on, dict) else {}
    device = run.device if isinstance(run.device, dict) else {}
    on_cpu = trained.get("kind") == "cpu" if trained.get("kind") else not device.get("gpu")
    return asked == "auto" and on_cpu


def _xla_statements(runs: pd.DataFrame):
    """(workload, source, XLA_OFF, "tensorflow CONFIG") for each TensorFlow row whose ok runs all
    trained without XLA by Keras' choice (without_xla), where JAX ran beside it."""
    ok = runs[runs["ok"].astype(bool)]
    for (workload, source), part in ok.groupby(["workload", "source"], sort=False):
        if not (part["backend"] == "jax").any():
            continue
        for config, rows in part[part["backend"] == "tensorflow"].groupby("config", sort=False):
            if all(without_xla(run) for run in rows.itertuples(index=False)):
                yield workload, source, XLA_OFF, f"tensorflow {config}"


def timing_words(timing) -> str:
    """' (2 timing)' where some runs are timing blocks' (`kerasbench run --timing-epochs`)."""
    timing = int(timing or 0)
    return f" ({timing} timing)" if timing else ""


def runs_words(runs, timing=0) -> str:
    """'3 runs', '1 run', '3 runs (2 timing)': a cell's or row's runs, its timing blocks' named."""
    runs = int(runs or 0)
    return f"{runs} run{'s' * (runs != 1)}" + timing_words(timing)


def _row_statements(table: pd.DataFrame, study: rundata.Study):
    """Each row's handicaps: a reference's method, else the caveat rules as sentences."""
    runs = study.runs
    not_ok: dict[tuple, Counter] = {}
    for run in runs[~runs["ok"]].itertuples(index=False):
        not_ok.setdefault((run.source, run.workload, run.backend, run.config), Counter())[
            run.status
        ] += 1
    references = {s.label: s for s in study.sources if s.reference}
    for _, row in table.iterrows():
        workload, source = row["workload"], row["source"]
        if row["reference"]:
            ref = references.get(source)
            yield (
                workload,
                source,
                f"{source}: one run per backend"
                + (f" on {ref.hardware}" if ref and ref.hardware else "")
                + "; its mean includes the first epoch, as that study computed it "
                "(the first-epoch-apart mean is in summary.csv, mean_after_first); no interval.",
                None,
            )
            continue
        statuses = not_ok.get((source, workload, row["backend"], row["config"]), Counter())
        for text in rules.sentences(row, statuses):
            yield workload, source, text, label(row)
