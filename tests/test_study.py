"""The smoke profile of every workload on every backend, executed through papermill like a user
runs it (`kerasbench run`), with the logs it leaves checked; then the report over those runs."""

import csv
import json
import math
import os

import pytest

from kerasbench import cli, registry
from kerasbench.study import kernels

from conftest import smoke_run

pytestmark = pytest.mark.slow

# The legacy CNTK kernel joins where `make cntk` could set it up (it needs a Python 3.6).
HAVE_CNTK = kernels.find("cntk") is not None
BACKENDS = list(registry.DEFAULT_BACKENDS) + (["cntk"] if HAVE_CNTK else [])


def test_cntk_is_in_the_matrix():
    if not HAVE_CNTK:
        pytest.skip(
            "no kerasbench-cntk kernel: no Python 3.6 was found (set PYTHON36, then make cntk)"
        )
    assert "cntk" in BACKENDS


@pytest.fixture(scope="module")
def study(tmp_path_factory, data_dir):
    out = str(tmp_path_factory.mktemp("study"))
    code = cli.main(
        [
            "run",
            "--profile",
            "smoke",
            "--backends",
            ",".join(BACKENDS),
            "--out",
            out,
            "--data-dir",
            data_dir,
            "--no-download",
        ]
    )
    return out, code


def read_epochs(folder):
    with open(os.path.join(folder, "epochs.csv")) as f:
        return list(csv.DictReader(f))


def test_every_run_finished_ok(study):
    out, code = study
    assert code == 0
    folders = [os.path.join(out, "runs", w, b, "0") for w in registry.WORKLOADS for b in BACKENDS]
    assert len(folders) == 7 * len(BACKENDS)
    for folder in folders:
        record = json.load(open(os.path.join(folder, "run.json")))
        assert record["status"] == "ok", (folder, record["error"])
        # Every kernel, the CNTK one too, says it imported this checkout's kerasbench.
        assert record["kerasbench"]["code_path"] == kernels.LIB_DIR, folder


@pytest.mark.parametrize("workload", list(registry.WORKLOADS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_logs(study, workload, backend):
    out, _ = study
    folder = os.path.join(out, "runs", workload, backend, "0")
    record = json.load(open(os.path.join(folder, "run.json")))
    rows = read_epochs(folder)
    assert len(rows) == record["params"]["epochs"]
    assert [int(r["epoch"]) for r in rows] == list(range(len(rows)))
    elapsed = [float(r["elapsed_seconds"]) for r in rows]
    assert all(b > a for a, b in zip(elapsed, elapsed[1:])), "elapsed time increases"
    metric = registry.WORKLOADS[workload].metric
    for row in rows:
        assert math.isfinite(float(row["loss"])) and math.isfinite(float(row[metric]))
        assert float(row["epoch_seconds"]) > 0 and float(row["samples_per_second"]) > 0
    if not registry.WORKLOADS[workload].text_model:
        assert 0 <= float(rows[-1]["val_accuracy"]) <= 1
        assert float(rows[-1]["train_seconds"]) < float(rows[-1]["epoch_seconds"])
    # What produced the run, and on which data.
    assert record["backend"] == backend and record["profile"] == "smoke"
    assert record["versions"]["keras"] == ("2.3.1" if backend == "cntk" else "3.15.1")
    assert record["versions"]["backend_framework"].split()[0] == backend
    assert record["device"]["cores"] >= 1 and record["device"]["cpu"]
    assert record["backend_settings"]["precision"] == "float32"
    # The train step as Keras compiled it, "auto" resolved: XLA on JAX, on TensorFlow only where
    # it sees a GPU (none here), PyTorch eager; Keras 2.3.1 has no such setting.
    compiled = record["backend_settings"].get("model_compile")
    if backend == "cntk":
        assert compiled is None
    else:
        assert compiled == {"steps_per_execution": 1, "jit_compile": backend == "jax"}
    assert record["kerasbench"]["git_commit"]
    expected_source = "generated" if workload == "cifar10_cnn" else "subset"
    assert record["data"]["source"] == expected_source
    assert record["params"]["seed"] == 0 and record["params"]["backend"] == backend
    if registry.WORKLOADS[workload].text_model:
        sample = open(os.path.join(folder, "sample.txt")).read()
        assert len(sample) == 40 + record["params"]["sample_chars"]


def test_same_model_on_every_backend(study):
    out, _ = study
    for workload in registry.WORKLOADS:
        counts = {
            json.load(open(os.path.join(out, "runs", workload, b, "0", "run.json")))[
                "model_parameters"
            ]
            for b in BACKENDS
        }
        assert len(counts) == 1, workload


def test_rerun_skips_finished_runs(study, data_dir, capfd):
    out, _ = study
    before = os.path.getmtime(os.path.join(out, "runs", "mnist_mlp", "jax", "0", "run.json"))
    code = cli.main(smoke_run(out, "--data-dir", data_dir, "--no-download"))
    assert code == 0
    assert "done earlier, skipped" in capfd.readouterr().err
    assert (
        os.path.getmtime(os.path.join(out, "runs", "mnist_mlp", "jax", "0", "run.json")) == before
    )


def test_report_over_the_smoke_runs(study):
    out, _ = study
    assert cli.main(["report", "--out", out, "--resamples", "1000"]) == 0
    html = open(os.path.join(out, "report.html")).read()
    with open(os.path.join(out, "summary.csv")) as f:
        rows = list(csv.DictReader(f))
    mine = [r for r in rows if not r["source"].startswith("2017")]
    # The overview, a time chart per workload, and a metric chart per workload whose runs did not
    # all train on generated data (their accuracy is not drawn).
    generated = {
        w
        for w in registry.WORKLOADS
        if all("generated" in r["data_source"] for r in mine if r["workload"] == w)
    }
    assert html.count('class="plotly-graph-div"') >= 1 + 2 * len(registry.WORKLOADS) - len(
        generated
    )
    assert {(r["workload"], r["backend"]) for r in mine} == {
        (w, b) for w in registry.WORKLOADS for b in BACKENDS
    }


def test_relative_output_and_data_folders(tmp_path, data_dir, monkeypatch):
    """`make study` passes relative paths (--out output, ../shared/datasets); papermill runs the
    kernel in the run folder, so the runner must hand it absolute ones."""
    monkeypatch.chdir(tmp_path)
    relative_data = os.path.relpath(data_dir, str(tmp_path))
    assert cli.main(smoke_run("out", "--data-dir", relative_data)) == 0
    folder = tmp_path / "out" / "runs" / "mnist_mlp" / "jax" / "0"
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == "ok" and record["data"]["source"] == "subset"
    assert len(read_epochs(str(folder))) == 2
    assert os.path.isabs(record["params"]["run_dir"]) and os.path.isabs(
        record["params"]["data_dir"]
    )
