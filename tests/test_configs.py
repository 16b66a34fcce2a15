"""Configurations as a study axis (params/configs.yaml) and the device-resident data path.

The tuned settings are checked as the runner resolves them; the data path is exercised on the CPU
on every Keras 3 backend (each in its own process, KERAS_BACKEND fixed first), and one tuned run
goes through papermill like any other.
"""

import json
import os
import subprocess
import sys

import pytest

from kerasbench.study import params, plan, runner
from kerasbench.errors import UserError

from conftest import smoke_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_shipped_configurations_are_the_documented_ones():
    configs = params.read_configs()
    assert set(configs) >= {"default", "tuned", "compiled"}
    assert configs["default"] == {}
    assert params.config_settings(configs, "tuned", "jax") == {
        "steps_per_execution": 32,
        "data_on_device": True,
        "batch_callbacks": False,
    }
    # Keras 3 refuses steps_per_execution > 1 on PyTorch: tuned torch moves the data and drops
    # the per-batch callbacks.
    assert params.config_settings(configs, "tuned", "torch") == {
        "data_on_device": True,
        "batch_callbacks": False,
    }
    # tuned-callbacks: `tuned` before it adopted batch_callbacks: false (issue 15's levers
    # were measured beside it); it differs from `tuned` in that one setting, on every backend.
    for backend in ("tensorflow", "jax", "torch", "cntk"):
        old = params.config_settings(configs, "tuned-callbacks", backend)
        assert old == dict(params.config_settings(configs, "tuned", backend), batch_callbacks=True)
    assert params.config_settings(configs, "compiled", "torch") == {"jit_compile": True}
    assert params.config_settings(configs, "compiled", "jax") == {}
    assert params.config_settings(configs, "my-label", "jax") == {}


def test_plan_crosses_configurations_with_backends():
    runs = plan.plan("smoke", ["mnist_mlp"], ["tensorflow", "jax", "torch"], config="default,tuned")
    got = [
        (r.config, r.backend, r.params["steps_per_execution"], r.params["data_on_device"])
        for r in runs
    ]
    assert got == [
        ("default", "tensorflow", 1, False),
        ("default", "jax", 1, False),
        ("default", "torch", 1, False),
        ("tuned", "tensorflow", 32, True),
        ("tuned", "jax", 32, True),
        ("tuned", "torch", 1, True),
    ]
    folders = {os.path.relpath(plan.run_dir("/o", r), "/o") for r in runs}
    assert "runs/mnist_mlp/jax/0" in folders and "runs/mnist_mlp/jax/tuned-0" in folders


def test_command_line_settings_win_over_a_configuration():
    runs = plan.plan(
        "smoke", ["mnist_mlp"], ["jax"], overrides={"steps_per_execution": 4}, config="tuned"
    )
    assert runs[0].params["steps_per_execution"] == 4 and runs[0].params["data_on_device"] is True


def _write_configs(tmp_path, text):
    folder = tmp_path / "params"
    folder.mkdir()
    for name in os.listdir(os.path.join(REPO, "params")):
        if name != params.CONFIGS_FILE:
            (folder / name).write_text(open(os.path.join(REPO, "params", name)).read())
    (folder / params.CONFIGS_FILE).write_text(text)
    return str(folder)


@pytest.mark.parametrize(
    "text, message",
    [
        ("tuned: [1, 2\n", "not valid YAML"),
        ("- tuned\n", "expected configuration labels"),
        ("tuned:\n  mxnet: {steps_per_execution: 2}\n", "tuned.mxnet: unknown backend"),
        ("tuned:\n  jax: {steps_per_execution: 0}\n", "steps_per_execution"),
        ("tuned:\n  jax: {steps_per_exec: 2}\n", "did you mean 'steps_per_execution'"),
        ("tuned:\n  jax: {data_on_device: 3}\n", "data_on_device"),
        ("tuned:\n  jax: fast\n", "expected KEY: VALUE"),
    ],
)
def test_bad_configuration_files_are_one_line_errors(tmp_path, text, message):
    folder = _write_configs(tmp_path, text)
    with pytest.raises(UserError) as error:
        plan.plan("smoke", ["mnist_mlp"], ["jax"], params_dir=folder, config="tuned")
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("config", ["default,default", "bad label", "7"])
def test_bad_configuration_labels(config):
    with pytest.raises(UserError):
        plan.plan("smoke", ["mnist_mlp"], ["jax"], config=config)


DEVICE_SCRIPT = r"""
import json
import numpy as np
import keras
from kerasbench.kernel import compat
x = np.random.RandomState(0).rand(256, 8).astype("float32")
y = keras.utils.to_categorical(np.arange(256) % 3, 3)
dx, dy = compat.to_device(x), compat.to_device([y, y])
model = keras.Sequential([compat.input_layer((8,)), keras.layers.Dense(3, activation="softmax")])
compat.compile(model, "sgd", "categorical_crossentropy", metrics=["accuracy"])
history = compat.fit(model, x, y, batch_size=32, epochs=2, validation_data=(x, y), verbose=0,
                     on_device=True)
print(json.dumps({"x_type": type(dx).__module__ + "." + type(dx).__name__,
                  "list_kept": isinstance(dy, list) and len(dy) == 2,
                  "same_values": bool(np.allclose(keras.ops.convert_to_numpy(dx), x)),
                  "losses": history.history["loss"]}))
"""

TENSOR_MODULES = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_device_resident_arrays_train_on_every_backend(backend):
    env = dict(
        os.environ,
        KERAS_BACKEND=backend,
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=os.path.join(REPO, "lib"),
    )
    out = subprocess.check_output(
        [sys.executable, "-c", DEVICE_SCRIPT], env=env, universal_newlines=True, timeout=300
    )
    got = json.loads(out.strip().splitlines()[-1])
    assert got["x_type"].startswith(TENSOR_MODULES[backend]), got["x_type"]
    assert got["list_kept"] and got["same_values"]
    assert len(got["losses"]) == 2 and all(loss == loss for loss in got["losses"])


def test_a_tuned_run_records_its_settings(tmp_path, data_dir):
    """One tuned smoke run per backend through papermill: settings land in run.json."""
    runs = plan.plan("smoke", ["mnist_mlp"], ["jax", "torch"], config="tuned")
    records = runner.run_matrix(runs, str(tmp_path), data_dir, stream=open(os.devnull, "w"))
    for record in records:
        assert record["status"] == "ok", record["error"]
        assert record["config"] == "tuned"
        settings = record["backend_settings"]
        assert settings["data_on_device"] is True
        expected = 32 if record["backend"] == "jax" else 1
        assert settings["compile_options"]["steps_per_execution"] == expected
        folder = plan.run_dir(str(tmp_path), runs[records.index(record)])
        assert folder.endswith("tuned-0") and os.path.exists(os.path.join(folder, "epochs.csv"))


def test_jit_compile_takes_what_keras_compile_takes():
    for value in (True, False, "auto"):
        plan.plan("smoke", ["mnist_mlp"], ["torch"], overrides={"jit_compile": value})
    with pytest.raises(UserError):
        plan.plan("smoke", ["mnist_mlp"], ["torch"], overrides={"jit_compile": "yes"})
    assert (
        plan.plan("smoke", ["mnist_mlp"], ["torch"], config="compiled")[0].params["jit_compile"]
        is True
    )


@pytest.mark.slow
def test_the_compiled_configuration_runs_on_torch(tmp_path, data_dir):
    """`kerasbench run --profile smoke --workloads mnist_mlp --backends torch --config compiled`
    ends ok (at 014fa33 it was refused: jit_compile must be a string)."""
    from kerasbench import cli

    code = cli.main(
        smoke_run(
            tmp_path,
            "--config",
            "compiled",
            "--data-dir",
            data_dir,
            "--no-download",
            backends="torch",
        )
    )
    assert code == 0
    record = json.load(
        open(os.path.join(str(tmp_path), "runs", "mnist_mlp", "torch", "compiled-0", "run.json"))
    )
    assert record["status"] == "ok" and record["params"]["jit_compile"] is True
    assert record["backend_settings"]["compile_options"]["jit_compile"] is True
