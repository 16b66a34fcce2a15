"""A workload notebook run by hand (papermill or Jupyter, no `kerasbench run`): the run's settings
come from its parameters and its kernel (kernel.settings), the data folder is found as
`kerasbench run` finds it, the terminal says when generated data stands in, and the run folder
is complete (run.json written by the kernel, through runfiles)."""

import io
import os
import subprocess
import sys

import pytest

from kerasbench import registry, runfiles
from kerasbench.kernel import settings, terminal
from kerasbench.study import kernels, params

pytest.importorskip("keras")
from kerasbench.kernel import session  # noqa: E402

# --- the settings object --------------------------------------------------------------------------


def test_the_settings_are_the_notebook_run_settings_the_host_knows():
    host = set(params.RUNNER_KEYS) | set(params.RUN_SETTINGS) | {"allow_generated"}
    assert set(settings.DEFAULTS) == host


def test_the_backend_is_the_kernels_and_another_one_is_one_line():
    chosen = settings.Settings.from_parameters("mnist_mlp", {"backend": ""}, "jax")
    assert chosen.backend == "jax"
    assert (
        settings.Settings.from_parameters("mnist_mlp", {"backend": "jax"}, "jax").backend == "jax"
    )
    with pytest.raises(settings.BackendMismatch) as e:
        settings.Settings.from_parameters("mnist_mlp", {"backend": "torch"}, "jax")
    said = e.value._render_traceback_()
    assert said == [
        "BackendMismatch: the backend parameter asks for 'torch' but this kernel runs Keras on "
        "'jax': use the kerasbench-torch kernel, or leave backend out (the kernel's is used)"
    ]


def test_the_data_folder_is_found_as_kerasbench_run_finds_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERASBENCH_DATA", str(tmp_path / "shared"))
    found = settings.Settings.from_parameters("mnist_mlp", {"data_dir": ""}, "jax")
    assert found.data_dir == str(tmp_path / "shared")
    given = settings.Settings.from_parameters("mnist_mlp", {"data_dir": "mine"}, "jax")
    assert given.data_dir == str(tmp_path / "mine")  # absolute, as the runner passes it
    monkeypatch.delenv("KERASBENCH_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    default = settings.Settings.from_parameters("mnist_mlp", {}, "jax")
    assert default.data_dir == str(tmp_path / "home" / ".keras" / "datasets")
    assert default.run_dir == str(tmp_path) and default.seed == 0


def test_the_settings_hold_what_compile_and_every_lstm_get():
    chosen = settings.Settings.from_parameters(
        "x",
        {"steps_per_execution": 8, "jit_compile": False, "use_cudnn": False, "epochs": 3},
        "jax",
        declared=["steps_per_execution", "epochs"],
    )
    assert chosen.compile_options() == {"steps_per_execution": 8, "jit_compile": False}
    assert chosen.lstm_options() == {"use_cudnn": False}
    assert chosen.parameters == {"steps_per_execution": 8, "epochs": 3}
    # No run started: Keras' own defaults (compile() gets nothing more, every LSTM "auto").
    assert settings.Settings().compile_options() == {} and settings.Settings().lstm_options() == {}
    assert chosen.replace(steps_per_execution=1).compile_options()["steps_per_execution"] == 1
    with pytest.raises(TypeError):
        settings.Settings(epochz=3)


def test_the_parameters_cell_is_found_in_the_kernels_history():
    declared = 'run_dir = "."\nseed = 0\nepochs = 2\n'
    injected = "# Parameters\nepochs = 3\n"
    assert session.parameters_cell(["", "x = 1", declared, injected, "setup"]) == declared
    assert session.parameters_cell(["", declared, "setup"]) == declared  # Jupyter, by hand
    assert session.parameters_cell([]) == ""  # a plain process


# --- who writes run.json ------------------------------------------------------------------------


def test_the_kernel_writes_run_json_only_where_no_runner_watches_it(tmp_path, monkeypatch):
    folder = str(tmp_path)
    monkeypatch.setattr(session, "_in_ipython", lambda: True)
    assert session.by_hand(folder)  # papermill or Jupyter by hand: no kernel.pid
    runfiles.write_kernel_pid(folder, os.getpid(), "/tmp/kernel-1.json", 1)
    assert not session.by_hand(folder)  # the runner recorded this very kernel
    runfiles.write_kernel_pid(folder, os.getpid() + 1, "/tmp/kernel-1.json", 1)
    assert session.by_hand(folder)  # an earlier runner's kernel, not this one
    monkeypatch.setattr(session, "_in_ipython", lambda: False)
    assert not session.by_hand(folder)  # kerasbench.plain, parity, profile


def _finished_run(folder, epochs, info):
    os.makedirs(folder, exist_ok=True)
    chosen = settings.Settings(
        workload="mnist_mlp",
        backend="jax",
        run_dir=folder,
        data_dir="/data",
        parameters={"backend": "", "run_dir": ".", "epochs": epochs, "seed": 0},
    )
    run = session.Run(chosen)
    run.info.update(info)
    writer = runfiles.EpochWriter(os.path.join(folder, runfiles.EPOCHS_CSV))
    for epoch in range(epochs):
        writer.write({"epoch": epoch, "epoch_seconds": 1.0, "loss": 0.5})
    writer.close()
    return run


CPU = {"kind": "cpu", "devices": ["cpu:0"], "framework": "jax", "why": "no GPU"}


def test_run_json_by_hand_is_a_complete_record_that_read_run_accepts(tmp_path):
    folder = str(tmp_path / "runs" / "mnist_mlp" / "jax" / "tuned-1")
    run = _finished_run(folder, 2, {"started_at": runfiles.now(), "trained_on": CPU})
    record = run.write_record()
    read = runfiles.read_run(folder, runfiles.path_identity(folder))
    assert read.problems == [] and read.record == record
    assert (record["status"], record["error"], record["profile"]) == ("ok", None, None)
    assert (record["config"], record["repeat"]) == ("tuned", 1)  # from the run folder's path
    assert record["params"]["backend"] == "jax" and record["params"]["run_dir"] == folder
    assert record["params"]["data_dir"] == "/data" and record["params"]["epochs"] == 2


def test_run_json_by_hand_says_nan_and_a_cpu_fallback(tmp_path):
    nan = _finished_run(str(tmp_path / "a"), 1, {"nan_loss": True, "trained_on": CPU})
    assert nan.write_record()["status"] == "nan"
    gpu_machine = {"gpu": "NVIDIA H200", "cpu": "x", "cores": 16}
    fell_back = _finished_run(str(tmp_path / "b"), 1, {"trained_on": CPU, "device": gpu_machine})
    record = fell_back.write_record()
    assert record["status"] == "failed" and "trained on the CPU" in record["error"]
    assert (record["config"], record["repeat"]) == (None, 0)  # not a run folder's path


# --- the terminal -------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_line_for_the_terminal_starts_a_line_of_its_own_there(monkeypatch):
    notebook, tty = io.StringIO(), Terminal()
    monkeypatch.setattr(sys, "stderr", notebook)
    monkeypatch.setattr(sys, "__stderr__", tty)
    terminal.say("kerasbench: warning: x")
    assert notebook.getvalue() == "kerasbench: warning: x\n"
    assert tty.getvalue() == "\nkerasbench: warning: x\n"  # after papermill's progress bar


# --- papermill by hand, in the kerasbench-jax kernel ---------------------------------------------

needs_jax_kernel = pytest.mark.skipif(
    kernels.find("jax") is None, reason="the kerasbench-jax kernel is not installed"
)


def papermill_by_hand(tmp_path, run_dir, data_folder, *parameters):
    env = dict(os.environ)
    env.pop("KERASBENCH_DATA", None)
    if data_folder is not None:
        env["KERASBENCH_DATA"] = data_folder
    command = [sys.executable, "-m", "papermill", registry.notebook_path("mnist_mlp")]
    command += [str(tmp_path / "out.ipynb"), "-k", "kerasbench-jax", "-p", "run_dir", run_dir]
    for name, value in zip(parameters[::2], parameters[1::2]):
        command += ["-p", name, value]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=env, cwd=str(tmp_path)
    )


@pytest.mark.slow
@needs_jax_kernel
def test_papermill_by_hand_on_real_mnist_infers_the_backend_and_writes_run_json(tmp_path, data_dir):
    run_dir = str(tmp_path / "run")
    done = papermill_by_hand(tmp_path, run_dir, data_dir, "epochs", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    read = runfiles.read_run(run_dir)
    assert read.problems == [] and read.record["status"] == "ok", read.problems
    record = read.record
    assert record["backend"] == "jax" and record["params"]["backend"] == "jax"  # no -p backend
    assert record["data"]["source"] == "subset" and record["data"]["folder"] == data_dir
    assert len(read.epochs) == 1 and record["params"]["epochs"] == 1
    assert "kerasbench: mnist_mlp on jax: ok; run folder %s" % run_dir in done.stderr
    assert "generated" not in done.stderr


@pytest.mark.slow
@needs_jax_kernel
def test_papermill_by_hand_says_on_the_terminal_when_generated_data_stands_in(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    run_dir = str(tmp_path / "run")
    done = papermill_by_hand(tmp_path, run_dir, str(empty), "epochs", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if "kerasbench:" in line]
    assert any(
        "kerasbench: warning: %s: missing;" % (empty / "mnist.npz") in line
        and "using generated mnist data (its accuracy means nothing)" in line
        for line in lines
    ), done.stderr[-3000:]
    assert any("ok, on generated data; run folder %s" % run_dir in line for line in lines)
    assert runfiles.read_run(run_dir).record["data"]["source"] == "generated"


@pytest.mark.slow
@needs_jax_kernel
def test_papermill_by_hand_with_another_backend_is_one_clear_error(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    done = papermill_by_hand(tmp_path, str(run_dir), data_dir, "backend", "torch")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "BackendMismatch: the backend parameter asks for 'torch' but this "
        "kernel runs Keras on 'jax'"
    ), done.stderr[-3000:]
    assert (
        "Traceback" not in done.stderr.split("Exception encountered")[-1]
    )  # the kernel's: one line
    assert not (run_dir / runfiles.EPOCHS_CSV).exists() and not (run_dir / "run.json").exists()
