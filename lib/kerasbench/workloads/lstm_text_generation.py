"""
Title: Character-level text generation with an LSTM
Description: next-character prediction on Nietzsche's *Beyond Good and Evil*
(Keras `examples/lstm_text_generation.py`, 2017: one fit of 10 epochs).
Shows: LSTM speed on long one-hot sequences; 2017 found CNTK about twice as fast.

Windows of 40 characters every 3, one-hot; LSTM 128 (implementation 2) -> softmax over the
characters; RMSprop lr 0.01, batch 128. Logs training loss only; samples 400 characters at
temperature 0.5 after training (untimed).
"""

import collections

import numpy as np

import keras

from kerasbench.kernel import compat, datasets, textgen

# The notebook is written from this header (python -m kerasbench.kernel.notebooks): the
# docstring, the data set's subset parameters, then PARAMETERS, this workload's own (the `smoke`
# profile's values), and the signatures of the functions below.
PARAMETERS = """\
epochs = 2  # full: 10
batch_size = 128  # full: 128
lstm_units = 128  # LSTM units
learning_rate = 0.01  # RMSprop
sample_chars = 100  # characters generated after training; full: 400
temperature = 0.5  # sampling temperature
"""

Corpus = collections.namedtuple("Corpus", ["text", "chars", "maxlen"])

# Data: every window of `maxlen` characters, `step` apart, one-hot, and the character after it.


def load_data(source, maxlen=40, step=3, text_chars=0):
    text, kind, detail = source.nietzsche(text_chars)
    chars = sorted(set(text))
    char_indices = {c: i for i, c in enumerate(chars)}
    starts = range(0, len(text) - maxlen, step)
    x = np.zeros((len(starts), maxlen, len(chars)), dtype=bool)
    y = np.zeros((len(starts), len(chars)), dtype=bool)
    for i, start in enumerate(starts):
        for t, char in enumerate(text[start : start + maxlen]):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[text[start + maxlen]]] = 1
    detail = "%s; %d windows, %d distinct characters" % (detail, len(starts), len(chars))
    split = datasets.Split(x, y, None, None, kind, detail)
    return split, Corpus(text, chars, maxlen)


# Model


def build_model(corpus, lstm_units=128, learning_rate=0.01):
    model = keras.Sequential(
        [
            compat.input_layer((corpus.maxlen, len(corpus.chars))),
            compat.lstm(lstm_units, implementation=2),
            keras.layers.Dense(len(corpus.chars), activation="softmax"),
        ]
    )
    return compat.compile(
        model,
        optimizer=compat.optimizer("rmsprop", learning_rate, rho=0.9),
        loss="categorical_crossentropy",
    )


# Sampling, after training and untimed


def _one_hot(window, char_indices):
    x = np.zeros((1, len(window), len(char_indices)), dtype="float32")
    for t, char in enumerate(window):
        x[0, t, char_indices[char]] = 1.0
    return x


def generate(model, corpus, sample_chars=400, temperature=0.5, seed=0):
    return textgen.generate(
        model, corpus.text, corpus.chars, corpus.maxlen, sample_chars, temperature, seed, _one_hot
    )
