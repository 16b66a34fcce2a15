"""A run is what its folder says it is, and every number is checked before it is used (issue 28):
folders renamed, moved, copied or linked; unusable epoch times in an ok run; reference logs
and source.yaml parsed strictly. The report refuses each with one line naming the folder or
file (exit 2), resume trains a refused run again. Fast: generated run folders, no kernel."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kerasbench import cli, runfiles
from kerasbench.errors import UserError
from kerasbench.report import references, rundata, tidy
from kerasbench.study import plan, runner

from conftest import REPO

SHIPPED = references.SHIPPED_REFERENCE


def write_run(runs, workload="mnist_mlp", backend="jax", config="default", repeat=0, **changes):
    """A whole ok run of two epochs at runfiles.run_folder's place; `changes` go into run.json
    (`epochs`: the epoch_seconds cells instead of 1.0, 1.0)."""
    seconds = changes.pop("epochs", ["1.0", "1.0"])
    folder = runfiles.run_folder(str(runs.parent), workload, backend, config, repeat)
    os.makedirs(folder)
    rows = "".join("%d,%s,,%d.0,,0.5,,,0.9\n" % (i, s, i + 1) for i, s in enumerate(seconds))
    with open(os.path.join(folder, runfiles.EPOCHS_CSV), "w") as f:
        f.write(",".join(runfiles.COLUMNS) + "\n" + rows)
    record = runfiles.record(
        workload,
        backend,
        "smoke",
        repeat,
        0,
        config,
        {"epochs": len(seconds)},
        "ok",
        None,
        runfiles.now(),
        10.0,
        kernel_info={"device": {"cpu": "Test CPU", "host": "box"}},
    )
    record.update(changes)
    runfiles.write_json_atomic(os.path.join(folder, runfiles.RUN_JSON), record)
    return Path(folder)


def refusal(runs):
    with pytest.raises(tidy.RunDataError) as e:
        rundata.load_study(runs, [])
    assert "\n" not in str(e.value)
    return str(e.value)


def report_cli(runs, capsys, *extra):
    code = cli.main(
        ["report", "--runs", str(runs), "--out", str(runs.parent / "out")] + list(extra)
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def runs(tmp_path):
    runs = tmp_path / "study" / "runs"
    write_run(runs, repeat=0)
    write_run(runs, backend="torch", repeat=0)
    return runs


# --- the name and the path ---------------------------------------------------------------


def test_run_folder_names_read_back_and_nothing_else():
    for config, repeat in [("default", 0), ("default", 12), ("tuned", 0), ("tuned-callbacks", 3)]:
        name = runfiles.run_name(config, repeat)
        assert runfiles.parse_run_name(name) == (config, repeat)
        folder = runfiles.run_folder("/x", "mnist_mlp", "jax", config, repeat)
        assert runfiles.path_identity(folder) == ("mnist_mlp", "jax", config, repeat)
    for name in ["0 copy", "00", "01", "default-0", "tuned-", "-0", "tuned-00", "x", "1.0", "٣"]:
        assert runfiles.parse_run_name(name) is None, name


def test_a_renamed_folder_is_refused_by_name(runs, capsys):
    # jax/0 renamed jax/tuned-0: its run.json still says default.
    os.rename(runs / "mnist_mlp" / "jax" / "0", runs / "mnist_mlp" / "jax" / "tuned-0")
    line = refusal(runs)
    assert "run.json is the record of mnist_mlp/jax/0" in line and "mnist_mlp/jax/tuned-0" in line
    assert "mnist_mlp/jax/tuned-0" in report_cli(runs, capsys)


def test_a_run_moved_under_another_workload_is_refused(runs):
    os.makedirs(runs / "mnist_cnn" / "jax")
    os.rename(runs / "mnist_mlp" / "jax" / "0", runs / "mnist_cnn" / "jax" / "0")
    line = refusal(runs)
    assert "record of mnist_mlp/jax/0, not of the folder it is in (mnist_cnn/jax/0)" in line


@pytest.mark.parametrize("copy", ["0 copy", "00", "default-0", "1"])
def test_a_second_copy_of_a_run_is_refused_not_counted(runs, copy, capsys):
    """Two sibling copies of jax/0 gave runs=3 and a zero-width interval (issue 28)."""
    shutil.copytree(runs / "mnist_mlp" / "jax" / "0", runs / "mnist_mlp" / "jax" / copy)
    line = refusal(runs)
    assert str(runs / "mnist_mlp" / "jax" / copy) in line
    assert ("not named as a run folder" in line) == (copy != "1")
    assert str(runs / "mnist_mlp" / "jax" / copy) in report_cli(runs, capsys)


def test_every_refused_folder_is_named_on_the_one_line(runs):
    for copy in ["0 copy", "00", "9", "copy 2"]:
        shutil.copytree(runs / "mnist_mlp" / "jax" / "0", runs / "mnist_mlp" / "jax" / copy)
    line = refusal(runs)
    assert line.count(str(runs)) == 3 and line.endswith("(and 1 more)")


def test_a_folder_without_a_run_is_not_refused(runs):
    (runs / "mnist_mlp" / "jax" / "notes").mkdir()
    (runs / "mnist_mlp" / "jax" / "notes" / "todo.txt").write_text("rerun tuned")
    (runs / "mnist_mlp" / "jax" / "0 copy.txt").write_text("a file, not a folder")
    assert len(rundata.load_study(runs, []).runs) == 2


def test_an_unfinished_named_run_has_its_identity_from_the_path(runs):
    folder = runs / "mnist_mlp" / "jax" / "tuned-1"
    folder.mkdir()
    (folder / runfiles.EPOCHS_CSV).write_text(",".join(runfiles.COLUMNS) + "\n")
    index = rundata.load_study(runs, []).runs.set_index("run_id")
    assert index.loc["mnist_mlp/jax/tuned-1", ["config", "repeat", "status"]].tolist() == [
        "tuned",
        1,
        "unfinished",
    ]


# --- symbolic links ------------------------------------------------------------------------


def test_a_linked_run_folder_is_followed_as_the_run_its_path_names(runs, tmp_path):
    elsewhere = tmp_path / "kept" / "0"
    shutil.move(str(runs / "mnist_mlp" / "jax" / "0"), str(elsewhere))
    os.symlink(str(elsewhere), str(runs / "mnist_mlp" / "jax" / "0"))
    index = rundata.load_study(runs, []).runs
    assert sorted(index["run_id"]) == ["mnist_mlp/jax/0", "mnist_mlp/torch/0"]
    # A second link to the same run is a copy: its path names repeat 1, its run.json 0.
    os.symlink("0", str(runs / "mnist_mlp" / "jax" / "1"))
    assert "record of mnist_mlp/jax/0, not of the folder it is in (mnist_mlp/jax/1)" in (
        refusal(runs)
    )


@pytest.mark.parametrize("target", ["/nonexistent/run", "loop"])
def test_a_link_that_leads_nowhere_is_one_line(runs, target, capsys):
    link = runs / "mnist_mlp" / "jax" / "2"
    os.symlink(str(link) if target == "loop" else target, str(link))
    line = refusal(runs)
    assert str(link) in line and "symbolic link" in line
    assert str(link) in report_cli(runs, capsys)


# --- resume ---------------------------------------------------------------------------------


def smoke(**kw):
    return plan.plan("smoke", ["mnist_mlp"], ["jax"], **kw)


class Recorder(object):
    """An executor that 'trains' by writing a whole ok run of the planned identity."""

    name = "local"

    def __init__(self):
        self.ran = []

    def run(self, specs, out, data_dir, timeout=None, started=None):
        for spec in specs:
            self.ran.append(plan.run_dir("", spec))
            folder = plan.run_dir(out, spec)
            if os.path.isdir(folder):
                shutil.rmtree(folder)
            write_run(
                Path(out) / runfiles.RUNS,
                spec.workload,
                spec.backend,
                spec.config,
                spec.repeat,
                params=dict(spec.params),
                seed=spec.seed,
                profile=spec.profile,
                epochs=["1.0"] * spec.params["epochs"],
            )
            yield spec, runfiles.read_run(folder).record


def matrix(specs, out, log):
    executor = Recorder()
    with open(log, "w") as stream:
        runner.run_matrix(specs, out, None, stream=stream, executor=executor)
    return executor.ran, open(log).read()


def test_resume_trains_a_folder_whose_run_json_is_another_run(tmp_path):
    out = str(tmp_path / "out")
    default, tuned = smoke()[0], smoke(config="tuned")[0]
    matrix([default], out, str(tmp_path / "log"))
    # The default run copied to where the tuned run belongs: not done, not another plan.
    shutil.copytree(plan.run_dir(out, default), plan.run_dir(out, tuned))
    state, why = runner.resume_state(out, tuned)
    assert state == runner.TODO and "run.json is the record of mnist_mlp/jax/0" in why
    ran, log = matrix([default, tuned], out, str(tmp_path / "log"))
    assert ran == [os.path.join("runs", "mnist_mlp", "jax", "tuned-0")]
    assert "its files are damaged (run.json is the record of" in log
    assert runfiles.read_run(plan.run_dir(out, tuned)).record["config"] == "tuned"


def test_run_never_trains_into_a_linked_folder_but_skips_a_finished_one(tmp_path, capsys):
    out = str(tmp_path / "out")
    spec = smoke()[0]
    matrix([spec], out, str(tmp_path / "log"))
    folder = plan.run_dir(out, spec)
    shutil.move(folder, str(tmp_path / "kept"))
    os.symlink(str(tmp_path / "kept"), folder)
    ran, _ = matrix([spec], out, str(tmp_path / "log"))
    assert ran == []  # done, read through the link
    with pytest.raises(UserError) as e:
        runner.run_matrix(
            [spec], out, None, force=True, stream=open(os.devnull, "w"), executor=Recorder()
        )
    assert "is a symbolic link" in str(e.value) and "nothing was trained" in str(e.value)
    assert sorted(os.listdir(str(tmp_path / "kept")))  # what the link points to is untouched
    os.remove(folder)
    os.symlink(str(tmp_path / "gone"), folder)  # dangling: before, makedirs raised a traceback
    with pytest.raises(UserError) as e:
        matrix([spec], out, str(tmp_path / "log"))
    assert "mnist_mlp/jax/0 (a link to %s)" % (tmp_path / "gone") in str(e.value)


# --- numbers in an ok run --------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell, shown",
    [
        ("nan", "nan"),
        ("0", "0.0"),
        ("-1.5", "-1.5"),
        ("1e308", "1e+308"),
        ("inf", "inf"),
        ("", "empty"),
    ],
)
def test_an_unusable_epoch_time_in_an_ok_run_is_refused_by_folder_and_epoch(
    runs, cell, shown, capsys
):
    """With JAX's epoch time NaN a 9x slower torch became "fastest"; 0 gave `inf x`; 1e308 an
    OverflowError traceback (issue 28)."""
    shutil.rmtree(runs / "mnist_mlp" / "jax" / "0")
    folder = write_run(runs, epochs=["1.0", cell])
    problem = "epochs.csv epoch 1: epoch_seconds is %s" % shown
    assert problem in refusal(runs) and str(folder) in refusal(runs)
    assert problem in report_cli(runs, capsys)
    run = runfiles.read_run(str(folder))
    assert run.damaged and problem in run.why()


def test_a_loss_that_is_not_finite_in_an_ok_run_is_refused(tmp_path):
    folder = write_run(tmp_path / "runs")
    text = (folder / runfiles.EPOCHS_CSV).read_text().replace(",0.5,", ",inf,", 1)
    (folder / runfiles.EPOCHS_CSV).write_text(text)
    assert "epoch 0: loss is inf, not a finite number" in runfiles.read_run(str(folder)).why()


def test_resume_trains_a_run_with_an_unusable_epoch_time_again(tmp_path):
    out = str(tmp_path / "out")
    spec = smoke()[0]
    matrix([spec], out, str(tmp_path / "log"))
    epochs_csv = os.path.join(plan.run_dir(out, spec), runfiles.EPOCHS_CSV)
    lines = open(epochs_csv).read().splitlines()
    cells = lines[1].split(",")
    cells[1] = "nan"
    lines[1] = ",".join(cells)
    open(epochs_csv, "w").write("\n".join(lines) + "\n")
    state, why = runner.resume_state(out, spec)
    assert state == runner.TODO and "epoch 0: epoch_seconds is nan" in why
    ran, _ = matrix([spec], out, str(tmp_path / "log"))
    assert ran == [os.path.join("runs", "mnist_mlp", "jax", "0")]


def test_a_failed_run_may_hold_any_number(runs):
    """Only ok runs enter the statistics; a run that failed at a NaN is shown as it is."""
    write_run(runs, repeat=1, status="failed", error="boom", epochs=["1.0", "nan"])
    index = rundata.load_study(runs, []).runs
    assert sorted(index["status"]) == ["failed", "ok", "ok"]


# --- reference logs and source.yaml -----------------------------------------------------------


def reference(tmp_path, name="mnist_mlp_cntk.csv", elapsed=None, source=None):
    ref = tmp_path / "ref"
    ref.mkdir(exist_ok=True)
    lines = (SHIPPED / "mnist_mlp_cntk.csv").read_text().splitlines()
    for line, value in (elapsed or {}).items():  # {line of the file (the header is 1): elapsed}
        cells = lines[line - 1].split(",")
        cells[1] = value
        lines[line - 1] = ",".join(cells)
    (ref / name).write_text("\n".join(lines) + "\n")
    if source is not None:
        (ref / "source.yaml").write_text(source)
    return ref


@pytest.mark.parametrize(
    "elapsed, line",
    [
        ({3: "3.98s"}, "line 3: elapsed is '3.98s', not a time in seconds"),
        ({n: "0" for n in range(2, 22)}, "line 2: elapsed is '0', not a time in seconds"),
        ({5: "-3.3"}, "line 5: elapsed is '-3.3', not a time in seconds"),
        ({7: ""}, "line 7: elapsed is '', not a time in seconds"),
        ({7: "nan"}, "line 7: elapsed is 'nan'"),
    ],
)
def test_a_reference_log_is_parsed_strictly(tmp_path, runs, elapsed, line, capsys):
    """`3.98s` gave a blank row, all zeros an `inf x` row, both with exit 0 (issue 28)."""
    ref = reference(tmp_path, elapsed=elapsed)
    with pytest.raises(tidy.RunDataError) as e:
        rundata.load_study(runs, [ref])
    assert line in str(e.value) and str(ref / "mnist_mlp_cntk.csv") in str(e.value)
    assert line in report_cli(runs, capsys, "--reference", str(ref))


@pytest.mark.parametrize(
    "name, why",
    [
        ("mnist_mlp-cntk.csv", "no workload kerasbench knows"),
        ("mnist_mlp_theano.csv", "'theano' is not a backend kerasbench knows"),
        ("notes.csv", "no workload kerasbench knows"),
    ],
)
def test_a_reference_log_misnamed_is_refused_by_name(tmp_path, runs, name, why, capsys):
    """mnist_mlp-cntk.csv was read as workload `mnist`, backend `mlp-cntk` (issue 28)."""
    ref = reference(tmp_path)
    shutil.copy(str(ref / "mnist_mlp_cntk.csv"), str(ref / name))
    with pytest.raises(tidy.RunDataError) as e:
        rundata.load_study(runs, [ref])
    assert why in str(e.value) and str(ref / name) in str(e.value)
    assert name in report_cli(runs, capsys, "--reference", str(ref))


@pytest.mark.parametrize(
    "text, why",
    [
        ("label: 2017\n", 'label is a number 2017, not text (quote it: label: "2017")'),
        ("label: [a, b]\n", "label is a list, not text"),
        ("hardware: {gpu: K80}\n", "hardware is a mapping, not text"),
        ("notes: true\n", "notes is true/false"),
        ("environment: {cntk: [keras 2]}\n", "'cntk' must be a backend's name mapping fields"),
        ("environment: {cntk: {keras: [2]}}\n", "cntk: 'keras' is a list, not a value"),
        ("label: ''\n", "label is empty"),
    ],
)
def test_source_yaml_of_the_wrong_types_is_one_line(tmp_path, runs, text, why, capsys):
    ref = reference(tmp_path, source=text)
    with pytest.raises(tidy.RunDataError) as e:
        rundata.load_study(runs, [ref])
    assert why in str(e.value) and str(ref / "source.yaml") in str(e.value)
    assert why in report_cli(runs, capsys, "--reference", str(ref))


def test_the_shipped_reference_and_quoted_values_still_read(tmp_path, runs):
    ref = reference(tmp_path, source='label: "2017"\nenvironment: {cntk: {keras: 2.0}}\n')
    study = rundata.load_study(runs, [ref, SHIPPED])
    assert [s.label for s in study.sources][1:] == ["2017", "2017 K80 (Keras 2.0)"]
    assert study.sources[1].environment == {"cntk": {"keras": "2.0"}}


# --- the benchmark ------------------------------------------------------------------------------


def test_the_scale_benchmark_runs_for_a_small_study(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "benchmarks", "report_scale.py"),
            "--runs",
            "20",
            "--keep",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "20 runs:" in done.stdout and "load" in done.stdout
    runs = tmp_path / "study-20" / runfiles.RUNS
    study = rundata.load_study(runs, [])  # what it wrote is a study the report reads
    assert len(study.runs) == 20 and set(study.runs["data_source"]) == {"generated"}
    assert "Generated data" in study.study_notes
