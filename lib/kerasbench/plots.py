"""Plotly figures and HTML blocks built from the frames `analysis` returns; no statistics here.

Every chart colours a backend the same way (`BACKEND_COLOURS`); the 2017 K80 results are drawn
dashed (lines) or hatched (bars) beside the new ones. HTML blocks are small objects with
`_repr_html_`, so the notebook can `display` them next to the figures; all text from run folders
(errors, generated text, versions) is HTML-escaped.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.base_renderers import NotebookRenderer
from plotly.subplots import make_subplots

from kerasbench import analysis, registry

# Okabe-Ito colours (distinguishable with colour-blindness), fixed per backend for every chart.
BACKEND_COLOURS = {"tensorflow": "#E69F00", "jax": "#009E73", "torch": "#0072B2", "cntk": "#CC79A7"}
_SPARE_COLOURS = ["#D55E00", "#56B4E9", "#F0E442", "#000000"]
REFERENCE_PATTERN = "/"
FIGURE_CONFIG = {"displaylogo": False, "responsive": True}

METRIC_LABELS = {
    "val_accuracy": "test accuracy (val_accuracy)",
    "accuracy": "training accuracy",
    "loss": "training loss",
    "val_loss": "test loss (val_loss)",
    "main_out_loss": "training loss of the main head (main_out_loss)",
}


def backend_colour(backend: str) -> str:
    if backend in BACKEND_COLOURS:
        return BACKEND_COLOURS[backend]
    return _SPARE_COLOURS[sum(map(ord, str(backend))) % len(_SPARE_COLOURS)]


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


class Html(str):
    """A block of HTML the notebook displays as is."""

    def _repr_html_(self) -> str:
        return str(self)


class OfflineNotebookRenderer(NotebookRenderer):
    """Plotly's notebook renderer, but self-contained: nothing is fetched from a CDN.

    Activation (the first figure shown) embeds plotly.js once; each figure is then a div and a
    script calling the global Plotly. Unlike the stock renderer it does not add a MathJax <script>
    from a CDN to every figure, so the exported report works offline and logs no load errors.
    """

    def to_mimebundle(self, fig_dict):
        return {"text/html": pio.to_html(
            fig_dict, config={**FIGURE_CONFIG, **self.config}, auto_play=False,
            include_plotlyjs=False, include_mathjax=False, full_html=False,
            default_width="100%", default_height=480, validate=False)}


# ---------------------------------------------------------------------------------------------
# Figures

def _is_reference(source) -> bool:
    return source == analysis.REFERENCE_SOURCE


def _error_bars(mean, low, high) -> dict:
    mean, low, high = (np.asarray(v, dtype=float) for v in (mean, low, high))
    plus = np.where(np.isfinite(high), high - mean, np.nan)
    minus = np.where(np.isfinite(low), mean - low, np.nan)
    return {"type": "data", "array": plus.tolist(), "arrayminus": minus.tolist(),
            "thickness": 1.5, "width": 4, "color": "#333"}


def _level(summary: pd.DataFrame) -> str:
    levels = summary["confidence_level"].dropna().unique() if "confidence_level" in summary else []
    return f"{float(levels[0]):.0%}" if len(levels) == 1 else "bootstrap"


def _fmt(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}g}"


def _with_ci(values, lows, highs) -> list[str]:
    """Table cells "value [low, high]"."""
    return [f"{_fmt(v)} [{_fmt(lo)}, {_fmt(hi)}]" for v, lo, hi in zip(values, lows, highs)]


def speedup_overview(summary: pd.DataFrame) -> go.Figure:
    """Each backend's epoch time relative to the fastest, per workload, one row per source."""
    data = summary[np.isfinite(summary["speedup_vs_fastest"].astype(float))]
    sources = list(dict.fromkeys(data["source"])) or ["(no results)"]
    fig = make_subplots(rows=len(sources), cols=1, subplot_titles=sources, shared_xaxes=False,
                        vertical_spacing=0.22 if len(sources) > 1 else 0.1)
    shown = set()
    for row_i, source in enumerate(sources, start=1):
        block = data[data["source"] == source]
        for (backend, config), rows in block.groupby(["backend", "config"], sort=False):
            x = [analysis.workload_title(w) for w in rows["workload"]]
            name = backend if config == "default" else f"{backend} · {config}"
            fig.add_trace(go.Bar(
                x=x, y=rows["speedup_vs_fastest"], name=name, legendgroup=name,
                showlegend=name not in shown, marker_color=backend_colour(backend),
                opacity=1.0 if config == "default" else 0.6,
                marker_pattern_shape=REFERENCE_PATTERN if _is_reference(source) else "",
                error_y=_error_bars(rows["speedup_vs_fastest"], rows["speedup_ci_low"],
                                    rows["speedup_ci_high"]),
                customdata=np.stack([rows["mean_epoch_seconds"], rows["fastest_backend"].astype(str),
                                     rows["speedup_ci_low"], rows["speedup_ci_high"]], axis=-1),
                hovertemplate=(f"<b>{name}</b> %{{x}}<br>%{{y:.2f}}× the epoch time of "
                               "%{customdata[1]}<br>CI %{customdata[2]:.2f} – %{customdata[3]:.2f}"
                               "<br>mean epoch %{customdata[0]:.3g} s<extra></extra>"),
            ), row=row_i, col=1)
            shown.add(name)
        fig.add_hline(y=1.0, line_dash="dot", line_color="#666", row=row_i, col=1)
        fig.update_yaxes(title_text="× fastest's epoch time", rangemode="tozero", row=row_i, col=1)
    fig.update_layout(
        title=f"Epoch time relative to the fastest backend (1 = fastest; bars: {_level(summary)} CI)",
        barmode="group", height=360 * len(sources) + 80, legend_title_text="backend",
        template="plotly_white", margin={"t": 90})
    return fig


def metric_figure(epochs: pd.DataFrame, curves: pd.DataFrame, workload: str) -> go.Figure:
    """The workload's metric against epoch: thin lines per repeat, thick mean per backend."""
    metric = analysis.metric_name(workload, epochs.columns)
    fig = go.Figure()
    runs = epochs[(epochs["workload"] == workload) & epochs["ok"]]
    group_runs = runs.groupby(analysis.GROUP)["run_id"].nunique()
    for (source, _, backend, config), run_rows in runs.groupby(analysis.GROUP, sort=False):
        if group_runs.get((source, workload, backend, config), 0) < 2 or metric not in run_rows:
            continue
        for run_id, run in run_rows.groupby("run_id", sort=False):
            fig.add_trace(go.Scatter(
                x=run["epoch"], y=run[metric], mode="lines", legendgroup=f"{source}|{backend}",
                showlegend=False, opacity=0.45,
                line={"color": backend_colour(backend), "width": 1,
                      "dash": "dash" if _is_reference(source) else "solid"},
                customdata=run["elapsed_seconds"], name=f"{backend} {run_id}",
                hovertemplate=(f"{html.escape(run_id)}<br>epoch %{{x}}<br>{metric} %{{y:.4g}}"
                               "<br>elapsed %{customdata:.1f} s<extra></extra>")))
    mean = curves[curves["workload"] == workload]
    for (source, _, backend, config), curve in mean.groupby(analysis.GROUP, sort=False):
        n = int(curve["runs"].max())
        label = f"{backend} · {source}" + (f" · {config}" if config != "default" else "")
        fig.add_trace(go.Scatter(
            x=curve["epoch"], y=curve["value"], mode="lines+markers", name=label,
            legendgroup=f"{source}|{backend}",
            line={"color": backend_colour(backend), "width": 3,
                  "dash": "dash" if _is_reference(source) else "solid"},
            marker={"size": 5}, customdata=curve["elapsed_seconds"],
            hovertemplate=(f"<b>{html.escape(label)}</b> (mean of {n} run{'s' * (n != 1)})"
                           f"<br>epoch %{{x}}<br>{metric} %{{y:.4g}}"
                           "<br>elapsed %{customdata:.1f} s<extra></extra>")))
    fig.update_layout(
        title=f"{analysis.workload_title(workload)}: {metric_label(metric)} by epoch",
        xaxis_title="epoch (0 = first)", yaxis_title=metric_label(metric), template="plotly_white",
        legend_title_text="backend · source (thin: single repeats)", height=440)
    return fig


def epoch_time_figure(summary: pd.DataFrame, workload: str) -> go.Figure:
    """Mean seconds per epoch per backend with CI bars, warm-up (epoch 0) as markers apart.

    x has two levels, source then backend, so the 2017 K80 bars (hatched) stand beside the new ones.
    """
    rows = summary[summary["workload"] == workload]
    fig = go.Figure()
    for row in rows.itertuples(index=False):
        fig.add_trace(go.Bar(
            x=[[_short_source(row.source)], [row.backend]], y=[row.mean_epoch_seconds],
            name=f"{row.backend} · {_short_source(row.source)}", legendgroup=row.backend,
            marker_color=backend_colour(row.backend),
            marker_pattern_shape=REFERENCE_PATTERN if _is_reference(row.source) else "",
            error_y=_error_bars([row.mean_epoch_seconds], [row.ci_low], [row.ci_high]),
            customdata=[[_fmt(row.ci_low), _fmt(row.ci_high), row.runs, str(row.ci_basis),
                         str(row.mean_basis)]],
            hovertemplate=("<b>%{x}</b><br>mean %{y:.3g} s per epoch<br>CI %{customdata[0]} – "
                           "%{customdata[1]} s (over %{customdata[3]})<br>%{customdata[2]} run(s), "
                           "%{customdata[4]}<extra></extra>")))
    warm = rows[np.isfinite(rows["warmup_seconds"].astype(float))]
    if not warm.empty:
        fig.add_trace(go.Scatter(
            x=[[_short_source(s) for s in warm["source"]], list(warm["backend"])],
            y=warm["warmup_seconds"], mode="markers", name="◆ first epoch (warm-up, not in the mean)",
            marker={"symbol": "diamond", "size": 11, "color": "white",
                    "line": {"color": "#222", "width": 1.5}},
            hovertemplate="<b>%{x}</b><br>first epoch %{y:.3g} s<extra></extra>"))
    fig.update_layout(
        title=f"{analysis.workload_title(workload)}: seconds per epoch (bars: mean with "
              f"{_level(rows)} CI; ◆ first epoch)",
        yaxis_title="seconds per epoch", template="plotly_white", height=420, barmode="overlay",
        legend={"orientation": "h", "y": -0.25})
    return fig


def _short_source(source: str) -> str:
    return "2017 K80" if _is_reference(source) else source


# ---------------------------------------------------------------------------------------------
# HTML blocks

# Prefixed with the JupyterLab class too: the export's own rules for td/pre would win otherwise.
_TABLE_STYLE = (
    "<style>"
    "table.kb-table,.jp-RenderedHTMLCommon table.kb-table{border-collapse:collapse;font-size:13px;"
    "margin:0.5em 0;table-layout:auto}"
    "table.kb-table th,table.kb-table td,.jp-RenderedHTMLCommon table.kb-table th,"
    ".jp-RenderedHTMLCommon table.kb-table td{border:1px solid #ccc;padding:3px 8px;"
    "text-align:left;vertical-align:top}"
    ".jp-RenderedHTMLCommon table.kb-table th,table.kb-table th{background:#f3f3f3}"
    "li.kb-note,.jp-RenderedHTMLCommon li.kb-note{color:#7a4b00;margin:0.2em 0}"
    "</style>")
_SAMPLE_STYLE = ("font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',"
                 "monospace;white-space:pre-wrap;background:#f7f7f7;border:1px solid #ddd;"
                 "padding:8px;font-size:12px;line-height:1.4;max-height:24em;overflow:auto")


def _table(frame: pd.DataFrame, empty: str) -> str:
    if frame.empty:
        return f"<p><em>{html.escape(empty)}</em></p>"
    return frame.to_html(index=False, escape=True, na_rep="–", classes="kb-table", border=0)


def summary_table(summary: pd.DataFrame) -> Html:
    """The summary as a readable table (summary.csv holds the full precision)."""
    if summary.empty:
        return Html(_TABLE_STYLE + _table(summary, "No results."))
    view = pd.DataFrame({
        "workload": [analysis.workload_title(w) for w in summary["workload"]],
        "source": summary["source"],
        "backend": summary["backend"],
        "config": summary["config"],
        "runs": summary["runs"],
        "epochs": summary["epochs"],
        f"s / epoch [{_level(summary)} CI]": _with_ci(summary["mean_epoch_seconds"], summary["ci_low"],
                                                      summary["ci_high"]),
        "CI over": summary["ci_basis"].fillna("–"),
        "samples / s": [_fmt(v) for v in summary["samples_per_second"]],
        "warm-up s": [_fmt(v) for v in summary["warmup_seconds"]],
        f"× fastest [{_level(summary)} CI]": _with_ci(summary["speedup_vs_fastest"], summary["speedup_ci_low"],
                                                     summary["speedup_ci_high"]),
        "final metric": [f"{metric_label(n)}: {_fmt(v, 4)}" + (f" ± {_fmt(sd, 2)}" if isinstance(sd, float) and math.isfinite(sd) else "")
                         for n, v, sd in zip(summary["final_metric_name"], summary["final_metric"],
                                             summary["final_metric_std"])],
        "data": summary["data_source"].fillna("–"),
    })
    return Html(_TABLE_STYLE + _table(view, "No results."))


def floor_table(summary: pd.DataFrame) -> Html:
    """Every Keras configuration as a multiple of the floor (the fastest native loop, whole epoch
    compiled, data on the device) and of its own framework's native loop, where one ran."""
    rows = summary[np.isfinite(summary["times_floor"].astype(float))]
    if rows.empty:
        return Html(_TABLE_STYLE + _table(rows, "No native loops ran beside these runs."))
    view = pd.DataFrame({
        "workload": [analysis.workload_title(w) for w in rows["workload"]],
        "source": rows["source"],
        "backend": rows["backend"],
        "config": rows["config"],
        "s / epoch": [_fmt(v) for v in rows["mean_epoch_seconds"]],
        "floor": [f"{b}: {_fmt(v)} s" for b, v in zip(rows["floor_backend"], rows["floor_seconds"])],
        f"× floor [{_level(summary)} CI]": _with_ci(rows["times_floor"], rows["times_floor_ci_low"],
                                                     rows["times_floor_ci_high"]),
        "× own framework's native loop": [_fmt(v) for v in rows["times_native"]],
    })
    return Html(_TABLE_STYLE + _table(view, "No native loops ran beside these runs."))


def notes_html(notes: pd.DataFrame, workload: str | None = None) -> Html:
    rows = notes if workload is None else notes[notes["workload"] == workload]
    if rows.empty:
        return Html("")
    items = "".join(f"<li class='kb-note'>{html.escape(n)}</li>" for n in rows["note"])
    return Html(f"<ul>{items}</ul>")


def text_samples_html(samples: pd.DataFrame, workload: str) -> Html:
    """The generated text of each run of a text model, escaped, in a monospace block."""
    rows = samples[samples["workload"] == workload]
    if rows.empty:
        return Html("")
    parts = [_TABLE_STYLE, "<h4>Generated text (temperature 0.5, untimed)</h4>"]
    seen = set()
    for row in rows.itertuples(index=False):
        first = row.backend not in seen
        seen.add(row.backend)
        colour = backend_colour(row.backend)
        status = "" if row.status == "ok" else f" ({html.escape(str(row.status))})"
        parts.append(
            f"<details{' open' if first else ''}><summary><b style='color:{colour}'>"
            f"{html.escape(str(row.backend))}</b> · {html.escape(str(row.run_id))}{status}</summary>"
            f"<pre class='kb-sample' style=\"{_SAMPLE_STYLE}\">{html.escape(str(row.text))}</pre>"
            "</details>")
    return Html("".join(parts))


def environment_tables(env: pd.DataFrame) -> Html:
    """One table per source: run.json fields down, backends across."""
    if env.empty:
        return Html(_TABLE_STYLE + _table(env, "No environment recorded."))
    parts = [_TABLE_STYLE]
    for source, block in env.groupby("source", sort=False):
        backends = list(dict.fromkeys(block["backend"]))
        wide = block.pivot_table(index="field", columns="backend", values="value",
                                 aggfunc="first", sort=False)
        wide = wide.reindex(columns=backends)
        wide.columns.name = None
        wide = wide.reset_index()
        parts.append(f"<h4>{html.escape(str(source))}</h4>")
        parts.append(_table(wide, "No environment recorded."))
    return Html("".join(parts))


def problem_runs_table(problems: pd.DataFrame) -> Html:
    """Failed, timed-out, NaN and unfinished runs with their status and error."""
    view = problems.rename(columns={"n_epochs": "epochs logged"})
    return Html(_TABLE_STYLE + _table(view, "None: every run finished with status ok."))


def workload_sections(epochs: pd.DataFrame, curves: pd.DataFrame, summary: pd.DataFrame,
                      notes: pd.DataFrame, samples: pd.DataFrame) -> list:
    """For each workload (registry order): heading, notes, metric chart, time chart, text samples."""
    workloads = list(dict.fromkeys(summary["workload"])) if not summary.empty else []
    order = {name: i for i, name in enumerate(registry.WORKLOADS)}
    workloads.sort(key=lambda w: (order.get(w, len(order)), w))
    out = []
    for workload in workloads:
        out.append(Html(f"<h3 id='wl-{html.escape(workload)}'>{html.escape(analysis.workload_title(workload))}"
                        f" <code>{html.escape(workload)}</code></h3>"))
        out.append(notes_html(notes, workload))
        out.append(metric_figure(epochs, curves, workload))
        out.append(epoch_time_figure(summary, workload))
        if analysis.is_text_model(workload):
            out.append(text_samples_html(samples, workload))
    return [o for o in out if not (isinstance(o, Html) and not o)]
