"""runfiles, the owner of the run folder's format: the epochs.csv writer and reader, atomic JSON,
the run.json record and read_run's checks. Fast, standard library only."""

import ast
import errno
import glob
import json
import os

import numpy as np
import pytest

from kerasbench import runfiles, studyfiles

from conftest import REPO


def write(folder, name, text):
    os.makedirs(str(folder), exist_ok=True)
    with open(os.path.join(str(folder), name), "w", newline="") as f:
        f.write(text)


def ok_record(**changes):
    record = runfiles.record(
        "mnist_mlp", "jax", "smoke", 0, 0, "default", {"epochs": 2}, "ok", None, runfiles.now(), 1.5
    )
    record.update(changes)
    return record


def ok_run(folder, rows="0,1.0,,,,0.5,,,\n1,1.0,,,,0.4,,,\n", **changes):
    write(folder, runfiles.EPOCHS_CSV, ",".join(runfiles.COLUMNS) + "\n" + rows)
    runfiles.write_json_atomic(os.path.join(str(folder), runfiles.RUN_JSON), ok_record(**changes))
    return str(folder)


# --- epochs.csv ----------------------------------------------------------------------------------


def test_writer_fixes_the_header_flushes_each_row_and_appends(tmp_path):
    path = str(tmp_path / runfiles.EPOCHS_CSV)
    writer = runfiles.EpochWriter(path)
    writer.write(
        {
            "epoch": 0,
            "epoch_seconds": np.float32(1.5),
            "loss": np.float64(0.25),
            "main_out_loss": 0.1,
            "val_loss": None,
            "accuracy": float("nan"),
        }
    )
    columns, rows, problems = runfiles.read_epochs(path)  # read while the file is open: flushed
    assert columns == runfiles.COLUMNS + ["main_out_loss"] and problems == []
    assert rows[0]["epoch_seconds"] == 1.5 and rows[0]["loss"] == 0.25
    assert rows[0]["val_loss"] is None and np.isnan(rows[0]["accuracy"])
    writer.close()
    again = runfiles.EpochWriter(path)  # a reopened file gets rows, not a second header
    again.write({"epoch": 1, "epoch_seconds": 2.0, "main_out_loss": 0.2})
    again.close()
    columns, rows, problems = runfiles.read_epochs(path)
    assert [r["epoch"] for r in rows] == [0.0, 1.0] and problems == []


@pytest.mark.parametrize(
    "body, problem",
    [
        ("epoch,epoch_seconds,val_accuracy\n0,1.0,0.5\n1,1.0,0.7", "last row is torn"),
        ("epoch,epoch_seconds,val_accuracy\n0,1.0,0.5\n1,1.0,0.7,9\n", "row 2: 4 cells"),
        ("epoch,epoch_seconds\n0,fast\n", "epoch_seconds is not a number"),
        ("step,seconds\n0,1.0\n", "no epoch or epoch_seconds column"),
        ("epoch,epoch_seconds\n0,1.0\n2,1.0\n", "not numbered 0, 1, 2"),
    ],
)
def test_damaged_epochs_csv_is_named_and_its_torn_rows_left_out(tmp_path, body, problem):
    write(tmp_path, runfiles.EPOCHS_CSV, body)
    columns, rows, problems = runfiles.read_epochs(str(tmp_path / runfiles.EPOCHS_CSV))
    assert len(problems) == 1 and problem in problems[0], problems
    assert "\n" not in problems[0]
    if "torn" in problem:
        assert [r["val_accuracy"] for r in rows] == [0.5]  # never a blank or wrong last value


def test_empty_epochs_csv_is_no_problem(tmp_path):
    write(tmp_path, runfiles.EPOCHS_CSV, "")
    assert runfiles.read_epochs(str(tmp_path / runfiles.EPOCHS_CSV)) == ([], [], [])


def test_non_utf8_epochs_csv(tmp_path):
    (tmp_path / runfiles.EPOCHS_CSV).write_bytes(b"epoch,epoch_seconds\n0,\xff\n")
    assert runfiles.read_epochs(str(tmp_path / runfiles.EPOCHS_CSV))[2] == [
        "epochs.csv is not UTF-8 text"
    ]


# --- JSON, atomically ----------------------------------------------------------------------------


def test_atomic_json_round_trip(tmp_path):
    path = str(tmp_path / "x.json")
    runfiles.write_json_atomic(path, {"b": 1, "a": [1, 2]})
    assert runfiles.read_json(path) == {"a": [1, 2], "b": 1}
    assert os.listdir(str(tmp_path)) == ["x.json"]
    assert runfiles.read_json(str(tmp_path / "missing.json")) is None


def test_full_disk_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = str(tmp_path / runfiles.RUN_JSON)
    runfiles.write_json_atomic(path, {"status": "old"})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as e:
        runfiles.write_json_atomic(path, {"status": "new"})
    assert e.value.errno == errno.ENOSPC
    assert runfiles.read_json(path) == {"status": "old"}
    assert os.listdir(str(tmp_path)) == [runfiles.RUN_JSON]


# --- run.json and read_run -----------------------------------------------------------------------


def test_a_whole_run_reads_without_problems(tmp_path):
    run = runfiles.read_run(ok_run(tmp_path))
    assert run.finished and run.status == "ok" and run.problems == []
    assert len(run.epochs) == 2 and run.record["kerasbench"]["code_path"] is None
    assert run.record["schema"] == runfiles.SCHEMA


def test_an_unfinished_run_is_not_damaged(tmp_path):
    write(tmp_path, runfiles.EPOCHS_CSV, ",".join(runfiles.COLUMNS) + "\n0,1.0,,,,0.5,,,\n")
    run = runfiles.read_run(str(tmp_path))
    assert not run.finished and run.problems == [] and len(run.epochs) == 1


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda f: write(f, runfiles.RUN_JSON, "[1, 2]"), "run.json is a list, not a JSON object"),
        (lambda f: write(f, runfiles.RUN_JSON, "{torn"), "run.json is not JSON"),
        (
            lambda f: os.remove(os.path.join(f, runfiles.EPOCHS_CSV)),
            "epochs.csv is missing, though run.json says ok",
        ),
        (
            lambda f: write(
                f, runfiles.EPOCHS_CSV, ",".join(runfiles.COLUMNS) + "\n0,1.0,,,,0.5,,,\n1,1."
            ),
            "the last row is torn",
        ),
        (
            lambda f: runfiles.write_json_atomic(
                os.path.join(f, runfiles.RUN_JSON), ok_record(repeat="0")
            ),
            "repeat is a string",
        ),
        (
            lambda f: runfiles.write_json_atomic(
                os.path.join(f, runfiles.RUN_JSON), ok_record(params=[1])
            ),
            "params is a list",
        ),
        (
            lambda f: runfiles.write_json_atomic(
                os.path.join(f, runfiles.RUN_JSON), ok_record(status="done")
            ),
            "status 'done'",
        ),
        (
            lambda f: runfiles.write_json_atomic(
                os.path.join(f, runfiles.RUN_JSON), ok_record(schema=99)
            ),
            "schema 99",
        ),
        (
            lambda f: runfiles.write_json_atomic(
                os.path.join(f, runfiles.RUN_JSON), ok_record(params={"epochs": 3})
            ),
            "epochs.csv has 2 whole rows, but run.json says ok with 3 epochs",
        ),
    ],
)
def test_read_run_says_what_is_wrong(tmp_path, damage, problem):
    folder = ok_run(tmp_path)
    damage(folder)
    run = runfiles.read_run(folder)
    assert any(problem in p for p in run.problems), run.problems
    assert run.damaged and "\n" not in run.why()


def test_runs_of_older_code_read_cleanly():
    """Schema 1 (no code path) as the committed results and the lead's GPU runs have it."""
    folders = [
        os.path.dirname(p)
        for p in glob.glob(
            os.path.join(REPO, "output", "reference", "**", runfiles.RUN_JSON), recursive=True
        )
    ]
    assert folders
    schemas = set()
    for folder in folders:
        run = runfiles.read_run(folder)
        assert run.problems == [], (folder, run.problems)
        schemas.add(run.record.get("schema"))
    assert 1 in schemas


def _spelled(owners, names, column_lists, head=2, sequences=(ast.List,)):
    """'path:line what' for every string in `names` and every list (or other of `sequences`)
    opening with the first `head` items (None: all) of one of `column_lists`, in a module of lib/kerasbench
    other than `owners` (docstrings aside)."""
    offenders = []
    for path in glob.glob(os.path.join(REPO, "lib", "kerasbench", "**", "*.py"), recursive=True):
        if os.path.relpath(path, os.path.join(REPO, "lib", "kerasbench")) in owners:
            continue
        tree = ast.parse(open(path).read())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        where = lambda node: "%s:%d" % (os.path.relpath(path, REPO), node.lineno)  # noqa: E731
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and node.value in names
            ):
                offenders.append("%s %r" % (where(node), node.value))
            if isinstance(node, sequences):
                opening = [getattr(e, "value", None) for e in node.elts][:head]
                for label, columns in column_lists.items():
                    if opening == list(columns)[:head]:
                        offenders.append("%s %s" % (where(node), label))
    return offenders


def test_only_runfiles_spells_the_format():
    """No other module names a run-folder file or the epochs.csv columns itself."""
    # (kernel.json is left out: a Jupyter kernel spec's file has the same name.)
    names = {runfiles.RUN_JSON, runfiles.EPOCHS_CSV, runfiles.KERNEL_PID}
    offenders = _spelled({"runfiles.py"}, names, {"the epochs.csv columns": runfiles.COLUMNS})
    assert not offenders, offenders


def test_only_studyfiles_spells_the_study_folder():
    """No module but studyfiles (and runfiles, for runs/) names a folder of the study folder,
    a file of parity, profile, harness or the report, the lock or staging names, or one of
    their column lists, variants or groups."""
    sf = studyfiles
    names = {
        # OUT's parts: as a path part (os.path.join(out, "parity"), out / "runs")
        sf.RUNS,
        sf.PARITY,
        sf.PROFILE,
        sf.HARNESS,
    }
    files = {
        sf.REPORT_HTML,
        sf.SUMMARY_CSV,
        sf.ANALYSIS_NOTEBOOK,
        sf.LEGACY_SUMMARY,
        sf.LOCK_FILE,
        sf.STAGING,
        sf.SWAP,
        sf.REPORT_STAGING,
        sf.LEGACY_REPORT_STAGING,
        sf.REPORT_SWAP_MARK,
        sf.PARITY_CSV,
        sf.PARITY_LOSSES_CSV,
        sf.PARITY_HTML,
        sf.PARITY_JOB_JSON,
        sf.PARITY_RESULT_JSON,
        sf.PARITY_KERNEL_LOSSES,
        sf.PREDICTIONS_NPZ,
        sf.CROSSLOAD_PREDICTIONS_NPZ,
        sf.layers_file(sf.WEIGHTS_STEP0),
        sf.layers_file(sf.WEIGHTS_FINAL),
        sf.PROFILE_JSON,
        sf.PROFILE_CSV,
        sf.PROFILE_JOB_JSON,
        sf.PROFILE_KERNEL_JSON,
        sf.PROFILE_EPOCHS_CSV,
        sf.HARNESS_CSV,
    }
    columns = {
        "parity.csv's columns": sf.PARITY_COLUMNS,
        "parity_losses.csv's columns": sf.PARITY_LOSS_COLUMNS,
        "profile.csv's columns": sf.PROFILE_COLUMNS,
        "harness.csv's columns": sf.HARNESS_COLUMNS,
        "the profile variants": sf.VARIANTS,
        "the profile groups": sf.GROUPS,
    }
    owners = {"runfiles.py", "studyfiles.py"}
    # a whole list spelled again (the opening words are common: workload, backend, config)
    offenders = _spelled(owners, files, columns, head=None, sequences=(ast.List, ast.Tuple))
    # The folder names are ordinary words ("profile" is a parameter, "runs" a column): only a
    # path built from one counts: os.path.join(..., "parity"), x / "runs", f"{out}/runs".
    for path in glob.glob(os.path.join(REPO, "lib", "kerasbench", "**", "*.py"), recursive=True):
        if os.path.relpath(path, os.path.join(REPO, "lib", "kerasbench")) in owners:
            continue
        for node in ast.walk(ast.parse(open(path).read())):
            parts = []
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "join":
                if getattr(node.func.value, "attr", None) == "path":  # os.path.join
                    parts = node.args[1:]
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                parts = [node.right]
            elif isinstance(node, ast.JoinedStr):
                parts = [
                    ast.Constant(v.value.lstrip("/").split("/")[0])
                    for v in node.values[1:]
                    if isinstance(v, ast.Constant) and v.value.startswith("/")
                ]
            for part in parts:
                if isinstance(part, ast.Constant) and part.value in names:
                    offenders.append(
                        "%s:%d %r as a path part"
                        % (os.path.relpath(path, REPO), node.lineno, part.value)
                    )
    assert not offenders, offenders


def test_study_csv_round_trip_and_damage_named(tmp_path):
    path = str(tmp_path / studyfiles.HARNESS_CSV)
    rows = [{"pair": 0, "harness": "plain", "status": "ok", "wall_seconds": 1.5, "extra": "x"}]
    studyfiles.write_csv(path, rows, studyfiles.HARNESS_COLUMNS)
    assert os.listdir(str(tmp_path)) == [studyfiles.HARNESS_CSV]  # no temporary file left
    read, problems = studyfiles.read_csv(path, studyfiles.HARNESS_COLUMNS)
    assert problems == [] and read[0]["wall_seconds"] == "1.5" and read[0]["epochs"] == ""
    assert "extra" not in read[0]
    with open(path, "a") as f:
        f.write("1,papermill\n")
    read, problems = studyfiles.read_csv(path, ["pair", "verdict"])
    assert len(read) == 1
    assert problems == [
        "harness.csv has no column verdict",
        "harness.csv row 2: 2 cells, the header has 7",
    ]
    assert studyfiles.read_csv(str(tmp_path / "none.csv"), [])[1][0].startswith(
        "none.csv cannot be read"
    )


def test_full_disk_keeps_the_old_csv(tmp_path, monkeypatch):
    path = str(tmp_path / studyfiles.PARITY_CSV)
    studyfiles.write_csv(path, [{"workload": "old"}], studyfiles.PARITY_COLUMNS)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        studyfiles.write_csv(path, [{"workload": "new"}], studyfiles.PARITY_COLUMNS)
    monkeypatch.undo()
    assert os.listdir(str(tmp_path)) == [studyfiles.PARITY_CSV]
    assert studyfiles.read_csv(path, studyfiles.PARITY_COLUMNS)[0][0]["workload"] == "old"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("[1]", "profile.json is not a JSON object"),
        ('{"schema": 7}', "profile.json has schema 7, not 1"),
        ('{"status": "ok", "breakdown": {}}', "profile.json says ok but has no breakdown by group"),
    ],
)
def test_read_profile_names_what_is_wrong(tmp_path, text, problem):
    write(tmp_path, studyfiles.PROFILE_JSON, text)
    record, problems = studyfiles.read_profile(str(tmp_path / studyfiles.PROFILE_JSON))
    assert record is None and problems == [problem]


def test_committed_profiles_read_cleanly():
    paths = glob.glob(
        os.path.join(
            REPO, "output", "reference", "*", studyfiles.PROFILE, "**", studyfiles.PROFILE_JSON
        ),
        recursive=True,
    )
    assert paths
    for path in paths:
        record, problems = studyfiles.read_profile(path)
        assert problems == [] and record["schema"] == studyfiles.PROFILE_SCHEMA, (path, problems)


def test_record_is_json_and_complete():
    record = ok_record()
    assert runfiles.check_record(json.loads(json.dumps(record))) == []
    for key in (
        "workload",
        "backend",
        "profile",
        "repeat",
        "seed",
        "config",
        "params",
        "data",
        "versions",
        "device",
        "backend_settings",
        "model_parameters",
        "sample",
        "kerasbench",
        "host",
        "started_at",
        "ended_at",
        "wall_seconds",
        "status",
        "error",
        "schema",
    ):
        assert key in record


def test_read_run_holds_run_json_to_the_identity_it_is_given(tmp_path):
    folder = runfiles.run_folder(str(tmp_path), "mnist_mlp", "jax", "default", 0)
    ok_run(folder)
    assert runfiles.path_identity(folder) == ("mnist_mlp", "jax", "default", 0)
    assert runfiles.read_run(folder, runfiles.path_identity(folder)).problems == []
    run = runfiles.read_run(folder, ("mnist_mlp", "jax", "tuned", 0))
    assert run.record is None and run.damaged  # no record of the run its folder names
    assert run.why() == (
        "run.json is the record of mnist_mlp/jax/0, not of the folder it is in "
        "(mnist_mlp/jax/tuned-0): a run folder renamed, moved or copied"
    )
    assert runfiles.read_run(folder).problems == []  # no identity asked: not checked


@pytest.mark.parametrize(
    "row, problem",
    [
        ("0,nan,,,,0.5,,,\n", "epoch 0: epoch_seconds is nan, not a time in seconds"),
        ("0,0,,,,0.5,,,\n", "epoch 0: epoch_seconds is 0.0, not a time in seconds"),
        ("0,-2,,,,0.5,,,\n", "epoch 0: epoch_seconds is -2.0, not a time in seconds"),
        ("0,1e308,,,,0.5,,,\n", "epoch 0: epoch_seconds is 1e+308, not a time in seconds"),
        ("0,,,,,0.5,,,\n", "epoch 0: epoch_seconds is empty"),
        ("0,1.0,,-1,,0.5,,,\n", "epoch 0: elapsed_seconds is -1.0, not a time in seconds"),
        ("0,1.0,,,,nan,,,\n", "epoch 0: loss is nan, not a finite number"),
        ("0,1.0,,,,0.5,,,-inf\n", "epoch 0: val_accuracy is -inf, not a finite number"),
    ],
)
def test_an_ok_run_with_a_number_the_report_cannot_use_is_damaged(tmp_path, row, problem):
    folder = ok_run(tmp_path, rows=row + "1,1.0,,,,0.4,,,\n")
    assert problem in runfiles.read_run(folder).why()
    # The same rows in a run that failed (at a NaN, say) are what it logged: no problem.
    runfiles.write_json_atomic(
        os.path.join(folder, runfiles.RUN_JSON), ok_record(status="failed", error="NaN loss")
    )
    assert runfiles.read_run(folder).problems == []
