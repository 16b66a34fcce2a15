"""Initial weights in NumPy, in Keras' layouts, so both frameworks start from the same numbers for
a seed. Keras 3's initialisers: glorot_uniform kernels, zero biases, orthogonal recurrent kernels,
uniform(-0.05, 0.05) embeddings, LSTM forget-gate bias 1 (unit_forget_bias).

Layouts (Keras'): Dense kernel (in, out); Conv2D kernel (kh, kw, in, out), channels_last, so the
flattened conv output is in (h, w, c) order; LSTM kernel (in, 4 * units) and recurrent kernel
(units, 4 * units) with gates in the order i, f, c, o. The torch models transpose on loading.
The draws are NumPy's, not Keras': same distributions, different numbers than a Keras run.
"""

from __future__ import annotations

import numpy as np

from kerasbench.native.specs import EMBEDDING_DIM, LSTM_UNITS, MAX_FEATURES


def glorot_uniform(rng, shape):
    if len(shape) == 2:
        fan_in, fan_out = shape
    else:  # conv kernel (kh, kw, in, out)
        receptive = int(np.prod(shape[:-2]))
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def orthogonal(rng, shape):
    """Keras' OrthogonalInitializer (gain 1) for a 2-D shape: QR of a normal matrix, sign-fixed;
    with fewer rows than columns the rows are orthonormal."""
    rows, cols = shape
    a = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return q.astype(np.float32)


def _dense(rng, p, name, n_in, n_out):
    p[f"{name}/kernel"] = glorot_uniform(rng, (n_in, n_out))
    p[f"{name}/bias"] = np.zeros(n_out, np.float32)


def _lstm(rng, p, name, n_in, units):
    p[f"{name}/kernel"] = glorot_uniform(rng, (n_in, 4 * units))
    p[f"{name}/recurrent_kernel"] = orthogonal(rng, (units, 4 * units))
    bias = np.zeros(4 * units, np.float32)
    bias[units : 2 * units] = 1.0  # unit_forget_bias
    p[f"{name}/bias"] = bias


def init_params(workload: str, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    p: dict[str, np.ndarray] = {}
    if workload == "mnist_mlp":
        _dense(rng, p, "dense_0", 784, 512)
        _dense(rng, p, "dense_1", 512, 512)
        _dense(rng, p, "dense_2", 512, 10)
    elif workload == "mnist_cnn":
        p["conv_0/kernel"] = glorot_uniform(rng, (3, 3, 1, 32))
        p["conv_0/bias"] = np.zeros(32, np.float32)
        p["conv_1/kernel"] = glorot_uniform(rng, (3, 3, 32, 64))
        p["conv_1/bias"] = np.zeros(64, np.float32)
        _dense(rng, p, "dense_0", 12 * 12 * 64, 128)
        _dense(rng, p, "dense_1", 128, 10)
    elif workload == "imdb_bidirectional_lstm":
        p["embedding"] = rng.uniform(-0.05, 0.05, (MAX_FEATURES, EMBEDDING_DIM)).astype(np.float32)
        _lstm(rng, p, "forward", EMBEDDING_DIM, LSTM_UNITS)
        _lstm(rng, p, "backward", EMBEDDING_DIM, LSTM_UNITS)
        _dense(rng, p, "dense", 2 * LSTM_UNITS, 1)
    else:
        raise ValueError(f"unknown workload {workload!r}")
    return p


def count(params) -> int:
    return int(sum(int(np.prod(v.shape)) for v in params.values()))
