"""
Title: IMDb fastText with bigrams
Description: sentiment of movie reviews with an averaged n-gram embedding
(Keras `examples/imdb_fasttext.py`, Joulin et al. 2016's fastText, 2017).
Shows: embedding-lookup speed; 2017 found TensorFlow faster here.

Top 20,000 words plus every bigram seen in training (ids from 20,001 up), reviews cut to 400
tokens, Embedding 50 -> GlobalAveragePooling1D -> sigmoid, Adam, batch 32, 5 epochs.
"""

import numpy as np

import keras

from kerasbench.kernel import compat

# The notebook is written from this header (python -m kerasbench.kernel.notebooks): the
# docstring, the data set's subset parameters, then PARAMETERS, this workload's own (the `smoke`
# profile's values), and the signatures of the functions below.
PARAMETERS = """\
epochs = 2  # full: 5
batch_size = 32  # full: 32
max_features = 20000  # vocabulary of single words
ngram_range = 2  # 2 adds bigrams, as in 2017
maxlen = 400  # tokens per review after padding/truncation
embedding_dims = 50  # embedding width
learning_rate = 0.001  # Adam
"""

# Data: word ids, then the ids of the bigrams each review contains, appended to it.


def ngrams(sequence, n):
    return set(zip(*[sequence[i:] for i in range(n)]))


def add_ngrams(sequences, token_indice, ngram_range):
    """Appends the id of every known n-gram (2..ngram_range) found in each sequence."""
    result = []
    for sequence in sequences:
        new_list = list(sequence)
        for ngram_value in range(2, ngram_range + 1):
            for i in range(len(new_list) - ngram_value + 1):
                ngram = tuple(new_list[i : i + ngram_value])
                if ngram in token_indice:
                    new_list.append(token_indice[ngram])
        result.append(new_list)
    return result


def load_data(
    source, max_features=20000, ngram_range=2, maxlen=400, train_samples=0, test_samples=0
):
    split = source.imdb(max_features, train_samples, test_samples)
    x_train, x_test = list(split.x_train), list(split.x_test)
    vocabulary = max_features
    if ngram_range > 1:
        # Bigrams seen in the training set get ids after the word ids, in a fixed order so every
        # backend sees the same ids (the 2017 script iterated a set: its ids varied run to run).
        seen = set()
        for sequence in x_train:
            for n in range(2, ngram_range + 1):
                seen.update(ngrams(list(sequence), n))
        token_indice = {g: i + max_features + 1 for i, g in enumerate(sorted(seen))}
        vocabulary = max(token_indice.values()) + 1 if token_indice else max_features
        x_train = add_ngrams(x_train, token_indice, ngram_range)
        x_test = add_ngrams(x_test, token_indice, ngram_range)
    return split._replace(
        x_train=compat.pad_sequences(x_train, maxlen),
        y_train=np.asarray(split.y_train, "float32"),
        x_test=compat.pad_sequences(x_test, maxlen),
        y_test=np.asarray(split.y_test, "float32"),
        detail=split.detail + "; vocabulary %d with %d-grams" % (vocabulary, ngram_range),
    ), vocabulary


# Model


def build_model(vocabulary, maxlen=400, embedding_dims=50, learning_rate=0.001):
    model = keras.Sequential(
        [
            compat.input_layer((maxlen,), dtype="int32"),
            keras.layers.Embedding(vocabulary, embedding_dims),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    adam = compat.optimizer("adam", learning_rate)
    return compat.compile(model, adam, "binary_crossentropy", metrics=["accuracy"])
