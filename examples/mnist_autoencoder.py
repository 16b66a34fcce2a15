"""
Title: A subclassed autoencoder with its own compute_loss, on MNIST
Author: after keras-io ("Making new layers and models via subclassing": the end-to-end
    autoencoder; `Model.compute_loss` as the Keras 3 API reference overrides it), as a kerasbench
    model file
Description: an encoder and a decoder as layers of a subclassed `keras.Model`, trained to
reconstruct MNIST digits. The model computes its own loss from its inputs (`compute_loss`),
plus an activity penalty its encoder adds with `add_loss`: it has no targets (y is None) and no
compiled metric, so the report follows its training loss.
Shows: a subclassed model (not built until it first sees a batch), `compute_loss`, `add_loss`,
`y=None`.

Run it with `kerasbench run --workloads examples/mnist_autoencoder.py`.
"""

import os

import numpy as np

import keras
from keras import layers, ops

PARAMS = {
    "full": {
        "epochs": 10,
        "batch_size": 128,
        "train_samples": 0,  # 0 means all 60,000 images
        "test_samples": 0,  # 0 means all 10,000
        "hidden": 128,
        "code": 32,
        "sparsity": 1e-5,  # weight of the encoder's activity penalty (its add_loss)
        "learning_rate": 0.001,
    },
    "quick": {"epochs": 2, "train_samples": 10000, "test_samples": 2000},
    "smoke": {"epochs": 2, "train_samples": 512, "test_samples": 256, "hidden": 64},
}


def load_data(params, data_dir):
    # mnist.npz read from the data folder with NumPy; the digits' labels are not used.
    with np.load(os.path.join(data_dir, "mnist.npz")) as f:
        x_train, x_test = f["x_train"], f["x_test"]
    if params["train_samples"]:
        x_train = x_train[: params["train_samples"]]
    if params["test_samples"]:
        x_test = x_test[: params["test_samples"]]
    x_train = (x_train.reshape(len(x_train), 784) / 255.0).astype("float32")
    x_test = (x_test.reshape(len(x_test), 784) / 255.0).astype("float32")
    return (x_train, None), (x_test, None)  # no targets: the model reconstructs its input


class Encoder(layers.Layer):
    """Image -> code; adds an L1 penalty on the code (a sparse autoencoder) with add_loss."""

    def __init__(self, hidden, code, sparsity, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(hidden, activation="relu")
        self.code = layers.Dense(code, activation="relu")
        self.sparsity = sparsity

    def call(self, inputs):
        code = self.code(self.hidden(inputs))
        self.add_loss(
            self.sparsity * ops.sum(ops.abs(code)) / ops.cast(ops.shape(code)[0], "float32")
        )
        return code


class Decoder(layers.Layer):
    def __init__(self, hidden, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(hidden, activation="relu")
        self.pixels = layers.Dense(784, activation="sigmoid")

    def call(self, inputs):
        return self.pixels(self.hidden(inputs))


class Autoencoder(keras.Model):
    def __init__(self, hidden, code, sparsity, **kwargs):
        super().__init__(**kwargs)
        self.encoder = Encoder(hidden, code, sparsity)
        self.decoder = Decoder(hidden)

    def call(self, inputs):
        return self.decoder(self.encoder(inputs))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # The target is the input itself; the encoder's penalty (self.losses) is added on top.
        reconstruction = ops.mean(keras.losses.binary_crossentropy(x, y_pred))
        return reconstruction + sum(self.losses)


def build_model(params):
    model = Autoencoder(params["hidden"], params["code"], params["sparsity"])
    model.compile(optimizer=keras.optimizers.Adam(params["learning_rate"]))
    return model
