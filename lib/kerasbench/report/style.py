"""How the page looks: the colour of each backend, the look of each configuration, the page's CSS,
and the escaping every block applies to what a runs folder brings.

Every chart colours a backend the same way (`BACKEND_COLOURS`) and marks a configuration the same
way (`CONFIG_STYLES`: dash, marker, bar pattern), so "jax default" and "jax tuned" never look
alike. HTML blocks are `Html` strings (with `_repr_html_`) that start with `STYLE` where they
need its classes. Text from a runs folder, a reference or a model file's name reaches the page
escaped: `esc` for HTML, `chart_text` for plotly's own tag subset.
"""

from __future__ import annotations

import html
from typing import NamedTuple

# Okabe-Ito colours (distinguishable with colour-blindness), fixed per backend for every chart.
BACKEND_COLOURS = {
    "tensorflow": "#E69F00",
    "jax": "#009E73",
    "torch": "#0072B2",
    "cntk": "#CC79A7",
    "native-jax": "#004D38",
    "native-torch": "#003A5C",
}
_SPARE_COLOURS = ["#D55E00", "#56B4E9", "#F0E442", "#000000"]
# One look per configuration: line dash, marker symbol and bar pattern (its fill: "replace",
# coloured lines on white; "overlay", dark lines on the backend's colour).
CONFIG_STYLES = {
    "default": ("solid", "circle", ""),
    "tuned": ("dash", "square", "/"),
    "compiled": ("dot", "diamond", "x"),
    "scan": ("solid", "triangle-up", "."),
    "step": ("dashdot", "cross", "-"),
}
# The looks the other configurations of a page take, in turn: first the patterns no named
# configuration has, then every pattern again on the backend's full colour.
_SPARE_STYLES = [
    ("longdash", "star", "\\", "replace"),
    ("longdashdot", "hexagon", "|", "replace"),
    ("dot", "x", "+", "replace"),
    ("dash", "pentagon", "/", "overlay"),
    ("dashdot", "triangle-down", "\\", "overlay"),
    ("longdash", "bowtie", "x", "overlay"),
    ("longdashdot", "hourglass", "|", "overlay"),
    ("dot", "star-diamond", "-", "overlay"),
    ("dash", "octagon", "+", "overlay"),
    ("dashdot", "triangle-left", ".", "overlay"),
]
FIGURE_CONFIG = {"displaylogo": False, "responsive": True}
CI_COLOUR = "#222"
SPREAD_COLOUR = "#8a8a8a"


def backend_colour(backend: str) -> str:
    if backend in BACKEND_COLOURS:
        return BACKEND_COLOURS[backend]
    return _SPARE_COLOURS[sum(map(ord, str(backend))) % len(_SPARE_COLOURS)]


class Look(NamedTuple):
    """A configuration's look: dash and symbol (lines), pattern and its fill (bars)."""

    dash: str
    symbol: str
    pattern: str
    fill: str = "replace"

    def bar_pattern(self) -> dict:
        """The bar's marker.pattern: dark lines on the colour where the fill is "overlay"."""
        if self.fill == "overlay":
            return {"shape": self.pattern, "fillmode": "overlay", "fgcolor": "#222"}
        return {"shape": self.pattern}


def config_looks(configs) -> dict:
    """A look for each configuration of a page, no two alike (as far as _SPARE_STYLES go): the
    named ones keep CONFIG_STYLES, the others take the spare looks in name order, so one
    configuration looks the same in every chart of the page."""
    looks = {c: Look(*CONFIG_STYLES[c]) for c in CONFIG_STYLES}
    others = sorted({str(c) for c in configs} - set(CONFIG_STYLES))
    for i, config in enumerate(others):
        looks[config] = Look(*_SPARE_STYLES[i % len(_SPARE_STYLES)])
    return looks


class Html(str):
    """A block of HTML the notebook displays as is."""

    def _repr_html_(self) -> str:
        return str(self)


def esc(value) -> str:
    """Any value as HTML text (quotes escaped too: safe inside an attribute)."""
    return html.escape(str(value))


def chart_text(value) -> str:
    """Text from a runs folder or a reference (a label, a workload, backend or config name) for
    chart text: plotly draws a subset of HTML there (<b>, <a href>, <span style>...) and decodes
    entities, so escaping shows the text as it is written and makes it no tag or link."""
    return html.escape(str(value), quote=False)


# Prefixed with the JupyterLab class too: the export's own rules for td/pre would win otherwise.
STYLE = Html(
    "<style>"
    "table.kb-table,.jp-RenderedHTMLCommon table.kb-table{border-collapse:collapse;font-size:13px;"
    "margin:0.4em 0;table-layout:auto}"
    "table.kb-table th,table.kb-table td,.jp-RenderedHTMLCommon table.kb-table th,"
    ".jp-RenderedHTMLCommon table.kb-table td{border:1px solid #ccc;padding:2px 7px;"
    "text-align:left;vertical-align:top}"
    ".jp-RenderedHTMLCommon table.kb-table th,table.kb-table th{background:#f3f3f3}"
    ".jp-RenderedHTMLCommon table.kb-table td.num,table.kb-table td.num{text-align:right;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".jp-RenderedHTMLCommon table.kb-table tr.kb-verdict td,table.kb-table tr.kb-verdict td{"
    "background:#f6f8fb;border-top:2px solid #8aa}"
    ".jp-RenderedHTMLCommon table.kb-table tr.kb-best td,table.kb-table tr.kb-best td{font-weight:bold}"
    ".jp-RenderedHTMLCommon table.kb-table td.kb-caveat,table.kb-table td.kb-caveat{color:#7a4b00;"
    "font-size:12px}"
    "li.kb-note,.jp-RenderedHTMLCommon li.kb-note{color:#7a4b00;margin:0.2em 0}"
    ".kb-muted,.jp-RenderedHTMLCommon .kb-muted{color:#666;font-size:13px}"
    ".kb-caption,.jp-RenderedHTMLCommon p.kb-caption{font-size:13px;margin:0.2em 0}"
    ".kb-caveat-all{color:#7a4b00}"
    ".jp-Cell-outputWrapper{margin-top:0}"
    "</style>"
)
SAMPLE_STYLE = (
    "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',"
    "monospace;white-space:pre-wrap;background:#f7f7f7;border:1px solid #ddd;"
    "padding:8px;font-size:12px;line-height:1.4;max-height:24em;overflow:auto"
)
