"""Bad input: a one-line error and exit code 2, before anything trains or is written."""
import os
import shutil

import pytest

from kerasbench import cli, datasets, kernels, registry


@pytest.fixture
def out(tmp_path):
    return str(tmp_path / "out")


def copy_data(data_dir, tmp_path, names=("mnist.npz",)):
    folder = tmp_path / "data"
    folder.mkdir()
    sums = [l for l in open(os.path.join(data_dir, "SHA256SUMS"))
            if l.split()[-1].lstrip("*") in names]
    (folder / "SHA256SUMS").write_text("".join(sums))
    for name in names:
        shutil.copy(os.path.join(data_dir, name), str(folder / name))
    return folder


def params_with_typo(tmp_path):
    folder = tmp_path / "params"
    shutil.copytree(registry.PARAMS_DIR, str(folder))
    path = folder / "mnist_mlp.yaml"
    path.write_text(path.read_text().replace("  hidden_units: 512", "  hiden_units: 512"))
    return str(folder)


def corrupt(folder):
    path = folder / "mnist.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return str(folder)


def refuse_downloads(monkeypatch):
    # An address on this machine where nothing listens: a download fails at once, offline or not.
    monkeypatch.setattr(datasets, "ORIGINS", {k: "http://127.0.0.1:9/" + k for k in datasets.ORIGINS})


CASES = {
    "unknown workload": (["--workloads", "mnist"], "unknown workload 'mnist'"),
    "unknown backend": (["--backends", "jax,theano"], "unknown backend 'theano'"),
    "backend twice": (["--backends", "jax,jax"], "listed twice"),
    "unknown profile": (["--profile", "fast"], "invalid choice: 'fast'"),
    "params key typo": (["--params-dir", "<typo>"], "full.hiden_units: is not a parameter of notebooks/mnist_mlp.ipynb (did you mean 'hidden_units'?)"),
    "override typo": (["--set", "epoch=3"], "override.epoch: is not a parameter"),
    "zero epochs": (["--set", "epochs=0"], "override.epochs: must be a positive integer, got 0"),
    "negative batch size": (["--set", "batch_size=-32"], "override.batch_size: must be a positive integer"),
    "subset too large": (["--set", "train_samples=60001"], "is more than the 60000 examples mnist has"),
    "zero repeats": (["--repeats", "0"], "--repeats must be at least 1"),
    "not a number": (["--repeats", "two"], "invalid int value: 'two'"),
    "corrupt data file": (["--data-dir", "<corrupt>"], "mnist.npz: SHA-256"),
    "missing data in full": (["--profile", "full", "--data-dir", "<empty>"], "mnist.npz: missing"),
    "unwritable output": (["--out", "<file>"], "cannot write to output folder"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, out, data_dir, monkeypatch, capfd):
    args, message = CASES[name]
    refuse_downloads(monkeypatch)
    args = list(args)
    for i, a in enumerate(args):
        if a == "<typo>":
            args[i] = params_with_typo(tmp_path)
        elif a == "<corrupt>":
            args[i] = corrupt(copy_data(data_dir, tmp_path))
        elif a == "<empty>":
            (tmp_path / "empty").mkdir()
            args[i] = str(tmp_path / "empty")
        elif a == "<file>":
            (tmp_path / "occupied").write_text("a file where the output folder should be")
            args[i] = str(tmp_path / "occupied" / "out")
    base = ["run", "--workloads", "mnist_mlp", "--backends", "jax", "--out", out,
            "--data-dir", data_dir, "--profile", "smoke"]
    with pytest.raises(SystemExit) if name in ("unknown profile", "not a number") else _nothing():
        code = cli.main(base + args)
        assert code == 2
    err = capfd.readouterr().err
    assert message in err, err
    errors = [l for l in err.splitlines() if "error:" in l]
    assert len(errors) == 1 and message in errors[0], "one error line: %r" % err
    assert "Traceback" not in err
    assert not os.path.exists(os.path.join(out, "runs")), "nothing trained, nothing written"


class _nothing(object):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_missing_kernel(out, data_dir, monkeypatch, capfd):
    monkeypatch.setattr(kernels, "kernel_name", lambda b: "kerasbench-not-installed-" + b)
    assert cli.main(["run", "--workloads", "mnist_mlp", "--backends", "jax", "--out", out,
                     "--data-dir", data_dir, "--profile", "smoke"]) == 2
    err = capfd.readouterr().err
    assert "is not installed: run `kerasbench kernels install`" in err
    assert len(err.strip().splitlines()) == 1


def test_report_over_a_missing_runs_folder(tmp_path, capfd):
    assert cli.main(["report", "--out", str(tmp_path / "nowhere")]) == 2
    err = capfd.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error" in err


def test_dry_run_prints_the_plan_and_trains_nothing(out, capsys):
    import json

    assert cli.main(["run", "--profile", "full", "--backends", "tensorflow,jax,torch",
                     "--repeats", "2", "--out", out, "--dry-run"]) == 0
    plan = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(plan) == 7 * 3 * 2
    assert not os.path.exists(out)
    first = [p["backend"] for p in plan if p["workload"] == "mnist_mlp" and p["repeat"] == 0]
    second = [p["backend"] for p in plan if p["workload"] == "mnist_mlp" and p["repeat"] == 1]
    assert first == ["tensorflow", "jax", "torch"] and second == ["jax", "torch", "tensorflow"]
    assert {p["seed"] for p in plan if p["repeat"] == 1} == {1}
    mlp = next(p for p in plan if p["workload"] == "mnist_mlp")["params"]
    assert (mlp["epochs"], mlp["batch_size"], mlp["hidden_units"]) == (20, 128, 512)
