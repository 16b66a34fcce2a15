"""Every workload builds on every backend with the same parameter count, the 2017 one.

Each backend gets its own process: KERAS_BACKEND is fixed before Keras is imported.
"""

import json
import os
import subprocess
import sys

import pytest


from kerasbench import registry
from kerasbench.study import kernels

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Counted by hand from docs/workloads.md's layer stacks (full configuration; the text models with
# the 57 characters of the lower-cased Nietzsche corpus, fastText with a 30,000-id vocabulary).
EXPECTED = {
    "mnist_mlp": 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10,  # 669,706
    "mnist_cnn": 320 + 18496 + 9216 * 128 + 128 + 128 * 10 + 10,  # 1,199,882
    "cifar10_cnn": 896 + 9248 + 18496 + 36928 + 2304 * 512 + 512 + 5130,  # 1,250,858
    "imdb_bidirectional_lstm": 20000 * 128 + 2 * 4 * 64 * (128 + 64 + 1) + 129,  # 2,658,945
    "imdb_fasttext": 30000 * 50 + 51,  # 1,500,051
    "lstm_text_generation": 4 * 128 * (57 + 128 + 1) + 128 * 57 + 57,  # 102,585
    "text_generator_keras": (
        57 * 300
        + 4 * 128 * (300 + 128 + 1)
        + 128 * 57
        + 57
        + 128 * 512
        + 4 * 512
        + 512 * 256
        + 4 * 256
        + 256 * 57
        + 57
    ),
}


def build_counts(backend):
    script = r"""
import json, string, sys
from kerasbench.kernel import compat
from kerasbench.workloads import (cifar10_cnn, imdb_bidirectional_lstm, imdb_fasttext,
    lstm_text_generation, mnist_cnn, mnist_mlp, text_generator_keras)
corpus = lstm_text_generation.Corpus("x" * 100, list(string.printable[:57]), 40)
models = {
    "mnist_mlp": mnist_mlp.build_model(),
    "mnist_cnn": mnist_cnn.build_model(),
    "cifar10_cnn": cifar10_cnn.build_model(),
    "imdb_bidirectional_lstm": imdb_bidirectional_lstm.build_model(),
    "imdb_fasttext": imdb_fasttext.build_model(30000),
    "lstm_text_generation": lstm_text_generation.build_model(corpus),
    "text_generator_keras": text_generator_keras.build_model(corpus),
}
print(json.dumps({"backend": compat.backend_name(),
                  "counts": {k: compat.count_params(m) for k, m in models.items()},
                  "shapes": {k: compat.layer_shapes(m) for k, m in models.items()}}))
"""
    python, env = sys.executable, dict(os.environ)
    spec = kernels.find(backend)
    if spec is not None:  # the kernel's own Python and environment (CNTK: Python 3.6, Keras 2.3.1)
        python, env = spec.argv[0], kernels.process_env(spec)
    env.update(
        KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.path.join(REPO, "lib")
    )
    out = subprocess.check_output(
        [python, "-c", script], env=env, universal_newlines=True, timeout=300
    )
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def keras3_shapes():
    return build_counts("jax")["shapes"]


@pytest.mark.parametrize("backend", registry.BACKENDS)
def test_every_workload_builds_with_the_2017_parameter_count(backend, keras3_shapes):
    if backend == "cntk" and kernels.find("cntk") is None:
        pytest.skip("no kerasbench-cntk kernel: `make cntk` needs a Python 3.6 (PYTHON36 or pyenv)")
    result = build_counts(backend)
    assert result["backend"] == backend
    assert result["counts"] == EXPECTED
    # The compatibility module gives the same layers on Keras 2.3.1 (CNTK) as on Keras 3.
    assert result["shapes"] == keras3_shapes
