"""
Title: IMDb bidirectional LSTM
Description: sentiment of movie reviews with a bidirectional LSTM
(Keras `examples/imdb_bidirectional_lstm.py`, 2017).
Shows: recurrent-layer speed; 2017 found CNTK much faster here.

Top 20,000 words, reviews cut to 100 words, Embedding 128 -> Bidirectional(LSTM 64) ->
Dropout 0.5 -> sigmoid, Adam, batch 32, 4 epochs.
"""

import numpy as np

import keras

from kerasbench.kernel import compat

# The notebook is written from this header (python -m kerasbench.kernel.notebooks): the
# docstring, the data set's subset parameters, then PARAMETERS, this workload's own (the `smoke`
# profile's values), and the signatures of the functions below.
PARAMETERS = """\
epochs = 2  # full: 4
batch_size = 32  # full: 32
max_features = 20000  # vocabulary: the most frequent words
maxlen = 100  # words per review after padding/truncation
embedding_dim = 128  # embedding width
lstm_units = 64  # units per direction
dropout = 0.5  # dropout after the LSTM
learning_rate = 0.001  # Adam
"""

# Data: word ids of the most frequent `max_features` words, pre-padded/truncated to `maxlen`.


def load_data(source, max_features=20000, maxlen=100, train_samples=0, test_samples=0):
    split = source.imdb(max_features, train_samples, test_samples)
    x_train = compat.pad_sequences(split.x_train, maxlen)
    x_test = compat.pad_sequences(split.x_test, maxlen)
    return split._replace(
        x_train=x_train,
        y_train=np.asarray(split.y_train, "float32"),
        x_test=x_test,
        y_test=np.asarray(split.y_test, "float32"),
    )


# Model


def build_model(
    max_features=20000,
    maxlen=100,
    embedding_dim=128,
    lstm_units=64,
    dropout=0.5,
    learning_rate=0.001,
):
    model = keras.Sequential(
        [
            compat.input_layer((maxlen,), dtype="int32"),
            keras.layers.Embedding(max_features, embedding_dim),
            keras.layers.Bidirectional(compat.lstm(lstm_units)),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    return compat.compile(
        model,
        optimizer=compat.optimizer("adam", learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
