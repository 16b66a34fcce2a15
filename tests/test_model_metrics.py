"""The report follows a model file's own metric (issue 29): the first metric it was compiled
with, as its runs logged it (run.json `metrics`), on the test set where logged there, else the
training loss; an empty epochs.csv column is no metric; the first screen's grid keeps each
backend that did not run in its column, with its cause. Run folders written here; the numbers
are chosen so that each answer is known."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from kerasbench import registry, runfiles
from kerasbench.report import (
    figures,
    grid,
    grid_data,
    metrics,
    notes,
    rundata,
    summary as summary_mod,
)

from conftest import grid_rows

# Every epochs.csv has these columns; a model file that logs no `accuracy` leaves them empty.
HEADER = runfiles.COLUMNS


def write_run(
    root: Path,
    workload: str,
    backend: str,
    extra: dict,
    *,
    logged=None,
    status="ok",
    error=None,
    params=None,
    loss=(2.0, 1.5, 1.0),
    data_source="model file",
):
    """One run folder: three epochs, `extra` columns {name: [3 values]}, run.json naming
    `logged` (the names Keras logged, in its order; None: an older run that did not record them)."""
    folder = root / workload / backend / "0"
    folder.mkdir(parents=True)
    names = sorted(extra)
    lines = [",".join(HEADER + names)]
    for i in range(3):
        cells = [str(i), "3.0" if i == 0 else "1.0", "", "", "", str(loss[i]), "", "", ""]
        cells += [str(extra[n][i]) for n in names]
        lines.append(",".join(cells))
    (folder / runfiles.EPOCHS_CSV).write_text("\n".join(lines) + "\n")
    record = {
        "schema": 2,
        "workload": workload,
        "backend": backend,
        "repeat": 0,
        "config": "default",
        "profile": "smoke",
        "status": status,
        "error": error,
        "params": {"epochs": 3, **(params or {})},
        "data": {"source": data_source},
        "device": {"cpu": "Test CPU", "gpu": None, "host": "box"},
    }
    if logged is not None:
        record["metrics"] = logged
    (folder / runfiles.RUN_JSON).write_text(json.dumps(record))
    return folder


def build(root):
    return summary_mod.build(rundata.load_study(root, []), n_resamples=50, coverage_studies=10)


def grid_of(summary) -> dict:
    """The first screen's `default` grid as text (conftest.grid_rows)."""
    return grid_rows(grid.first_screen(summary))


SPARSE = ["loss", "sparse_categorical_accuracy", "val_loss", "val_sparse_categorical_accuracy"]


def test_the_first_compiled_metric_on_the_test_set_is_followed_on_every_backend(tmp_path):
    for backend, final in (("tensorflow", 0.8), ("jax", 0.75), ("torch", 0.7)):
        write_run(
            tmp_path,
            "my_model",
            backend,
            {
                "sparse_categorical_accuracy": [0.5, 0.6, 0.9],
                "val_sparse_categorical_accuracy": [0.4, 0.6, final],
                "val_loss": [2.1, 1.6, 1.2],
            },
            logged=SPARSE,
        )
    result = build(tmp_path)
    table = result.table.set_index("backend")
    assert set(table["final_metric_name"]) == {"val_sparse_categorical_accuracy"}
    assert table.loc["jax", "final_metric"] == pytest.approx(0.75)
    row = grid_of(result)["my_model"]
    assert row["workload"] == "my_model | test sparse_categorical_accuracy · runs"
    assert {b: row[b].split(" · ")[1] for b in ("tensorflow", "jax", "torch")} == {
        "tensorflow": "0.8000",
        "jax": "0.7500",
        "torch": "0.7000",
    }
    curves = result.curves[result.curves["workload"] == "my_model"]
    assert set(curves["metric"]) == {"val_sparse_categorical_accuracy"}
    assert notes.metric_label("val_sparse_categorical_accuracy") == (
        "test sparse_categorical_accuracy (val_sparse_categorical_accuracy)"
    )
    # The chart is titled by what it shows.
    figure = figures.metric_figure(result, "my_model")
    assert "test sparse_categorical_accuracy" in figure.layout.title.text
    assert figure.layout.yaxis.title.text.startswith("test sparse_categorical_accuracy")


def test_compile_order_not_the_column_order_decides(tmp_path):
    # Compiled as metrics=[top_k, accuracy]: epochs.csv sorts the extra columns by name, so
    # `auc_top` comes first there; run.json's order says top_k was compiled first.
    logged = ["loss", "top_k", "auc_top", "val_loss", "val_top_k", "val_auc_top"]
    extra = {n: [0.1, 0.2, 0.3] for n in ("top_k", "auc_top", "val_top_k", "val_auc_top")}
    write_run(tmp_path, "ordered", "jax", extra, logged=logged)
    assert build(tmp_path).table["final_metric_name"].tolist() == ["val_top_k"]


def test_without_a_metric_the_training_loss_and_empty_columns_are_no_metric(tmp_path):
    # accuracy and val_accuracy are in every epochs.csv, empty here: not a metric.
    write_run(tmp_path, "no_metric", "jax", {"val_loss": [3.0, 2.0, 1.5]}, logged=["loss"])
    result = build(tmp_path)
    row = result.table.iloc[0]
    assert row["final_metric_name"] == "loss" and row["final_metric"] == pytest.approx(1.0)
    assert grid_of(result)["no_metric"] == {
        "workload": "no_metric | final training loss · runs",
        "jax": "1 s/epoch | fastest · 1.0000 · 1 run | learning not checked",
    }
    assert figures.metric_figure(result, "no_metric").layout.title.text.startswith(
        "no_metric: training loss by epoch"
    )


def test_a_metric_logged_on_training_data_only_is_followed_there(tmp_path):
    write_run(tmp_path, "no_test", "jax", {"mae": [0.9, 0.5, 0.25]}, logged=["loss", "mae"])
    row = build(tmp_path).table.iloc[0]
    assert row["final_metric_name"] == "mae" and row["final_metric"] == pytest.approx(0.25)
    assert metrics.label("mae") == "training mae"


def test_older_runs_without_the_logged_order_use_the_columns_that_hold_values(tmp_path):
    write_run(
        tmp_path,
        "older",
        "jax",
        {
            "sparse_categorical_accuracy": [0.5, 0.6, 0.7],
            "val_sparse_categorical_accuracy": [0.1, 0.2, 0.3],
        },
    )
    assert build(tmp_path).table["final_metric_name"].tolist() == [
        "val_sparse_categorical_accuracy"
    ]


def test_choose_keeps_the_registry_metric_of_the_seven():
    epochs = pd.DataFrame({"val_accuracy": [math.nan], "loss": [1.0], "ok": [True]})
    for workload in registry.WORKLOADS:
        assert metrics.choose(workload, epochs, ["loss"]) == registry.WORKLOADS[workload].metric
    assert metrics.choose("mine", epochs, ["loss", "val_loss"]) == "loss"
    assert metrics.compiled_metrics(["loss", "out_a_loss", "out_b_accuracy", "val_x"]) == [
        "out_b_accuracy"
    ]


def test_failed_backends_keep_their_column_with_their_cause(tmp_path):
    extra = {"val_sparse_categorical_accuracy": [0.5, 0.6, 0.8]}
    write_run(tmp_path, "tf_only", "tensorflow", extra, logged=SPARSE)
    cause = "AttributeError: 'SymbolicTensor' object has no attribute 'numpy'"
    for backend in ("jax", "torch"):
        folder = write_run(tmp_path, "tf_only", backend, {}, status="failed", error=cause)
        (folder / runfiles.EPOCHS_CSV).write_text(",".join(HEADER) + "\n")
    page = grid.first_screen(build(tmp_path))
    row = grid_rows(page)["tf_only"]
    assert row["tensorflow"] == "1 s/epoch | fastest · 0.8000 · 1 run | learning not checked"
    # The cell cuts the cause short; its tooltip (and the run table) has all of it.
    assert len(cause) > grid_data.CAUSE_CHARS
    shown = f"failed: {cause[: grid_data.CAUSE_CHARS]}… · runs"
    assert row["jax"] == row["torch"] == shown
    assert page.count(f"title='{html.escape(cause)}'") == 2


def test_a_workload_no_backend_ran_still_gets_its_row_and_model_files_alone_are_not_framed_as_2017(
    tmp_path,
):
    write_run(tmp_path, "fine", "jax", {}, logged=["loss"])
    folder = write_run(tmp_path, "broken", "jax", {}, status="failed", error="ValueError: shapes")
    (folder / runfiles.EPOCHS_CSV).write_text(",".join(HEADER) + "\n")
    page = grid.first_screen(build(tmp_path))
    rows = grid_rows(page)
    assert rows["broken"] == {
        "workload": "broken | final metric · runs",
        "jax": "failed: ValueError: shapes · runs",
    }
    # Only model files ran: no word of the 2017 workloads "not in this study".
    assert set(rows) == {"fine", "broken"} and "2017" not in page


def test_backends_a_model_file_leaves_out_are_said_not_run(tmp_path):
    extra = {"val_sparse_categorical_accuracy": [0.5, 0.6, 0.8]}
    write_run(
        tmp_path,
        "tf_ops",
        "tensorflow",
        extra,
        logged=SPARSE,
        params={"model_backends": ["tensorflow"]},
    )
    # Another file runs on every backend: the grid has a column for each.
    for backend in ("tensorflow", "jax", "torch"):
        write_run(tmp_path, "anywhere", backend, extra, logged=SPARSE)
    row = grid_of(build(tmp_path))["tf_ops"]
    assert row["tensorflow"] == "1 s/epoch | fastest · 0.8000 · 1 run | learning not checked"
    assert row["jax"] == row["torch"] == "not run (the file runs on tensorflow only)"


def test_the_verdict_sentence_names_the_metric_it_compares():
    from kerasbench.report import notes

    assert notes.metric_words("mnist_mlp", "val_accuracy") == "test accuracy"
    assert notes.metric_words("lstm_text_generation", "loss") == "final training loss"
    assert notes.metric_words("text_generator_keras", "main_out_loss") == "final training loss"
    # a model file: its own metric, or its training loss, never called test accuracy
    assert notes.metric_words("my_model", "loss") == "final training loss"
    assert (
        notes.metric_words("my_model", "val_sparse_categorical_accuracy")
        == "test sparse_categorical_accuracy"
    )
