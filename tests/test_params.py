"""Parameter profiles: the full profile is the 2017 configuration, and bad values are one-line errors."""

import pytest

from kerasbench import registry
from kerasbench.study import params
from kerasbench.study.params import ParamError

# The 2017 configuration (docs/workloads.md in ../shared/docs), workload by workload.
FULL_2017 = {
    "imdb_bidirectional_lstm": dict(
        epochs=4,
        batch_size=32,
        max_features=20000,
        maxlen=100,
        embedding_dim=128,
        lstm_units=64,
        dropout=0.5,
        learning_rate=0.001,
        train_samples=0,
        test_samples=0,
    ),
    "imdb_fasttext": dict(
        epochs=5,
        batch_size=32,
        max_features=20000,
        ngram_range=2,
        maxlen=400,
        embedding_dims=50,
        learning_rate=0.001,
        train_samples=0,
        test_samples=0,
    ),
    "mnist_mlp": dict(
        epochs=20,
        batch_size=128,
        hidden_units=512,
        dropout=0.2,
        learning_rate=0.001,
        train_samples=0,
        test_samples=0,
    ),
    "mnist_cnn": dict(
        epochs=12, batch_size=128, learning_rate=1.0, rho=0.95, train_samples=0, test_samples=0
    ),
    "cifar10_cnn": dict(
        epochs=20,
        batch_size=32,
        augment=True,
        width_shift=0.1,
        height_shift=0.1,
        horizontal_flip=True,
        learning_rate=0.0001,
        decay=1e-6,
        train_samples=0,
        test_samples=0,
    ),
    "lstm_text_generation": dict(
        epochs=10,
        batch_size=128,
        maxlen=40,
        step=3,
        lstm_units=128,
        learning_rate=0.01,
        text_chars=0,
        sample_chars=400,
        temperature=0.5,
    ),
    "text_generator_keras": dict(
        epochs=10,
        batch_size=128,
        maxlen=40,
        step=3,
        embedding_dim=300,
        lstm_units=128,
        dense_units=[512, 256],
        learning_rate=0.001,
        decay=0.0001,
        loss_weights=[1.0, 0.2],
        text_chars=0,
        sample_chars=1200,
        temperature=0.5,
    ),
}


@pytest.mark.parametrize("workload", list(registry.WORKLOADS))
def test_full_profile_is_the_2017_configuration(workload):
    values = params.resolve(workload, "full")
    for key, expected in FULL_2017[workload].items():
        assert values[key] == expected, key
    assert values["allow_generated"] is False
    assert values["precision"] == "float32"


@pytest.mark.parametrize("workload", list(registry.WORKLOADS))
def test_full_profile_names_every_workload_parameter(workload):
    _, data = params.read_file(workload)
    declared = (
        set(params.notebook_parameters(workload))
        - set(params.RUNNER_KEYS)
        - set(params.RUN_SETTINGS)
    )
    assert declared == set(data["full"]), "the full profile must spell out the 2017 configuration"


@pytest.mark.parametrize("workload", list(registry.WORKLOADS))
@pytest.mark.parametrize("profile", ["smoke", "quick"])
def test_small_profiles_are_smaller(workload, profile):
    small, full = params.resolve(workload, profile), params.resolve(workload, "full")
    assert small["epochs"] < full["epochs"]
    assert small["allow_generated"] is True
    assert 2 <= small["epochs"], "the analysis needs a warm-up epoch and a steady-state one"


def test_smoke_profile_matches_the_notebook_defaults():
    for workload in registry.WORKLOADS:
        defaults = params.notebook_parameters(workload)
        smoke = params.resolve(workload, "smoke")
        for key, value in smoke.items():
            assert defaults[key] == value, (workload, key)


def write(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return str(path)


BAD = [
    (
        "full:\n  epoch: 3\n",
        "full.epoch: is not a parameter of notebooks/mnist_mlp.ipynb (did you mean 'epochs'?)",
    ),
    ("full:\n  epochs: 0\n", "full.epochs: must be a positive integer, got 0"),
    ("full:\n  epochs: -1\n", "must be a positive integer"),
    ("full:\n  epochs: 2.5\n", "full.epochs: must be an integer, got 2.5"),
    ("full:\n  epochs: '3'\n", "must be an integer"),
    ("full:\n  batch_size: 0\n", "full.batch_size: must be a positive integer"),
    ("full:\n  dropout: 1.5\n", "full.dropout: must be a number in [0, 1)"),
    ("full:\n  learning_rate: 1e-3\n", "full.learning_rate: must be a number, got '1e-3'"),
    ("full:\n  allow_generated: 1\n", "full.allow_generated: must be true or false"),
    (
        "full:\n  train_samples: 70000\n",
        "full.train_samples: 70000 is more than the 60000 examples mnist has",
    ),
    ("full:\n  test_samples: 10001\n", "more than the 10000 examples"),
    ("full:\n  precision: bf16\n", "full.precision: must be one of 'float32', 'tf32'"),
    ("full:\n  seed: 3\n", "full.seed: is set by the runner"),
    ("full:\n  epochs: [\n", "not valid YAML"),
    ("- 1\n- 2\n", "must map profile names"),
    ("fast:\n  epochs: 2\n", "unknown profile 'fast'"),
    ("smoke:\n  epochs: 2\n", "has no `full` profile"),
    ("full:\n  train_samples: 100\n  batch_size: 128\n", "no full batch"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_bad_params_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(ParamError) as info:
        params.resolve("mnist_mlp", "full", path=write(tmp_path, text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert "p.yaml" in str(info.value), "the message names the file"


def test_text_chars_rules(tmp_path):
    with pytest.raises(ParamError, match="more than the 600893 characters"):
        params.resolve(
            "lstm_text_generation", "full", path=write(tmp_path, "full:\n  text_chars: 700000\n")
        )
    with pytest.raises(ParamError, match="leaves no window"):
        params.resolve(
            "lstm_text_generation", "full", path=write(tmp_path, "full:\n  text_chars: 30\n")
        )


def test_unknown_workload_and_profile():
    with pytest.raises(ParamError, match="unknown workload 'mnist'"):
        params.resolve("mnist", "full")
    with pytest.raises(ParamError, match="unknown profile 'fast'"):
        params.resolve("mnist_mlp", "fast")


def test_overrides_are_validated_too():
    assert params.resolve("mnist_mlp", "smoke", overrides={"epochs": 3})["epochs"] == 3
    with pytest.raises(ParamError, match="override.epochs: must be a positive integer"):
        params.resolve("mnist_mlp", "smoke", overrides={"epochs": 0})
    assert params.parse_override("dense_units=[8, 4]") == ("dense_units", [8, 4])
    with pytest.raises(ParamError):
        params.parse_override("epochs")


def test_ints_are_accepted_for_floats():
    values = params.resolve("mnist_cnn", "full", overrides={"learning_rate": 1})
    assert values["learning_rate"] == 1.0 and isinstance(values["learning_rate"], float)
