"""The study folder and the files of `parity`, `profile` and `harness`: their only owner.

`runfiles` owns a run folder; this module owns everything around it: the layout of the study
folder OUT, the lock and staging names a command uses in its --out, and the formats that
`kerasbench parity`, `kerasbench profile` and `kerasbench harness` write and the report reads
(file names, CSV columns, schema versions, atomic writers, readers that say what is wrong).
The host side (cli, study/, report/) and the kernel side (kernel/parity, kernel/profile) both
go through it. Ground floor: standard library only, Python 3.6 syntax (the CNTK kernel imports
it); `read_layers` imports h5py and NumPy when it is called, on either side.

    OUT/                            the study folder (`kerasbench run`, `kerasbench report`)
        runs/                       the run folders (runfiles.run_folder)
        report.html, summary.csv    `kerasbench report` (with analysis.ipynb, the executed notebook)
        parity/                     `kerasbench parity --out OUT/parity` (PARITY_* below)
        profile/<workload>/<backend>[-<config>]/    `kerasbench profile` (PROFILE_* below)
        harness.csv                 a copy of a harness folder's table (HARNESS_* below)
        .kerasbench.lock            held by the command using OUT
        .kerasbench-staging-<kind>-XXXX/   a call's results until they move in
        .kerasbench-report-XXXX/    a report's page and summary.csv until they move in

docs/design.md describes every file; tests/test_runfiles.py fails if another module spells
one of these names.
"""

import csv
import io
import os
import tempfile

from kerasbench import runfiles

# --- the study folder ----------------------------------------------------------------------------

RUNS = runfiles.RUNS  # OUT/runs/: the run folders
PARITY = "parity"  # OUT/parity/: where the report looks for `kerasbench parity`'s results
PROFILE = "profile"  # OUT/profile/: where the report looks for `kerasbench profile`'s results
HARNESS = "harness"  # OUT/harness/: `kerasbench harness`'s default --out

REPORT_HTML = "report.html"
SUMMARY_CSV = "summary.csv"
ANALYSIS_NOTEBOOK = "analysis.ipynb"  # the executed analysis notebook, beside report.html
REPORT_FILES = (REPORT_HTML, SUMMARY_CSV)  # what `kerasbench report` writes into its --out

LOCK_FILE = ".kerasbench.lock"  # in --out: the pid of the command that uses it
STAGING = ".kerasbench-staging-"  # OUT/.kerasbench-staging-<kind>-XXXX: a call's results
SWAP = "moving-in.json"  # in a staging folder: what its commit moves in and what it removes

REPORT_STAGING = ".kerasbench-report-"  # OUT/.kerasbench-report-XXXX: a report being written
REPORT_STAGING_LOCK = ".lock"  # in it: flocked while its report lives
REPORT_SWAP_MARK = "SWAPPING"  # in it: the swap into OUT has begun
# Moved into OUT in this order once REPORT_SWAP_MARK is written: summary.csv last, so that a kill
# in the middle never leaves a new summary.csv beside the old page.
REPORT_SWAPPED = (ANALYSIS_NOTEBOOK, REPORT_HTML, SUMMARY_CSV)
LEGACY_REPORT_STAGING = ".report-"  # kerasbench before REPORT_STAGING, which moved summary.csv
LEGACY_SUMMARY = SUMMARY_CSV + ".previous"  # ... aside into such a folder


def study_part(out, part):
    """OUT/<part>: `study_part(out, PARITY)` is OUT/parity."""
    return os.path.join(out, part)


# --- parity: `kerasbench parity --out DIR` -------------------------------------------------------

PARITY_CSV = "parity.csv"  # the host's checks (what the report reads)
PARITY_LOSSES_CSV = "parity_losses.csv"  # the host's per-step loss comparison
PARITY_HTML = "parity.html"  # the parity section as a page of its own
PARITY_COLUMNS = [
    "workload",
    "backend",
    "reference",
    "check",
    "layer",
    "value",
    "tolerance",
    "passed",
    "headroom",
    "verdict",
    "note",
]
PARITY_LOSS_COLUMNS = [
    "workload",
    "backend",
    "reference",
    "step",
    "loss",
    "reference_loss",
    "relative_difference",
    "tolerance",
]
NOT_INFORMATIVE = "not informative"  # parity.csv's verdict where a check could not fail

# DIR/<workload>/<backend>/: one backend's process (kernel/parity.py writes all but the job)
PARITY_JOB_JSON = "job.json"  # the host's job for the process
PARITY_RESULT_JSON = "result.json"  # the kernel's result, written last
PARITY_KERNEL_LOSSES = "losses.csv"  # the kernel's loss at every step
PARITY_KERNEL_LOSS_COLUMNS = ["step", "loss"]
PREDICTIONS_NPZ = "predictions.npz"
CROSSLOAD_PREDICTIONS_NPZ = "crossload_predictions.npz"
INITIAL_WEIGHTS = "init"  # stems: <stem>.weights.h5 (Keras 3) and <stem>.layers.h5 (both)
TRAINED_WEIGHTS = "trained"
WEIGHTS_STEP0 = "weights_step0"  # <stem>.layers.h5: what a backend holds before its first step
WEIGHTS_FINAL = "weights_final"  # ... and after its last


def layers_file(stem):
    """`<stem>.layers.h5`: one group per layer in layer order (kernel/parity.save_layers)."""
    return stem + ".layers.h5"


def keras_weights_file(stem):
    """`<stem>.weights.h5`: Keras 3's backend-neutral weights."""
    return stem + ".weights.h5"


def is_weights_file(name):
    """The weight files of a parity folder (`.weights.h5`, `.layers.h5`): what the comparisons
    read, and, for a model such as fastText's 1.2M-word embedding, hundreds of MB each."""
    return name.endswith(".weights.h5") or name.endswith(".layers.h5")


def read_layers(path):
    """[(name, class, [arrays])] in layer order, from a `.layers.h5` file."""
    import h5py
    import numpy as np

    layers = []
    with h5py.File(path, "r") as f:
        for key in sorted(f.keys()):
            group = f[key]
            arrays = [np.asarray(group[str(j)]) for j in range(len(group.keys()))]
            layers.append((str(group.attrs["name"]), str(group.attrs["class"]), arrays))
    return layers


# --- profile: `kerasbench profile --out DIR` -----------------------------------------------------

PROFILE_SCHEMA = 1
PROFILE_JSON = "profile.json"  # the host's record, written last (what the report reads)
PROFILE_CSV = "profile.csv"
PROFILE_JOB_JSON = "profile_job.json"  # the host's job for the kernel
PROFILE_KERNEL_JSON = "profile_kernel.json"  # the kernel's timings (kernel/profile.py)
PROFILE_EPOCHS_CSV = "fit_default_epochs.csv"  # the epoch logger of the fit_default variant
# The ablation variants, from what a user gets to the bare step (kernel/profile.py's docstring).
VARIANTS = ("fit_default", "fit_metrics", "fit_bare", "fit_device", "fit_epoch", "step_loop")
# What the breakdown's parts add up to in the report (study/profile.py's PARTS).
GROUPS = [
    "device compute",
    "host dispatch and Python overhead",
    "input feeding",
    "callbacks and metrics",
]
PROFILE_COLUMNS = [
    "workload",
    "backend",
    "config",
    "kind",
    "name",
    "group",
    "seconds_per_step",
    "fraction",
    "derived_as",
]


def read_profile(path):
    """(profile.json's record or None, [what is wrong]): a record that is no JSON object, is of
    an unknown schema, or says ok without a whole breakdown is named, and comes back as None."""
    data = runfiles.read_json(path)
    if not isinstance(data, dict):
        return None, ["%s is not a JSON object" % PROFILE_JSON]
    problems = []
    if data.get("schema", PROFILE_SCHEMA) != PROFILE_SCHEMA:
        problems.append("%s has schema %r, not %d" % (PROFILE_JSON, data["schema"], PROFILE_SCHEMA))
    if data.get("status") == "ok":
        b = data.get("breakdown")
        groups = b.get("groups") if isinstance(b, dict) else None
        if not isinstance(groups, dict) or [g for g in GROUPS if g not in groups]:
            problems.append("%s says ok but has no breakdown by group" % PROFILE_JSON)
    return (None if problems else data), problems


# --- harness: `kerasbench harness --out DIR` -----------------------------------------------------

HARNESS_CSV = "harness.csv"  # DIR/harness.csv; a study folder may hold a copy
HARNESS_WORK = "harness"  # DIR/harness/: papermill/ (its run folders) and plain-<pair>/
HARNESS_COLUMNS = [
    "pair",
    "harness",
    "status",
    "wall_seconds",
    "first_epoch_seconds",
    "steady_epoch_seconds",
    "epochs",
]


# --- CSV -----------------------------------------------------------------------------------------


def write_csv(path, rows, columns):
    """Writes a header of `columns` and one line per row dict (keys beyond them left out, missing
    ones empty) to a temporary file beside `path`, synced, then renamed into place: `path` keeps
    its old content or stays absent whatever fails, and no temporary file is left behind."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with io.open(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="", extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


def read_csv(path, columns):
    """(rows as dicts of strings, [what is wrong]) of a CSV file written with `columns`: a missing
    or unreadable file, a header without some of them, or a row of the wrong length is named
    (file name, row number); such rows are left out."""
    name = os.path.basename(path)
    try:
        with io.open(path, newline="", encoding="utf-8") as f:
            lines = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        return [], ["%s cannot be read (%s)" % (name, getattr(e, "strerror", None) or e)]
    if not lines:
        return [], ["%s is empty" % name]
    header, problems, rows = lines[0], [], []
    missing = [c for c in columns if c not in header]
    if missing:
        problems.append("%s has no column %s" % (name, ", ".join(missing)))
    for number, cells in enumerate(lines[1:], 1):
        if len(cells) != len(header):
            problems.append(
                "%s row %d: %d cells, the header has %d" % (name, number, len(cells), len(header))
            )
            continue
        rows.append(dict(zip(header, cells)))
    return rows, problems
