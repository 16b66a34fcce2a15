"""
Title: Text classification with Transformer
Author: Apoorv Nandan (keras-io, 2020; Keras 3 version), as a kerasbench model file
Description: a Transformer block over token and position embeddings classifies IMDb reviews.
Shows: attention on short sequences, on every backend, through `kerasbench run`.

Run it with `kerasbench run --workloads examples/imdb_transformer.py` (mixable with the built-in
workloads: `--workloads mnist_mlp,examples/imdb_transformer.py`). kerasbench reads PARAMS without
running this file, then in each backend's kernel calls load_data(params, data_dir) and
build_model(params), and trains with the study's logging: the runs land in
`output/runs/imdb_transformer/<backend>/<repeat>/` and appear in the report.
"""

import os

import numpy as np

import keras
from keras import layers, ops

# Profiles: `full` is the keras-io example (2 epochs over the 25,000 training reviews); `quick`
# and `smoke` list only what differs. epochs and batch_size are required; the rest is ours.
PARAMS = {
    "full": {
        "epochs": 2,
        "batch_size": 32,
        "train_samples": 0,  # 0 means all 25,000 reviews
        "test_samples": 0,  # 0 means all 25,000
        "vocab_size": 20000,  # only the top 20k words
        "maxlen": 200,  # only the first 200 words of each review
        "embed_dim": 32,  # embedding size for each token
        "num_heads": 2,  # attention heads
        "ff_dim": 32,  # hidden layer size of the feed-forward network inside the Transformer
        "dropout": 0.1,
        "learning_rate": 0.001,  # Adam's default
    },
    "quick": {"epochs": 2, "train_samples": 5000, "test_samples": 2000},
    "smoke": {"epochs": 2, "train_samples": 256, "test_samples": 128},  # 2: one steady epoch
}


# Data: IMDb reviews as word ids, cut or padded to maxlen, labels 0/1. The file is the imdb.npz
# `keras.datasets.imdb.load_data` downloads, read from the data folder (offline), with that
# loader's steps: shuffled with seed 113, ids shifted by 3 after a start mark 1, rarer words 2.


def _imdb(path, num_words, start_char=1, oov_char=2, index_from=3, seed=113):
    with np.load(path, allow_pickle=True) as f:
        splits = [(f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])]
    out = []
    for i, (x, y) in enumerate(splits):
        order = np.random.RandomState(seed + i).permutation(len(x))  # Keras: seed, seed * 2
        x, y = x[order], y[order]
        x = [
            [start_char]
            + [w + index_from if w + index_from < num_words else oov_char for w in review]
            for review in x
        ]
        out.append((x, y))
    return out


def load_data(params, data_dir):
    (x_train, y_train), (x_test, y_test) = _imdb(
        os.path.join(data_dir, "imdb.npz"), params["vocab_size"]
    )
    if params["train_samples"]:
        x_train, y_train = x_train[: params["train_samples"]], y_train[: params["train_samples"]]
    if params["test_samples"]:
        x_test, y_test = x_test[: params["test_samples"]], y_test[: params["test_samples"]]
    x_train = keras.utils.pad_sequences(x_train, maxlen=params["maxlen"])
    x_test = keras.utils.pad_sequences(x_test, maxlen=params["maxlen"])
    return (
        (x_train.astype("int32"), np.asarray(y_train, "int32")),
        (x_test.astype("int32"), np.asarray(y_test, "int32")),
    )


# Model: a Transformer block as a layer, and token + position embeddings as another.


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs, training=None):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output, training=training)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        return self.token_emb(x) + self.pos_emb(positions)


def build_model(params):
    inputs = layers.Input(shape=(params["maxlen"],), dtype="int32")
    x = TokenAndPositionEmbedding(params["maxlen"], params["vocab_size"], params["embed_dim"])(
        inputs
    )
    x = TransformerBlock(
        params["embed_dim"], params["num_heads"], params["ff_dim"], params["dropout"]
    )(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(params["dropout"])(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(params["dropout"])(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(params["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
