"""The study report: notebooks/analysis.ipynb run by papermill, exported to one offline HTML file.

`build_report` reads and checks the runs first (a user's mistake becomes one `ReportError` line,
not a notebook traceback), writes summary.csv from the library, then executes the notebook into
out_dir and exports report.html with the code hidden. The HTML loads nothing from the network:
plotly.js is embedded once (plots.OfflineNotebookRenderer) and the export template drops the
require.js, MathJax and mermaid <script>s nbconvert would fetch from a CDN.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import jinja2
import nbformat
import papermill
from nbconvert import HTMLExporter

import kerasbench
from kerasbench import analysis, registry
from kerasbench.errors import UserError

NOTEBOOK = Path(registry.NOTEBOOKS_DIR) / "analysis.ipynb"
REPORT_TITLE = "kerasbench: Keras backends compared"

_TEMPLATE_NAME = "kerasbench_report.html.j2"
# The lab template without the <script src=https://...> tags (the report must open offline).
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""


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


def _check(runs_dir: Path, reference_dir, confidence_level, n_resamples):
    if not 0 < confidence_level < 1:
        raise ReportError(f"confidence level must be between 0 and 1, got {confidence_level}")
    if int(n_resamples) < 1:
        raise ReportError(f"number of bootstrap resamples must be at least 1, got {n_resamples}")
    if not runs_dir.exists():
        raise ReportError(f"runs folder not found: {runs_dir}")
    if not runs_dir.is_dir():
        raise ReportError(f"runs folder is not a folder: {runs_dir}")
    if reference_dir is not None and not Path(reference_dir).is_dir():
        raise ReportError(f"reference folder not found: {reference_dir}")


def summarize_runs(runs_dir, reference_dir=None, *, confidence_level=0.95, n_resamples=10_000,
                   seed=0):
    """The run index and the summary table, with user errors raised as ReportError."""
    runs_dir = Path(runs_dir)
    _check(runs_dir, reference_dir, confidence_level, n_resamples)
    try:
        runs = analysis.load_run_index(runs_dir)
        if runs.empty:
            hint = (f"; did you mean {runs_dir / 'runs'}?" if (runs_dir / "runs").is_dir()
                    else " (expected <workload>/<backend>/<repeat>/ folders with epochs.csv and run.json)")
            raise ReportError(f"no runs in {runs_dir}{hint}")
        epochs = analysis.combine(analysis.load_runs(runs_dir),
                                  analysis.load_reference(reference_dir))
    except analysis.RunDataError as e:
        raise ReportError(str(e)) from None
    summary = analysis.summarize(epochs, confidence_level=confidence_level,
                                 n_resamples=int(n_resamples), seed=int(seed))
    return runs, summary


def export_html(notebook_path, html_path) -> Path:
    """The executed notebook as a self-contained HTML page, code cells and prompts hidden."""
    nb = nbformat.read(str(notebook_path), as_version=4)
    exporter = HTMLExporter(
        template_name="lab", template_file=_TEMPLATE_NAME,
        extra_loaders=[jinja2.DictLoader({_TEMPLATE_NAME: _OFFLINE_TEMPLATE})],
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": REPORT_TITLE}})
    html_path = Path(html_path)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def build_report(runs_dir, out_dir, reference_dir=None, kernel_name="python3",
                 confidence_level=0.95, n_resamples=10000, seed=0) -> Path:
    """Run the analysis notebook over runs_dir; write out_dir/{summary.csv, analysis.ipynb, report.html}.

    Returns the path of report.html. Raises ReportError for a missing or empty runs folder, a
    damaged epochs.csv/run.json, or impossible statistics settings.
    """
    runs_dir = Path(runs_dir).resolve()
    out_dir = Path(out_dir).resolve()
    reference_dir = Path(reference_dir).resolve() if reference_dir is not None else None
    _, summary = summarize_runs(runs_dir, reference_dir, confidence_level=confidence_level,
                                n_resamples=n_resamples, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    analysis.write_summary(summary, out_dir)
    executed = out_dir / "analysis.ipynb"
    parameters = {"runs_dir": str(runs_dir),
                  "reference_dir": str(reference_dir) if reference_dir is not None else None,
                  "confidence_level": float(confidence_level), "n_resamples": int(n_resamples),
                  "seed": int(seed), "out_dir": str(out_dir)}
    with _kernel_can_import_kerasbench():
        papermill.execute_notebook(str(NOTEBOOK), str(executed), parameters=parameters,
                                   kernel_name=kernel_name, cwd=str(out_dir), progress_bar=False)
    return export_html(executed, out_dir / "report.html")
