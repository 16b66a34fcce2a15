"""The run folder: the one contract between the host and a kernel, and its only owner.

Everything that writes or reads a run folder goes through here: the kernel (`kernel.epoch_log`,
`kernel.session`), the runner (`study.execute`, `study.executors`), the native loops, the harness,
the report's loader and the tests. Ground floor: standard library only, Python 3.6 syntax (the
CNTK kernel imports it).

    <out>/runs/<workload>/<backend>/<repeat>/        (<config>-<repeat> for a named configuration)
        epochs.csv     one row per epoch, flushed and synced as it ends (`EpochWriter`)
        kernel.json    what the kernel recorded (atomic, `write_json_atomic`)
        sample.txt     text models: generated text
        kernel.log     the kernel's fds 1 and 2
        kernel.pid     while a run's kernel lives: its pid, start time and connection file
        notebook.ipynb the executed notebook
        run.json       written last, atomically: the run is finished when it exists (`record`)

`read_run(folder)` reads a folder back and says what is wrong with it (a torn last row, a missing
file, a wrong type, run.json not an object), so that neither resume nor the report trusts a
damaged run. run.json schema 1 (before the kernel recorded its code path) is still read.

Two parts live in modules of their own, and are offered here too: the path rules and a run's
identity (`runpaths`: run_folder, path_identity, ...), and where a run trained (`trainedon`:
trained_on, cpu_fallback, ...).
"""

import collections
import csv
import datetime
import io
import json
import math
import os
import tempfile

from kerasbench import __version__
from kerasbench.runpaths import (  # noqa: F401 (runfiles offers the path rules too)
    DEFAULT_CONFIG,
    RUNS,
    identity_problem,
    is_config_name,
    parse_run_name,
    path_identity,
    run_folder,
    run_name,
)
from kerasbench.trainedon import (  # noqa: F401 (and where a run trained)
    DEVICE_CHOICES,
    cpu_fallback,
    device_kind,
    trained_on,
)

SCHEMA = 2  # what this code writes: schema 1 plus kerasbench.code_path (the code the kernel ran)
READABLE_SCHEMAS = (1, 2)

RUN_JSON = "run.json"
KERNEL_JSON = "kernel.json"
EPOCHS_CSV = "epochs.csv"
SAMPLE_TXT = "sample.txt"
KERNEL_LOG = "kernel.log"
KERNEL_PID = "kernel.pid"
NOTEBOOK = "notebook.ipynb"
FILES = (RUN_JSON, EPOCHS_CSV, KERNEL_JSON, NOTEBOOK, SAMPLE_TXT)  # any of them: a run folder

STATUSES = ("ok", "failed", "timeout", "nan")

TORN = EPOCHS_CSV + ": the last row is torn"

# epochs.csv: these leading columns, always, in this order; then any other metric, sorted by name.
COLUMNS = [
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


def now():
    """The time now, UTC, ISO 8601: how run.json and kernel.json write times."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


# --- JSON, atomically -----------------------------------------------------------------------------


def read_json(path):
    """The JSON in `path`, or None where it is missing or not JSON (lenient: kernel.pid)."""
    try:
        with io.open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json_atomic(path, data):
    """Writes `data` to a temporary file beside `path`, synced, then renames it into place.

    Whatever fails (a full disk: OSError ENOSPC), `path` keeps its old content or stays absent,
    and no temporary file is left behind."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


# --- kernel.pid --------------------------------------------------------------------------------


def write_kernel_pid(folder, pid, connection_file, start_time):
    """kernel.pid, while the run's kernel lives: its pid, its start time (field 22 of
    /proc/<pid>/stat, clock ticks after boot) and its connection file, so that a rerun can stop
    that very kernel if a killed runner left it behind, and no other process (pids are reused)."""
    write_json_atomic(
        os.path.join(folder, KERNEL_PID),
        {"pid": pid, "connection_file": connection_file, "start_time": start_time},
    )


def read_kernel_pid(folder):
    """(pid, connection_file, start_time) from kernel.pid, or None where there is none, or it is
    torn, of the wrong types, or from before start times were recorded: untrusted, never acted
    on (such a kernel exits by itself once its runner is gone)."""
    data = read_json(os.path.join(folder, KERNEL_PID))
    if not isinstance(data, dict):
        return None
    pid, connection_file, start_time = (
        data.get("pid"),
        data.get("connection_file"),
        data.get("start_time"),
    )
    for value, kind in ((pid, int), (connection_file, str), (start_time, int)):
        if isinstance(value, bool) or not isinstance(value, kind):
            return None
    if pid <= 1 or start_time < 0 or not connection_file:
        return None
    return pid, connection_file, start_time


def remove_kernel_pid(folder):
    _remove(os.path.join(folder, KERNEL_PID))


# --- epochs.csv --------------------------------------------------------------------------------


def cell(value):
    """One epochs.csv cell: empty for None, repr() for a finite float (round-trips), nan/inf as
    words; NumPy scalars are numbers too."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        value = float(value)
    except (TypeError, ValueError):
        return value
    return repr(value) if math.isfinite(value) else str(value)


class EpochWriter(object):
    """Appends rows to epochs.csv, each flushed and synced as written, so a run that dies keeps
    every finished epoch. The header is fixed when the first row arrives: COLUMNS, then the
    row's other keys sorted."""

    def __init__(self, path):
        self.path = path
        self.fieldnames = None
        self._file = None

    def write(self, row):
        if self.fieldnames is None:
            self.fieldnames = COLUMNS + sorted(k for k in row if k not in COLUMNS)
            new_file = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
            self._file = open(self.path, "a", newline="")
            self._writer = csv.DictWriter(
                self._file, fieldnames=self.fieldnames, extrasaction="ignore", restval=""
            )
            if new_file:
                self._writer.writeheader()
        self._writer.writerow(dict((k, cell(v)) for k, v in row.items()))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


def read_epochs(path):
    """(columns, rows, problems) of an epochs.csv: rows are {column: float or None}.

    A row that is not whole is left out and named in `problems`: a torn last line (no line end:
    the writer died mid-row), a row with too few or too many cells, a cell that is not a number,
    epochs not numbered 0, 1, 2, ... An empty file (killed before its first epoch ended) is no
    problem and has no rows."""
    try:
        with io.open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except UnicodeDecodeError:
        return [], [], ["%s is not UTF-8 text" % EPOCHS_CSV]
    except (IOError, OSError) as e:
        return [], [], ["%s cannot be read (%s)" % (EPOCHS_CSV, e.strerror or e)]
    if not text:
        return [], [], []
    problems = []
    lines = text.splitlines(True)
    if not lines[-1].endswith(("\n", "\r")):
        problems.append("%s (no line end): %r" % (TORN, lines[-1][:60]))
        lines = lines[:-1]
    table = list(csv.reader(lines))
    if not table:
        return [], [], problems
    columns = table[0]
    missing = [c for c in ("epoch", "epoch_seconds") if c not in columns]
    if missing:
        return columns, [], problems + ["%s: no %s column" % (EPOCHS_CSV, " or ".join(missing))]
    rows = []
    for number, cells in enumerate(table[1:], start=1):
        if len(cells) != len(columns):
            problems.append(
                "%s row %d: %d cells, the header has %d"
                % (EPOCHS_CSV, number, len(cells), len(columns))
            )
            continue
        try:  # every cell a number or empty: the whole row at once
            values = [float(v) if v else None for v in cells] if "" in cells else map(float, cells)
            rows.append(dict(zip(columns, values)))
            continue
        except ValueError:
            pass
        for column, text_value in zip(columns, cells):  # which cell is not
            try:
                if text_value:
                    float(text_value)
            except ValueError:
                problems.append(
                    "%s row %d: %s is not a number: %r"
                    % (EPOCHS_CSV, number, column, text_value[:40])
                )
                break
    epochs = [row["epoch"] for row in rows]
    if epochs != [float(i) for i in range(len(epochs))]:
        problems.append(
            "%s: the epochs are not numbered 0, 1, 2, ... (%s)"
            % (EPOCHS_CSV, ", ".join("%g" % e if e is not None else "?" for e in epochs[:8]))
        )
    return columns, rows, problems


# --- run.json ----------------------------------------------------------------------------------


def record(
    workload,
    backend,
    profile,
    repeat,
    seed,
    config,
    params,
    status,
    error,
    started_at,
    wall_seconds,
    kernel_info=None,
    device=None,
    git_commit=None,
    code_path=None,
    host=None,
    device_requested=None,
    timing_block=False,
):
    """The run.json of one run (docs/design.md). `kernel_info` is what the kernel recorded in
    kernel.json (data, versions, device, backend settings, parameter count, sample, code, where
    the model trained). `device_requested`: `kerasbench run --device` (auto, gpu or cpu).
    `timing_block`: a run of a timing block (fewer epochs than its profile's; its accuracy is
    not reported)."""
    info = kernel_info if isinstance(kernel_info, dict) else {}
    return {
        "schema": SCHEMA,
        "workload": workload,
        "backend": backend,
        "profile": profile,
        "repeat": repeat,
        "seed": seed,
        "config": config,
        "params": params,
        "data": info.get("data"),
        "versions": info.get("versions"),
        "device": info.get("device") or device,
        "backend_settings": info.get("backend_settings"),
        "trained_on": info.get("trained_on"),
        "gpu_libraries": info.get("gpu_libraries"),
        "device_requested": device_requested,
        "timing_block": bool(timing_block),
        "model_parameters": info.get("parameters"),
        "metrics": info.get("metrics"),
        "sample": info.get("sample"),
        "machine_load": info.get("machine_load"),
        "kerasbench": {"version": __version__, "git_commit": git_commit, "code_path": code_path},
        "host": host,
        "started_at": started_at,
        "ended_at": now(),
        "wall_seconds": round(wall_seconds, 3),
        "status": status,
        "error": error,
    }


# --- How busy the machine was -------------------------------------------------------------------


def load_during(record):
    """How busy the machine was while a run trained, from its run.json or kernel.json
    `machine_load` ({"start": environment.machine_load(), "end": ...}, written by kernel.session):
    {"load_1min": the mean of the 1-minute load averages recorded, "cpus": the CPU count}, or
    None where the record has none (runs of older code)."""
    found = record.get("machine_load") if isinstance(record, dict) else None
    found = found if isinstance(found, dict) else {}
    moments = [m for m in found.values() if isinstance(m, dict)]
    loads = [
        float(m["load_1min"])
        for m in moments
        if type(m.get("load_1min")) in _NUMBER and math.isfinite(m["load_1min"])
    ]
    cpus = [m["cpus"] for m in moments if type(m.get("cpus")) is int]
    if not loads:
        return None
    return {"load_1min": sum(loads) / len(loads), "cpus": cpus[-1] if cpus else None}


_NUMBER = (int, float)
_TEXT = (str,)
# run.json keys a reader relies on, with the types they must have (None allowed where listed).
REQUIRED = collections.OrderedDict(
    [
        ("workload", _TEXT),
        ("backend", _TEXT),
        ("repeat", (int,)),
        ("status", _TEXT),
    ]
)
OPTIONAL = collections.OrderedDict(
    [
        ("seed", (int,)),
        ("params", (dict,)),
        ("wall_seconds", _NUMBER),
        ("schema", (int,)),
        ("profile", _TEXT),
        ("config", _TEXT),
        ("error", _TEXT),
        ("data", (dict,)),
        ("versions", (dict,)),
        ("device", (dict,)),
        ("backend_settings", (dict,)),
        ("trained_on", (dict,)),
        ("machine_load", (dict,)),
        ("device_requested", _TEXT),
        ("timing_block", (bool,)),
        ("kerasbench", (dict,)),
        ("started_at", _TEXT),
        ("ended_at", _TEXT),
    ]
)


def _type_problem(key, value, types, optional):
    if value is None and optional:
        return None
    if isinstance(value, bool) and bool not in types:
        return "run.json: %s is %r, not %s" % (key, value, _names(types))
    if not isinstance(value, types):
        return "run.json: %s is %s %r, not %s" % (
            key,
            _article(type(value).__name__),
            _short(value),
            _names(types),
        )
    return None


def _names(types):
    words = {
        "str": "a string",
        "int": "an integer",
        "float": "a number",
        "dict": "an object",
        "bool": "true or false",
    }
    return " or ".join(words.get(t.__name__, t.__name__) for t in types)


def _article(name):
    return {
        "list": "a list",
        "dict": "an object",
        "str": "a string",
        "int": "an integer",
        "float": "a number",
        "NoneType": "null",
        "bool": "a boolean",
    }.get(name, name)


def _short(value):
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def check_record(data):
    """What is wrong with a parsed run.json ([] when nothing)."""
    if not isinstance(data, dict):
        return ["run.json is %s, not a JSON object" % _article(type(data).__name__)]
    problems = []
    for key, types in REQUIRED.items():
        if key not in data:
            problems.append("run.json has no %s" % key)
        else:
            problem = _type_problem(key, data[key], types, optional=False)
            if problem:
                problems.append(problem)
    for key, types in OPTIONAL.items():
        problem = _type_problem(key, data.get(key), types, optional=True)
        if problem:
            problems.append(problem)
    if isinstance(data.get("schema"), int) and data["schema"] not in READABLE_SCHEMAS:
        problems.append(
            "run.json: schema %d is not one this kerasbench reads (%s): written by "
            "another version" % (data["schema"], ", ".join(str(s) for s in READABLE_SCHEMAS))
        )
    if isinstance(data.get("status"), str) and data["status"] not in STATUSES:
        problems.append(
            "run.json: status %r is not one of %s" % (data["status"], ", ".join(STATUSES))
        )
    return problems


class Run(object):
    """A run folder as read back: `record` (run.json, or None: unfinished), `columns` and
    `epochs` (epochs.csv's whole rows), `problems` (what is damaged; [] when nothing)."""

    def __init__(self, folder, record, columns, epochs, problems):
        self.folder = folder
        self.record = record
        self.columns = columns
        self.epochs = epochs
        self.problems = problems

    @property
    def finished(self):
        return self.record is not None

    @property
    def status(self):
        return self.record.get("status") if isinstance(self.record, dict) else None

    @property
    def damaged(self):
        return bool(self.problems)

    def why(self):
        """The problems on one line."""
        return "; ".join(self.problems)


# The numbers of an `ok` run's epochs.csv that the report uses, and what each must be.
TIME_COLUMNS = ("epoch_seconds", "train_seconds", "elapsed_seconds")  # seconds: finite, > 0
MAX_SECONDS = 30 * 24 * 3600.0  # a time beyond a month is no measurement of one epoch or run
MAX_NUMBER = 1e100  # nor is any other number beyond this (and sums of it overflow)


def number_problem(rows):
    """The one line that names the first number of an `ok` run's epochs.csv that the report
    cannot use, or None. Of COLUMNS, a time (TIME_COLUMNS) must be finite, above 0 and within
    MAX_SECONDS (epoch_seconds, the report's measure, in every row); any other number finite and
    within MAX_NUMBER. Other columns (a model's own metrics) are not checked."""
    bad = []
    for row in rows:
        for column in COLUMNS[1:]:
            value = row.get(column)
            if value is None:
                if column == "epoch_seconds":
                    bad.append((row, column, "empty", "the epoch's time is needed"))
            elif column in TIME_COLUMNS:
                if not 0 < value <= MAX_SECONDS:  # False for NaN too
                    bad.append((row, column, "%r" % value, "not a time in seconds"))
            elif not -MAX_NUMBER <= value <= MAX_NUMBER:
                bad.append((row, column, "%r" % value, "not a finite number"))
    if not bad:
        return None
    row, column, value, why = bad[0]
    more = " (and %d more)" % (len(bad) - 1) if len(bad) > 1 else ""
    epoch = row.get("epoch")
    epoch = "%g" % epoch if epoch is not None and math.isfinite(epoch) else repr(epoch)
    return "%s epoch %s: %s is %s, %s%s" % (EPOCHS_CSV, epoch, column, value, why, more)


def read_run(folder, identity=None):
    """Reads a run folder and validates it; never raises for what is in the folder.

    - run.json missing: an unfinished run (record None), not a problem by itself;
    - run.json not JSON, not an object, a key of the wrong type: problems (record None when it
      is not an object);
    - epochs.csv malformed: problems, and only its whole rows are kept (a torn last row is a
      problem only in an `ok` run: any other may have been killed mid-row);
    - a finished `ok` run without epochs.csv, or with fewer rows than the epochs it ran
      (params.epochs), or a number in it the report cannot use (number_problem: an epoch time
      NaN, 0, negative or beyond a month, a loss that is not finite): problems;
    - `identity` given ((workload, backend, config, repeat): path_identity of the folder, or the
      run the runner planned there): a run.json that names another run is a problem, and its
      record is not this folder's (record None): a renamed, moved or copied folder is never
      counted as the run it is not.
    """
    problems = []
    path = os.path.join(folder, RUN_JSON)
    data = None
    if os.path.exists(path):
        try:
            with io.open(path, encoding="utf-8") as f:
                data = json.load(f)
        except UnicodeDecodeError:
            problems.append("run.json is not UTF-8 text")
        except ValueError as e:
            problems.append("run.json is not JSON (%s)" % e)
        except (IOError, OSError) as e:
            problems.append("run.json cannot be read (%s)" % (e.strerror or e))
        else:
            found = check_record(data)
            problems += found
            if not isinstance(data, dict):
                data = None
    epochs_path = os.path.join(folder, EPOCHS_CSV)
    columns, epochs = [], []
    if os.path.exists(epochs_path):
        columns, epochs, found = read_epochs(epochs_path)
        if not (isinstance(data, dict) and data.get("status") == "ok"):
            # A kernel killed mid-row (a timeout, a crash, a runner killed) leaves a torn last
            # row: expected there, and left out. Only an `ok` run must be whole.
            found = [p for p in found if not p.startswith(TORN)]
        problems += found
    if isinstance(data, dict) and data.get("status") == "ok":
        if not os.path.exists(epochs_path):
            problems.append("%s is missing, though run.json says ok" % EPOCHS_CSV)
        else:
            wanted = (
                (data.get("params") or {}).get("epochs")
                if isinstance(data.get("params"), dict)
                else None
            )
            if isinstance(wanted, int) and not isinstance(wanted, bool) and len(epochs) != wanted:
                problems.append(
                    "%s has %d whole row%s, but run.json says ok with %d epochs"
                    % (EPOCHS_CSV, len(epochs), "" if len(epochs) == 1 else "s", wanted)
                )
            elif not epochs:
                problems.append("%s has no rows, though run.json says ok" % EPOCHS_CSV)
            found = number_problem(epochs)
            if found:
                problems.append(found)
    if identity is not None and isinstance(data, dict):
        found = identity_problem(data, identity)
        if found:
            problems.append(found)
            data = None
    return Run(folder, data, columns, epochs, problems)


def relabel_run(out, workload, backend, repeat, old_config, new_config):
    """Moves a finished run from configuration label `old_config` to `new_config`: its folder, and
    run.json's `config` (and `params.run_dir`). For when a configuration is redefined (a lever
    adopted into `tuned`): earlier runs keep what they ran under the label that now means it.
    What the run ran (params, backend_settings) is not touched; run.json records the move under
    `relabelled` ({from, at}). Returns the new folder; refuses (ValueError) an unfinished run or
    a label already taken."""
    src = run_folder(out, workload, backend, old_config, repeat)
    dst = run_folder(out, workload, backend, new_config, repeat)
    record = read_json(os.path.join(src, RUN_JSON))
    if not isinstance(record, dict):
        raise ValueError("%s: no finished run to relabel" % src)
    if os.path.exists(dst):
        raise ValueError("%s: already there, not replaced" % dst)
    os.rename(src, dst)
    record["config"] = new_config
    if isinstance(record.get("params"), dict) and "run_dir" in record["params"]:
        record["params"]["run_dir"] = os.path.join(
            os.path.dirname(str(record["params"]["run_dir"])), os.path.basename(dst)
        )
    record.setdefault("relabelled", []).append({"from": old_config, "at": now()})
    write_json_atomic(os.path.join(dst, RUN_JSON), record)
    return dst
