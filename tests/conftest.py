"""Shared test set-up: the real datasets beside the checkout (../shared/datasets), never a download."""

import os

import pytest

# Kernel-side unit tests import Keras in the test process: pin a light backend before any import.
# (Each backend gets its own process in the tests that compare backends.)
os.environ.setdefault("KERAS_BACKEND", "jax")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "datasets"))


@pytest.fixture(scope="session")
def data_dir():
    folder = os.environ.get("KERASBENCH_DATA") or SHARED_DATA
    if not os.path.exists(os.path.join(folder, "mnist.npz")):
        pytest.skip("the real datasets are not at %s: set KERASBENCH_DATA" % folder)
    return folder
