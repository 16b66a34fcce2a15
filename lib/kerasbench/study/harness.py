"""What the harness costs: one workload through the notebook + papermill path and the same code as
a plain Python process (kerasbench.plain), alternated on the same machine in one go.

Host side: both run in a child process with the backend kernel's Python and environment; the
plain one executes the notebook's own code cells, so only the harness differs. Pairs alternate
their order (papermill first, then plain first) so drift on a shared machine spreads over both.
"""

import csv
import json
import os
import shutil
import statistics
import subprocess
import time

from kerasbench import registry, runfiles
from kerasbench.study import execute, kernels, plan
from kerasbench.errors import UserError

COLUMNS = [
    "pair",
    "harness",
    "status",
    "wall_seconds",
    "first_epoch_seconds",
    "steady_epoch_seconds",
    "epochs",
]


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


def measure(workload, backend, profile, pairs, out, data_dir, overrides=None):
    """Alternates papermill and plain runs `pairs` times; writes and returns harness.csv's rows."""
    spec = plan.plan(profile, [workload], [backend], overrides=overrides)[0]
    out, data_dir = os.path.abspath(out), os.path.abspath(data_dir)
    rows = []
    for pair in range(pairs):
        order = ("papermill", "plain") if pair % 2 == 0 else ("plain", "papermill")
        for harness in order:
            folder = os.path.join(out, "harness", "%s-%d" % (harness, pair))
            if os.path.isdir(folder):
                shutil.rmtree(folder)
            t0 = time.time()
            if harness == "papermill":
                run_spec = spec._replace(config="harness", repeat=pair)
                status = execute.execute(
                    run_spec, os.path.join(out, "harness", "papermill"), data_dir
                )["status"]
                wall = time.time() - t0
                folder = plan.run_dir(os.path.join(out, "harness", "papermill"), run_spec)
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
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "harness.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
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
