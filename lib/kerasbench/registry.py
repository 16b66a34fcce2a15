"""The one place that names every workload: its module, notebook, parameter file and data.

The CLI, the runner, the tests (workloads x backends) and the report labels all read this table,
so adding a workload is one module, one notebook, one params file and one line here.
Runs on both sides (no Keras import, Python 3.6 syntax).
"""

import collections
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOKS_DIR = os.path.join(ROOT, "notebooks")
PARAMS_DIR = os.path.join(ROOT, "params")

BACKENDS = ("tensorflow", "jax", "torch", "cntk")
DEFAULT_BACKENDS = ("tensorflow", "jax", "torch")
PROFILES = ("smoke", "quick", "full")

# metric: the column the report follows over training ("val_accuracy" = test accuracy, since the
# test set is passed as validation data, as in 2017; the text models log training loss only).
Workload = collections.namedtuple("Workload", ["name", "title", "datasets", "metric", "text_model"])

WORKLOADS = collections.OrderedDict(
    (w.name, w)
    for w in [
        Workload(
            "imdb_bidirectional_lstm", "IMDb bidirectional LSTM", ("imdb",), "val_accuracy", False
        ),
        Workload("imdb_fasttext", "IMDb fastText (bigrams)", ("imdb",), "val_accuracy", False),
        Workload("mnist_mlp", "MNIST MLP", ("mnist",), "val_accuracy", False),
        Workload("mnist_cnn", "MNIST CNN", ("mnist",), "val_accuracy", False),
        Workload(
            "cifar10_cnn", "CIFAR-10 CNN with augmentation", ("cifar10",), "val_accuracy", False
        ),
        Workload("lstm_text_generation", "Nietzsche char-LSTM", ("nietzsche",), "loss", True),
        Workload(
            "text_generator_keras",
            "Text generator (embedding, LSTM, two heads)",
            ("nietzsche",),
            "main_out_loss",
            True,
        ),
    ]
)


# Runs a model file given as a workload (`--workloads path/to/my_model.py`, study.usermodel).
USER_NOTEBOOK = "user_model"


def notebook_path(name):
    """notebooks/<name>.ipynb; a name not in WORKLOADS is a model file's: notebooks/user_model."""
    if name not in WORKLOADS:
        name = USER_NOTEBOOK
    return os.path.join(NOTEBOOKS_DIR, name + ".ipynb")


def params_path(name):
    return os.path.join(PARAMS_DIR, name + ".yaml")


def module_name(name):
    return "kerasbench.workloads." + name
