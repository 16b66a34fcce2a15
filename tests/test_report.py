"""The report end to end: a generated runs folder -> papermill -> report.html, the nbconvert
route, references as data, user errors, and the page in headless Chromium (tests/browser.py).

The report is built once per module (about 10 s: a kernel start and the export). The browser test
needs /usr/bin/chromium (`apt-get update && apt-get install -y chromium`) and skips without it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    import kerasbench  # noqa: F401
except ImportError:  # not installed: use the checkout's lib/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from kerasbench import registry  # noqa: E402
from kerasbench.report import build as report  # noqa: E402
from kerasbench.report import references, summary as summary_mod  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser  # noqa: E402

SHIPPED = references.SHIPPED_REFERENCE


# ---------------------------------------------------------------------------------------------
# A generated runs folder


def write_run(
    root: Path,
    workload: str,
    backend: str,
    repeat: int,
    *,
    epochs: int = 4,
    seconds: float = 1.0,
    status: str | None = "ok",
    error=None,
    data_source: str = "full",
    profile: str = "smoke",
    sample: str | None = None,
    write_epochs: bool = True,
    seed: int = 0,
    config: str = "default",
) -> Path:
    """One run folder as the runner and the kernel write it (docs/design.md).

    status=None leaves run.json out (an unfinished run).
    """
    run_dir = (
        root / workload / backend / (str(repeat) if config == "default" else f"{config}-{repeat}")
    )
    run_dir.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    text = registry.WORKLOADS[workload].text_model
    if write_epochs:
        rows = []
        elapsed = 0.0
        for epoch in range(epochs):
            epoch_seconds = (
                seconds * (3.0 if epoch == 0 else 1.0) * (1 + 0.05 * rng.standard_normal())
            )
            elapsed += epoch_seconds
            loss = 2.0 / (epoch + 1) + 0.01 * rng.standard_normal()
            row = {
                "epoch": epoch,
                "epoch_seconds": epoch_seconds,
                "train_seconds": "" if text else 0.9 * epoch_seconds,
                "elapsed_seconds": elapsed,
                "samples_per_second": 1000 / epoch_seconds,
                "loss": loss,
                "accuracy": "" if text else 1 - loss / 4,
                "val_loss": "" if text else loss * 1.1,
                "val_accuracy": "" if text else 1 - loss / 3.5,
            }
            if workload == "text_generator_keras":
                row.update({"aux_out_loss": loss * 1.2, "main_out_loss": loss * 0.9})
                row["loss"] = row["main_out_loss"] + 0.2 * row["aux_out_loss"]
            rows.append(row)
        pd.DataFrame(rows).to_csv(run_dir / "epochs.csv", index=False)
    if sample is not None:
        (run_dir / "sample.txt").write_text(sample, encoding="utf-8")
    if status is not None:
        run = {
            "schema": 1,
            "workload": workload,
            "backend": backend,
            "profile": profile,
            "repeat": repeat,
            "seed": 1000 + repeat,
            "config": config,
            "params": {"epochs": epochs, "batch_size": 128},
            "data": {"source": data_source, "detail": f"{workload}: generated test data"},
            "versions": {
                "python": "3.11.7",
                "keras": "3.15.1",
                "backend_framework": f"{backend} 1.0",
                "numpy": "2.4.6",
                "cuda": None,
                "cudnn": None,
            },
            "device": {
                "cpu": "Test CPU <model>",
                "cores": 2,
                "gpu": None,
                "gpu_memory_mb": None,
                "driver": None,
            },
            "backend_settings": {"precision": "float32"},
            "kerasbench": {"version": "0.1.0", "git_commit": "abc123"},
            "host": "test",
            "started_at": "2026-11-25T10:00:00+00:00",
            "ended_at": "2026-11-25T10:01:00+00:00",
            "wall_seconds": 60.0,
            "status": status,
            "error": error,
        }
        (run_dir / "run.json").write_text(json.dumps(run, indent=1), encoding="utf-8")
    return run_dir


SAMPLE = "the <script>alert('x')</script> & philosopher said:\n  \"nothing\" is <b>true</b>"


def make_runs(root: Path) -> Path:
    """A small study: 3 backends x 3 repeats on MNIST MLP (one torch run failed) and one tuned
    run each, single runs on
    CIFAR-10 with generated data, two text models with samples, an unfinished run and a run that
    timed out before its first epoch."""
    for i, backend in enumerate(["tensorflow", "jax", "torch"]):
        for repeat in range(3):
            failed = backend == "torch" and repeat == 2
            write_run(
                root,
                "mnist_mlp",
                backend,
                repeat,
                seconds=1.0 + 0.5 * i,
                status="failed" if failed else "ok",
                epochs=2 if failed else 4,
                error="RuntimeError: out of memory <GPU 0>" if failed else None,
                seed=10 * i + repeat,
            )
        write_run(root, "mnist_mlp", backend, 0, config="tuned", seconds=0.5 + 0.5 * i, seed=40 + i)
    write_run(root, "cifar10_cnn", "tensorflow", 0, seconds=5.0, data_source="generated", seed=1)
    write_run(root, "cifar10_cnn", "jax", 0, seconds=4.0, data_source="generated", seed=2)
    write_run(root, "lstm_text_generation", "tensorflow", 0, seconds=2.0, sample=SAMPLE, seed=3)
    write_run(root, "lstm_text_generation", "torch", 0, seconds=2.5, sample="torch text", seed=4)
    write_run(root, "text_generator_keras", "jax", 0, seconds=3.0, sample="jax text", seed=5)
    write_run(root, "mnist_cnn", "jax", 0, seconds=2.0, status=None, epochs=2, seed=6)
    write_run(
        root,
        "imdb_fasttext",
        "torch",
        0,
        status="timeout",
        write_epochs=False,
        error="timed out after 600 s",
    )
    return root


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    return make_runs(tmp_path_factory.mktemp("study") / "runs")


@pytest.fixture(scope="module")
def built(runs_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    html_path = report.build_report(runs_dir, out, seed=7)
    return html_path, html_path.read_text(encoding="utf-8")


# Charts the generated study has: the overview, then per workload of this study the metric by
# epoch (none where this study's rows trained on generated data or none finished ok: a line says
# why) and the seconds per epoch (none where no run of this study has a steady epoch):
# mnist_mlp 2, cifar10_cnn 1 (generated data), the text models 2 each, mnist_cnn (unfinished) 0.
EXPECTED_CHARTS = 1 + 2 + 1 + 2 + 2


# ---------------------------------------------------------------------------------------------
# Report files and content


def test_report_files(built):
    html_path, _ = built
    out = html_path.parent
    assert html_path.name == "report.html"
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == summary_mod.SUMMARY_COLUMNS
    executed = json.loads((out / "analysis.ipynb").read_text())
    tags = [c["metadata"].get("tags", []) for c in executed["cells"]]
    assert ["injected-parameters"] in tags
    errors = [
        o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert not errors


def test_one_chart_per_expected_figure(built):
    _, text = built
    assert text.count('class="plotly-graph-div"') == EXPECTED_CHARTS
    assert text.count("Plotly.newPlot(") == EXPECTED_CHARTS


def test_report_is_offline_with_plotly_embedded_once(built):
    _, text = built
    assert report.remote_references(text) == []
    assert re.findall(r"<script[^>]+src=", text) == []
    # Outside plotly.js itself (whose map code names an icon CDN it never uses here), no address
    # of a CDN, MathJax or require.js at all.
    scripts = re.findall(r"<script[^>]*>.*?</script>", text, re.S)
    page = text.replace(max(scripts, key=len), "")
    assert not re.search(r"//[^\s\"'<>]*(cdn|jsdelivr|unpkg|mathjax|require)", page, re.I)
    assert text.count("plotly.js v") == 1  # the bundle's banner comment
    assert len(text) < 6_000_000  # plotly.js (~4.7 MB) once, plus the page


def test_remote_references_are_found():
    page = (
        '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>'
        "<link rel=stylesheet href='//cdn.example.org/x.css'><script>var u = 'https://x';</script>"
    )
    assert len(report.remote_references(page)) == 2


def test_verdict_comes_first(built):
    _, text = built
    verdict = re.search(r"id=[\"']kb-verdict", text).start()
    answer = re.search(r"id=[\"']kb-grid-default", text).start()
    assert answer < verdict < text.index("Sources") < text.index("plotly-graph-div")
    assert "As shipped" in text[answer:verdict]
    table = text[verdict : text.index("</table>", verdict)]
    # The fastest of MNIST MLP (all configurations together) is in bold, with the sentence.
    assert re.search(r"<b>tensorflow tuned</b> is fastest at", table)
    assert "1–3 runs each, so no interval" in table


def test_code_is_hidden_and_text_escaped(built):
    _, text = built
    assert "summary_mod.build(" not in text
    # Quotes may come back unescaped (nbconvert re-serialises outputs); markup must not.
    assert re.search(
        r"&lt;script&gt;alert\((&#x27;|')x(&#x27;|')\)&lt;/script&gt; &amp; philosopher", text
    )
    assert "<script>alert('x')" not in text
    assert "kb-sample" in text


def test_failed_unfinished_and_handicaps_are_stated(built):
    _, text = built
    for run_id in ("mnist_mlp/torch/2", "mnist_cnn/jax/0", "imdb_fasttext/torch/0"):
        assert run_id in text
    for status in ("failed", "unfinished", "timeout"):
        assert status in text
    assert "out of memory &lt;GPU 0&gt;" in text
    assert "generated data" in text
    assert (
        "No test accuracy (val_accuracy) chart: tensorflow default, jax default trained on generated data"
        in text
    )
    assert "no confidence interval (it takes 3)" in text
    # The Method section: the simulated coverage of the t interval for the n used, and what was
    # paired with what.
    assert "t: coverage" in text and "percentile bootstrap: coverage" in text
    assert "What was paired with what" in text and "in 3 blocks" in text


def test_sections_with_nothing_to_show_are_one_line(built):
    # The generated study has no README.md, no parity, no native floor and no profile: no
    # heading of theirs, no "No ... results" line each; one line, how to add each inside it.
    _, text = built
    for anchor in (
        "About-these-runs",
        "Does-it-learn-the-same?-Parity-across-backends",
        "Distance-to-the-floor",
        "Where-the-time-goes",
    ):
        assert not re.search(f"id=[\"']{re.escape(anchor)}[\"']", text), anchor
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))
    assert words.count("Not measured in this study") == 1
    assert "Not measured in this study: parity, floor, profile; no notes on these runs" in words
    assert "No parity results" not in words and "No profile in" not in words
    assert "No native" not in words


def test_summary_csv_matches_library(built, runs_dir):
    html_path, _ = built
    written = pd.read_csv(html_path.parent / "summary.csv")
    study = report.load(runs_dir)
    table = summary_mod.build(study, seed=7).table
    mnist = written[
        (written["workload"] == "mnist_mlp")
        & (written["config"] == "default")
        & ~written["reference"]
    ].set_index("backend")
    assert sorted(mnist.index) == ["jax", "tensorflow", "torch"]
    assert mnist.loc["torch", "runs"] == 2 and mnist.loc["tensorflow", "runs"] == 3
    assert np.isfinite(mnist.loc["tensorflow", "ci_low"]) and np.isnan(mnist.loc["torch", "ci_low"])
    pd.testing.assert_series_equal(
        written["mean_epoch_seconds"], table["mean_epoch_seconds"], rtol=1e-5, check_names=False
    )
    pd.testing.assert_series_equal(written["ci_low"], table["ci_low"], rtol=1e-5, check_names=False)


# ---------------------------------------------------------------------------------------------
# Two references, each its own source; the nbconvert route; a quiet CLI


def _reference_copy(root: Path, name: str, source_yaml: str | None, scale: float) -> Path:
    """A 2017-format folder: the shipped MNIST logs with every epoch time multiplied by scale."""
    folder = root / name
    folder.mkdir()
    for path in SHIPPED.glob("mnist_*.csv"):
        log = pd.read_csv(path)
        log["elapsed"] = log["elapsed"] * scale
        log.to_csv(folder / path.name, index=False)
    if source_yaml is not None:
        (folder / "source.yaml").write_text(source_yaml)
    return folder


def test_report_with_two_references(tmp_path, runs_dir):
    a = _reference_copy(tmp_path, "k80-logs", "label: K80 again\nhardware: one K80\n", 1.0)
    b = _reference_copy(tmp_path, "p100-logs", None, 0.5)
    out = tmp_path / "out"
    command = [
        str(Path(sys.executable).parent / "kerasbench"),
        "report",
        "--runs",
        str(runs_dir),
        "--out",
        str(out),
        "--reference",
        str(a),
        "--reference",
        str(b),
        "--resamples",
        "500",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    # What the user sees: the report's path, nothing from Jupyter.
    assert done.stdout.strip().splitlines()[0] == str(out / "report.html")
    assert "WARNING" not in done.stderr and "TCP" not in done.stderr, done.stderr
    summary = pd.read_csv(out / "summary.csv")
    references = summary[summary["reference"]]
    assert set(references["source"]) == {"K80 again", "p100-logs"}
    for label, folder in (("K80 again", a), ("p100-logs", b)):
        rows = references[references["source"] == label].set_index(["workload", "backend"])
        assert len(rows) == 4
        for path in folder.glob("*.csv"):
            workload, _, backend = path.stem.rpartition("_")
            assert rows.loc[(workload, backend), "mean_epoch_seconds"] == pytest.approx(
                pd.read_csv(path)["elapsed"].mean(), rel=1e-6
            )
    text = (out / "report.html").read_text()
    assert "K80 again" in text and "p100-logs" in text and "2017 K80 (Keras 2.0)" not in text


def test_nbconvert_route_gives_the_same_page(tmp_path, built, runs_dir):
    """`jupyter nbconvert --execute --to html notebooks/analysis.ipynb` with the project's
    nbconvert config, from another folder than the notebook's: the study folder's runs and its
    parity results (OUT/parity, where `kerasbench report` reads them), same verdict table, no
    code on the page."""
    study = tmp_path / "study"
    shutil.copytree(runs_dir, study / "runs")
    shutil.copytree(
        Path(registry.ROOT) / "output" / "reference" / "cpu-quick" / "parity", study / "parity"
    )
    notebook = tmp_path / "notebooks" / "analysis.ipynb"
    notebook.parent.mkdir()
    nb = json.loads((Path(registry.NOTEBOOKS_DIR) / "analysis.ipynb").read_text())
    for cell in nb["cells"]:  # the built report used seed 7; the study folder as a user names it
        if "parameters" in cell["metadata"].get("tags", []):
            cell["source"] = (
                "".join(cell["source"])
                .replace("seed = 0", "seed = 7")
                .replace("out_dir = None", f"out_dir = {str(study)!r}")
            )
    notebook.write_text(json.dumps(nb))
    config_dir = report.install_nbconvert_config(tmp_path / "env").parent
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "PYTHONPATH": str(Path(report.__file__).parents[2]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "html", str(notebook)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "TCP" not in done.stderr, done.stderr
    page = (notebook.parent / "analysis.html").read_text()
    assert report.remote_references(page) == []
    assert (study / "summary.csv").exists()
    assert "No parity results" not in page and "parity_losses" not in page
    assert 'jp-InputArea-editor"' not in page and "paths = build.study_paths" not in page

    def verdict(text):
        start = (
            text.index("<p class='kb-caption'>")
            if "<p class='kb-caption'>" in text
            else text.index('<p class="kb-caption">')
        )
        return re.sub(r"\s+", " ", text[start : text.index("</table>", start)])

    # the same table, but for what parity found: the built report has no parity folder
    parity_said = r"\s*<span class=.kb-caveat-all.>kerasbench parity: [^<]*</span>"
    assert "kerasbench parity:" not in verdict(built[1])
    assert re.sub(parity_said, "", verdict(page)) == verdict(built[1])
    parity_charts = pd.read_csv(study / "parity" / "parity.csv")["workload"].nunique()
    assert page.count('class="plotly-graph-div"') == EXPECTED_CHARTS + parity_charts
    assert "summary_mod.build(" not in page


# ---------------------------------------------------------------------------------------------
# Errors a user can cause: one line, before any notebook runs


def _one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


def test_missing_runs_folder(tmp_path):
    with pytest.raises(report.ReportError) as e:
        report.build_report(tmp_path / "nope", tmp_path / "out")
    assert "not found" in _one_line(e)
    assert isinstance(e.value, ValueError)


def test_empty_runs_folder(tmp_path):
    (tmp_path / "runs").mkdir()
    with pytest.raises(report.ReportError) as e:
        report.build_report(tmp_path / "runs", tmp_path / "out")
    assert "no runs" in _one_line(e)
    assert not (tmp_path / "out").exists()


def test_runs_folder_one_level_up(tmp_path):
    write_run(tmp_path / "out" / "runs", "mnist_mlp", "jax", 0)
    with pytest.raises(report.ReportError) as e:
        report.build_report(tmp_path / "out", tmp_path / "report")
    assert "did you mean" in _one_line(e) and str(tmp_path / "out" / "runs") in str(e.value)


@pytest.mark.parametrize(
    "content",
    [
        "epoch,epoch_seconds\n0,1.0\n1,1.0,2.0,3.0\n",  # a row longer than the header
        "epoch,epoch_seconds\n0,abc\n",  # not a number
        "step,seconds\n0,1.0\n",  # not an epochs.csv
    ],
)
def test_damaged_epochs_csv(tmp_path, content):
    run_dir = write_run(tmp_path / "runs", "mnist_mlp", "jax", 0)
    (run_dir / "epochs.csv").write_text(content)
    with pytest.raises(report.ReportError) as e:
        report.build_report(tmp_path / "runs", tmp_path / "out")
    assert "damaged epochs.csv" in _one_line(e) and "mnist_mlp" in str(e.value)


def test_damaged_run_json(tmp_path):
    run_dir = write_run(tmp_path / "runs", "mnist_mlp", "jax", 0)
    (run_dir / "run.json").write_text('{"status": "ok"')
    with pytest.raises(report.ReportError) as e:
        report.build_report(tmp_path / "runs", tmp_path / "out")
    assert "damaged run.json" in _one_line(e)


def test_bad_settings(tmp_path):
    write_run(tmp_path / "runs", "mnist_mlp", "jax", 0)
    with pytest.raises(report.ReportError):
        report.build_report(tmp_path / "runs", tmp_path / "out", confidence_level=95)
    with pytest.raises(report.ReportError):
        report.build_report(tmp_path / "runs", tmp_path / "out", n_resamples=0)


def test_host_side_never_imports_a_framework():
    code = (
        "import sys; import kerasbench.report, kerasbench.report.sections, kerasbench.report.summary; "
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch', 'cntk') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(report.__file__).parents[2])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"


def test_every_code_cell_is_hidden_on_the_page_and_exported_as_a_script():
    """Every code cell carries the remove-input tag (the template drops its code from the page),
    none hides its source from other exporters, and `nbconvert --to script` exports them all."""
    from nbconvert import ScriptExporter

    path = Path(registry.NOTEBOOKS_DIR) / "analysis.ipynb"
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) > 10
    assert all("remove-input" in c["metadata"].get("tags", []) for c in code)
    assert not any("transient" in c["metadata"] for c in nb["cells"])
    script, _ = ScriptExporter().from_filename(str(path))
    for cell in code:
        assert "".join(cell["source"]).strip() in script


def test_the_notebook_derives_every_folder_from_the_study_folder(tmp_path, monkeypatch):
    """Parity and profile results are read from OUT/parity and OUT/profile of the one study
    folder; the default study folder is the repository's output/, wherever the notebook runs."""
    paths = report.study_paths(str(tmp_path))
    assert (paths.out, paths.runs, paths.summary) == (tmp_path, tmp_path / "runs", tmp_path)
    assert (paths.parity, paths.profile) == (tmp_path / "parity", tmp_path / "profile")
    (tmp_path / "output").mkdir()  # an output/ under the working directory is not the study's
    monkeypatch.chdir(tmp_path)
    default = report.study_paths()
    assert default.out == Path(registry.ROOT).resolve() / "output"
    assert default.parity == default.out / "parity" and default.profile == default.out / "profile"
    assert report.study_paths(None, str(tmp_path / "r"), str(tmp_path / "s")).runs == tmp_path / "r"
    nb = json.loads((Path(registry.NOTEBOOKS_DIR) / "analysis.ipynb").read_text())
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "sections.parity_section(paths.parity)" in source
    assert "sections.profile_section(paths.profile, summary)" in source
    assert 'f"{out_dir}' not in source and "study_paths(out_dir, runs_dir, summary_dir)" in source


def test_committed_notebook_has_no_outputs():
    nb = json.loads((Path(registry.NOTEBOOKS_DIR) / "analysis.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    parameters = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(parameters) == 1
    lines = [line for line in "".join(parameters[0]["source"]).splitlines() if line.strip()]
    assert {line.split("=")[0].strip() for line in lines} == {
        "out_dir",
        "runs_dir",
        "summary_dir",
        "references",
        "confidence_level",
        "n_resamples",
        "seed",
    }
    assert all("#" in line for line in lines)
    for cell in code:
        source = "".join(cell["source"])
        assert not re.search(r"^\s*(def|class|for|while)\b", source, re.M), source
        assert not re.search(r"^\s*import (keras|tensorflow|jax|torch)", source, re.M)


# ---------------------------------------------------------------------------------------------
# The report in a real browser

CHART_CHECKS = """(() => [...document.querySelectorAll('.plotly-graph-div')].map(div => ({
    title: (div.layout && div.layout.title && div.layout.title.text) || '',
    entries: div.data.filter(t => t.showlegend !== false && t.name).map(t =>
        ((t.legendgrouptitle && t.legendgrouptitle.text) || '') + ' / ' + t.name),
    xtitle: [...div.querySelectorAll('.g-xtitle')].map(t => t.textContent).join(' '),
    xticks: [...div.querySelectorAll('.xtick text')].map(t => t.textContent)})))()"""

VERDICT_BOX = """(() => { const t = document.getElementById('kb-verdict'); const r = t.getBoundingClientRect();
    const first = t.querySelector('tr.kb-verdict').getBoundingClientRect();
    const a = document.getElementById('kb-grid').getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, firstVerdictBottom: first.bottom,
            answerTop: a.top, answerBottom: a.bottom, answerRight: a.right,
            scrollY: window.scrollY}; })()"""


@pytest.mark.browser
def test_report_in_headless_chromium(built):
    if not browser.chromium_available():
        pytest.skip(
            f"chromium not found at {browser.CHROMIUM}; install it with `{browser.CHROMIUM_INSTALL}`"
        )
    html_path, text = built
    with browser.Page(html_path, 1400, 900, wait_charts=EXPECTED_CHARTS) as page:
        box = page.evaluate(VERDICT_BOX)
        charts = page.evaluate(CHART_CHECKS)
        screenshot = page.screenshot(html_path.with_name("report.png"), height=900)
        problems = page.problems()
        drawn = page.charts
    assert drawn.get("plotly") == "object"
    assert drawn.get("divs") == drawn.get("drawn") == EXPECTED_CHARTS, drawn
    assert problems == []
    # The answer is on the first screen: the whole grid, then the verdict table's start.
    assert box["scrollY"] == 0 and 0 <= box["answerTop"] < box["answerBottom"] <= box["top"], box
    assert box["firstVerdictBottom"] <= 900, box
    assert box["right"] <= 1400 and box["answerRight"] <= 1400
    for chart in charts:
        # Every legend entry has its own name within its group (under its backend's title).
        names = chart["entries"]
        assert len(names) == len(set(names)), (chart["title"], names)
        if "epoch" in chart["xtitle"]:
            assert chart["xticks"], chart["title"]
            assert all(re.fullmatch(r"\d+", t.replace("\u2212", "-")) for t in chart["xticks"]), (
                chart["title"],
                chart["xticks"],
            )
    assert any("epoch" in c["xtitle"] for c in charts)
    assert screenshot.stat().st_size > 10_000
