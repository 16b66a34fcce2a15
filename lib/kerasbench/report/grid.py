"""The report's first screen: the grid benchmark readers expect (keras.io's Keras 3 benchmarks,
MLPerf results): the hardware and its load above, workloads as rows and backends as columns,
2 to 4 key findings below, then the `tuned` configuration in a grid of its own (as MLPerf keeps
its open division apart: it never wins the first grid). What each cell holds and how it is
decided: report.grid_data. `first_screen` is what notebooks/analysis.ipynb displays first.

Every text from a runs folder is escaped; links to run folders are relative paths, quoted.
"""

from __future__ import annotations

import html
import math
import os
from urllib.parse import quote

import pandas as pd

from kerasbench.report import grid_data as data
from kerasbench import registry
from kerasbench.report import notes, rundata, stats
from kerasbench.report.grid_data import DEFAULT, OPTIMISED
from kerasbench.report import naming

# Jupyter's page styles every table (right-aligned, fixed layout): each rule here is written for
# the exported page (.jp-RenderedHTMLCommon) as well as for a plain one.
_RULES = {
    # fixed layout: the backends' columns share the width evenly, beside a workload column
    "table.kb-grid": "border-collapse:collapse;font-size:13px;margin:0.2em 0;line-height:1.35;"
    "table-layout:fixed;width:100%",
    "table.kb-grid col.kb-workload": "width:14em",
    "table.kb-grid th,table.kb-grid td": "border:1px solid #ccc;padding:3px 8px;"
    "text-align:left;vertical-align:top",
    "table.kb-grid th": "background:#f3f3f3",
    "table.kb-grid td.kb-cell": "font-variant-numeric:tabular-nums",
    "table.kb-grid caption": "caption-side:top;text-align:left;font-size:14px;padding:0.3em 0",
    ".kb-grid .kb-muted": "color:#666",
    ".kb-grid .kb-same": "color:#1a6b2f",
    ".kb-grid .kb-differs,.kb-grid .kb-warn": "color:#a04a00",
    "p.kb-hardware": "font-size:14px;margin:0.2em 0",
    "ul.kb-findings": "font-size:14px;margin:0.3em 0 0.8em 0",
    "p.kb-legend": "font-size:12px;color:#555;margin:0.1em 0",
}
STYLE = (
    "<style>"
    + "".join(
        ",".join(f"{s},.jp-RenderedHTMLCommon {s}" for s in selectors.split(",")) + "{" + rule + "}"
        for selectors, rule in _RULES.items()
    )
    + "</style>"
)


class Html(str):
    """A block of HTML the notebook displays as is."""

    def _repr_html_(self) -> str:
        return str(self)


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def hardware_html(entries, profiles=None) -> str:
    """The line above the grid: each machine model, its cores, how many machines, its load; the
    study's profile (`profiles`: e.g. "quick")."""
    parts = []
    for entry in entries:
        name = f"{entry['model']} {entry['kind']}"
        if entry["kind"] == "CPU" and entry["cores"]:
            name += f", {data.joined(entry['cores'])} cores"
        machines = len(entry["machines"])
        if machines > 1:
            name += f", {machines} machines"
        if entry["kind"] == "GPU" and entry["host_cpu"]:
            name += (
                f" (host CPU {data.joined(entry['host_cpu'])}, {data.joined(entry['cores'])} cores)"
            )
        parts.append(f"<b>{_e(name)}</b>; {_e(data.load_text(entry))}")
    several = " (several kinds of machine)" if len(parts) > 1 else ""
    if profiles:
        parts.append(f"profile {_e(profiles)}")
    return f"<p class='kb-hardware'>Ran on{several}: " + " · ".join(parts) + "</p>"


# ---------------------------------------------------------------------------------------------
# The page


def _href(path, page_dir) -> str:
    """A relative, quoted link to a folder (escaped for an attribute)."""
    shown = os.path.relpath(path, page_dir) if page_dir else path
    return _e(quote(shown.replace(os.sep, "/")) + "/")


def _runs_link(cell, page_dir) -> str:
    paths = cell.get("paths") or []
    if not paths:
        return ""
    n = int(cell.get("runs") or 0)
    words = notes.runs_words(n, cell.get("timing_runs")) if n else "runs"
    return f"<a href='{_href(os.path.dirname(paths[0]), page_dir)}'>{words}</a>"


def _ratio_html(cell) -> str:
    if cell.get("fastest"):
        if cell.get("decided"):
            return "fastest"
        return (
            "fastest of those it ran beside, not decided"
            if cell.get("fastest_paired")
            else "lowest, not decided"
        )
    if not data.finite(cell.get("ratio")):
        return ""
    text = notes.ratio_text(cell["ratio"], cell.get("low"), cell.get("high"), None)
    call = cell.get("call")
    if call in notes.TOO_CLOSE:
        text += " (too close to call)"
    elif call == "unpaired":
        text += " (not paired)"
    return _e(text)


def _over_default_html(cell) -> str:
    c = cell.get("over_default")
    if not isinstance(c, dict) or not data.finite(c.get("ratio")):
        return ""
    r = c["ratio"]
    text = f"{1 / r:.2f}× faster than default" if r <= 1 else f"{r:.2f}× slower than default"
    if not notes.is_true(c["paired"]):
        text += " (not paired)"
    elif c.get("call") in notes.TOO_CLOSE:
        text += " (too close to call)"
    return _e(text)


def cell_html(cell, learning=None, page_dir=None) -> str:
    """One cell: 's/epoch · ms/step' (bold where decided fastest), the ratio to the fastest (or,
    tuned, to its default), the metric and the runs, then the learning verdict (`learning`:
    (kind, words), "not checked" where None; a tuned cell has none)."""
    runs = _runs_link(cell, page_dir)
    if not data.finite(cell.get("seconds")):
        status = _e(cell.get("status") or "not run")
        title = f" title='{_e(cell['cause'])}'" if cell.get("cause") else ""
        return f"<td class='kb-cell kb-muted'{title}>{status}{' · ' + runs if runs else ''}</td>"
    head = f"{notes.fmt(cell['seconds'])} s/epoch"
    if data.finite(cell.get("ms_step")):
        head += f" · {notes.fmt(cell['ms_step'])} ms/step"
    if cell.get("fastest") and cell.get("decided"):
        head = f"<b>{head}</b>"
    if cell.get("generated"):
        metric = "generated data"
    else:
        metric = f"{cell['metric']:.4f}" if data.finite(cell.get("metric")) else ""
    parts = [_ratio_html(cell), _over_default_html(cell), _e(metric), runs]
    if cell.get("not_learning"):
        parts.append("<span class='kb-warn'>did not learn</span>")
    lines = [head, "<span class='kb-muted'>" + " · ".join(p for p in parts if p) + "</span>"]
    if cell.get("config") == DEFAULT:
        kind, words = learning or ("none", "learning not checked")
        style = {"same": "kb-same", "differs": "kb-differs"}.get(kind, "kb-muted")
        lines.append(f"<span class='{style}'>{_e(words)}</span>")
    return "<td class='kb-cell'>" + "<br>".join(lines) + "</td>"


def _workload_html(workload, block, page_dir) -> str:
    metric = notes.metric_words(workload, None)
    if "metric_name" in block.columns and block["metric_name"].notna().any():
        metric = notes.metric_words(workload, block["metric_name"].dropna().iloc[0])
    paths = [p for ps in block["paths"] for p in ps]
    link = (
        f" · <a href='{_href(os.path.dirname(os.path.dirname(paths[0])), page_dir)}'>runs</a>"
        if paths
        else ""
    )
    return (
        f"<td><a href='#wl-{_e(workload)}'>{_e(naming.workload_title(workload))}</a><br>"
        f"<span class='kb-muted'>{_e(metric)}{link}</span></td>"
    )


def grid_html(table: pd.DataFrame, learning: dict, page_dir, caption: str, table_id: str) -> str:
    """A grid of `cells`: workloads as rows, backends as columns."""
    backends = data.ordered(table["backend"], "backend")
    rows = []
    for workload in data.ordered(table["workload"], "workload"):
        block = table[table["workload"] == workload]
        row = [_workload_html(workload, block, page_dir)]
        for backend in backends:
            own = block[block["backend"] == backend]
            if own.empty:
                row.append(f"<td class='kb-cell kb-muted'>{_e(_left_out(block, backend))}</td>")
                continue
            cell = {k: v for k, v in own.iloc[0].items() if not _missing(v)}
            row.append(cell_html(cell, learning.get((workload, backend)), page_dir))
        rows.append("<tr>" + "".join(row) + "</tr>")
    head = "".join(f"<th>{_e(b)}</th>" for b in backends)
    return (
        f"<table class='kb-grid' id='{table_id}'><caption>{caption}</caption>"
        f"<colgroup><col class='kb-workload'>{'<col>' * len(backends)}</colgroup>"
        f"<thead><tr><th>workload</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _left_out(block: pd.DataFrame, backend) -> str:
    """What a workload's cell of a backend with no run of it says: 'not run (the file runs on
    tensorflow only)' where a model file's BACKENDS leaves the backend out."""
    declared = next((d for d in block["only_on"] if isinstance(d, list) and d), None)
    if declared and backend not in declared:
        return f"not run (the file runs on {' and '.join(declared)} only)"
    return "not run"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def legend_html(table: pd.DataFrame, learned: bool) -> str:
    """How to read the grid, in one small paragraph: the units, the ratio, bold, the runs."""
    runs = sorted({int(n) for n in table["runs"]}) if len(table) else [0]
    few = runs[-1] < stats.MIN_RUNS
    parts = [
        "s/epoch: a steady epoch (epochs after the first, validation included)",
        "ms/step: its training part over ceil(train samples / batch size) steps",
        "×: time over the workload's fastest, within blocks (one repeat on one machine)"
        + ("" if few else f", [interval] from {stats.MIN_RUNS} blocks"),
        "bold: fastest on paired evidence",
        "learning: <code>kerasbench parity</code> (the same initial weights and batches on "
        "every backend)" + ("" if learned else ", not run in this study"),
    ]
    if few:
        shown = f"{runs[0]}" if len(runs) == 1 else f"{runs[0]}–{runs[-1]}"
        parts.append(f"{shown} run{'s' * (runs[-1] != 1)} per cell, so no interval")
    if len(table) and "timing_runs" in table and table["timing_runs"].fillna(0).astype(int).any():
        parts.append(
            "timing: runs of timing blocks (fewer epochs), counted in the times and not in "
            "the accuracy"
        )
    return "<p class='kb-legend'>" + " · ".join(parts) + ".</p>"


def _not_measured_html(table: pd.DataFrame) -> str:
    """The 2017 workloads the study has no run of, in one line (a partial study says so)."""
    measured = set(table["workload"]) if len(table) else set()
    if not measured & set(registry.WORKLOADS):
        return ""
    left = [naming.workload_title(w) for w in registry.WORKLOADS if w not in measured]
    if not left:
        return ""
    return "<p class='kb-legend'>2017 workloads not in this study: " + _e(", ".join(left)) + ".</p>"


def first_screen(summary, parity_folder=None, page_dir=None) -> Html:
    """The first screen: the hardware and its load, the `default` grid with each cell's learning
    verdict (`parity_folder`: what `kerasbench parity` wrote), the key findings, then the `tuned`
    grid apart. `page_dir`: the folder of the page, which the run links are relative to."""
    records = data.run_records(summary.study)
    default = data.cells(summary, DEFAULT, records)
    tuned = data.cells(summary, OPTIMISED, records)
    groups = data.learning_groups_in(parity_folder)
    learning = data.learning_cells(groups)
    shown = (
        pd.concat([t for t in (default, tuned) if len(t)]) if len(default) + len(tuned) else None
    )
    if shown is None:
        return Html(STYLE + "<p><em>No Keras runs in this study.</em></p>")
    ok_ids = {run_id for ids, n in zip(shown["run_ids"], shown["runs"]) for run_id in ids if n}
    runs = summary.study.runs
    shown_runs = runs[runs["run_id"].isin(ok_ids) & runs["ok"].astype(bool)]
    entries = data.hardware(shown_runs, records)
    profiles = rundata.joined(shown_runs["profile"])
    parts = [STYLE, "<div class='kb-grid' id='kb-grid'>", hardware_html(entries, profiles)]
    if len(default):
        caption = (
            "<b>As shipped</b> (<code>default</code>: Keras' own defaults): seconds per epoch "
            "and milliseconds per step by workload and backend, and whether each learns the same"
        )
        parts += [
            grid_html(default, learning, page_dir, caption, "kb-grid-default"),
            legend_html(default, bool(groups)),
            _not_measured_html(default),
        ]
    found = data.findings(default, tuned, groups, entries)
    if found:
        parts.append(
            "<ul class='kb-findings'>" + "".join(f"<li>{_e(f)}</li>" for f in found) + "</ul>"
        )
    if len(tuned):
        caption = (
            "<b>Optimised</b> (<code>tuned</code>: the settings Keras offers for speed, "
            "params/configs.yaml), kept apart from the grid above as MLPerf keeps its open "
            "division: its own fastest in bold, each cell against its backend's default"
        )
        parts.append(grid_html(tuned, {}, page_dir, caption, "kb-grid-tuned"))
    return Html("".join(parts) + "</div>")
