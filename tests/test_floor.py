"""`kerasbench floor`: the native loops beside a study's runs, where the report finds them.

A mistake on its command line is one line and exit 2 before anything runs. A real floor run (JAX
scan, the smoke profile's MNIST MLP: a few seconds) lands at runs/mnist_mlp/native-jax/scan-0
with the profile's settings, is skipped when asked again, is refused when asked with other
settings and replaced with --force, and the report puts the study's Keras run beside it."""

import csv
import json
import os

import pytest

from kerasbench import cli, environment, runfiles, studyfiles
from kerasbench.study import kernels

from conftest import smoke_run
from test_identity import write_run

needs_jax_kernel = pytest.mark.skipif(
    kernels.find("jax") is None, reason="no kerasbench-jax kernel: run `make kernels`"
)
FLOOR = ["floor", "--profile", "smoke", "--workloads", "mnist_mlp", "--backends", "jax"]


def one_line(capfd):
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--workloads", "cifar10_cnn"], "unknown workload 'cifar10_cnn' (workloads: mnist_mlp"),
        (["--backends", "tensorflow"], "unknown backend 'tensorflow' (backends: jax, torch)"),
        (["--backends", "torch", "--modes", "scan"], "--modes scan: no loop for torch"),
        (["--modes", "warp"], "unknown mode 'warp' (modes: compiled, scan, step)"),
        (["--set", "hidden_units=64"], "--set hidden_units: the native loops take only epochs"),
        (["--set", "epochs=0"], "override.epochs: must be a positive integer, got 0"),
        (["--repeats", "0"], "--repeats: must be an integer >= 1"),
        (["--device", "tpu"], "--device: invalid choice: 'tpu'"),
        (["--out", ""], "--out '' names no folder"),
    ],
)
def test_a_mistake_is_one_line_and_exit_2(extra, message, tmp_path, capfd):
    argv = FLOOR + ["--out", str(tmp_path / "out")] + extra
    try:
        code = cli.main(argv)
    except SystemExit as stop:  # argparse's own: one line too
        code = stop.code
    assert code == 2
    assert message in one_line(capfd)
    assert not os.path.exists(tmp_path / "out" / "runs"), "nothing trained"


def test_an_out_holding_another_commands_results_is_refused(tmp_path, capfd, data_dir):
    out = tmp_path / "parity"
    out.mkdir()
    (out / studyfiles.PARITY_CSV).write_text("workload\n")
    assert cli.main(FLOOR + ["--out", str(out), "--data-dir", data_dir]) == 2
    line = one_line(capfd)
    assert "holds the results of kerasbench parity (parity.csv" in line, line
    assert sorted(os.listdir(out)) == [studyfiles.PARITY_CSV], "nothing written there"


@needs_jax_kernel
def test_a_real_floor_run_lands_where_the_report_reads_it(tmp_path, capfd, data_dir):
    out = tmp_path / "study"
    argv = FLOOR + ["--device", "cpu", "--out", str(out), "--data-dir", data_dir]
    assert cli.main(argv) == 0, capfd.readouterr().err
    err = capfd.readouterr().err
    folder = out / "runs" / "mnist_mlp" / "native-jax" / "scan-0"
    assert "[1/1] mnist_mlp native-jax scan #0: ok" in err, err
    assert "kerasbench floor: 1 of 1 runs ok" in err, err
    run = runfiles.read_run(str(folder), runfiles.path_identity(str(folder)))
    assert run.status == "ok" and not run.damaged, run.why()
    smoke = {"epochs": 2, "batch_size": 128, "train_samples": 512, "test_samples": 256}
    assert {k: run.record["params"][k] for k in smoke} == smoke  # the smoke profile's settings
    assert run.record["params"]["out"] == str(folder) and len(run.epochs) == 2
    assert run.record["device_requested"] == "cpu"
    assert (folder / runfiles.KERNEL_LOG).is_file()
    assert sorted(os.listdir(out)) == [".kerasbench.lock", "runs"], "no staging folder left"

    # Asked again: skipped, the folder untouched.
    before = os.path.getmtime(folder / runfiles.RUN_JSON)
    assert cli.main(argv) == 0
    assert "mnist_mlp/native-jax/scan-0: done earlier, skipped" in capfd.readouterr().err
    assert os.path.getmtime(folder / runfiles.RUN_JSON) == before

    # Other settings: refused by name, nothing trained; --force replaces it.
    assert cli.main(argv + ["--set", "epochs=3"]) == 2
    line = one_line(capfd)
    assert "holds 1 finished floor run of other settings: mnist_mlp/native-jax/scan-0 (epochs 2, "
    "not 3)" in line, line
    assert os.path.getmtime(folder / runfiles.RUN_JSON) == before
    assert cli.main(argv + ["--set", "epochs=3", "--force"]) == 0
    assert len(runfiles.read_run(str(folder)).epochs) == 3

    # The report reads it as the floor of a Keras run of the same machine and block.
    write_run(out / "runs", epochs=["2.0", "2.0", "2.0"], device=environment.device())
    assert cli.main(["report", "--out", str(out), "--resamples", "100"]) == 0
    with open(out / studyfiles.SUMMARY_CSV) as f:
        rows = {(r["backend"], r["config"]): r for r in csv.DictReader(f)}
    keras = rows["jax", "default"]
    assert keras["floor"] == "native-jax scan", keras
    assert float(keras["times_floor"]) > 0 and keras["floor_pairs"] == "1"


@needs_jax_kernel
@pytest.mark.slow
def test_floor_beside_a_real_smoke_study(tmp_path, capfd, data_dir):
    """A Keras run of the smoke profile and the floor on the same data: the report's floor."""
    out = tmp_path / "study"
    assert cli.main(smoke_run(out, "--data-dir", data_dir, "--device", "cpu", "--no-next")) == 0
    argv = FLOOR + ["--device", "cpu", "--out", str(out), "--data-dir", data_dir]
    assert cli.main(argv) == 0
    keras = json.loads((out / "runs" / "mnist_mlp" / "jax" / "0" / "run.json").read_text())
    native = json.loads(
        (out / "runs" / "mnist_mlp" / "native-jax" / "scan-0" / "run.json").read_text()
    )
    for key in ("epochs", "batch_size", "train_samples", "test_samples"):
        assert native["params"][key] == keras["params"][key], key
    assert native["seed"] == keras["seed"] and native["repeat"] == keras["repeat"]
    assert cli.main(["report", "--out", str(out), "--resamples", "100"]) == 0
    with open(out / studyfiles.SUMMARY_CSV) as f:
        row = next(r for r in csv.DictReader(f) if r["backend"] == "jax")
    assert row["floor"] == "native-jax scan" and float(row["times_floor"]) > 0
