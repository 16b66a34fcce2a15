"""A study folder that protects itself: what a rerun does with what --out holds (skip, retrain,
refuse), the lock on --out, and a full disk. Fast: the runs are written by a stand-in executor or
by `execute` with papermill replaced; the real thing is in the slow test at the end."""

import errno
import glob
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from kerasbench import cli, runfiles, studyfiles
from kerasbench.errors import StudyStopped, UserError
from kerasbench.study import execute, kernels, plan, preflight, runner

from conftest import REPO, held, smoke_run


class Recorder(object):
    """An executor that 'trains' by writing a whole ok run; `full_at` runs meet a full disk."""

    name = "local"

    def __init__(self, full_at=None):
        self.ran = []
        self.full_at = full_at

    def run(self, specs, out, data_dir, timeout=None, started=None):
        for spec in specs:
            self.ran.append(plan.run_dir("", spec))
            if self.full_at is not None and len(self.ran) > self.full_at:
                raise execute.DiskFull(
                    runfiles.record(
                        spec.workload,
                        spec.backend,
                        spec.profile,
                        spec.repeat,
                        spec.seed,
                        spec.config,
                        dict(spec.params),
                        "failed",
                        "no space left on /x",
                        "",
                        0.0,
                    )
                )
            yield spec, write_run(out, spec)


def write_run(out, spec, status="ok", source="subset", rows=None, **changes):
    folder = plan.run_dir(out, spec)
    os.makedirs(folder, exist_ok=True)
    epochs = spec.params.get("epochs", 2)
    with open(os.path.join(folder, runfiles.EPOCHS_CSV), "w") as f:
        f.write(",".join(runfiles.COLUMNS) + "\n")
        for epoch in range(epochs if rows is None else rows):
            f.write("%d,1.0,0.9,%d.0,100.0,0.5,0.8,0.5,0.8\n" % (epoch, epoch + 1))
    record = runfiles.record(
        spec.workload,
        spec.backend,
        spec.profile,
        spec.repeat,
        spec.seed,
        spec.config,
        dict(spec.params),
        status,
        None,
        runfiles.now(),
        1.0,
        kernel_info={"data": {"source": source, "detail": "x"}},
    )
    record.update(changes)
    runfiles.write_json_atomic(os.path.join(folder, runfiles.RUN_JSON), record)
    return record


def smoke(**kw):
    return plan.plan("smoke", ["mnist_mlp"], ["jax"], **kw)


def matrix(runs, out, data_dir=None, **kw):
    executor = kw.pop("executor", None) or Recorder()
    records = runner.run_matrix(
        runs, out, data_dir, stream=open(os.devnull, "w"), executor=executor, **kw
    )
    return executor.ran, records


# --- what a rerun does ---------------------------------------------------------------------------


def test_finished_runs_of_another_plan_stop_the_study_before_training(tmp_path):
    out = str(tmp_path)
    full = plan.plan("full", ["mnist_mlp"], ["jax"])[0]
    write_run(out, full)
    before = open(os.path.join(plan.run_dir(out, full), runfiles.RUN_JSON)).read()
    with pytest.raises(UserError) as e:
        matrix(smoke(), out)
    message = str(e.value)
    assert (
        "1 finished run of another plan" in message
        and "mnist_mlp/jax/0 (profile full, not smoke)" in message
        and "--force" in message
        and "another --out" in message
        and "\n" not in message
    )
    assert open(os.path.join(plan.run_dir(out, full), runfiles.RUN_JSON)).read() == before
    ran, _ = matrix(smoke(), out, force=True)  # the way out that replaces them
    assert ran == [os.path.join("runs", "mnist_mlp", "jax", "0")]


@pytest.mark.parametrize(
    "change, difference",
    [
        (dict(seed=7), "seed 7, not 0"),
        (dict(params={"epochs": 9}), "epochs=9, not 2"),
    ],
)
def test_other_seeds_and_parameters_are_another_plan(tmp_path, change, difference):
    spec = smoke()[0]
    if "params" in change:
        change = {"params": dict(spec.params, **change["params"])}
    write_run(str(tmp_path), spec, **change)
    assert runner.resume_state(str(tmp_path), spec) == (runner.CONFLICT, difference)


def test_a_dry_run_says_what_out_holds_of_each_run(tmp_path, capsys):
    """`kerasbench run --dry-run`: each planned run with the state a call would find (what a
    job script reads to pass over a finished block); --force makes every run todo."""
    out = str(tmp_path)
    done, failed, other, absent = smoke(repeats=4)
    write_run(out, done)
    write_run(out, failed, status="failed")
    write_run(out, other, seed=7)
    command = ["run", "--profile", "smoke", "--workloads", "mnist_mlp", "--backends", "jax"]
    command += ["--repeats", "4", "--out", out, "--dry-run"]
    assert cli.main(command) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["repeat"], d["state"]) for d in lines] == [
        (0, "done"),
        (1, "todo"),
        (2, "conflict"),
        (3, "todo"),
    ]
    assert cli.main(command + ["--force"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {d["state"] for d in lines} == {"todo"}
    assert sorted(os.listdir(os.path.join(out, "runs", "mnist_mlp", "jax"))) == ["0", "1", "2"]


def test_a_run_setting_added_since_is_the_same_plan_only_at_its_default(tmp_path):
    # Runs made before the notebook gained keras_patch ran unpatched: keras_patch="" is their plan.
    spec = smoke()[0]
    older = {k: v for k, v in spec.params.items() if k != "keras_patch"}
    write_run(str(tmp_path), spec, params=older)
    assert runner.resume_state(str(tmp_path), spec) == (runner.DONE, None)
    patched = spec._replace(params=dict(spec.params, keras_patch="jax-scan"))
    assert runner.resume_state(str(tmp_path), patched) == (
        runner.CONFLICT,
        "no keras_patch, not keras_patch=jax-scan",
    )
    # A workload parameter (not a run setting) missing from a run is still another plan.
    fewer = {k: v for k, v in spec.params.items() if k != "epochs"}
    write_run(str(tmp_path), spec, params=fewer)
    assert runner.resume_state(str(tmp_path), spec)[0] == runner.CONFLICT


def test_runs_relabelled_when_tuned_adopted_a_lever_resume_under_their_new_labels(tmp_path):
    # `tuned` adopted batch_callbacks: false: the old tuned runs become tuned-callbacks (the label
    # that now means what they ran), the tuned-quiet runs become tuned; neither is trained again.
    out = str(tmp_path)
    old_tuned = plan.plan("smoke", ["mnist_mlp"], ["jax"], config="tuned-callbacks")[0]
    quiet = plan.plan("smoke", ["mnist_mlp"], ["jax"], config="tuned")[0]
    assert quiet.params["batch_callbacks"] is False and old_tuned.params["batch_callbacks"] is True
    write_run(out, old_tuned._replace(config="tuned"))  # what the early H200 runs wrote as `tuned`
    write_run(out, quiet._replace(config="tuned-quiet"))
    assert runner.resume_state(out, quiet)[0] == runner.CONFLICT  # the old tuned: another plan
    runfiles.relabel_run(out, "mnist_mlp", "jax", 0, "tuned", "tuned-callbacks")
    moved = runfiles.relabel_run(out, "mnist_mlp", "jax", 0, "tuned-quiet", "tuned")
    assert moved == plan.run_dir(out, quiet)
    record = json.load(open(os.path.join(moved, runfiles.RUN_JSON)))
    assert record["config"] == "tuned" and record["params"] == dict(quiet.params)
    assert [r["from"] for r in record["relabelled"]] == ["tuned-quiet"]
    assert runner.resume_state(out, quiet) == (runner.DONE, None)
    assert runner.resume_state(out, old_tuned) == (runner.DONE, None)
    ran, _ = matrix([old_tuned, quiet], out)
    assert ran == []
    with pytest.raises(ValueError, match="already there"):  # never over another run
        runfiles.relabel_run(out, "mnist_mlp", "jax", 0, "tuned", "tuned-callbacks")
    with pytest.raises(ValueError, match="no finished run"):
        runfiles.relabel_run(out, "mnist_mlp", "jax", 1, "tuned", "tuned-x")


def test_relabel_runs_script_moves_every_run_of_a_label_and_refuses_in_one_line(tmp_path):
    out = str(tmp_path)
    specs = plan.plan("smoke", ["mnist_mlp"], ["jax", "torch"], config="tuned-callbacks")
    for spec in specs:
        write_run(out, spec._replace(config="tuned"))
    epoch = plan.plan("smoke", ["mnist_mlp"], ["jax"], config="tuned-epoch")[0]
    write_run(out, epoch)  # tuned-epoch-0 matches "tuned-*" as a glob, never as the label
    script = [sys.executable, os.path.join(REPO, "scripts", "relabel_runs.py"), out]
    done = subprocess.run(script + ["tuned", "tuned-callbacks"], capture_output=True, text=True)
    assert done.returncode == 0 and "2 runs relabelled tuned -> tuned-callbacks" in done.stdout
    for spec in specs:
        assert runner.resume_state(out, spec) == (runner.DONE, None)
    assert runner.resume_state(out, epoch) == (runner.DONE, None)
    write_run(out, specs[0]._replace(config="tuned"))
    again = subprocess.run(script + ["tuned", "tuned-callbacks"], capture_output=True, text=True)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.strip().endswith("already there, not replaced")
    assert len(again.stderr.strip().splitlines()) == 1


def test_the_same_plan_is_skipped_and_a_failed_one_retrained(tmp_path):
    out = str(tmp_path)
    runs = plan.plan("smoke", ["mnist_mlp"], ["jax", "torch"])
    write_run(out, runs[0])
    write_run(out, runs[1], status="failed")
    ran, records = matrix(runs, out)
    assert ran == [os.path.join("runs", "mnist_mlp", "torch", "0")]
    assert [r["status"] for r in records] == ["ok", "ok"]


@pytest.mark.parametrize(
    "damage",
    ["torn last row", "epochs.csv missing", "fewer rows", "run.json a list", "run.json torn"],
)
def test_damaged_runs_are_retrained(tmp_path, damage, capfd):
    out, spec = str(tmp_path), smoke()[0]
    write_run(out, spec)
    folder = plan.run_dir(out, spec)
    epochs_csv, run_json = (
        os.path.join(folder, n) for n in (runfiles.EPOCHS_CSV, runfiles.RUN_JSON)
    )
    if damage == "torn last row":
        with open(epochs_csv, "a") as f:
            f.write("2,1.0,0.9,3.0,1")
    elif damage == "epochs.csv missing":
        os.remove(epochs_csv)
    elif damage == "fewer rows":
        write_run(out, spec, rows=1)
    elif damage == "run.json a list":
        open(run_json, "w").write("[1, 2]")
    else:
        open(run_json, "w").write('{"workload": "mnist_mlp", "stat')
    assert not runner.is_done(out, spec)
    stream = open(str(tmp_path / "log"), "w")
    executor = Recorder()
    runner.run_matrix([spec], out, None, stream=stream, executor=executor)
    stream.close()
    assert executor.ran == [os.path.join("runs", "mnist_mlp", "jax", "0")]
    log = open(str(tmp_path / "log")).read()
    if damage not in ("run.json torn", "run.json a list"):
        assert "its files are damaged" in log, log
    assert runfiles.read_run(folder).problems == []


def test_a_generated_data_run_is_redone_once_the_real_data_is_here(tmp_path, data_dir):
    out, spec = str(tmp_path / "out"), smoke()[0]
    write_run(out, spec, source="generated")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert runner.resume_state(out, spec, str(empty))[0] == runner.DONE
    state, why = runner.resume_state(out, spec, data_dir)
    assert state == runner.TODO and "generated data" in why
    ran, _ = matrix([spec], out, data_dir)
    assert ran == [os.path.join("runs", "mnist_mlp", "jax", "0")]


def test_runs_of_older_code_are_resumed_not_deleted(tmp_path):
    """Schema-1 runs (no code path), as the lead's GPU runs and output/reference/ have them."""
    source = sorted(
        glob.glob(
            os.path.join(
                REPO, "output", "reference", "*", "runs", "mnist_mlp", "jax", "0", runfiles.RUN_JSON
            )
        )
    )[0]
    record = json.load(open(source))
    assert record["schema"] == 1 and "code_path" not in record["kerasbench"]
    runner_keys = ("backend", "run_dir", "seed", "data_dir")
    spec = plan.RunSpec(
        record["workload"],
        record["backend"],
        record["repeat"],
        record["seed"],
        record["profile"],
        {k: v for k, v in record["params"].items() if k not in runner_keys},
        record.get("config", "default"),
    )
    out = str(tmp_path)
    shutil.copytree(os.path.dirname(source), plan.run_dir(out, spec))
    assert runner.resume_state(out, spec) == (runner.DONE, None)
    ran, records = matrix([spec], out)
    assert ran == [] and records[0]["schema"] == 1


# --- one runner per --out ------------------------------------------------------------------------


def test_a_second_runner_on_the_same_out_stops_at_once(tmp_path, data_dir, capfd):
    out = str(tmp_path / "out")
    os.makedirs(out)
    with held(out) as holder:
        t0 = time.time()
        code = cli.main(smoke_run(out, "--data-dir", data_dir))
        err = capfd.readouterr().err
        assert code == 2 and time.time() - t0 < 30
        errors = [line for line in err.splitlines() if "error:" in line]
        assert (
            len(errors) == 1
            and "in use by another kerasbench run (pid %d" % holder.pid in errors[0]
        ), err
        assert not os.path.exists(os.path.join(out, "runs")), "nothing was trained"


def test_a_lock_left_by_a_dead_runner_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / preflight.LOCK_FILE
    path.write_text(json.dumps({"pid": dead.pid, "host": "here", "since": "then"}))
    with preflight.lock_output(str(tmp_path)):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    with preflight.lock_output(str(tmp_path)):  # and released at the end
        pass


# --- a full disk ---------------------------------------------------------------------------------


def test_a_full_disk_stops_the_study_with_one_line(tmp_path):
    runs = plan.plan("smoke", ["mnist_mlp"], ["jax", "torch"], repeats=2)
    with pytest.raises(StudyStopped) as e:
        matrix(runs, str(tmp_path), executor=Recorder(full_at=1))
    assert e.value.exit_code == 1 and "\n" not in str(e.value)
    assert str(e.value).startswith("no space left on /x: the study stopped with 2 runs not trained")
    ran, _ = matrix(runs, str(tmp_path))  # space again: the rerun finishes what is left
    assert len(ran) == 3


def run_spec():
    return plan.RunSpec("mnist_mlp", "jax", 0, 0, "smoke", {"epochs": 2}, "default")


def leftovers(root):
    return [
        p
        for p in glob.glob(os.path.join(str(root), "**", "*"), recursive=True)
        if p.endswith(".tmp") or os.path.basename(p).startswith(".")
    ]


def test_a_kernel_on_a_full_disk_fails_its_run_as_failed(tmp_path, monkeypatch):
    def full_disk(spec, folder, parameters, watch):
        with open(os.path.join(folder, runfiles.NOTEBOOK), "w") as f:
            f.write('{"cells": [')  # papermill stopped mid-write
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(execute, "run_papermill", full_disk)
    with pytest.raises(execute.DiskFull) as e:
        execute.execute(run_spec(), str(tmp_path), str(tmp_path))
    record = e.value.record
    assert record["status"] == "failed" and record["error"].startswith("no space left on /")
    folder = plan.run_dir(str(tmp_path), run_spec())
    assert runfiles.read_json(os.path.join(folder, runfiles.RUN_JSON))["status"] == "failed"
    assert not os.path.exists(os.path.join(folder, runfiles.NOTEBOOK)), "the torn notebook goes"
    assert leftovers(tmp_path) == []


def test_run_json_on_a_full_disk_leaves_no_temporary_file(tmp_path, monkeypatch):
    monkeypatch.setattr(execute, "run_papermill", lambda *a: None)
    real = os.fsync

    def full(fd):
        if os.readlink("/proc/self/fd/%d" % fd).endswith(".tmp"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(execute.DiskFull) as e:
        execute.execute(run_spec(), str(tmp_path), str(tmp_path))
    assert e.value.record["status"] == "failed" and "(writing run.json)" in e.value.record["error"]
    folder = plan.run_dir(str(tmp_path), run_spec())
    assert not os.path.exists(
        os.path.join(folder, runfiles.RUN_JSON)
    )  # unfinished: rerun trains it
    assert leftovers(tmp_path) == []


def test_the_output_check_leaves_no_probe(tmp_path, monkeypatch):
    real_open = open

    def full(path, *a, **kw):
        f = real_open(path, *a, **kw)
        if str(path).endswith(".kerasbench-write-test"):
            f.close()
            raise OSError(errno.ENOSPC, "No space left on device")
        return f

    monkeypatch.setattr("builtins.open", full)
    with pytest.raises(UserError):
        preflight.check_output_dir(str(tmp_path))
    monkeypatch.undo()
    assert os.listdir(str(tmp_path)) == []


# --- the real thing: a small tmpfs, a real kernel ------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): %s" % done.stderr.decode().strip())
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)])


def fill(mount, leave=0):
    """Fills the disk but `leave` bytes; returns the filler to remove."""
    filler = mount / "filler"
    fd = os.open(str(filler), os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    os.truncate(str(filler), filler.stat().st_size - leave)
    return filler


@pytest.mark.slow
@pytest.mark.skipif(
    kernels.find("jax") is None, reason="the kerasbench-jax kernel is not installed"
)
def test_a_real_full_disk_stops_the_study_and_a_rerun_finishes_it(small_disk, data_dir, capfd):
    out = str(small_disk / "out")
    argv = smoke_run(out, "--repeats", "2", "--data-dir", data_dir, "--no-download")
    os.makedirs(out)
    filler = fill(small_disk, leave=16384)  # the checks and the lock fit; the notebook does not
    code = cli.main(argv)
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 1 and len(errors) == 1, err
    assert "no space left on %s" % small_disk in errors[0] and "rerun the same command" in errors[0]
    assert [p for p in glob.glob(out + "/**/*", recursive=True) if p.endswith(".tmp")] == []
    assert not glob.glob(out + "/runs/mnist_mlp/jax/1"), "the study stopped at the full disk"
    filler.unlink()
    assert cli.main(argv) == 0
    for repeat in (0, 1):
        run = runfiles.read_run(os.path.join(out, "runs", "mnist_mlp", "jax", str(repeat)))
        assert run.status == "ok" and run.problems == []


@pytest.mark.slow
def test_report_on_a_full_disk_leaves_the_old_report_as_it_was(small_disk, capfd):
    runs = sorted(glob.glob(os.path.join(REPO, "output", "reference", "*", "runs")))[0]
    out = small_disk / "out"
    out.mkdir()
    for name in ("summary.csv", "report.html"):
        (out / name).write_text("the report of yesterday\n")
    filler = fill(small_disk, leave=8192)
    code = cli.main(["report", "--out", str(out), "--runs", runs, "--resamples", "200"])
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and "no space left in %s" % out in errors[0], err
    for name in ("summary.csv", "report.html"):
        assert (out / name).read_text() == "the report of yesterday\n"
    # Nothing but yesterday's files and the folder's lock (every command's, kept like run's).
    left = sorted(n for n in os.listdir(str(out)) if n != studyfiles.LOCK_FILE)
    assert left == ["report.html", "summary.csv"], "no staging left"
    filler.unlink()
    assert cli.main(["report", "--out", str(out), "--runs", runs, "--resamples", "200"]) == 0
    assert (out / "summary.csv").read_text() != "the report of yesterday\n"
