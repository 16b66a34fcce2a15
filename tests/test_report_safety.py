"""What a runs folder can do to the page, and what a kill can do to the report (issue 28).

A runs folder travels between people, and its report is the page others open: its README.md,
a reference's source.yaml, its folder and model-file names must not make the page run anything or
load anything from outside it (sections.study_notes_html, style.chart_text, build.resources_outside and the
page's Content-Security-Policy). A `kerasbench report` killed mid-way must not leave a new
summary.csv beside the old report.html, and the staging folder it leaves is cleaned up by the
next report (build.recover_staging).

The planted page is built once per module by `kerasbench report` (about 10 s); the kill tests
each run a report in a child process and kill it at a known point (build._staged, build._moved).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import nbformat
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import _reference_copy, write_run  # noqa: E402

import browser  # noqa: E402
from kerasbench.report import build, sections, style  # noqa: E402

KERASBENCH = str(Path(sys.executable).parent / "kerasbench")
LIB = str(Path(build.__file__).resolve().parents[2])


def png(width: int = 2, height: int = 2) -> bytes:
    """A small valid PNG (grey pixels), for an image the README may show inlined."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------------------------------------
# The README as Markdown: nothing runs, nothing loads


def notes(text, tmp_path, files=None) -> str:
    runs = tmp_path / "out" / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    for name, data in (files or {}).items():
        (runs / name).parent.mkdir(parents=True, exist_ok=True)
        (runs / name).write_bytes(data)
    return sections.notes_markdown_html(text, runs, tmp_path / "out")


def test_readme_html_is_shown_as_text_never_as_markup(tmp_path):
    page = notes(
        "<script>document.title='planted'</script>\n\n"
        "<img src=x onerror=\"document.title='planted'\">\n\n"
        "<iframe src='https://example.org'></iframe> <video src=http://example.org/v.mp4>\n\n"
        '<div style="background:url(http://example.org/bg.png)">styled</div>\n\n'
        "<style>body{background:url(http://example.org/s.png)}</style>\n\n"
        "<img srcset='http://example.org/a.png 1x, http://example.org/b.png 2x'>\n\n"
        "**bold** and `code`\n",
        tmp_path,
    )
    assert build.resources_outside(page) == []
    for tag in ("<script", "<img", "<iframe", "<video", "<div", "<style"):
        assert tag not in page
    assert "&lt;script&gt;document.title='planted'&lt;/script&gt;" in page
    assert "<strong>bold</strong>" in page and "<code>code</code>" in page


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JaVa&#115;cript:alert(1)",
        " javascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<b>x</b>",
        "file:///etc/passwd",
        "//example.org/x",
        "/etc/passwd",
    ],
)
def test_readme_link_that_is_not_http_mailto_or_relative_is_plain_text(tmp_path, link):
    page = notes(f"see [the details]({link}) here", tmp_path)
    assert "<a" not in page
    assert "the details" in page


def test_readme_links_kept_and_relative_ones_rebased_to_the_page(tmp_path):
    page = notes(
        "[a](https://example.org/x?y=1) [b](mailto:me@example.org) [c](mnist_mlp/jax/0/run.json) "
        "[d](#section)",
        tmp_path,
    )
    assert '<a href="https://example.org/x?y=1">a</a>' in page
    assert '<a href="mailto:me@example.org">b</a>' in page
    assert '<a href="runs/mnist_mlp/jax/0/run.json">c</a>' in page  # the page is in out/
    assert '<a href="#section">d</a>' in page


def test_readme_images_inlined_or_left_out_with_a_note(tmp_path):
    (tmp_path / "outside.png").write_bytes(png())
    image = png()
    page = notes(
        "![badge](https://img.shields.io/badge/build-passing-green.svg)\n"
        "![plot](figures/plot.png)\n"
        "![svg](figures/logo.svg)\n"
        "![outside](../../outside.png)\n"
        "![missing](nope.png)\n"
        "![inline](data:image/png;base64,iVBORw0KGgo=)\n"
        "![script](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)\n",
        tmp_path,
        {
            "figures/plot.png": image,
            "figures/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        },
    )
    assert build.resources_outside(page) == []
    assert f'src="data:image/png;base64,{base64.b64encode(image).decode()}"' in page
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in page
    for left_out in (
        "https://img.shields.io/badge/build-passing-green.svg",
        "figures/logo.svg",
        "../../outside.png",
        "nope.png",
        "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",
    ):
        assert f"[image left out: {left_out}]" in page
    assert page.count("<img") == 2


def test_readme_image_over_the_size_limit_is_left_out(tmp_path, monkeypatch):
    monkeypatch.setattr(sections, "NOTES_IMAGE_MAX_BYTES", 10)
    page = notes("![big](big.png)", tmp_path, {"big.png": png()})
    assert "<img" not in page and "[image left out: big.png]" in page


def test_chart_text_from_a_runs_folder_is_escaped_for_plotly():
    # plotly draws <a href>, <b>, <span style> in chart text; a label must show as written.
    assert style.chart_text("K80 <a href='javascript:x'>&</a>") == (
        "K80 &lt;a href='javascript:x'&gt;&amp;&lt;/a&gt;"
    )


# ---------------------------------------------------------------------------------------------
# The offline check: every URL-bearing attribute and CSS


@pytest.mark.parametrize(
    "html,where",
    [
        ('<script src="https://cdn.example.org/x.js"></script>', "<script src>"),
        ("<link rel=stylesheet href='//cdn.example.org/x.css'>", "<link href>"),
        ("<link rel=preload as=image href=pic.png>", "<link href>"),
        ('<img src="https://img.shields.io/b.svg">', "<img src>"),
        ('<img srcset="data:image/png;base64,AA 1x, http://e.org/x.png 2x">', "<img srcset>"),
        ('<source srcset="http://e.org/x.webp">', "<source srcset>"),
        ('<link rel=preload as=image imagesrcset="http://e.org/a.png 2x">', "<link imagesrcset>"),
        ('<video poster="http://e.org/p.png"></video>', "<video poster>"),
        ("<video src=http://e.org/v.mp4></video>", "<video src>"),
        ('<object data="http://e.org/o.swf"></object>', "<object data>"),
        ('<form action="https://e.org/f"></form>', "<form action>"),
        ('<button formaction="https://e.org/b">x</button>', "<button formaction>"),
        ('<svg><image xlink:href="http://e.org/i.png"/></svg>', "<image xlink:href>"),
        ('<svg><use href="http://e.org/s.svg#a"/></svg>', "<use href>"),
        ('<svg><rect fill="url(http://e.org/s.svg#g)"/></svg>', "<rect fill>"),
        ('<iframe src="https://e.org"></iframe>', "<iframe src>"),
        ('<base href="https://e.org/">', "<base href>"),
        ('<a href="#x" ping="https://e.org/ping">x</a>', "<a ping>"),
        ('<body background="http://e.org/bg.png">', "<body background>"),
        ("<div style=\"background: URL( 'http://e.org/bg.png' )\">x</div>", "<div style>"),
        (
            "<div style=\"background-image:image-set('http://e.org/a.png' 1x)\">x</div>",
            "<div style>",
        ),
        ("<style>.a{background:url(http://e.org/s.png)}</style>", "<style>"),
        ('<style>@import "http://e.org/i.css";</style>', "<style>"),
        ("<style>@import url(//e.org/j.css);</style>", "<style>"),
        ("<style>@font-face{font-family:x;src:url(https://e.org/f.woff)}</style>", "<style>"),
        ("<style>@media screen{.a{background:url(http://e.org/m.png)}}</style>", "<style>"),
        (
            '<meta http-equiv="refresh" content="0; url=https://e.org/r">',
            "<meta http-equiv=refresh>",
        ),
        ('<iframe src="javascript:alert(1)"></iframe>', "<iframe src>"),
    ],
)
def test_offline_check_finds_every_resource(html, where):
    found = build.resources_outside(html)
    assert [w for w, _ in found] == [where], found


def test_offline_check_leaves_what_loads_nothing():
    page = (
        '<a href="https://example.org">a link is followed, not loaded</a>'
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="x">'
        '<svg><use href="#icon"/><rect fill="url(#gradient)" clip-path="url(#clip)"/></svg>'
        "<style>@namespace svg url(http://www.w3.org/2000/svg);"
        ".a{background:url(data:image/svg+xml;base64,AAA)} .b{content:'http://e.org'}</style>"
        "<script>var u = 'https://example.org/in-a-script';</script>"
        '<p title="url(x) in a title">text http://example.org</p>'
    )
    assert build.resources_outside(page) == []


def test_refused_resource_is_one_line_naming_the_file(tmp_path):
    """A page that would load something is refused with one line (a ReportError: `kerasbench
    report` exits 2), naming the file of the study the address came from; nothing is written."""
    readme = tmp_path / "runs" / "README.md"
    readme.parent.mkdir()
    readme.write_text("![badge](https://img.shields.io/b.svg)\n")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/html": '<img src="https://img.shields.io/b.svg">'}
        )
    ]
    nb.cells.append(cell)
    executed = tmp_path / "analysis.ipynb"
    nbformat.write(nb, str(executed))
    with pytest.raises(build.ReportError) as e:
        build.export_html(executed, tmp_path / "report.html", origins=[tmp_path / "nope", readme])
    message = str(e.value)
    assert "\n" not in message
    assert "https://img.shields.io/b.svg" in message and "<img src>" in message
    assert str(readme) in message
    assert not (tmp_path / "report.html").exists()
    with pytest.raises(build.ReportError) as e:
        build.export_html(executed, tmp_path / "report.html", origins=[])
    assert "analysis notebook's output" in str(e.value)


# ---------------------------------------------------------------------------------------------
# A planted runs folder, end to end: `kerasbench report`, then the page in Chromium

PLANTED = "window.__planted = (window.__planted || []).concat"
README = f"""# Planted README

This sentence is the README's own text and must be on the page.

<script>document.title = 'planted'; {PLANTED}(['script'])</script>

<img src=x onerror="document.title = 'planted'; {PLANTED}(['onerror'])">

[a javascript: link](javascript:document.title='planted') and [a good link](https://example.org/).

<video src=http://example.org/video.mp4 autoplay></video>
<iframe src="https://example.org/frame"></iframe>

<div style="background:url(http://example.org/css-bg.png)">css url</div>
<style>body {{ background: url(http://example.org/style-block.png) }} @import "http://example.org/i.css";</style>

<img srcset="http://example.org/srcset.png 1x, http://example.org/srcset2.png 2x">

![build](https://img.shields.io/badge/build-passing-green.svg)

![our plot](plot.png)
"""
LABEL = f'K80 <img src=x onerror="{PLANTED}([`label`])">'
# A model file's name is the workload's folder name (kerasbench.study.usermodel.name).
MODEL = f'net<img src=x onerror="{PLANTED}([`model`])">'


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    runs = root / "out" / "runs"
    for backend, seconds in (("tensorflow", 1.0), ("jax", 1.5)):
        for repeat in range(2):
            write_run(runs, "mnist_mlp", backend, repeat, seconds=seconds, seed=repeat)
    model = write_run(runs, "mnist_mlp", "jax", 9, seed=9).parent.parent
    moved = runs / MODEL / "jax" / "0"
    moved.parent.mkdir(parents=True)
    shutil.move(str(model / "jax" / "9"), str(moved))
    run = json.loads((moved / "run.json").read_text())
    run.update(workload=MODEL, repeat=0)
    (moved / "run.json").write_text(json.dumps(run))
    (runs / "README.md").write_text(README, encoding="utf-8")
    (runs / "plot.png").write_bytes(png(4, 3))
    reference = _reference_copy(
        root,
        "p100-logs",
        f"label: '{LABEL}'\nhardware: '<script>{PLANTED}([`hardware`])</script>'\n"
        "notes: '<a href=\"javascript:alert(1)\">notes</a>'\n",
        0.5,
    )
    out = root / "out"
    done = subprocess.run(
        [KERASBENCH, "report", "--out", str(out), "--reference", str(reference)]
        + ["--resamples", "200"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out, done


def test_planted_report_is_written_and_offline(planted):
    out, done = planted
    # Before: the README's badge image made `report` die with a traceback.
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    text = (out / "report.html").read_text(encoding="utf-8")
    assert build.resources_outside(text) == []
    assert "Content-Security-Policy" in text
    assert "[image left out: https://img.shields.io/badge/build-passing-green.svg]" in text
    assert "This sentence is the README's own text" in text
    # The reference's label, hardware and notes and the model's name: text, never markup.
    for markup in ("<script>window.__planted", "<script>document.title", "<img src=x"):
        assert markup not in text
    assert "K80 &lt;img src=x" in text


def test_then_and_now_names_the_references_there_are(planted):
    """notebooks/analysis.ipynb spoke of "the 2017 K80 study" whatever the references were."""
    out, done = planted
    assert done.returncode == 0, done.stderr[-3000:]
    text = (out / "report.html").read_text(encoding="utf-8")
    section = text[text.index('id="Then-and-now"') : text.index('id="Per-workload"')]
    assert "2017" not in section and "K80 study" not in section
    assert "The reference here: <b>K80 &lt;img src=x onerror=" in section
    assert "tensorflow" in section and "cntk" in section


PAGE_CHECKS = """(() => ({
    title: document.title,
    planted: window.__planted === undefined ? null : window.__planted,
    text: document.body.innerText,
    scriptLinks: [...document.querySelectorAll('[href]')].filter(
        e => /^\\s*javascript:/i.test(e.getAttribute('href'))).length,
    handlers: [...document.querySelectorAll('*')].filter(
        e => [...e.attributes].some(a => a.name.startsWith('on'))).map(e => e.outerHTML.slice(0, 80)),
    frames: document.querySelectorAll('iframe, video, object, embed').length,
    notesImages: [...document.querySelectorAll('.kb-notes img')].map(
        i => ({src: i.getAttribute('src').slice(0, 22), width: i.naturalWidth})),
}))()"""


@pytest.mark.browser
def test_planted_page_runs_nothing_and_loads_nothing_in_chromium(planted):
    if not browser.chromium_available():
        pytest.skip(
            f"chromium not found at {browser.CHROMIUM}; install it with `{browser.CHROMIUM_INSTALL}`"
        )
    out, done = planted
    assert done.returncode == 0, done.stderr[-3000:]
    with browser.Page(out / "report.html", 1400, 900) as page:
        found = page.evaluate(PAGE_CHECKS)
        problems = page.problems()
    assert found["planted"] is None, found["planted"]
    assert found["title"] == build.REPORT_TITLE
    assert problems == []  # no request, no refused load, no error
    assert found["scriptLinks"] == 0 and found["frames"] == 0
    assert found["handlers"] == []
    assert "This sentence is the README's own text and must be on the page." in found["text"]
    assert "<script>document.title = 'planted'" in found["text"]  # shown, not run
    assert "[image left out: https://img.shields.io/badge/build-passing-green.svg]" in found["text"]
    assert found["notesImages"] == [{"src": "data:image/png;base64,", "width": 4}]
    assert LABEL in found["text"] and MODEL in found["text"]


# ---------------------------------------------------------------------------------------------
# `report` killed mid-way

CHILD = textwrap.dedent(
    """
    import sys, time
    from kerasbench import cli
    from kerasbench.report import build

    runs, out, point, seed = sys.argv[1:5]

    def pause():
        print("paused", flush=True)
        time.sleep(600)

    if point == "staged":
        build._staged = lambda staging: pause()
    else:
        build._moved = lambda name: pause() if name == point else None
    sys.exit(cli.main(["report", "--runs", runs, "--out", out, "--resamples", "200",
                       "--seed", seed]))
    """
)


def _report_stopped(runs, out, point, signum, seed=3) -> subprocess.Popen:
    """`kerasbench report` (cli.main) in a child process, paused at `point` (build._staged, or
    after the swap moved that file), then sent signum; returns the finished child, its stderr
    in `child.err`."""
    env = {**os.environ, "PYTHONPATH": LIB}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(runs), str(out), point, str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "paused", child.stderr.read()[-3000:]
        child.send_signal(signum)
        child.wait(timeout=60)
        child.err = child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    return child


@pytest.fixture(scope="module")
def first_report(tmp_path_factory):
    """A runs folder and a report of it built before (the one a killed report must leave)."""
    root = tmp_path_factory.mktemp("killed")
    runs = root / "runs"
    for backend, seconds in (("tensorflow", 1.0), ("jax", 1.5)):
        for repeat in range(2):
            write_run(runs, "mnist_mlp", backend, repeat, seconds=seconds, seed=repeat)
    out = root / "out"
    build.build_report(runs, out, references=[], n_resamples=200, seed=1)
    return runs, out


def _copy(out: Path, to: Path) -> dict:
    shutil.copytree(out, to)
    return {name: (to / name).read_bytes() for name in ("summary.csv", "report.html")}


def _staging(out: Path) -> list:
    return sorted(p for p in out.iterdir() if p.name.startswith(build.STAGING_PREFIX))


def test_sigkill_before_the_swap_leaves_the_report_as_it_was(first_report, tmp_path):
    runs, out = first_report
    out = tmp_path / "out"
    before = _copy(first_report[1], out)
    child = _report_stopped(runs, out, "staged", signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL
    for name, data in before.items():
        assert (out / name).read_bytes() == data, name
    (left,) = _staging(out)
    assert (left / "summary.csv").is_file() and (left / "report.html").is_file()
    # The next report removes it at its start.
    build.build_report(runs, out, references=[], n_resamples=200, seed=1)
    assert _staging(out) == []
    assert (out / "summary.csv").read_bytes() == before["summary.csv"]


def test_sigkill_mid_swap_never_leaves_a_new_summary_beside_the_old_page(first_report, tmp_path):
    runs, out = first_report
    out = tmp_path / "out"
    before = _copy(first_report[1], out)
    # Killed right after the page was moved in: summary.csv is moved last.
    child = _report_stopped(runs, out, "report.html", signal.SIGKILL, seed=5)
    assert child.returncode == -signal.SIGKILL
    assert (out / "report.html").read_bytes() != before["report.html"]
    assert (out / "summary.csv").read_bytes() == before["summary.csv"]
    (left,) = _staging(out)
    staged = (left / "summary.csv").read_bytes()
    assert staged != before["summary.csv"]  # seed 5: other bootstrap intervals
    # The next report's start finishes the swap it had begun, then removes the folder.
    assert build.recover_staging(out) == [left]
    assert (out / "summary.csv").read_bytes() == staged
    assert _staging(out) == []


def test_sigterm_removes_the_staging_folder_at_once(first_report, tmp_path):
    runs, out = first_report
    out = tmp_path / "out"
    before = _copy(first_report[1], out)
    child = _report_stopped(runs, out, "staged", signal.SIGTERM)
    assert child.returncode == 128 + signal.SIGTERM
    assert child.err.startswith("kerasbench: stopped by SIGTERM") and "Traceback" not in child.err
    assert len(child.err.strip().splitlines()) == 1, child.err
    assert _staging(out) == []
    for name, data in before.items():
        assert (out / name).read_bytes() == data, name


def test_a_running_reports_staging_folder_is_left_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    staging, lock = build._new_staging(out)
    try:
        assert build.recover_staging(out) == [] and staging.is_dir()
    finally:
        lock.close()
    assert build.recover_staging(out) == [staging] and not staging.exists()


@pytest.mark.parametrize(
    "left,restored",
    [
        ({"summary.csv.previous", "analysis.ipynb"}, True),  # killed while the notebook ran
        ({"summary.csv.previous", "report.html"}, True),  # killed before the page moved in
        ({"summary.csv.previous"}, False),  # killed after: the page beside it is new
    ],
)
def test_staging_of_the_earlier_report_is_cleaned_up(tmp_path, left, restored):
    """kerasbench before this staging moved summary.csv aside while the notebook wrote the new
    one in its place; a kill left it in OUT/.report-*."""
    out = tmp_path / "out"
    old = out / ".report-abc123"
    old.mkdir(parents=True)
    for name in left:
        (old / name).write_text("old" if name == "summary.csv.previous" else "x")
    (out / "summary.csv").write_text("new")
    mine = out / ".report-mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("not a report's")
    assert build.recover_staging(out) == [old]
    assert (out / "summary.csv").read_text() == ("old" if restored else "new")
    assert mine.is_dir()


def test_report_writes_summary_through_staging(first_report):
    """The notebook writes summary.csv in the staging folder (parameter summary_dir), never over
    the one beside the page while it runs."""
    _, out = first_report
    executed = json.loads((out / "analysis.ipynb").read_text())
    injected = next(
        "".join(c["source"])
        for c in executed["cells"]
        if "injected-parameters" in c["metadata"].get("tags", [])
    )
    assert re.search(r'summary_dir = ".*/\.kerasbench-report-[^/"]+"', injected), injected
    assert _staging(out) == [] and len(pd.read_csv(out / "summary.csv")) == 2
