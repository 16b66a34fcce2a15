"""The study report: notebooks/analysis.ipynb run by papermill, exported to one offline HTML file.

`build_report` loads the study first (a user's mistake becomes one `ReportError` line, not a
notebook traceback), then executes the notebook into out_dir (the notebook computes the summary
once, writes summary.csv and shows it) and exports report.html with the code hidden. The HTML
loads nothing from the network: plotly.js is embedded once (plots.OfflineNotebookRenderer) and
the `kerasbench` nbconvert template (templates/kerasbench) drops the require.js, MathJax and
mermaid <script>s nbconvert would fetch from a CDN. `jupyter nbconvert --execute --to html
notebooks/analysis.ipynb` with the project's Jupyter uses the same template (the environment's
jupyter_nbconvert_config.json, written by `install_nbconvert_config`, `make kernels`) and gives
the same page; the notebook's cells hide their own code (metadata transient.remove_source).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import uuid
import warnings
from pathlib import Path

import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from nbconvert import HTMLExporter

import kerasbench
from kerasbench import registry
from kerasbench.errors import UserError
from kerasbench.report import rundata

NOTEBOOK = Path(registry.NOTEBOOKS_DIR) / "analysis.ipynb"
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


def load(runs_dir, references=None) -> rundata.Study:
    """rundata.load_study with its errors as ReportError (one line)."""
    try:
        return rundata.load_study(runs_dir, references)
    except rundata.RunDataError as e:
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


def export_html(notebook_path, html_path) -> Path:
    """The executed notebook as a self-contained HTML page; raises if it would fetch anything."""
    nb = nbformat.read(str(notebook_path), as_version=4)
    body, _ = exporter().from_notebook_node(nb, resources={"metadata": {"name": REPORT_TITLE}})
    problems = remote_references(body)
    if problems:
        raise RuntimeError(f"report.html would load from the network: {problems[:3]}")
    html_path = Path(html_path)
    html_path.write_text(body, encoding="utf-8")
    return html_path


_REMOTE = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^\s\"'>]+",
    re.IGNORECASE,
)


def remote_references(text: str) -> list:
    """Every <script>, <link>, <img> or <iframe> in the page that points at the network (a CDN
    copy of MathJax, require.js, plotly.js...). The report must have none."""
    return _REMOTE.findall(text)


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
    load(runs_dir, references)  # the user's mistakes, as one line, before a kernel starts
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        # The page, the executed notebook and the previous summary.csv wait in a staging folder
        # beside their place; renames need no space. A full disk or any failure leaves
        # summary.csv and report.html as they were, never a new summary.csv beside a stale page.
        staging = Path(tempfile.mkdtemp(prefix=".report-", dir=str(out_dir)))
    except OSError as e:
        raise ReportError(
            f"cannot write to output folder {_shown(out_dir)}: {e.strerror or e}"
        ) from None
    summary_csv = out_dir / "summary.csv"
    previous = staging / "summary.csv.previous"
    done = False
    try:
        if summary_csv.exists():
            os.replace(summary_csv, previous)  # the notebook writes the new one in its place
        executed = staging / "analysis.ipynb"
        parameters = {
            "out_dir": str(out_dir),
            "runs_dir": str(runs_dir),
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
        export_html(executed, staging / "report.html")
        os.replace(executed, out_dir / "analysis.ipynb")
        os.replace(staging / "report.html", out_dir / "report.html")
        done = True
    except Exception as e:  # papermill wraps the notebook's own OSError in its own error
        if not _disk_full(e):
            raise
        raise ReportError(
            f"no space left in {_shown(out_dir)}: the report was not written "
            f"(summary.csv and report.html are as they were)"
        ) from None
    finally:
        if not done:
            with contextlib.suppress(OSError):
                summary_csv.unlink()
            if previous.exists():
                os.replace(previous, summary_csv)
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir / "report.html"


def _disk_full(error) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "No space left on device" in str(error) or "Disk quota exceeded" in str(error)


def _shown(path, limit=120) -> str:
    """A path as an error line shows it: a 4,000-character one is cut in the middle."""
    text = str(path)
    return text if len(text) <= limit else text[: limit // 2] + "..." + text[-limit // 2 :]
