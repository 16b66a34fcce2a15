"""The study's matrix: plan (workload x backend x repeat), check, then one papermill execution per
run, each in a fresh kernel, into `<out>/runs/<workload>/<backend>/<repeat>/`. Host side: this
module never imports Keras (the kernel picks the backend; the runner holds no GPU memory).
"""
import collections
import contextlib
import datetime
import json
import os
import shutil
import signal
import socket
import sys
import time

from kerasbench import __version__, datasets, environment, kernels, params, registry
from kerasbench.errors import UserError

RUN_JSON = "run.json"
SCHEMA = 1

RunSpec = collections.namedtuple(
    "RunSpec", ["workload", "backend", "repeat", "seed", "profile", "params", "config"])

DEFAULT_CONFIG = "default"


def parse_list(text, allowed, what):
    """`all` or a comma-separated list of known names, in the order given."""
    if text in (None, "", "all"):
        return list(allowed)
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in allowed:
            raise UserError("unknown %s %r (%ss: %s)" % (what, name, what, ", ".join(allowed)))
    if len(set(names)) != len(names):
        raise UserError("%s listed twice in %r" % (what, text))
    return names


def check_config(config):
    """A configuration label names a folder: letters, digits, '_' and '-', not only digits."""
    ok = config and all(c.isalnum() or c in "_-" for c in config) and not config.isdigit()
    if not ok:
        raise UserError("--config %r: use letters, digits, '_' and '-' (e.g. compiled)" % config)
    return config


def plan(profile, workloads, backends, repeats=1, base_seed=0, overrides=None,
         allow_generated=False, params_dir=None, config=DEFAULT_CONFIG):
    """The runs in execution order; every parameter resolved and validated first.

    Each repeat visits every backend, and the backend order rotates from one repeat to the next
    (tf, jax, torch; then jax, torch, tf) so drift on a shared machine spreads over backends.
    Every backend gets the same seed within a repeat: same initial data order for the same seed.
    `config` is one configuration label or several ("default,tuned", a list): a label named in
    params/configs.yaml adds its per-backend settings; --set overrides win over both.
    """
    if repeats < 1:
        raise UserError("--repeats must be at least 1, got %d" % repeats)
    labels = config.split(",") if isinstance(config, str) else list(config)
    labels = [check_config(label.strip()) for label in labels]
    if len(set(labels)) != len(labels):
        raise UserError("--config lists a configuration twice: %s" % ",".join(labels))
    configs = params.read_configs(params_dir)
    resolved = {}
    for workload in workloads:
        path = os.path.join(params_dir, workload + ".yaml") if params_dir else None
        for label in labels:
            for backend in backends:
                given = params.config_settings(configs, label, backend)
                given.update(overrides or {})
                values = params.resolve(workload, profile, path=path, overrides=given)
                if allow_generated:
                    values["allow_generated"] = True
                resolved[workload, label, backend] = values
    runs = []
    for repeat in range(repeats):
        order = backends[repeat % len(backends):] + backends[:repeat % len(backends)]
        for workload in workloads:
            for label in labels:
                for backend in order:
                    runs.append(RunSpec(workload, backend, repeat, base_seed + repeat, profile,
                                        dict(resolved[workload, label, backend]), label))
    return runs


def run_dir(out, spec):
    """runs/<workload>/<backend>/<repeat>, or .../<config>-<repeat> for a named configuration."""
    leaf = str(spec.repeat) if spec.config == DEFAULT_CONFIG else "%s-%d" % (spec.config,
                                                                                spec.repeat)
    return os.path.join(out, "runs", spec.workload, spec.backend, leaf)


def plan_json(spec):
    return json.dumps({"workload": spec.workload, "backend": spec.backend, "repeat": spec.repeat,
                       "seed": spec.seed, "profile": spec.profile, "config": spec.config,
                       "params": spec.params},
                      sort_keys=True)


def check_output_dir(out):
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".kerasbench-write-test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise UserError("cannot write to output folder %s: %s" % (out, e.strerror or e))


def check_data_dir(folder, given=True):
    """A data folder named by --data-dir or $KERASBENCH_DATA must exist: a typo there would
    otherwise turn into downloads, or generated data, without a word. (Keras' own cache folder
    may be missing on a fresh machine: the downloads create it.)"""
    if given and not os.path.isdir(folder):
        raise UserError("data folder not found: %s (--data-dir or $KERASBENCH_DATA; create it to "
                        "download into it)" % folder)


def check_data(runs, folder, download=True, warn=print):
    """Every dataset the plan needs is present and verified, or fetched now, before any training.

    Where it cannot be had, a run that may use generated data goes on with one warning; a run
    that may not (the `full` profile) stops the study with a one-line error. A corrupt file is
    an error in every profile.
    """
    needed = collections.OrderedDict()
    for spec in runs:
        for dataset in registry.WORKLOADS[spec.workload].datasets:
            needed.setdefault(dataset, []).append(spec)
    for dataset, specs in needed.items():
        try:
            datasets.ensure(dataset, folder, download=download)
        except datasets.DataError as e:
            if e.problem == "corrupt":
                # A damaged file is the user's to fix, in every profile: generated data in its
                # place would hide it.
                raise UserError(str(e))
            strict = sorted({s.workload for s in specs if not s.params["allow_generated"]})
            if strict:
                raise UserError("%s (needed by %s in the %s profile)"
                                % (e, ", ".join(strict), specs[0].profile))
            warn("warning: %s; %s will train on generated data" % (
                e, ", ".join(sorted({s.workload for s in specs}))))


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def is_done(out, spec):
    """A run is done when its run.json says ok and it ran this very plan (profile, seed, params):
    a finished run of another profile or parameters in the same folder is rerun, not reused."""
    record = read_json(os.path.join(run_dir(out, spec), RUN_JSON))
    if not record or record.get("status") != "ok":
        return False
    ran = record.get("params") or {}
    same_params = all(ran.get(k) == v for k, v in spec.params.items())
    return (same_params and record.get("profile") == spec.profile
            and record.get("seed") == spec.seed and record.get("config", DEFAULT_CONFIG) == spec.config)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _one_line(text, limit=500):
    lines = [l.strip() for l in str(text).splitlines() if l.strip()]
    line = lines[-1] if lines else str(text)
    return line if len(line) <= limit else line[:limit - 3] + "..."


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
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


DEFAULT_TIMEOUT = 6 * 3600.0  # seconds per run: generous, a full 2017 run on a CPU fits
KERNEL_PID = "kernel.pid"  # while a run's kernel lives: its pid and connection file


class KernelWatch(object):
    """The kernel of one run: records it in the run folder and can kill it (with its children).

    papermill starts the kernel through `manager_class()`, which reports the kernel here once it
    runs; its pid and connection file go to `kernel.pid` so that a rerun can stop a kernel left
    behind by a runner that was killed (`stop_orphan`).
    """

    def __init__(self, folder):
        self.folder = folder
        self.process = None

    def manager_class(self):
        from jupyter_client.manager import AsyncKernelManager

        watch = self

        class WatchedKernelManager(AsyncKernelManager):
            async def start_kernel(self, **kw):
                await super(WatchedKernelManager, self).start_kernel(**kw)
                watch.started(self)

        return WatchedKernelManager

    def started(self, km):
        self.process = getattr(km.provisioner, "process", None)
        if self.process is not None:
            with open(os.path.join(self.folder, KERNEL_PID), "w") as f:
                json.dump({"pid": self.process.pid, "connection_file": km.connection_file}, f)

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            _kill_group(self.process.pid)

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
        with contextlib.suppress(OSError):
            os.remove(os.path.join(self.folder, KERNEL_PID))


def _kill_group(pid):
    """SIGKILL to a kernel and what it started: jupyter_client starts it in its own session."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop_orphan(folder, wait=10.0):
    """Kills the kernel of an earlier attempt at this run if it still lives.

    A runner killed outright (SIGKILL, a lost terminal) leaves its kernel behind; the kernel
    exits by itself within a second or so (ipykernel polls its parent), but it must not write
    into the folder of the rerun meanwhile. The process is ours only if its command line names
    the connection file recorded with its pid (pids are reused).
    """
    record = read_json(os.path.join(folder, KERNEL_PID))
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return False
    pid, connection_file = record["pid"], str(record.get("connection_file") or "")
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().decode("utf-8", "replace")
    except OSError:
        return False  # gone (or no /proc: then it has long exited by itself)
    if not connection_file or connection_file not in cmdline:
        return False
    _kill_group(pid)
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


def _epochs_logged(folder):
    try:
        with open(os.path.join(folder, "epochs.csv")) as f:
            return max(sum(1 for line in f if line.strip()) - 1, 0)
    except OSError:
        return 0


def _papermill(spec, folder, parameters, watch):
    import papermill

    with output_to(os.path.join(folder, "kernel.log")):
        papermill.execute_notebook(
            registry.notebook_path(spec.workload), os.path.join(folder, "notebook.ipynb"),
            parameters=parameters, kernel_name=kernels.kernel_name(spec.backend), cwd=folder,
            progress_bar=False, request_save_on_cell_execute=True,
            kernel_manager_class=watch.manager_class())


def execute(spec, out, data_dir, timeout=None):
    """Runs one notebook in a fresh kernel and writes run.json last; never raises for a failed run.

    `timeout`: seconds for the whole run (default DEFAULT_TIMEOUT); past it the kernel is killed
    and the run recorded `timeout`. A kernel that dies (a segfault, out of memory, os._exit) is
    recorded `failed`. Either way the epochs logged so far stay in epochs.csv and the matrix goes
    on. papermill runs in a thread, so that this thread keeps the clock and a Ctrl-C here stops
    the kernel and the study (KeyboardInterrupt; the run gets no run.json and is rerun later).
    """
    import threading

    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    # Absolute paths: papermill changes this process's working folder to the run folder while the
    # kernel runs, and the kernel starts there, so a relative --out or data folder would miss.
    folder = os.path.abspath(run_dir(out, spec))
    data_dir = os.path.abspath(data_dir) if data_dir else data_dir
    if os.path.isdir(folder):
        stop_orphan(folder)
        shutil.rmtree(folder)  # a rerun starts clean: no rows of an earlier attempt survive
    os.makedirs(folder)
    parameters = dict(spec.params, backend=spec.backend, run_dir=folder, seed=spec.seed,
                      data_dir=data_dir)
    started, t0 = _now(), time.time()
    watch = KernelWatch(folder)
    outcome = {}

    def target():
        try:
            _papermill(spec, folder, parameters, watch)
        except BaseException as e:  # handed to the waiting thread
            outcome["error"] = e

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
    except BaseException:  # Ctrl-C (KeyboardInterrupt): stop this run's kernel, then the study
        watch.kill()
        worker.join(10.0)
        raise
    watch.forget()
    status, error, e = "ok", None, outcome.get("error")
    epochs = _epochs_logged(folder)
    logged = "%d epoch%s logged" % (epochs, "" if epochs == 1 else "s")
    if timed_out:
        status = "timeout"
        error = "exceeded --timeout %gs: the kernel was killed after %s" % (timeout, logged)
    elif e is None:
        pass
    elif isinstance(e, PapermillExecutionError):
        status, error = "failed", "%s: %s" % (e.ename, _one_line(e.evalue))
    elif isinstance(e, DeadKernelError) or "kernel died" in str(e).lower():
        # (nbclient: "Kernel died" mid-cell, "Kernel died before replying to kernel_info")
        status = "failed"
        error = "the kernel died (%s) after %s; its output is in kernel.log" % (
            watch.exit_status() or "exit status unknown", logged)
    elif isinstance(e, Exception):  # a kernel that would not start, a broken notebook
        status = "timeout" if "timeout" in type(e).__name__.lower() or \
            "timed out" in str(e).lower() else "failed"
        error = "%s: %s" % (type(e).__name__, _one_line(e))
    else:
        raise e  # KeyboardInterrupt or SystemExit inside papermill
    kernel_info = read_json(os.path.join(folder, "kernel.json")) or {}
    if status == "ok" and kernel_info.get("nan_loss"):
        status, error = "nan", "the loss became NaN; training stopped early"
    record = {
        "schema": SCHEMA,
        "workload": spec.workload, "backend": spec.backend, "profile": spec.profile,
        "repeat": spec.repeat, "seed": spec.seed, "config": spec.config,
        "params": parameters,
        "data": kernel_info.get("data"),
        "versions": kernel_info.get("versions"),
        "device": kernel_info.get("device") or environment.device(),
        "backend_settings": kernel_info.get("backend_settings"),
        "model_parameters": kernel_info.get("parameters"),
        "sample": kernel_info.get("sample"),
        "kerasbench": {"version": __version__, "git_commit": environment.git_commit(registry.ROOT)},
        "host": socket.gethostname(),
        "started_at": started, "ended_at": _now(), "wall_seconds": round(time.time() - t0, 3),
        "status": status, "error": error,
    }
    write_json_atomic(os.path.join(folder, RUN_JSON), record)
    return record


def summary_line(record, index, total):
    config = record.get("config") or DEFAULT_CONFIG
    line = "[%d/%d] %s %s%s #%d: %s in %.1fs" % (
        index, total, record["workload"], record["backend"],
        "" if config == DEFAULT_CONFIG else " " + config, record["repeat"], record["status"],
        record["wall_seconds"])
    if record.get("data"):
        line += " (%s data)" % record["data"]["source"]
    if record.get("error"):
        line += " - " + record["error"]
    return line


def run_matrix(runs, out, data_dir, timeout=None, force=False, stream=None, executor=None):
    """Executes the plan with a progress bar; finished runs (status ok) are skipped unless force.

    `executor` (kerasbench.executors) says where the runs execute: by default one after another
    in this process. Whatever runs them, each finished run prints one status line here, in the
    order they finish; the records come back in plan order.
    """
    from tqdm import tqdm

    from kerasbench import executors

    if executor is None:
        executor = executors.Sequential()
    if stream is None:
        # A handle on the terminal that survives output_to()'s redirection of fd 2.
        stream = os.fdopen(os.dup(sys.stderr.fileno()), "w")

    records = [None] * len(runs)
    todo = []
    finished = 0
    bar = tqdm(total=len(runs), desc="study", unit="run", file=stream, dynamic_ncols=True)
    for position, spec in enumerate(runs):
        if not force and is_done(out, spec):
            finished += 1
            records[position] = read_json(os.path.join(run_dir(out, spec), RUN_JSON))
            bar.write("[%d/%d] %s %s #%d: done earlier, skipped" % (
                finished, len(runs), spec.workload, spec.backend, spec.repeat), file=stream)
            bar.update(1)
        else:
            todo.append((position, spec))
    positions = {id(spec): position for position, spec in todo}

    def started(spec):
        bar.set_postfix_str("%s/%s/%d" % (spec.workload, spec.backend, spec.repeat))

    for spec, record in executor.run([spec for _, spec in todo], out, data_dir, timeout,
                                     started=started):
        finished += 1
        records[positions[id(spec)]] = record
        bar.write(summary_line(record, finished, len(runs)), file=stream)
        bar.update(1)
    bar.close()
    return records
