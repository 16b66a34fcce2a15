"""
Title: CIFAR-10 CNN with data augmentation
Description: a four-convolution network on CIFAR-10 with random shifts and flips
(Keras `examples/cifar10_cnn.py`, 2017, cut to 20 epochs).
Shows: convolution speed with host-side augmentation; 2017 found TensorFlow slightly faster.

Augmentation: shifts of up to 10% of width and height, horizontal flips; 1562 steps of 32 per
epoch. RMSprop lr 1e-4 with Keras 2's decay 1e-6.
"""

import numpy as np

import keras

from kerasbench.kernel import compat

# The notebook is written from this header (python -m kerasbench.kernel.notebooks): the
# docstring, the data set's subset parameters, then PARAMETERS, this workload's own (the `smoke`
# profile's values), and the signatures of the functions below.
PARAMETERS = """\
epochs = 2  # full: 20
batch_size = 32  # full: 32
augment = True  # random shifts and flips on training batches, as in 2017
width_shift = 0.1  # largest horizontal shift, fraction of the width
height_shift = 0.1  # largest vertical shift, fraction of the height
horizontal_flip = True  # flip half of the images left-right
learning_rate = 0.0001  # RMSprop
decay = 1e-06  # Keras 2's learning-rate decay: lr / (1 + decay * step)
"""

NUM_CLASSES = 10

# Data: 32x32x3 images scaled to [0, 1], one-hot labels.


def load_data(source, train_samples=0, test_samples=0):
    split = source.cifar10(train_samples, test_samples)
    return split._replace(
        x_train=split.x_train.astype("float32") / 255,
        y_train=keras.utils.to_categorical(split.y_train, NUM_CLASSES),
        x_test=split.x_test.astype("float32") / 255,
        y_test=keras.utils.to_categorical(split.y_test, NUM_CLASSES),
    )


class AugmentedBatches(compat.batch_sequence_base()):
    """Shuffled training batches with random shifts and horizontal flips, made with NumPy.

    The same NumPy code feeds every backend and both Kerases (the 2017 script used Keras 2's
    ImageDataGenerator, which Keras 3 no longer has). Shifts are whole pixels with edge
    ("nearest") fill, drawn uniformly within the range, like ImageDataGenerator's defaults.
    """

    def __init__(
        self,
        x,
        y,
        batch_size,
        width_shift=0.1,
        height_shift=0.1,
        horizontal_flip=True,
        augment=True,
        seed=0,
    ):
        if compat.KERAS3:
            super(AugmentedBatches, self).__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.max_dx = int(round(width_shift * x.shape[2]))
        self.max_dy = int(round(height_shift * x.shape[1]))
        self.horizontal_flip, self.augment = horizontal_flip, augment
        self.rng = np.random.RandomState(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return len(self.x) // self.batch_size

    def __getitem__(self, index):
        ids = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        x, y = self.x[ids], self.y[ids]
        if self.augment:
            x = self._augment(x)
        return x, y

    def _augment(self, x):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        dy, dx = self.max_dy, self.max_dx
        padded = np.pad(x, ((0, 0), (dy, dy), (dx, dx), (0, 0)), mode="edge")
        oy = self.rng.randint(0, 2 * dy + 1, size=n)
        ox = self.rng.randint(0, 2 * dx + 1, size=n)
        out = np.empty_like(x)
        for i in range(n):
            out[i] = padded[i, oy[i] : oy[i] + h, ox[i] : ox[i] + w]
        if self.horizontal_flip:
            flip = self.rng.rand(n) < 0.5
            out[flip] = out[flip, :, ::-1]
        return out

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))


def train_batches(
    data, batch_size, width_shift=0.1, height_shift=0.1, horizontal_flip=True, augment=True, seed=0
):
    return AugmentedBatches(
        data.x_train,
        data.y_train,
        batch_size,
        width_shift,
        height_shift,
        horizontal_flip,
        augment,
        seed,
    )


# Model


def conv_block(filters):
    """Two 3x3 convolutions (the first padded), each with ReLU, then 2x2 max pooling and dropout
    0.25: the 2017 script's two blocks, of 32 and 64 filters."""
    layers = keras.layers
    return [
        layers.Conv2D(filters, (3, 3), padding="same"),
        layers.Activation("relu"),
        layers.Conv2D(filters, (3, 3)),
        layers.Activation("relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
    ]


def build_model(learning_rate=0.0001, decay=1e-6):
    layers = keras.layers
    model = keras.Sequential(
        [compat.input_layer((32, 32, 3))]
        + conv_block(32)
        + conv_block(64)
        + [
            layers.Flatten(),
            layers.Dense(512),
            layers.Activation("relu"),
            layers.Dropout(0.5),
            layers.Dense(NUM_CLASSES),
            layers.Activation("softmax"),
        ]
    )
    return compat.compile(
        model,
        optimizer=compat.optimizer("rmsprop", learning_rate, decay=decay),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
