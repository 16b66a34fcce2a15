"""The floor beside a study: `kerasbench floor` trains the hand-written JAX and PyTorch loops
(kerasbench.native) on the data and settings of the study's Keras runs, into the study folder
where the report finds them. Host side: each run is a process of the framework kernel's own
Python and environment (`python -m kerasbench.native`); nothing here imports a framework.

    OUT/runs/<workload>/native-<framework>/<mode>-<repeat>/   epochs.csv, run.json, kernel.log

A floor run of repeat r gets the seed of the Keras runs' repeat r and their profile's epochs,
batch size and data subset (`--set` may change those four), so that the report compares them
within blocks. Each run is trained into a staging folder in OUT and moved in when it ends
(`preflight.Staging`): a stopped call leaves no half run folder, and a failed rerun never
removes a finished run. A run folder holding a finished ok run of the same settings is skipped;
one of other settings is replaced only with --force.
"""

import collections
import os
import subprocess
import time

from kerasbench import runfiles
from kerasbench.errors import UserError
from kerasbench.study import execute, kernels, preflight, runner, signals

# A native loop's backend label in run.json and in its folder's path: native-<framework>.
NATIVE = "native-"
# What a floor run takes from the Keras workload's parameters (all else is the native loop's).
SETTINGS = ("epochs", "batch_size", "train_samples", "test_samples")
# --device as the native loop spells it (None: cuda where the framework sees one).
NATIVE_DEVICE = {"auto": None, "gpu": "cuda", "cpu": "cpu"}

FloorRun = collections.namedtuple("FloorRun", "spec framework mode")


def plan_floor(specs, modes):
    """[FloorRun] for the Keras RunSpecs `specs` (plan.plan of the workloads on the frameworks'
    Keras backends: their profile's settings, seeds and repeats), each in the `modes` given for
    its framework ({framework: [mode]}), in plan order."""
    return [FloorRun(spec, spec.backend, mode) for spec in specs for mode in modes[spec.backend]]


def check_overrides(overrides):
    """--set of the floor: only the settings the native loops take from the workload."""
    other = sorted(k for k in overrides if k not in SETTINGS)
    if other:
        raise UserError(
            "--set %s: the native loops take only %s from the workload"
            % (", ".join(other), ", ".join(SETTINGS))
        )


def folder(out, run):
    """OUT/runs/<workload>/native-<framework>/<mode>-<repeat>."""
    spec = run.spec
    return runfiles.run_folder(out, spec.workload, NATIVE + run.framework, run.mode, spec.repeat)


def label(run):
    return "%s/%s%s/%s" % (
        run.spec.workload,
        NATIVE,
        run.framework,
        runfiles.run_name(run.mode, run.spec.repeat),
    )


def record_label(record):
    """mnist_mlp/native-jax/scan-0: a floor run's record, as its folder under OUT/runs."""
    return "/".join(
        (
            str(record.get("workload")),
            str(record.get("backend")),
            runfiles.run_name(record.get("config"), record.get("repeat", 0)),
        )
    )


def asked(run):
    """{setting: value} a finished floor run must have recorded to count as this run."""
    values = {key: run.spec.params[key] for key in SETTINGS}
    values["seed"] = run.spec.seed
    return values


def difference(record, run):
    """How a finished floor run differs from `run` ("epochs 3, not 12"), or None."""
    params = record.get("params") if isinstance(record.get("params"), dict) else {}
    requested = record.get("device_requested")  # None: a run older than the record of it
    if requested is not None and requested != (NATIVE_DEVICE[run.spec.device] or "auto"):
        shown = {v or "auto": k for k, v in NATIVE_DEVICE.items()}.get(requested, requested)
        return "--device %s, not %s" % (shown, run.spec.device)
    for key, value in asked(run).items():
        if params.get(key) != value:
            return "%s %s, not %s" % (key, params.get(key), value)
    return None


def state(out, run, data_dir=None):
    """(runner.DONE, TODO or CONFLICT, why) of a planned floor run and what its folder holds."""
    path = folder(out, run)
    if not os.path.isdir(path):
        return runner.TODO, None
    found = runfiles.read_run(path, runfiles.path_identity(path))
    if found.record is None:
        return runner.TODO, ("its files are damaged (%s)" % found.why()) if found.damaged else None
    why = difference(found.record, run)
    if why:
        return runner.CONFLICT, why
    if found.status != "ok" or found.damaged:
        return runner.TODO, found.why() or None
    if runner.real_data_now(found.record, run.spec, data_dir):
        return runner.TODO, "it trained on generated data and the real data is here now"
    return runner.DONE, None


def command(run, python, data_dir, path):
    """The native loop's command line for one floor run into `path`."""
    spec = run.spec
    argv = [python, "-m", "kerasbench.native", "--workload", spec.workload]
    argv += ["--framework", run.framework, "--mode", run.mode, "--out", path]
    for key in SETTINGS:
        argv += ["--" + key.replace("_", "-"), str(spec.params[key])]
    argv += ["--seed", str(spec.seed), "--repeat", str(spec.repeat)]
    if data_dir:
        argv += ["--data-dir", data_dir]
    if NATIVE_DEVICE[spec.device]:
        argv += ["--device", NATIVE_DEVICE[spec.device]]
    return argv


def train_one(run, out, data_dir):
    """Trains one floor run in a staging folder of `out`, then moves its folder in (replacing
    what was there). Its process's output goes to kernel.log in the run folder. Returns its
    record (a process that wrote none: a failed record saying how it ended)."""
    final = folder(out, run)
    relative = os.path.relpath(final, out)
    spec = kernels.find(run.framework)
    env = kernels.process_env(spec)
    env.update(execute.kernel_env(run.spec.device))
    with preflight.Staging.begin(out, preflight.KINDS["floor"]) as staging:
        path = os.path.join(staging.path, relative)
        os.makedirs(path)
        started, t0 = runfiles.now(), time.time()
        with open(os.path.join(path, runfiles.KERNEL_LOG), "wb") as log:
            done = subprocess.run(
                command(run, spec.argv[0], os.path.abspath(data_dir), os.path.abspath(path)),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        record = runfiles.read_run(path).record
        if record is None:
            record = execute.run_record(
                run.spec._replace(
                    backend=NATIVE + run.framework, config=run.mode, profile="native"
                ),
                dict(asked(run), out=final),
                "failed",
                "the native loop exited %d without run.json; its output is in %s"
                % (done.returncode, runfiles.KERNEL_LOG),
                started,
                time.time() - t0,
                device_requested=NATIVE_DEVICE[run.spec.device] or "auto",
            )
        elif isinstance(record.get("params"), dict):
            record["params"]["out"] = final  # where the run lives, not where it was trained
        runfiles.write_json_atomic(os.path.join(path, runfiles.RUN_JSON), record)
        staging.commit([relative])
    return record


def train(runs, out, data_dir, force=False, say=print):
    """Every floor run not done already (state; all with `force`), one after another; one line
    per run. A finished run of other settings stops the call before anything trains (one line,
    unless `force`). Returns the records in plan order."""
    states = [
        (run, runner.TODO, None) if force else (run,) + state(out, run, data_dir) for run in runs
    ]
    conflicts = [(run, why) for run, found, why in states if found == runner.CONFLICT]
    if conflicts:
        raise runner.conflict_error(out, conflicts, label, "floor run", "other settings")
    records = []
    for index, (run, found, why) in enumerate(states, 1):
        if found == runner.DONE:
            records.append(runfiles.read_run(folder(out, run)).record)
            say("[%d/%d] %s: done earlier, skipped" % (index, len(states), label(run)))
            continue
        if why:
            say("%s: %s: training it again" % (label(run), why))
        try:
            records.append(train_one(run, out, data_dir))
        except signals.Terminated as stop:
            say(
                "kerasbench floor: %s stopped %s; its run folder was not written"
                % (stop.name, label(run))
            )
            raise
        say(runner.summary_line(records[-1], index, len(states)))
    return records
