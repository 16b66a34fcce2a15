"""`kerasbench profile`: the breakdown's arithmetic against known answers, the new configurations
and parameters, use_cudnn on every backend (Keras 2.3.1 included), and a real small profile of
the MNIST MLP on JAX and PyTorch through the kernel."""

import json
import os
import subprocess
import sys

import pytest

from kerasbench import cli
from kerasbench.errors import UserError
from kerasbench.kernel import lstm_probe
from kerasbench.kernel import profile as kernel_profile
from kerasbench.study import params, plan
from kerasbench.study import profile as profile_mod

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CNTK_VENV = os.environ.get("KERASBENCH_CNTK_VENV") or os.path.join(REPO, ".venv-cntk")


# The arithmetic: parts that add up, each the difference the module docstring states.

STEPS = {
    "fit_default": 10.0,
    "fit_metrics": 8.0,
    "fit_bare": 7.0,
    "fit_device": 4.0,
    "fit_epoch": 2.5,
    "step_loop": 3.0,
}


def test_breakdown_known_answer_with_a_profiler():
    b = profile_mod.breakdown(STEPS, device_seconds=1.0)
    assert b["total"] == 10.0
    assert b["parts"] == pytest.approx(
        {
            "callbacks": 2.0,
            "metrics": 1.0,
            "input_feeding": 3.0,
            "keras_loop": 1.5,
            "step_dispatch": 1.5,
            "device_compute": 1.0,
        }
    )
    assert b["fractions"] == pytest.approx(
        {
            "callbacks": 0.2,
            "metrics": 0.1,
            "input_feeding": 0.3,
            "keras_loop": 0.15,
            "step_dispatch": 0.15,
            "device_compute": 0.1,
        }
    )
    assert b["groups"] == pytest.approx(
        {
            "device compute": 0.1,
            "host dispatch and Python overhead": 0.3,
            "input feeding": 0.3,
            "callbacks and metrics": 0.3,
        }
    )
    assert sum(b["fractions"].values()) == pytest.approx(1.0)
    assert sum(b["groups"].values()) == pytest.approx(1.0)
    assert b["device_measured"] and b["clipped"] == [] and b["lowest_variant"] == "fit_epoch"


def test_breakdown_without_a_profiler_takes_the_lowest_variant_as_an_upper_bound():
    b = profile_mod.breakdown(STEPS)
    assert not b["device_measured"]
    assert b["parts"]["device_compute"] == 2.5 and b["parts"]["step_dispatch"] == 0.0
    assert b["parts"]["keras_loop"] == 1.5
    assert sum(b["parts"].values()) == pytest.approx(10.0)


def test_breakdown_on_torch_has_no_whole_epoch_variant():
    steps = dict(STEPS)
    del steps["fit_epoch"]
    b = profile_mod.breakdown(steps, device_seconds=2.0)
    assert b["lowest_variant"] == "step_loop"
    assert b["parts"]["keras_loop"] == pytest.approx(1.0)  # fit_device 4 - step_loop 3
    assert b["parts"]["step_dispatch"] == pytest.approx(1.0)  # step_loop 3 - device 2
    assert sum(b["fractions"].values()) == pytest.approx(1.0)


def test_noise_is_clipped_and_listed_and_the_parts_still_add_up():
    # fit_metrics measured slower than fit_default (noise): callbacks count 0, the rest follows
    # from the clipped level; the unclipped difference stays visible in `raw`.
    steps = {
        "fit_default": 5.0,
        "fit_metrics": 6.0,
        "fit_bare": 4.5,
        "fit_device": 4.0,
        "step_loop": 4.2,
    }
    b = profile_mod.breakdown(steps, device_seconds=5.5)
    assert b["parts"]["callbacks"] == 0.0
    assert b["raw"]["callbacks"] == pytest.approx(-1.0)
    assert b["parts"]["metrics"] == pytest.approx(0.5)  # min(5, 6) - 4.5
    assert b["parts"]["input_feeding"] == pytest.approx(0.5)
    assert b["parts"]["keras_loop"] == 0.0  # step_loop 4.2 > fit_device 4
    assert b["parts"]["device_compute"] == pytest.approx(4.0)  # device 5.5 clipped to 4
    assert b["clipped"] == ["callbacks", "keras_loop", "step_dispatch"]
    assert sum(b["parts"].values()) == pytest.approx(5.0)
    assert sum(b["fractions"].values()) == pytest.approx(1.0)


def test_breakdown_needs_the_three_fit_variants():
    with pytest.raises(ValueError):
        profile_mod.breakdown({"fit_default": 1.0, "fit_bare": 0.5})


def test_busy_time_is_the_union_of_intervals():
    assert kernel_profile.busy_seconds([(0, 1), (0.5, 2), (3, 4), (3.5, 3.6)]) == 3
    assert kernel_profile.busy_seconds([]) == 0


def test_take_wraps_rows_and_keeps_structure():
    import numpy as np

    x = np.arange(5)
    assert list(kernel_profile.take(x, 7)) == [0, 1, 2, 3, 4, 0, 1]
    pair = kernel_profile.take([x, x * 2], 3)
    assert isinstance(pair, list) and list(pair[1]) == [0, 2, 4]


def test_summary_and_csv_from_a_kernel_result(tmp_path):
    spec = {
        "workload": "mnist_mlp",
        "backend": "jax",
        "profile": "smoke",
        "config": "default",
        "steps": 10,
        "repeats": 3,
        "parameters": {"batch_size": 128},
        "out": str(tmp_path),
    }
    variants = {
        name: {"step_seconds": s, "pass_seconds": [s * 10] * 3} for name, s in STEPS.items()
    }
    record = profile_mod.summarize(
        spec,
        {"status": "ok", "variants": variants, "device_compute": {"seconds": 10.0, "how": "test"}},
    )
    assert record["breakdown"]["parts"]["device_compute"] == pytest.approx(1.0)  # 10 s / 10 steps
    profile_mod.write(str(tmp_path), record)
    assert json.load(open(tmp_path / "profile.json"))["breakdown"]["total"] == 10.0
    import csv

    rows = list(csv.DictReader(open(tmp_path / "profile.csv")))
    parts = [r for r in rows if r["kind"] == "part"]
    assert [r["name"] for r in parts] == [p[0] for p in profile_mod.PARTS]
    assert sum(float(r["fraction"]) for r in parts) == pytest.approx(1.0)
    assert len([r for r in rows if r["kind"] == "variant"]) == 6


# The new configurations and parameters, validated before anything trains.

NEW_CONFIGS = ["tuned-epoch", "tuned-compiled", "cudnn", "nocudnn", "mixed"]  # keras-patched: below


@pytest.mark.parametrize("config", NEW_CONFIGS + ["compiled"])
def test_new_configurations_resolve_for_every_workload_and_backend(config):
    runs = plan.plan(
        "full",
        ["mnist_mlp", "imdb_bidirectional_lstm", "text_generator_keras"],
        ["tensorflow", "jax", "torch", "cntk"],
        config=config,
    )
    assert runs and all(r.config == config for r in runs)
    by_backend = {(r.workload, r.backend): r.params for r in runs}
    if config == "cudnn":
        assert by_backend["imdb_bidirectional_lstm", "jax"]["use_cudnn"] is True
    if config == "mixed":
        assert by_backend["mnist_mlp", "torch"]["precision"] == "mixed"
        assert by_backend["mnist_mlp", "cntk"]["precision"] == "float32"
    if config in ("compiled", "tuned-compiled"):
        assert by_backend["mnist_mlp", "torch"]["jit_compile"] is True


def test_default_is_untouched_and_each_lever_differs_from_its_baseline_by_one_setting():
    configs = params.read_configs()
    assert configs["default"] == {}
    assert params.resolve("imdb_bidirectional_lstm", "full")["use_cudnn"] == "auto"
    # The levers were measured beside tuned-callbacks (then `tuned`): one setting apart each.
    levers = {
        "tuned-epoch": ("jax", {"steps_per_execution": 2000}),
        "tuned-compiled": ("torch", {"jit_compile": True}),
        "cudnn": ("jax", {"use_cudnn": True}),
        "nocudnn": ("torch", {"use_cudnn": False}),
    }
    for label, (backend, change) in sorted(levers.items()):
        base = dict(params.config_settings(configs, "tuned-callbacks", backend))
        base.pop("batch_callbacks")  # true: the notebooks' default, which the levers keep
        assert params.config_settings(configs, label, backend) == dict(base, **change), label
    # mixed is today's `tuned` plus mixed precision.
    assert params.config_settings(configs, "mixed", "jax") == dict(
        params.config_settings(configs, "tuned", "jax"), precision="mixed"
    )


@pytest.mark.parametrize(
    "overrides, backend, message",
    [
        ({"use_cudnn": "yes"}, "jax", "use_cudnn: must be one of 'auto', True, False"),
        ({"precision": "fp16"}, "jax", "precision: must be one of 'float32', 'tf32', 'mixed'"),
        ({"jit_compile": 2}, "torch", "jit_compile: must be one of"),
        ({"steps_per_execution": 8}, "torch", "must be 1 on torch"),
        ({"precision": "mixed"}, "cntk", "Keras 2.3.1 on CNTK has none"),
        ({"steps_per_execution": 8}, "cntk", "no steps_per_execution"),
    ],
)
def test_bad_new_settings_are_one_line_errors(overrides, backend, message):
    with pytest.raises(UserError) as error:
        plan.plan("smoke", ["imdb_bidirectional_lstm"], [backend], overrides=overrides)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("value", ["auto", True, False])
def test_use_cudnn_accepted_on_every_backend_by_the_plan(value):
    runs = plan.plan(
        "smoke",
        ["imdb_bidirectional_lstm"],
        ["tensorflow", "jax", "torch", "cntk"],
        overrides={"use_cudnn": value},
    )
    assert {r.params["use_cudnn"] for r in runs} == {value}


# use_cudnn in the kernel: Keras 3 passes it on (True without a GPU is one clear error), Keras
# 2.3.1 ignores it; kernel.json's report says which LSTM kernel ran. One process per backend.

LSTM_CHECK = r"""
import json, numpy as np
from kerasbench.kernel import compat, lstm_probe, settings
lstm_probe.install()
out = {}
for value in ("auto", False, True):
    settings.use(settings.Settings(use_cudnn=value))
    try:
        import keras
        model = keras.Sequential([compat.input_layer((5,), dtype="int32"),
                                  keras.layers.Embedding(20, 4),
                                  keras.layers.Bidirectional(compat.lstm(3)),
                                  keras.layers.Dense(1, activation="sigmoid")])
        compat.compile(model, optimizer=compat.optimizer("adam", 0.001),
                       loss="binary_crossentropy")
        model.train_on_batch(np.ones((2, 5), "int32"), np.ones((2, 1), "float32"))
        report = lstm_probe.report(model)
        out[str(value)] = {"verdict": report["verdict"],
                           "use_cudnn": [r.get("use_cudnn") for r in report.get("layers", [])],
                           "probe": report.get("probe")}
    except ValueError as e:
        out[str(value)] = {"error": str(e)}
print("RESULT " + json.dumps(out))
"""


def _lstm_check(python, backend, extra_env=None):
    env = dict(
        os.environ,
        KERAS_BACKEND=backend,
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=os.path.join(REPO, "lib"),
    )
    env.update(extra_env or {})
    proc = subprocess.run(
        [python, "-c", LSTM_CHECK],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_use_cudnn_on_keras3_backends_without_a_gpu(backend):
    got = _lstm_check(sys.executable, backend)
    assert got["auto"]["verdict"] == "not available (no GPU): generic loop"
    assert got["auto"]["use_cudnn"] == ["auto", "auto"]  # Bidirectional: forward and backward
    assert got["False"]["use_cudnn"] == [False, False]
    assert "use_cudnn=True asks for cuDNN" in got["True"]["error"]
    if backend in ("jax", "torch"):
        # Keras tried its fused cuDNN path, then each layer's (backend.lstm), and fell back:
        # the probe saw both.
        probe = got["auto"]["probe"]
        assert probe["fused_calls"] >= 1 and probe["fused_declined"] == probe["fused_calls"]
        assert probe["backend_lstm_calls"] >= 2


def _probe(**counts):
    probe = dict.fromkeys(lstm_probe.LSTM_PROBE, 0)
    probe.update(counts)
    return probe


@pytest.mark.parametrize(
    "backend, counts, expected",
    [
        # The H200 BiLSTM on PyTorch (Keras 3.15.1): one fused call a step, 2 shape inferences.
        ("torch", dict(fused_calls=3128, shape_inference_calls=2), (3128, 0)),
        # Without a GPU: the fused call declines, each layer falls back inside backend.lstm.
        ("torch", dict(fused_calls=2, fused_declined=2, backend_lstm_calls=4), (0, 4)),
        ("torch", dict(backend_lstm_calls=4, torch_cudnn_calls=3), (3, 1)),
        # JAX traces once: a fused call that went through, or per-layer calls that declined.
        ("jax", dict(fused_calls=2), (2, 0)),
        (
            "jax",
            dict(fused_calls=2, fused_declined=2, backend_lstm_calls=4, backend_lstm_declined=4),
            (0, 4),
        ),
        ("jax", dict(backend_lstm_calls=4, backend_lstm_declined=1), (3, 1)),
    ],
)
def test_lstm_kernel_counts_known_answers(backend, counts, expected):
    assert lstm_probe.kernel_counts(_probe(**counts), backend) == expected


def test_use_cudnn_is_ignored_by_keras_2_3_1_on_cntk():
    python = os.path.join(CNTK_VENV, "bin", "python")
    if not os.path.exists(python):
        pytest.skip("no %s (make cntk)" % CNTK_VENV)
    got = _lstm_check(python, "cntk", {"LD_LIBRARY_PATH": os.path.join(CNTK_VENV, "mpi-compat")})
    for value in ("auto", "False", "True"):
        assert got[value]["verdict"].startswith("not used (Keras 2.3.1 on cntk")


# A real small profile through the kernel, on the real MNIST data.


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_profile_mnist_mlp_through_the_kernel(tmp_path, data_dir, backend, capsys):
    out = tmp_path / backend
    code = cli.main(
        [
            "profile",
            "--workload",
            "mnist_mlp",
            "--backend",
            backend,
            "--profile",
            "smoke",
            "--steps",
            "3",
            "--repeats",
            "2",
            "--data-dir",
            data_dir,
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    record = json.load(open(out / "profile.json"))
    assert code == 0, record.get("traceback") or record.get("error")
    assert record["status"] == "ok" and record["steps"] == 3
    variants = record["variants"]
    expected = {"fit_default", "fit_metrics", "fit_bare", "fit_device", "step_loop"}
    expected |= {"fit_epoch"} if backend == "jax" else set()
    assert set(variants) == expected
    assert all(len(v["pass_seconds"]) == 2 and v["step_seconds"] > 0 for v in variants.values())
    b = record["breakdown"]
    assert sum(b["fractions"].values()) == pytest.approx(1.0)
    assert b["total"] == pytest.approx(variants["fit_default"]["step_seconds"])
    assert not b["device_measured"]  # a CPU: the device compute is an upper bound, and says so
    assert "no GPU" in record["device_compute"]["how"]
    assert record["kernel"]["backend_settings"]["use_cudnn"] == "auto"
    assert record["kernel"]["data"]["source"] == "subset"
    assert "callbacks and metrics" in printed and os.path.exists(out / "profile.csv")
    # Written in a staging folder and moved in at the end: none is left (issue 28).
    assert not [n for n in os.listdir(str(out)) if n.startswith(".kerasbench-staging")]


def test_profile_checks_its_output_folder_first(tmp_path, data_dir, capsys):
    """`profile` never checked --out: a folder it cannot write was a traceback after the data
    checks. Now it is one line, before anything runs (issue 30)."""
    (tmp_path / "a-file").write_text("")
    out = str(tmp_path / "a-file" / "jax")
    argv = ["profile", "--workload", "mnist_mlp", "--backend", "jax", "--out", out]
    assert cli.main(argv + ["--profile", "smoke", "--data-dir", data_dir]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot write to output folder %s" % out in err and "\n" not in err, err


def test_profile_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert (
        cli.main(
            ["profile", "--workload", "mnist_mlpp", "--backend", "jax", "--out", str(tmp_path)]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown workload" in err and len(err.strip().splitlines()) == 1
    assert (
        cli.main(
            [
                "profile",
                "--workload",
                "mnist_mlp",
                "--backend",
                "jax",
                "--steps",
                "1",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )


# The documented Keras patch (keras-patched): the same training, the steps inside one lax.scan.

PATCH_CHECK = r"""
import json, sys, numpy as np, keras
from kerasbench.kernel import compat, patches, settings
if sys.argv[1] == "patched":
    patches.apply("jax-scan")
compat.set_seed(3)
settings.use(settings.Settings(steps_per_execution=4))
model = keras.Sequential([compat.input_layer((6,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dropout(0.2), keras.layers.Dense(3, activation="softmax")])
compat.compile(model, optimizer=compat.optimizer("rmsprop", 0.01), loss="categorical_crossentropy",
               metrics=["accuracy"])
rng = np.random.RandomState(0)
x = rng.rand(150, 6).astype("float32")   # 10 batches of 16: 9 full, the last one of 6
y = keras.utils.to_categorical(rng.randint(0, 3, 150), 3)
h = model.fit(compat.to_device(x), compat.to_device(y), batch_size=16, epochs=2, verbose=0,
              validation_data=(x[:32], y[:32]))
print("RESULT " + json.dumps({k: [float(v) for v in vs] for k, vs in h.history.items()}))
"""


def _patch_run(mode):
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=os.path.join(REPO, "lib"))
    proc = subprocess.run(
        [sys.executable, "-c", PATCH_CHECK, mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


def test_jax_scan_patch_trains_exactly_as_keras_does():
    plain, patched = _patch_run("plain"), _patch_run("patched")
    assert set(plain) == set(patched) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in plain:
        assert patched[key] == pytest.approx(plain[key], rel=1e-5, abs=1e-6), key


def test_keras_patched_configuration_is_jax_only():
    runs = plan.plan("smoke", ["mnist_mlp"], ["jax", "torch"], config="keras-patched")
    by_backend = {r.backend: r.params for r in runs}
    assert by_backend["jax"]["keras_patch"] == "jax-scan"
    assert by_backend["jax"]["steps_per_execution"] == 2000
    assert by_backend["torch"]["keras_patch"] == ""
    with pytest.raises(UserError, match="patches Keras 3's JAX trainer, not torch"):
        plan.plan("smoke", ["mnist_mlp"], ["torch"], overrides={"keras_patch": "jax-scan"})
    with pytest.raises(UserError, match="set it above 1"):
        plan.plan("smoke", ["mnist_mlp"], ["jax"], overrides={"keras_patch": "jax-scan"})
    with pytest.raises(UserError, match="keras_patch: must be one of"):
        plan.plan("smoke", ["mnist_mlp"], ["jax"], overrides={"keras_patch": "jax-fast"})
