"""The report's Plotly figures, built from a `summary.Summary`; no statistics here.

Colour is the backend and dash, marker or bar pattern the configuration, one look per
configuration of the page (`style.config_looks`); legends group the configurations under their
backend's title (a reference's under its label), and every entry of a group has its own name.
Category labels stay whole (wrapped or slanted, the margins grown to hold them). Reference
sources (2017) are never drawn in seconds beside today's: they appear as ratios to their own
fastest, and as dotted curves where this study ran their profile (`rules.beside_reference`).
Chart text from a runs folder passes `style.chart_text`. `use_offline_renderer` makes the
notebook's figures embed plotly.js once, offline.
"""

from __future__ import annotations

import html
import math
import textwrap

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.base_renderers import NotebookRenderer
from plotly.subplots import make_subplots

from kerasbench.report import rundata, stats
from kerasbench.report.notes import fmt, level_text, metric_label
from kerasbench.report.rules import beside_reference, finite, is_generated, is_true, mine
from kerasbench.report.style import (
    CI_COLOUR,
    FIGURE_CONFIG,
    SPREAD_COLOUR,
    Html,
    backend_colour,
    chart_text,
    config_looks,
)
from kerasbench.report import naming

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


LABELLED_BARS = 6  # a panel with more bars per workload has its n and pairing in the hover only
LEGEND = {"groupclick": "toggleitem", "tracegroupgap": 6, "font": {"size": 11}}


def _wrapped(text: str, width: int = 16) -> str:
    """A category label in lines of about `width` characters, so it stays level and whole."""
    lines = textwrap.wrap(chart_text(text), width, break_long_words=False, break_on_hyphens=False)
    return "<br>".join(lines) or chart_text(text)


def _legend_height(fig: go.Figure, least: int, below: int = 0) -> int:
    """A figure tall enough for its whole legend beside the plot (an entry and a group title
    each about 24 px at LEGEND's font; the margins; `below`: what the x axis's labels take), so
    that no entry hides behind a scroll bar."""
    entries = sum(1 for t in fig.data if t.showlegend is not False)
    groups = len({t.legendgroup for t in fig.data if t.legendgrouptitle.text})
    return max(least, 24 * (entries + groups) + 220 + below)


def _looks(summary) -> dict:
    return config_looks(summary.table["config"])


def speedup_overview(summary) -> go.Figure:
    """Each row's epoch time as a multiple of its workload's fastest (all configurations
    together), one panel per source; references are compared only through these ratios. The
    legend groups the configurations under their backend (a reference's under its label)."""
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
    looks = _looks(summary)
    for row_i, source in enumerate(sources, start=1):
        block = data[data["source"] == source]
        reference = bool(block["reference"].any()) if not block.empty else False
        groups = block.groupby(["backend", "config"], sort=False)
        labelled = groups.ngroups <= LABELLED_BARS
        for (backend, config), rows in groups:
            bar = _ratio_bar(source, backend, config, rows, reference, looks[config], labelled)
            fig.add_trace(bar, row=row_i, col=1)
        fig.add_hline(y=1.0, line_dash="dot", line_color="#666", row=row_i, col=1)
        _ratio_axis(fig, data, log, row=row_i, col=1)
        fig.update_xaxes(tickangle=0, automargin=True, row=row_i, col=1)
    fig.update_layout(
        title=_ratio_title(summary, fig),
        barmode="group",
        height=max(340 * len(sources) + 110, _legend_height(fig, 0)),
        legend=LEGEND,
        template="plotly_white",
        margin={"t": 100},
        uniformtext_minsize=8,
        uniformtext_mode="hide",
    )
    return fig


def _ratio_title(summary, fig: go.Figure) -> str:
    """The overview's title, its key naming only the marks the bars carry: a CI bar where one
    is drawn, n and 'not paired' where a bar is labelled so."""
    labels = {str(t) for bar in fig.data for t in (bar.text or ())}
    key = ["1 = fastest"]
    if any(np.isfinite(np.asarray(bar.error_y.array, dtype=float)).any() for bar in fig.data):
        key.append(f"black bars: {level_text(summary)} CI over blocks, only from {stats.MIN_RUNS}")
    if any(t.startswith("n=") for t in labels):
        key.append("n = blocks")
    if "not paired" in labels:
        key.append("'not paired': ratio of means across machines")
    return (
        "Epoch time as a multiple of the fastest of each workload<br>"
        f"<span style='font-size:12px'>{'; '.join(key)}</span>"
    )


def _ratio_bar(source, backend, config, rows, reference: bool, look, labelled: bool) -> go.Bar:
    """One backend and configuration of a source's panel: × fastest per workload, its interval
    (from 3 blocks) as a black bar, n blocks or "not paired" above it where `labelled`."""
    name = chart_text(f"{backend} {config}" + (f" ({source})" if reference else ""))
    group = chart_text(source if reference else backend)
    has_ci = np.isfinite(rows["times_fastest_low"].astype(float))
    return go.Bar(
        x=[_wrapped(naming.workload_title(w)) for w in rows["workload"]],
        y=rows["times_fastest"],
        name=chart_text(f"{backend} {config}" if reference else config),
        legendgroup=group,
        legendgrouptitle_text=group,
        offsetgroup=chart_text(f"{backend} {config}"),
        marker_color=backend_colour(backend),
        marker_pattern=look.bar_pattern(),
        marker_line_color="#333" if reference else backend_colour(backend),
        opacity=0.55 if reference else 1.0,
        text=[_pairs_label(r) for _, r in rows.iterrows()] if labelled else None,
        textposition="outside",
        error_y={
            "type": "data",
            "symmetric": False,
            "color": CI_COLOUR,
            "thickness": 1.5,
            "width": 4,
            "array": np.where(has_ci, rows["times_fastest_high"] - rows["times_fastest"], np.nan),
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
    )


def _ratio_axis(fig: go.Figure, data, log: bool, **where):
    """A panel's y axis: × fastest from 0, or logarithmic (1-2-5 ticks) over the whole figure's
    ratios."""
    if not log:
        fig.update_yaxes(title_text="× fastest's time", rangemode="tozero", **where)
        return
    values = np.concatenate([data["times_fastest"], data["times_fastest_high"].dropna()])
    ticks = _log_ticks(0.8, float(np.nanmax(values)) * 1.5)
    fig.update_yaxes(
        title_text="× fastest's time (log scale)",
        type="log",
        range=[math.log10(0.8), math.log10(float(np.nanmax(values)) * 1.5)],
        tickvals=ticks,
        ticktext=[f"{t:g}" for t in ticks],
        **where,
    )


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
    (colour: backend; pattern: configuration, in the legend on grey), black CI bars (n >= 3) or
    grey epoch-spread whiskers (n < 3), the first epoch as a marker apart."""
    table = mine(summary.table)
    rows = table[
        (table["workload"] == workload)
        & (table["runs"] > 0)
        & np.isfinite(table["mean_epoch_seconds"].astype(float))
    ]
    if rows.empty:
        return None
    fig = go.Figure()
    looks = _looks(summary)
    spread_shown = ci_shown = False
    for config, block in rows.groupby("config", sort=False):
        fig.add_trace(_config_key(config, looks[config]))
        for whisker in ("ci", "spread"):
            part = block[(block["runs"] >= stats.MIN_RUNS) == (whisker == "ci")]
            if part.empty:
                continue
            fig.add_trace(_time_bar(summary, config, part, whisker, looks[config]))
            spread_shown |= whisker == "spread"
            ci_shown |= whisker == "ci"
    warm = rows[np.isfinite(rows["warmup_seconds"].astype(float))]
    if not warm.empty:
        fig.add_trace(_first_epoch_markers(warm))
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
    fig.update_xaxes(
        type="category",
        categoryorder="array",
        categoryarray=_labels(rows),
        tickangle=-35,
        automargin=True,
    )
    fig.update_layout(
        # The title promises a CI only where a bar has one (3 runs or more).
        title=(
            f"{chart_text(naming.workload_title(workload))}: seconds per epoch after the first, "
            "geometric mean of the runs ("
            + (f"black whisker: {level_text(summary)} CI over runs; " if ci_shown else "")
            + ("◇ first epoch; " if not warm.empty else "")
            + "n = runs)"
        ),
        template="plotly_white",
        height=_legend_height(fig, 460, below=120),  # room for the slanted bar labels
        barmode="overlay",
        legend={**LEGEND, "title_text": "configuration"},
    )
    return fig


def _labels(part) -> list:
    """The time chart's bar labels: 'jax tuned-callbacks', whole, one per bar."""
    return [chart_text(f"{b} {c}") for b, c in zip(part["backend"], part["config"])]


def _config_key(config, look) -> go.Bar:
    """A configuration's legend entry: its pattern on grey (the bars' colour is the backend)."""
    return go.Bar(
        x=[None],
        y=[None],
        name=chart_text(config),
        legendgroup=chart_text(config),
        marker_color="#9a9a9a",
        marker_pattern=look.bar_pattern(),
        hoverinfo="skip",
    )


def _time_bar(summary, config, part, whisker: str, look) -> go.Bar:
    """The bars of one configuration whose rows have an interval (whisker "ci": black) or not
    ("spread": the grey spread of the steady epochs)."""
    low, high = ("ci_low", "ci_high") if whisker == "ci" else ("spread_low", "spread_high")
    return go.Bar(
        x=_labels(part),
        y=part["mean_epoch_seconds"],
        name=chart_text(config),
        legendgroup=chart_text(config),
        showlegend=False,
        marker_color=[backend_colour(b) for b in part["backend"]],
        marker_pattern=look.bar_pattern(),
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
            + (f"{level_text(summary)} CI" if whisker == "ci" else "epoch spread (not a CI)")
            + " %{customdata[1]:.3g} – %{customdata[2]:.3g} s<extra></extra>"
        ),
    )


def _first_epoch_markers(warm) -> go.Scatter:
    return go.Scatter(
        x=_labels(warm),
        y=warm["warmup_seconds"],
        mode="markers",
        name="first epoch (warm-up, not in the bar)",
        marker={"symbol": "diamond-open", "size": 10, "color": "#222", "line": {"width": 1.5}},
        hovertemplate="<b>%{x}</b><br>first epoch %{y:.3g} s<extra></extra>",
    )


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
    looks = _looks(summary)
    left_out, flagged, in_range = [], [], []
    mine_drawn = False
    apart = [
        s
        for s in dict.fromkeys(curves.loc[curves["reference"], "source"])
        if not beside_reference(table, workload, s)
    ]
    for (source, _, backend, config, reference), curve in curves.groupby(
        ["source", "workload", "backend", "config", "reference"], sort=False
    ):
        if source in apart:
            continue
        row = (
            rows.loc[(source, backend, config)] if (source, backend, config) in rows.index else None
        )
        name = f"{backend} {config}" + (f" ({source})" if reference else "")
        if row is not None and is_generated(row):
            left_out.append(name)
            continue
        values = curve["value"].to_numpy(dtype=float)
        mine_drawn |= not reference
        if row is not None and row["not_learning_runs"] > 0:
            flagged.append((name, values))
        else:
            in_range.extend(zip(curve["epoch"].to_numpy(dtype=float), values))
        group = source if reference else backend
        fig.add_trace(_curve(name, group, curve, backend, config, looks[config], metric))
    if not fig.data or (
        not mine_drawn and not table[(table["workload"] == workload) & ~table["reference"]].empty
    ):
        return _no_metric_chart(metric, left_out)
    curves = curves[~curves["source"].isin(apart)]
    notes_text = _metric_range(fig, curves, metric, in_range, flagged)
    if apart:
        notes_text.append(_apart_note(table, workload, apart))
    if left_out:
        notes_text.append("not drawn (generated data): " + ", ".join(left_out))
    notes_text.extend(_epoch_axis(fig, curves))
    title = (
        f"{chart_text(naming.workload_title(workload))}: {chart_text(metric_label(metric))} "
        "by epoch (mean over n runs)"
    )
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
        legend=LEGEND,
        height=_legend_height(fig, 440),
        margin={"t": 100 if notes_text else 80},
    )
    return fig


def _curve(name, group, curve, backend, config, look, metric) -> go.Scatter:
    """One row's mean metric by epoch, in its legend group (its backend; a reference's label,
    its curves dotted and faint)."""
    n = int(curve["runs"].max())
    reference = bool(curve["reference"].iloc[0])
    return go.Scatter(
        x=curve["epoch"],
        y=curve["value"],
        mode="lines+markers",
        name=chart_text(f"{backend} {config}" if reference else config) + f" (n={n})",
        legendgroup=chart_text(group),
        legendgrouptitle_text=chart_text(group),
        line={
            "color": backend_colour(backend),
            "width": 1.5 if reference else 2.5,
            "dash": "dot" if reference else look.dash,
        },
        opacity=0.6 if reference else 1.0,
        marker={"symbol": look.symbol, "size": 5 if reference else 7},
        customdata=curve["elapsed_seconds"],
        hovertemplate=(
            f"<b>{chart_text(name)}</b> (mean of {n} run{'s' * (n != 1)})"
            f"<br>epoch %{{x}}<br>{chart_text(metric)} %{{y:.4g}}"
            "<br>elapsed %{customdata:.1f} s<extra></extra>"
        ),
    )


def _no_metric_chart(metric, left_out: list) -> Html:
    """The line in place of a metric chart with nothing of this study's to draw."""
    why = (
        f"{', '.join(left_out)} trained on generated data, whose "
        f"{metric_label(metric).split(' (')[0]} is not a result"
        if left_out
        else "no run of this study finished ok"
    )
    return Html(
        f"<p class='kb-muted'>No {html.escape(metric_label(metric))} chart: {html.escape(why)}.</p>"
    )


def _mine_epochs(curves):
    return curves.loc[~curves["reference"], "epoch"]


def _metric_range(fig: go.Figure, curves, metric, in_range: list, flagged: list) -> list:
    """The y range: what is visible (up to this study's last epoch) of every curve that learned;
    a note for each run that did not learn and is partly off it."""
    mine_epochs = _mine_epochs(curves)
    last = mine_epochs.max() if not mine_epochs.empty else curves["epoch"].max()
    in_range = [v for e, v in in_range if e <= last and np.isfinite(v)]
    if not in_range:
        return []
    notes_text = []
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
    return notes_text


def _epoch_axis(fig: go.Figure, curves) -> list:
    """Integer epochs up to this study's last (a note where references go on past it)."""
    mine_epochs = _mine_epochs(curves)
    max_epoch = int(curves["epoch"].max())
    said = []
    if not mine_epochs.empty and curves["epoch"].max() > mine_epochs.max():
        max_epoch = int(mine_epochs.max())
        fig.update_xaxes(range=[-0.3, max_epoch + 0.3])
        said.append(f"reference curves go on to epoch {int(curves['epoch'].max())} (drag to pan)")
    _integer_epochs(fig, max_epoch)
    return said


def _apart_note(table, workload, apart: list) -> str:
    """Why a reference's curves are not drawn: this study's profile and epochs against theirs."""
    rows = table[(table["workload"] == workload) & (table["runs"] > 0)]
    study = rows[~rows["reference"] & ~rows["backend"].map(naming.is_native)]
    ref = rows[rows["source"].isin(apart)]
    profiles = rundata.joined(study["profile"]) or "–"
    epochs = "/".join(str(e) for e in sorted(set(study["epochs"].astype(int))))
    theirs = "/".join(str(e) for e in sorted(set(ref["epochs"].astype(int))))
    return (
        f"{', '.join(apart)} not drawn: this study ran profile {profiles}, {epochs} epochs "
        f"(theirs: {rundata.joined(ref['profile']) or '–'}, {theirs})"
    )
