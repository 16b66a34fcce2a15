"""`kerasbench parity`: does a workload learn the same on every backend? Host side (no Keras).

For each workload, one fresh process per backend (the backend kernel's Python and environment,
`kerasbench.kernel.parity`) builds the model through the workload's notebook; the first backend
listed (the reference) saves its initial weights, every other backend loads them, and each trains
the same `steps` batches in the same order with dropout off and no shuffling. Then the files
they wrote are compared with the reference's (`study.paritycompare`): per-step loss, each layer's
weights before the first step and after the last, the predictions on the evaluation samples, and
(cross-load) the reference's trained weights loaded and evaluated on each other backend. This
module runs the processes, writes the tables and says what they found.

The tolerances, their derivation (rounding alone, not tuned), a check's headroom and when it is
"not informative": `study.tolerance`.
"""

import collections
import glob
import json
import math
import os
import subprocess
import time

from kerasbench import registry, runfiles, studyfiles
from kerasbench.errors import UserError
from kerasbench.study import kernels, paritycompare, params, usermodel

CONFIGURATION = "default"  # the timed configuration whose settings parity trains with
DEFAULT_STEPS = 10
DEFAULT_EVAL_SAMPLES = 1000
DEFAULT_TIMEOUT = 1800.0


def odd_one_out(rows):
    """Lines for workloads where every backend differs from the reference but all the others
    agree with each other."""
    lines = []
    for workload in dict.fromkeys(r["workload"] for r in rows):
        mine = [r for r in rows if r["workload"] == workload]
        agree = [r for r in mine if r["check"].startswith("agrees_with_")]
        compared = {
            r["backend"]
            for r in mine
            if not r["check"].startswith("agrees_with_") and r["check"] != "run"
        }
        failing = {
            r["backend"]
            for r in mine
            if r["passed"] is False and not r["check"].startswith("agrees_with_")
        }
        if agree and all(r["passed"] is True for r in agree) and compared and failing == compared:
            lines.append(
                "%s: %s agree with each other within tolerance; the reference %s is the "
                "backend that differs"
                % (workload, " and ".join(sorted(compared)), mine[0]["reference"])
            )
    return lines


def failures(rows):
    """One line per failing (workload, backend), naming the layers where that is possible."""
    lines = []
    keys = []
    for row in rows:
        key = (row["workload"], row["backend"])
        if key not in keys:
            keys.append(key)
    for key in keys:
        bad = [
            r
            for r in rows
            if (r["workload"], r["backend"]) == key
            and r["passed"] is False
            and not r["check"].startswith("agrees_with_")
        ]
        if not bad:
            continue
        parts = []
        init = [r for r in bad if r["check"] == "initial_weights"]
        final = sorted([r for r in bad if r["check"] == "final_weights"], key=lambda r: -_ratio(r))
        if init:
            parts.append(
                "initial weights of layer %s differ (largest difference %s of the "
                "layer's largest weight; a copy should be exact)"
                % (", ".join(r["layer"] for r in init), _fmt(init[0]["value"]))
            )
        if final:
            parts.append(
                "weights after training differ most in layer %s (%s, tolerance %s)%s"
                % (
                    final[0]["layer"],
                    _fmt(final[0]["value"]),
                    _fmt(final[0]["tolerance"]),
                    "; also " + ", ".join(r["layer"] for r in final[1:]) if len(final) > 1 else "",
                )
            )
        for r in bad:
            if r["check"] in ("initial_weights", "final_weights"):
                continue
            if r["tolerance"] == "":
                parts.append("%s %s (%s)" % (r["check"], _fmt(r["value"]), r["note"]))
            else:
                parts.append(
                    "%s %s (tolerance %s%s)"
                    % (
                        r["check"],
                        _fmt(r["value"]),
                        _fmt(r["tolerance"]),
                        "; " + r["note"] if r["note"] else "",
                    )
                )
        lines.append("%s on %s vs %s: %s" % (key[0], key[1], bad[0]["reference"], "; ".join(parts)))
    return lines


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def summary(rows):
    """One dict per (workload, backend): verdict (same, differs, or the run's status), the
    tightest headroom of its informative checks and where it is, the checks not informative."""
    out = collections.OrderedDict()
    for r in rows:
        key = (r["workload"], r["backend"])
        entry = out.setdefault(
            key,
            {
                "workload": key[0],
                "backend": key[1],
                "reference": r["reference"],
                "verdict": "same",
                "headroom": None,
                "tightest": "",
                "not_informative": [],
            },
        )
        if r["check"] == "run":
            entry["verdict"] = str(r["value"]).replace("_", " ")
            continue
        if r["check"].startswith("agrees_with_"):
            continue
        if r["verdict"] == "fail":
            entry["verdict"] = "differs"
        if r["verdict"] == studyfiles.NOT_INFORMATIVE:
            entry["not_informative"].append(r["check"])
            continue
        room = _number(r["headroom"]) if r["headroom"] != "" else None
        if room is not None and (entry["headroom"] is None or room < entry["headroom"]):
            entry["headroom"] = room
            entry["tightest"] = r["check"] + (" " + r["layer"] if r["layer"] else "")
    return list(out.values())


def format_headroom(value):
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf (exact)"
    return "%.3g" % value


def table_lines(rows):
    """The CLI's table: one line per workload and backend, with the tightest headroom."""
    entries = summary(rows)
    if not entries:
        return []
    cells = [("workload", "backend", "vs", "verdict", "headroom (tightest check)")]
    for e in entries:
        room = format_headroom(e["headroom"])
        cells.append(
            (
                e["workload"],
                e["backend"],
                e["reference"],
                e["verdict"],
                room + (" (%s)" % e["tightest"] if e["tightest"] else ""),
            )
        )
    widths = [max(len(c[i]) for c in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(c))).rstrip() for c in cells]
    for e in entries:
        if e["not_informative"]:
            lines.append(
                "%s on %s: not informative (could not fail here): %s"
                % (e["workload"], e["backend"], ", ".join(dict.fromkeys(e["not_informative"])))
            )
    return lines


def _ratio(row):
    try:
        return (
            float(row["value"]) / float(row["tolerance"])
            if float(row["tolerance"])
            else float("inf")
        )
    except (TypeError, ValueError):
        return 0.0


def _fmt(value):
    if isinstance(value, float):
        return "%.3g" % value
    return str(value)


# Running the kernels

JOB_JSON = studyfiles.PARITY_JOB_JSON  # a backend process's job, in OUT/<workload>/<backend>


def _kernel_python(backend):
    spec = kernels.find(backend)
    if spec is None:
        kernels.require([backend])
    return spec


def run_backend(job, timeout):
    """One backend's process: the kernel's Python and environment, output in its kernel.log."""
    spec = _kernel_python(job["backend"])
    folder = job["folder"]
    with open(os.path.join(folder, JOB_JSON), "w") as f:
        json.dump(job, f, indent=2, sort_keys=True)
    env = kernels.process_env(spec)
    started = time.time()
    with open(os.path.join(folder, runfiles.KERNEL_LOG), "w") as log:
        try:
            done = subprocess.run(
                [spec.argv[0], "-m", "kerasbench.kernel.parity", JOB_JSON],
                cwd=folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
            code = done.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    path = os.path.join(folder, studyfiles.PARITY_RESULT_JSON)
    result = paritycompare.read_json(path) if os.path.exists(path) else None
    if result is None:
        result = {
            "backend": job["backend"],
            "workload": job["workload"],
            "status": "failed",
            "reason": "the process ended (%s) without a result; see %s"
            % (
                "timed out after %g s" % timeout if code == "timeout" else "exit code %s" % code,
                os.path.join(folder, runfiles.KERNEL_LOG),
            ),
        }
    result["wall_seconds"] = time.time() - started
    return result


def parse_perturb(text, backends):
    """Tests only: `BACKEND:LAYER_NAME[:SCALE]`: that layer's initial weights get noise of SCALE
    (default 1) times their spread on that backend, in every workload with a layer of that name."""
    if not text:
        return None
    parts = text.split(":")
    try:
        backend, layer = parts[0], parts[1]
        scale = float(parts[2]) if len(parts) > 2 else 1.0
    except (IndexError, ValueError):
        raise UserError("--perturb %s: expected BACKEND:LAYER_NAME[:SCALE]" % text)
    if not layer:
        raise UserError("--perturb %s: expected BACKEND:LAYER_NAME[:SCALE]" % text)
    if backend not in backends:
        raise UserError("--perturb %s: %s is not one of the backends compared" % (text, backend))
    return backend, layer, scale


def results_in(out):
    """What shows parity's results in a folder: its tables and page, or a backend process's
    job (the folder is one, or holds them at <workload>/<backend>). preflight.results_held."""
    found = [
        name
        for name in (
            studyfiles.PARITY_CSV,
            studyfiles.PARITY_LOSSES_CSV,
            studyfiles.PARITY_HTML,
            JOB_JSON,
        )
        if os.path.isfile(os.path.join(out, name))
    ]
    hits = sorted(glob.glob(os.path.join(glob.escape(out), "*", "*", JOB_JSON)))
    return found + [os.path.relpath(hit, out) for hit in hits[:1]]


def check_replaceable(out, workloads, backends):
    """The process folders a call replaces (OUT/<workload>/<backend>) must be parity's own
    (an earlier call's job in them) or empty; anything else there is one line, before a run."""
    for workload in workloads:
        for backend in backends:
            folder = os.path.join(out, workload, backend)
            if not os.path.lexists(folder) or (
                os.path.isdir(folder)
                and (not os.listdir(folder) or os.path.isfile(os.path.join(folder, JOB_JSON)))
            ):
                continue
            raise UserError(
                "%s was not written by kerasbench parity (it has no %s): give kerasbench "
                "parity a folder of its own (--out)" % (folder, JOB_JSON)
            )


def check(
    workloads,
    backends,
    steps,
    out,
    data_dir,
    staging,
    profile="quick",
    overrides=None,
    eval_samples=DEFAULT_EVAL_SAMPLES,
    timeout=DEFAULT_TIMEOUT,
    perturb=None,
    page=None,
    keep_weights=False,
    say=print,
):
    """Runs every workload on every backend and writes parity.csv, parity_losses.csv and (with
    `page`, a function of the folder: kerasbench.report.parity) parity.html. Each workload's
    weight files go once its comparisons are made, unless `keep_weights` (they are what was
    compared, and can be GBs: fastText's embedding is 241 MB a file, 2 GB a workload). Everything is
    written into `staging` (preflight.Staging, in `out`) and moved into `out` at the end: the
    folders OUT/<workload>/<backend> of this call, then the tables and page: the tables keep an
    earlier call's rows of the workloads this call did not check (earlier_rows) and replace the
    others; an earlier parity.html this call does not write goes (it would show older results).
    Nothing else in `out` is touched. Returns this call's parity.csv rows."""
    if len(backends) < 2:
        raise UserError("parity compares backends: give at least two (got %s)" % ",".join(backends))
    if steps < 1:
        raise UserError("--steps must be at least 1, got %d" % steps)
    resolved = resolve_settings(workloads, backends, profile, overrides)
    workloads = list(resolved)
    check_replaceable(os.path.abspath(out), workloads, backends)
    work = staging.path
    rows, loss_rows = [], []
    common = {
        "configuration": CONFIGURATION + (" with --set" if overrides else ""),
        "steps": steps,
        "eval_samples": eval_samples,
    }
    for workload in workloads:
        jobs = []
        for backend in backends:
            settings = dict(resolved[workload][backend], data_dir=data_dir)
            jobs.append(backend_job(workload, backend, backends[0], settings, work, common))
            if perturb and perturb[0] == backend:
                jobs[-1]["perturb_layer"], jobs[-1]["perturb_scale"] = perturb[1], perturb[2]
        more, more_losses = check_workload(jobs, steps, timeout, say)
        if not keep_weights:
            drop_weights(job["folder"] for job in jobs)
        rows += more
        loss_rows += more_losses
    # The tables keep the rows of workloads this call did not check: parity can be run a
    # workload at a time (a GPU job with a time limit) and still end with one table.
    for name, new_rows, columns in (
        (studyfiles.PARITY_CSV, rows, studyfiles.PARITY_COLUMNS),
        (studyfiles.PARITY_LOSSES_CSV, loss_rows, studyfiles.PARITY_LOSS_COLUMNS),
    ):
        kept = earlier_rows(os.path.join(out, name), columns, workloads, say)
        studyfiles.write_csv(os.path.join(work, name), kept + new_rows, columns)
    if page is not None:
        page(work)
    staging.commit(
        [os.path.join(w, b) for w in workloads for b in backends]
        # parity.csv, what the report reads, last
        + [studyfiles.PARITY_LOSSES_CSV, studyfiles.PARITY_HTML, studyfiles.PARITY_CSV],
        obsolete=[studyfiles.PARITY_HTML],
    )
    return rows


def earlier_rows(path, columns, workloads, say):
    """The rows of an earlier call's table at `path` whose workload is not in `workloads` (this
    call replaces those); none where there is no such file. A damaged file keeps what can be
    read, with one line naming the damage."""
    if not os.path.exists(path):
        return []
    rows, problems = studyfiles.read_csv(path, columns)
    for problem in problems:
        say("kerasbench parity: the earlier %s; its readable rows are kept" % problem)
    return [row for row in rows if row.get("workload") not in workloads]


def drop_weights(folders):
    """Removes the weight files (studyfiles.is_weights_file) of backend folders whose comparisons
    are made; the tables, losses, predictions and logs stay."""
    for folder in folders:
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                if studyfiles.is_weights_file(name):
                    os.remove(os.path.join(folder, name))


def resolve_settings(workloads, backends, profile, overrides):
    """{workload: {backend: its parameters}}: built-in names, or model files (path/to/my_model.py:
    run under the file's name), with the settings the timed `default` configuration gives each
    backend (params/configs.yaml), then --set."""
    configs = params.read_configs()
    resolved = collections.OrderedDict()
    for token in workloads:
        name = usermodel.name(token) if usermodel.is_model_file(token) else token
        resolved[name] = {}
        for backend in backends:
            given = params.config_settings(configs, CONFIGURATION, backend)
            given.update(overrides or {})
            if usermodel.is_model_file(token):
                resolved[name][backend] = usermodel.resolve(token, profile, given)
            else:
                resolved[name][backend] = params.resolve(token, profile, overrides=given)
    return resolved


def backend_job(workload, backend, reference, settings, work, common):
    """One backend's process job (kernel.parity), in its folder work/<workload>/<backend>;
    `common`: what every job of the call shares (configuration, steps, eval_samples)."""
    folder = os.path.join(work, workload, backend)
    parameters = dict(settings, backend=backend, run_dir=folder, seed=0)
    return dict(
        common,
        workload=workload,
        backend=backend,
        folder=folder,
        notebook=registry.notebook_path(workload),
        parameters=parameters,
        role="reference" if backend == reference else "follower",
        reference_folder=os.path.join(work, workload, reference),
    )


def check_workload(jobs, steps, timeout, say):
    """One workload: each backend's process in turn (the reference's first: the others need its
    weights; if it does not finish, they are skipped), each follower compared with the
    reference, and the followers with each other. (parity.csv rows, parity_losses.csv rows)"""
    rows, loss_rows, ok = [], [], []
    reference = jobs[0]
    for job in jobs:
        os.makedirs(job["folder"])
        workload, backend = job["workload"], job["backend"]
        if job is not reference and reference not in ok:
            result = {
                "status": "skipped",
                "reason": "the reference (%s) did not finish" % jobs[0]["backend"],
            }
        else:
            say("parity: %s on %s ..." % (workload, backend))
            result = run_backend(job, timeout)
        if result["status"] != "ok":
            status, reason = result["status"], result.get("reason", "")
            passed = "" if status == "cannot_join" else False
            rows.append(
                paritycompare.row(
                    workload, backend, reference["backend"], "run", status, "", passed, note=reason
                )
            )
            say("parity: %s on %s: %s: %s" % (workload, backend, status, reason))
            continue
        ok.append(job)
        if job is not reference:
            more, more_losses = paritycompare.compare(
                workload, reference["folder"], job["folder"], steps
            )
            rows += more
            loss_rows += more_losses
    followers = [job for job in ok if job is not reference]
    for job in followers[1:]:
        rows.append(
            paritycompare.followers_agree(
                job["workload"], reference["backend"], followers[0]["folder"], job["folder"], steps
            )
        )
    return rows, loss_rows
