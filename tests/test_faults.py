"""Fault injection: nothing finished is lost, and nothing unfinished reads as finished.

Fast tests run small stand-in notebooks (no Keras) through the real runner and kernel to inject
each fault exactly: a kernel that exits, is killed or segfaults mid-epoch, a cell that raises, a
run past its timeout, Ctrl-C, a kernel orphaned by a killed runner. The slow ones do it to the
study's own notebooks: a NaN run (the `nan_at_epoch` parameter), a kernel killed mid-training, a
run that times out, and the runner killed with SIGKILL in the middle of a smoke matrix, then rerun.
"""

import csv
import hashlib
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from kerasbench import cli, runfiles
from kerasbench.report import rundata, summary as summary_mod
from kerasbench.study import execute, kernels, plan, runner

from conftest import held

HEADER = [
    "epoch",
    "epoch_seconds",
    "train_seconds",
    "elapsed_seconds",
    "samples_per_second",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
]

needs_kernel = pytest.mark.skipif(
    kernels.find("jax") is None, reason="no kerasbench-jax kernel: run `make kernels`"
)

# A stand-in for a workload notebook: logs `epochs` rows like EpochLogger, then does `fault`
# "in the middle of the next epoch". It imports nothing heavy, so a run takes a few seconds.
PARAMETERS = """backend = "jax"
run_dir = "."
seed = 0
data_dir = ""
epochs = 2
fault = "none"
pause = 0.0
"""
LOG_EPOCHS = """import csv, json, os, signal, time
with open(os.path.join(run_dir, "kernel.pid.seen"), "w") as f:
    f.write(str(os.getpid()))
with open(os.path.join(run_dir, "epochs.csv"), "a") as f:
    f.write(",".join(%r) + "\\n")
    for epoch in range(epochs):
        time.sleep(pause)
        f.write("%%d,0.1,0.08,%%.1f,1000.0,0.5,0.8,0.5,0.8\\n" %% (epoch, 0.1 * (epoch + 1)))
        f.flush()
""" % (HEADER,)
FAULT = """if fault == "exit":
    os._exit(3)
elif fault == "sigkill":
    os.kill(os.getpid(), signal.SIGKILL)
elif fault == "segfault":
    import ctypes
    ctypes.string_at(0)
elif fault == "raise":
    raise ValueError("injected fault")
elif fault == "hang":
    time.sleep(3600)
elif fault == "sysexit":
    import sys
    sys.exit(0)
elif fault == "nan":
    with open(os.path.join(run_dir, "kernel.json"), "w") as f:
        json.dump({"nan_loss": True}, f)
"""


@pytest.fixture
def fake_notebook(stand_in_notebook):
    return stand_in_notebook("fault", PARAMETERS, LOG_EPOCHS, FAULT)


def spec(fault="none", epochs=2, repeat=0, backend="jax", workload="mnist_mlp", **params):
    params.update(fault=fault, epochs=epochs)
    return plan.RunSpec(workload, backend, repeat, repeat, "smoke", params, "default")


def rows(folder):
    with open(os.path.join(folder, "epochs.csv")) as f:
        return list(csv.DictReader(f))


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def assert_recorded(record, folder, status, error, epochs):
    assert record["status"] == status, record["error"]
    assert error in (record["error"] or ""), record["error"]
    on_disk = json.load(open(os.path.join(folder, "run.json")))
    assert on_disk["status"] == status and on_disk["error"] == record["error"]
    assert [int(r["epoch"]) for r in rows(folder)] == list(range(epochs)), "partial epochs kept"
    assert not os.path.exists(os.path.join(folder, runfiles.KERNEL_PID))
    pid = int(open(os.path.join(folder, "kernel.pid.seen")).read())
    assert not alive(pid), "the kernel is gone"


@needs_kernel
@pytest.mark.parametrize(
    "fault, error",
    [
        (
            "exit",
            "the kernel died (exit code 3) after 2 epochs logged; its output is in kernel.log",
        ),
        ("sigkill", "the kernel died (killed by SIGKILL) after 2 epochs logged"),
        ("segfault", "the kernel died (killed by SIGSEGV) after 2 epochs logged"),
        ("raise", "ValueError: injected fault"),
    ],
)
def test_a_dying_kernel_is_failed_with_its_epochs_kept(fault, error, fake_notebook, tmp_path):
    out = str(tmp_path / "out")
    record = execute.execute(spec(fault), out, str(tmp_path))
    assert_recorded(record, plan.run_dir(out, spec(fault)), "failed", error, 2)


@needs_kernel
def test_a_run_past_its_timeout_is_killed_and_recorded(fake_notebook, tmp_path):
    out = str(tmp_path / "out")
    t0 = time.time()
    record = execute.execute(spec("hang", epochs=3), out, str(tmp_path), timeout=15)
    assert time.time() - t0 < 15 + 20, "killed soon after the timeout"
    assert_recorded(
        record,
        plan.run_dir(out, spec("hang")),
        "timeout",
        "exceeded --timeout 15s: the kernel was killed after 3 epochs logged",
        3,
    )


@needs_kernel
def test_nan_in_kernel_json_is_status_nan(fake_notebook, tmp_path):
    out = str(tmp_path / "out")
    record = execute.execute(spec("nan"), out, str(tmp_path))
    assert record["status"] == "nan" and "NaN" in record["error"]


@needs_kernel
def test_the_matrix_goes_on_after_a_dead_kernel(fake_notebook, tmp_path):
    out = str(tmp_path / "out")
    specs = [spec("exit", backend="jax"), spec("none", backend="torch")]
    stream = io.StringIO()
    records = runner.run_matrix(specs, out, str(tmp_path), stream=stream)
    assert [r["status"] for r in records] == ["failed", "ok"], stream.getvalue()
    # The rerun reruns the failed run only.
    records = runner.run_matrix(specs, out, str(tmp_path), stream=stream)
    assert [r["status"] for r in records] == ["failed", "ok"]
    assert "done earlier, skipped" in stream.getvalue()


@needs_kernel
def test_a_notebook_that_exits_0_before_an_epoch_is_failed(fake_notebook, tmp_path):
    """papermill takes sys.exit(0) for a notebook that ended early on purpose: with no epoch
    logged the run is failed, saying so, not ok with nothing to report (issue 28)."""
    out = str(tmp_path / "out")
    record = execute.execute(spec("sysexit", epochs=0), out, str(tmp_path))
    assert record["status"] == "failed", record
    assert record["error"] == (
        "the notebook ended without an error but logged no epoch (a sys.exit(0)?)"
    )


MODEL_EXITS = """import sys

PARAMS = {"full": {"epochs": 2, "batch_size": 32}}

sys.exit(0)


def load_data(params, data_dir):
    pass


def build_model(params):
    pass
"""


@needs_kernel
def test_a_model_file_that_calls_sys_exit_is_failed_saying_so(tmp_path, data_dir):
    path = tmp_path / "quits.py"
    path.write_text(MODEL_EXITS)
    out = str(tmp_path / "out")
    (run,) = plan.plan("smoke", [str(path)], ["jax"])
    stream = io.StringIO()
    (record,) = runner.run_matrix([run], out, data_dir, stream=stream)
    assert record["status"] == "failed", record
    assert record["error"] == (
        "ModelFileError: quits called sys.exit(0) while importing it: a model file defines "
        "PARAMS, load_data and build_model, and must not exit"
    )
    assert record["error"] in stream.getvalue(), "the runner's line says why, every time"


@pytest.fixture
def python_ctrl_c():
    """Python's own Ctrl-C handler, as at a terminal. A process started in the background by a
    non-interactive shell (a CI script's `cmd &`) inherits SIGINT ignored and would never see it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@needs_kernel
def test_ctrl_c_stops_the_kernel_and_leaves_the_run_unfinished(
    fake_notebook, tmp_path, python_ctrl_c
):
    out = str(tmp_path / "out")
    folder = plan.run_dir(out, spec("hang"))

    def interrupt():  # like Ctrl-C in the terminal, once the run is training
        deadline = time.time() + 60
        while time.time() < deadline and not os.path.exists(os.path.join(folder, "epochs.csv")):
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        execute.execute(spec("hang"), out, str(tmp_path))
    assert not os.path.exists(os.path.join(folder, "run.json")), "unfinished, so rerun later"
    pid = int(open(os.path.join(folder, "kernel.pid.seen")).read())
    deadline = time.time() + 10
    while alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(pid), "Ctrl-C stops the kernel too"
    assert runner.is_done(out, spec("hang")) is False


def _sleeper(argv_tail, **kw):
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"] + argv_tail,
        start_new_session=kw.pop("start_new_session", True),
        **kw,
    )


def kernel_argv(connection):
    """What a kerasbench kernel's command line holds (kernels.kernel_spec)."""
    return ["-m", "ipykernel_launcher", "-f", connection]


def write_kernel_pid(folder, pid, connection, start_time=None):
    runfiles.write_kernel_pid(
        str(folder),
        pid,
        connection,
        execute.process_start_time(pid) if start_time is None else start_time,
    )


def test_a_rerun_stops_a_kernel_orphaned_by_a_killed_runner(tmp_path):
    folder = tmp_path / "runs" / "mnist_mlp" / "jax" / "0"
    folder.mkdir(parents=True)
    connection = str(tmp_path / "kernel-1234-abcd.json")
    orphan = _sleeper(kernel_argv(connection))
    stranger = _sleeper(kernel_argv(str(tmp_path / "kernel-other.json")))
    try:
        write_kernel_pid(folder, stranger.pid, connection, execute.process_start_time(orphan.pid))
        assert execute.stop_orphan(str(folder)) is False, "not ours: pid reused by another process"
        assert stranger.poll() is None
        write_kernel_pid(folder, orphan.pid, connection)
        assert execute.stop_orphan(str(folder)) is True
        assert orphan.wait(10) == -signal.SIGKILL
        (folder / runfiles.KERNEL_PID).write_text("{torn")
        assert execute.stop_orphan(str(folder)) is False
    finally:
        for p in (orphan, stranger):
            p.kill()
            p.wait()


# Starts a child that looks like a kerasbench kernel (in the leader's process group), says its pid.
LEADER = """import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "-m",
                          "ipykernel_launcher", "-f", sys.argv[-1]])
print(child.pid, flush=True)
time.sleep(600)
"""


class Pid(object):
    """A process that is not our child: poll() and kill() by pid."""

    def __init__(self, pid):
        self.pid = pid

    def alive(self):
        return alive(self.pid)

    def poll(self):
        return None if self.alive() else "gone"

    def kill(self):
        if self.pid > 1:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_crafted_kernel_pid_kills_nothing(tmp_path):
    """kernel.pid is trusted only for the process a runner started: its command line names the
    connection file after -f, and its start time is the one recorded (issue 28)."""
    folder = tmp_path / "runs" / "mnist_mlp" / "jax" / "0"
    folder.mkdir(parents=True)
    connection = str(tmp_path / "kernel-1234-abcd.json")
    # A process group led by `leader`, whose member looks like the kernel in every way.
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER, "/"] + kernel_argv("/") + [connection],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    member = Pid(0)
    try:
        member.pid = int(leader.stdout.readline())
        assert os.getpgid(member.pid) == leader.pid != member.pid
        crafted = [
            # "/" is in every command line with a path: once enough to be killed.
            (leader.pid, "/", None),
            # the leader's true start time, but the member's connection file: a foreign pid.
            (leader.pid, connection, None),
            # the member's connection file and pid, but not its start time: a reused pid.
            (member.pid, connection, execute.process_start_time(member.pid) + 1),
            # not a kernel's connection file argument, though in the command line
            (member.pid, "ipykernel_launcher", None),
        ]
        for pid, connection_file, start_time in crafted:
            write_kernel_pid(folder, pid, connection_file, start_time)
            assert execute.stop_orphan(str(folder)) is False, (pid, connection_file)
            assert leader.poll() is None and member.poll() is None, (pid, connection_file)
        # Written before start times were recorded: not trusted either.
        (folder / runfiles.KERNEL_PID).write_text(
            json.dumps({"pid": member.pid, "connection_file": connection})
        )
        assert execute.stop_orphan(str(folder)) is False and member.poll() is None
        # The true kernel, not the leader of its group: it alone is killed, not the group.
        write_kernel_pid(folder, member.pid, connection)
        assert execute.stop_orphan(str(folder)) is True
        assert not member.alive()
        assert leader.poll() is None, "a group is killed only when the kernel leads it"
    finally:
        member.kill()
        leader.kill()
        leader.wait()


DRIVER = """import sys
from kerasbench import registry
from kerasbench.study import plan, runner
registry.notebook_path = lambda workload: sys.argv[1]
specs = [plan.RunSpec("mnist_mlp", b, r, r, "smoke", {"fault": "none", "epochs": 4, "pause": 0.3},
                        "default") for r in range(2) for b in ("jax", "torch")]
records = runner.run_matrix(specs, sys.argv[2], sys.argv[3])
sys.exit(0 if all(r["status"] == "ok" for r in records) else 1)
"""


def _in(out, folder, name="epochs.csv", rows=None):
    path = os.path.join(out, "runs", "mnist_mlp", folder, name)
    return lambda: (
        os.path.exists(path) and (rows is None or logged_rows(os.path.dirname(path)) >= rows)
    )


# Where the runner is killed; the matrix runs jax/0, torch/0, then torch/1, jax/1 (rotation).
KILL_POINTS = {
    "first kernel starting": lambda out: _in(out, "jax/0", "notebook.ipynb"),
    "second run mid-epoch": lambda out: _in(out, "torch/0", rows=1),
    "second run just finished": lambda out: _in(out, "torch/0", "run.json"),
    "last run mid-epoch": lambda out: _in(out, "jax/1", rows=2),
}


@needs_kernel
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_of_the_runner_at_any_point(point, fake_notebook, tmp_path):
    """The runner of a 4-run matrix killed at `point`, then rerun: every run ok, every epoch
    logged once, no kernel left behind."""
    if kernels.find("torch") is None:
        pytest.skip("no kerasbench-torch kernel")
    out = str(tmp_path / "out")
    command = [sys.executable, "-c", DRIVER, fake_notebook, out, str(tmp_path)]
    first = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(KILL_POINTS[point](out), 120, point)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    seen = [
        os.path.join(d, "kernel.pid.seen")
        for d, _, files in os.walk(out)
        if "kernel.pid.seen" in files
    ]
    kernels_before = [int(open(p).read()) for p in seen]
    finished = sum("run.json" in files for _, _, files in os.walk(out))
    assert finished < 4, "killed before the matrix was done (else the test proves nothing)"
    rerun = subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True
    )
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    index = rundata.load_run_index(os.path.join(out, "runs"))
    assert sorted(index["run_id"]) == sorted(
        "mnist_mlp/%s/%d" % (b, r) for r in range(2) for b in ("jax", "torch")
    )
    assert set(index["status"]) == {"ok"}
    for folder in index["path"]:
        check_epochs(folder, 4)
    time.sleep(1.5)
    assert not [pid for pid in kernels_before if alive(pid)], "no kernel outlives its runner"


# The study's own notebooks.

SMOKE = ["--profile", "smoke", "--no-download"]


def study(out, data_dir, *args):
    return (
        [sys.executable, "-m", "kerasbench.cli", "run", "--out", out, "--data-dir", data_dir]
        + SMOKE
        + list(args)
    )


def wait_for(predicate, limit, what):
    deadline = time.time() + limit
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("waited %ds for %s" % (limit, what))


def logged_rows(folder):
    try:
        with open(os.path.join(folder, "epochs.csv")) as f:
            return max(len(f.read().splitlines()) - 1, 0)
    except OSError:
        return 0


def check_epochs(folder, epochs):
    """epochs.csv is whole: a header, then epochs 0..N-1 once each, every cell a number."""
    with open(os.path.join(folder, "epochs.csv")) as f:
        lines = f.read().splitlines()
    assert lines[0].split(",")[: len(HEADER)] == HEADER
    table = [line.split(",") for line in lines[1:]]
    assert [int(r[0]) for r in table] == list(range(epochs)), "no duplicated, missing or torn rows"
    for r in table:
        assert len(r) == len(lines[0].split(","))
        assert all(math.isfinite(float(v)) for v in r[:6])


@pytest.mark.slow
@needs_kernel
@pytest.mark.parametrize("batch_callbacks", ["true", "false"])
def test_a_nan_run_stops_early_and_the_report_shows_it(tmp_path, data_dir, batch_callbacks):
    # true: TerminateOnNaN stops it within the epoch; false (the quiet configurations): the
    # epoch logger stops it when that epoch ends. Either way 2 rows and status nan.
    out = str(tmp_path / "out")
    backends = [b for b in ("jax", "torch") if kernels.find(b)]
    code = subprocess.call(
        study(
            out,
            data_dir,
            "--workloads",
            "mnist_mlp",
            "--backends",
            ",".join(backends),
            "--set",
            "nan_at_epoch=1",
            "--set",
            "epochs=4",
            "--set",
            "batch_callbacks=" + batch_callbacks,
        )
    )
    assert code == 1, "a study with a run that is not ok exits 1"
    index = rundata.load_run_index(os.path.join(out, "runs"))
    assert sorted(index["status"]) == ["nan"] * len(backends)
    assert not index["ok"].any()
    for backend in backends:
        folder = os.path.join(out, "runs", "mnist_mlp", backend, "0")
        record = json.load(open(os.path.join(folder, "run.json")))
        assert record["status"] == "nan" and record["params"]["nan_at_epoch"] == 1
        logged = rows(folder)
        assert len(logged) == 2, "stopped in the epoch where the loss became NaN"
        assert math.isfinite(float(logged[0]["loss"])) and math.isnan(float(logged[1]["loss"]))
    problems = rundata.problem_runs(index)
    assert sorted(problems["status"]) == ["nan"] * len(backends)
    notes = " ".join(
        summary_mod.build(
            rundata.load_study(os.path.join(out, "runs"), []), n_resamples=100, coverage_studies=50
        )
        .notes.astype(str)
        .values.ravel()
    )
    assert "nan" in notes


@pytest.mark.slow
@needs_kernel
def test_a_real_kernel_killed_mid_training(tmp_path, data_dir):
    out = str(tmp_path / "out")
    run = plan.plan("smoke", ["mnist_mlp"], ["jax"], overrides={"epochs": 100000})[0]
    folder = plan.run_dir(out, run)
    killed = []

    def kill_kernel():
        wait_for(lambda: logged_rows(folder) >= 2, 300, "two epochs")
        pid = json.load(open(os.path.join(folder, runfiles.KERNEL_PID)))["pid"]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    threading.Thread(target=kill_kernel, daemon=True).start()
    record = execute.execute(run, out, data_dir)
    assert killed
    assert record["status"] == "failed"
    assert "the kernel died (killed by SIGKILL) after" in record["error"]
    n = logged_rows(folder)
    assert n >= 2 and "after %d epochs logged" % n in record["error"]
    check_epochs(folder, n)
    index = rundata.load_run_index(os.path.join(out, "runs"))
    assert list(index["status"]) == ["failed"] and list(index["n_epochs"]) == [n]


@pytest.mark.slow
@needs_kernel
def test_a_real_run_past_its_timeout(tmp_path, data_dir):
    out = str(tmp_path / "out")
    run = plan.plan("smoke", ["mnist_mlp"], ["jax"], overrides={"epochs": 100000})[0]
    folder = plan.run_dir(out, run)
    record = execute.execute(run, out, data_dir, timeout=75)
    assert record["status"] == "timeout", record["error"]
    assert 75 <= record["wall_seconds"] < 75 + 30
    n = logged_rows(folder)
    assert (
        n >= 1
        and "exceeded --timeout 75s: the kernel was killed after %d epoch" % n in record["error"]
    )
    check_epochs(folder, n)


@pytest.mark.slow
@needs_kernel
def test_sigkill_of_the_runner_then_rerun_loses_nothing(tmp_path, data_dir):
    backends = [b for b in ("jax", "torch") if kernels.find(b)]
    args = ["--workloads", "mnist_mlp", "--backends", ",".join(backends), "--repeats", "2"]
    out = str(tmp_path / "killed")
    log = open(str(tmp_path / "killed.log"), "w")
    # Its own process group, as a shell gives a job; SIGKILL to the group leaves no handler a
    # chance (the kernels sit in sessions of their own: they notice their parent is gone).
    first = subprocess.Popen(
        study(out, data_dir, *args), start_new_session=True, stdout=log, stderr=log
    )
    second = os.path.join(out, "runs", "mnist_mlp", backends[-1], "0")
    try:
        wait_for(lambda: logged_rows(second) >= 1, 400, "the second run's first epoch")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert not os.path.exists(os.path.join(second, "run.json"))
    kernel = json.load(open(os.path.join(second, runfiles.KERNEL_PID)))["pid"]
    # The rerun: the same command, at once (the orphaned kernel may still be alive).
    rerun = subprocess.run(
        study(out, data_dir, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert "done earlier, skipped" in rerun.stdout
    assert not alive(kernel)
    clean = str(tmp_path / "clean")
    assert subprocess.call(study(clean, data_dir, *args), stdout=log, stderr=log) == 0

    def runs(folder):
        index = rundata.load_run_index(os.path.join(folder, "runs"))
        return sorted(zip(index["run_id"], index["status"], index["n_epochs"], index["seed"]))

    assert runs(out) == runs(clean)
    assert len(runs(out)) == 2 * len(backends) and {r[1] for r in runs(out)} == {"ok"}
    for run_id, _, epochs, _ in runs(out):
        check_epochs(os.path.join(out, "runs", run_id), epochs)
        assert epochs == 2


# No command removes what it did not create (issue 28). `parity --out OUT/runs` used to delete the
# study's finished runs (it removed OUT/runs/<workload>/<backend> before writing). Every command
# that writes into --out now claims it as `run` does: one at a time, never a folder that holds
# another command's results, and its results moved in from a staging folder at the end. The
# folders are copies of the committed real results: a study's runs, a parity check, a profile.

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(REPO, "output", "reference")
LIB = os.path.join(REPO, "lib")
SMALL = {
    "run": ["--profile", "smoke", "--workloads", "mnist_mlp", "--backends", "jax"],
    "floor": ["--profile", "smoke", "--workloads", "mnist_mlp", "--backends", "jax"],
    "report": ["--resamples", "100"],
    "parity": [
        "--profile",
        "smoke",
        "--workloads",
        "mnist_mlp",
        "--backends",
        "tensorflow,jax",
        "--steps",
        "2",
    ],
    "profile": [
        "--profile",
        "smoke",
        "--workload",
        "mnist_mlp",
        "--backend",
        "jax",
        "--steps",
        "2",
        "--repeats",
        "1",
    ],
    "harness": [
        "--profile",
        "smoke",
        "--workload",
        "mnist_mlp",
        "--backend",
        "jax",
        "--pairs",
        "1",
    ],
}


def _folders(tmp_path):
    """Real results of each kind, copied: a study folder (runs/, report.html, summary.csv), a
    parity folder and a profile folder."""
    study = tmp_path / "study"
    shutil.copytree(
        os.path.join(REFERENCE, "cpu-quick"), str(study), ignore=shutil.ignore_patterns("parity")
    )
    shutil.copytree(os.path.join(REFERENCE, "cpu-quick", "parity"), str(tmp_path / "parity"))
    shutil.copytree(
        os.path.join(REFERENCE, "cpu", "profile", "mnist_mlp", "jax"), str(tmp_path / "profile")
    )
    return tmp_path


def _tree(folder):
    """Every path under `folder` with its bytes' hash: what a refused command must leave as is."""
    found = {}
    for root, dirs, files in os.walk(str(folder)):
        for name in dirs + files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, str(folder))] = (
                hashlib.sha256(open(path, "rb").read()).hexdigest() if name in files else "dir"
            )
    return found


def _one_error(capfd):
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.mark.parametrize(
    "command, where, shown",
    [
        (
            "parity",
            "study/runs",
            "holds the results of kerasbench run (cifar10_cnn/cntk/0/run.json)",
        ),  # the case
        ("parity", "study", "holds the results of kerasbench run (runs/"),
        ("profile", "study/runs/mnist_mlp/jax/0", "holds the results of kerasbench run (run.json)"),
        (
            "harness",
            "study/runs",
            "holds the results of kerasbench run (cifar10_cnn/cntk/0/run.json)",
        ),
        ("run", "parity", "holds the results of kerasbench parity (parity.csv, parity_losses.csv"),
        ("report", "parity", "holds the results of kerasbench parity (parity.csv"),
        ("profile", "parity/mnist_mlp/jax", "holds the results of kerasbench parity (job.json)"),
        ("harness", "parity", "holds the results of kerasbench parity (parity.csv"),
        ("run", "profile", "holds the results of kerasbench profile (profile.json"),
        ("parity", "profile", "holds the results of kerasbench profile (profile.json"),
        ("report", "profile", "holds the results of kerasbench profile (profile.json"),
        ("parity", "study/runs/mnist_mlp", "holds the results of kerasbench run (cntk/0/run.json)"),
        ("floor", "parity", "holds the results of kerasbench parity (parity.csv"),
        ("floor", "profile", "holds the results of kerasbench profile (profile.json"),
    ],
)
def test_no_command_writes_into_another_commands_results(
    command, where, shown, tmp_path, data_dir, capfd
):
    top = _folders(tmp_path)
    before = _tree(top)
    out = str(top / where)
    argv = [command, "--out", out] + SMALL[command]
    argv += (
        ["--runs", str(top / "study" / "runs")] if command == "report" else ["--data-dir", data_dir]
    )
    assert cli.main(argv) == 2
    line = _one_error(capfd)
    assert "%s %s" % (out, shown) in line, line
    assert "give kerasbench %s a folder of its own (--out)" % command in line, line
    assert _tree(top) == before, "nothing removed, changed or added (not even a lock file)"


@pytest.mark.parametrize("command", ["parity", "profile", "harness", "report", "floor"])
def test_every_command_stops_at_once_on_an_out_in_use(command, tmp_path, data_dir, capfd):
    """A second command on the same --out stops before anything runs, naming the first one."""
    out = tmp_path / "out"
    out.mkdir()
    with held(out) as holder:
        argv = [command, "--out", str(out)] + SMALL[command]
        argv += (
            ["--runs", os.path.join(REFERENCE, "cpu-quick", "runs")]
            if command == "report"
            else ["--data-dir", data_dir]
        )
        started = time.time()
        assert cli.main(argv) == 2
        line = _one_error(capfd)
        assert "in use by another kerasbench run (pid %d, kerasbench run" % holder.pid in line, line
        assert time.time() - started < 30, "at once, not after a run"
        assert sorted(os.listdir(str(out))) == [".kerasbench.lock"], "nothing written"


def test_the_lock_names_the_command_that_holds_it(tmp_path):
    from kerasbench.errors import UserError
    from kerasbench.study import preflight

    with preflight.lock_output(str(tmp_path), "parity"):
        with pytest.raises(UserError) as refused:
            with preflight.lock_output(str(tmp_path), "run"):
                pass
    assert (
        "in use by another kerasbench run (pid %d, kerasbench parity, since " % os.getpid()
        in str(refused.value)
    )


def test_staging_moves_its_results_in_and_touches_nothing_else(tmp_path):
    """Mechanics (generated files): a commit replaces the call's own earlier results by name,
    removes the obsolete ones it did not make again, and leaves everything else."""
    from kerasbench.study import preflight

    out = tmp_path / "out"
    (out / "w" / "b").mkdir(parents=True)
    (out / "w" / "b" / "old.txt").write_text("earlier call")
    (out / "w" / "other").mkdir()
    (out / "w" / "other" / "keep.txt").write_text("another backend, earlier")
    (out / "table.csv").write_text("old table")
    (out / "page.html").write_text("old page")
    (out / "notes.txt").write_text("the user's")
    with preflight.Staging.begin(str(out), "parity") as stage:
        assert os.path.dirname(stage.path) == str(out)
        assert os.path.basename(stage.path).startswith(".kerasbench-staging-parity-")
        os.makedirs(os.path.join(stage.path, "w", "b"))
        with open(os.path.join(stage.path, "w", "b", "new.txt"), "w") as f:
            f.write("this call")
        with open(os.path.join(stage.path, "table.csv"), "w") as f:
            f.write("new table")
        assert (out / "table.csv").read_text() == "old table", "untouched until the commit"
        stage.commit(["w/b", "page.html", "table.csv"], obsolete=["page.html"])
    assert os.listdir(str(out / "w" / "b")) == ["new.txt"]
    assert (out / "table.csv").read_text() == "new table"
    assert not (out / "page.html").exists(), "an obsolete result of an earlier call goes"
    assert (out / "notes.txt").read_text() == "the user's"
    assert (out / "w" / "other" / "keep.txt").exists()
    assert sorted(os.listdir(str(out))) == ["notes.txt", "table.csv", "w"], "no staging left"


def test_a_failed_call_removes_only_its_own_staging(tmp_path):
    from kerasbench.study import preflight

    out = tmp_path / "out"
    out.mkdir()
    (out / "table.csv").write_text("old table")
    with pytest.raises(RuntimeError):
        with preflight.Staging.begin(str(out), "profile") as stage:
            with open(os.path.join(stage.path, "table.csv"), "w") as f:
                f.write("half")
            raise RuntimeError("the kernel failed")
    assert sorted(os.listdir(str(out))) == ["table.csv"]
    assert (out / "table.csv").read_text() == "old table"


def test_a_killed_calls_staging_is_removed_or_finished_at_the_next_start(tmp_path, capsys):
    """A call killed before its commit left an unfinished staging folder: the next call of the
    same command removes it, saying so. One killed while moving in (its plan written, half of it
    done) is finished instead. Another command's staging is left alone (and refuses it)."""
    from kerasbench.errors import UserError
    from kerasbench.study import preflight

    out = tmp_path / "out"
    out.mkdir()
    unfinished = out / ".kerasbench-staging-parity-dead1"
    (unfinished / "w" / "b").mkdir(parents=True)
    (unfinished / "w" / "b" / "job.json").write_text("{}")
    moving = out / ".kerasbench-staging-parity-dead2"
    moving.mkdir()
    (out / "w" / "b").mkdir(parents=True)
    (out / "w" / "b" / "new.txt").write_text("moved in before the kill")  # first of the plan
    (moving / "table.csv").write_text("new table")
    (out / "table.csv").write_text("old table")
    (out / "page.html").write_text("old page")
    (moving / preflight.SWAP).write_text(
        json.dumps({"move_in": ["w/b", "table.csv"], "remove": ["page.html"]})
    )
    with preflight.claim_output(str(out), "parity"):
        pass
    said = capsys.readouterr().out
    assert "removed .kerasbench-staging-parity-dead1, the unfinished results" in said
    assert "finished moving in the results of an earlier call" in said
    assert sorted(os.listdir(str(out))) == [".kerasbench.lock", "table.csv", "w"]
    assert (out / "table.csv").read_text() == "new table"
    assert os.listdir(str(out / "w" / "b")) == ["new.txt"]
    other = out / ".kerasbench-staging-profile-dead3"
    other.mkdir()
    with pytest.raises(UserError, match="holds the results of kerasbench profile"):
        with preflight.claim_output(str(out), "run"):
            pass
    assert other.is_dir()


def test_parity_replaces_only_its_own_process_folders(tmp_path, data_dir, capfd):
    """A folder at <workload>/<backend> that parity did not write (no job.json) is refused by
    name before anything runs; the old code removed it."""
    out = tmp_path / "out"
    (out / "mnist_mlp" / "jax").mkdir(parents=True)
    (out / "mnist_mlp" / "jax" / "mine.txt").write_text("not parity's")
    argv = ["parity", "--out", str(out), "--data-dir", data_dir] + SMALL["parity"]
    assert cli.main(argv) == 2
    line = _one_error(capfd)
    assert (
        "%s was not written by kerasbench parity (it has no job.json)" % (out / "mnist_mlp" / "jax")
        in line
    )
    assert (out / "mnist_mlp" / "jax" / "mine.txt").read_text() == "not parity's"
    assert not [n for n in os.listdir(str(out)) if n.startswith(".kerasbench-staging")]


def test_harness_replaces_only_its_own_work_folder(tmp_path, data_dir, capfd):
    out = tmp_path / "out"
    (out / "harness").mkdir(parents=True)
    (out / "harness" / "notes.txt").write_text("not the harness's")
    argv = ["harness", "--out", str(out), "--data-dir", data_dir] + SMALL["harness"]
    assert cli.main(argv) == 2
    line = _one_error(capfd)
    assert "holds files kerasbench harness did not write (notes.txt)" in line, line
    assert (out / "harness" / "notes.txt").exists()


@pytest.mark.slow
def test_a_killed_parity_leaves_the_earlier_results_whole(tmp_path, data_dir):
    """Real: parity once; a second call SIGKILLed with its processes mid-way leaves the first
    call's results byte for byte (the old code had removed them before it started); the third
    call removes the staging the kill left, saying so, and replaces the results."""
    out = tmp_path / "parity"
    env = dict(os.environ, PYTHONPATH=LIB)
    argv = [
        sys.executable,
        "-m",
        "kerasbench.cli",
        "parity",
        "--out",
        str(out),
        "--data-dir",
        data_dir,
    ]
    argv += SMALL["parity"]
    first = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    before = _tree(out)
    written = {
        name: os.stat(str(out / name)).st_mtime_ns
        for name in ("parity.csv", "mnist_mlp/jax/result.json")
    }
    second = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not [
            n
            for n in os.listdir(str(out))
            if n.startswith(".kerasbench-staging-parity-")
            and os.path.exists(str(out / n / "mnist_mlp" / "tensorflow" / "job.json"))
        ]:
            time.sleep(0.2)
        time.sleep(2)  # the reference process is training
    finally:
        os.killpg(second.pid, signal.SIGKILL)
        second.wait()
    after = _tree(out)
    staged = [p for p in after if p.startswith(".kerasbench-staging-parity-") and "/" not in p]
    assert len(staged) == 1, sorted(after)
    assert {p: h for p, h in after.items() if not p.startswith(".kerasbench")} == {
        p: h for p, h in before.items() if not p.startswith(".kerasbench")
    }, "the earlier results are whole"
    third = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "removed %s, the unfinished results of an earlier call" % staged[0] in third.stderr
    final = _tree(out)
    assert not [p for p in final if p.startswith(".kerasbench-staging")]
    for name in ("parity.csv", "mnist_mlp/jax/result.json"):
        assert os.stat(str(out / name)).st_mtime_ns > written[name], "replaced by the third call"
