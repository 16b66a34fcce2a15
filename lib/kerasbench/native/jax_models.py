"""The three models in JAX, Keras 3's optimizers written out, and the two training modes.

Modes:
- `step`: one jitted train step called per batch from Python. The step gathers its batch from the
  device-resident training set with the epoch's permuted indices, so each step is one dispatch.
- `scan`: the whole epoch as ONE jitted function: jax.lax.scan over the batches of the permuted,
  device-resident dataset, parameters and optimizer state in the carry.

Both modes share the same step function, permutation and dropout keys, so for a seed they compute
the same numbers up to XLA's fusion choices. Every batch has the full batch size: the last one is
padded with index 0 and masked out of the loss (weight 0), so its gradient is that of Keras'
partial last batch and one compiled shape serves every step.

The CNN's convolutions are XLA's own (cuDNN on GPU), except on CPU, where they are written as
patches times a matrix (`conv_im2col`, the same function): XLA:CPU runs a convolution's kernel
gradient some 30 times slower inside a loop body such as lax.scan's (jax-ml/jax#12868).
`settings["conv"]` records which ran.
"""

from __future__ import annotations

import functools

import numpy as np

import jax
import jax.numpy as jnp
from jax import lax

from kerasbench.native import weights
from kerasbench.native.data import Setup, epoch_batches
from kerasbench.native.specs import workload as get_workload

# Models: apply(params, x, key, train) -> logits ((B, 10) for MNIST, (B,) for IMDb)


def _dropout(x, rate, key, train):
    if not train or rate == 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))


def _dense(p, name, x):
    return x @ p[name + "/kernel"] + p[name + "/bias"]


def mlp(p, x, key, train):
    k0, k1 = jax.random.split(key) if train else (None, None)
    h = _dropout(jax.nn.relu(_dense(p, "dense_0", x)), 0.2, k0, train)
    h = _dropout(jax.nn.relu(_dense(p, "dense_1", h)), 0.2, k1, train)
    return _dense(p, "dense_2", h)


def conv_xla(x, kernel):
    """3x3 'valid' convolution, stride 1, NHWC / HWIO: XLA's convolution (cuDNN on GPU)."""
    return lax.conv_general_dilated(
        x,
        kernel,
        window_strides=(1, 1),
        padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )


def conv_im2col(x, kernel):
    """The same convolution as patches times a matrix. Same numbers up to summation order; used on
    CPU because XLA:CPU runs convolutions (the kernel gradient above all) many times slower inside
    a loop body such as lax.scan's (jax-ml/jax#12868), while matmuls are not affected."""
    kh, kw, c_in, c_out = kernel.shape
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    patches = jnp.concatenate(
        [x[:, i : i + h, j : j + w, :] for i in range(kh) for j in range(kw)], axis=-1
    )  # features in (kh, kw, c_in) order, as HWIO reshaped
    return patches @ kernel.reshape(kh * kw * c_in, c_out)


CONVS = {"xla": conv_xla, "im2col": conv_im2col}


def cnn(p, x, key, train, conv=conv_xla):
    k0, k1 = jax.random.split(key) if train else (None, None)
    h = jax.nn.relu(conv(x, p["conv_0/kernel"]) + p["conv_0/bias"])
    h = jax.nn.relu(conv(h, p["conv_1/kernel"]) + p["conv_1/bias"])
    h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    h = _dropout(h, 0.25, k0, train)
    h = h.reshape(h.shape[0], -1)  # (h, w, c) order, as Keras' Flatten on channels_last
    h = _dropout(jax.nn.relu(_dense(p, "dense_0", h)), 0.5, k1, train)
    return _dense(p, "dense_1", h)


def bilstm(p, x, key, train):
    """Embedding -> Bidirectional(LSTM 64, sigmoid recurrent activation), last states concatenated
    [forward, backward] -> Dropout 0.5 -> Dense 1. Both directions run in one lax.scan over time
    (stacked on a leading axis of 2); the backward one reads the reversed sequence, as Keras'
    go_backwards layer does, and returns its state after the first token."""
    e = p["embedding"][x]  # (B, T, E)
    kernel = jnp.stack([p["forward/kernel"], p["backward/kernel"]])  # (2, E, 4U)
    recurrent = jnp.stack([p["forward/recurrent_kernel"], p["backward/recurrent_kernel"]])
    bias = jnp.stack([p["forward/bias"], p["backward/bias"]])  # (2, 4U)
    units = recurrent.shape[1]
    seqs = jnp.stack([e, e[:, ::-1]])  # (2, B, T, E)
    xs = jnp.einsum("dbte,deg->tdbg", seqs, kernel) + bias[None, :, None, :]

    def cell(carry, xt):
        h, c = carry
        z = xt + jnp.einsum("dbu,dug->dbg", h, recurrent)
        i = jax.nn.sigmoid(z[..., :units])
        f = jax.nn.sigmoid(z[..., units : 2 * units])
        g = jnp.tanh(z[..., 2 * units : 3 * units])
        o = jax.nn.sigmoid(z[..., 3 * units :])
        c = f * c + i * g
        return (o * jnp.tanh(c), c), None

    h0 = jnp.zeros((2, x.shape[0], units), e.dtype)
    (h, _), _ = lax.scan(cell, (h0, h0), xs)
    h = jnp.concatenate([h[0], h[1]], axis=-1)
    h = _dropout(h, 0.5, key, train)
    return _dense(p, "dense", h)[:, 0]


MODELS = {"mnist_mlp": mlp, "mnist_cnn": cnn, "imdb_bidirectional_lstm": bilstm}


def per_sample(logits, y, kind):
    """(loss, correct) per example. Categorical: cross-entropy of the softmax, on class ids;
    binary: cross-entropy of the sigmoid; both computed from the logits (log-softmax / softplus),
    which is Keras' loss without its 1e-7 clipping of the probabilities."""
    if kind == "categorical":
        logp = jax.nn.log_softmax(logits)
        loss = -jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]
        correct = jnp.argmax(logits, axis=-1) == y
    else:
        loss = jax.nn.softplus(logits) - logits * y
        correct = (logits > 0) == (y > 0.5)
    return loss, correct.astype(jnp.float32)


# Optimizers: Keras 3's update rules (keras/src/optimizers/*.py update_step), as pure functions.


def _map(f, *trees):
    return jax.tree_util.tree_map(f, *trees)


def rmsprop(learning_rate, rho, epsilon):
    def init(params):
        return _map(jnp.zeros_like, params)

    def update(params, grads, velocity):
        velocity = _map(lambda v, g: rho * v + (1 - rho) * jnp.square(g), velocity, grads)
        params = _map(
            lambda p, g, v: p - learning_rate * g / jnp.sqrt(v + epsilon), params, grads, velocity
        )
        return params, velocity

    return init, update


def adadelta(learning_rate, rho, epsilon):
    def init(params):
        return _map(jnp.zeros_like, params), _map(jnp.zeros_like, params)

    def update(params, grads, state):
        acc_grad, acc_delta = state
        acc_grad = _map(lambda a, g: rho * a + (1 - rho) * jnp.square(g), acc_grad, grads)
        delta = _map(
            lambda d, a, g: -jnp.sqrt(d + epsilon) * g / jnp.sqrt(a + epsilon),
            acc_delta,
            acc_grad,
            grads,
        )
        acc_delta = _map(lambda d, dv: rho * d + (1 - rho) * jnp.square(dv), acc_delta, delta)
        params = _map(lambda p, dv: p + learning_rate * dv, params, delta)
        return params, (acc_grad, acc_delta)

    return init, update


def adam(learning_rate, beta_1, beta_2, epsilon):
    def init(params):
        return (
            jnp.zeros((), jnp.float32),
            _map(jnp.zeros_like, params),
            _map(jnp.zeros_like, params),
        )

    def update(params, grads, state):
        step, m, v = state
        step = step + 1
        alpha = learning_rate * jnp.sqrt(1 - beta_2**step) / (1 - beta_1**step)
        m = _map(lambda m, g: m + (g - m) * (1 - beta_1), m, grads)
        v = _map(lambda v, g: v + (jnp.square(g) - v) * (1 - beta_2), v, grads)
        params = _map(lambda p, m, v: p - m * alpha / (jnp.sqrt(v) + epsilon), params, m, v)
        return params, (step, m, v)

    return init, update


OPTIMIZERS = {"rmsprop": rmsprop, "adadelta": adadelta, "adam": adam}


# Training


def _padded(x, rows):
    pad = rows - len(x)
    return np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)]) if pad else x


def compiled_functions(apply, kind, opt_update, n, batch_size, steps, donate):
    """The jitted functions of both modes, for n training samples in `steps` batches:
    scan_epoch (a whole epoch in one lax.scan), one_step (the step mode's), epoch_indices (the
    epoch's permutation) and evaluate (the test set's loss and correct-answer sums)."""
    B = batch_size

    def epoch_indices(epoch_key):
        """The epoch's permutation as (steps, B) indices and weights (0 for the padding),
        and the key the steps' dropout keys are folded from."""
        perm_key, dropout_key = jax.random.split(epoch_key)
        perm = jax.random.permutation(perm_key, n)
        idx = jnp.concatenate([perm, jnp.zeros(steps * B - n, perm.dtype)]).reshape(steps, B)
        w = (jnp.arange(steps * B) < n).astype(jnp.float32).reshape(steps, B)
        return idx, w, dropout_key

    def train_step(state, X, Y, idx, w, key):
        params, opt_state, metrics = state
        xb, yb = jnp.take(X, idx, axis=0), jnp.take(Y, idx, axis=0)

        def loss_fn(params):
            loss, correct = per_sample(apply(params, xb, key, True), yb, kind)
            total = jnp.sum(loss * w)
            return total / jnp.sum(w), (total, jnp.sum(correct * w))

        (_, (total, correct)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        params, opt_state = opt_update(params, grads, opt_state)
        return params, opt_state, metrics + jnp.stack([total, correct])

    def scan_epoch(state, X, Y, epoch_key):
        idx, w, dropout_key = epoch_indices(epoch_key)
        state = (state[0], state[1], jnp.zeros(2, jnp.float32))

        def body(state, inputs):
            i, idx_i, w_i = inputs
            return train_step(state, X, Y, idx_i, w_i, jax.random.fold_in(dropout_key, i)), None

        state, _ = lax.scan(body, state, (jnp.arange(steps), idx, w))
        return state

    def one_step(state, X, Y, idx, w, dropout_key, i):
        return train_step(state, X, Y, idx[i], w[i], jax.random.fold_in(dropout_key, i))

    def evaluate(params, Xt, Yt, Wt):
        def body(acc, inputs):
            x, y, w = inputs
            loss, correct = per_sample(apply(params, x, None, False), y, kind)
            return acc + jnp.stack([jnp.sum(loss * w), jnp.sum(correct * w)]), None

        acc, _ = lax.scan(body, jnp.zeros(2, jnp.float32), (Xt, Yt, Wt))
        return acc

    return (
        jax.jit(scan_epoch, donate_argnums=donate),
        jax.jit(one_step, donate_argnums=donate),
        jax.jit(epoch_indices),
        jax.jit(evaluate),
    )


class JaxTrainer:
    framework = "jax"

    def __init__(self, setup: Setup, conv: str | None = None):
        workload, data, mode = setup.workload, setup.data, setup.mode
        if mode not in ("step", "scan"):
            raise ValueError(f"JAX modes are step and scan, not {mode!r}")
        spec = get_workload(workload)
        jax.config.update(
            "jax_default_matmul_precision",
            "tensorfloat32" if setup.precision == "tf32" else "highest",
        )
        platform = "gpu" if setup.device == "cuda" else "cpu"
        try:
            self.device = jax.devices(platform)[0]
        except RuntimeError as e:
            raise RuntimeError(f"JAX has no {setup.device} device ({e})") from None
        self.mode, self.batch_size = mode, setup.batch_size
        n, B = len(data.x_train), setup.batch_size
        self.n_train, self.n_test = n, len(data.x_test)
        steps = self.steps = epoch_batches(n, B)
        apply = MODELS[workload]
        if workload == "mnist_cnn":  # XLA's convolution, except on CPU (see conv_im2col)
            conv = conv or ("im2col" if self.device.platform == "cpu" else "xla")
            apply = functools.partial(cnn, conv=CONVS[conv])
        opt_init, opt_update = OPTIMIZERS[spec.optimizer](**spec.hyper)
        init = weights.init_params(workload, setup.seed)
        self.n_params = weights.count(init)
        with jax.default_device(self.device):
            params = {k: self._put(v) for k, v in init.items()}
            self.state = (params, opt_init(params), jnp.zeros(2, jnp.float32))
            self.key = jax.random.PRNGKey(setup.seed)
        self.X, self.Y = self._put(data.x_train), self._put(data.y_train)
        eb = self._put_test_set(data, setup.eval_batch_size)
        # Donating the state lets XLA update parameters in place (not on CPU, which warns).
        donate = (0,) if self.device.platform != "cpu" else ()
        self._scan_epoch, self._step, self._epoch_indices, self._evaluate = compiled_functions(
            apply, spec.loss, opt_update, n, B, steps, donate
        )
        self.settings = {
            "mode": mode,
            "device": str(self.device),
            "precision": setup.precision,
            "jax_default_matmul_precision": jax.config.jax_default_matmul_precision,
            "float_dtype": "float32",
            "steps_per_epoch": steps,
            "last_batch": n - (steps - 1) * B,
            "eval_batch_size": eb,
            "conv": conv,
            "detail": (
                "whole epoch in one jitted lax.scan"
                if mode == "scan"
                else "one jitted step per batch, batch gathered on device"
            ),
        }

    def _put(self, a):
        return jax.device_put(a, self.device)

    def _put_test_set(self, data, eval_batch_size):
        """The test set on the device in fixed-size chunks, the padding masked out (weight 0);
        returns the chunk size."""
        eb = min(eval_batch_size, self.n_test)
        chunks = epoch_batches(self.n_test, eb)
        self.Xt = self._put(
            _padded(data.x_test, chunks * eb).reshape((chunks, eb) + data.x_test.shape[1:])
        )
        self.Yt = self._put(_padded(data.y_test, chunks * eb).reshape(chunks, eb))
        self.Wt = self._put(
            (np.arange(chunks * eb) < self.n_test).astype(np.float32).reshape(chunks, eb)
        )
        return eb

    def param_count(self) -> int:
        return self.n_params

    def train_epoch(self, epoch: int) -> None:
        """One epoch of training; returns once the device has finished it."""
        with jax.default_device(self.device):
            epoch_key = jax.random.fold_in(self.key, epoch)
            if self.mode == "scan":
                self.state = self._scan_epoch(self.state, self.X, self.Y, epoch_key)
            else:
                idx, w, dropout_key = self._epoch_indices(epoch_key)
                state = (self.state[0], self.state[1], jnp.zeros(2, jnp.float32))
                for i in range(self.steps):
                    state = self._step(state, self.X, self.Y, idx, w, dropout_key, i)
                self.state = state
            jax.block_until_ready(self.state)

    def train_metrics(self) -> tuple[float, float]:
        total, correct = np.asarray(self.state[2], np.float64)
        return float(total / self.n_train), float(correct / self.n_train)

    def evaluate(self) -> tuple[float, float]:
        with jax.default_device(self.device):
            total, correct = np.asarray(
                self._evaluate(self.state[0], self.Xt, self.Yt, self.Wt), np.float64
            )
        return float(total / self.n_test), float(correct / self.n_test)

    def params_numpy(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.state[0].items()}


def versions() -> dict:
    import jaxlib

    info = {
        "backend_framework": f"jax {jax.__version__} (jaxlib {jaxlib.__version__})",
        "cuda": None,
        "cudnn": None,
        "jax_devices": [str(d) for d in jax.devices()],
    }
    if jax.devices()[0].platform == "gpu":
        try:  # private API: the versions are a nicety, never a failure
            from jax._src.lib import cuda_versions

            if cuda_versions is not None:
                info["cuda"] = str(cuda_versions.cuda_runtime_get_version())
                info["cudnn"] = str(cuda_versions.cudnn_get_version())
        except Exception:
            pass
    return info
