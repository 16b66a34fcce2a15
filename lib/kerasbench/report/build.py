"""The study report: notebooks/analysis.ipynb run by papermill, exported to one offline HTML file.

`build_report` loads the study first (a user's mistake becomes one `ReportError` line, not a
notebook traceback), then executes the notebook into out_dir (the notebook computes the summary
once, writes summary.csv and shows it) and exports report.html with the code hidden. The HTML
loads nothing from the network: plotly.js is embedded once (figures.OfflineNotebookRenderer) and
the `kerasbench` nbconvert template (templates/kerasbench) drops the require.js, MathJax and
mermaid <script>s nbconvert would fetch from a CDN. `jupyter nbconvert --execute --to html
notebooks/analysis.ipynb` with the project's Jupyter uses the same template (the environment's
jupyter_nbconvert_config.json, written by `install_nbconvert_config`, `make kernels`) and gives
the same page. Every code cell of the notebook carries the tag `remove-input`: the `kerasbench`
template leaves its code out of the page, while Jupyter and `nbconvert --to script` still show it.
The notebook resolves every folder through `study_paths` (out_dir None: the repository's output/,
wherever the notebook runs from), so both routes read the same runs, parity and profile results.

Nothing a runs folder brings can make the page run or load anything: the page's blocks escape it
(style; sections renders the runs folder's README.md as Markdown without HTML),
`resources_outside` parses the finished page for every URL-bearing attribute and CSS (a page that
would load anything is refused with one line naming the file the address came from), and the
template's Content-Security-Policy lets the browser fetch nothing from outside the file.

`build_report` writes through a staging folder, OUT/.kerasbench-report-XXXX: the notebook writes
summary.csv there, the page and the executed notebook are exported there, and only then are they
renamed into OUT, summary.csv last, after a mark (SWAPPING) says the swap has begun. A report
killed before the mark leaves OUT as it was; one killed during the swap leaves at worst the new
page beside the old summary.csv (never a new summary.csv beside the old page), and the next
`report` in OUT (`recover_staging`, at its start) finishes that swap, then removes every staging
folder whose report is gone (each holds an flock on its `.lock` while its report lives).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import html
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import uuid
import warnings
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import papermill
import tinycss2
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from nbconvert import HTMLExporter

import kerasbench
from kerasbench import registry, studyfiles
from kerasbench.errors import UserError
from kerasbench.report import references, rundata, tidy
from kerasbench.study import signals

NOTEBOOK = Path(registry.NOTEBOOKS_DIR) / studyfiles.ANALYSIS_NOTEBOOK  # executed under its name
TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "kerasbench"
REPORT_TITLE = "kerasbench: Keras backends compared"


class ReportError(UserError, ValueError):
    """A report the user asked for cannot be built (missing or empty runs folder, damaged file)."""


@contextlib.contextmanager
def _kernel_can_import_kerasbench():
    """The kernel papermill starts inherits this environment: put this kerasbench's lib/ first."""
    lib = str(Path(kerasbench.__file__).resolve().parent.parent)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = lib + (os.pathsep + before if before else "")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


class IpcKernelManager(AsyncKernelManager):
    """A local kernel on Unix sockets instead of TCP ports: nothing listens on the network, and
    the kernel has no reason to print its "running over TCP without encryption" warning."""

    def __init__(self, **kwargs):
        kwargs.setdefault("transport", "ipc")
        super().__init__(**kwargs)
        # An absolute socket path: "kernel-ipc", the default without a connection file yet, is
        # relative, and the kernel (cwd: the notebook's folder) would not find the client's.
        runtime = jupyter_runtime_dir()
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        self.ip = os.path.join(runtime, f"kerasbench-{uuid.uuid4().hex[:12]}-ipc")


@contextlib.contextmanager
def _quiet_jupyter():
    """Keep Jupyter's own chatter (its "TCP without encryption" warning about the local kernel's
    sockets, papermill's INFO lines) off the user's screen; errors still raise."""
    loggers = [
        logging.getLogger(name) for name in ("papermill", "traitlets", "jupyter_client", "nbclient")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def check_settings(confidence_level, n_resamples):
    if not 0 < confidence_level < 1:
        raise ReportError(f"confidence level must be between 0 and 1, got {confidence_level}")
    if int(n_resamples) < 1:
        raise ReportError(f"number of bootstrap resamples must be at least 1, got {n_resamples}")


class StudyPaths:
    """The folders of one study the report reads and writes, all absolute and derived from one
    study folder: runs/, parity/ (`kerasbench parity --out OUT/parity`), profile/
    (`kerasbench profile --out OUT/profile/W/B`) and where summary.csv goes."""

    def __init__(self, out, runs, summary):
        self.out = out
        self.runs = runs
        self.summary = summary
        self.parity = out / studyfiles.PARITY
        self.profile = out / studyfiles.PROFILE


def study_paths(out_dir=None, runs_dir=None, summary_dir=None) -> StudyPaths:
    """The study folder `out_dir` (None: the repository's output/, found from the package, not
    from the working directory; a relative path: from here where it exists, else from the
    repository root) and the folders derived from it; runs_dir and summary_dir override theirs."""
    out = (
        Path(registry.ROOT) / "output" if out_dir is None else rundata.repo_path(out_dir)
    ).resolve()
    runs = rundata.repo_path(runs_dir).resolve() if runs_dir else out / studyfiles.RUNS
    summary = rundata.repo_path(summary_dir).resolve() if summary_dir else out
    return StudyPaths(out, runs, summary)


def load(runs_dir, references=None) -> rundata.Study:
    """rundata.load_study with its errors as ReportError (one line)."""
    try:
        return rundata.load_study(runs_dir, references)
    except tidy.RunDataError as e:
        raise ReportError(str(e)) from None


NBCONVERT_CONFIG = "jupyter_nbconvert_config.json"


def nbconvert_config() -> dict:
    """What `jupyter nbconvert` needs to export the report as `kerasbench report` does: the
    offline template (a page without CDN scripts; harmless for any other notebook) and the
    kernel on Unix sockets (no "TCP without encryption" warning)."""
    return {
        "HTMLExporter": {
            "extra_template_basedirs": [str(TEMPLATES)],
            "template_name": TEMPLATE,
            "exclude_input_prompt": True,
            "exclude_output_prompt": True,
        },
        "ExecutePreprocessor": {"kernel_manager_class": "kerasbench.report.build.IpcKernelManager"},
    }


def install_nbconvert_config(prefix=None) -> Path:
    """Write nbconvert_config() into <prefix>/etc/jupyter (prefix: this Python's environment),
    merged into what is there; returns the path."""
    path = Path(prefix or sys.prefix) / "etc" / "jupyter" / NBCONVERT_CONFIG
    config = {}
    if path.is_file():
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            config = {}
    for section, values in nbconvert_config().items():
        config.setdefault(section, {}).update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


def exporter() -> HTMLExporter:
    """The HTML exporter both routes use: the offline `kerasbench` template, code hidden."""
    return HTMLExporter(
        extra_template_basedirs=[str(TEMPLATES)],
        template_name=TEMPLATE,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def export_html(notebook_path, html_path, origins=()) -> Path:
    """The executed notebook as a self-contained HTML page. Raises ReportError, naming the file
    the address came from (the first of `origins` that holds it), if the page would load anything
    from outside itself."""
    nb = nbformat.read(str(notebook_path), as_version=4)
    body, _ = exporter().from_notebook_node(nb, resources={"metadata": {"name": REPORT_TITLE}})
    found = resources_outside(body)
    if found:
        where, url = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ReportError(
            f"report.html would load {_shown(' '.join(url.split()), 100)} from outside the page "
            f"({' '.join(where.split())}){more}, from {_origin(url, origins)}: the report was "
            "not written"
        )
    html_path = Path(html_path)
    html_path.write_text(body, encoding="utf-8")
    return html_path


# Attributes whose value the browser fetches as it shows the page (href: on every element but
# a and area, whose links are fetched only when followed; a's ping is fetched on a click).
RESOURCE_ATTRIBUTES = frozenset(
    {
        "src",
        "srcset",
        "imagesrcset",
        "poster",
        "data",
        "action",
        "formaction",
        "href",
        "xlink:href",
        "background",
        "lowsrc",
        "dynsrc",
        "codebase",
        "archive",
        "manifest",
        "ping",
        "icon",
    }
)
_LINK_TAGS = frozenset({"a", "area"})
# SVG presentation attributes whose value may be a CSS url() (fill="url(#gradient)").
CSS_URL_ATTRIBUTES = frozenset(
    {
        "fill",
        "stroke",
        "filter",
        "clip-path",
        "mask",
        "marker-start",
        "marker-mid",
        "marker-end",
        "cursor",
    }
)


def _inside(url: str) -> bool:
    """A resource address that loads nothing: empty, a fragment of this page, a data: URI."""
    url = "".join(c for c in url if c not in "\t\n\r").strip(" \f\v\x00")
    return url == "" or url.startswith("#") or url.lower().startswith(("data:", "about:blank"))


def _srcset(value: str) -> list:
    """The addresses of a srcset ('a.png 1x, data:image/png;base64,... 2x')."""
    urls, i = [], 0
    while i < len(value):
        while i < len(value) and (value[i].isspace() or value[i] == ","):
            i += 1
        j = i
        while j < len(value) and not value[j].isspace():
            j += 1
        if j > i:
            urls.append(value[i:j].rstrip(","))
        # the descriptors, up to the next comma outside parentheses
        depth = 0
        while j < len(value) and (value[j] != "," or depth):
            depth += {"(": 1, ")": -1}.get(value[j], 0)
            j += 1
        i = j
    return urls


def css_urls(css: str, kind: str = "stylesheet") -> list:
    """Every address CSS loads: url(), src(), image-set() strings, @import (not @namespace,
    whose URL is a name). kind: "stylesheet" (a <style> block), "declarations" (a style
    attribute) or "value" (an SVG attribute such as fill="url(...)")."""
    if kind == "declarations":
        nodes = tinycss2.parse_blocks_contents(css, skip_comments=True)
    elif kind == "value":
        nodes = tinycss2.parse_component_value_list(css, skip_comments=True)
    else:
        nodes = tinycss2.parse_stylesheet(css, skip_comments=True)
    found = []

    def walk(nodes):
        for node in nodes or ():
            kind = getattr(node, "type", None)
            if kind == "url":
                found.append(node.value)
            elif kind == "function":
                if node.lower_name in ("url", "src") or node.lower_name.endswith("image-set"):
                    found.extend(a.value for a in node.arguments if a.type == "string")
                walk(node.arguments)
            elif kind == "at-rule":
                if node.lower_at_keyword == "import":
                    found.extend(a.value for a in node.prelude if a.type == "string")
                if node.lower_at_keyword != "namespace":
                    walk(node.prelude)
                walk(node.content)
            elif kind == "qualified-rule":
                walk(node.prelude)
                walk(node.content)
            elif kind == "declaration":
                walk(node.value)
            elif kind in ("() block", "[] block", "{} block"):
                walk(node.content)

    walk(nodes)
    return found


class _Resources(HTMLParser):
    """(where, url) for every address the page would load from outside itself."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []
        self._style = False

    def _check(self, where, urls):
        self.found.extend((where, u) for u in urls if not _inside(u))

    def handle_starttag(self, tag, attrs):
        self._style = tag == "style"
        values = dict(attrs)
        for name, value in attrs:
            if value is None:
                continue
            where = f"<{tag} {name}>"
            if name in ("srcset", "imagesrcset"):
                self._check(where, _srcset(value))
            elif name in RESOURCE_ATTRIBUTES and not (
                name in ("href", "xlink:href") and tag in _LINK_TAGS
            ):
                self._check(where, [value])
            if name == "style":
                self._check(where, css_urls(value, "declarations"))
            elif name in CSS_URL_ATTRIBUTES:
                self._check(where, css_urls(value, "value"))
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            content = values.get("content") or ""
            _, _, target = content.partition(";")
            target = target.strip()
            if target.lower().startswith("url="):
                target = target[4:].strip(" '\"")
            if target:
                self._check("<meta http-equiv=refresh>", [target])

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == "style":
            self._style = False

    def handle_data(self, data):
        if self._style:
            self._check("<style>", css_urls(data))


def resources_outside(text: str) -> list:
    """(where, url) of every resource in the page that loads from outside it: every URL-bearing
    attribute (src, srcset, poster, data, action, formaction, href of anything but a link,
    xlink:href...), a meta refresh, and url()/@import/image-set() in style attributes and
    <style> blocks. Only data: URIs and fragments of the page itself are inside it."""
    parser = _Resources()
    parser.feed(text)
    parser.close()
    return parser.found


def remote_references(text: str) -> list:
    """Every resource of the page that loads from outside it, as '<tag attribute> url' (a CDN copy
    of MathJax, require.js, plotly.js, a badge image...). The report must have none."""
    return [f"{where} {url}" for where, url in resources_outside(text)]


def _origin(url: str, origins) -> str:
    """The first of the study's files that holds url, or where else it came from."""
    for path in origins:
        try:
            if Path(path).stat().st_size > 20_000_000:
                continue
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if url in text or html.escape(url) in text:
            return _shown(path)
    return "the analysis notebook's output (no file of the study holds it)"


def study_files(study):
    """The files a study's page is made from, where a refused address is looked for (lazily:
    only a refusal reads them): the runs folder's README.md, each reference's files
    (source.yaml first), each run folder's files."""
    yield Path(study.runs_dir) / rundata.STUDY_NOTES
    for source in study.sources:
        if source.reference and source.folder:
            folder = Path(source.folder)
            yield folder / references.SOURCE_FILE
            with contextlib.suppress(OSError):
                yield from sorted(p for p in folder.iterdir() if p.is_file())
    for path in study.runs.get("path", []):
        with contextlib.suppress(OSError):
            yield from sorted(p for p in Path(path).iterdir() if p.is_file())


# ---------------------------------------------------------------------------------------------
# Staging: the page and summary.csv move into OUT together, or not at all

STAGING_PREFIX = studyfiles.REPORT_STAGING
_LEGACY_STAGING_PREFIX = studyfiles.LEGACY_REPORT_STAGING
_LEGACY_FILES = frozenset(
    {studyfiles.LEGACY_SUMMARY, studyfiles.ANALYSIS_NOTEBOOK, studyfiles.REPORT_HTML}
)
STAGING_LOCK = studyfiles.REPORT_STAGING_LOCK
SWAP_MARK = studyfiles.REPORT_SWAP_MARK
SWAPPED = studyfiles.REPORT_SWAPPED  # summary.csv last (studyfiles)


def _staged(staging: Path):
    """Called when the staging folder holds the whole report, before the swap (tests pause
    here to kill a report at a known point)."""


def _moved(name: str):
    """Called after each file of the swap is moved into OUT (tests pause here)."""


def _new_staging(out_dir: Path):
    """A fresh staging folder in out_dir and its lock (held by this process while it lives)."""
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=str(out_dir)))
    lock = open(staging / STAGING_LOCK, "w")  # held until the report ends
    fcntl.flock(lock, fcntl.LOCK_EX)
    return staging, lock


def _swap(staging: Path, out_dir: Path):
    """Move what staging holds of SWAPPED into out_dir, in that order (whatever was moved
    already is skipped: a swap a kill interrupted is finished by the next call)."""
    for name in SWAPPED:
        if (staging / name).exists():
            os.replace(staging / name, out_dir / name)
            _moved(name)


def _mark_swapping(staging: Path):
    """SWAP_MARK, written whole (fsynced, renamed into place) before the first rename."""
    tmp = staging / (SWAP_MARK + ".tmp")
    with open(tmp, "w") as f:
        f.write("the report in this folder is complete; its files are being moved in\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, staging / SWAP_MARK)


def recover_staging(out_dir) -> list:
    """Clean up after a `report` killed in out_dir: a staging folder whose swap had begun has
    it finished (its files moved in, summary.csv last); every staging folder whose report is
    gone is removed (one whose report still runs holds its lock and is left alone). Also the
    folders of kerasbench before this staging (.report-*, holding the previous summary.csv while
    the notebook wrote the new one in its place): their summary.csv is put back where the page
    beside it is still the old one. Returns the folders removed."""
    out_dir = Path(out_dir)
    removed = []
    for path in sorted(out_dir.glob(STAGING_PREFIX + "*")):
        if not path.is_dir() or path.is_symlink():
            continue
        try:
            lock = open(path / STAGING_LOCK, "a")
        except OSError:
            lock = None
        try:
            if lock is not None:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its report is running
            if (path / SWAP_MARK).is_file():
                _swap(path, out_dir)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            if lock is not None:
                lock.close()
    for path in sorted(out_dir.glob(_LEGACY_STAGING_PREFIX + "*")):
        if not path.is_dir() or path.is_symlink():
            continue
        names = {p.name for p in path.iterdir()}
        if not names <= _LEGACY_FILES:
            continue  # not a folder the old report made
        previous = path / studyfiles.LEGACY_SUMMARY
        page_still_old = bool(names & {studyfiles.ANALYSIS_NOTEBOOK, studyfiles.REPORT_HTML})
        if previous.is_file() and (
            page_still_old or not (out_dir / studyfiles.SUMMARY_CSV).exists()
        ):
            os.replace(previous, out_dir / studyfiles.SUMMARY_CSV)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


@contextlib.contextmanager
def _stopped_by_signals():
    """SIGTERM and SIGHUP end a report as Ctrl-C does (study.signals: Terminated, which the CLI
    turns into one line and exit 128 + the signal), so that the staging folder is removed or a
    begun swap finished; SIGKILL leaves that to the next report's recover_staging. Only in the
    main thread, where Python delivers signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with signals.handled():
        yield


def build_report(
    runs_dir,
    out_dir,
    references=None,
    kernel_name="python3",
    confidence_level=0.95,
    n_resamples=10000,
    seed=0,
) -> Path:
    """Run the analysis notebook over runs_dir; write out_dir/{summary.csv, analysis.ipynb, report.html}.

    references: reference folders (None: the shipped 2017 logs; []: none). Returns the path of
    report.html. Raises ReportError for a missing or empty runs folder, a missing or damaged
    reference, a damaged epochs.csv/run.json, or impossible statistics settings.
    """
    check_settings(confidence_level, n_resamples)
    runs_dir = rundata.repo_path(runs_dir).resolve()
    out_dir = Path(out_dir).resolve()
    if references is not None:
        references = [str(rundata.repo_path(r).resolve()) for r in references]
    study = load(runs_dir, references)  # the user's mistakes, as one line, before a kernel starts
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        recover_staging(out_dir)
        # summary.csv, the page and the executed notebook are written in a staging folder beside
        # their place, then renamed in (renames need no space): a full disk, an error or a kill
        # leaves summary.csv and report.html as they were (see the module's docstring).
        staging, lock = _new_staging(out_dir)
    except OSError as e:
        raise ReportError(
            f"cannot write to output folder {_shown(out_dir)}: {e.strerror or e}"
        ) from None
    swapping = False
    try:
        with _stopped_by_signals():
            executed = staging / studyfiles.ANALYSIS_NOTEBOOK
            parameters = {
                "out_dir": str(out_dir),
                "runs_dir": str(runs_dir),
                "summary_dir": str(staging),
                "references": references,
                "confidence_level": float(confidence_level),
                "n_resamples": int(n_resamples),
                "seed": int(seed),
            }
            with _kernel_can_import_kerasbench(), _quiet_jupyter():
                papermill.execute_notebook(
                    str(NOTEBOOK),
                    str(executed),
                    parameters=parameters,
                    kernel_name=kernel_name,
                    cwd=str(out_dir),
                    progress_bar=False,
                    log_output=False,
                    kernel_manager_class=IpcKernelManager,
                )
            export_html(executed, staging / studyfiles.REPORT_HTML, origins=study_files(study))
            if not (staging / studyfiles.SUMMARY_CSV).is_file():
                raise RuntimeError(f"the analysis notebook wrote no summary.csv in {staging}")
            _staged(staging)
            _mark_swapping(staging)
            swapping = True
            _swap(staging, out_dir)
    except Exception as e:  # papermill wraps the notebook's own OSError in its own error
        if not _disk_full(e):
            raise
        raise ReportError(
            f"no space left in {_shown(out_dir)}: the report was not written "
            f"(summary.csv and report.html are as they were)"
        ) from None
    finally:
        try:
            if swapping:
                _swap(staging, out_dir)  # a begun swap is finished, whatever stopped it
            shutil.rmtree(staging, ignore_errors=True)
        except OSError:
            pass  # left to the next report's recover_staging
        finally:
            lock.close()
    return out_dir / studyfiles.REPORT_HTML


def _disk_full(error) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "No space left on device" in str(error) or "Disk quota exceeded" in str(error)


def _shown(path, limit=120) -> str:
    """A path as an error line shows it: a 4,000-character one is cut in the middle."""
    text = str(path)
    return text if len(text) <= limit else text[: limit // 2] + "..." + text[-limit // 2 :]
