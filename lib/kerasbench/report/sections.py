"""The report's sections in prose, built from a `summary.Summary`; no statistics here.

The sources, the runs folder's README.md (`study_notes_html`, which lets nothing run and loads
nothing), each workload's section (its notes, its figures, its generated text) and the Method.
Everything a runs folder, a reference, its `source.yaml` or a model file's name brings reaches the
page escaped (`style.esc`).
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import bleach
import pandas as pd
from bleach.css_sanitizer import CSSSanitizer
from markdown_it import MarkdownIt
from markdown_it.token import Token

from kerasbench import registry, studyfiles
from kerasbench.report import breakdown, parity, rundata, stats
from kerasbench.report import notes as notes_mod
from kerasbench.report.figures import epoch_time_figure, metric_figure
from kerasbench.report.notes import level_text
from kerasbench.report.rules import mine
from kerasbench.report.style import SAMPLE_STYLE, STYLE, Html, backend_colour, esc
from kerasbench.report.coverage import SCENARIOS
from kerasbench.report.tables import floor_table, table_html
from kerasbench.report import naming


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
    return table_html(pd.DataFrame(rows), "")


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
                f"<li><b>{esc(naming.workload_title(w))}</b>: {esc(text)}</li>" for w, text in lines
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
                f"<h3 id='wl-{esc(workload)}'>{esc(naming.workload_title(workload))}"
                f" <code>{esc(workload)}</code></h3>"
            )
        )
        out.append(notes_html(summary, workload))
        out.append(metric_figure(summary, workload))
        out.append(epoch_time_figure(summary, workload))
        if naming.is_text_model(workload):
            out.append(text_samples_html(summary, workload))
    if only_reference:
        out.append(
            Html(
                "<p class='kb-muted'>Only in the references (no runs here; their ratios are "
                "in the speed chart, their numbers in All rows): "
                + ", ".join(esc(naming.workload_title(w)) for w in only_reference)
                + ".</p>"
            )
        )
    return [o for o in out if o is not None and not (isinstance(o, Html) and not o)]


# ---------------------------------------------------------------------------------------------
# The sections a study may not have: the runs folder's README.md, parity, the native floor and
# where the time goes. Each is shown, heading and all, only where the study has something for
# it; what it lacks is said once, in one line under Sources (`not_measured`), with how to add it.

NOTES_TITLE = "About these runs"
PARITY_TITLE = "Does it learn the same? Parity across backends"
FLOOR_TITLE = "Distance to the floor"
PROFILE_TITLE = "Where the time goes"


def heading(title: str) -> Html:
    """A section heading as the page's Markdown headings are (its id: the words joined by -)."""
    anchor = esc(title.replace(" ", "-"))
    return Html(f"<h2 id='{anchor}'>{esc(title)}<a class='anchor-link' href='#{anchor}'>¶</a></h2>")


def _intro(text: str) -> Html:
    return Html(f"<p>{text}</p>")


def about_these_runs(study, page_dir=None) -> list:
    """The runs folder's README.md under its heading; nothing without one."""
    if not study.study_notes:
        return []
    return [
        heading(NOTES_TITLE),
        _intro(
            "What whoever ran the study wrote in the runs folder's <code>README.md</code> "
            "(machine, handicaps, what was left unrun). Nothing in it runs or loads: HTML written "
            "in it is shown as text, and an image is shown only from inside the runs folder (or as "
            "a data: URI), any other left out with its address."
        ),
        study_notes_html(study, page_dir),
    ]


def parity_section(folder) -> list:
    """What `kerasbench parity --out OUT/parity` wrote, under its heading; nothing without it."""
    if parity.load(folder) is None:
        return []
    return [
        heading(PARITY_TITLE),
        _intro(
            "From <code>kerasbench parity</code>: the same initial weights on every backend, the "
            "same batches in the same order, dropout off; per-step loss, each layer's weights and "
            "the test predictions against the first backend listed, and that backend's trained "
            "weights loaded and evaluated on the others. Tolerances are derived from float32 "
            "rounding (<code>kerasbench.study.parity</code>); a failure names its layers."
        ),
        *parity.section(folder),
    ]


def _has_floor(summary) -> bool:
    return bool(summary.table["times_floor"].astype(float).notna().any())


def floor_section(summary) -> list:
    """Every Keras configuration as a multiple of the native floor, under its heading; nothing
    where no native loop ran."""
    if not _has_floor(summary):
        return []
    return [
        heading(FLOOR_TITLE),
        _intro(
            "Where hand-written training loops ran beside the Keras runs (<code>python -m "
            "kerasbench.native</code>: same model, batch, optimizer and initialisers, data on the "
            "device, the whole epoch one compiled program), each Keras configuration's epoch time "
            "as a multiple of the fastest of them."
        ),
        floor_table(summary),
    ]


def profile_section(folder, summary) -> list:
    """What `kerasbench profile` wrote under OUT/profile, and the best Keras configuration's
    distance to the floor, under their heading; nothing where the study has neither."""
    if breakdown.load(folder).empty and not _has_floor(summary):
        return []
    return [
        heading(PROFILE_TITLE),
        _intro(
            "From <code>kerasbench profile</code> (issue 15): per workload and backend, a training "
            "step of <code>model.fit</code> split into device compute, host dispatch and Python "
            "overhead, input feeding, and callbacks and metrics, by timing ablation variants in "
            "one process; the native floor's step beside it. First, for the workloads with a "
            "floor loop (MLP, CNN, BiLSTM), the best Keras configuration's distance to it."
        ),
        *breakdown.section(folder, summary),
    ]


def not_measured(study, summary, paths) -> list:
    """One line naming what this study did not measure (parity, floor, profile) and whether its
    runs folder has no README.md, with how to add each; nothing where it has them all."""
    shown = rundata.shown_path
    missing = []
    if parity.load(paths.parity) is None:
        missing.append(
            (
                "parity",
                f"<code>kerasbench parity --out {esc(shown(paths.parity))}</code> trains every "
                "backend from the same initial weights on the same batches and compares loss, "
                "weights and predictions",
            )
        )
    if not _has_floor(summary):
        # `kerasbench floor` writes its loops in OUT/runs: the study folder of this runs folder
        study_dir = paths.runs.parent if paths.runs.name == studyfiles.RUNS else paths.out
        missing.append(
            (
                "floor",
                f"<code>kerasbench floor --out {esc(shown(study_dir))}</code> runs hand-written "
                "JAX and PyTorch loops of the MNIST MLP, MNIST CNN and IMDb BiLSTM into "
                f"{esc(shown(study_dir / studyfiles.RUNS))}, beside the Keras runs",
            )
        )
    if breakdown.load(paths.profile).empty:
        missing.append(
            (
                "profile",
                "<code>kerasbench profile --workload W --backend B --out "
                f"{esc(shown(paths.profile))}/W/B</code> splits a training step into compute, "
                "dispatch, input feeding and callbacks",
            )
        )
    measured = [name for name, _ in missing]
    if not study.study_notes:
        missing.append(
            (
                "notes on these runs",
                f"a <code>README.md</code> in {esc(shown(paths.runs))} (machine, handicaps, "
                "what was left unrun) is shown under its own heading",
            )
        )
    if not missing:
        return []
    said = ["Not measured in this study: " + ", ".join(measured)] if measured else []
    if not study.study_notes:
        said.append("no notes on these runs" if said else "No notes on these runs")
    items = "".join(f"<li><b>{esc(name)}</b>: {how}.</li>" for name, how in missing)
    return [
        Html(
            STYLE
            + f"<details class='kb-not-measured'><summary>{esc('; '.join(said))} "
            + f"<span class='kb-muted'>(how to add {'each' if len(missing) > 1 else 'it'})"
            + f"</span></summary><ul>{items}</ul></details>"
        )
    ]
