"""The report's HTML tables, built from a `summary.Summary`; no statistics here.

Each workload's verdict and rows (`verdict_table`; the first screen above it is report.grid),
every row (`detail_table`), then and now, the floor, the environment and the runs that failed.
Every value from a runs folder or a reference passes `style.esc`.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from kerasbench import registry
from kerasbench.report import notes as notes_mod
from kerasbench.report import grid_data, rules, rundata, stats
from kerasbench.report.notes import fmt, level_text, metric_label
from kerasbench.report.rules import (
    finite,
    is_generated,
    is_true,
    keras_rows,
    label,
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
    if row.get("metric_runs", row["runs"]) > 1 and finite(row["final_metric_min"]):
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


def hardware_in_short(hardware: str) -> str:
    """A source's machines for a caption: 'NVIDIA H200 (6 machines, named under Sources)' where
    runs came from several (each machine_id: a GPU with its UUID, or a model on a host)."""
    machines = hardware.split(" / ")
    if len(machines) == 1:
        return hardware
    models = dict.fromkeys(m.split(" GPU-")[0].split(" on ")[0] for m in machines)
    return f"{' / '.join(models)} ({len(machines)} machines, named under Sources)"


def verdict_table(summary, parity_folder=None) -> Html:
    """The answer: per workload a one-sentence verdict (fastest in bold), then one row per backend
    and configuration: s/epoch, × the workload's fastest with its paired interval, final metric
    (mean and range over runs), runs, and what makes the row not comparable (which rows and
    where each caveat goes: rules.verdict_layout). `parity_folder` (what `kerasbench parity`
    wrote): a backend that learns differently is named in its workload's verdict, with its final
    metric beside the others' (learning_sentence)."""
    learning = grid_data.learning_cells(grid_data.learning_groups_in(parity_folder))
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
            parts.append(_verdict_row(summary, source, workload, rows, layout, learning))
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


def learning_sentence(workload, rows, learning) -> str:
    """'kerasbench parity: tensorflow learns differently (weights of embedding); its test
    accuracy 0.8798 against 0.9051–0.9059 on the others.' for each backend of `workload` that
    parity found learning differently (`learning`: grid_data.learning_cells), its final metric
    as shipped beside the other backends' (left out on generated data); where no two backends
    agree, one sentence says so with each one's metric; "" where none differs."""
    defaults = rows[rows["config"] == "default"]
    mine = {b: v for (w, b), v in learning.items() if w == workload}
    differing = [b for b, (kind, _) in mine.items() if kind == "differs"]
    if len(differing) > 1 and all(kind == "differs" for kind, _ in mine.values()):
        return _none_agree(workload, defaults, differing, mine)
    said = []
    for backend in differing:
        sentence = f"kerasbench parity: {backend} {mine[backend][1]}"
        own = defaults[defaults["backend"] == backend]
        others = defaults[defaults["backend"] != backend]["final_metric"].astype(float)
        others = others[np.isfinite(others)]
        if len(own) and finite(own["final_metric"].iloc[0]) and len(others):
            if not is_generated(own.iloc[0]):
                what = notes_mod.metric_words(workload, own["final_metric_name"].iloc[0])
                low, high = f"{others.min():.4f}", f"{others.max():.4f}"
                sentence += (
                    f"; its {what} {own['final_metric'].iloc[0]:.4f} against "
                    f"{low if low == high else low + '–' + high} on the others"
                )
        said.append(sentence + ".")
    return " ".join(said)


def _none_agree(workload, defaults, backends, learning) -> str:
    """'kerasbench parity: no two of tensorflow, jax, torch learn the same (weights of
    embedding); their final training loss 1.2407, 1.2833, 1.2789.': one sentence, not one per
    backend, where every backend checked differs from every other (the layers: the first named)."""
    layers = next(
        (w[w.index("(") : w.index(")") + 1] for _, w in learning.values() if "(" in w), ""
    )
    sentence = "kerasbench parity: no two of %s learn the same%s" % (
        ", ".join(backends),
        " " + layers if layers else "",
    )
    metrics = []
    for backend in backends:
        own = defaults[defaults["backend"] == backend]
        if not len(own) or not finite(own["final_metric"].iloc[0]) or is_generated(own.iloc[0]):
            metrics = []
            break
        metrics.append(float(own["final_metric"].iloc[0]))
    if metrics:
        what = notes_mod.metric_words(workload, defaults["final_metric_name"].iloc[0])
        sentence += "; their %s %s" % (what, ", ".join(f"{m:.4f}" for m in metrics))
    return sentence + "."


def _verdict_row(summary, source, workload, rows, layout, learning=None) -> str:
    """A workload's verdict row: its title and metric, the caveats all its rows share, the
    verdict sentence, what parity found where a backend learns differently, and how many lever
    rows wait in All rows."""
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
    parity_said = learning_sentence(workload, rows, learning or {})
    if parity_said:
        sentence += f" <span class='kb-caveat-all'>{esc(parity_said)}</span>"
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


def _runs_cell(row) -> str:
    """'3', or '3 (2 timing)' where some are timing blocks' runs."""
    return f"{int(row['runs'])}" + notes_mod.timing_words(row.get("timing_runs"))


def _result_row(row, own: list, per_row: bool) -> str:
    """One backend and configuration of the verdict table (the fastest in bold)."""
    best = label(row) == row["fastest"]
    return (
        f"<tr class='{'kb-best' if best else ''}'><td>{esc(label(row))}</td>"
        f"<td class='num'>{fmt(row['mean_epoch_seconds'])}</td>"
        f"<td class='num'>{esc(_times_cell(row))}</td>"
        f"<td class='num'>{esc(_final_cell(row))}</td>"
        f"<td class='num'>{esc(_runs_cell(row))}</td>"
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
            "runs": [_runs_cell(r) for _, r in table.iterrows()],
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
    after a line naming the references (references_html); then each backend that ran in both on
    its own (same_backend_html)."""
    frame = summary.then_and_now
    alone = same_backend_html(summary)
    if frame is None or frame.empty:
        return Html(
            STYLE
            + references_html(summary)
            + (
                "<p><em>No pair of backends ran both in a reference and here.</em></p>" + alone
                if alone
                else "<p><em>No backend ran both in a reference and here.</em></p>"
            )
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
    return Html(
        STYLE + references_html(summary) + _kinds_differ(then, now) + table_html(view, "") + alone
    )


def same_backend_html(summary) -> str:
    """Each backend that ran a workload in a reference and here, on its own: its time over the
    fastest of its day then and now, and the speed-up of the same workload from the reference's
    hardware and versions to this study's (summary.same_backend); "" where there is none."""
    frame = summary.same_backend
    if frame is None or frame.empty:
        return ""
    hardware = {s.label: s.hardware for s in summary.study.sources}
    then = [hardware.get(r) or "hardware not recorded" for r in frame["reference"]]
    now = [
        rules.study_hardware(summary.study.runs, s, w, (b,))
        for s, w, b in zip(frame["source"], frame["workload"], frame["backend"])
    ]

    def now_text(r):
        if not finite(r["times_fastest"]):
            return "–"
        if r["times_fastest"] == 1.0 and r["fastest"] == f"{r['backend']} default":
            return "1 (the fastest)"
        low, high = r["times_fastest_low"], r["times_fastest_high"]
        return notes_mod.ratio_text(r["times_fastest"], low, high, r["pairing"]).replace(
            "×", f"× {r['fastest'].replace(' default', '')}'s", 1
        )

    view = pd.DataFrame(
        {
            "workload": [naming.workload_title(w) for w in frame["workload"]],
            "backend": frame["backend"],
            "then: × the fastest of its day": [
                f"{h}: {v:.2f}× {f}'s" if f != b else f"{h}: 1 (the fastest)"
                for h, v, f, b in zip(
                    then, frame["then_times_fastest"], frame["then_fastest"], frame["backend"]
                )
            ],
            "now: × the fastest as shipped here": [
                f"{h}: {now_text(r)}" for h, (_, r) in zip(now, frame.iterrows())
            ],
            "the same workload, then → now": [
                f"{v:.2f}× faster ({b})" if finite(v) else f"– ({b})"
                for v, b in zip(frame["speedup"], frame["speedup_basis"])
            ],
        }
    )
    return (
        "<p class='kb-caption'>The backends that ran in a reference and here, each on its own: "
        "its seconds per epoch over the fastest backend of its day, then and now, and how much "
        "faster the same workload trains on it here than it did in the reference. The hardware, "
        "Keras and the framework all changed between the two, so the speed-up is theirs together, "
        "never a comparison of backends.</p>" + table_html(view, "")
    )


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
