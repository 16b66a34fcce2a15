"""
Title: Text generator with two heads
Description: Max Woolf's `text_generator_keras.py` (2017): next-character prediction on the
Nietzsche text from integer character ids, with an auxiliary head straight off the LSTM and a
main head through two batch-normalized dense layers.
Shows: embeddings, LSTM and BatchNormalization together; in 2017 CNTK trained it fine but its
generated text was gibberish (a BatchNormalization inference bug), visible only in the samples.

Input(40 ids) -> Embedding 300 -> LSTM 128 (implementation 2); aux head: Dense V softmax;
main head: Dense 512 (no bias) -> BN -> ReLU -> Dense 256 (no bias) -> BN -> ReLU -> Dense V
softmax. Adam lr 1e-3 with Keras 2's decay 1e-4, loss weights main 1.0, aux 0.2, batch 128.
The GloVe file the script names was never used: the embedding starts random.
"""

import numpy as np

import keras

from kerasbench.kernel import compat, datasets, textgen
from kerasbench.workloads.lstm_text_generation import Corpus

# The notebook is written from this header (python -m kerasbench.kernel.notebooks): the
# docstring, the data set's subset parameters, then PARAMETERS, this workload's own (the `smoke`
# profile's values), and the signatures of the functions below.
PARAMETERS = """\
epochs = 2  # full: 10
batch_size = 128  # full: 128
embedding_dim = 300  # character embedding width
lstm_units = 128  # LSTM units
dense_units = [512, 256]  # the main head's two batch-normalized dense layers
learning_rate = 0.001  # Adam
decay = 0.0001  # Keras 2's learning-rate decay: lr / (1 + decay * step)
loss_weights = [1.0, 0.2]  # main head, auxiliary head
sample_chars = 100  # characters generated after training; full: 1200
temperature = 0.5  # sampling temperature
"""

# Data: windows of `maxlen` character ids, `step` apart; the next character one-hot, for both heads.


def load_data(source, maxlen=40, step=3, text_chars=0):
    text, kind, detail = source.nietzsche(text_chars)
    chars = sorted(set(text))
    char_indices = {c: i for i, c in enumerate(chars)}
    ids = np.array([char_indices[c] for c in text], dtype="int32")
    starts = np.arange(0, len(text) - maxlen, step)
    x = ids[starts[:, None] + np.arange(maxlen)[None, :]]
    y = np.zeros((len(starts), len(chars)), dtype="float32")
    y[np.arange(len(starts)), ids[starts + maxlen]] = 1.0
    detail = "%s; %d windows, %d distinct characters" % (detail, len(starts), len(chars))
    split = datasets.Split(x, [y, y], None, None, kind, detail)
    return split, Corpus(text, chars, maxlen)


# Model


def build_model(
    corpus,
    embedding_dim=300,
    lstm_units=128,
    dense_units=(512, 256),
    learning_rate=0.001,
    decay=0.0001,
    loss_weights=(1.0, 0.2),
):
    layers = keras.layers
    vocabulary = len(corpus.chars)
    main_input = keras.Input(shape=(corpus.maxlen,), dtype="int32", name="main_input")
    embedded = layers.Embedding(vocabulary, embedding_dim, name="embedding")(main_input)
    rnn = compat.lstm(lstm_units, implementation=2, name="rnn")(embedded)
    aux_output = layers.Dense(vocabulary, activation="softmax", name="aux_out")(rnn)
    hidden = rnn
    for i, units in enumerate(dense_units):
        hidden = layers.Dense(units, use_bias=False, name="hidden_%d" % (i + 1))(hidden)
        hidden = layers.BatchNormalization(name="bn_%d" % (i + 1))(hidden)
        hidden = layers.Activation("relu", name="act_%d" % (i + 1))(hidden)
    main_output = layers.Dense(vocabulary, activation="softmax", name="main_out")(hidden)
    model = keras.Model(inputs=main_input, outputs=[main_output, aux_output])
    return compat.compile(
        model,
        optimizer=compat.optimizer("adam", learning_rate, decay=decay),
        loss=["categorical_crossentropy", "categorical_crossentropy"],
        loss_weights=list(loss_weights),
    )


# Sampling from the main head, after training and untimed


def _ids(window, char_indices):
    return np.array([[char_indices[c] for c in window]], dtype="int32")


def generate(model, corpus, sample_chars=1200, temperature=0.5, seed=0):
    return textgen.generate(
        model,
        corpus.text,
        corpus.chars,
        corpus.maxlen,
        sample_chars,
        temperature,
        seed,
        _ids,
        head=0,
    )
