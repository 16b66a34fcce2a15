"""`kerasbench parity`: the comparisons on known arrays (the tolerances themselves:
tests/test_tolerance.py), and (slow) the real check on three workloads x three backends on the
CPU, which must pass, and with one layer initialised differently on one backend, which must fail
and name that layer.
"""

import csv
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from kerasbench import cli, studyfiles
from kerasbench.report import parity as parity_report
from kerasbench.study import kernels, parity, paritycompare, tolerance

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _kernel_folder(
    folder, backend, weights, losses, predictions, crossload=None, role="follower", k=100
):
    """What kernel.parity writes for one backend (generated numbers): result.json, the layer
    files, losses.csv and the predictions."""
    import json

    import h5py

    os.makedirs(folder)
    for stem, arrays in (("weights_step0", weights[0]), ("weights_final", weights[1])):
        with h5py.File(os.path.join(folder, stem + ".layers.h5"), "w") as f:
            group = f.create_group("layer_000")
            group.attrs["name"], group.attrs["class"] = "dense", "Dense"
            group.create_dataset("0", data=arrays)
    with open(os.path.join(folder, "losses.csv"), "w") as f:
        f.write("step,loss\n" + "".join("%d,%r\n" % (i, v) for i, v in enumerate(losses)))
    np.savez(os.path.join(folder, "predictions.npz"), output_0=predictions)
    if crossload is not None:
        np.savez(os.path.join(folder, "crossload_predictions.npz"), output_0=crossload)
    result = {
        "backend": backend,
        "role": role,
        "status": "ok",
        "reduction_length": k,
        "weighted_layers": 1,
        "optimizer": "SGD",
        "parameters": 4,
        "eval_samples": len(predictions),
        "evaluated_on": "test",
        "evaluate": {"loss": 1.0, "accuracy": 0.5},
        "crossload": {"loss": 1.0, "accuracy": 0.5},
        "initial_weights": "loaded",
        "crossload_weights": "loaded",
        "session_settings": {"precision": "float32"},
    }
    with open(os.path.join(folder, "result.json"), "w") as f:
        json.dump(result, f)


def test_compare_gives_every_check_its_headroom_and_says_what_cannot_fail(tmp_path):
    """Two generated backends: losses 1e-7 apart, weights equal, and predictions whose two best
    classes are all 2e-6 apart (every sample a near-tie): the class checks cannot fail."""
    w0 = np.array([[0.5, -1.0]], "float32")
    w1 = np.array([[0.4, -1.0]], "float32")
    # Two classes 2e-6 apart: within the near-tie width of this model (about 1e-5).
    ties = np.tile(np.array([0.5 + 1e-6, 0.5 - 1e-6]), (40, 1))
    _kernel_folder(
        str(tmp_path / "tensorflow"), "tensorflow", (w0, w1), [2.0, 1.5], ties, role="reference"
    )
    _kernel_folder(
        str(tmp_path / "jax"), "jax", (w0, w1), [2.0, 1.5 * (1 + 1e-7)], ties[:, ::-1], ties
    )
    rows, losses = paritycompare.compare(
        "toy", str(tmp_path / "tensorflow"), str(tmp_path / "jax"), 1
    )
    by = {(r["check"], r["layer"]): r for r in rows}
    tol = tolerance.tolerances(100, 1, "SGD", 1, compared=2 * 4 + 2 * 80 + 1)
    loss = by["loss", ""]
    assert loss["tolerance"] == pytest.approx(tol["eps_fwd"] + tol["eps_step"])
    assert loss["headroom"] == pytest.approx(loss["tolerance"] / loss["value"])
    assert loss["verdict"] == "pass"
    assert by["final_weights", "dense"]["headroom"] == float("inf")  # identical
    assert by["initial_weights", "dense"]["headroom"] == ""  # a copy: no margin
    # Every sample's class flips, every one is a near-tie: passes, but could not have failed.
    agreement = by["predictions_argmax_agreement", ""]
    assert agreement["value"] == 0.0 and agreement["passed"] is True
    assert agreement["verdict"] == "not informative"
    assert "0 of 40 samples decidable" in agreement["note"]
    # The cross-load predicted exactly the reference's: informative? no, the same near-ties.
    assert by["crossload_argmax_agreement", ""]["verdict"] == "not informative"
    assert by["crossload_accuracy", ""]["verdict"] == "not informative"
    assert by["crossload_loss", ""]["verdict"] == "pass"
    assert len(losses) == 2
    entry = parity.summary(rows)[0]
    assert entry["verdict"] == "same"
    assert entry["headroom"] == pytest.approx(
        min(
            r["headroom"]
            for r in rows
            if isinstance(r["headroom"], float) and r["verdict"] == "pass"
        )
    )
    assert entry["not_informative"] == [
        "predictions_argmax_agreement",
        "crossload_argmax_agreement",
        "crossload_accuracy",
    ]
    lines = parity.table_lines(rows)
    assert lines[0].split() == [
        "workload",
        "backend",
        "vs",
        "verdict",
        "headroom",
        "(tightest",
        "check)",
    ]
    assert lines[1].split()[:4] == ["toy", "jax", "tensorflow", "same"]
    assert lines[-1] == (
        "toy on jax: not informative (could not fail here): predictions_argmax_agreement, "
        "crossload_argmax_agreement, crossload_accuracy"
    )
    # A model whose probability tolerance is 1 or more: that check cannot fail either.
    _kernel_folder(
        str(tmp_path / "wide"), "tensorflow", (w0, w1), [2.0, 1.5], ties, role="reference", k=1e22
    )
    wide = {
        r["check"]: r
        for r in paritycompare.compare("toy", str(tmp_path / "wide"), str(tmp_path / "jax"), 1)[0]
    }
    assert wide["predictions_max_abs_diff"]["tolerance"] >= 1
    assert wide["predictions_max_abs_diff"]["verdict"] == "not informative"
    assert by["predictions_max_abs_diff", ""]["verdict"] == "pass"
    # Written and read back by the report: the same verdicts and headroom.
    out = tmp_path / "parity"
    out.mkdir()
    studyfiles.write_csv(str(out / "parity.csv"), rows, studyfiles.PARITY_COLUMNS)
    read, _ = parity_report.load(str(out))
    verdicts = parity_report.verdicts(read)
    assert verdicts["not informative"].iloc[0] == ", ".join(entry["not_informative"])
    assert (
        verdicts["headroom (tightest check)"]
        .iloc[0]
        .startswith(parity.format_headroom(entry["headroom"])[:3])
    )
    table = parity_report.table(read)
    shown = dict(zip(table["check"], table["result"]))
    assert shown["predictions_argmax_agreement"] == "not informative"
    assert shown["loss"] == "ok"
    assert dict(zip(table["check"], table["headroom"]))["final_weights"] == "inf"


def test_layer_differences_are_relative_to_the_layers_largest_weight():
    ref = [
        ("dense", "Dense", [np.array([[1.0, -4.0]], "float32"), np.zeros(2, "float32")]),
        ("dropout", "Dropout", []),
        ("dense_1", "Dense", [np.array([[0.5]], "float32")]),
    ]
    got = [
        ("dense", "Dense", [np.array([[1.0, -3.0]], "float32"), np.zeros(2, "float32")]),
        ("dropout", "Dropout", []),
        ("dense_1", "Dense", [np.array([[0.5]], "float32")]),
    ]
    assert paritycompare.layer_differences(ref, got) == [("dense", 0.25), ("dense_1", 0.0)]
    got[2] = ("dense_1", "Dense", [np.zeros((2, 1), "float32")])
    assert paritycompare.layer_differences(ref, got)[1] == ("dense_1", float("inf"))


def test_failures_name_the_layers_and_pass_quietly():
    rows = [
        paritycompare.row("m", "jax", "tensorflow", "initial_weights", 0.0, 0.0, True, "dense"),
        paritycompare.row("m", "jax", "tensorflow", "initial_weights", 0.7, 0.0, False, "dense_1"),
        paritycompare.row("m", "jax", "tensorflow", "final_weights", 0.9, 0.01, False, "dense_1"),
        paritycompare.row("m", "jax", "tensorflow", "final_weights", 0.05, 0.01, False, "dense_2"),
        paritycompare.row("m", "torch", "tensorflow", "loss", 1e-7, 1e-4, True),
    ]
    lines = parity.failures(rows)
    assert len(lines) == 1
    assert lines[0].startswith("m on jax vs tensorflow: initial weights of layer dense_1 differ")
    assert "differ most in layer dense_1" in lines[0] and "also dense_2" in lines[0]


def test_perturb_is_checked_as_one_line():
    assert parity.parse_perturb("jax:dense_1", ["tensorflow", "jax"]) == ("jax", "dense_1", 1.0)
    assert parity.parse_perturb("jax:dense:0.5", ["tensorflow", "jax"]) == ("jax", "dense", 0.5)
    with pytest.raises(parity.UserError):
        parity.parse_perturb("cntk:1", ["tensorflow", "jax"])
    with pytest.raises(parity.UserError):
        parity.parse_perturb("jax", ["tensorflow", "jax"])


def test_cli_refuses_one_backend_and_zero_steps(capsys, tmp_path):
    assert cli.main(["parity", "--backends", "jax", "--out", str(tmp_path)]) == 2
    assert "at least two" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["parity", "--steps", "0"])
    assert e.value.code == 2


# The real check (slow: three workloads x three backends, a fresh process each)

WORKLOADS = "mnist_mlp,mnist_cnn,imdb_fasttext"
BACKENDS = "tensorflow,jax,torch"
STEPS = "5"


def _parity(out, data_dir, *extra):
    env = dict(os.environ, KERASBENCH_DATA=data_dir)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kerasbench.cli",
            "parity",
            "--workloads",
            WORKLOADS,
            "--backends",
            BACKENDS,
            "--steps",
            STEPS,
            "--eval-samples",
            "500",
            "--out",
            str(out),
        ]
        + list(extra),
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )


def _rows(out):
    with open(os.path.join(str(out), "parity.csv")) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_parity_on_three_backends_finds_only_tensorflows_sparse_adam_and_a_planted_layer(
    tmp_path, data_dir
):
    """mnist_mlp and mnist_cnn learn the same on the three backends. imdb_fasttext does not on
    TensorFlow: Keras 3's TensorFlow optimizer squares the embedding's sparse gradient slice by
    slice, so a token id repeated in a batch adds sum(g^2), not (sum g)^2, to Adam's second moment
    (test_tensorflow_adam_squares_repeated_embedding_rows_apart). JAX and PyTorch agree with each
    other there, and parity says the reference is the backend that differs."""
    for backend in BACKENDS.split(","):
        if kernels.find(backend) is None:
            pytest.skip("kernel kerasbench-%s is not installed" % backend)
    done = _parity(tmp_path / "same", data_dir)
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    rows = _rows(tmp_path / "same")
    assert {(r["workload"], r["backend"]) for r in rows} == {
        (w, b) for w in WORKLOADS.split(",") for b in ("jax", "torch")
    }
    same = [r for r in rows if r["workload"] != "imdb_fasttext"]
    assert all(r["passed"] == "True" for r in same), [r for r in same if r["passed"] != "True"]
    assert all(r["verdict"] == "pass" for r in same if r["check"] != "run")
    assert all(float(r["headroom"]) > 1 for r in same if r["headroom"])
    # Initial weights are exact copies everywhere; training changed the losses.
    assert all(float(r["value"]) == 0.0 for r in rows if r["check"] == "initial_weights")
    # Every process trained with the timed run's settings, TF32 off, deterministic kernels.
    import json

    for backend in BACKENDS.split(","):
        folder = tmp_path / "same" / "mnist_cnn" / backend
        settings = json.loads((folder / "result.json").read_text())["session_settings"]
        assert settings["precision"] == "float32" and settings["configuration"] == "default"
        assert settings["compile_options"] == {"jit_compile": "auto", "steps_per_execution": 1}
        assert settings["determinism"] and settings["switches_after_training"]
        kernel = json.loads((folder / "kernel.json").read_text())["backend_settings"]
        assert kernel["determinism"] == settings["determinism"]
    table = done.stdout.splitlines()
    assert table[0].split()[:4] == ["workload", "backend", "vs", "verdict"]
    assert any(line.split()[:4] == ["mnist_cnn", "torch", "tensorflow", "same"] for line in table)
    fasttext = [r for r in rows if r["workload"] == "imdb_fasttext"]
    assert {
        (r["backend"], r["layer"])
        for r in fasttext
        if r["check"] == "final_weights" and r["passed"] == "False"
    } >= {("jax", "embedding"), ("torch", "embedding")}
    assert [r["passed"] for r in fasttext if r["check"] == "agrees_with_jax"] == ["True"]
    fail = [line for line in done.stdout.splitlines() if line.startswith("FAIL ")]
    assert len(fail) == 2 and all(
        line.startswith("FAIL imdb_fasttext on ") and "differ most in layer embedding" in line
        for line in fail
    ), fail
    assert (
        "NOTE imdb_fasttext: jax and torch agree with each other within tolerance; the "
        "reference tensorflow is the backend that differs"
    ) in done.stdout
    # The weight files went once compared (fastText's are 241 MB each in the full profile).
    assert not [p for p in (tmp_path / "same").rglob("*.h5")]
    assert (tmp_path / "same" / "imdb_fasttext" / "torch" / "losses.csv").exists()
    with open(os.path.join(str(tmp_path / "same"), "parity_losses.csv")) as f:
        losses = list(csv.DictReader(f))
    assert len(losses) == 3 * 2 * int(STEPS)
    mlp = [
        float(r["reference_loss"])
        for r in losses
        if r["workload"] == "mnist_mlp" and r["backend"] == "jax"
    ]
    assert mlp[-1] < mlp[0]
    verdicts = parity_report.verdicts(parity_report.load(str(tmp_path / "same"))[0])
    assert set(verdicts[verdicts["workload"] == "mnist_mlp"]["parity"]) <= {
        "same",
        "same; same as jax",
    }
    html = open(os.path.join(str(tmp_path / "same"), "parity.html")).read()
    assert "Does it learn the same?" in html and '"type":"log"' in html.replace(" ", "")

    # One layer initialised differently on one backend: mnist_cnn's second Conv2D, on torch.
    done = _parity(
        tmp_path / "planted",
        data_dir,
        "--workloads",
        "mnist_mlp,mnist_cnn",
        "--perturb",
        "torch:conv2d_1",
    )
    assert done.returncode == 1
    fail = [line for line in done.stdout.splitlines() if line.startswith("FAIL ")]
    assert len(fail) == 1, done.stdout
    assert fail[0].startswith(
        "FAIL mnist_cnn on torch vs tensorflow: initial weights of layer conv2d_1 differ"
    ), fail
    rows = _rows(tmp_path / "planted")
    assert {
        (r["workload"], r["backend"], r["layer"])
        for r in rows
        if r["check"] == "initial_weights" and r["passed"] == "False"
    } == {("mnist_cnn", "torch", "conv2d_1")}
    assert all(
        r["passed"] == "True"
        for r in rows
        if r["workload"] != "mnist_cnn" or r["backend"] != "torch"
    )


# The GPU machine has no plotly (and no network): parity there must still write its CSVs.
WITHOUT_PLOTLY = """
import sys
sys.modules["plotly"] = None  # import plotly now raises ImportError, as where it is not installed
from kerasbench import cli
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_parity_without_plotly_writes_its_csvs_and_says_the_page_is_left_out(tmp_path, data_dir):
    for backend in ("jax", "torch"):
        if kernels.find(backend) is None:
            pytest.skip("kernel kerasbench-%s is not installed" % backend)
    out = tmp_path / "parity"
    # an earlier call's tables: its mnist_cnn rows stay, its mnist_mlp row is replaced
    out.mkdir()
    earlier = [
        dict(workload="mnist_cnn", backend="torch", reference="jax", check="loss", verdict="pass"),
        dict(workload="mnist_mlp", backend="torch", reference="jax", check="stale", verdict="fail"),
    ]
    studyfiles.write_csv(str(out / "parity.csv"), earlier, studyfiles.PARITY_COLUMNS)
    losses = [dict(workload="mnist_cnn", backend="torch", reference="jax", step=0, loss=2.3)]
    studyfiles.write_csv(str(out / "parity_losses.csv"), losses, studyfiles.PARITY_LOSS_COLUMNS)
    args = ["--workloads", "mnist_mlp", "--backends", "jax,torch", "--steps", "2", "--keep-weights"]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PLOTLY, "parity", *args, "--no-download", "--out", str(out)],
        capture_output=True,
        text=True,
        env=dict(os.environ, KERASBENCH_DATA=data_dir),
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "kerasbench parity: 1 of 1 comparisons within tolerance" in done.stdout
    said = [line for line in done.stderr.splitlines() if "no parity.html here" in line]
    assert len(said) == 1 and "plotly" in said[0], done.stderr
    assert said[0].endswith("`kerasbench report` draws these results")
    rows = _rows(out)
    assert [r["check"] for r in rows if r["workload"] == "mnist_cnn"] == ["loss"]
    assert "stale" not in {r["check"] for r in rows} and len(rows) > 2
    losses, problems = studyfiles.read_csv(
        str(out / "parity_losses.csv"), studyfiles.PARITY_LOSS_COLUMNS
    )
    assert not problems and {r["workload"] for r in losses} == {"mnist_cnn", "mnist_mlp"}
    assert not (out / "parity.html").exists()
    kept = sorted(p.name for p in (out / "mnist_mlp" / "torch").glob("*.h5"))
    assert kept == ["weights_final.layers.h5", "weights_step0.layers.h5"]  # --keep-weights


def test_earlier_rows_keep_the_other_workloads_and_name_a_damaged_file(tmp_path):
    path = str(tmp_path / "parity.csv")
    said = []
    assert parity.earlier_rows(path, studyfiles.PARITY_COLUMNS, ["mnist_mlp"], said.append) == []
    rows = [dict(workload=w, backend="torch", check="loss") for w in ("mnist_mlp", "imdb_fasttext")]
    studyfiles.write_csv(path, rows, studyfiles.PARITY_COLUMNS)
    with open(path, "a") as f:
        f.write("mnist_cnn,torch\n")  # a row cut short
    kept = parity.earlier_rows(path, studyfiles.PARITY_COLUMNS, ["mnist_mlp"], said.append)
    assert [(r["workload"], r["check"]) for r in kept] == [("imdb_fasttext", "loss")]
    assert len(said) == 1 and "parity.csv row 3" in said[0], said


def test_drop_weights_removes_only_weight_files(tmp_path):
    folder = tmp_path / "mnist_mlp" / "jax"
    folder.mkdir(parents=True)
    names = ["init.weights.h5", "init.layers.h5", "weights_final.layers.h5", "losses.csv"]
    names += ["result.json", "predictions.npz", "kernel.log", "notes.h5.txt"]
    for name in names:
        (folder / name).write_text("x")
    parity.drop_weights([str(folder), str(tmp_path / "absent")])
    assert sorted(p.name for p in folder.iterdir()) == [
        "kernel.log",
        "losses.csv",
        "notes.h5.txt",
        "predictions.npz",
        "result.json",
    ]


TF_ADAM_PROBE = """
import numpy as np, keras
model = keras.Sequential([keras.Input((2,), dtype="int32"),
                          keras.layers.Embedding(3, 1, embeddings_initializer="ones"),
                          keras.layers.GlobalAveragePooling1D(),
                          keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)])
model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
model.train_on_batch(np.array([[1, 1]]), np.array([[0.0]]))
print(float(model.layers[0].get_weights()[0][1, 0]))
"""


@pytest.mark.slow
def test_tensorflow_adam_squares_repeated_embedding_rows_apart():
    """What parity finds on imdb_fasttext, reduced: id 1 twice in one sample, d loss / d row = 2
    (two slices of 1). Adam's first step moves a row by lr * g / sqrt(g^2) = lr = 0.1 when the
    second moment holds (sum g)^2 = 4 (JAX, PyTorch); TensorFlow's holds 1 + 1 = 2 and moves it
    by 0.1 * 2 / sqrt(2) = 0.141. When Keras fixes this, this test fails: drop the exception."""
    moved = {}
    for backend in ("tensorflow", "torch"):
        spec = kernels.find(backend)
        if spec is None:
            pytest.skip("kernel kerasbench-%s is not installed" % backend)
        done = subprocess.run(
            [spec.argv[0], "-c", TF_ADAM_PROBE],
            capture_output=True,
            text=True,
            env=kernels.process_env(spec),
        )
        assert done.returncode == 0, done.stderr[-2000:]
        moved[backend] = 1.0 - float(done.stdout.split()[-1])
    assert moved["torch"] == pytest.approx(0.1, abs=1e-5)
    assert moved["tensorflow"] == pytest.approx(0.1 * math.sqrt(2), abs=1e-4)


def _write_parity(folder):
    """A small parity folder as `kerasbench parity` writes it: mnist_mlp same on jax, differing
    on torch in layer dense_1 (planted)."""
    os.makedirs(folder)
    rows = [
        paritycompare.row(
            "mnist_mlp", "jax", "tensorflow", "initial_weights", 0.0, 0.0, True, "dense_1"
        ),
        paritycompare.row("mnist_mlp", "jax", "tensorflow", "loss", 1e-7, 1e-4, True),
        paritycompare.row(
            "mnist_mlp", "torch", "tensorflow", "initial_weights", 2.9, 0.0, False, "dense_1"
        ),
        paritycompare.row("mnist_mlp", "torch", "tensorflow", "loss", 0.07, 1e-4, False),
    ]
    studyfiles.write_csv(os.path.join(folder, "parity.csv"), rows, studyfiles.PARITY_COLUMNS)
    losses = [
        {
            "workload": "mnist_mlp",
            "backend": b,
            "reference": "tensorflow",
            "step": s,
            "loss": 2.0 - 0.1 * s,
            "reference_loss": 2.0 - 0.1 * s,
            "relative_difference": d * (s + 1),
            "tolerance": 4e-5 * (s + 1),
        }
        for b, d in (("jax", 0.0), ("torch", 0.01))
        for s in range(3)
    ]
    studyfiles.write_csv(os.path.join(folder, "parity_losses.csv"), losses, list(losses[0].keys()))


def test_parity_section_tables_and_curves(tmp_path):
    _write_parity(str(tmp_path / "parity"))
    rows, losses = parity_report.load(str(tmp_path / "parity"))
    verdicts = parity_report.verdicts(rows)
    assert list(verdicts["parity"]) == ["same", "differs"]
    assert "initial_weights (dense_1)" in verdicts["detail"].iloc[1]
    table = parity_report.table(rows)
    weights = table[(table["backend"] == "torch") & (table["check"] == "initial_weights")]
    assert weights["result"].iloc[0] == "FAIL: dense_1"
    loss = table[table["check"] == "loss"].set_index("backend")
    assert list(loss["headroom"]) == ["1e+03", "0.00143"]  # 1e-4 / 1e-7, 1e-4 / 0.07
    assert list(verdicts["headroom (tightest check)"]) == ["1e+03 (loss)", "0.00143 (loss)"]
    assert list(verdicts["not informative"]) == ["", ""]
    fig = parity_report.loss_figure(losses, "mnist_mlp")
    assert fig.layout.yaxis.type == "log"
    # The exact zeros of jax are drawn at float32's unit roundoff, not dropped.
    assert min(fig.data[0].y) == 2.0**-24
    assert parity_report.load(str(tmp_path / "none")) is None


def test_parity_says_where_it_ran_from_its_processes_kernel_json(tmp_path):
    import json

    folder = tmp_path / "parity"
    _write_parity(str(folder))
    assert parity_report.provenance(str(folder)) == ""  # no kernel.json kept: nothing claimed
    html_text = str(parity_report.section(str(folder))[0])
    assert "Ran on" not in html_text
    gpu = {"gpu": "NVIDIA H200", "gpu_uuid": "GPU-f7efa5e8", "cpu": "Xeon", "host": "vm"}
    for backend, framework in (("jax", "jax 0.11.2"), ("torch", "torch 2.11.0+cu130")):
        (folder / "mnist_mlp" / backend).mkdir(parents=True)
        (folder / "mnist_mlp" / backend / "kernel.json").write_text(
            json.dumps(
                {
                    "device": gpu,
                    "versions": {"backend_framework": framework, "keras": "3.15.1"},
                    "backend_settings": {"precision": "float32"},
                    "workload": "mnist_mlp",
                    "data": {"source": "generated"},
                }
            )
        )
    assert parity_report.provenance(str(folder)) == (
        "NVIDIA H200 GPU-f7efa5e8; jax 0.11.2, torch 2.11.0+cu130; Keras 3.15.1; precision float32; "
        "generated data for mnist_mlp (the same on every backend)"
    )
    assert "Ran on NVIDIA H200 GPU-f7efa5e8;" in str(parity_report.section(str(folder))[0])
    # What the processes record now: TF32 switches read back and the deterministic kernels.
    settings = {
        "jax": {
            "precision": "float32",
            "jax_default_matmul_precision": "highest",
            "determinism": {"XLA_FLAGS": "--xla_gpu_deterministic_ops=true"},
        },
        "torch": {
            "precision": "float32",
            "torch_matmul_allow_tf32": False,
            "torch_cudnn_allow_tf32": False,
            "determinism": {
                "cudnn_deterministic": True,
                "cudnn_benchmark": False,
                "deterministic_algorithms": True,
                "deterministic_algorithms_warn_only": True,
            },
        },
    }
    for backend in ("jax", "torch"):
        path = folder / "mnist_mlp" / backend / "kernel.json"
        info = json.loads(path.read_text())
        info["backend"], info["backend_settings"] = backend, settings[backend]
        path.write_text(json.dumps(info))
    assert (
        "; precision float32 (jax: matmul precision highest, XLA --xla_gpu_deterministic_ops; "
        "torch: TF32 off in matmul and cuDNN, cuDNN deterministic, cuDNN benchmark off, "
        "deterministic algorithms (warn only)); generated" in parity_report.provenance(str(folder))
    )
    settings["torch"]["torch_cudnn_allow_tf32"] = True
    assert parity_report.session_switches("torch", settings["torch"]).startswith(
        "TF32 on in cuDNN,"
    )


def test_a_float32_process_with_tf32_allowed_is_refused():
    """kernel.parity reads the switches back (kernel.determinism): PyTorch's cuDNN allows TF32
    unless told not to."""
    torch = pytest.importorskip("torch")
    from kerasbench.kernel import determinism as kernel_parity

    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        state = kernel_parity.check_precision("torch", "float32", "before the first step")
        assert state["torch_cudnn_allow_tf32"] is False
        torch.backends.cudnn.allow_tf32 = True
        with pytest.raises(kernel_parity.SettingsNotApplied) as e:
            kernel_parity.check_precision("torch", "float32", "during training")
        said = str(e.value)
        assert said.startswith("precision float32 was asked but torch_cudnn_allow_tf32")
        assert "allowed TF32 during training (torch_cudnn_allow_tf32=True" in said
        assert kernel_parity.check_precision("torch", "tf32", "during training")  # asked for
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_the_report_shows_parity_beside_the_study(tmp_path):
    from test_report import make_runs

    from kerasbench import report

    runs = make_runs(tmp_path / "study" / "runs")
    out = tmp_path / "out"
    _write_parity(str(out / "parity"))
    text = report.build_report(runs, out, seed=1, n_resamples=200).read_text(encoding="utf-8")
    assert "Does it learn the same? Parity across backends" in text
    assert "FAIL: dense_1" in text
    assert text.count("relative loss difference per step") >= 1


CNTK_LSTM_PROBE = """
import numpy as np, keras
from kerasbench.kernel import compat
rng = np.random.RandomState(0)
k, rk, b = (rng.randn(3, 8) * 0.5).astype("f"), (rng.randn(2, 8) * 0.5).astype("f"), \\
    (rng.randn(8) * 0.5).astype("f")
x = rng.randn(4, 1, 3).astype("f")
model = keras.Sequential([compat.input_layer((1, 3)), compat.lstm(2)])
model.layers[0].set_weights([k, rk, b])
z = x[:, 0] @ k + b
i, f, c, o = np.split(z, 4, axis=1)
sig = lambda v: 1 / (1 + np.exp(-v))
print(float(np.abs(model.predict(x) - sig(o) * np.tanh(sig(i) * np.tanh(c))).max()))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "cntk"])
def test_what_parity_finds_for_cntks_lstm(backend):
    """lstm_text_generation: TensorFlow, JAX and PyTorch agree; CNTK does not, and the cross-load
    shows why: given the same weights, Keras 2.3.1's CNTK LSTM computes another function. Reduced
    to one time step of a 2-unit LSTM (h = o * tanh(i * tanh(c)), Keras' gate order i, f, c, o):
    JAX matches the formula to float32 rounding, CNTK is off by more than 0.1."""
    spec = kernels.find(backend)
    if spec is None:
        pytest.skip("no kerasbench-%s kernel" % backend)
    done = subprocess.run(
        [spec.argv[0], "-c", CNTK_LSTM_PROBE],
        capture_output=True,
        text=True,
        env=kernels.process_env(spec),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    difference = float(done.stdout.split()[-1])
    if backend == "cntk":
        assert difference > 0.1
    else:
        assert difference < 1e-6
