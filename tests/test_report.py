"""The report end to end: a generated runs folder -> papermill -> report.html, and user errors.

The report is built once per module (about 10 s: a kernel start and the export). The browser test
opens it in headless Chromium through the DevTools protocol over a pipe (no npm or pip package):
install the browser with `apt-get update && apt-get install -y chromium`; without /usr/bin/chromium
the test skips.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    import kerasbench  # noqa: F401
except ImportError:  # not installed: use the checkout's lib/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from kerasbench import analysis, registry, report  # noqa: E402

CHROMIUM = os.environ.get("KERASBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium"


# ---------------------------------------------------------------------------------------------
# A generated runs folder

def write_run(root: Path, workload: str, backend: str, repeat: int, *, epochs: int = 4,
              seconds: float = 1.0, status: str | None = "ok", error=None,
              data_source: str = "full", profile: str = "smoke", sample: str | None = None,
              write_epochs: bool = True, seed: int = 0) -> Path:
    """One run folder as the runner and the kernel write it (docs/design.md).

    status=None leaves run.json out (an unfinished run).
    """
    run_dir = root / workload / backend / str(repeat)
    run_dir.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    text = registry.WORKLOADS[workload].text_model
    if write_epochs:
        rows = []
        elapsed = 0.0
        for epoch in range(epochs):
            epoch_seconds = seconds * (3.0 if epoch == 0 else 1.0) * (1 + 0.05 * rng.standard_normal())
            elapsed += epoch_seconds
            loss = 2.0 / (epoch + 1) + 0.01 * rng.standard_normal()
            row = {"epoch": epoch, "epoch_seconds": epoch_seconds,
                   "train_seconds": "" if text else 0.9 * epoch_seconds,
                   "elapsed_seconds": elapsed, "samples_per_second": 1000 / epoch_seconds,
                   "loss": loss, "accuracy": "" if text else 1 - loss / 4,
                   "val_loss": "" if text else loss * 1.1,
                   "val_accuracy": "" if text else 1 - loss / 3.5}
            if workload == "text_generator_keras":
                row.update({"aux_out_loss": loss * 1.2, "main_out_loss": loss * 0.9})
                row["loss"] = row["main_out_loss"] + 0.2 * row["aux_out_loss"]
            rows.append(row)
        pd.DataFrame(rows).to_csv(run_dir / "epochs.csv", index=False)
    if sample is not None:
        (run_dir / "sample.txt").write_text(sample, encoding="utf-8")
    if status is not None:
        run = {"schema": 1, "workload": workload, "backend": backend, "profile": profile,
               "repeat": repeat, "seed": 1000 + repeat, "config": "default",
               "params": {"epochs": epochs, "batch_size": 128},
               "data": {"source": data_source, "detail": f"{workload}: generated test data"},
               "versions": {"python": "3.11.7", "keras": "3.15.1",
                            "backend_framework": f"{backend} 1.0", "numpy": "2.4.6",
                            "cuda": None, "cudnn": None},
               "device": {"cpu": "Test CPU <model>", "cores": 2, "gpu": None,
                          "gpu_memory_mb": None, "driver": None},
               "backend_settings": {"precision": "float32"},
               "kerasbench": {"version": "0.1.0", "git_commit": "abc123"}, "host": "test",
               "started_at": "2026-11-25T10:00:00+00:00", "ended_at": "2026-11-25T10:01:00+00:00",
               "wall_seconds": 60.0, "status": status, "error": error}
        (run_dir / "run.json").write_text(json.dumps(run, indent=1), encoding="utf-8")
    return run_dir


SAMPLE = "the <script>alert('x')</script> & philosopher said:\n  \"nothing\" is <b>true</b>"


def make_runs(root: Path) -> Path:
    """A small study: 3 backends x 3 repeats on MNIST MLP (one torch run failed), single runs on
    CIFAR-10 with generated data, two text models with samples, an unfinished run and a run that
    timed out before its first epoch."""
    for i, backend in enumerate(["tensorflow", "jax", "torch"]):
        for repeat in range(3):
            failed = backend == "torch" and repeat == 2
            write_run(root, "mnist_mlp", backend, repeat, seconds=1.0 + 0.5 * i,
                      status="failed" if failed else "ok", epochs=2 if failed else 4,
                      error="RuntimeError: out of memory <GPU 0>" if failed else None,
                      seed=10 * i + repeat)
    write_run(root, "cifar10_cnn", "tensorflow", 0, seconds=5.0, data_source="generated", seed=1)
    write_run(root, "cifar10_cnn", "jax", 0, seconds=4.0, data_source="generated", seed=2)
    write_run(root, "lstm_text_generation", "tensorflow", 0, seconds=2.0, sample=SAMPLE, seed=3)
    write_run(root, "lstm_text_generation", "torch", 0, seconds=2.5, sample="torch text", seed=4)
    write_run(root, "text_generator_keras", "jax", 0, seconds=3.0, sample="jax text", seed=5)
    write_run(root, "mnist_cnn", "jax", 0, seconds=2.0, status=None, epochs=2, seed=6)
    write_run(root, "imdb_fasttext", "torch", 0, status="timeout", write_epochs=False,
              error="timed out after 600 s")
    return root


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    return make_runs(tmp_path_factory.mktemp("study") / "runs")


@pytest.fixture(scope="module")
def built(runs_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    html_path = report.build_report(runs_dir, out, seed=7)
    return html_path, html_path.read_text(encoding="utf-8")


def expected_workloads(runs_dir: Path) -> list[str]:
    """Workloads with an epoch logged in the runs folder or in the 2017 logs."""
    ran = {p.parents[2].name for p in runs_dir.glob("*/*/*/epochs.csv")}
    reference = {p.stem.rpartition("_")[0] for p in analysis.REFERENCE_DIR.glob("*.csv")}
    return sorted(ran | reference)


# ---------------------------------------------------------------------------------------------
# Report files and content

def test_report_files(built):
    html_path, _ = built
    out = html_path.parent
    assert html_path.name == "report.html"
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns[:len(analysis.SUMMARY_COLUMNS)]) == analysis.SUMMARY_COLUMNS
    executed = json.loads((out / "analysis.ipynb").read_text())
    tags = [c["metadata"].get("tags", []) for c in executed["cells"]]
    assert ["injected-parameters"] in tags
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors


def test_one_chart_per_expected_figure(built, runs_dir):
    _, text = built
    # One overview, then per workload: metric by epoch and time per epoch.
    expected = 1 + 2 * len(expected_workloads(runs_dir))
    assert text.count('class="plotly-graph-div"') == expected
    assert text.count("Plotly.newPlot(") == expected


def test_report_is_offline_with_plotly_embedded_once(built):
    _, text = built
    assert re.findall(r"<script[^>]+src=", text) == []
    assert re.findall(r"<link[^>]+href=\"?https?:", text) == []
    assert text.count("plotly.js v") == 1  # the bundle's banner comment


def test_code_is_hidden_and_text_escaped(built):
    _, text = built
    assert "analysis.summarize(" not in text
    # Quotes may come back unescaped (nbconvert re-serialises outputs); markup must not.
    assert re.search(r"&lt;script&gt;alert\((&#x27;|')x(&#x27;|')\)&lt;/script&gt; &amp; philosopher", text)
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
    assert "a single run, so the interval is over its epochs" in text


def test_summary_csv_matches_library(built, runs_dir):
    html_path, _ = built
    written = pd.read_csv(html_path.parent / "summary.csv")
    _, summary = report.summarize_runs(runs_dir, seed=7)
    mnist = written[(written["workload"] == "mnist_mlp") & ~written["source"].str.startswith("2017")]
    assert sorted(mnist["backend"]) == ["jax", "tensorflow", "torch"]
    assert mnist.set_index("backend").loc["torch", "runs"] == 2
    assert mnist.set_index("backend").loc["tensorflow", "speedup_vs_fastest"] == 1.0
    pd.testing.assert_series_equal(
        written["mean_epoch_seconds"], summary["mean_epoch_seconds"], rtol=1e-5, check_names=False)
    pd.testing.assert_series_equal(written["ci_low"], summary["ci_low"], rtol=1e-5, check_names=False)


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


@pytest.mark.parametrize("content", [
    "epoch,epoch_seconds\n0,1.0\n1,1.0,2.0,3.0\n",  # a row longer than the header
    "epoch,epoch_seconds\n0,abc\n",                  # not a number
    "step,seconds\n0,1.0\n",                         # not an epochs.csv
])
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
    code = ("import sys; import kerasbench.report, kerasbench.plots, kerasbench.analysis; "
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch', 'cntk') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(Path(analysis.__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


def test_committed_notebook_has_no_outputs():
    nb = json.loads((Path(registry.NOTEBOOKS_DIR) / "analysis.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    parameters = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(parameters) == 1
    lines = [l for l in "".join(parameters[0]["source"]).splitlines() if l.strip()]
    assert {l.split("=")[0].strip() for l in lines} == {
        "runs_dir", "reference_dir", "confidence_level", "n_resamples", "seed", "out_dir"}
    assert all("#" in l for l in lines)
    for cell in code:
        source = "".join(cell["source"])
        assert not re.search(r"^\s*(def|class|for|while)\b", source, re.M), source
        assert not re.search(r"^\s*import (keras|tensorflow|jax|torch)", source, re.M)


# ---------------------------------------------------------------------------------------------
# The report in a real browser

class DevTools:
    """Chrome DevTools protocol over --remote-debugging-pipe (fds 3 and 4): no package needed."""

    def __init__(self, executable: str, user_data_dir: str):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def fds_3_and_4():
            # The browser reads commands on fd 3 and writes replies on fd 4. Move both out of the
            # way first, in case either pipe end already is fd 3 or 4.
            read_end = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        args = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,900",
                f"--user-data-dir={user_data_dir}", "--remote-debugging-pipe", "about:blank"]
        self.process = subprocess.Popen(args, preexec_fn=fds_3_and_4, pass_fds=(),
                                        close_fds=False, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("no reply from chromium")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe: "
                                   + self.process.stderr.read().decode(errors="replace")[-2000:])
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def _problems(events: list[dict]) -> list[str]:
    """JavaScript errors, console errors and any request that leaves the file."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            found.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append("console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            found.append("log: " + params["entry"]["text"])
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file:", "data:", "blob:", "about:")):
                found.append("network request: " + url)
    return found


@pytest.mark.browser
def test_report_in_headless_chromium(request):
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        pytest.skip(f"chromium not found at {CHROMIUM}; install it with `{CHROMIUM_INSTALL}`")
    html_path, text = request.getfixturevalue("built")
    charts = text.count('class="plotly-graph-div"')
    with tempfile.TemporaryDirectory(prefix="kerasbench-chromium-") as profile:
        browser = DevTools(CHROMIUM, profile)
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Network", "Page"):
                browser.send(f"{domain}.enable", session=session)
            browser.send("Page.navigate", {"url": html_path.resolve().as_uri()}, session=session)
            drawn = {}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                drawn = browser.send("Runtime.evaluate", {"returnByValue": True, "expression": """
                    (() => { const divs = [...document.querySelectorAll('.plotly-graph-div')];
                             return {ready: document.readyState, divs: divs.length,
                                     drawn: divs.filter(d => d.querySelector('svg.main-svg')).length,
                                     plotly: typeof window.Plotly}; })()"""}, session=session)["result"]["value"]
                if drawn["ready"] == "complete" and drawn["divs"] == drawn["drawn"] == charts:
                    break
                time.sleep(0.25)
            time.sleep(0.5)  # let late errors arrive
            browser.send("Runtime.evaluate", {"expression": "1"}, session=session)
            metrics = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot = browser.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": metrics["width"],
                         "height": min(metrics["height"], 16000), "scale": 1}}, session=session, timeout=60)
            screenshot = html_path.with_name("report.png")
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        finally:
            browser.close()
    assert drawn.get("plotly") == "object"
    assert drawn.get("divs") == charts and drawn.get("drawn") == charts, drawn
    assert _problems(browser.events) == []
    assert screenshot.stat().st_size > 10_000
