"""Plotly figures and HTML blocks built from a `summary.Summary`; no statistics here.

Every legend entry of a chart has its own name (colours and looks: `style`). Reference sources
(2017) are never drawn in seconds beside today's: they appear as ratios to their own fastest, and
as dotted curves. Everything a runs folder, a reference, its `source.yaml` or a model file's name
brings reaches the page escaped (`style.esc`, `style.chart_text`), and the runs folder's README.md
is rendered by `study_notes_html`, which lets nothing run and loads nothing.
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import bleach
import numpy as np
import pandas as pd
from bleach.css_sanitizer import CSSSanitizer
from markdown_it import MarkdownIt
from markdown_it.token import Token

from kerasbench import registry
from kerasbench.report import notes as notes_mod
from kerasbench.report import rundata, stats
from kerasbench.report.figures import epoch_time_figure, metric_figure
from kerasbench.report.notes import fmt, level_text, metric_label
from kerasbench.report.rules import (
    finite,
    is_generated,
    is_true,
    keras_rows,
    label,
    labels,
    mine,
    verdict_of,
)
from kerasbench.report.style import (
    SAMPLE_STYLE,
    STYLE,
    Html,
    backend_colour,
    esc,
)
from kerasbench.report.summary import SCENARIOS

# ---------------------------------------------------------------------------------------------
# HTML blocks


def _table(frame: pd.DataFrame, empty: str) -> str:
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
    mine = mine[~mine["backend"].map(rundata.is_native)]
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
            if b not in declared and b not in set(mine["backend"]) and not rundata.is_native(b)
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
            f"<tr><td><a href='#wl-{esc(workload)}'>{esc(rundata.workload_title(workload))}</a>"
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
                f"<tr><td>{esc(rundata.workload_title(workload))}</td><td colspan='3'>"
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
                f"<tr><td>{esc(rundata.workload_title(workload))}</td><td colspan='3'>"
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
    (mean and range over runs), runs, and what makes the row not comparable."""
    table = keras_rows(summary)
    if table.empty:
        return Html(STYLE + "<p><em>No results in the runs folder.</em></p>")
    parts = [STYLE]
    sources = {s.label: s for s in summary.study.sources}
    for source, block in table.groupby("source", sort=False):
        caveats = {
            i: notes_mod.caveats(row, block[block["workload"] == row["workload"]])
            for i, row in block.iterrows()
        }
        # Issue 15's lever rows only where the verdict names one; the rest wait in "All rows".
        named = {
            (v["workload"], n)
            for _, v in summary.verdicts[summary.verdicts["source"] == source].iterrows()
            for n in v["named"]
        }
        shown = [
            not rundata.is_lever(row["config"]) or (row["workload"], label(row)) in named
            for _, row in block.iterrows()
        ]
        hidden = block[[not s for s in shown]].groupby("workload", sort=False).size()
        block = block[shown]
        caveats = {i: caveats[i] for i in block.index}
        no_interval = not (block["runs"] >= stats.MIN_RUNS).any()
        if no_interval:  # said once in the caption, not in every row
            caveats = {
                i: [c for c in v if not c.endswith("no interval")] for i, v in caveats.items()
            }
        common = [c for c in next(iter(caveats.values())) if all(c in v for v in caveats.values())]
        info = sources.get(source)
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
        if no_interval:
            caption.append(
                f"<span class='kb-caveat-all'>fewer than {stats.MIN_RUNS} runs per row: "
                "no intervals</span>"
            )
        if common:
            caption.append(
                "<span class='kb-caveat-all'>every row: " + esc("; ".join(common)) + "</span>"
            )
        # Caveats every row of a workload shares go to its verdict row; the column is for the rest.
        shared_by = {}
        for workload, rows in block.groupby("workload", sort=False):
            first = caveats[rows.index[0]]
            shared_by[workload] = [
                c
                for c in first
                if c not in common and len(rows) > 1 and all(c in caveats[i] for i in rows.index)
            ]
        per_row = any(
            c not in common and c not in shared_by[block.at[i, "workload"]]
            for i, v in caveats.items()
            for c in v
        )
        columns = 6 if per_row else 5
        parts.append(
            f"<p class='kb-caption'>{' · '.join(caption)}</p>"
            "<table class='kb-table kb-verdict-table' id='kb-verdict'><thead><tr>"
            "<th>backend config</th><th>s / epoch</th>"
            f"<th>× fastest [{level_text(summary)} CI], blocks</th><th>final metric: mean (min–max over runs)</th>"
            "<th>runs</th>"
            + ("<th>not comparable because</th>" if per_row else "")
            + "</tr></thead><tbody>"
        )
        for workload, rows in block.groupby("workload", sort=False):
            verdict = verdict_of(summary, source, workload)
            sentence = ""
            if not verdict.empty:
                v = verdict.iloc[0]
                sentence = (
                    f"<b>{esc(v['fastest'])}</b> {esc(v['text'])}"
                    if v["fastest"]
                    else esc(v["text"])
                )
            metric = metric_label(rows["final_metric_name"].iloc[0])
            shared = shared_by[workload]
            flag = (
                " <span class='kb-caveat-all'>(every row: " + esc("; ".join(shared)) + ")</span>"
                if shared
                else ""
            )
            more = int(hidden.get(workload, 0))
            more = (
                f" <span class='kb-muted'>{more} more lever row{'s' * (more != 1)}: "
                "<a href='#All-rows'>All rows</a>.</span>"
                if more
                else ""
            )
            parts.append(
                f"<tr class='kb-verdict'><td colspan='{columns}'><b>{esc(rundata.workload_title(workload))}</b>"
                f" <span class='kb-muted'>({esc(metric)})</span>{flag}: {sentence}{more}</td></tr>"
            )
            for i, row in rows.iterrows():
                best = label(row) == row["fastest"]
                own = [c for c in caveats[i] if c not in common and c not in shared]
                parts.append(
                    f"<tr class='{'kb-best' if best else ''}'><td>{esc(label(row))}</td>"
                    f"<td class='num'>{fmt(row['mean_epoch_seconds'])}</td>"
                    f"<td class='num'>{esc(_times_cell(row))}</td>"
                    f"<td class='num'>{esc(_final_cell(row))}</td>"
                    f"<td class='num'>{int(row['runs'])}</td>"
                    + (f"<td class='kb-caveat'>{esc('; '.join(own))}</td>" if per_row else "")
                    + "</tr>"
                )
        parts.append("</tbody></table>")
    return Html("".join(parts))


def _shown_path(folder) -> str:
    """A folder inside the repository as a path from its root (the committed reports stay
    readable on any checkout); anything else as it is."""
    try:
        return Path(folder).resolve().relative_to(Path(registry.ROOT).resolve()).as_posix()
    except (TypeError, ValueError):
        return str(folder)


def sources_html(summary) -> Html:
    """The sources of this report: this study's runs and each reference, with its hardware."""
    items = []
    for s in summary.study.sources:
        what = "reference" if s.reference else "runs"
        hardware = f" — {esc(s.hardware)}" if s.hardware else ""
        note = f"<br><span class='kb-muted'>{esc(s.notes)}</span>" if s.notes else ""
        items.append(
            f"<li><b>{esc(s.label)}</b> ({what}: <code>{esc(_shown_path(s.folder))}</code>)"
            f"{hardware}{note}</li>"
        )
    return Html(STYLE + "<ul>" + "".join(items) + "</ul>")


# ---------------------------------------------------------------------------------------------
# The runs folder's README.md
#
# Runs folders travel between people, and the page is what others open: the README may say
# anything, but nothing in it may run or load. Markdown is rendered by markdown-it-py with HTML
# off, so HTML written in the README is shown as text (<script> and all: the reader sees what was
# written, nothing is hidden). A link is kept where it is http(s), mailto or relative (relative to
# the runs folder, rebased to the page); any other (javascript:, data:, file:, //host) stays plain
# text. An image is shown only inlined: a data: URI of a PNG, JPEG, GIF or WebP, or such a file
# inside the runs folder (up to NOTES_IMAGE_MAX_BYTES), made a data: URI; any other image (a
# badge from the web, an SVG, a file outside the runs folder) is left out with a visible
# "[image left out: URL]". The HTML that comes out then passes bleach's allowlist of the tags
# and attributes Markdown makes (a second line of defence), and build.remote_references checks
# the whole page.

NOTES_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
NOTES_IMAGE_MAX_BYTES = 2_000_000
_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp)[;,]", re.IGNORECASE)
_NOTES_TAGS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "a", "em", "strong", "code",
    "pre", "blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "img", "s",
    "span",
}  # fmt: skip
_NOTES_ATTRIBUTES = {
    "a": ["href", "title"],
    "img": ["src", "alt", "title"],
    "th": ["style"],
    "td": ["style"],
    "span": ["class"],
    "ol": ["start"],
    "code": ["class"],
}


def _shown_url(url: str, limit: int = 100) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."


def notes_link(href: str, runs_dir=None, page_dir=None) -> str | None:
    """Where a README link may point on the page: http(s) with a host, mailto, or a relative
    path (rebased from runs_dir to page_dir where both are given); None for anything else."""
    url = href.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return url if parts.netloc else None
    if scheme == "mailto":
        return url
    if scheme or parts.netloc or url.startswith(("/", "\\")):
        return None  # another scheme, a host without one (//host), an absolute path
    if url.startswith("#") or runs_dir is None or page_dir is None:
        return url
    prefix = Path(os.path.relpath(Path(runs_dir).resolve(), Path(page_dir).resolve())).as_posix()
    return url if prefix == "." else quote(prefix) + "/" + url


def notes_image(src: str, runs_dir=None) -> str | None:
    """An image the page can show without loading anything: a data: URI of a PNG, JPEG, GIF or
    WebP as it is, or such a file inside runs_dir as a data: URI; None for anything else."""
    url = src.strip()
    if _DATA_IMAGE.match(url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme or parts.netloc or url.startswith(("/", "\\")) or runs_dir is None:
        return None
    root = Path(runs_dir).resolve()
    path = (root / unquote(parts.path)).resolve()
    kind = NOTES_IMAGE_TYPES.get(path.suffix.lower())
    try:
        if (
            kind is None
            or not path.is_relative_to(root)
            or not path.is_file()
            or path.stat().st_size > NOTES_IMAGE_MAX_BYTES
        ):
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _notes_markdown(runs_dir, page_dir) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    # Every link and image is parsed; the policy below decides, with the whole URL in hand.
    md.validateLink = lambda url: True

    def policy(state):
        for block in state.tokens:
            if block.type != "inline" or not block.children:
                continue
            kept, dropping = [], False
            for token in block.children:
                if token.type == "link_open":
                    target = notes_link(token.attrGet("href") or "", runs_dir, page_dir)
                    if target is None:  # its text stays, as plain text
                        dropping = True
                        continue
                    token.attrSet("href", target)
                elif token.type == "link_close" and dropping:
                    dropping = False
                    continue
                elif token.type == "image":
                    src = token.attrGet("src") or ""
                    inlined = notes_image(src, runs_dir)
                    if inlined is None:
                        token = Token("html_inline", "", 0)
                        token.content = (
                            "<span class='kb-muted'>[image left out: "
                            f"{html.escape(_shown_url(src))}]</span>"
                        )
                    else:
                        token.attrSet("src", inlined)
                kept.append(token)
            block.children = kept

    md.core.ruler.push("kerasbench_notes_policy", policy)
    return md


def notes_markdown_html(text: str, runs_dir=None, page_dir=None) -> str:
    """A README's Markdown as HTML that runs nothing and loads nothing (see above)."""
    rendered = _notes_markdown(runs_dir, page_dir).render(text or "")
    return bleach.clean(
        rendered,
        tags=_NOTES_TAGS,
        attributes=_NOTES_ATTRIBUTES,
        protocols={"http", "https", "mailto", "data"},
        css_sanitizer=CSSSanitizer(allowed_css_properties=["text-align"]),
        strip=True,
        strip_comments=True,
    )


def study_notes_html(study, page_dir=None) -> Html:
    """The runs folder's README.md (rundata.study_notes) for the page; nothing without one.
    page_dir: the folder of the page, for the README's relative links."""
    if not study.study_notes:
        return Html("")
    body = notes_markdown_html(study.study_notes, study.runs_dir, page_dir)
    return Html(STYLE + f"<div class='kb-notes'>{body}</div>")


def detail_table(summary) -> Html:
    """Every row of every source (summary.csv has all columns at full precision)."""
    table = summary.table
    if table.empty:
        return Html(STYLE + _table(table, "No results."))

    def interval(row):
        if finite(row["ci_low"]):
            return f"{fmt(row['ci_low'])} – {fmt(row['ci_high'])} ({level_text(summary)} CI, {row['ci_method']})"
        if finite(row["spread_low"]):
            return f"{fmt(row['spread_low'])} – {fmt(row['spread_high'])} (epoch spread, not a CI)"
        return "–"

    view = pd.DataFrame(
        {
            "workload": [rundata.workload_title(w) for w in table["workload"]],
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
    return Html(STYLE + _table(view, "No results."))


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
    after a line naming the references (references_html)."""
    frame = summary.then_and_now
    if frame is None or frame.empty:
        return Html(
            STYLE
            + references_html(summary)
            + "<p><em>No backend ran both in a reference and here.</em></p>"
        )
    view = pd.DataFrame(
        {
            "workload": [rundata.workload_title(w) for w in frame["workload"]],
            "ratio of s/epoch": [
                f"{n} ÷ {d}" for n, d in zip(frame["numerator"], frame["denominator"])
            ],
            "reference (epochs after the first)": [
                f"{r}: {v:.2f}×" for r, v in zip(frame["reference"], frame["reference_ratio"])
            ],
            "this study": [
                notes_mod.ratio_text(r, lo, hi, p)
                for r, lo, hi, p in zip(
                    frame["ratio"], frame["low"], frame["high"], frame["pairing"]
                )
            ],
            "runs here (numerator / denominator)": frame["runs"],
        }
    )
    return Html(STYLE + references_html(summary) + _table(view, ""))


def floor_table(summary) -> Html:
    """Every Keras configuration as a multiple of the floor (the fastest native loop)."""
    table = summary.table
    rows = table[np.isfinite(table["times_floor"].astype(float))]
    if rows.empty:
        return Html(STYLE + _table(rows, "No native loops ran beside these runs."))
    view = pd.DataFrame(
        {
            "workload": [rundata.workload_title(w) for w in rows["workload"]],
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
    return Html(STYLE + _table(view, "No native loops ran beside these runs."))


def notes_html(summary, workload: str | None = None) -> Html:
    rows = (
        summary.notes if workload is None else summary.notes[summary.notes["workload"] == workload]
    )
    if rows.empty:
        return Html("")
    items = "".join(f"<li class='kb-note'>{esc(n)}</li>" for n in rows["note"])
    return Html(f"<ul>{items}</ul>")


def text_samples_html(summary, workload: str) -> Html:
    """The generated text of each run of a text model, escaped, in a monospace block."""
    samples = rundata.text_samples(summary.study.runs)
    rows = samples[samples["workload"] == workload]
    if rows.empty:
        return Html("")
    parts = [STYLE, "<h4>Generated text (temperature 0.5, untimed)</h4>"]
    seen = set()
    for row in rows.itertuples(index=False):
        first = row.backend not in seen
        seen.add(row.backend)
        status = "" if row.status == "ok" else f" ({esc(row.status)})"
        parts.append(
            f"<details{' open' if first else ''}><summary><b style='color:{backend_colour(row.backend)}'>"
            f"{esc(row.backend)} {esc(row.config)}</b> · {esc(row.run_id)}{status}</summary>"
            f"<pre class='kb-sample' style=\"{SAMPLE_STYLE}\">{esc(row.text)}</pre></details>"
        )
    return Html("".join(parts))


def environment_tables(summary) -> Html:
    """One table per source: run.json fields down, backends across."""
    env = rundata.environment(summary.study)
    if env.empty:
        return Html(STYLE + _table(env, "No environment recorded."))
    parts = [STYLE]
    for source, block in env.groupby("source", sort=False):
        backends = list(dict.fromkeys(block["backend"]))
        wide = block.pivot_table(
            index="field", columns="backend", values="value", aggfunc="first", sort=False
        ).reindex(columns=backends)
        wide.columns.name = None
        parts.append(f"<h4>{esc(source)}</h4>")
        parts.append(_table(wide.reset_index(), "No environment recorded."))
    return Html("".join(parts))


def problem_runs_table(summary) -> Html:
    """Failed, timed-out, NaN and unfinished runs with their status and error."""
    view = rundata.problem_runs(summary.study.runs).rename(columns={"n_epochs": "epochs logged"})
    return Html(STYLE + _table(view, "None: every run finished with status ok."))


def coverage_html(summary) -> str:
    """The coverage simulation as a table: per n used and scenario, the t interval's coverage
    and mean width (the report's method) beside the percentile bootstrap's (the method before)."""
    frame = summary.coverage
    if frame is None or frame.empty:
        return ""
    rows = []
    for (n, scenario), part in frame.groupby(["n", "scenario"], sort=False):
        by = part.set_index("method")
        rows.append(
            {
                "n (runs or blocks)": int(n),
                "simulated": SCENARIOS[scenario][2] if scenario in SCENARIOS else scenario,
                "t: coverage": f"{by.loc['t', 'coverage']:.1%}",
                "t: mean width": f"{by.loc['t', 'width']:.0%}",
                "percentile bootstrap: coverage": f"{by.loc['percentile', 'coverage']:.1%}",
                "percentile bootstrap: mean width": f"{by.loc['percentile', 'width']:.0%}",
            }
        )
    return _table(pd.DataFrame(rows), "")


def _slow_host_sentence(summary) -> str:
    """What the simulation says about a slow host, for the smallest n used."""
    frame = summary.coverage
    if frame is None or frame.empty:
        return ""
    n = int(frame["n"].min())
    at = frame[(frame["n"] == n) & (frame["method"] == "t")].set_index("scenario")
    if not {"runs", "slow host"} <= set(at.index):
        return ""
    slow, plain = at.loc["slow host"], at.loc["runs"]
    return (
        f"With one run in three on a {stats.SLOW_HOST_FACTOR:g}× slower host, the t interval "
        f"from {n} runs covered the normal host's time in {slow['coverage']:.0%} of studies only "
        f"by being {slow['width'] / plain['width']:.1f}× as wide ({slow['width']:.0%} of the "
        "value), and its centre is pulled up by the slow runs; with more runs it narrows around "
        "the wrong value and covers less. No interval rescues that at n = 3: a slow host is "
        "answered by the design, blocks, where both sides of a ratio ran on the same host."
    )


def pairing_html(summary) -> str:
    """What was paired with what, per workload of each of this study's sources."""
    parts = []
    sources = [s.label for s in summary.study.sources if not s.reference]
    for source in sources:
        lines = notes_mod.pairing_lines(summary.comparisons, summary.rankings, source)
        if not lines:
            continue
        if len(sources) > 1:
            parts.append(f"<p class='kb-caption'><b>{esc(source)}</b></p>")
        parts.append(
            "<ul>"
            + "".join(
                f"<li><b>{esc(rundata.workload_title(w))}</b>: {esc(text)}</li>"
                for w, text in lines
            )
            + "</ul>"
        )
    return "".join(parts)


def _threshold_html(summary) -> str:
    """The "too close to call" threshold of each source, with where its noise comes from."""
    items = []
    for source, info in summary.noise.items():
        k1 = stats.noise_threshold(info["sd"], 1, confidence_level=summary.confidence_level)
        k2 = stats.noise_threshold(info["sd"], 2, confidence_level=summary.confidence_level)
        items.append(
            f"<li>{esc(source)}: standard deviation of a per-block log ratio {info['sd']:.3f}, "
            f"from {esc(info['basis'])}; threshold {k1:.2f}× at 1 block, {k2:.2f}× at 2 "
            "blocks.</li>"
        )
    return "<ul>" + "".join(items) + "</ul>" if items else ""


def method_html(summary) -> Html:
    """The methods, what the interval covers for the n this report used (simulated), the
    too-close-to-call threshold and where it comes from, and what was paired with what."""
    level = level_text(summary)
    used = coverage_html(summary)
    if not summary.coverage_used:
        used = (
            f"<p>No interval in this report: no row has {stats.MIN_RUNS} or more runs or blocks. "
            f"For comparison, what an interval would cover with {stats.MIN_RUNS}:</p>" + used
        )
    return Html(
        STYLE
        + f"""
<ul>
<li><b>Steady-state time.</b> A run's time is the mean of its <code>epoch_seconds</code> after the
first epoch (compilation and warm-up); a row's is the geometric mean of its runs' times (the
centre of its interval, on the log scale). Reference rows keep their own study's method, the mean
over all epochs of their one run, labelled so; their first-epoch-apart mean is in the detail
table.</li>
<li><b>Blocks.</b> A block is one workload's runs of one repeat on one machine (a GPU by its UUID,
else the host and its CPU or GPU model). Every ratio on this page (× fastest, the first screen's
multiples and speed-ups, × floor, then and now) is the geometric mean of ratios taken within
blocks: two rows' runs are paired only when they have the same repeat and the same machine. A row
that shares no block with the row it is compared to gets the ratio of the two means, marked
"across machines, not paired", with no interval; it decides no verdict.</li>
<li><b>Intervals.</b> {level} Student t interval of the mean of the log run means, exp'd back
(the interval of the geometric mean), only from {stats.MIN_RUNS} runs; for a ratio, the same on
the log per-block ratios, only from {stats.MIN_RUNS} blocks. With fewer there is no interval; the
grey whisker is the spread of the steady epochs within the run(s), which says nothing about
run-to-run variation. A reference row (one run per backend) has the 2017 study's interval: the
percentile bootstrap of its mean over its epochs (<code>scipy.stats.bootstrap</code>,
{summary.n_resamples} resamples, seed {summary.seed}; from {stats.MIN_EPOCHS} epochs), labelled
so: how steady that run's epochs were, not how a repeat would land.</li>
<li><b>Which row is fastest.</b> Only paired evidence ranks rows: a row is beaten when a row it
shares blocks with is faster over those blocks. The fastest is decided when every other row is
beaten (or tied with it): none of them can be faster. Otherwise the page says "not decided" and
names the unbeaten row with the lowest time as the fastest of the rows it ran beside, and lists
the rows never run beside it and never beaten; a row faster only across machines is reported as
such, never as the fastest. A patched Keras is never the fastest.</li>
<li><b>Too close to call.</b> From {stats.MIN_RUNS} blocks, a runner-up whose interval contains 1
is not distinguishable from the fastest. With 1 or 2 blocks, one whose ratio is below
exp(z · sd / √k) (k blocks, z the normal quantile of the {level} level), where sd is the spread of
a per-block log ratio between two rows: two equally fast rows stay below it in {level} of
studies. sd is measured from this study's own pairs of rows with {stats.MIN_RUNS} or more blocks
(the per-block log ratio's standard deviation, pooled); without any, from the between-run spread
of a cell on one machine times √2; without that, the H200's {stats.SD_RATIO_LOG}.
{_threshold_html(summary)}</li>
<li><b>What the interval covers here</b> (simulated, {summary.coverage_studies} studies per
line: log values normal with the spread measured on the H200, between runs of a cell on one
machine sd {stats.SD_RUN_LOG}, between blocks of a ratio sd {stats.SD_RATIO_LOG}; width relative to
the true value). Under this model the t interval is exact at any n, so its coverage shows the
simulation's own noise; the percentile bootstrap, the method used before, is beside it.
{esc(_slow_host_sentence(summary))}</li>
</ul>{used}
<ul><li><b>What was paired with what</b>, per workload (the fastest each comparison is against
in brackets):{pairing_html(summary)}</li>
<li><b>Learning.</b> The registry's metric per workload at the last epoch (test accuracy, or
the final training loss of the text models), mean and range over runs. A run whose training loss
does not go down is flagged and kept off the chart's range.</li></ul>"""
    )


def workload_sections(summary) -> list:
    """For each workload (registry order): heading, notes, metric chart, time chart, text samples."""
    table = summary.table
    workloads = list(dict.fromkeys(mine(table)["workload"])) if not table.empty else []
    order = {name: i for i, name in enumerate(registry.WORKLOADS)}
    workloads.sort(key=lambda w: (order.get(w, len(order)), w))
    only_reference = [w for w in dict.fromkeys(table["workload"]) if w not in workloads]
    out = []
    for workload in workloads:
        out.append(
            Html(
                f"<h3 id='wl-{esc(workload)}'>{esc(rundata.workload_title(workload))}"
                f" <code>{esc(workload)}</code></h3>"
            )
        )
        out.append(notes_html(summary, workload))
        out.append(metric_figure(summary, workload))
        out.append(epoch_time_figure(summary, workload))
        if rundata.is_text_model(workload):
            out.append(text_samples_html(summary, workload))
    if only_reference:
        out.append(
            Html(
                "<p class='kb-muted'>Only in the references (no runs here; their ratios are "
                "in the speed chart, their numbers in All rows): "
                + ", ".join(esc(rundata.workload_title(w)) for w in only_reference)
                + ".</p>"
            )
        )
    return [o for o in out if o is not None and not (isinstance(o, Html) and not o)]
