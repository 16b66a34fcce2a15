"""The three models in PyTorch, Keras 3's optimizers written out, and the two training modes.

Modes:
- `step`: a plain per-step loop. Data already on the device as tensors; each epoch draws a
  permutation on the device and slices it into batches (the last one partial, as in Keras).
- `compiled`: the per-step overhead removed. On CUDA (the default, `cuda-graph`): the whole
  training step (batch gather, forward, backward, optimizer update, metric sums, step counter) is
  captured once as a CUDA graph and replayed once per batch. Elsewhere, or when asked: the step
  goes through torch.compile (`default`, `reduce-overhead`, `max-autotune-no-cudagraphs`;
  `aot_eager` is a fast-compiling backend for tests). `settings["compiled_with"]` records what
  actually ran, and why where it fell back. Where this torch has it, Dynamo's
  trace_autograd_ops is turned on, so that forward, backward and update compile as one graph
  rather than two around autograd.grad. Compiled steps have one fixed shape: the last batch is
  padded with index 0 and masked out of the loss, which gives the partial batch's gradient.

The optimizers follow Keras' update rules exactly (epsilon inside the square root for RMSprop and
Adadelta, Keras' bias-corrected step size for Adam), which torch.optim's do not; they update all
parameters at once with torch._foreach_* ops, like torch.optim's default on CUDA.
"""

from __future__ import annotations

import numpy as np

import torch
import torch.nn as nn
import torch.nn.functional as F

from kerasbench.native import COMPILE_MODES, weights
from kerasbench.native.data import Setup, epoch_batches
from kerasbench.native.specs import (
    EMBEDDING_DIM,
    LSTM_UNITS,
    MAX_FEATURES,
    workload as get_workload,
)


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# Models. load_keras(p) copies weights given in Keras' layouts (weights.py).


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense_0, self.dense_1, self.dense_2 = (
            nn.Linear(784, 512),
            nn.Linear(512, 512),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        h = F.dropout(F.relu(self.dense_0(x)), 0.2, self.training)
        h = F.dropout(F.relu(self.dense_1(h)), 0.2, self.training)
        return self.dense_2(h)

    @torch.no_grad()
    def load_keras(self, p):
        for name in ("dense_0", "dense_1", "dense_2"):
            _load_dense(getattr(self, name), p, name)


class CNN(nn.Module):
    """NCHW inside; the flattened features are reordered on loading so that the function equals
    the channels_last Keras model with the same weights."""

    def __init__(self):
        super().__init__()
        self.conv_0, self.conv_1 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3)
        self.dense_0, self.dense_1 = nn.Linear(12 * 12 * 64, 128), nn.Linear(128, 10)

    def forward(self, x):
        h = F.relu(self.conv_0(x))
        h = F.relu(self.conv_1(h))
        h = F.dropout(F.max_pool2d(h, 2), 0.25, self.training)
        h = F.dropout(F.relu(self.dense_0(h.flatten(1))), 0.5, self.training)
        return self.dense_1(h)

    @torch.no_grad()
    def load_keras(self, p):
        for name in ("conv_0", "conv_1"):
            conv = getattr(self, name)
            conv.weight.copy_(_t(p[name + "/kernel"].transpose(3, 2, 0, 1)))  # HWIO -> OIHW
            conv.bias.copy_(_t(p[name + "/bias"]))
        kernel = p["dense_0/kernel"].reshape(12, 12, 64, 128).transpose(2, 0, 1, 3)  # HWC -> CHW
        self.dense_0.weight.copy_(_t(kernel.reshape(-1, 128).T))
        self.dense_0.bias.copy_(_t(p["dense_0/bias"]))
        _load_dense(self.dense_1, p, "dense_1")


class BiLSTM(nn.Module):
    """torch.nn.LSTM (cuDNN on CUDA), bidirectional; the last states [forward, backward] are
    concatenated, as Keras' Bidirectional(LSTM) does with return_sequences=False. torch's LSTM
    has a second bias (bias_hh) that Keras' has not: it is kept at zero and frozen, so the
    trainable parameters are exactly Keras' 2,658,945."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(MAX_FEATURES, EMBEDDING_DIM)
        self.lstm = nn.LSTM(EMBEDDING_DIM, LSTM_UNITS, batch_first=True, bidirectional=True)
        self.dense = nn.Linear(2 * LSTM_UNITS, 1)
        for suffix in ("", "_reverse"):
            getattr(self.lstm, "bias_hh_l0" + suffix).requires_grad_(False)

    def forward(self, x):
        _, (h, _) = self.lstm(self.embedding(x))
        h = F.dropout(torch.cat([h[0], h[1]], dim=-1), 0.5, self.training)
        return self.dense(h)[:, 0]

    @torch.no_grad()
    def load_keras(self, p):
        self.embedding.weight.copy_(_t(p["embedding"]))
        for name, suffix in (("forward", ""), ("backward", "_reverse")):
            # Gates: Keras i, f, c, o = torch i, f, g, o.
            getattr(self.lstm, "weight_ih_l0" + suffix).copy_(_t(p[name + "/kernel"].T))
            getattr(self.lstm, "weight_hh_l0" + suffix).copy_(_t(p[name + "/recurrent_kernel"].T))
            getattr(self.lstm, "bias_ih_l0" + suffix).copy_(_t(p[name + "/bias"]))
            getattr(self.lstm, "bias_hh_l0" + suffix).zero_()
        _load_dense(self.dense, p, "dense")


def _load_dense(layer, p, name):
    layer.weight.copy_(_t(p[name + "/kernel"].T))
    layer.bias.copy_(_t(p[name + "/bias"]))


MODELS = {"mnist_mlp": MLP, "mnist_cnn": CNN, "imdb_bidirectional_lstm": BiLSTM}


def per_sample(logits, y, kind):
    """(loss, correct) per example, from the logits (see jax_models.per_sample)."""
    if kind == "categorical":
        loss = F.cross_entropy(logits, y, reduction="none")
        correct = logits.argmax(dim=-1) == y
    else:
        loss = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
        correct = (logits > 0) == (y > 0.5)
    return loss, correct.to(logits.dtype)


# Optimizers: Keras 3's update rules. state() lists every state tensor (for snapshots).


class RMSprop:
    def __init__(self, params, learning_rate, rho, epsilon):
        self.lr, self.rho, self.eps = learning_rate, rho, epsilon
        self.velocity = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, params, grads):
        torch._foreach_mul_(self.velocity, self.rho)
        torch._foreach_addcmul_(self.velocity, grads, grads, value=1 - self.rho)
        denom = torch._foreach_add(self.velocity, self.eps)
        torch._foreach_sqrt_(denom)
        torch._foreach_addcdiv_(params, grads, denom, value=-self.lr)

    def state(self):
        return list(self.velocity)


class Adadelta:
    def __init__(self, params, learning_rate, rho, epsilon):
        self.lr, self.rho, self.eps = learning_rate, rho, epsilon
        self.acc_grad = [torch.zeros_like(p) for p in params]
        self.acc_delta = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, params, grads):
        rho, eps = self.rho, self.eps
        torch._foreach_mul_(self.acc_grad, rho)
        torch._foreach_addcmul_(self.acc_grad, grads, grads, value=1 - rho)
        std = torch._foreach_add(self.acc_grad, eps)
        torch._foreach_sqrt_(std)
        delta = torch._foreach_add(self.acc_delta, eps)  # rms(acc_delta) * g / rms(acc_grad)
        torch._foreach_sqrt_(delta)
        torch._foreach_div_(delta, std)
        torch._foreach_mul_(delta, grads)
        torch._foreach_mul_(self.acc_delta, rho)
        torch._foreach_addcmul_(self.acc_delta, delta, delta, value=1 - rho)
        torch._foreach_add_(params, delta, alpha=-self.lr)

    def state(self):
        return self.acc_grad + self.acc_delta


class Adam:
    """The step count lives on the device, so a captured or compiled step needs no host value."""

    def __init__(self, params, learning_rate, beta_1, beta_2, epsilon):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta_1, beta_2, epsilon
        self.t = torch.zeros((), dtype=torch.float32, device=params[0].device)
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, params, grads):
        self.t.add_(1)
        alpha = (
            self.lr * torch.sqrt(1 - torch.pow(self.b2, self.t)) / (1 - torch.pow(self.b1, self.t))
        )
        torch._foreach_lerp_(self.m, grads, 1 - self.b1)
        torch._foreach_mul_(self.v, self.b2)
        torch._foreach_addcmul_(self.v, grads, grads, value=1 - self.b2)
        denom = torch._foreach_sqrt(self.v)
        torch._foreach_add_(denom, self.eps)
        update = torch._foreach_div(self.m, denom)
        torch._foreach_mul_(update, alpha)
        torch._foreach_sub_(params, update)

    def state(self):
        return [self.t] + self.m + self.v


OPTIMIZERS = {"rmsprop": RMSprop, "adadelta": Adadelta, "adam": Adam}


def apply_precision(precision: str) -> dict:
    """float32: TF32 off in matmuls and cuDNN (as the Keras runs pin it); tf32: allowed."""
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    return {
        "precision": precision,
        "torch_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "torch_cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "torch_cudnn_benchmark": torch.backends.cudnn.benchmark,
    }


class TorchTrainer:
    framework = "torch"

    def __init__(self, setup: Setup, compile_mode: str = "auto"):
        workload, data, mode, batch_size = setup.workload, setup.data, setup.mode, setup.batch_size
        seed, device, eval_batch_size = setup.seed, setup.device, setup.eval_batch_size
        if mode not in ("step", "compiled"):
            raise ValueError(f"torch modes are step and compiled, not {mode!r}")
        if compile_mode not in COMPILE_MODES:
            raise ValueError(f"compile mode {compile_mode!r}: one of {', '.join(COMPILE_MODES)}")
        if device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA device")
        spec = get_workload(workload)
        self.settings = apply_precision(setup.precision)
        torch.manual_seed(seed)
        self.dev = torch.device(device)
        self.mode, self.kind, self.batch_size = mode, spec.loss, batch_size
        self.compile_mode = compile_mode
        model = MODELS[workload]()
        model.load_keras(weights.init_params(workload, seed))
        self.model = model.to(self.dev).train()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = OPTIMIZERS[spec.optimizer](self.params, **spec.hyper)

        def put(x, dtype):
            x = _t(x.transpose(0, 3, 1, 2) if x.ndim == 4 else x)  # images: NHWC -> NCHW
            return x.to(device=self.dev, dtype=dtype)

        x_dtype = torch.long if spec.dataset == "imdb" else torch.float32
        y_dtype = torch.float32 if spec.loss == "binary" else torch.long
        self.X, self.Y = put(data.x_train, x_dtype), put(data.y_train, y_dtype)
        self.Xt, self.Yt = put(data.x_test, x_dtype), put(data.y_test, y_dtype)
        self.n_train, self.n_test = len(data.x_train), len(data.x_test)
        self.steps = epoch_batches(self.n_train, batch_size)
        self.eval_batch_size = eval_batch_size
        self.metrics = torch.zeros(2, device=self.dev)  # [loss sum, correct] over the epoch
        self._run_compiled = None
        self.settings.update(
            {
                "mode": mode,
                "device": str(self.dev),
                "float_dtype": "float32",
                "steps_per_epoch": self.steps,
                "eval_batch_size": eval_batch_size,
                "last_batch": self.n_train - (self.steps - 1) * batch_size,
            }
        )
        if mode == "step":
            self.settings["detail"] = "plain per-step loop"

    def param_count(self) -> int:
        return sum(p.numel() for p in self.params)

    # One training step. w None: a plain batch (mean loss); else per-example weights (0 = padding).

    def _step(self, idx, w):
        xb, yb = self.X.index_select(0, idx), self.Y.index_select(0, idx)
        loss, correct = per_sample(self.model(xb), yb, self.kind)
        if w is None:
            total, n_correct = loss.sum(), correct.sum()
            mean = total / loss.shape[0]
        else:
            total, n_correct = (loss * w).sum(), (correct * w).sum()
            mean = total / w.sum()
        grads = torch.autograd.grad(mean, self.params)
        self.opt.step(self.params, list(grads))
        with torch.no_grad():
            self.metrics += torch.stack([total.detach(), n_correct])

    def _sync(self):
        if self.dev.type == "cuda":
            torch.cuda.synchronize(self.dev)

    def train_epoch(self, epoch: int) -> None:
        """One epoch of training; returns once the device has finished it. The compiled mode
        compiles or captures during its first epoch (so epoch 0 carries it, as in JAX)."""
        self.metrics.zero_()
        if self.mode == "step":
            perm = torch.randperm(self.n_train, device=self.dev)
            B = self.batch_size
            for s in range(self.steps):
                self._step(perm[s * B : (s + 1) * B], None)
        else:
            if self._run_compiled is None:
                self._setup_compiled()
            self._fill_indices()
            self._run_compiled()
        self._sync()

    # The compiled mode

    def _fill_indices(self):
        """This epoch's permutation into the fixed (steps, B) index buffer; the padding stays 0."""
        self.idx_all.view(-1)[: self.n_train].copy_(torch.randperm(self.n_train, device=self.dev))

    def _setup_compiled(self):
        steps, B = self.steps, self.batch_size
        self.idx_all = torch.zeros(steps, B, dtype=torch.long, device=self.dev)
        w = (torch.arange(steps * B, device=self.dev) < self.n_train).to(torch.float32)
        self.w_all = w.view(steps, B)
        mode = self.compile_mode
        if mode == "auto":
            mode = "cuda-graph" if self.dev.type == "cuda" else "default"
        if mode == "cuda-graph":
            if self.dev.type != "cuda":
                raise RuntimeError("cuda-graph needs --device cuda")
            self._snapshot = [t.detach().clone() for t in self._state_tensors()]
            try:
                self._run_compiled = self._capture()
                self.settings["compiled_with"] = (
                    "cuda-graph: whole training step captured, replayed once per batch"
                )
                return
            except Exception as e:  # fall back to torch.compile, and say why
                self.settings["compile_fallback"] = (
                    f"cuda-graph capture failed: "
                    f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                )
                self._restore(self._snapshot)
                mode = "default"
        self._run_compiled = self._torch_compile(mode)

    def _torch_compile(self, mode):
        if mode == "aot_eager":
            step = torch.compile(self._step, backend="aot_eager")
            self.settings["compiled_with"] = "torch.compile(backend='aot_eager')"
        else:
            # Where this torch can, Dynamo traces through autograd.grad: forward, backward and
            # the optimizer update become one graph instead of two around a graph break.
            if hasattr(torch._dynamo.config, "trace_autograd_ops"):
                torch._dynamo.config.trace_autograd_ops = True
            self.settings["dynamo_trace_autograd_ops"] = getattr(
                torch._dynamo.config, "trace_autograd_ops", False
            )
            if mode == "reduce-overhead":  # CUDA graphs need fixed addresses for mutated state
                for t in self.opt.state() + [self.metrics]:
                    torch._dynamo.mark_static_address(t)
            step = torch.compile(self._step, mode=mode)
            self.settings["compiled_with"] = f"torch.compile(mode='{mode}')"

        def run():
            for s in range(self.steps):
                step(self.idx_all[s], self.w_all[s])

        return run

    def _state_tensors(self):
        return self.params + self.opt.state() + [self.metrics]

    def _restore(self, snapshot):
        with torch.no_grad():
            for t, saved in zip(self._state_tensors(), snapshot):
                t.copy_(saved)

    def _capture(self):
        """Captures the whole step as one CUDA graph: batch gather by a device-side step counter,
        forward, backward, optimizer update and metric sums. Warm-up steps run first on a side
        stream (as torch.cuda.graphs requires); the state they change is restored afterwards."""
        k = torch.zeros(1, dtype=torch.long, device=self.dev)

        def body():
            idx = self.idx_all.index_select(0, k).view(-1)
            w = self.w_all.index_select(0, k).view(-1)
            self._step(idx, w)
            k.add_(1)

        self._fill_indices()
        side = torch.cuda.Stream(self.dev)
        side.wait_stream(torch.cuda.current_stream(self.dev))
        with torch.cuda.stream(side):
            for _ in range(3):
                body()
        torch.cuda.current_stream(self.dev).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            body()
        self._restore(self._snapshot)
        self._graph = graph

        def run():
            k.zero_()
            for _ in range(self.steps):
                graph.replay()

        return run

    # Results

    def train_metrics(self) -> tuple[float, float]:
        total, correct = self.metrics.double().tolist()
        return total / self.n_train, correct / self.n_train

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        self.model.eval()
        acc = torch.zeros(2, dtype=torch.float64, device=self.dev)
        for s in range(0, self.n_test, self.eval_batch_size):
            sl = slice(s, s + self.eval_batch_size)
            loss, correct = per_sample(self.model(self.Xt[sl]), self.Yt[sl], self.kind)
            acc += torch.stack([loss.sum(), correct.sum()]).double()
        self.model.train()
        total, correct = acc.tolist()
        return total / self.n_test, correct / self.n_test


def versions() -> dict:
    info = {"backend_framework": f"torch {torch.__version__}", "cuda": None, "cudnn": None}
    if torch.cuda.is_available():
        info["cuda"] = torch.version.cuda
        info["cudnn"] = str(torch.backends.cudnn.version())
    return info
