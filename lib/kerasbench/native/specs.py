"""The three workloads: hyperparameters of the 2017 Keras examples (Keras 2.0 defaults made
explicit, Keras 3 epsilons) and the parameter counts of the Keras models."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Workload:
    name: str
    dataset: str  # "mnist" or "imdb"
    loss: str  # "categorical" (softmax + cross-entropy) or "binary" (sigmoid + BCE)
    optimizer: str  # "rmsprop", "adadelta" or "adam"
    hyper: dict = field(default_factory=dict)  # optimizer hyperparameters, Keras 3 names
    batch_size: int = 128
    epochs: int = 1
    keras_params: int = 0  # Keras' model.count_params()


MAX_FEATURES = 20000  # IMDb vocabulary (num_words)
MAXLEN = 100  # IMDb review length after pre-padding / pre-truncation
EMBEDDING_DIM = 128
LSTM_UNITS = 64

WORKLOADS = {
    "mnist_mlp": Workload(
        "mnist_mlp",
        "mnist",
        "categorical",
        "rmsprop",
        {"learning_rate": 1e-3, "rho": 0.9, "epsilon": 1e-7},
        batch_size=128,
        epochs=20,
        keras_params=784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10,
    ),  # 669,706
    "mnist_cnn": Workload(
        "mnist_cnn",
        "mnist",
        "categorical",
        "adadelta",
        {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7},
        batch_size=128,
        epochs=12,
        keras_params=(3 * 3 * 1 * 32 + 32)
        + (3 * 3 * 32 * 64 + 64)
        + 12 * 12 * 64 * 128
        + 128
        + 128 * 10
        + 10,
    ),  # 1,199,882
    "imdb_bidirectional_lstm": Workload(
        "imdb_bidirectional_lstm",
        "imdb",
        "binary",
        "adam",
        {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
        batch_size=32,
        epochs=4,
        keras_params=MAX_FEATURES * EMBEDDING_DIM
        + 2 * (4 * LSTM_UNITS * (EMBEDDING_DIM + LSTM_UNITS) + 4 * LSTM_UNITS)
        + 2 * LSTM_UNITS
        + 1,
    ),  # 2,658,945
}

EVAL_BATCH_SIZE = 1024  # evaluation only: the batch size does not change the mean


def workload(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r} (native: {', '.join(WORKLOADS)})") from None
