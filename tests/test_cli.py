"""Bad input: a one-line error and exit code 2, before anything trains or is written.

Every bad input the project answers is one row of CASES, `kerasbench run` and `kerasbench report`
alike; the issue asks for at least 20 distinct ones (test_the_table_is_long_enough).
"""

import atexit
import json
import os
import shutil
import subprocess
import sys

import pytest

from kerasbench import cli, datafiles, registry
from kerasbench.study import kernels, preflight

from conftest import held, smoke_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def out(tmp_path):
    return str(tmp_path / "out")


def copy_data(data_dir, tmp_path, names=("mnist.npz",)):
    folder = tmp_path / "data"
    folder.mkdir()
    sums = [
        line
        for line in open(os.path.join(data_dir, "SHA256SUMS"))
        if line.split()[-1].lstrip("*") in names
    ]
    (folder / "SHA256SUMS").write_text("".join(sums))
    for name in names:
        shutil.copy(os.path.join(data_dir, name), str(folder / name))
    return folder


def params_dir(tmp_path, yaml_text=None, drop=False):
    """A copy of params/ whose mnist_mlp.yaml is `yaml_text` (or, with drop, missing)."""
    folder = tmp_path / "params"
    shutil.copytree(registry.PARAMS_DIR, str(folder))
    path = folder / "mnist_mlp.yaml"
    if drop:
        path.unlink()
    elif yaml_text is not None:
        path.write_text(yaml_text)
    return str(folder)


def params_with_typo(tmp_path):
    text = open(os.path.join(registry.PARAMS_DIR, "mnist_mlp.yaml")).read()
    return params_dir(tmp_path, text.replace("  hidden_units: 512", "  hiden_units: 512"))


def corrupt(folder):
    path = folder / "mnist.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return str(folder)


def refuse_downloads(monkeypatch):
    # An address on this machine where nothing listens: a download fails at once, offline or not.
    monkeypatch.setattr(
        datafiles, "ORIGINS", {k: "http://127.0.0.1:9/" + k for k in datafiles.ORIGINS}
    )


EPOCHS_HEADER = (
    "epoch,epoch_seconds,train_seconds,elapsed_seconds,samples_per_second,loss,"
    "accuracy,val_loss,val_accuracy\n"
)


def runs_folder(
    tmp_path, epochs_csv=EPOCHS_HEADER + "0,1.0,0.9,1.0,100.0,0.5,0.8,0.5,0.8\n", run_json=None
):
    """A runs folder with one run of mnist_mlp on jax whose files are as given."""
    runs = tmp_path / "given-runs"
    folder = runs / "mnist_mlp" / "jax" / "0"
    folder.mkdir(parents=True)
    (folder / "epochs.csv").write_text(epochs_csv)
    (folder / "run.json").write_text(
        run_json
        if run_json is not None
        else json.dumps(
            {
                "workload": "mnist_mlp",
                "backend": "jax",
                "repeat": 0,
                "status": "ok",
                "seed": 0,
                "profile": "smoke",
                "data": {"source": "subset"},
            }
        )
    )
    return str(runs)


def missing_kernel(tmp_path, monkeypatch):
    monkeypatch.setattr(kernels, "kernel_name", lambda b: "kerasbench-not-installed-" + b)


def kernel_without_python(tmp_path, monkeypatch):
    spec = kernels.find("jax")
    spec.argv = [str(tmp_path / "gone" / "bin" / "python")] + spec.argv[1:]
    monkeypatch.setattr(kernels, "find", lambda backend: spec)


def empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    return str(tmp_path / "empty")


def under_a_file(tmp_path):
    (tmp_path / "occupied").write_text("a file where a folder should be")
    return str(tmp_path / "occupied" / "out")


def params_without_configs(tmp_path):
    folder = params_dir(tmp_path)
    os.remove(os.path.join(folder, "configs.yaml"))
    return folder


def params_latin1(tmp_path):
    folder = params_dir(tmp_path)
    with open(os.path.join(folder, "mnist_mlp.yaml"), "ab") as f:
        f.write("# r\xe9glages\n".encode("latin-1"))
    return folder


def kernel_spec_dir(tmp_path, monkeypatch, text):
    """A kerasbench-jax kernel spec earlier on Jupyter's path than the installed one."""
    root = tmp_path / "jupyter"
    folder = root / "kernels" / "kerasbench-jax"
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(text)
    monkeypatch.setenv(
        "JUPYTER_PATH",
        os.pathsep.join([str(root)] + [p for p in [os.environ.get("JUPYTER_PATH")] if p]),
    )


def malformed_kernel_json(tmp_path, monkeypatch):
    kernel_spec_dir(tmp_path, monkeypatch, '{"argv": ["python", ')


def other_checkout_kernel(tmp_path, monkeypatch):
    spec = kernels.kernel_spec("jax")
    spec["env"]["PYTHONPATH"] = "/elsewhere/lib" + os.pathsep + "${PYTHONPATH}"
    kernel_spec_dir(tmp_path, monkeypatch, json.dumps(spec))


def read_only_folder(tmp_path):
    """A read-only filesystem (root writes through file permissions, not through this)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        return "/sys/kernel"  # no mount here: a folder no one may create files in
    atexit.register(subprocess.run, ["umount", "-l", str(folder)])
    return str(folder)


def runs_folder_with(tmp_path, epochs_csv=None, run_json=None, drop_epochs=False):
    runs = runs_folder(
        tmp_path, **({"epochs_csv": epochs_csv} if epochs_csv else {}), run_json=run_json
    )
    if drop_epochs:
        os.remove(os.path.join(runs, "mnist_mlp", "jax", "0", "epochs.csv"))
    return runs


# Placeholders in a case's arguments, each made by a function of tmp_path (and data_dir).
MAKE = {
    "<typo>": lambda t, d: params_with_typo(t),
    "<malformed-yaml>": lambda t, d: params_dir(t, "full:\n  epochs: [20\n"),
    "<wrong-type-yaml>": lambda t, d: params_dir(t, "full:\n  epochs: twenty\n"),
    "<unknown-profile-yaml>": lambda t, d: params_dir(
        t, "full:\n  epochs: 20\nfastest:\n  epochs: 1\n"
    ),
    "<no-yaml>": lambda t, d: params_dir(t, drop=True),
    "<corrupt>": lambda t, d: corrupt(copy_data(d, t)),
    "<empty>": lambda t, d: empty_folder(t),
    "<file>": lambda t, d: under_a_file(t),
    "<nowhere>": lambda t, d: str(t / "nowhere"),
    "<a-file>": lambda t, d: (t / "runs-file").write_text("not a folder") and str(t / "runs-file"),
    "<foreign-epochs>": lambda t, d: runs_folder(t, "step,loss,acc\n1,0.5,0.8\n"),
    "<damaged-epochs>": lambda t, d: runs_folder(
        t, EPOCHS_HEADER + "0,1.0,0.9,1.0,1e2,0.5,0.8,0.5\n1,1.0,0.9,2.0,1e2,zero,0.9,0.4,0.8\n"
    ),
    "<damaged-run-json>": lambda t, d: runs_folder(t, run_json='{"workload": "mnist_mlp", "stat'),
    "<good-runs>": lambda t, d: runs_folder(t),
    "<no-configs>": lambda t, d: params_without_configs(t),
    "<duplicate-yaml>": lambda t, d: params_dir(
        t, "full:\n  epochs: 20\nsmoke:\n  epochs: 1\nsmoke:\n  epochs: 2\n"
    ),
    "<latin1-yaml>": lambda t, d: params_latin1(t),
    "<long>": lambda t, d: str(t / ("x" * 4000)),
    "<read-only>": lambda t, d: read_only_folder(t),
    "<torn-epochs>": lambda t, d: runs_folder_with(
        t, EPOCHS_HEADER + "0,1.0,0.9,1.0,1e2,0.5,0.8,0.5,0.8\n1,1.0,0.9,2.0,1e2,0.4,0.9"
    ),
    "<no-epochs>": lambda t, d: runs_folder_with(t, drop_epochs=True),
    "<list-run-json>": lambda t, d: runs_folder_with(t, run_json="[1, 2]"),
    "<folder.py>": lambda t, d: (t / "folder.py").mkdir() or str(t / "folder.py"),
    "<latin1-model>": lambda t, d: latin1_model(t, coding_line=False),
}


def latin1_model(tmp_path, coding_line=True):
    """A model file in latin-1, with or without the coding line that makes it Python."""
    path = tmp_path / "latin_model.py"
    text = (
        ("# -*- coding: latin-1 -*-\n" if coding_line else "")
        + "# réglages du modèle\n"
        + 'PARAMS = {"full": {"epochs": 2, "batch_size": 32}}\n\n\n'
        + "def load_data(params, data_dir):\n    pass\n\n\n"
        + "def build_model(params):\n    pass\n"
    )
    path.write_bytes(text.encode("latin-1"))
    return str(path)


RUN = "run"
REPORT = "report"

# name: (command, extra arguments, the message, a set-up of the machine or None)
CASES = {
    "unknown workload": (RUN, ["--workloads", "mnist"], "unknown workload 'mnist'", None),
    "workload twice": (RUN, ["--workloads", "mnist_mlp,mnist_mlp"], "workload listed twice", None),
    "unknown backend": (RUN, ["--backends", "jax,theano"], "unknown backend 'theano'", None),
    "backend twice": (RUN, ["--backends", "jax,jax"], "listed twice", None),
    "unknown profile": (RUN, ["--profile", "fast"], "invalid choice: 'fast'", None),
    "malformed YAML": (
        RUN,
        ["--params-dir", "<malformed-yaml>"],
        "mnist_mlp.yaml: not valid YAML (line 3)",
        None,
    ),
    "params key typo": (
        RUN,
        ["--params-dir", "<typo>"],
        "full.hiden_units: is not a parameter of notebooks/mnist_mlp.ipynb (did you mean 'hidden_units'?)",
        None,
    ),
    "wrong type in YAML": (
        RUN,
        ["--params-dir", "<wrong-type-yaml>"],
        "full.epochs: must be an integer, got 'twenty'",
        None,
    ),
    "unknown profile in YAML": (
        RUN,
        ["--params-dir", "<unknown-profile-yaml>"],
        "unknown profile 'fastest'",
        None,
    ),
    "params file missing": (
        RUN,
        ["--params-dir", "<no-yaml>"],
        "mnist_mlp.yaml: parameter file not found",
        None,
    ),
    "override typo": (RUN, ["--set", "epoch=3"], "override.epoch: is not a parameter", None),
    "override without value": (RUN, ["--set", "epochs"], "--set epochs: expected KEY=VALUE", None),
    "wrong type override": (
        RUN,
        ["--set", "batch_size=big"],
        "override.batch_size: must be an integer, got 'big'",
        None,
    ),
    "fractional epochs": (
        RUN,
        ["--set", "epochs=1.5"],
        "override.epochs: must be an integer, got 1.5",
        None,
    ),
    "zero epochs": (
        RUN,
        ["--set", "epochs=0"],
        "override.epochs: must be a positive integer, got 0",
        None,
    ),
    "negative epochs": (
        RUN,
        ["--set", "epochs=-2"],
        "override.epochs: must be a positive integer, got -2",
        None,
    ),
    "zero batch size": (
        RUN,
        ["--set", "batch_size=0"],
        "override.batch_size: must be a positive integer",
        None,
    ),
    "negative batch size": (
        RUN,
        ["--set", "batch_size=-32"],
        "override.batch_size: must be a positive integer",
        None,
    ),
    "dropout out of range": (
        RUN,
        ["--set", "dropout=1.5"],
        "override.dropout: must be a number in [0, 1), got 1.5",
        None,
    ),
    "negative subset": (
        RUN,
        ["--set", "train_samples=-1"],
        "override.train_samples: must be an integer >= 0",
        None,
    ),
    "subset too large": (
        RUN,
        ["--set", "train_samples=60001"],
        "is more than the 60000 examples mnist has",
        None,
    ),
    "zero repeats": (RUN, ["--repeats", "0"], "--repeats must be at least 1", None),
    "not a number": (RUN, ["--repeats", "two"], "invalid int value: 'two'", None),
    "negative seed": (
        RUN,
        ["--seed", "-1"],
        "argument --seed: must be an integer >= 0, got '-1'",
        None,
    ),
    "zero timeout": (
        RUN,
        ["--timeout", "0"],
        "argument --timeout: must be a positive number of seconds",
        None,
    ),
    "negative timeout": (
        RUN,
        ["--timeout", "-5"],
        "argument --timeout: must be a positive number of seconds",
        None,
    ),
    "bad config label": (RUN, ["--config", "a/b"], "--config 'a/b': use letters, digits", None),
    "data folder not found": (RUN, ["--data-dir", "<nowhere>"], "data folder not found", None),
    "corrupt data file": (RUN, ["--data-dir", "<corrupt>"], "mnist.npz: SHA-256", None),
    "missing data in full": (
        RUN,
        ["--profile", "full", "--data-dir", "<empty>"],
        "mnist.npz: missing",
        None,
    ),
    "missing data, no download": (
        RUN,
        ["--profile", "full", "--data-dir", "<empty>", "--no-download"],
        "mnist.npz: missing; put a good copy of mnist.npz in",
        None,
    ),
    "unwritable output": (RUN, ["--out", "<file>"], "cannot write to output folder", None),
    "missing kernel": (
        RUN,
        [],
        "is not installed: run `kerasbench kernels install`",
        missing_kernel,
    ),
    "kernel's Python gone": (RUN, [], "points at a missing Python", kernel_without_python),
    "report: missing runs folder": (REPORT, ["--runs", "<nowhere>"], "runs folder not found", None),
    "report: empty runs folder": (REPORT, ["--runs", "<empty>"], "no runs in", None),
    "report: runs folder is a file": (
        REPORT,
        ["--runs", "<a-file>"],
        "runs folder is not a folder",
        None,
    ),
    "report: foreign epochs.csv": (
        REPORT,
        ["--runs", "<foreign-epochs>"],
        "damaged epochs.csv",
        None,
    ),
    "report: damaged epochs.csv": (
        REPORT,
        ["--runs", "<damaged-epochs>"],
        "damaged epochs.csv",
        None,
    ),
    "report: damaged run.json": (
        REPORT,
        ["--runs", "<damaged-run-json>"],
        "damaged run.json",
        None,
    ),
    "report: zero resamples": (
        REPORT,
        ["--runs", "<good-runs>", "--resamples", "0"],
        "resamples must be at least 1",
        None,
    ),
    # Issue 12: what trained silently, failed in every kernel, or gave a traceback at 014fa33.
    "config label typo": (
        RUN,
        ["--config", "tunde"],
        "--config tunde: not a configuration of",
        None,
    ),
    "config without configs.yaml": (
        RUN,
        ["--params-dir", "<no-configs>", "--config", "tuned"],
        "--config tuned: not a configuration of",
        None,
    ),
    "duplicate YAML key": (
        RUN,
        ["--params-dir", "<duplicate-yaml>"],
        "'smoke' is given twice (lines 3 and 5)",
        None,
    ),
    "non-UTF-8 params file": (
        RUN,
        ["--params-dir", "<latin1-yaml>"],
        "mnist_mlp.yaml: not UTF-8 text",
        None,
    ),
    "seed past 2**32 - 1": (
        RUN,
        ["--seed", "4294967296"],
        "--seed 4294967296: seeds must be within 0..4294967295",
        None,
    ),
    "last seed past 2**32 - 1": (
        RUN,
        ["--seed", "4294967295", "--repeats", "2"],
        "with --repeats 2 the last would be 4294967296",
        None,
    ),
    "steps_per_execution on torch": (
        RUN,
        ["--backends", "torch", "--set", "steps_per_execution=32"],
        "steps_per_execution: must be 1 on torch",
        None,
    ),
    "no backend": (RUN, ["--backends", ","], "--backends ',' names no backend", None),
    "no workload": (RUN, ["--workloads", ","], "--workloads ',' names no workload", None),
    "malformed kernel.json": (
        RUN,
        [],
        "Jupyter kernel 'kerasbench-jax' is damaged",
        malformed_kernel_json,
    ),
    "kernel of another checkout": (
        RUN,
        [],
        "runs the kerasbench of /elsewhere/lib, not this checkout's",
        other_checkout_kernel,
    ),
    "4,000-character --out": (RUN, ["--out", "<long>"], "cannot write to output folder", None),
    "report: negative seed": (
        REPORT,
        ["--runs", "<good-runs>", "--seed", "-1"],
        "argument --seed: must be an integer >= 0",
        None,
    ),
    "report: --out is a file": (
        REPORT,
        ["--runs", "<good-runs>", "--out", "<a-file>"],
        "cannot write to output folder",
        None,
    ),
    "report: read-only --out": (
        REPORT,
        ["--runs", "<good-runs>", "--out", "<read-only>"],
        "cannot write to output folder",
        None,
    ),
    "report: 4,000-character --out": (
        REPORT,
        ["--runs", "<good-runs>", "--out", "<long>"],
        "cannot write to output folder",
        None,
    ),
    "report: torn last row of an ok run": (
        REPORT,
        ["--runs", "<torn-epochs>"],
        "damaged epochs.csv: the last row is torn",
        None,
    ),
    "report: ok run without epochs.csv": (
        REPORT,
        ["--runs", "<no-epochs>"],
        "damaged epochs.csv is missing, though run.json says ok",
        None,
    ),
    "report: run.json a JSON list": (
        REPORT,
        ["--runs", "<list-run-json>"],
        "damaged run.json is a list, not a JSON object",
        None,
    ),
    # Issue 28: a traceback, or the current folder written into, at e0a4f99.
    "empty --out": (RUN, ["--out", ""], "--out '' names no folder", None),
    "report: empty --out": (
        REPORT,
        ["--runs", "<good-runs>", "--out", ""],
        "--out '' names no folder",
        None,
    ),
    "a folder named like a model file": (
        RUN,
        ["--workloads", "<folder.py>"],
        "folder.py: is a folder; a model file is a Python file (.py)",
        None,
    ),
    "a latin-1 model file without a coding line": (
        RUN,
        ["--workloads", "<latin1-model>"],
        "latin_model.py: not UTF-8 text, and no coding line names its encoding",
        None,
    ),
}

# argparse's own errors end in SystemExit(2) rather than a return code.
ARGPARSE = (
    "unknown profile",
    "not a number",
    "negative seed",
    "zero timeout",
    "negative timeout",
    "report: negative seed",
)


def test_the_table_is_long_enough():
    assert len(CASES) >= 20
    assert len({message for _, _, message, _ in CASES.values()}) >= 20


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, out, data_dir, monkeypatch, capfd):
    command, args, message, setup = CASES[name]
    refuse_downloads(monkeypatch)
    if setup is not None:
        setup(tmp_path, monkeypatch)
    args = [MAKE[a](tmp_path, data_dir) if a in MAKE else a for a in args]
    if command == RUN:
        argv = [
            "run",
            "--workloads",
            "mnist_mlp",
            "--backends",
            "jax",
            "--out",
            out,
            "--data-dir",
            data_dir,
            "--profile",
            "smoke",
        ] + args
    else:
        argv = ["report", "--out", out] + args
    if name in ARGPARSE:
        with pytest.raises(SystemExit) as stop:
            cli.main(argv)
        code = stop.value.code
    else:
        code = cli.main(argv)
    assert code == 2
    err = capfd.readouterr().err
    assert message in err, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], "one error line: %r" % err
    assert len(errors[0]) < 1000, "a line a person can read, whatever the path: %r" % errors[0]
    others = [
        line
        for line in err.splitlines()
        if line.strip() and "error:" not in line and not line.startswith("kerasbench: downloading ")
    ]
    assert not others, "nothing but the error (and a download attempt): %r" % err
    assert "Traceback" not in err
    assert not os.path.exists(os.path.join(out, "runs")), "nothing trained, nothing written"
    assert not os.path.exists(os.path.join(out, "report.html"))


def test_dry_run_prints_the_plan_and_trains_nothing(out, capsys):
    assert (
        cli.main(
            [
                "run",
                "--profile",
                "full",
                "--backends",
                "tensorflow,jax,torch",
                "--repeats",
                "2",
                "--out",
                out,
                "--dry-run",
            ]
        )
        == 0
    )
    plan = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(plan) == 7 * 3 * 2
    assert not os.path.exists(out)
    first = [p["backend"] for p in plan if p["workload"] == "mnist_mlp" and p["repeat"] == 0]
    second = [p["backend"] for p in plan if p["workload"] == "mnist_mlp" and p["repeat"] == 1]
    assert first == ["tensorflow", "jax", "torch"] and second == ["jax", "torch", "tensorflow"]
    assert {p["seed"] for p in plan if p["repeat"] == 1} == {1}
    mlp = next(p for p in plan if p["workload"] == "mnist_mlp")["params"]
    assert (mlp["epochs"], mlp["batch_size"], mlp["hidden_units"]) == (20, 128, 512)


def test_a_latin1_model_file_with_its_coding_line_is_python(tmp_path, out, capsys):
    """Python reads a file in the encoding its coding line names, and so does the check."""
    path = latin1_model(tmp_path)
    assert cli.main(["run", "--workloads", path, "--backends", "jax", "--dry-run"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["params"]["model_file"] == path


def test_a_dry_run_into_a_closed_pipe_is_quiet(tmp_path):
    """`kerasbench run --dry-run | head -1`: the plan's first line, no BrokenPipeError."""
    err = tmp_path / "err.txt"
    done = subprocess.run(
        "'%s' -m kerasbench.cli run --profile smoke --repeats 50 --dry-run 2>'%s' | head -1"
        % (sys.executable, err),
        shell=True,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.path.join(REPO, "lib")),
    )
    assert len(done.stdout.splitlines()) == 1 and json.loads(done.stdout)["repeat"] == 0
    assert err.read_text() == "", "nothing on stderr: %r" % err.read_text()[-2000:]


@pytest.mark.parametrize("shared", ["the first's runs", "a third folder"])
def test_two_outs_sharing_one_runs_folder_lock_each_other(shared, tmp_path, data_dir, capfd):
    """Two --out folders whose runs/ is one folder (a symlink) are one study: the second runner
    stops at once, as on the same --out (issue 28)."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    if shared == "a third folder":
        (tmp_path / "shared").mkdir()
        (first / "runs").symlink_to(tmp_path / "shared")
        (second / "runs").symlink_to(tmp_path / "shared")
    else:
        (first / "runs").mkdir()
        (second / "runs").symlink_to(first / "runs")
    with held(first) as holder:
        code = cli.main(smoke_run(second, "--data-dir", data_dir))
        err = capfd.readouterr().err
        errors = [line for line in err.splitlines() if "error:" in line]
        assert code == 2 and len(errors) == 1, err
        assert "in use by another kerasbench run (pid %d" % holder.pid in errors[0], err
        assert "its runs folder is %s" % os.path.realpath(second / "runs") in errors[0], err
        assert os.listdir(str(second / "runs")) == [], "nothing was trained"
        third = tmp_path / "third"
        third.mkdir()
        with preflight.lock_output(str(third)):  # an --out of its own is free
            pass
