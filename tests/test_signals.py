"""SIGTERM and SIGHUP to `kerasbench run`: the runs in flight are stopped and recorded, the runner
exits with one line, and nothing goes on training without an owner (issue 28).

The runner is the real command (`python -m kerasbench.cli run`), one run at a time and
`--jobs 2`, with a stand-in notebook that logs an epoch every 0.2 s until it is stopped (no
Keras), under mnist_mlp's parameters. The stand-in reaches every process (the runner, the
`--jobs` children, the kernels) through a sitecustomize module on PYTHONPATH that points
registry.notebook_path at it.
"""

import contextlib
import csv
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import nbformat
import pytest

from kerasbench import registry, runfiles
from kerasbench.study import execute, kernels, preflight

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

needs_kernel = pytest.mark.skipif(
    kernels.find("jax") is None, reason="no kerasbench-jax kernel: run `make kernels`"
)

HEADER = ",".join(runfiles.COLUMNS)
ENDLESS = """import os, time
with open(os.path.join(run_dir, "kernel.pid.seen"), "w") as f:
    f.write(str(os.getpid()))
with open(os.path.join(run_dir, "epochs.csv"), "a") as f:
    f.write(%r + "\\n")
    f.flush()
    for epoch in range(100000):
        time.sleep(0.2)
        f.write("%%d,0.2,0.2,%%.1f,1000.0,0.5,0.8,0.5,0.8\\n" %% (epoch, 0.2 * (epoch + 1)))
        f.flush()
""" % (HEADER,)

HOOK = """import os
if os.environ.get("KERASBENCH_TEST_NOTEBOOK"):
    from kerasbench import registry
    registry.notebook_path = lambda workload: os.environ["KERASBENCH_TEST_NOTEBOOK"]
"""


@pytest.fixture
def endless(tmp_path):
    """The environment of a runner whose every run trains until it is stopped."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "kerasbench-jax",
        "language": "python",
        "display_name": "kerasbench (jax)",
    }
    # The parameters cell of mnist_mlp's notebook: the runner checks the plan against it.
    real = nbformat.read(registry.notebook_path("mnist_mlp"), as_version=4)
    params = next(c for c in real.cells if "parameters" in c.metadata.get("tags", []))
    nb.cells = [params, nbformat.v4.new_code_cell(ENDLESS)]
    path = str(tmp_path / "endless.ipynb")
    nbformat.write(nb, path)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    pythonpath = os.pathsep.join([str(hook), os.path.join(REPO, "lib")])
    return dict(os.environ, KERASBENCH_TEST_NOTEBOOK=path, PYTHONPATH=pythonpath)


def rows(folder):
    path = os.path.join(folder, runfiles.EPOCHS_CSV)
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return max(len(list(csv.reader(f))) - 1, 0)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, limit, what):
    deadline = time.time() + limit
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail("timed out waiting for %s" % what)


CASES = {
    # name: (extra arguments, the signal, sent to the whole process group (a closed terminal))
    "SIGTERM, one run at a time": ([], signal.SIGTERM, False),
    "SIGHUP to the group, one run at a time": ([], signal.SIGHUP, True),
    "SIGTERM to the runner, --jobs 2": (["--repeats", "2", "--jobs", "2"], signal.SIGTERM, False),
    "SIGHUP to the group, --jobs 2": (["--repeats", "2", "--jobs", "2"], signal.SIGHUP, True),
}


@needs_kernel
@pytest.mark.parametrize("case", list(CASES))
def test_a_stopped_runner_stops_and_records_its_runs(case, endless, tmp_path, data_dir):
    args, signum, group = CASES[case]
    out = str(tmp_path / "out")
    command = [
        sys.executable,
        "-m",
        "kerasbench.cli",
        "run",
        "--workloads",
        "mnist_mlp",
        "--backends",
        "jax",
        "--profile",
        "smoke",
        "--no-download",
        "--out",
        out,
        "--data-dir",
        data_dir,
    ] + args
    runner = subprocess.Popen(
        command,
        env=endless,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A terminal's runner: SIGHUP at its default even where this test runs under nohup
        # (the runner keeps a signal its parent ignored, as nohup means it to).
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    runs = 2 if "--jobs" in args else 1
    folders = [os.path.join(out, "runs", "mnist_mlp", "jax", str(r)) for r in range(runs)]
    try:
        wait_for(
            lambda: all(rows(f) >= 2 for f in folders) or runner.poll() is not None,
            120,
            "every run training",
        )
        assert runner.poll() is None, runner.communicate()[1][-3000:]
        kernel_pids = [int(open(os.path.join(f, "kernel.pid.seen")).read()) for f in folders]
        for folder, pid in zip(folders, kernel_pids):
            recorded = runfiles.read_kernel_pid(folder)  # pid, connection file, start time
            assert recorded is not None and recorded[0] == pid, recorded
            assert execute.our_kernel(*recorded), "kernel.pid names the kernel that runs"
        if group:
            os.killpg(runner.pid, signum)
        else:
            os.kill(runner.pid, signum)
        _, err = runner.communicate(timeout=90)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
    name = signal.Signals(signum).name
    assert runner.returncode == 128 + signum, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == (
        "kerasbench: stopped by %s: %d run%s in flight recorded failed (interrupted); "
        "rerun the same command to go on" % (name, runs, "" if runs == 1 else "s")
    ), err[-3000:]
    for folder in folders:
        run = runfiles.read_run(folder)
        assert run.status == "failed" and not run.damaged, run.why()
        logged = len(run.epochs)
        assert logged >= 2
        assert run.record["error"].startswith("interrupted by %s after" % name), run.record
        assert not os.path.exists(os.path.join(folder, runfiles.KERNEL_PID))
    deadline = time.time() + 5
    while any(alive(pid) for pid in kernel_pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in kernel_pids if alive(pid)], "no kernel outlives its runner"
    before = [rows(f) for f in folders]
    time.sleep(1.0)
    assert [rows(f) for f in folders] == before, "nothing goes on training"
    with preflight.lock_output(out):  # the lock went with the runner
        pass
    summary = [line for line in err.splitlines() if "interrupted by %s" % name in line]
    assert len(summary) == runs, "each stopped run's line is printed: %r" % err[-3000:]


def test_what_a_stopped_run_says_and_how_a_stopped_child_exits():
    from kerasbench.study import signals

    assert signals.interrupted(signal.SIGTERM, 1) == "interrupted by SIGTERM after 1 epoch logged"
    assert signals.interrupted(signal.SIGHUP) == "interrupted by SIGHUP"
    assert signals.stopped_by(-signal.SIGTERM) == signal.SIGTERM
    assert signals.stopped_by(128 + signal.SIGHUP) == signal.SIGHUP
    assert signals.stopped_by(1) is None and signals.stopped_by(-signal.SIGKILL) is None
    assert json.dumps(signals.name(200)) == '"signal 200"'


def test_a_library_handler_is_taken_back_and_a_signal_in_c_code_waits():
    """ray.init() puts its own SIGTERM handler in; Ray's wait turns an exception raised by a
    handler inside it into a SystemError: the runner takes its handler back, and around such
    calls the signal is noted and raised as the block ends."""
    from kerasbench.study import signals

    saved = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        with signals.handled():
            mine = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, lambda signum, frame: None)  # a library's
            signals.take_back()
            assert signal.getsignal(signal.SIGTERM) is mine
            reached = []
            with pytest.raises(signals.Terminated) as stopped:
                with signals.deferred():
                    with signals.deferred():
                        os.kill(os.getpid(), signal.SIGTERM)
                        time.sleep(0.1)
                        reached.append("inner")
                    reached.append("outer")
            assert reached == ["inner", "outer"] and stopped.value.signum == signal.SIGTERM
            # Processes started with SIGHUP ignored keep it ignored (Ray's, in the runner's group).
            code = "import signal; print(signal.getsignal(signal.SIGHUP) == signal.SIG_IGN)"
            with signals.hangup_ignored():
                child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            assert child.stdout.split() == ["True"]
            assert signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, saved)


# --- On Ray: a real run of mnist_mlp in a Ray worker of a local instance ----------------------


def descendants(pid):
    """{pid: start time} of every process below `pid` (Ray's own, its workers, their kernels)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    parents[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = {}, [pid]
    while frontier:
        below = [p for p, parent in parents.items() if parent in frontier and p not in found]
        for p in below:
            found[p] = execute.process_start_time(p)
        frontier = below
    return {p: t for p, t in found.items() if t is not None}


def still_there(processes):
    """Those of `processes` ({pid: start time}) alive now (a zombie is not)."""
    return [p for p, t in processes.items() if execute.process_start_time(p) == t and alive(p)]


@contextlib.contextmanager
def hard_limit(seconds):
    """Fails the test after `seconds`, wherever it waits: it never hangs."""

    def expired(signum, frame):
        raise TimeoutError("the test ran past its %ds limit" % seconds)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


RAY_CASES = {
    # name: (the signal, sent to the whole process group, the run's epochs come back)
    "SIGTERM to the runner": (signal.SIGTERM, False, True),
    "SIGHUP to the group (a closed terminal)": (signal.SIGHUP, True, True),
}
# SIGTERM to the whole group stops Ray's own processes too: the runner then records the run
# itself, "interrupted by SIGTERM", its epochs left behind (tests/test_executors.py,
# TestRayStops, with a store that does not answer; a third case here would double the time).


@needs_kernel
@pytest.mark.slow
@pytest.mark.parametrize("case", list(RAY_CASES))
def test_a_stopped_ray_runner_stops_and_records_its_run(case, tmp_path, data_dir):
    """--executor ray on a local Ray instance the runner starts, one real run (mnist_mlp on JAX,
    smoke data, epochs enough never to end). Once it trains in its worker's scratch folder, the
    signal: the runner exits with 128 + it, the run comes back recorded failed, "interrupted by
    SIG... after N epochs logged" with its N epochs, and no process the runner started is left,
    its kernel least of all. Where Ray's own processes get the signal too, the runner records
    the run itself, "interrupted by SIGTERM", its epochs left on the worker."""
    pytest.importorskip("ray")
    signum, group, back = RAY_CASES[case]
    out, scratch = str(tmp_path / "out"), tmp_path / "scratch"
    scratch.mkdir()
    command = [sys.executable, "-m", "kerasbench.cli", "run", "--workloads", "mnist_mlp"]
    command += ["--backends", "jax", "--profile", "smoke", "--set", "epochs=100000"]
    command += ["--no-download", "--out", out, "--data-dir", data_dir]
    command += ["--executor", "ray", "--device", "cpu", "--no-next"]
    # The workers' scratch folders in this test's own folder; Ray's own files where they were.
    env = dict(os.environ, TMPDIR=str(scratch), RAY_TMPDIR=tempfile.gettempdir())
    with hard_limit(150), open(str(tmp_path / "stderr"), "w+") as err:
        runner = subprocess.Popen(
            command,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=err,
            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
        )
        started = {}
        try:
            folder = os.path.join(str(scratch), "kerasbench-ray-*", "runs", "mnist_mlp", "jax", "0")

            def training():
                for found in glob.glob(folder):
                    if rows(found) >= 2 and runfiles.read_kernel_pid(found):
                        return found
                return None

            wait_for(lambda: training() or runner.poll() is not None, 90, "the run training")
            assert runner.poll() is None, open(err.name).read()[-3000:]
            kernel = runfiles.read_kernel_pid(training())
            assert execute.our_kernel(*kernel), "kernel.pid names the kernel that trains"
            started = descendants(runner.pid)
            assert kernel[0] in started
            (os.killpg if group else os.kill)(runner.pid, signum)
            runner.wait(timeout=60)
            deadline = time.time() + 20
            while still_there(started) and time.time() < deadline:
                time.sleep(0.2)
        finally:
            if runner.poll() is None:
                os.killpg(runner.pid, signal.SIGKILL)
                runner.wait()
            for pid in still_there(started):  # the test never leaves one behind either
                os.kill(pid, signal.SIGKILL)
        err.seek(0)
        stderr = err.read()
    name = signal.Signals(signum).name
    assert runner.returncode == 128 + signum, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1] == (
        "kerasbench: stopped by %s: 1 run in flight recorded failed (interrupted); "
        "rerun the same command to go on" % name
    ), stderr[-3000:]
    run = runfiles.read_run(os.path.join(out, "runs", "mnist_mlp", "jax", "0"))
    assert run.status == "failed" and not run.damaged, run.why()
    if back:
        assert len(run.epochs) >= 2, "its epochs came back with it"
        error = "interrupted by %s after %d epochs logged" % (name, len(run.epochs))
    else:
        error = "interrupted by %s" % name
    assert run.record["error"] == error
    assert run.record["params"]["run_dir"] == os.path.join(out, "runs", "mnist_mlp", "jax", "0")
    assert not os.path.exists(os.path.join(run.folder, runfiles.KERNEL_PID))
    assert not still_there(started), "no process the runner started outlives it"
    assert not os.listdir(str(scratch)), "the worker's scratch folder is gone"
    with preflight.lock_output(out):  # the lock went with the runner
        pass
