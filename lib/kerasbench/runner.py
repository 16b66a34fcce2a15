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
    """
    if repeats < 1:
        raise UserError("--repeats must be at least 1, got %d" % repeats)
    check_config(config)
    resolved = {}
    for workload in workloads:
        path = os.path.join(params_dir, workload + ".yaml") if params_dir else None
        values = params.resolve(workload, profile, path=path, overrides=overrides)
        if allow_generated:
            values["allow_generated"] = True
        resolved[workload] = values
    runs = []
    for repeat in range(repeats):
        order = backends[repeat % len(backends):] + backends[:repeat % len(backends)]
        for workload in workloads:
            for backend in order:
                runs.append(RunSpec(workload, backend, repeat, base_seed + repeat, profile,
                                    dict(resolved[workload]), config))
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


def execute(spec, out, data_dir, timeout=None):
    """Runs one notebook in a fresh kernel and writes run.json last; never raises for a failed run."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    folder = run_dir(out, spec)
    if os.path.isdir(folder):
        shutil.rmtree(folder)  # a rerun starts clean: no rows of an earlier attempt survive
    os.makedirs(folder)
    parameters = dict(spec.params, backend=spec.backend, run_dir=folder, seed=spec.seed,
                      data_dir=data_dir)
    started, t0 = _now(), time.time()
    status, error = "ok", None
    try:
        with output_to(os.path.join(folder, "kernel.log")):
            papermill.execute_notebook(
                registry.notebook_path(spec.workload), os.path.join(folder, "notebook.ipynb"),
                parameters=parameters, kernel_name=kernels.kernel_name(spec.backend), cwd=folder,
                progress_bar=False, execution_timeout=timeout, request_save_on_cell_execute=True)
    except PapermillExecutionError as e:
        status, error = "failed", "%s: %s" % (e.ename, _one_line(e.evalue))
    except Exception as e:  # a dead kernel or a timeout: recorded, the matrix goes on
        status = "timeout" if "timeout" in type(e).__name__.lower() or \
            "timed out" in str(e).lower() else "failed"
        error = "%s: %s" % (type(e).__name__, _one_line(e))
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
    line = "[%d/%d] %s %s #%d: %s in %.1fs" % (
        index, total, record["workload"], record["backend"], record["repeat"], record["status"],
        record["wall_seconds"])
    if record.get("data"):
        line += " (%s data)" % record["data"]["source"]
    if record.get("error"):
        line += " - " + record["error"]
    return line


def run_matrix(runs, out, data_dir, timeout=None, force=False, stream=None):
    """Executes the plan with a progress bar; finished runs (status ok) are skipped unless force."""
    from tqdm import tqdm

    if stream is None:
        # A handle on the terminal that survives output_to()'s redirection of fd 2.
        stream = os.fdopen(os.dup(sys.stderr.fileno()), "w")

    records = []
    bar = tqdm(total=len(runs), desc="study", unit="run", file=stream, dynamic_ncols=True)
    for index, spec in enumerate(runs, 1):
        bar.set_postfix_str("%s/%s/%d" % (spec.workload, spec.backend, spec.repeat))
        if not force and is_done(out, spec):
            record = read_json(os.path.join(run_dir(out, spec), RUN_JSON))
            bar.write("[%d/%d] %s %s #%d: done earlier, skipped" % (
                index, len(runs), spec.workload, spec.backend, spec.repeat), file=stream)
        else:
            record = execute(spec, out, data_dir, timeout)
            bar.write(summary_line(record, index, len(runs)), file=stream)
        records.append(record)
        bar.update(1)
    bar.close()
    return records
