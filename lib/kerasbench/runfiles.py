"""The run folder: the one contract between the host and a kernel. Ground floor, both sides.

Standard library only and Python 3.6 syntax: the CNTK kernel, the host, `native/` and the tests
all read and write run folders through this module.
"""
import datetime
import json
import os

SCHEMA = 1

# The files of a run folder (docs/design.md).
RUN_JSON = "run.json"  # written last, atomically, by the runner: the run is finished when it exists
KERNEL_JSON = "kernel.json"  # what the kernel recorded
EPOCHS_CSV = "epochs.csv"  # one row per epoch, flushed
SAMPLE_TXT = "sample.txt"  # text models: generated text
KERNEL_LOG = "kernel.log"  # the kernel's fds 1 and 2
KERNEL_PID = "kernel.pid"  # while a run's kernel lives: its pid and connection file
NOTEBOOK = "notebook.ipynb"  # the executed notebook


def now():
    """The time now, UTC, ISO 8601: how run.json and kernel.json write times."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def read_json(path):
    """The JSON in `path`, or None where it is missing or not JSON."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json_atomic(path, data):
    """Writes `data` to a temporary file beside `path`, then renames it into place."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
