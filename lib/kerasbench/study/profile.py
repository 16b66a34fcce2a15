"""`kerasbench profile`: where a Keras training step's time goes, per workload and backend.

Host side: resolves the run's parameters (profile, configuration, --set) as `run` does, starts
one fresh process with the backend kernel's Python and environment (`kernel/profile.py` times the
ablation variants there), then turns the variants' seconds per step into parts that add up
(`breakdown`) and writes `profile.json` (atomically) and `profile.csv`. Never imports Keras.

How each part is derived (t_x: the median seconds per step of variant x, kernel/profile.py):

  callbacks         = t_fit_default - t_fit_metrics    (the epoch logger, TerminateOnNaN and
                                                         verbose=2's progress logger: a callback
                                                         with a batch hook turns off Keras' async
                                                         dispatch, the logs are read every step)
  metrics           = t_fit_metrics - t_fit_bare       (the model's metrics beyond the loss)
  input_feeding     = t_fit_bare - t_fit_device        (NumPy batches fed from host memory)
  keras_loop        = t_fit_device - t_lowest          (fit's per-step machinery that one compiled
                      t_lowest = min(t_fit_epoch, t_step_loop)   call per epoch, or a bare loop
                                                         over the compiled step, does without)
  step_dispatch     = t_lowest - t_device              (launching the compiled step: Python and
                                                         framework dispatch beyond device compute)
  device_compute    = t_device                         (the profiler's device busy time per step;
                                                         without a GPU profile, t_lowest: an upper
                                                         bound, and step_dispatch is then 0)

Each level is clipped to at most the one above it (a variant measured slower than a variant with
more work is noise: that difference counts 0 and is listed in `clipped`), so the parts add up to
t_fit_default exactly and the fractions to 1. The report groups them: device compute, host dispatch
and Python overhead (keras_loop + step_dispatch), input feeding, callbacks and metrics.
"""

import os
import subprocess
import time

from kerasbench import registry, runfiles, studyfiles
from kerasbench.errors import UserError
from kerasbench.study import kernels, plan

PROFILE_JSON = studyfiles.PROFILE_JSON
JOB_JSON = studyfiles.PROFILE_JOB_JSON
KERNEL_RESULT = studyfiles.PROFILE_KERNEL_JSON

# (part, group, variant above, variant below, how it is derived), top to bottom.
PARTS = [
    (
        "callbacks",
        "callbacks and metrics",
        "fit_default",
        "fit_metrics",
        "fit_default - fit_metrics",
    ),
    ("metrics", "callbacks and metrics", "fit_metrics", "fit_bare", "fit_metrics - fit_bare"),
    ("input_feeding", "input feeding", "fit_bare", "fit_device", "fit_bare - fit_device"),
    (
        "keras_loop",
        "host dispatch and Python overhead",
        "fit_device",
        "lowest",
        "fit_device - min(fit_epoch, step_loop)",
    ),
    (
        "step_dispatch",
        "host dispatch and Python overhead",
        "lowest",
        "device",
        "min(fit_epoch, step_loop) - profiler device time",
    ),
    (
        "device_compute",
        "device compute",
        "device",
        None,
        "profiler device time per step (without one: min(fit_epoch, step_loop), an upper bound)",
    ),
]


def breakdown(step_seconds, device_seconds=None):
    """Parts of fit_default's seconds per step that add up to it.

    step_seconds: variant -> seconds per step (fit_default, fit_metrics, fit_bare and fit_device
    required; fit_epoch and step_loop where they ran). device_seconds: the profiler's device time per step,
    or None. Returns {"total", "parts": {name: seconds}, "fractions": {name: fraction},
    "groups": {group: fraction}, "raw": {name: unclipped difference}, "clipped": [names],
    "device_measured": bool}.
    """
    for name in ("fit_default", "fit_metrics", "fit_bare", "fit_device"):
        if not step_seconds.get(name):
            raise ValueError("breakdown needs %s" % name)
    lowest_candidates = [step_seconds[v] for v in ("fit_epoch", "step_loop") if step_seconds.get(v)]
    raw_levels = dict(
        (name, step_seconds[name])
        for name in ("fit_default", "fit_metrics", "fit_bare", "fit_device")
    )
    raw_levels["lowest"] = min(lowest_candidates) if lowest_candidates else raw_levels["fit_device"]
    measured = bool(device_seconds) and device_seconds > 0
    raw_levels["device"] = device_seconds if measured else raw_levels["lowest"]
    order = ["fit_default", "fit_metrics", "fit_bare", "fit_device", "lowest", "device"]
    levels = {}
    for i, name in enumerate(order):
        levels[name] = raw_levels[name] if i == 0 else min(raw_levels[name], levels[order[i - 1]])
    total = levels["fit_default"]
    parts, raw, clipped = {}, {}, []
    for name, _, above, below, _ in PARTS:
        if below is None:
            parts[name] = levels[above]
            continue
        parts[name] = levels[above] - levels[below]
        raw[name] = raw_levels[above] - raw_levels[below]
        if raw[name] < 0:
            clipped.append(name)
    fractions = {name: parts[name] / total for name in parts}
    groups = dict((g, 0.0) for g in studyfiles.GROUPS)
    for name, group, _, _, _ in PARTS:
        groups[group] += fractions[name]
    return {
        "total": total,
        "parts": parts,
        "fractions": fractions,
        "groups": groups,
        "raw": raw,
        "clipped": clipped,
        "device_measured": measured,
        "lowest_variant": min(
            (v for v in ("fit_epoch", "step_loop") if step_seconds.get(v)),
            key=lambda v: step_seconds[v],
            default=None,
        ),
    }


def job(
    workload,
    backend,
    profile="full",
    config="default",
    steps=100,
    repeats=3,
    overrides=None,
    data_dir="",
    out=".",
):
    """The kernel's job: the workload's notebook and its resolved parameters for this run."""
    spec = plan.plan(profile, [workload], [backend], overrides=overrides, config=config)[0]
    parameters = dict(
        spec.params,
        backend=backend,
        run_dir=os.path.abspath(out),
        seed=spec.seed,
        data_dir=data_dir,
    )
    return {
        "workload": workload,
        "backend": backend,
        "profile": profile,
        "config": config,
        "steps": steps,
        "repeats": repeats,
        "notebook": registry.notebook_path(workload),
        "parameters": parameters,
        "out": os.path.abspath(out),
    }


def run_kernel(spec, timeout=None):
    """Runs kernel/profile.py in a fresh process as the backend's kernel would; its result."""
    kernel = kernels.find(spec["backend"])
    if kernel is None:
        raise UserError(
            "Jupyter kernel %r is not installed: run `kerasbench kernels install`"
            % kernels.kernel_name(spec["backend"])
        )
    out = spec["out"]
    os.makedirs(out, exist_ok=True)
    runfiles.write_json_atomic(os.path.join(out, JOB_JSON), spec)
    with open(os.path.join(out, runfiles.KERNEL_LOG), "w") as log:
        try:
            subprocess.run(
                [kernel.argv[0], "-m", "kerasbench.kernel.profile", JOB_JSON],
                cwd=out,
                env=kernels.process_env(kernel),
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {"status": "timeout", "error": "the profile passed --timeout %s s" % timeout}
    result = runfiles.read_json(os.path.join(out, KERNEL_RESULT))
    if result is None:
        with open(os.path.join(out, runfiles.KERNEL_LOG)) as f:
            tail = [line for line in f.read().splitlines() if line.strip()][-1:]
        return {
            "status": "failed",
            "error": "the kernel wrote no result: %s" % (tail[0] if tail else "no output"),
        }
    return result


def summarize(spec, result):
    """profile.json's content: the job, the kernel's timings, and the breakdown."""
    record = {
        "schema": studyfiles.PROFILE_SCHEMA,
        "workload": spec["workload"],
        "backend": spec["backend"],
        "profile": spec["profile"],
        "config": spec["config"],
        "steps": spec["steps"],
        "repeats": spec["repeats"],
        "batch_size": spec["parameters"].get("batch_size"),
        "status": result.get("status"),
        "error": result.get("error"),
        "variants": result.get("variants", {}),
        "device_compute": result.get("device_compute"),
        "notes": result.get("notes", []),
        "kernel": result.get("kernel", {}),
    }
    if result.get("status") == "ok":
        seconds = dict((k, v.get("step_seconds")) for k, v in record["variants"].items())
        device = (record["device_compute"] or {}).get("seconds")
        steps = spec["steps"]
        record["breakdown"] = breakdown(seconds, device / steps if device else None)
        record["derivation"] = dict((name, how) for name, _, _, _, how in PARTS)
    return record


def csv_rows(record):
    base = {
        "workload": record["workload"],
        "backend": record["backend"],
        "config": record["config"],
    }
    rows = []
    for name, v in sorted(record.get("variants", {}).items()):
        rows.append(
            dict(
                base,
                kind="variant",
                name=name,
                seconds_per_step=v.get("step_seconds"),
                derived_as=v.get(
                    "method", "median of %d timed passes" % len(v.get("pass_seconds", []))
                ),
            )
        )
    b = record.get("breakdown")
    if b:
        for name, group, _, _, how in PARTS:
            rows.append(
                dict(
                    base,
                    kind="part",
                    name=name,
                    group=group,
                    seconds_per_step=b["parts"][name],
                    fraction=b["fractions"][name],
                    derived_as=how + (" (clipped to 0: noise)" if name in b["clipped"] else ""),
                )
            )
    return rows


def write(out, record):
    runfiles.write_json_atomic(os.path.join(out, PROFILE_JSON), record)
    studyfiles.write_csv(
        os.path.join(out, studyfiles.PROFILE_CSV), csv_rows(record), studyfiles.PROFILE_COLUMNS
    )


def results_in(out):
    """What shows a profile's results in a folder: its own files (preflight.results_held)."""
    return [
        name
        for name in (PROFILE_JSON, studyfiles.PROFILE_CSV, JOB_JSON, KERNEL_RESULT)
        if os.path.isfile(os.path.join(out, name))
    ]


def profile(workload, backend, out, staging, timeout=None, **settings):
    """Profiles in a fresh kernel process that writes into `staging` (preflight.Staging, in
    `out`); then every file of this call is moved into `out`, profile.json last, each replacing
    an earlier call's, and an earlier profile_kernel.json this call did not write (its kernel
    failed) goes too. Nothing else in `out` is touched. `settings`: job()'s (profile, config,
    steps, repeats, overrides, data_dir)."""
    spec = job(workload, backend, out=staging.path, **settings)
    started = time.time()
    result = run_kernel(spec, timeout)
    record = summarize(spec, result)
    record["wall_seconds"] = round(time.time() - started, 3)
    write(staging.path, record)
    made = sorted(n for n in os.listdir(staging.path) if not n.startswith("."))
    staging.commit(
        [n for n in made if n != PROFILE_JSON] + [PROFILE_JSON], obsolete=[KERNEL_RESULT]
    )
    return record


def describe(record):
    """A few lines for the terminal."""
    head = "%s on %s (%s, %d steps x %d passes)" % (
        record["workload"],
        record["backend"],
        record["config"],
        record["steps"],
        record["repeats"],
    )
    if record.get("status") != "ok":
        return "%s: %s: %s" % (head, record.get("status"), record.get("error"))
    lines = [head + ":"]
    for name in studyfiles.VARIANTS:
        v = record["variants"].get(name)
        if v is None:
            continue
        lines.append("  %-12s %8.3f ms/step" % (name, 1e3 * v["step_seconds"]))
    b = record["breakdown"]
    for group in studyfiles.GROUPS:
        lines.append("  %-36s %5.1f%%" % (group, 100 * b["groups"][group]))
    if not b["device_measured"]:
        lines.append(
            "  device compute is an upper bound (%s)"
            % (record.get("device_compute") or {}).get("how", "no profiler")
        )
    if b["clipped"]:
        lines.append("  clipped to 0 (measured negative, noise): " + ", ".join(b["clipped"]))
    return "\n".join(lines)
