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
import math
import os
import re
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import bleach
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from bleach.css_sanitizer import CSSSanitizer
from markdown_it import MarkdownIt
from markdown_it.token import Token
from plotly.io.base_renderers import NotebookRenderer
from plotly.subplots import make_subplots

from kerasbench import registry
from kerasbench.report import notes as notes_mod
from kerasbench.report import rundata, stats
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
    CI_COLOUR,
    FIGURE_CONFIG,
    SAMPLE_STYLE,
    SPREAD_COLOUR,
    STYLE,
    Html,
    backend_colour,
    chart_text,
    config_style,
    esc,
)
from kerasbench.report.summary import SCENARIOS

LOG_SPAN = 10  # a time axis is logarithmic when its values span more than this factor


class OfflineNotebookRenderer(NotebookRenderer):
    """Plotly's notebook renderer, but self-contained: nothing is fetched from a CDN.

    Activation (the first figure shown) embeds plotly.js once; each figure is then a div and a
    script calling the global Plotly, without the MathJax <script> the stock renderer adds.
    """

    def to_mimebundle(self, fig_dict):
        return {
            "text/html": pio.to_html(
                fig_dict,
                config={**FIGURE_CONFIG, **self.config},
                auto_play=False,
                include_plotlyjs=False,
                include_mathjax=False,
                full_html=False,
                default_width="100%",
                default_height=480,
                validate=False,
            )
        }


def use_offline_renderer():
    """Make every figure the notebook shows render through OfflineNotebookRenderer."""
    pio.renderers["kerasbench"] = OfflineNotebookRenderer()
    pio.renderers.default = "kerasbench"


# ---------------------------------------------------------------------------------------------
# Helpers


def _n(value) -> str:
    return f"n={int(value)}"


def _log_axis(values) -> bool:
    x = np.asarray([v for v in values if finite(v) and v > 0], dtype=float)
    return x.size >= 2 and x.max() / x.min() > LOG_SPAN


def _integer_epochs(fig: go.Figure, max_epoch: int, **where):
    step = max(1, math.ceil((max_epoch + 1) / 12))
    fig.update_xaxes(tickmode="linear", tick0=0, dtick=step, tickformat="d", **where)


# ---------------------------------------------------------------------------------------------
# Figures


def speedup_overview(summary) -> go.Figure:
    """Each row's epoch time as a multiple of its workload's fastest (all configurations
    together), one panel per source; references are compared only through these ratios."""
    table = summary.table
    data = table[np.isfinite(table["times_fastest"].astype(float))]
    sources = list(dict.fromkeys(data["source"])) or ["(no results)"]
    fig = make_subplots(
        rows=len(sources),
        cols=1,
        shared_xaxes=False,
        subplot_titles=[chart_text(s) for s in sources],
        vertical_spacing=0.2 if len(sources) > 1 else 0.1,
    )
    log = _log_axis(data["times_fastest"]) or _log_axis(data["times_fastest_high"])
    for row_i, source in enumerate(sources, start=1):
        block = data[data["source"] == source]
        reference = bool(block["reference"].any()) if not block.empty else False
        for (backend, config), rows in block.groupby(["backend", "config"], sort=False):
            name = chart_text(f"{backend} {config}" + (f" ({source})" if reference else ""))
            _, _, pattern = config_style(config)
            has_ci = np.isfinite(rows["times_fastest_low"].astype(float))
            fig.add_trace(
                go.Bar(
                    x=[chart_text(rundata.workload_title(w)) for w in rows["workload"]],
                    y=rows["times_fastest"],
                    name=name,
                    legendgroup=name,
                    offsetgroup=chart_text(f"{backend} {config}"),
                    marker_color=backend_colour(backend),
                    marker_pattern_shape=pattern,
                    marker_line_color="#333" if reference else backend_colour(backend),
                    opacity=0.55 if reference else 1.0,
                    text=[_pairs_label(r) for _, r in rows.iterrows()],
                    textposition="outside",
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "color": CI_COLOUR,
                        "thickness": 1.5,
                        "width": 4,
                        "array": np.where(
                            has_ci, rows["times_fastest_high"] - rows["times_fastest"], np.nan
                        ),
                        "arrayminus": np.where(
                            has_ci, rows["times_fastest"] - rows["times_fastest_low"], np.nan
                        ),
                    },
                    customdata=np.stack(
                        [
                            rows["mean_epoch_seconds"],
                            rows["fastest"].astype(str).map(chart_text),
                            rows["runs"],
                            rows["pairing"].fillna("").astype(str),
                        ],
                        axis=-1,
                    ),
                    hovertemplate=(
                        f"<b>{name}</b> %{{x}}<br>%{{y:.2f}}× the epoch time of "
                        "%{customdata[1]} (%{customdata[3]})<br>%{customdata[0]:.3g} s per "
                        "epoch, %{customdata[2]} run(s)<extra></extra>"
                    ),
                ),
                row=row_i,
                col=1,
            )
        fig.add_hline(y=1.0, line_dash="dot", line_color="#666", row=row_i, col=1)
        if log:
            values = np.concatenate([data["times_fastest"], data["times_fastest_high"].dropna()])
            ticks = _log_ticks(0.8, float(np.nanmax(values)) * 1.5)
            fig.update_yaxes(
                title_text="× fastest's time (log scale)",
                type="log",
                range=[math.log10(0.8), math.log10(float(np.nanmax(values)) * 1.5)],
                tickvals=ticks,
                ticktext=[f"{t:g}" for t in ticks],
                row=row_i,
                col=1,
            )
        else:
            fig.update_yaxes(title_text="× fastest's time", rangemode="tozero", row=row_i, col=1)
    fig.update_layout(
        title=(
            "Epoch time as a multiple of the fastest of each workload (1 = fastest; "
            f"black bars: {level_text(summary)} CI over blocks, only from {stats.MIN_RUNS}; "
            "n = blocks; 'not paired': ratio of means across machines)"
        ),
        barmode="group",
        height=340 * len(sources) + 110,
        legend_title_text="backend config",
        template="plotly_white",
        margin={"t": 90},
        uniformtext_minsize=8,
        uniformtext_mode="hide",
    )
    return fig


def _pairs_label(row) -> str:
    """The bar's label: 'n=3' blocks, 'not paired' (across machines), nothing for the fastest."""
    if is_true(row.get("paired")):
        return _n(row["pairs"])
    return "" if row.get("pairing") == "fastest" else "not paired"


def _log_ticks(low: float, high: float) -> list:
    """1-2-5 ticks covering [low, high], for a log axis that reads in plain numbers."""
    ticks = []
    for exponent in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            value = mantissa * 10.0**exponent
            if low <= value <= high:
                ticks.append(value)
    return ticks


def _time_axis(fig: go.Figure, values, title: str):
    """Seconds on y: linear from 0, or logarithmic (1-2-5 ticks) where values span > LOG_SPAN."""
    x = np.asarray([v for v in values if finite(v) and v > 0], dtype=float)
    if _log_axis(x):
        low, high = x.min() / 1.6, x.max() * 1.6
        ticks = _log_ticks(low, high)
        fig.update_yaxes(
            type="log",
            range=[math.log10(low), math.log10(high)],
            tickvals=ticks,
            ticktext=[f"{t:g}" for t in ticks],
            title_text=f"{title} (log scale)",
        )
    else:
        fig.update_yaxes(type="linear", rangemode="tozero", title_text=title)


def epoch_time_figure(summary, workload: str) -> go.Figure | None:
    """This study's seconds per epoch for one workload, one bar per backend and configuration
    (colour: backend; pattern: configuration), black CI bars (n >= 3) or grey epoch-spread
    whiskers (n < 3), the first epoch as a marker apart."""
    table = mine(summary.table)
    rows = table[
        (table["workload"] == workload)
        & (table["runs"] > 0)
        & np.isfinite(table["mean_epoch_seconds"].astype(float))
    ]
    if rows.empty:
        return None
    fig = go.Figure()
    spread_shown = ci_shown = False
    for config, block in rows.groupby("config", sort=False):
        _, _, pattern = config_style(config)
        for whisker in ("ci", "spread"):
            part = block[(block["runs"] >= stats.MIN_RUNS) == (whisker == "ci")]
            if part.empty:
                continue
            low, high = ("ci_low", "ci_high") if whisker == "ci" else ("spread_low", "spread_high")
            fig.add_trace(
                go.Bar(
                    x=[list(part["backend"].map(chart_text)), list(part["config"].map(chart_text))],
                    y=part["mean_epoch_seconds"],
                    name=chart_text(config),
                    legendgroup=chart_text(config),
                    showlegend=not any(t.name == chart_text(config) for t in fig.data),
                    marker_color=[backend_colour(b) for b in part["backend"]],
                    marker_pattern_shape=pattern,
                    text=[_n(r) for r in part["runs"]],
                    textposition="inside",
                    insidetextanchor="start",
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": part[high] - part["mean_epoch_seconds"],
                        "arrayminus": part["mean_epoch_seconds"] - part[low],
                        "color": CI_COLOUR if whisker == "ci" else SPREAD_COLOUR,
                        "thickness": 2 if whisker == "ci" else 1.5,
                        "width": 6 if whisker == "ci" else 2,
                    },
                    customdata=np.stack([part["runs"], part[low], part[high]], axis=-1),
                    hovertemplate=(
                        "<b>%{x}</b><br>%{y:.3g} s per epoch, %{customdata[0]} run(s)<br>"
                        + (
                            f"{level_text(summary)} CI"
                            if whisker == "ci"
                            else "epoch spread (not a CI)"
                        )
                        + " %{customdata[1]:.3g} – %{customdata[2]:.3g} s<extra></extra>"
                    ),
                )
            )
            spread_shown |= whisker == "spread"
            ci_shown |= whisker == "ci"
    warm = rows[np.isfinite(rows["warmup_seconds"].astype(float))]
    if not warm.empty:
        fig.add_trace(
            go.Scatter(
                x=[list(warm["backend"].map(chart_text)), list(warm["config"].map(chart_text))],
                y=warm["warmup_seconds"],
                mode="markers",
                name="first epoch (warm-up, not in the bar)",
                marker={
                    "symbol": "diamond-open",
                    "size": 10,
                    "color": "#222",
                    "line": {"width": 1.5},
                },
                hovertemplate="<b>%{x}</b><br>first epoch %{y:.3g} s<extra></extra>",
            )
        )
    if spread_shown:
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                hoverinfo="skip",
                name="grey whisker: spread of the steady epochs, n<3 (not a CI)",
                line={"color": SPREAD_COLOUR, "width": 1},
            )
        )
    _time_axis(
        fig,
        list(rows["mean_epoch_seconds"])
        + list(rows[["spread_low", "ci_low"]].min(axis=1))
        + list(warm["warmup_seconds"]),
        "seconds per epoch",
    )
    fig.update_layout(
        # The title promises a CI only where a bar has one (3 runs or more).
        title=(
            f"{chart_text(rundata.workload_title(workload))}: seconds per epoch after the first, geometric "
            "mean of the runs ("
            + (f"black whisker: {level_text(summary)} CI over runs; " if ci_shown else "")
            + "◇ first epoch; n = runs)"
        ),
        template="plotly_white",
        height=420,
        barmode="overlay",
        legend={"orientation": "h", "y": -0.22},
        legend_title_text="configuration:",
    )
    return fig


def metric_figure(summary, workload: str):
    """The workload's metric by epoch: one line per source, backend and configuration (colour:
    backend, dash and marker: configuration, dotted and faint: a reference). Rows trained on
    generated data are not drawn; a run that did not learn is flagged and kept off the y range."""
    table = summary.table
    curves = summary.curves[summary.curves["workload"] == workload]
    rows = table[table["workload"] == workload].set_index(["source", "backend", "config"])
    if curves.empty:
        return None
    metric = curves["metric"].iloc[0]
    fig = go.Figure()
    left_out, flagged, in_range = [], [], []
    mine_drawn = False
    mine_epochs = curves.loc[~curves["reference"], "epoch"]
    for (source, _, backend, config, reference), curve in curves.groupby(
        ["source", "workload", "backend", "config", "reference"], sort=False
    ):
        row = (
            rows.loc[(source, backend, config)] if (source, backend, config) in rows.index else None
        )
        name = f"{backend} {config}" + (f" ({source})" if reference else "")
        if row is not None and is_generated(row):
            left_out.append(name)
            continue
        n = int(curve["runs"].max())
        dash, symbol, _ = config_style(config)
        bad = row is not None and row["not_learning_runs"] > 0
        values = curve["value"].to_numpy(dtype=float)
        mine_drawn |= not reference
        if bad:
            flagged.append((name, values))
        else:
            in_range.extend(zip(curve["epoch"].to_numpy(dtype=float), values))
        fig.add_trace(
            go.Scatter(
                x=curve["epoch"],
                y=curve["value"],
                mode="lines+markers",
                name=f"{chart_text(name)} (n={n})",
                line={
                    "color": backend_colour(backend),
                    "width": 1.5 if reference else 2.5,
                    "dash": "dot" if reference else dash,
                },
                opacity=0.6 if reference else 1.0,
                marker={"symbol": symbol, "size": 5 if reference else 7},
                customdata=curve["elapsed_seconds"],
                hovertemplate=(
                    f"<b>{chart_text(name)}</b> (mean of {n} run{'s' * (n != 1)})"
                    f"<br>epoch %{{x}}<br>{chart_text(metric)} %{{y:.4g}}"
                    "<br>elapsed %{customdata:.1f} s<extra></extra>"
                ),
            )
        )
    if not fig.data or (
        not mine_drawn and not table[(table["workload"] == workload) & ~table["reference"]].empty
    ):
        why = (
            f"{', '.join(left_out)} trained on generated data, whose "
            f"{metric_label(metric).split(' (')[0]} is not a result"
            if left_out
            else "no run of this study finished ok"
        )
        return Html(
            f"<p class='kb-muted'>No {html.escape(metric_label(metric))} chart: "
            f"{html.escape(why)}.</p>"
        )
    notes_text = []
    # The y range: what is visible (up to this study's last epoch) of every curve that learned.
    last = mine_epochs.max() if not mine_epochs.empty else curves["epoch"].max()
    in_range = [v for e, v in in_range if e <= last and np.isfinite(v)]
    if in_range:
        lo, hi = float(np.min(in_range)), float(np.max(in_range))
        pad = 0.08 * (hi - lo) if hi > lo else 0.05 * abs(hi) + 0.01
        fig.update_yaxes(range=[lo - pad, hi + pad])
        for name, values in flagged:
            finite = values[np.isfinite(values)]
            if finite.size and (finite.max() > hi + pad or finite.min() < lo - pad):
                notes_text.append(
                    f"{name} did not learn ({metric} up to {fmt(float(finite.max()))}): "
                    "partly off the chart"
                )
    if left_out:
        notes_text.append("not drawn (generated data): " + ", ".join(left_out))
    max_epoch = int(curves["epoch"].max())
    if not mine_epochs.empty and curves["epoch"].max() > mine_epochs.max():
        max_epoch = int(mine_epochs.max())
        fig.update_xaxes(range=[-0.3, max_epoch + 0.3])
        notes_text.append(
            f"reference curves go on to epoch {int(curves['epoch'].max())} (drag to pan)"
        )
    _integer_epochs(fig, max_epoch)
    title = f"{chart_text(rundata.workload_title(workload))}: {chart_text(metric_label(metric))} by epoch (mean over n runs)"
    if notes_text:
        title += (
            "<br><span style='font-size:12px;color:#7a4b00'>⚑ "
            + "; ".join(html.escape(t) for t in notes_text)
            + "</span>"
        )
    fig.update_layout(
        title=title,
        xaxis_title="epoch (0 = first)",
        yaxis_title=chart_text(metric_label(metric)),
        template="plotly_white",
        legend_title_text="backend config (source)",
        height=440,
        margin={"t": 100 if notes_text else 80},
    )
    return fig


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
