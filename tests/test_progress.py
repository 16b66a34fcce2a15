"""What `kerasbench run` prints: a line per epoch while a run trains (read from its epochs.csv as
the kernel flushes it), and at the end a table of what ran and the report command to run next."""

from __future__ import annotations

import collections
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kerasbench.study import progress

Spec = collections.namedtuple("Spec", "workload backend config repeat")
HEADER = "epoch,epoch_seconds,train_seconds,elapsed_seconds,samples_per_second,loss,accuracy,val_loss,val_accuracy\n"


def wait_for(predicate, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline and not predicate():
        time.sleep(0.02)
    return predicate()


def test_epoch_lines_follow_the_file_as_the_kernel_writes_it(tmp_path):
    lines = []
    tail = progress.EpochTail(lines.append, quiet_seconds=0, poll_seconds=0.02)
    try:
        spec = Spec("mnist_mlp", "jax", "tuned", 2)
        tail.start("k", progress.run_name(spec), tmp_path, spec.workload)
        csv = tmp_path / "epochs.csv"
        csv.write_text(
            HEADER + "0,3.5,3,3.5,100,0.5,0.8,0.4,0.91\n1,1.25,1,4.7"
        )  # row 1 half written
        assert wait_for(lambda: len(lines) == 1)
        assert lines == ["  mnist_mlp jax tuned #2  epoch 0: 3.5 s, loss 0.5, val_accuracy 0.91"]
        with csv.open("a") as f:
            f.write("5,300,0.25,0.9,0.2,0.95\n")
        assert wait_for(lambda: len(lines) == 2)
        assert lines[1] == "  mnist_mlp jax tuned #2  epoch 1: 1.25 s, loss 0.25, val_accuracy 0.95"
        tail.finish("k")
        time.sleep(0.1)
        assert len(lines) == 2  # nothing printed twice
    finally:
        tail.close()


def test_a_quick_run_stays_quiet_and_text_models_show_their_loss(tmp_path):
    lines = []
    tail = progress.EpochTail(lines.append, quiet_seconds=60, poll_seconds=0.02)
    try:
        tail.start("k", "lstm_text_generation torch #0", tmp_path, "lstm_text_generation")
        (tmp_path / "epochs.csv").write_text(HEADER + "0,2,,2,10,2.5,,,\n")
        time.sleep(0.2)
        tail.finish("k")
        assert lines == []
    finally:
        tail.close()
    row = {"epoch": "0", "epoch_seconds": "2", "loss": "2.5"}
    assert progress.epoch_line("x", row, "loss") == "  x  epoch 0: 2 s, loss 2.5"


def test_results_table_and_next_command(tmp_path):
    ok = tmp_path / "runs" / "mnist_mlp" / "jax" / "0"
    ok.mkdir(parents=True)
    (ok / "epochs.csv").write_text(
        HEADER + "0,9,,9,,0.5,,,0.9\n1,2,,11,,0.3,,,0.95\n2,4,,15,,0.2,,,0.97\n"
    )
    failed = tmp_path / "runs" / "mnist_mlp" / "torch" / "0"
    records = [
        {
            "workload": "mnist_mlp",
            "backend": "jax",
            "config": "default",
            "repeat": 0,
            "status": "ok",
        },
        {
            "workload": "mnist_mlp",
            "backend": "torch",
            "config": "tuned",
            "repeat": 0,
            "status": "failed",
        },
    ]
    lines = progress.results_table(records, [str(ok), str(failed)])
    assert lines[0].split() == ["run", "status", "s/epoch", "final", "metric", "run", "folder"]
    assert lines[1].split()[:6] == ["mnist_mlp", "jax", "#0", "ok", "3", "val_accuracy"]
    assert "0.9700" in lines[1] and lines[1].endswith(str(ok))
    assert "did not learn" not in lines[1] and "generated" not in lines[1]
    assert lines[2].split()[:6] == ["mnist_mlp", "torch", "tuned", "#0", "failed", "-"]
    assert progress.next_command("my out") == "kerasbench report --out 'my out'"


def test_results_table_marks_runs_that_did_not_learn_or_ran_on_generated_data(tmp_path):
    """The end table: a loss no lower at the end than at the start is "did not learn"; a run on
    generated data says so beside its metric; the s/epoch column is right-aligned."""
    rows = {
        "learned": "0,9,,9,,0.5,,,0.9\n1,12.5,,21,,0.3,,,0.95\n2,12.5,,33,,0.2,,,0.97\n",
        "stuck": "0,9,,9,,13.65,,,0.1\n1,2,,11,,13.7,,,0.1\n2,2,,13,,13.65,,,0.1\n",
        "generated": "0,9,,9,,0.7,,,0.5\n1,0.25,,9.25,,0.01,,,1.0\n",
        "one_epoch": "0,9,,9,,0.7,,,0.5\n",
    }
    folders, records = [], []
    for name, text in rows.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "epochs.csv").write_text(HEADER + text)
        folders.append(str(folder))
        records.append(
            {
                "workload": "mnist_mlp",
                "backend": name,
                "config": "default",
                "repeat": 0,
                "status": "ok",
                "data": {"source": "generated" if name == "generated" else "full"},
            }
        )
    lines = progress.results_table(records, folders)
    learned, stuck, generated, one_epoch = lines[1:]
    assert "did not learn" not in learned and "generated" not in learned
    assert " ok, did not learn " in stuck and "(generated data)" not in stuck
    assert "val_accuracy 1.0000 (generated data)" in generated and "did not learn" not in generated
    assert "did not learn" not in one_epoch and "generated" not in one_epoch
    # s/epoch right-aligned: every value ends where the header ends
    end = lines[0].index("s/epoch") + len("s/epoch")
    assert [line[:end].split()[-1] for line in lines[1:]] == ["12.5", "2", "0.25", "-"]
    assert all(line[end] == " " for line in lines[1:])
    assert progress.did_not_learn([{"loss": "1"}, {"loss": "nan"}])  # nan is not lower
    assert not progress.did_not_learn([{"loss": "1"}, {"loss": ""}])  # nothing to judge


@pytest.mark.slow
def test_kerasbench_run_talks(tmp_path, data_dir):
    """A real quick run (about 15 s on 2 cores): epoch lines while it trains, then the table and
    the report command; nothing from Jupyter on the screen."""
    from kerasbench.study import kernels

    if kernels.find("jax") is None:
        pytest.skip("no kerasbench-jax kernel: run `make kernels`")
    out = tmp_path / "out"
    program = str(Path(sys.executable).parent / "kerasbench")
    done = subprocess.run(
        [
            program,
            "run",
            "--profile",
            "quick",
            "--workloads",
            "mnist_mlp",
            "--backends",
            "jax",
            "--out",
            str(out),
            "--data-dir",
            data_dir,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    screen = done.stdout + done.stderr
    assert done.returncode == 0, screen[-3000:]
    epochs = re.findall(
        r"mnist_mlp jax #0  epoch (\d+): [\d.]+ s, loss [\d.e-]+, val_accuracy [\d.]+", screen
    )
    assert epochs == ["0", "1", "2"], screen[-3000:]
    assert re.search(
        r"mnist_mlp jax #0\s+ok\s+[\d.]+\s+val_accuracy 0\.9\d+\s+" + re.escape(str(out)), screen
    )
    assert screen.rstrip().endswith(f"next: {program} report --out {out}")
    assert "TCP" not in screen and "WARNING" not in screen
    # again with --no-next (as `make study` runs it): the finished run is kept, no report hint
    again = subprocess.run(done.args + ["--no-next"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "kerasbench: 1 of 1 runs ok" in again.stderr and "next:" not in again.stderr


def test_the_end_table_shows_a_model_files_own_metric_else_its_loss():
    from kerasbench.study import progress

    row = {"loss": 0.5, "sparse_categorical_accuracy": 0.8, "val_sparse_categorical_accuracy": 0.75}
    record = {"metrics": ["loss", "sparse_categorical_accuracy", "val_loss"]}
    assert progress.final_metric("my_model", record, row) == (
        "val_sparse_categorical_accuracy",
        0.75,
    )
    assert progress.final_metric("my_model", {"metrics": ["loss"]}, row) == ("loss", 0.5)
    assert progress.final_metric("my_model", {}, {"loss": 0.25}) == ("loss", 0.25)
    # a 2017 workload keeps its registry metric
    assert progress.final_metric("mnist_mlp", record, {"val_accuracy": 0.98}) == (
        "val_accuracy",
        0.98,
    )


def test_results_table_says_a_timing_blocks_metric_is_after_its_few_epochs(tmp_path):
    folder = tmp_path / "timing"
    folder.mkdir()
    (folder / "epochs.csv").write_text(
        HEADER + "0,9,,9,,0.5,,,0.9\n1,1,,10,,0.3,,,0.95\n2,1,,11,,0.2,,,0.96\n"
    )
    record = {"workload": "mnist_mlp", "backend": "jax", "repeat": 1, "status": "ok"}
    timing, plain = (
        progress.results_table([dict(record, timing_block=t)], [str(folder)])[1]
        for t in (True, False)
    )
    assert "val_accuracy 0.9600 (timing block: 3 epochs)" in timing
    assert "timing block" not in plain and "val_accuracy 0.9600" in plain
