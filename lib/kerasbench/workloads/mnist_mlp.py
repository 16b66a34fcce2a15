"""
Title: MNIST MLP
Description: a multilayer perceptron on the MNIST digits (Keras `examples/mnist_mlp.py`, 2017).
Shows: per-step overhead on a small dense model; 2017 found CNTK faster here.

Two hidden layers of 512 ReLU units with dropout 0.2, RMSprop (lr 1e-3), batch 128, 20 epochs.
"""

import keras

from kerasbench.kernel import compat

# The notebook is written from this header (python -m kerasbench.kernel.notebooks): the
# docstring, the data set's subset parameters, then PARAMETERS, this workload's own (the `smoke`
# profile's values), and the signatures of the functions below.
PARAMETERS = """\
epochs = 2  # full: 20
batch_size = 128  # full: 128
hidden_units = 512  # units in each of the two hidden layers
dropout = 0.2  # dropout after each hidden layer
learning_rate = 0.001  # RMSprop, Keras 2.0's default
"""

NUM_CLASSES = 10

# Data: flattened to 784 values scaled to [0, 1], one-hot labels.


def load_data(source, train_samples=0, test_samples=0):
    split = source.mnist(train_samples, test_samples)
    x_train = split.x_train.reshape(-1, 784).astype("float32") / 255
    x_test = split.x_test.reshape(-1, 784).astype("float32") / 255
    y_train = keras.utils.to_categorical(split.y_train, NUM_CLASSES)
    y_test = keras.utils.to_categorical(split.y_test, NUM_CLASSES)
    return split._replace(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


# Model


def build_model(hidden_units=512, dropout=0.2, learning_rate=0.001):
    model = keras.Sequential(
        [
            compat.input_layer((784,)),
            keras.layers.Dense(hidden_units, activation="relu"),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(hidden_units, activation="relu"),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    return compat.compile(
        model,
        optimizer=compat.optimizer("rmsprop", learning_rate, rho=0.9),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
