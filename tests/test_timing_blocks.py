"""Timing blocks (`kerasbench run --timing-epochs N`): repeats after the first train N epochs of
the same data and model; the report counts their times and leaves their accuracy out. The plan
and the record on known parameters, the report on generated run folders (mechanics only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kerasbench import runfiles
from kerasbench.errors import UserError
from kerasbench.report import grid, grid_data, notes, rundata, summary as summary_mod
from kerasbench.study import execute, plan

from conftest import REPO


def test_repeats_after_the_first_train_the_timing_epochs():
    runs = plan.plan("full", ["mnist_mlp"], ["jax"], repeats=3, timing_epochs=3)
    assert [(r.repeat, r.params["epochs"], r.timing) for r in runs] == [
        (0, 20, False),
        (1, 3, True),
        (2, 3, True),
    ]
    # everything else is the profile's: the same data and model
    assert {k: v for k, v in runs[0].params.items() if k != "epochs"} == {
        k: v for k, v in runs[2].params.items() if k != "epochs"
    }
    assert [r.seed for r in runs] == [0, 1, 2]


def test_a_workload_with_no_more_epochs_than_that_is_no_timing_block():
    runs = plan.plan("full", ["imdb_bidirectional_lstm"], ["jax"], repeats=2, timing_epochs=4)
    assert [(r.params["epochs"], r.timing) for r in runs] == [(4, False), (4, False)]
    runs = plan.plan("full", ["mnist_mlp"], ["jax"], repeats=2)
    assert [(r.params["epochs"], r.timing) for r in runs] == [(20, False), (20, False)]


def test_fewer_than_three_timing_epochs_is_one_line():
    with pytest.raises(UserError, match=r"--timing-epochs 2: a timing block needs at least 3"):
        plan.plan("full", ["mnist_mlp"], ["jax"], repeats=2, timing_epochs=2)


def test_dry_run_shows_the_timing_runs_and_a_bad_value_is_one_line():
    base = [sys.executable, "-m", "kerasbench.cli", "run", "--workloads", "mnist_mlp"]
    base += ["--backends", "jax", "--profile", "full", "--repeats", "2", "--dry-run"]
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "lib"))
    done = subprocess.run(base + ["--timing-epochs", "3"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(d["repeat"], d["params"]["epochs"], d["timing"]) for d in lines] == [
        (0, 20, False),
        (1, 3, True),
    ]
    bad = subprocess.run(base + ["--timing-epochs", "1"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert (
        bad.stderr.strip()
        .splitlines()[-1]
        .endswith("its time per epoch is the mean of the epochs after it)")
    )


def test_the_record_says_timing_block_and_its_type_is_checked():
    spec = plan.plan("full", ["mnist_mlp"], ["jax"], repeats=2, timing_epochs=3)[1]
    record = execute.run_record(spec, spec.params, "ok", None, runfiles.now(), 1.0)
    assert record["timing_block"] is True and record["params"]["epochs"] == 3
    assert runfiles.check_record(record) == []
    assert runfiles.check_record(dict(record, timing_block="yes")) == [
        "run.json: timing_block is a string '\"yes\"', not true or false"
    ]


def write_run(out, backend, repeat, seconds, accuracy, epochs, timing):
    """A run folder: epoch 0 takes 9 s, then steady epochs of `seconds`; accuracy climbs to
    `accuracy` at the last epoch."""
    folder = runfiles.run_folder(str(out), "mnist_mlp", backend, "default", repeat)
    os.makedirs(folder)
    writer = runfiles.EpochWriter(os.path.join(folder, runfiles.EPOCHS_CSV))
    elapsed = 0.0
    for epoch in range(epochs):
        took = 9.0 if epoch == 0 else seconds
        elapsed += took
        writer.write(
            {
                "epoch": epoch,
                "epoch_seconds": took,
                "train_seconds": 0.8 * took,
                "elapsed_seconds": elapsed,
                "samples_per_second": 1000 / (0.8 * took),
                "loss": 2.0 - epoch * 0.1,
                "val_accuracy": accuracy - 0.01 * (epochs - 1 - epoch),
            }
        )
    writer.close()
    kernel = {"data": {"source": "full"}, "device": {"cpu": "Xeon Test", "cores": 2, "host": "a"}}
    record = runfiles.record(
        "mnist_mlp",
        backend,
        "full",
        repeat,
        repeat,
        "default",
        {"epochs": epochs},
        "ok",
        None,
        runfiles.now(),
        30.0,
        kernel_info=kernel,
        host="a",
        timing_block=timing,
    )
    runfiles.write_json_atomic(os.path.join(folder, runfiles.RUN_JSON), record)


@pytest.fixture(scope="module")
def timed(tmp_path_factory):
    """Three blocks: repeat 0 trains 6 epochs (accuracy 0.98 on jax, 0.97 on torch), repeats 1-2
    are timing blocks of 3 epochs (accuracy 0.5): jax 1 s an epoch, torch 2 s, in every block."""
    out = tmp_path_factory.mktemp("timing")
    for repeat in range(3):
        timing = repeat > 0
        for backend, seconds, accuracy in (("jax", 1.0, 0.98), ("torch", 2.0, 0.97)):
            write_run(
                out,
                backend,
                repeat,
                seconds * (1 + 0.01 * repeat),
                0.5 if timing else accuracy,
                3 if timing else 6,
                timing,
            )
    study = rundata.load_study(Path(out) / runfiles.RUNS, references=[])
    return out, summary_mod.build(study, n_resamples=200, coverage_studies=20)


def test_timing_runs_count_in_the_times_not_in_the_accuracy(timed):
    _, summary = timed
    table = summary.table.set_index("backend")
    assert list(table.loc[["jax", "torch"], "runs"]) == [3, 3]
    assert list(table.loc[["jax", "torch"], "timing_runs"]) == [2, 2]
    assert list(table.loc[["jax", "torch"], "metric_runs"]) == [1, 1]
    assert table.loc["jax", "final_metric"] == pytest.approx(0.98)
    assert table.loc["torch", "final_metric"] == pytest.approx(0.97)
    assert table.loc["jax", "epochs"] == 6
    # three blocks: an interval, and torch's ratio to jax is 2 in each
    assert table.loc["torch", "times_fastest"] == pytest.approx(2.0)
    assert table.loc["torch", "pairs"] == 3 and table.loc["jax", "ci_low"] > 0
    # the curves: repeat 0 only (6 epochs, one run an epoch)
    curves = summary.curves[summary.curves["backend"] == "jax"]
    assert list(curves["epoch"]) == list(range(6)) and set(curves["runs"]) == {1}
    assert curves["value"].iloc[-1] == pytest.approx(0.98)


def test_the_page_says_which_repeats_are_timing_blocks(timed):
    out, summary = timed
    said = list(summary.notes["note"])
    assert (
        "repeats 1, 2: timing blocks (the same data and model, 3 epochs against 6): their times "
        "count in every mean, ratio and interval; the final metric and the curves are the other "
        "repeats' only." in said
    ), said
    cells = grid_data.cells(summary)
    assert {int(c["timing_runs"]) for _, c in cells.iterrows()} == {2}
    html = grid.cell_html(cells.iloc[0].to_dict())
    assert "3 runs (2 timing)" in html
    legend = grid.legend_html(summary.table, learned=False)
    assert "timing: runs of timing blocks (fewer epochs)" in legend
    verdict = summary.verdicts["text"].iloc[0]
    assert "3 runs each (2 of them timing blocks)" in verdict, verdict
    assert notes.runs_words(1) == "1 run" and notes.runs_words(3, 2) == "3 runs (2 timing)"


def test_a_timing_block_against_the_full_plan_is_named_in_the_refusal():
    from kerasbench.study import runner

    full, timing = (
        plan.plan("full", ["mnist_mlp"], ["jax"], repeats=2, timing_epochs=t)[1] for t in (None, 3)
    )
    ran = execute.run_record(timing, timing.params, "ok", None, runfiles.now(), 1.0)
    assert runner.plan_difference(ran, timing) is None
    assert runner.plan_difference(ran, full) == "a timing block, --timing-epochs 3"
    ran = execute.run_record(full, full.params, "ok", None, runfiles.now(), 1.0)
    assert runner.plan_difference(ran, timing) == (
        "epochs=20, not a timing block of --timing-epochs 3"
    )
