"""`kerasbench merge SOURCE... --out OUT`: run folders made on other machines, into one study.

Generated run folders (test_identity.write_run: whole ok runs of two epochs). A finished run is
copied to the place its path names, once: the same run again is skipped, another run of that id
is refused by name and never overwrites; unfinished, damaged and renamed runs are refused. Bad
input is one line and exit 2. Fast: no kernel."""

import json
import os
import shutil

import pytest

from kerasbench import cli, runfiles
from kerasbench.report import rundata
from kerasbench.study import preflight

from test_identity import write_run


def merge(capfd, out, *sources):
    code = cli.main(["merge"] + [str(s) for s in sources] + ["--out", str(out)])
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    return code, err


def summary(err):
    lines = [line for line in err.splitlines() if line.startswith("kerasbench merge: ")]
    assert lines and "copied" in lines[-1], err
    return lines[-1]


def tree(folder):
    """{relative path: bytes} of every file below `folder`."""
    found = {}
    for path, _, files in os.walk(folder):
        for name in files:
            full = os.path.join(path, name)
            with open(full, "rb") as f:
                found[os.path.relpath(full, folder)] = f.read()
    return found


@pytest.fixture
def machines(tmp_path):
    """Two study folders made on two machines: a/ with jax and torch repeat 0, b/ with jax
    repeat 1 and a tuned torch run."""
    a, b = tmp_path / "a" / "runs", tmp_path / "b" / "runs"
    write_run(a, backend="jax", repeat=0)
    write_run(a, backend="torch", repeat=0)
    write_run(b, backend="jax", repeat=1)
    write_run(b, backend="torch", config="tuned", repeat=0)
    return tmp_path / "a", tmp_path / "b"


def test_runs_of_two_machines_become_one_study(machines, tmp_path, capfd):
    a, b = machines
    out = tmp_path / "study"
    code, err = merge(capfd, out, a, b / "runs")  # a study folder, and a runs folder
    assert code == 0, err
    assert summary(err) == (
        "kerasbench merge: 4 copied, 0 skipped (there already, the same files), 0 refused; "
        "into %s" % (out / "runs")
    )
    assert tree(out / "runs") == dict(
        **{os.path.join("mnist_mlp", k): v for k, v in tree(a / "runs" / "mnist_mlp").items()},
        **{os.path.join("mnist_mlp", k): v for k, v in tree(b / "runs" / "mnist_mlp").items()},
    )
    study = rundata.load_study(str(out / "runs"), [])  # the report reads every one
    assert len(study.runs) == 4
    assert sorted(os.listdir(out)) == [preflight.LOCK_FILE, "runs"], "no staging folder left"

    # The same sources again: all skipped, nothing written.
    before = {p: os.path.getmtime(out / "runs" / p) for p in tree(out / "runs")}
    code, err = merge(capfd, out, a, b)
    assert code == 0 and ": 0 copied, 4 skipped (" in summary(err), err
    assert {p: os.path.getmtime(out / "runs" / p) for p in tree(out / "runs")} == before


def test_another_run_of_the_same_id_is_refused_by_name_and_never_overwritten(
    machines, tmp_path, capfd
):
    a, b = machines
    out = tmp_path / "study"
    mine = write_run(out / "runs", backend="jax", repeat=0, wall_seconds=99.0)
    kept = tree(mine)
    code, err = merge(capfd, out, a, b)
    assert code == 1, err
    refused = [line for line in err.splitlines() if "refused " in line]
    assert refused == [
        "kerasbench merge: refused %s: %s holds another run of that id (other files; never "
        "overwritten)"
        % (a / "runs" / "mnist_mlp" / "jax" / "0", out / "runs" / "mnist_mlp" / "jax" / "0")
    ], err
    assert ": 3 copied, 0 skipped (there already, the same files), 1 refused;" in summary(err)
    assert tree(mine) == kept


def test_two_sources_with_one_id_the_second_is_refused(machines, tmp_path, capfd):
    a, _ = machines
    other = tmp_path / "c" / "runs"
    write_run(other, backend="jax", repeat=0, wall_seconds=7.0)  # a's jax/0, other files
    shutil.copytree(a / "runs" / "mnist_mlp" / "torch", other / "mnist_mlp" / "torch")  # same
    out = tmp_path / "study"
    code, err = merge(capfd, out, a, other)
    assert code == 1
    assert (
        "refused %s: %s, merged before it, holds another run of that id (other files"
        % (
            other / "mnist_mlp" / "jax" / "0",
            a / "runs" / "mnist_mlp" / "jax" / "0",
        )
        in err
    ), err
    assert ": 2 copied, 1 skipped (there already, the same files), 1 refused;" in summary(err)
    assert tree(out / "runs" / "mnist_mlp" / "jax") == tree(a / "runs" / "mnist_mlp" / "jax")


def test_unfinished_damaged_and_renamed_runs_are_refused(tmp_path, capfd):
    source = tmp_path / "elsewhere" / "runs"
    whole = write_run(source, backend="jax", repeat=0)
    unfinished = write_run(source, backend="jax", repeat=1)
    os.remove(unfinished / runfiles.RUN_JSON)
    damaged = write_run(source, backend="jax", repeat=2)
    (damaged / runfiles.EPOCHS_CSV).write_text(",".join(runfiles.COLUMNS) + "\n")
    renamed = source / "mnist_mlp" / "jax" / "3"
    shutil.copytree(whole, renamed)  # its run.json says repeat 0
    odd = source / "mnist_mlp" / "jax" / "0 copy"
    shutil.copytree(whole, odd)
    out = tmp_path / "study"
    code, err = merge(capfd, out, source)
    assert code == 1
    why = {
        line.split(": ", 2)[1]: line.split(": ", 2)[2]
        for line in err.splitlines()
        if line.startswith("kerasbench merge: refused ")
    }
    assert why["refused %s" % unfinished] == "unfinished (no run.json)"
    assert why["refused %s" % damaged] == (
        "damaged: epochs.csv has 0 whole rows, but run.json says ok with 2 epochs"
    )
    assert why["refused %s" % renamed].startswith("run.json is the record of mnist_mlp/jax/0, not")
    assert why["refused %s" % odd].startswith("its name is not a run folder's")
    assert ": 1 copied, 0 skipped (there already, the same files), 4 refused;" in summary(err)
    assert os.listdir(out / "runs" / "mnist_mlp" / "jax") == ["0"]
    assert (
        json.loads((out / "runs" / "mnist_mlp" / "jax" / "0" / "run.json").read_text())["repeat"]
        == 0
    )


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t: t / "missing", "missing: not found (give study, runs or run folders)"),
        (lambda t: (t / "file").write_text("x") and t / "file", "file: not a folder"),
        (lambda t: (t / "empty").mkdir() or t / "empty", "empty holds no run folder"),
    ],
)
def test_bad_sources_are_one_line_and_exit_2(make, message, tmp_path, capfd):
    source = make(tmp_path)
    out = tmp_path / "study"
    code, err = merge(capfd, out, source)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and message in errors[0], err
    assert not out.exists(), "nothing created"


def test_an_out_of_another_command_or_in_use_is_refused(machines, tmp_path, capfd):
    a, _ = machines
    parity = tmp_path / "parity"
    parity.mkdir()
    (parity / "parity.csv").write_text("workload\n")
    code, err = merge(capfd, parity, a)
    assert code == 2 and "holds the results of kerasbench parity (parity.csv)" in err, err
    assert os.listdir(parity) == ["parity.csv"]
    out = tmp_path / "study"
    out.mkdir()
    with preflight.lock_output(str(out)):
        code, err = merge(capfd, out, a)
    assert code == 2 and "is in use by another kerasbench run (pid %d" % os.getpid() in err, err
    assert not (out / "runs").exists()


def test_merge_without_a_source_is_argparse_one_line(capfd):
    with pytest.raises(SystemExit) as stop:
        cli.main(["merge", "--out", "x"])
    err = capfd.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert "the following arguments are required: SOURCE" in err
