"""
Title: MNIST CNN
Description: a small convnet on the MNIST digits (Keras `examples/mnist_cnn.py`, 2017).
Shows: convolution speed; 2017 found TensorFlow faster here.

Conv 32 -> Conv 64 -> MaxPool -> Dropout 0.25 -> Dense 128 -> Dropout 0.5 -> softmax,
Adadelta (Keras 2.0 default lr 1.0, rho 0.95), batch 128, 12 epochs.
"""

import keras

from kerasbench.kernel import compat

# The notebook is written from this header (python -m kerasbench.kernel.notebooks): the
# docstring, the data set's subset parameters, then PARAMETERS, this workload's own (the `smoke`
# profile's values), and the signatures of the functions below.
PARAMETERS = """\
epochs = 2  # full: 12
batch_size = 128  # full: 128
learning_rate = 1.0  # Adadelta, Keras 2.0's default (Keras 3's is 0.001)
rho = 0.95  # Adadelta decay of the squared-gradient average
"""

NUM_CLASSES = 10

# Data: 28x28x1 images (channels_last) scaled to [0, 1], one-hot labels.


def load_data(source, train_samples=0, test_samples=0):
    split = source.mnist(train_samples, test_samples)
    x_train = split.x_train.reshape(-1, 28, 28, 1).astype("float32") / 255
    x_test = split.x_test.reshape(-1, 28, 28, 1).astype("float32") / 255
    y_train = keras.utils.to_categorical(split.y_train, NUM_CLASSES)
    y_test = keras.utils.to_categorical(split.y_test, NUM_CLASSES)
    return split._replace(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


# Model


def build_model(learning_rate=1.0, rho=0.95):
    model = keras.Sequential(
        [
            compat.input_layer((28, 28, 1)),
            keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            keras.layers.Conv2D(64, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Dropout(0.25),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    # Keras 3's Adadelta defaults to lr 0.001; the 2017 script used Keras 2.0's 1.0.
    return compat.compile(
        model,
        optimizer=compat.optimizer("adadelta", learning_rate, rho=rho),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
