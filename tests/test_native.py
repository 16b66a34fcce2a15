"""The native reference loops (kerasbench.native): every workload x framework x mode trains on a tiny
subset of the real data and writes the study's files; the models, optimizers and parameter counts
match Keras'; JAX's step and scan modes compute the same epoch. CPU only, no Keras imported.

torch's compiled mode runs here with torch.compile(backend="aot_eager") (the same Dynamo and
AOTAutograd path as inductor, without its minutes of C++ compilation on a small CPU); the inductor
default is exercised by the `slow` test.
"""

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from kerasbench.native import loop, weights
from kerasbench.native.specs import WORKLOADS

COLUMNS = [
    "epoch",
    "epoch_seconds",
    "train_seconds",
    "elapsed_seconds",
    "samples_per_second",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
]

# Keras' model.count_params() for the three models (checked against Keras 3.15.1 itself).
# The BiLSTM: Embedding 20000*128 + 2 directions * (4*64*(128+64) kernels + 4*64 bias) + Dense 129.
KERAS_PARAMS = {"mnist_mlp": 669_706, "mnist_cnn": 1_199_882, "imdb_bidirectional_lstm": 2_658_945}

CASES = [
    (w, f, m)
    for w in WORKLOADS
    for f, modes in (("jax", ("step", "scan")), ("torch", ("step", "compiled")))
    for m in modes
]
TINY = {"mnist_mlp": (256, 128), "mnist_cnn": (256, 128), "imdb_bidirectional_lstm": (64, 32)}


def _run(tmp, workload, framework, mode, data_dir, epochs=2, train=None, test=None, **kw):
    n_train, n_test = TINY[workload]
    cfg = loop.Config(
        workload=workload,
        framework=framework,
        mode=mode,
        out=str(tmp),
        epochs=epochs,
        train_samples=train or n_train,
        test_samples=test or n_test,
        data_dir=data_dir,
        seed=7,
        device="cpu",
        compile_mode="aot_eager" if mode == "compiled" else "auto",
        **kw,
    )
    record = loop.run(cfg)
    with open(tmp / "epochs.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    return record, reader.fieldnames, rows


@pytest.fixture(scope="module")
def runs(data_dir, tmp_path_factory):
    """Each case runs once (lazily) and is shared by the tests that read it."""
    cache = {}

    def get(workload, framework, mode):
        key = (workload, framework, mode)
        if key not in cache:
            tmp = tmp_path_factory.mktemp("_".join(key))
            cache[key] = _run(tmp, workload, framework, mode, data_dir) + (tmp,)
        return cache[key]

    return get


@pytest.mark.parametrize("workload,framework,mode", CASES)
def test_every_mode_trains_and_writes_the_study_files(runs, workload, framework, mode):
    record, header, rows, tmp = runs(workload, framework, mode)
    assert record["status"] == "ok", record["error"]
    assert header == COLUMNS
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    for r in rows:
        for key in ("loss", "val_loss"):
            assert math.isfinite(float(r[key]))
        for key in ("accuracy", "val_accuracy"):
            assert 0.0 <= float(r[key]) <= 1.0
        assert 0 < float(r["train_seconds"]) <= float(r["epoch_seconds"])
        assert float(r["samples_per_second"]) == pytest.approx(
            TINY[workload][0] / float(r["train_seconds"])
        )
    elapsed = [float(r["elapsed_seconds"]) for r in rows]
    assert elapsed[0] >= float(rows[0]["epoch_seconds"]) and elapsed[1] > elapsed[0]

    on_disk = json.loads((tmp / "run.json").read_text())
    assert on_disk == json.loads(json.dumps(record, default=str))
    assert on_disk["backend"] == f"native-{framework}" and on_disk["config"] == mode
    assert on_disk["profile"] == "native" and on_disk["workload"] == workload
    assert on_disk["seed"] == 7 and on_disk["repeat"] == 0
    assert on_disk["data"]["source"] == "subset"
    assert on_disk["model_parameters"] == KERAS_PARAMS[workload]
    assert on_disk["params"]["epochs"] == 2
    assert on_disk["params"]["batch_size"] == WORKLOADS[workload].batch_size
    assert set(on_disk["versions"]) >= {"python", "numpy", "backend_framework", "cuda", "cudnn"}
    assert on_disk["versions"]["backend_framework"].startswith(framework)
    assert set(on_disk["device"]) >= {"cpu", "cores", "gpu", "gpu_memory_mb", "driver"}
    assert on_disk["started_at"] <= on_disk["ended_at"] and on_disk["wall_seconds"] > 0
    assert on_disk["error"] is None
    if mode == "compiled":
        assert on_disk["backend_settings"]["compiled_with"] == "torch.compile(backend='aot_eager')"
    assert not list(tmp.glob(".run.*"))  # the atomic write left no temporary file


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_jax_scan_and_step_compute_the_same_epoch(runs, workload):
    _, _, step_rows, _ = runs(workload, "jax", "step")
    _, _, scan_rows, _ = runs(workload, "jax", "scan")
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert float(scan_rows[0][key]) == pytest.approx(
            float(step_rows[0][key]), rel=1e-4, abs=1e-6
        ), key


@pytest.mark.parametrize("framework,mode", [("jax", "scan"), ("torch", "step")])
def test_the_mlp_learns(data_dir, tmp_path, framework, mode):
    record, _, rows = _run(tmp_path, "mnist_mlp", framework, mode, data_dir, train=2000, test=500)
    assert record["status"] == "ok", record["error"]
    last = rows[-1]
    assert float(last["accuracy"]) > 0.75 and float(last["val_accuracy"]) > 0.7  # chance: 0.1
    assert float(last["loss"]) < float(rows[0]["loss"])


@pytest.mark.slow
def test_torch_compiled_with_inductor(data_dir, tmp_path):
    cfg = loop.Config(
        workload="mnist_mlp",
        framework="torch",
        mode="compiled",
        out=str(tmp_path),
        epochs=2,
        train_samples=512,
        test_samples=128,
        data_dir=data_dir,
        device="cpu",
    )
    record = loop.run(cfg)
    assert record["status"] == "ok", record["error"]
    assert record["backend_settings"]["compiled_with"] == "torch.compile(mode='default')"


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_parameter_counts_equal_keras(workload):
    import torch  # noqa: F401

    from kerasbench.native import torch_models

    assert WORKLOADS[workload].keras_params == KERAS_PARAMS[workload]
    params = weights.init_params(workload, 0)
    assert weights.count(params) == KERAS_PARAMS[workload]
    model = torch_models.MODELS[workload]()
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == KERAS_PARAMS[workload]


def test_initialisers_follow_keras():
    p = weights.init_params("imdb_bidirectional_lstm", 1)
    assert np.abs(p["embedding"]).max() <= 0.05
    limit = math.sqrt(6 / (128 + 256))
    assert np.abs(p["forward/kernel"]).max() <= limit
    rec = p["forward/recurrent_kernel"]  # (64, 256): orthonormal rows
    np.testing.assert_allclose(rec @ rec.T, np.eye(64), atol=1e-5)
    np.testing.assert_array_equal(p["forward/bias"][64:128], 1.0)  # unit_forget_bias
    np.testing.assert_array_equal(np.delete(p["forward/bias"], np.s_[64:128]), 0.0)
    conv = weights.init_params("mnist_cnn", 1)["conv_1/kernel"]
    assert np.abs(conv).max() <= math.sqrt(6 / (9 * 32 + 9 * 64))
    # Two frameworks, one seed: the same initial weights.
    a, b = weights.init_params("mnist_mlp", 3), weights.init_params("mnist_mlp", 3)
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_jax_and_torch_models_are_the_same_function(workload, data_dir):
    """Same Keras-layout weights in: same outputs (checks the CNN's flatten order, the LSTM's
    gate order, direction handling and frozen second bias, and the im2col convolution)."""
    import jax.numpy as jnp
    import torch

    from kerasbench.native import data, jax_models, torch_models

    p = weights.init_params(workload, 11)
    x = data.load(workload, data_dir, 16, 16).x_test
    jp = {k: jnp.asarray(v) for k, v in p.items()}
    outputs = [np.asarray(jax_models.MODELS[workload](jp, jnp.asarray(x), None, False))]
    if workload == "mnist_cnn":
        outputs.append(
            np.asarray(jax_models.cnn(jp, jnp.asarray(x), None, False, conv=jax_models.conv_im2col))
        )
    model = torch_models.MODELS[workload]()
    model.load_keras(p)
    model.eval()
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy() if x.ndim == 4 else x)
    with torch.no_grad():
        outputs.append(model(xt.long() if x.dtype == np.int32 else xt).numpy())
    assert np.std(outputs[0]) > 0
    for other in outputs[1:]:
        np.testing.assert_allclose(other, outputs[0], rtol=1e-4, atol=1e-5)


HYPER = {
    "rmsprop": dict(learning_rate=1e-3, rho=0.9, epsilon=1e-7),
    "adadelta": dict(learning_rate=1.0, rho=0.95, epsilon=1e-7),
    "adam": dict(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
}


def _keras_reference(name, w, grads, h):
    """Keras 3's update_step rules, in NumPy (keras/src/optimizers/*.py)."""
    w = w.astype(np.float64)
    a, b = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        if name == "rmsprop":
            a = h["rho"] * a + (1 - h["rho"]) * g * g
            w = w - h["learning_rate"] * g / np.sqrt(a + h["epsilon"])
        elif name == "adadelta":
            a = h["rho"] * a + (1 - h["rho"]) * g * g
            delta = -np.sqrt(b + h["epsilon"]) * g / np.sqrt(a + h["epsilon"])
            b = h["rho"] * b + (1 - h["rho"]) * delta * delta
            w = w + h["learning_rate"] * delta
        else:
            alpha = h["learning_rate"] * np.sqrt(1 - h["beta_2"] ** t) / (1 - h["beta_1"] ** t)
            a = a + (g - a) * (1 - h["beta_1"])
            b = b + (g * g - b) * (1 - h["beta_2"])
            w = w - a * alpha / (np.sqrt(b) + h["epsilon"])
    return w


@pytest.mark.parametrize("name", sorted(HYPER))
def test_optimizers_follow_keras_update_rules(name):
    import jax.numpy as jnp
    import torch

    from kerasbench.native import jax_models, torch_models

    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(2, 3)).astype(np.float32)
    grads = [(rng.normal(size=(2, 3)) * s).astype(np.float32) for s in (1.0, 1e-3, 10.0, 0.1)]
    expected = _keras_reference(name, w0, grads, HYPER[name])

    init, update = jax_models.OPTIMIZERS[name](**HYPER[name])
    params = {"w": jnp.asarray(w0)}
    state = init(params)
    for g in grads:
        params, state = update(params, {"w": jnp.asarray(g)}, state)
    np.testing.assert_allclose(np.asarray(params["w"]), expected, rtol=1e-5, atol=1e-6)

    tw = torch.tensor(w0)
    opt = torch_models.OPTIMIZERS[name]([tw], **HYPER[name])
    for g in grads:
        opt.step([tw], [torch.tensor(g)])
    np.testing.assert_allclose(tw.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected, w0)


def test_pad_sequences_pre_pads_and_pre_truncates():
    from kerasbench.native.data import pad_sequences

    out = pad_sequences([[1, 2, 3], [], [4, 5, 6, 7, 8]], 4)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, 1, 2, 3], [0, 0, 0, 0], [5, 6, 7, 8]])


def test_imdb_matches_keras_preprocessing(data_dir):
    from kerasbench.kernel import datasets
    from kerasbench.native import data

    d = data.load("imdb_bidirectional_lstm", data_dir, 50, 20)
    assert d.x_train.shape == (50, 100) and d.x_test.shape == (20, 100)
    assert d.x_train.max() < 20000 and d.y_train.dtype == np.float32
    raw = datasets.load_imdb(data_dir, num_words=20000, train_samples=50, test_samples=20)
    long = next(i for i, x in enumerate(raw.x_train) if len(x) > 100)
    np.testing.assert_array_equal(d.x_train[long], raw.x_train[long][-100:])  # pre-truncated
    short = next(i for i, x in enumerate(raw.x_train) if len(x) < 100)
    assert raw.x_train[short][0] == 1  # start_char
    np.testing.assert_array_equal(d.x_train[short][-len(raw.x_train[short]) :], raw.x_train[short])


def test_missing_data_is_generated_and_labelled(tmp_path):
    record, _, rows = _run(
        tmp_path / "run", "mnist_mlp", "jax", "scan", str(tmp_path / "empty"), epochs=1
    )
    assert record["status"] == "ok" and record["data"]["source"] == "generated"
    assert len(rows) == 1


def test_a_bad_configuration_fails_with_run_json(tmp_path):
    cfg = loop.Config(workload="mnist_mlp", framework="torch", mode="scan", out=str(tmp_path))
    record = loop.run(cfg)
    assert record["status"] == "failed" and "modes" in record["error"]
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "failed"


def test_cli_and_no_keras_import(data_dir, tmp_path):
    """The command line runs end to end in a fresh process that never imports Keras."""
    code = (
        "import sys, runpy; sys.argv = sys.argv[1:]; "
        'exec(\'try:\\n runpy.run_module("kerasbench.native", run_name="__main__")\\n'
        "except SystemExit as e:\\n assert not e.code, e.code'); "
        "assert 'keras' not in sys.modules, 'keras was imported'"
    )
    out = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "kerasbench.native",
            "--workload",
            "mnist_mlp",
            "--framework",
            "jax",
            "--mode",
            "scan",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--train-samples",
            "128",
            "--test-samples",
            "64",
            "--data-dir",
            data_dir,
            "--seed",
            "3",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "ok" and record["params"]["batch_size"] == 64
    assert record["backend_settings"]["steps_per_epoch"] == 2
