"""The workloads' data as NumPy arrays, preprocessed as the Keras workloads do.

Read through the shared loader `kerasbench.kernel.datasets` (NumPy only, never Keras), which gives
`keras.datasets.*.load_data`'s exact output: MNIST as uint8 images, IMDb as word-id lists after
Keras' RandomState(113) shuffle with num_words=20000, index_from=3, start_char=1, oov_char=2.
Where the data file is missing or fails verification, it falls back to generated data of the
right shapes, and the run is labelled `generated`.

Preprocessing, as in lib/kerasbench/workloads/*.py: MNIST scaled to [0, 1] float32, flattened to
784 (MLP) or (28, 28, 1) channels_last (CNN); IMDb pre-padded / pre-truncated to 100 ids (Keras'
pad_sequences defaults). Labels stay integers (int32 class ids; float32 0/1 for IMDb): the loss
on class ids equals categorical cross-entropy on Keras' one-hot labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kerasbench.kernel import datasets
from kerasbench.native.specs import EVAL_BATCH_SIZE, MAX_FEATURES, MAXLEN, workload as get_workload


@dataclass
class Data:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # "full", "subset" or "generated"
    detail: str


@dataclass(frozen=True)
class Setup:
    """What a trainer (jax_models.JaxTrainer, torch_models.TorchTrainer) is given: the workload
    and its data, the mode, the batch size and seed, the device ("cpu" or "cuda"), the float32
    precision ("float32" or "tf32") and the test set's batch size."""

    workload: str
    data: Data
    mode: str
    batch_size: int
    seed: int
    device: str = "cpu"
    precision: str = "float32"
    eval_batch_size: int = EVAL_BATCH_SIZE


def pad_sequences(sequences, maxlen: int) -> np.ndarray:
    """keras.utils.pad_sequences(sequences, maxlen) with its defaults: int32, padding and
    truncating "pre", value 0."""
    out = np.zeros((len(sequences), maxlen), dtype=np.int32)
    for i, seq in enumerate(sequences):
        seq = list(seq)[-maxlen:]
        if seq:
            out[i, maxlen - len(seq) :] = seq
    return out


def load(
    workload: str, folder: str | None, train_samples: int = 0, test_samples: int = 0, seed: int = 0
) -> Data:
    spec = get_workload(workload)
    folder = datasets.data_dir(folder or None)
    if spec.dataset == "mnist":
        split = datasets.load_mnist(
            folder, train_samples, test_samples, allow_generated=True, seed=seed
        )
        shape = (-1, 784) if workload == "mnist_mlp" else (-1, 28, 28, 1)

        def images(x):
            return np.ascontiguousarray(x.reshape(shape).astype(np.float32) / 255)

        return Data(
            images(split.x_train),
            np.asarray(split.y_train, np.int32),
            images(split.x_test),
            np.asarray(split.y_test, np.int32),
            split.source,
            split.detail,
        )
    split = datasets.load_imdb(
        folder,
        num_words=MAX_FEATURES,
        train_samples=train_samples,
        test_samples=test_samples,
        allow_generated=True,
        seed=seed,
    )
    return Data(
        pad_sequences(split.x_train, MAXLEN),
        np.asarray(split.y_train, np.float32),
        pad_sequences(split.x_test, MAXLEN),
        np.asarray(split.y_test, np.float32),
        split.source,
        split.detail,
    )


def epoch_batches(n: int, batch_size: int) -> int:
    """Steps per epoch, the last batch partial as in Keras' fit (ceil)."""
    return -(-n // batch_size)
