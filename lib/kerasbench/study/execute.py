"""One run: one papermill execution of the workload's notebook in a fresh kernel, into its run
folder, with run.json written last. Host side: never imports Keras (the kernel picks the backend;
the runner holds no GPU memory).
"""

import contextlib
import errno
import os
import shutil
import signal
import socket
import sys
import time

from kerasbench import environment, registry, runfiles
from kerasbench.errors import cause_line, one_line
from kerasbench.study import kernels, plan, signals


@contextlib.contextmanager
def output_to(path):
    """Sends this process's stdout/stderr (fds 1 and 2) to `path`, and so the kernel's too.

    The kernel process inherits them: its start-up chatter and any crash message (a segfault,
    an out-of-memory kill) land in the run's kernel.log instead of the terminal.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        yield
    finally:
        with contextlib.suppress(OSError):  # a full disk: the terminal comes back all the same
            sys.stdout.flush()
            sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


DEFAULT_TIMEOUT = 6 * 3600.0  # seconds per run: generous, a full 2017 run on a CPU fits


class KernelWatch(object):
    """The kernel of one run: records it in the run folder and can kill it (with its children).

    papermill starts the kernel through `manager_class()`, which reports the kernel here once it
    runs; its pid, start time and connection file go to `kernel.pid` so that a rerun can stop a
    kernel left behind by a runner that was killed (`stop_orphan`). After `stop()`, a kernel
    that starts late is killed as it starts.
    """

    def __init__(self, folder, env=None):
        self.folder = folder
        self.process = None
        self.env = dict(env or {})  # set in the kernel's environment (kernel_env)
        self.stopping = False

    def manager_class(self):
        from jupyter_client.manager import AsyncKernelManager

        watch = self

        class WatchedKernelManager(AsyncKernelManager):
            async def start_kernel(self, **kw):
                if watch.env:
                    kw["env"] = dict(kw.get("env") or os.environ, **watch.env)
                await super(WatchedKernelManager, self).start_kernel(**kw)
                watch.started(self)

        return WatchedKernelManager

    def started(self, km):
        self.process = getattr(km.provisioner, "process", None)
        if self.process is not None:
            start_time = process_start_time(self.process.pid)
            if start_time is not None:
                runfiles.write_kernel_pid(
                    self.folder,
                    self.process.pid,
                    os.path.realpath(km.connection_file),  # as the kernel's argv has it
                    start_time,
                )
            if self.stopping:
                self.kill()

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            kill_group(self.process.pid)

    def stop(self):
        """Kills the kernel now, and a kernel still starting as soon as it runs."""
        self.stopping = True
        self.kill()

    def exit_status(self):
        """`exit code N`, `killed by SIGKILL`, or None while it runs (or never ran)."""
        code = self.process.poll() if self.process is not None else None
        if code is None:
            return None
        if code < 0:
            try:
                return "killed by %s" % signal.Signals(-code).name
            except ValueError:
                return "killed by signal %d" % -code
        return "exit code %d" % code

    def forget(self):
        runfiles.remove_kernel_pid(self.folder)


# `kerasbench run --device cpu`: what the kernel's environment gets, so no framework finds the GPU.
CPU_ONLY_ENV = {"CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}


def kernel_env(device):
    """Environment variables a run's kernel gets for `--device` (auto, gpu: none)."""
    return dict(CPU_ONLY_ENV) if device == "cpu" else {}


def kill_group(pid):
    """SIGKILL to a kernel and what it started: jupyter_client starts it in its own session, so
    its pid leads its process group. Only for a process known to be that kernel (its Popen, or
    `our_kernel`): a group is killed only when that process leads it."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def process_start_time(pid):
    """When process `pid` started (field 22 of /proc/<pid>/stat, clock ticks after boot), or None
    where it is gone or there is no /proc. With the pid it names one process: pids are reused."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # after the command name, which may hold spaces
    try:
        return int(fields[19])  # fields 3, 4, ... after the name: field 22 is the 20th
    except (IndexError, ValueError):
        return None


def process_argv(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def our_kernel(pid, connection_file, start_time):
    """True only for the very kernel a runner recorded in kernel.pid: a process of this user,
    started at `start_time`, whose command line is a kerasbench kernel's (`ipykernel_launcher`,
    `-f CONNECTION_FILE`, `kernels.kernel_spec`) with `connection_file`, an absolute path to a
    .json file. Anything else (a reused pid, a crafted kernel.pid naming `/` or another
    process) is never touched."""
    if not (
        os.path.isabs(connection_file)
        and connection_file.endswith(".json")
        and pid > 1
        and pid != os.getpid()
    ):
        return False
    try:
        if os.stat("/proc/%d" % pid).st_uid != os.getuid():
            return False
    except OSError:
        return False
    argv = process_argv(pid) or []
    named = any(flag == "-f" and value == connection_file for flag, value in zip(argv, argv[1:]))
    if not named or "ipykernel_launcher" not in argv:
        return False
    return process_start_time(pid) == start_time


def stop_orphan(folder, wait=10.0):
    """Kills the kernel of an earlier attempt at this run if it still lives.

    A runner killed outright (SIGKILL, a lost terminal) leaves its kernel behind; the kernel
    exits by itself within a second or so (ipykernel polls its parent), but it must not write
    into the folder of the rerun meanwhile. The process is ours only if `our_kernel` says so: its
    start time and its connection file argument are those recorded with its pid.
    """
    recorded = runfiles.read_kernel_pid(folder)
    if recorded is None or not our_kernel(*recorded):
        return False
    pid = recorded[0]
    kill_group(pid)
    deadline = time.time() + wait
    while os.path.exists("/proc/%d" % pid) and time.time() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    break  # a zombie writes nothing
        except OSError:
            break
        time.sleep(0.05)
    return True


def epochs_logged(folder):
    """The whole rows of the run's epochs.csv (0 where there is none)."""
    return (
        len(runfiles.read_epochs(os.path.join(folder, runfiles.EPOCHS_CSV))[1])
        if os.path.exists(os.path.join(folder, runfiles.EPOCHS_CSV))
        else 0
    )


def run_papermill(spec, folder, parameters, watch):
    import papermill

    with output_to(os.path.join(folder, runfiles.KERNEL_LOG)):
        papermill.execute_notebook(
            registry.notebook_path(spec.workload),
            os.path.join(folder, runfiles.NOTEBOOK),
            parameters=parameters,
            kernel_name=kernels.kernel_name(spec.backend),
            cwd=folder,
            progress_bar=False,
            request_save_on_cell_execute=True,
            kernel_manager_class=watch.manager_class(),
        )


def execute(spec, out, data_dir, timeout=None):
    """Runs one notebook in a fresh kernel and writes run.json last; never raises for a failed run.

    `timeout`: seconds for the whole run (default DEFAULT_TIMEOUT); past it the kernel is killed
    and the run recorded `timeout`. A kernel that dies (a segfault, out of memory, os._exit) is
    recorded `failed`. Either way the epochs logged so far stay in epochs.csv and the matrix goes
    on. papermill runs in a thread, so that this thread keeps the clock and a Ctrl-C here stops
    the kernel and the study (KeyboardInterrupt; the run gets no run.json and is rerun later).
    SIGTERM or SIGHUP (`signals.handled`) stops them too, but the run is recorded `failed`,
    "interrupted by SIGTERM", and its record added to the `signals.Terminated` raised on.
    """
    timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    # Absolute paths: papermill changes this process's working folder to the run folder while the
    # kernel runs, and the kernel starts there, so a relative --out or data folder would miss.
    folder = os.path.abspath(plan.run_dir(out, spec))
    data_dir = os.path.abspath(data_dir) if data_dir else data_dir
    parameters = dict(
        spec.params, backend=spec.backend, run_dir=folder, seed=spec.seed, data_dir=data_dir
    )
    started, t0 = runfiles.now(), time.time()
    fresh_folder(spec, folder, parameters, started, t0)
    watch = KernelWatch(folder, env=kernel_env(spec.device))
    e, timed_out = run_watched(spec, folder, parameters, watch, timeout, started, t0)
    status, error, full = ended_as(e, timed_out, folder, timeout, watch)
    kernel_info = runfiles.read_json(os.path.join(folder, runfiles.KERNEL_JSON))
    kernel_info = kernel_info if isinstance(kernel_info, dict) else {}
    kernel_code = kernel_info.get("code") if isinstance(kernel_info.get("code"), dict) else {}
    machine = environment.device()
    status, error = judged(spec, folder, status, error, kernel_info, machine)
    record = run_record(
        spec,
        parameters,
        status,
        error,
        started,
        time.time() - t0,
        kernel_info=kernel_info,
        device=machine,
        git_commit=environment.git_commit(registry.ROOT),
        code_path=kernel_code.get("path"),
        host=socket.gethostname(),
    )
    try:
        runfiles.write_json_atomic(os.path.join(folder, runfiles.RUN_JSON), record)
    except OSError as write_error:
        if not disk_full(write_error):
            raise
        # No run.json: the run counts as unfinished, and a rerun trains it again.
        full = True
        record.update(
            status="failed", error="%s (writing %s)" % (no_space(folder), runfiles.RUN_JSON)
        )
    if full:
        raise DiskFull(record)
    return record


def fresh_folder(spec, folder, parameters, started, t0):
    """An empty run folder: the runner decided this folder is to be trained again (unfinished,
    failed, damaged, or --force), so a rerun starts clean, no rows of an earlier attempt survive
    (and no kernel of one: stop_orphan). A full disk is DiskFull."""
    try:
        if os.path.isdir(folder):
            stop_orphan(folder)
            shutil.rmtree(folder)
        os.makedirs(folder)
    except OSError as e:
        if not disk_full(e):
            raise
        raise DiskFull(
            run_record(
                spec,
                parameters,
                "failed",
                "%s (creating %s)" % (no_space(folder), folder),
                started,
                time.time() - t0,
                host=socket.gethostname(),
            )
        )


def run_watched(spec, folder, parameters, watch, timeout, started, t0):
    """(what papermill raised or None, whether the run went past `timeout`): papermill in a
    thread, this one keeping the clock; past the timeout the kernel is killed until papermill
    gives up. Ctrl-C, SIGTERM or SIGHUP here stop the kernel and are raised on, SIGTERM and
    SIGHUP with the run's `interrupted` record added to the signals.Terminated."""
    import threading

    outcome = {}
    ended = threading.Event()  # set once papermill is over and fds 1 and 2 are back

    def target():
        try:
            run_papermill(spec, folder, parameters, watch)
        except BaseException as e:  # handed to the waiting thread
            outcome["error"] = e
        finally:
            ended.set()

    worker = threading.Thread(target=target, name="kerasbench-run", daemon=True)
    timed_out = False
    try:
        worker.start()
        deadline = time.time() + timeout
        while worker.is_alive() and time.time() < deadline:  # short waits: Ctrl-C is seen at once
            worker.join(max(min(1.0, deadline - time.time()), 0.0))
        while worker.is_alive():  # past the timeout: kill the kernel until papermill gives up
            timed_out = True
            watch.kill()
            worker.join(1.0)
    except BaseException as stop:  # Ctrl-C, SIGTERM, SIGHUP: stop the kernel, then the study
        watch.stop()
        ended.wait(10.0)  # not worker.join(): after a join a signal interrupted, it returns at once
        if isinstance(stop, signals.Terminated):
            # Recorded failed (Ctrl-C leaves no run.json): the run was stopped, not unfinished.
            stop.records.append(
                interrupted(spec, folder, parameters, stop.signum, started, time.time() - t0)
            )
        watch.forget()
        raise
    watch.forget()
    return outcome.get("error"), timed_out


def ended_as(e, timed_out, folder, timeout, watch):
    """(status, error, whether the disk is full) of a run from how papermill ended: `e`, what it
    raised (None: nothing), and whether the run went past its timeout."""
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    epochs = epochs_logged(folder)
    logged = "%d epoch%s logged" % (epochs, "" if epochs == 1 else "s")
    # A full disk shows as an OSError here, as the kernel's OSError, or as a kernel that died
    # writing its output: the filesystem has no block left.
    if e is not None and (disk_full(e) or no_block_left(folder)):
        remove_torn_notebook(folder)
        return "failed", "%s (%s after %s)" % (no_space(folder), one_line(e, 200), logged), True
    if timed_out:
        error = "exceeded --timeout %gs: the kernel was killed after %s" % (timeout, logged)
        return "timeout", error, False
    if e is None:
        return "ok", None, False
    if isinstance(e, PapermillExecutionError):
        return "failed", "%s: %s" % (e.ename, cause_line(e.evalue)), False
    if isinstance(e, DeadKernelError) or "kernel died" in str(e).lower():
        # (nbclient: "Kernel died" mid-cell, "Kernel died before replying to kernel_info")
        error = "the kernel died (%s) after %s; its output is in kernel.log" % (
            watch.exit_status() or "exit status unknown",
            logged,
        )
        return "failed", error, False
    if isinstance(e, Exception):  # a kernel that would not start, a broken notebook
        timeout_like = "timeout" in type(e).__name__.lower() or "timed out" in str(e).lower()
        return (
            "timeout" if timeout_like else "failed",
            "%s: %s" % (type(e).__name__, one_line(e)),
            False,
        )
    raise e  # KeyboardInterrupt or SystemExit inside papermill


def judged(spec, folder, status, error, kernel_info, machine):
    """(status, error) of a run after what its kernel recorded (kernel.json): a NaN loss, no
    epoch logged, another checkout's code, or a framework that trained on the CPU of a machine
    with a GPU (`machine`: environment.device())."""
    kernel_code = kernel_info.get("code") if isinstance(kernel_info.get("code"), dict) else {}
    if status == "ok" and kernel_info.get("nan_loss"):
        status, error = "nan", "the loss became NaN; training stopped early"
    elif status == "ok" and not epochs_logged(folder):
        # papermill takes a SystemExit(0) for a notebook that ended early on purpose.
        status = "failed"
        error = "the notebook ended without an error but logged no epoch (a sys.exit(0)?)"
    other = other_checkout(kernel_code.get("path"))
    if other:
        # A stale kerasbench-<backend> spec earlier on Jupyter's path ran another checkout's
        # code: its numbers are not this code's, whatever run.json's commit would say.
        status, error = "failed", "the kernel %s %s" % (kernels.kernel_name(spec.backend), other)
    fallback = device_failure(kernel_info, machine, spec.device)
    if status == "ok" and fallback:
        # A framework that did not find the GPU (a CUDA plugin that did not load, a CPU build)
        # trains on the CPU without a word: its times are not this machine's GPU's.
        status, error = "failed", fallback
    return status, error


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def device_failure(record, machine, requested):
    """Why a run (its kernel.json or run.json record) counts as failed for where it trained, or
    None: it trained on the CPU (runfiles.trained_on: the kernel's own record, or an older
    record's JAX devices) on a machine with a GPU (`machine`: environment.device()) although
    `requested` (--device) was not cpu."""
    return runfiles.cpu_fallback(runfiles.trained_on(record), machine, requested)


def interrupted(spec, folder, parameters, signum, started, wall_seconds):
    """The record of a run stopped by SIGTERM or SIGHUP: `failed`, "interrupted by SIGTERM after
    N epochs logged", written to run.json where the disk allows."""
    record = run_record(
        spec,
        parameters,
        "failed",
        signals.interrupted(signum, epochs_logged(folder)),
        started,
        wall_seconds,
        host=socket.gethostname(),
    )
    with contextlib.suppress(OSError):
        runfiles.write_json_atomic(os.path.join(folder, runfiles.RUN_JSON), record)
    return record


def run_record(spec, params, status, error, started_at, wall_seconds, **details):
    """The run.json record of a planned run: its identity from the spec, the rest as given
    (runfiles.record's keyword details: kernel_info, device, git_commit, code_path, host)."""
    details.setdefault("device_requested", spec.device)
    details.setdefault("timing_block", spec.timing)
    return runfiles.record(
        spec.workload,
        spec.backend,
        spec.profile,
        spec.repeat,
        spec.seed,
        spec.config,
        params,
        status,
        error,
        started_at,
        wall_seconds,
        **details,
    )


class DiskFull(Exception):
    """A run stopped by a full disk: `record` is its (failed) record, written to run.json where
    space allowed. The study stops: every next run would fail the same way."""

    def __init__(self, record):
        super(DiskFull, self).__init__(record["error"])
        self.record = record


def disk_full(error):
    """True for an OSError ENOSPC or EDQUOT here, or a kernel's error that reports one."""
    if isinstance(error, OSError) and error.errno in DISK_FULL:
        return True
    text = "%s %s" % (getattr(error, "evalue", ""), error)
    return "No space left on device" in text or "Disk quota exceeded" in text


def no_block_left(folder):
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def no_space(folder):
    """'no space left on /mnt/runs': the mount point the run folder lives on."""
    path = os.path.abspath(folder)
    while not os.path.ismount(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return "no space left on %s" % path


def remove_torn_notebook(folder):
    """A notebook papermill could not finish writing is not JSON: it goes (epochs.csv stays)."""
    path = os.path.join(folder, runfiles.NOTEBOOK)
    if os.path.exists(path) and runfiles.read_json(path) is None:
        with contextlib.suppress(OSError):
            os.remove(path)


def other_checkout(code_path):
    """Why a kernel that imported kerasbench from `code_path` runs another checkout (None when
    it runs this one, or said nothing: a kernel of older code)."""
    if not code_path or os.path.realpath(code_path) == os.path.realpath(kernels.LIB_DIR):
        return None
    return (
        "imported kerasbench from %s, not from this checkout's %s: reinstall the kernels "
        "with `kerasbench kernels install`" % (code_path, kernels.LIB_DIR)
    )
