"""What the harness costs: one workload through the notebook + papermill path and the same code as
a plain Python process (kerasbench.plain), alternated on the same machine in one go.

Host side: both run in a child process with the backend kernel's Python and environment; the
plain one executes the notebook's own code cells, so only the harness differs. Pairs alternate
their order (papermill first, then plain first) so drift on a shared machine spreads over both.
"""

import json
import os
import re
import statistics
import subprocess
import time

from kerasbench import registry, runfiles, studyfiles
from kerasbench.study import execute, kernels, plan
from kerasbench.errors import UserError

WORK = studyfiles.HARNESS_WORK  # OUT/harness/: papermill/ (its run folders) and plain-<pair>/


def _epoch_times(folder):
    path = os.path.join(folder, runfiles.EPOCHS_CSV)
    if not os.path.exists(path):
        return []
    return [row["epoch_seconds"] for row in runfiles.read_epochs(path)[1]]


def _plain(spec, folder, data_dir):
    """Runs the notebook's code as a plain process with the kernel's Python and environment."""
    kernel = kernels.find(spec.backend)
    if kernel is None:
        raise UserError(
            "Jupyter kernel %r is not installed: run `kerasbench kernels install`"
            % kernels.kernel_name(spec.backend)
        )
    env = kernels.process_env(kernel)
    parameters = dict(
        spec.params, backend=spec.backend, run_dir=folder, seed=spec.seed, data_dir=data_dir
    )
    os.makedirs(folder)
    with open(os.path.join(folder, "parameters.json"), "w") as f:
        json.dump(parameters, f)
    with open(os.path.join(folder, runfiles.KERNEL_LOG), "w") as log:
        done = subprocess.run(
            [
                kernel.argv[0],
                "-m",
                "kerasbench.plain",
                registry.notebook_path(spec.workload),
                "parameters.json",
            ],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return "ok" if done.returncode == 0 else "failed"


def _work_entries(folder):
    """What a harness work folder holds that the harness did not write (papermill/, plain-N/)."""
    return [name for name in os.listdir(folder) if not re.fullmatch(r"papermill|plain-\d+", name)]


def results_in(out):
    """What shows harness results in a folder: its work folder OUT/harness/ with the runs in it
    (a study folder may hold a copy of harness.csv alone). preflight.results_held."""
    work = os.path.join(out, WORK)
    if os.path.isdir(work) and os.listdir(work) and not _work_entries(work):
        return [WORK + "/"]
    return []


def measure(workload, backend, profile, pairs, out, data_dir, staging, overrides=None):
    """Alternates papermill and plain runs `pairs` times in `staging` (preflight.Staging, in
    `out`); then moves the work folder OUT/harness/ and harness.csv in, replacing an earlier
    call's (all its pairs). Nothing else in `out` is touched. Returns harness.csv's rows."""
    spec = plan.plan(profile, [workload], [backend], overrides=overrides)[0]
    out, data_dir = os.path.abspath(out), os.path.abspath(data_dir)
    old = os.path.join(out, WORK)
    if os.path.lexists(old) and not (os.path.isdir(old) and not _work_entries(old)):
        raise UserError(
            "%s holds files kerasbench harness did not write (%s): give kerasbench harness a "
            "folder of its own (--out)"
            % (old, ", ".join(_work_entries(old)[:3]) if os.path.isdir(old) else "a file")
        )
    work = os.path.join(staging.path, WORK)
    rows = []
    for pair in range(pairs):
        order = ("papermill", "plain") if pair % 2 == 0 else ("plain", "papermill")
        for harness in order:
            folder = os.path.join(work, "%s-%d" % (harness, pair))
            t0 = time.time()
            if harness == "papermill":
                run_spec = spec._replace(config="harness", repeat=pair)
                status = execute.execute(run_spec, os.path.join(work, "papermill"), data_dir)[
                    "status"
                ]
                wall = time.time() - t0
                folder = plan.run_dir(os.path.join(work, "papermill"), run_spec)
            else:
                status = _plain(spec, folder, data_dir)
                wall = time.time() - t0
            seconds = _epoch_times(folder)
            rows.append(
                {
                    "pair": pair,
                    "harness": harness,
                    "status": status,
                    "wall_seconds": round(wall, 3),
                    "first_epoch_seconds": seconds[0] if seconds else None,
                    "steady_epoch_seconds": statistics.mean(seconds[1:])
                    if len(seconds) > 1
                    else None,
                    "epochs": len(seconds),
                }
            )
    studyfiles.write_csv(
        os.path.join(staging.path, studyfiles.HARNESS_CSV), rows, studyfiles.HARNESS_COLUMNS
    )
    staging.commit([WORK, studyfiles.HARNESS_CSV])
    return rows


def ratios(rows):
    """Per pair, papermill over plain for wall time and steady epoch time; and their medians."""
    by_pair = {}
    for row in rows:
        by_pair.setdefault(row["pair"], {})[row["harness"]] = row
    wall, steady = [], []
    for pair in sorted(by_pair):
        a, b = by_pair[pair].get("papermill"), by_pair[pair].get("plain")
        if not a or not b or a["status"] != "ok" or b["status"] != "ok":
            continue
        wall.append(a["wall_seconds"] / b["wall_seconds"])
        if a["steady_epoch_seconds"] and b["steady_epoch_seconds"]:
            steady.append(a["steady_epoch_seconds"] / b["steady_epoch_seconds"])
    return {
        "pairs": len(wall),
        "wall_ratios": wall,
        "steady_ratios": steady,
        "median_wall_ratio": statistics.median(wall) if wall else None,
        "median_steady_ratio": statistics.median(steady) if steady else None,
    }
