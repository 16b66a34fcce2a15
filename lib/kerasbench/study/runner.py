"""The study's matrix: plan (workload x backend x repeat), check, then one papermill execution per
run, each in a fresh kernel, into `<out>/runs/<workload>/<backend>/<repeat>/`. Host side: this
module never imports Keras (the kernel picks the backend; the runner holds no GPU memory).

The runner drives: it skips what is done and hands the rest to an executor (`executors`), which
runs each through `execute`. Planning is `plan`, the checks before training are `preflight`.
"""
import os
import sys

from kerasbench import runfiles
from kerasbench.study import executors, plan, progress


def is_done(out, spec):
    """A run is done when its run.json says ok and it ran this very plan (profile, seed, params):
    a finished run of another profile or parameters in the same folder is rerun, not reused."""
    record = runfiles.read_json(os.path.join(plan.run_dir(out, spec), runfiles.RUN_JSON))
    if not record or record.get("status") != "ok":
        return False
    ran = record.get("params") or {}
    same_params = all(ran.get(k) == v for k, v in spec.params.items())
    return (same_params and record.get("profile") == spec.profile
            and record.get("seed") == spec.seed and record.get("config", plan.DEFAULT_CONFIG) == spec.config)


def summary_line(record, index, total):
    config = record.get("config") or plan.DEFAULT_CONFIG
    line = "[%d/%d] %s %s%s #%d: %s in %.1fs" % (
        index, total, record["workload"], record["backend"],
        "" if config == plan.DEFAULT_CONFIG else " " + config, record["repeat"], record["status"],
        record["wall_seconds"])
    if record.get("data"):
        line += " (%s data)" % record["data"]["source"]
    if record.get("error"):
        line += " - " + record["error"]
    return line


def run_matrix(runs, out, data_dir, timeout=None, force=False, stream=None, executor=None):
    """Executes the plan with a progress bar; finished runs (status ok) are skipped unless force.

    `executor` (kerasbench.study.executors) says where the runs execute: by default one after another
    in this process. Whatever runs them, each finished run prints one status line here, in the
    order they finish, and a run longer than a few seconds one line per epoch while it trains
    (`progress.EpochTail`, reading its epochs.csv where the run folder is on this machine); the
    records come back in plan order.
    """
    from tqdm import tqdm

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
            records[position] = runfiles.read_json(os.path.join(plan.run_dir(out, spec),
                                                                runfiles.RUN_JSON))
            bar.write("[%d/%d] %s %s #%d: done earlier, skipped" % (
                finished, len(runs), spec.workload, spec.backend, spec.repeat), file=stream)
            bar.update(1)
        else:
            todo.append((position, spec))
    positions = {id(spec): position for position, spec in todo}

    folder_of = {id(spec): plan.run_dir(os.path.abspath(out), spec) for _, spec in todo}
    tail = progress.EpochTail(lambda line: bar.write(line, file=stream))

    def started(spec):
        bar.set_postfix_str("%s/%s/%d" % (spec.workload, spec.backend, spec.repeat))
        tail.start(id(spec), progress.run_name(spec), folder_of[id(spec)], spec.workload)

    try:
        for spec, record in executor.run([spec for _, spec in todo], out, data_dir, timeout,
                                         started=started):
            tail.finish(id(spec))
            finished += 1
            records[positions[id(spec)]] = record
            bar.write(summary_line(record, finished, len(runs)), file=stream)
            bar.update(1)
    finally:
        tail.close()
    bar.close()
    return records
