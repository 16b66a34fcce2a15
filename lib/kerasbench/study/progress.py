"""What `kerasbench run` says while it runs and when it is done. Host side, standard library.

- `EpochTail` follows the `epochs.csv` of each run in progress (the kernel flushes one row per
  epoch) and writes one line per epoch under the progress bar: epoch, seconds, loss, the
  workload's metric. A run stays quiet for its first QUIET_SECONDS (a smoke run that is over in
  a few seconds prints only its status line); after that its epochs so far are printed at once.
- `results_table` is the small table printed at the end: what ran, seconds per epoch (after the
  first, right-aligned), the final metric, status and run folder. A run that did not learn (its
  training loss no lower at the last epoch than at the first) has "did not learn" beside its
  status; a run on generated data has "(generated data)" beside its metric, which then says
  nothing about learning. `next_command` is the report to run next (`kerasbench run --no-next`
  leaves it out, for a caller that runs the report itself, as `make study` does).
"""

import os
import shlex
import threading
import time

from kerasbench import registry, runfiles

QUIET_SECONDS = 5.0
POLL_SECONDS = 0.5


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _fmt(value, pattern="%.4g"):
    return "-" if value is None else pattern % value


def metric_of(workload):
    return registry.WORKLOADS[workload].metric if workload in registry.WORKLOADS else "val_accuracy"


# epochs.csv's columns that are times and counts, never a metric
_NOT_METRICS = ("epoch", "epoch_seconds", "train_seconds", "elapsed_seconds", "samples_per_second")


def final_metric(workload, record, row):
    """(name, value) of the metric the end table shows for a run: a 2017 workload's own; for a
    model file, the first metric it was compiled with (run.json `metrics`, as Keras logs them),
    on the test set where it was logged there, else its training loss: the report's rule."""
    if workload in registry.WORKLOADS:
        metric = registry.WORKLOADS[workload].metric
        return metric, _number(row.get(metric))
    logged = record.get("metrics") if isinstance(record.get("metrics"), list) else []
    for name in logged:
        if not isinstance(name, str) or name.startswith("val_") or name.endswith("loss"):
            continue
        if name in _NOT_METRICS:
            continue
        for column in ("val_" + name, name):
            if _number(row.get(column)) is not None:
                return column, _number(row.get(column))
    return "loss", _number(row.get("loss"))


def read_epochs(folder):
    """The whole rows of a run's epochs.csv, as numbers (runfiles.read_epochs: a row still being
    written is left for later)."""
    path = os.path.join(folder, runfiles.EPOCHS_CSV)
    if not os.path.exists(path):
        return []
    return runfiles.read_epochs(path)[1]


def epoch_line(name, row, metric):
    """'  mnist_mlp jax #0  epoch 3: 1.23 s, loss 0.1234, val_accuracy 0.9812'"""
    parts = ["%s s" % _fmt(_number(row.get("epoch_seconds")), "%.3g")]
    loss = _number(row.get("loss"))
    if loss is not None:
        parts.append("loss %.4g" % loss)
    value = _number(row.get(metric))
    if metric != "loss" and value is not None:
        parts.append("%s %.4g" % (metric, value))
    epoch = _number(row.get("epoch"))
    return "  %s  epoch %s: %s" % (name, "?" if epoch is None else "%d" % epoch, ", ".join(parts))


def run_name(spec):
    config = getattr(spec, "config", None) or "default"
    return "%s %s%s #%d" % (
        spec.workload,
        spec.backend,
        "" if config == "default" else " " + config,
        spec.repeat,
    )


class EpochTail(object):
    """Prints the new epochs of the runs in progress through `write` (a thread polls the files)."""

    def __init__(self, write, quiet_seconds=QUIET_SECONDS, poll_seconds=POLL_SECONDS):
        self._write = write
        self._quiet = quiet_seconds
        self._poll = poll_seconds
        self._runs = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kerasbench-epochs", daemon=True)
        self._thread.start()

    def start(self, key, name, folder, workload):
        with self._lock:
            self._runs[key] = {
                "name": name,
                "folder": os.path.abspath(folder),
                "printed": 0,
                "since": time.time(),
                "metric": metric_of(workload),
            }

    def finish(self, key):
        """The run ended: print what it logged since the last poll (if it was not a quick one)."""
        with self._lock:
            run = self._runs.pop(key, None)
            if run is not None:
                self._emit(run)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self):
        while not self._stop.wait(self._poll):
            with self._lock:
                for run in self._runs.values():
                    self._emit(run)

    def _emit(self, run):
        if time.time() - run["since"] < self._quiet:
            return
        rows = read_epochs(run["folder"])
        for row in rows[run["printed"] :]:
            self._write(epoch_line(run["name"], row, run["metric"]))
        run["printed"] = max(run["printed"], len(rows))


def _steady_seconds(rows):
    values = [_number(r.get("epoch_seconds")) for r in rows[1:]]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def did_not_learn(rows):
    """True when a run of two or more epochs ended with a training loss no lower than its first
    epoch's (one epoch, or a loss missing at either end: nothing to judge)."""
    if len(rows) < 2:
        return False
    first, last = _number(rows[0].get("loss")), _number(rows[-1].get("loss"))
    return first is not None and last is not None and not last < first


def on_generated_data(record):
    data = record.get("data")
    return isinstance(data, dict) and data.get("source") == "generated"


def results_table(records, folders):
    """Lines of a small table: one row per run (records and their folders, in plan order)."""
    header = ("run", "status", "s/epoch", "final metric", "run folder")
    right = (False, False, True, False, False)
    rows = []
    for record, folder in zip(records, folders):
        if not record:
            continue
        epochs = read_epochs(folder)
        metric, final = final_metric(record.get("workload"), record, epochs[-1] if epochs else {})
        config = record.get("config") or "default"
        status = str(record.get("status"))
        if did_not_learn(epochs):
            status += ", did not learn"
        shown = "-" if final is None else "%s %.4f" % (metric, final)
        if final is not None and on_generated_data(record):
            shown += " (generated data)"
        if final is not None and record.get("timing_block") is True:
            shown += " (timing block: %d epochs)" % len(epochs)
        rows.append(
            (
                "%s %s%s #%s"
                % (
                    record.get("workload"),
                    record.get("backend"),
                    "" if config == "default" else " " + config,
                    record.get("repeat"),
                ),
                status,
                _fmt(_steady_seconds(epochs), "%.3g"),
                shown,
                os.path.relpath(folder) if not os.path.relpath(folder).startswith("..") else folder,
            )
        )
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    return [
        "  ".join(
            cell.rjust(w) if r else cell.ljust(w) for cell, w, r in zip(row, widths, right)
        ).rstrip()
        for row in [header] + rows
    ]


def next_command(out, program=None):
    """The report command for this output folder, as the user invoked kerasbench."""
    program = program or "kerasbench"
    return "%s report --out %s" % (program, shlex.quote(out))
