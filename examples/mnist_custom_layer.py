"""
Title: Making new layers via subclassing, on MNIST
Author: fchollet (keras-io guide "Making new layers and models via subclassing", Keras 3 version),
    as a kerasbench model file
Description: the guide's `Linear` layer (its own weights, made in `build()`) stacked into a
classifier of MNIST digits, after a `Normalization` layer adapted to the training images.
Shows: a custom layer; `keras.datasets.mnist.load_data()` reading the data folder offline;
`build_model(params, data)` (adapt() before training); a metric compiled as an object
(`SparseCategoricalAccuracy`), which the report follows on every backend.

Run it with `kerasbench run --workloads examples/mnist_custom_layer.py`.
"""

import keras
from keras import layers, ops

PARAMS = {
    "full": {
        "epochs": 5,
        "batch_size": 128,
        "train_samples": 0,  # 0 means all 60,000 images
        "test_samples": 0,  # 0 means all 10,000
        "units": 64,
        "learning_rate": 0.001,
    },
    "quick": {"epochs": 2, "train_samples": 10000, "test_samples": 2000},
    "smoke": {"epochs": 2, "train_samples": 512, "test_samples": 256, "units": 32},
}


def load_data(params, data_dir):
    # Keras' own loader: kerasbench points Keras' home at the data folder, so mnist.npz is read
    # from there (checked against Keras' hash), never downloaded.
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    if params["train_samples"]:
        x_train, y_train = x_train[: params["train_samples"]], y_train[: params["train_samples"]]
    if params["test_samples"]:
        x_test, y_test = x_test[: params["test_samples"]], y_test[: params["test_samples"]]
    x_train = x_train.reshape(len(x_train), 784).astype("float32")
    x_test = x_test.reshape(len(x_test), 784).astype("float32")
    return (x_train, y_train.astype("int32")), (x_test, y_test.astype("int32"))


class Linear(layers.Layer):
    """y = w.x + b, with w and b created once the input size is known (the guide's layer)."""

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


def build_model(params, data):
    (x_train, _), _ = data
    normalize = layers.Normalization()
    normalize.adapt(x_train)  # the training images' mean and variance, per pixel
    inputs = keras.Input(shape=(784,))
    x = normalize(inputs)
    x = layers.Activation("relu")(Linear(params["units"])(x))
    x = layers.Activation("relu")(Linear(params["units"])(x))
    outputs = Linear(10)(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(params["learning_rate"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return model
