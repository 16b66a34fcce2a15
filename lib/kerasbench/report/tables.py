"""The report's HTML tables, built from a `summary.Summary`; no statistics here.

The first screen (`answer_table`: one line per workload; `verdict_table`: each workload's verdict
and rows), every row (`detail_table`), then and now, the floor, the environment and the runs that
failed. Every value from a runs folder or a reference
passes `style.esc`.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from kerasbench import registry
from kerasbench.report import notes as notes_mod
from kerasbench.report import rules, rundata, stats
from kerasbench.report.notes import fmt, level_text, metric_label
from kerasbench.report.rules import (
    finite,
    is_generated,
    is_true,
    keras_rows,
    label,
    labels,
    verdict_of,
)
from kerasbench.report.style import STYLE, Html, esc
from kerasbench.report import machines
from kerasbench.report import naming


def table_html(frame: pd.DataFrame, empty: str) -> str:
    if frame.empty:
        return f"<p><em>{html.escape(empty)}</em></p>"
    return frame.to_html(index=False, escape=True, na_rep="–", classes="kb-table", border=0)


def _final_cell(row) -> str:
    if row["runs"] == 0 or not finite(row["final_metric"]):
        return "–"
    if is_generated(row):
        return "n/a (generated data)"
    value = f"{row['final_metric']:.4f}"
    if row["runs"] > 1 and finite(row["final_metric_min"]):
        value += f" ({row['final_metric_min']:.4f}–{row['final_metric_max']:.4f})"
    return value


def _times_cell(row) -> str:
    """'1 (fastest)', '1.07×, 1 block', '3.01× [2.74, 3.31], 3 blocks', '1.08×, across machines,
    not paired'."""
    if not finite(row["times_fastest"]):
        return "–"
    if (
        row["times_fastest"] == 1.0
        and finite(row["mean_epoch_seconds"])
        and label(row) == row["fastest"]
    ):
        return "1 (fastest)" if is_true(row.get("fastest_decided")) else "1 (not decided)"
    return notes_mod.times_text(row)


def _few_runs(row, mark: bool) -> str:
    """', 1 run' after a figure from fewer runs than an interval needs, where `mark` says the
    study has rows with enough (in a study of single runs every line would say it)."""
    runs = int(row["runs"])
    return f", {runs} run{'s' * (runs != 1)}" if mark and runs < stats.MIN_RUNS else ""


def _comparison(summary, source, workload, kind, numerator=None):
    """The rows of summary.comparisons of one kind (and numerator) for a workload."""
    c = summary.comparisons
    if c is None or c.empty:
        return c
    hit = c[(c["source"] == source) & (c["workload"] == workload) & (c["kind"] == kind)]
    return hit if numerator is None else hit[hit["numerator"] == numerator]


def _ranking(summary, source, workload, among):
    return notes_mod.ranking_of(summary.rankings, source, workload, among)


def _called(summary, source, c) -> str:
    """' (too close to call)' where a paired ratio to the fastest is within the noise, or its
    interval contains 1 (notes.call); '' otherwise."""
    sd = summary.noise.get(source, {}).get("sd", stats.SD_RATIO_LOG)
    verdict, _ = notes_mod.call(
        c["ratio"],
        c["low"],
        c["high"],
        c["blocks"],
        c["paired"],
        sd,
        confidence_level=summary.confidence_level,
    )
    if verdict == "tied":
        return " (too close to call: its interval includes 1)"
    return " (too close to call)" if verdict == "close" else ""


def _as_shipped_cell(
    summary, source, workload, defaults: pd.DataFrame, mark: bool = False, not_run=()
) -> str:
    """'<b>jax</b> 0.856 s/epoch; torch 3.39× [2.98, 3.85] as long, 3 blocks on 2 machines': the
    backends under `default`, the fastest (by paired evidence, summary's rankings) first, each
    other as a ratio within blocks, with its interval from 3 blocks; a ratio across machines is
    said to be one, and decides nothing. `not_run`: the backends that did not run it
    (_not_run_parts), each keeping its place after those that did."""
    timed = defaults[np.isfinite(defaults["mean_epoch_seconds"].astype(float))]
    if timed.empty:
        return "; ".join(not_run) or "–"
    ranking = _ranking(summary, source, workload, "default")
    names = labels(timed)
    first = ranking["fastest"] if ranking is not None else names.iloc[0]
    best = timed[names == first].iloc[0]
    decided = ranking is None or bool(ranking["decided"])
    name = f"<b>{esc(best['backend'])}</b>" if decided else esc(best["backend"])
    cell = "" if decided else "not decided, no machine ran them side by side: "
    cell += f"{name} {fmt(best['mean_epoch_seconds'])} s/epoch"
    cell += _few_runs(best, mark)
    found = _comparison(summary, source, workload, "as shipped")
    others = []
    for _, row in timed.iterrows():
        if row.name == best.name:
            continue
        hit = found[found["numerator"] == label(row)] if found is not None else None
        if hit is None or hit.empty:
            continue
        others.append((row, hit.iloc[0]))
    others.sort(key=lambda rc: rc[1]["ratio"])
    for row, c in others:
        ratio = notes_mod.ratio_text(c["ratio"], c["low"], c["high"], None)
        cell += (
            f"; {esc(row['backend'])} {esc(ratio)} as long, {esc(c['pairing'])}"
            f"{_few_runs(row, mark)}{_called(summary, source, c)}"
        )
    if len(timed) == 1 and not not_run:
        cell += " (the only backend run)"
    return "; ".join([cell, *not_run])


STATUS_WORDS = {"timeout": "timed out", "nan": "loss became NaN", "unfinished": "unfinished"}


CAUSE_CHARS = 160  # a failure's cause on the first screen; the run table has all of it


def _not_run_parts(summary, source, workload) -> list:
    """Where a workload did not run on a backend, one part each, in the answer's line:
    'torch: failed, ValueError: ...' for a backend whose runs of it all failed (the recorded
    cause, cut short; the whole of it in the tooltip and the run table), and 'jax, torch: not run
    (the file runs on tensorflow only)' where a model file's BACKENDS left backends out."""
    runs = summary.study.runs
    mine = runs[(runs["source"] == source) & (runs["workload"] == workload)]
    mine = mine[~mine["backend"].map(naming.is_native)]
    parts = []
    for backend, own in mine.groupby("backend", sort=False):
        if own["ok"].any():
            continue
        status = own["status"].mode().iloc[0]
        errors = [e for e in own["error"] if isinstance(e, str) and e.strip()]
        part = f"{esc(backend)}: {esc(STATUS_WORDS.get(status, status))}"
        if errors:
            cause = errors[0] if len(errors[0]) <= CAUSE_CHARS else errors[0][:CAUSE_CHARS] + "…"
            part += f", <span title='{esc(errors[0])}'>{esc(cause)}</span>"
        parts.append(part)
    declared = next(
        (
            p["model_backends"]
            for p in mine["params"]
            if isinstance(p, dict) and isinstance(p.get("model_backends"), list)
        ),
        None,
    )
    if declared:
        asked = list(registry.DEFAULT_BACKENDS) + list(runs["backend"])
        left = [
            b
            for b in dict.fromkeys(asked)
            if b not in declared and b not in set(mine["backend"]) and not naming.is_native(b)
        ]
        if left:
            parts.append(
                f"{esc(', '.join(left))}: not run (the file runs on "
                f"{esc(' and '.join(declared))} only)"
            )
    return parts


def _fastest_cell(summary, source, workload, block: pd.DataFrame, mark: bool) -> str:
    """The fastest configuration Keras offers (summary's rankings), its speed-up over its
    backend's default within blocks, and, where the fastest is not decided, the rows that never
    ran beside it."""
    verdict = verdict_of(summary, source, workload)
    if verdict.empty or not isinstance(verdict.iloc[0]["fastest"], str):  # None: no verdict
        return "–"
    v = verdict.iloc[0]
    best = block[labels(block) == v["fastest"]].iloc[0]
    ranking = _ranking(summary, source, workload, "configurations")
    decided = bool(v["decided"])
    no_pairs = ranking is not None and not ranking["paired"]
    if decided:
        cell = f"<b>{esc(label(best))}</b>"
    elif no_pairs:
        cell = "not decided, no two rows ran on one machine; lowest time: " + esc(label(best))
    else:
        cell = f"not decided: <b>{esc(label(best))}</b>"
    cell += f" {fmt(best['mean_epoch_seconds'])} s/epoch" + _few_runs(best, mark)
    if not decided and not no_pairs:
        cell += ", the fastest of the rows it ran beside"
    over = _comparison(summary, source, workload, "over default")
    if over is not None and not over.empty:
        c = over.iloc[0]
        if finite(c["ratio"]):
            ratio = f"{c['ratio']:.1f}×" + (
                f" [{c['low']:.1f}, {c['high']:.1f}]" if finite(c["low"]) else ""
            )
            cell += (
                f" ({esc(ratio)} faster than {esc(c['numerator'])}, {esc(c['pairing'])})"
                if is_true(c["paired"])
                else f" ({esc(ratio)} faster than {esc(c['numerator'])} across machines, not paired)"
            )
    if (block["config"] == "default").all():  # nothing but Keras' defaults was tried
        cell += " (no other configuration run)"
    contenders = tuple(ranking["contenders"]) if ranking is not None and not decided else ()
    if contenders and not no_pairs:
        rows = block[labels(block).isin(contenders)].sort_values("times_fastest")
        shown = [f"{esc(label(r))} {r['times_fastest']:.2f}×" for _, r in rows.head(2).iterrows()]
        more = len(rows) - len(shown)
        cell += (
            "; never on one machine with it: "
            + ", ".join(shown)
            + (f" and {more} more" if more else "")
            + " (across machines)"
        )
    return cell


def _learned_cell(rows: pd.DataFrame) -> str:
    """The final metric per backend (its `default` runs, else every run of it): 'jax 0.9846 · ...'."""
    if rows.apply(is_generated, axis=1).any():
        return "not compared (generated data)"
    parts = []
    for backend, own in rows.groupby("backend", sort=False):
        pick = own[own["config"] == "default"]
        values = (pick if not pick.empty else own)["final_metric"].astype(float)
        values = values[np.isfinite(values)]
        if values.size:
            parts.append(f"{esc(backend)} {values.mean():.4f}")
    bad = rows[rows["not_learning_runs"] > 0]
    if not bad.empty:
        parts.append("did not learn: " + esc(", ".join(label(r) for _, r in bad.iterrows())))
    return " · ".join(parts) or "–"


def hardware_in_short(hardware: str) -> str:
    """A source's machines for a caption: 'NVIDIA H200 (6 machines, named under Sources)' where
    runs came from several (each machine_id: a GPU with its UUID, or a model on a host)."""
    machines = hardware.split(" / ")
    if len(machines) == 1:
        return hardware
    models = dict.fromkeys(m.split(" GPU-")[0].split(" on ")[0] for m in machines)
    return f"{' / '.join(models)} ({len(machines)} machines, named under Sources)"


def answer_table(summary, learned=None) -> Html:
    """The question answered in one line per workload, for the first screen: the fastest backend
    as shipped (`default`), the fastest configuration Keras itself offers, and the final metric
    each backend reached, with whether they learn the same where `kerasbench parity` ran
    (`learned`: {workload: phrase}, report.parity.first_screen). The verdict table below has
    every row's interval and runs."""
    table = keras_rows(summary)
    if table.empty:
        return Html("")
    # Figures from fewer runs than an interval needs are marked where the study has enough
    # elsewhere: a first screen that mixes 3-run and 1-run lines must say which is which.
    mark = {s: (b["runs"] >= stats.MIN_RUNS).any() for s, b in table.groupby("source")}
    rows = []
    for (source, workload), block in table.groupby(["source", "workload"], sort=False):
        fastest = _fastest_cell(summary, source, workload, block, mark[source])
        shipped = _as_shipped_cell(
            summary,
            source,
            workload,
            block[block["config"] == "default"],
            mark[source],
            not_run=_not_run_parts(summary, source, workload),
        )
        metric = metric_label(block["final_metric_name"].iloc[0]).split(" (")[0]
        same = (learned or {}).get(workload)
        rows.append(
            f"<tr><td><a href='#wl-{esc(workload)}'>{esc(naming.workload_title(workload))}</a>"
            f"</td><td>{shipped}</td>"
            f"<td>{fastest}</td><td>{_learned_cell(block)} "
            f"<span class='kb-muted'>{esc(metric)}</span>"
            + (f"<br>parity: {esc(same)}" if same else "")
            + "</td></tr>"
        )
    # A workload no backend ran ok still gets its line: what stopped each backend.
    answered = set(zip(table["source"], table["workload"]))
    runs = summary.study.runs
    for (source, workload), _ in runs[~runs["reference"].astype(bool)].groupby(
        ["source", "workload"], sort=False
    ):
        parts = _not_run_parts(summary, source, workload)
        if (source, workload) not in answered and parts:
            rows.append(
                f"<tr><td>{esc(naming.workload_title(workload))}</td><td colspan='3'>"
                + "; ".join(parts)
                + "</td></tr>"
            )
    # The 2017 workloads this study has no run of still get a line, so that a partial study
    # says what it leaves out on its first screen instead of answering for fewer workloads; a
    # study of model files only is not framed around them.
    measured = set(table["workload"]) | set(runs["workload"])
    for workload in registry.WORKLOADS if measured & set(registry.WORKLOADS) else ():
        if workload not in measured:
            rows.append(
                f"<tr><td>{esc(naming.workload_title(workload))}</td><td colspan='3'>"
                "<span class='kb-muted'>no runs here (not measured in this study)</span></td></tr>"
            )
    return Html(
        STYLE + "<table class='kb-table' id='kb-answer'><thead><tr><th>workload</th>"
        "<th>fastest backend as shipped (<code>default</code>)</th>"
        "<th>fastest with Keras' own settings</th><th>final metric by backend"
        + ("; do they learn the same? (<code>kerasbench parity</code>)" if learned else "")
        + "</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def verdict_table(summary) -> Html:
    """The answer: per workload a one-sentence verdict (fastest in bold), then one row per backend
    and configuration: s/epoch, × the workload's fastest with its paired interval, final metric
    (mean and range over runs), runs, and what makes the row not comparable (which rows and
    where each caveat goes: rules.verdict_layout)."""
    table = keras_rows(summary)
    if table.empty:
        return Html(STYLE + "<p><em>No results in the runs folder.</em></p>")
    parts = [STYLE]
    for source, block in table.groupby("source", sort=False):
        layout = rules.verdict_layout(summary, source, block)
        parts.append(
            f"<p class='kb-caption'>{' · '.join(_verdict_caption(summary, source, layout))}</p>"
            "<table class='kb-table kb-verdict-table' id='kb-verdict'><thead><tr>"
            "<th>backend config</th><th>s / epoch</th>"
            f"<th>× fastest [{level_text(summary)} CI], blocks</th><th>final metric: mean (min–max over runs)</th>"
            "<th>runs</th>"
            + ("<th>not comparable because</th>" if layout.per_row else "")
            + "</tr></thead><tbody>"
        )
        for workload, rows in layout.rows.groupby("workload", sort=False):
            parts.append(_verdict_row(summary, source, workload, rows, layout))
            parts.extend(
                _result_row(row, layout.own[i], layout.per_row) for i, row in rows.iterrows()
            )
        parts.append("</tbody></table>")
    return Html("".join(parts))


def _verdict_caption(summary, source, layout) -> list:
    """The parts of a source's caption: its hardware and profile, the backends it has no runs
    of, the references, and what every row shares."""
    block = layout.rows
    info = {s.label: s for s in summary.study.sources}.get(source)
    profiles = rundata.joined(block["profile"]) or "–"
    caption = [f"<b>{esc(source)}</b>"]
    if info is not None and info.hardware:
        caption.append(esc(hardware_in_short(info.hardware)))
    caption.append(f"profile {esc(profiles)}")
    missing = [b for b in registry.BACKENDS if b not in set(block["backend"])]
    if missing:
        caption.append("no runs of " + esc(", ".join(missing)))
    references = [s.label for s in summary.study.sources if s.reference]
    if references:
        caption.append("references (as ratios, below): " + esc(", ".join(references)))
    if layout.no_interval:
        caption.append(
            f"<span class='kb-caveat-all'>fewer than {stats.MIN_RUNS} runs per row: "
            "no intervals</span>"
        )
    if layout.common:
        caption.append(
            "<span class='kb-caveat-all'>every row: " + esc("; ".join(layout.common)) + "</span>"
        )
    return caption


def _verdict_row(summary, source, workload, rows, layout) -> str:
    """A workload's verdict row: its title and metric, the caveats all its rows share, the
    verdict sentence, and how many lever rows wait in All rows."""
    verdict = verdict_of(summary, source, workload)
    sentence = ""
    if not verdict.empty:
        v = verdict.iloc[0]
        sentence = (
            f"<b>{esc(v['fastest'])}</b> {esc(v['text'])}" if v["fastest"] else esc(v["text"])
        )
    metric = metric_label(rows["final_metric_name"].iloc[0])
    shared = layout.shared[workload]
    flag = (
        " <span class='kb-caveat-all'>(every row: " + esc("; ".join(shared)) + ")</span>"
        if shared
        else ""
    )
    more = int(layout.hidden.get(workload, 0))
    more = (
        f" <span class='kb-muted'>{more} more lever row{'s' * (more != 1)}: "
        "<a href='#All-rows'>All rows</a>.</span>"
        if more
        else ""
    )
    columns = 6 if layout.per_row else 5
    return (
        f"<tr class='kb-verdict'><td colspan='{columns}'><b>{esc(naming.workload_title(workload))}</b>"
        f" <span class='kb-muted'>({esc(metric)})</span>{flag}: {sentence}{more}</td></tr>"
    )


def _result_row(row, own: list, per_row: bool) -> str:
    """One backend and configuration of the verdict table (the fastest in bold)."""
    best = label(row) == row["fastest"]
    return (
        f"<tr class='{'kb-best' if best else ''}'><td>{esc(label(row))}</td>"
        f"<td class='num'>{fmt(row['mean_epoch_seconds'])}</td>"
        f"<td class='num'>{esc(_times_cell(row))}</td>"
        f"<td class='num'>{esc(_final_cell(row))}</td>"
        f"<td class='num'>{int(row['runs'])}</td>"
        + (f"<td class='kb-caveat'>{esc('; '.join(own))}</td>" if per_row else "")
        + "</tr>"
    )


def detail_table(summary) -> Html:
    """Every row of every source (summary.csv has all columns at full precision)."""
    table = summary.table
    if table.empty:
        return Html(STYLE + table_html(table, "No results."))

    def interval(row):
        if finite(row["ci_low"]):
            return f"{fmt(row['ci_low'])} – {fmt(row['ci_high'])} ({level_text(summary)} CI, {row['ci_method']})"
        if finite(row["spread_low"]):
            return f"{fmt(row['spread_low'])} – {fmt(row['spread_high'])} (epoch spread, not a CI)"
        return "–"

    view = pd.DataFrame(
        {
            "workload": [naming.workload_title(w) for w in table["workload"]],
            "source": table["source"],
            "backend config": [label(r) for _, r in table.iterrows()],
            "runs": table["runs"],
            "epochs": table["epochs"],
            "s / epoch": [fmt(v) for v in table["mean_epoch_seconds"]],
            "interval": [interval(r) for _, r in table.iterrows()],
            "mean over": table["mean_basis"],
            "first epoch apart": [fmt(v) for v in table["mean_after_first"]],
            "first epoch s": [fmt(v) for v in table["warmup_seconds"]],
            "× fastest": [_times_cell(r) for _, r in table.iterrows()],
            "final metric": [_final_cell(r) for _, r in table.iterrows()],
            "data": table["data_source"].fillna("–"),
        }
    )
    return Html(STYLE + table_html(view, "No results."))


def references_html(summary) -> str:
    """What the references of this report are, from the summary: each one's label, hardware and
    backends ('<b>2017 K80 (Keras 2.0)</b> (one NVIDIA Tesla K80 GPU): tensorflow, cntk'), or a
    line saying there is none."""
    table = summary.table
    items = []
    for source in summary.study.sources:
        if not source.reference:
            continue
        rows = table[table["reference"] & (table["source"] == source.label)]
        backends = ", ".join(esc(b) for b in dict.fromkeys(rows["backend"]))
        hardware = f" ({esc(source.hardware)})" if source.hardware else ""
        items.append(f"<b>{esc(source.label)}</b>{hardware}: {backends or 'no rows'}")
    if not items:
        return "<p class='kb-caption'>No reference in this report.</p>"
    what = "The reference here" if len(items) == 1 else "The references here"
    return f"<p class='kb-caption'>{what}: " + "; ".join(items) + ".</p>"


def then_and_now_table(summary) -> Html:
    """Each reference's ratio between two backends beside this study's ratio of the same pair,
    each side with the hardware it ran on (a GPU's ratio beside a CPU's is said to be one),
    after a line naming the references (references_html)."""
    frame = summary.then_and_now
    if frame is None or frame.empty:
        return Html(
            STYLE
            + references_html(summary)
            + "<p><em>No backend ran both in a reference and here.</em></p>"
        )
    hardware = {s.label: s.hardware for s in summary.study.sources}
    then = [hardware.get(r) or "hardware not recorded" for r in frame["reference"]]
    now = [
        rules.study_hardware(summary.study.runs, s, w, (n, d))
        for s, w, n, d in zip(
            frame["source"], frame["workload"], frame["numerator"], frame["denominator"]
        )
    ]
    view = pd.DataFrame(
        {
            "workload": [naming.workload_title(w) for w in frame["workload"]],
            "ratio of s/epoch": [
                f"{n} ÷ {d}" for n, d in zip(frame["numerator"], frame["denominator"])
            ],
            "then: a reference, on its hardware (epochs after the first)": [
                f"{r}, {h}: {v:.2f}×"
                for r, h, v in zip(frame["reference"], then, frame["reference_ratio"])
            ],
            "now: this study, on its hardware": [
                f"{h}: " + notes_mod.ratio_text(r, lo, hi, p)
                for h, r, lo, hi, p in zip(
                    now, frame["ratio"], frame["low"], frame["high"], frame["pairing"]
                )
            ],
            "runs here (numerator / denominator)": frame["runs"],
        }
    )
    return Html(STYLE + references_html(summary) + _kinds_differ(then, now) + table_html(view, ""))


def _kinds_differ(then: list, now: list) -> str:
    """A line where a ratio measured on a GPU stands beside one measured on a CPU."""
    pairs = {(rules.hardware_kind(a), rules.hardware_kind(b)) for a, b in zip(then, now)}
    mixed = sorted({(a, b) for a, b in pairs if a and b and a != b})
    if not mixed:
        return ""
    said = "; ".join(f"then on a {a}, now on a {b}" for a, b in mixed)
    said = said[0].upper() + said[1:]
    return (
        f"<p class='kb-caption kb-caveat-all'>⚑ {esc(said)}: the two ratios come from different "
        "kinds of hardware, not only different years and versions, so they differ for that "
        "reason too.</p>"
    )


def floor_table(summary) -> Html:
    """Every Keras configuration as a multiple of the floor (the fastest native loop)."""
    table = summary.table
    rows = table[np.isfinite(table["times_floor"].astype(float))]
    if rows.empty:
        return Html(STYLE + table_html(rows, "No native loops ran beside these runs."))
    view = pd.DataFrame(
        {
            "workload": [naming.workload_title(w) for w in rows["workload"]],
            "backend config": [label(r) for _, r in rows.iterrows()],
            "runs": rows["runs"],
            "s / epoch": [fmt(v) for v in rows["mean_epoch_seconds"]],
            "floor": [f"{b}: {fmt(v)} s" for b, v in zip(rows["floor"], rows["floor_seconds"])],
            f"× floor [{level_text(summary)} CI], blocks": [
                notes_mod.ratio_text(
                    r["times_floor"],
                    r["times_floor_low"],
                    r["times_floor_high"],
                    r["floor_pairing"],
                )
                for _, r in rows.iterrows()
            ],
        }
    )
    return Html(STYLE + table_html(view, "No native loops ran beside these runs."))


def environment_tables(summary) -> Html:
    """One table per source: run.json fields down, backends across."""
    env = machines.environment(summary.study)
    if env.empty:
        return Html(STYLE + table_html(env, "No environment recorded."))
    parts = [STYLE]
    for source, block in env.groupby("source", sort=False):
        backends = list(dict.fromkeys(block["backend"]))
        wide = block.pivot_table(
            index="field", columns="backend", values="value", aggfunc="first", sort=False
        ).reindex(columns=backends)
        wide.columns.name = None
        parts.append(f"<h4>{esc(source)}</h4>")
        parts.append(table_html(wide.reset_index(), "No environment recorded."))
    return Html("".join(parts))


def problem_runs_table(summary) -> Html:
    """Failed, timed-out, NaN and unfinished runs with their status and error."""
    view = rundata.problem_runs(summary.study.runs).rename(columns={"n_epochs": "epochs logged"})
    return Html(STYLE + table_html(view, "None: every run finished with status ok."))
