"""A run handed to another process (a child of `local --jobs`, a Ray worker): its spec as JSON
on the way there, and the record the executor writes for it when that process ended before
`execute` could write one. Host side.
"""

import os

from kerasbench import runfiles
from kerasbench.study import execute, plan


def lost_record(spec, out, data_dir, error, started, wall_seconds):
    """run.json for a run whose executor died before execute() could write one (failed)."""
    folder = plan.run_dir(out, spec)
    os.makedirs(folder, exist_ok=True)
    params = dict(
        spec.params, backend=spec.backend, run_dir=folder, seed=spec.seed, data_dir=data_dir
    )
    record = execute.run_record(
        spec,
        params,
        "failed",
        error,
        started,
        wall_seconds,
    )
    runfiles.write_json_atomic(os.path.join(folder, runfiles.RUN_JSON), record)
    return record


def spec_to_json(spec):
    return dict(spec._asdict())


def spec_from_json(data):
    return plan.RunSpec(**data)
