"""
Title: A model with several inputs and outputs (the functional API guide's ticket model)
Author: fchollet (keras-io guide "The Functional API": "Models with multiple inputs and
    outputs"), as a kerasbench model file
Description: issue tickets ranked by priority and routed to a department, from three inputs: the
ticket's title and body (word ids) and its tags (a binary vector). Two outputs: `priority` (a
score in [0, 1]) and `department` (logits over departments), weighted in the loss.
Shows: a functional model with inputs and targets given by name (dicts), one loss and one metric
per output, and data the file makes up itself, as the guide does (`generated: True`: the report
does not compare its metric).

Run it with `kerasbench run --workloads examples/ticket_classifier.py`.
"""

import numpy as np

import keras
from keras import layers

PARAMS = {
    "full": {
        "epochs": 2,
        "batch_size": 32,
        "train_samples": 1280,  # the guide's dummy data: 1,280 tickets
        "test_samples": 256,
        "num_tags": 12,  # number of unique issue tags
        "num_words": 10000,  # size of the vocabulary of the text inputs
        "num_departments": 4,
        "title_length": 10,
        "body_length": 100,
        "loss_weights": [1.0, 0.2],  # priority, department (the guide's)
        "generated": True,  # the guide's tickets are random: nothing to learn from them
    },
    "smoke": {"epochs": 2, "train_samples": 256, "test_samples": 64, "body_length": 20},
}


def _tickets(params, n, rng):
    inputs = {
        "title": rng.randint(params["num_words"], size=(n, params["title_length"])),
        "body": rng.randint(params["num_words"], size=(n, params["body_length"])),
        "tags": rng.randint(2, size=(n, params["num_tags"])).astype("float32"),
    }
    targets = {
        "priority": rng.random_sample(size=(n, 1)).astype("float32"),
        "department": rng.randint(2, size=(n, params["num_departments"])).astype("float32"),
    }
    return inputs, targets


def load_data(params, data_dir):
    rng = np.random.RandomState(0)
    return _tickets(params, params["train_samples"], rng), _tickets(
        params, params["test_samples"], rng
    )


def build_model(params):
    title_input = keras.Input(shape=(None,), name="title")  # variable-length word ids
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(params["num_tags"],), name="tags")

    # Each word of the title and of the body embedded into a 64-dimensional vector, each text
    # reduced to one vector (128 and 32 dimensions) by an LSTM.
    title_features = layers.Embedding(params["num_words"], 64)(title_input)
    body_features = layers.Embedding(params["num_words"], 64)(body_input)
    title_features = layers.LSTM(128)(title_features)
    body_features = layers.LSTM(32)(body_features)

    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(params["num_departments"], name="department")(x)

    model = keras.Model(
        inputs=[title_input, body_input, tags_input],
        outputs={"priority": priority_pred, "department": department_pred},
    )
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={
            "priority": keras.losses.BinaryCrossentropy(from_logits=True),
            "department": keras.losses.CategoricalCrossentropy(from_logits=True),
        },
        loss_weights={
            "priority": params["loss_weights"][0],
            "department": params["loss_weights"][1],
        },
        metrics={"department": [keras.metrics.CategoricalAccuracy(name="accuracy")]},
    )
    return model
