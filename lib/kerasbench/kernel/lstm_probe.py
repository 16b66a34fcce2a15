"""Which LSTM kernel ran: a probe of Keras 3's LSTM paths, and kernel.json's `lstm_kernel`.

Keras 3.15 tries, in order: a Bidirectional of two LSTMs calls `backend.bidirectional_lstm` (one
fused cuDNN call on JAX and PyTorch); each LSTM calls `backend.lstm` (cuDNN); both raise
NotImplementedError where they do not apply, and the layer falls back to the generic loop. On
PyTorch `backend.lstm` also falls back by itself when `_cudnn_lstm` fails. The probe counts each
path, so kernel.json says what ran, not what was asked for. On JAX and TensorFlow the calls
happen when the step is traced, on PyTorch every step; PyTorch's shape inference calls
`backend.lstm` on "meta" tensors, which runs no kernel and is counted apart. A counter per call;
the maths is untouched. Installed by session.start; Keras 2.3.1 has none of these paths.
Kernel side: Python 3.6 syntax.
"""

from kerasbench.kernel import compat

LSTM_PROBE = {
    "installed": False,
    "fused_calls": 0,
    "fused_declined": 0,
    "backend_lstm_calls": 0,
    "backend_lstm_declined": 0,
    "shape_inference_calls": 0,
    "torch_cudnn_calls": 0,
    "torch_cudnn_failed": 0,
}


def install():
    """Wraps Keras' backend.bidirectional_lstm and backend.lstm (and torch's _cudnn_lstm) with
    counters; never fails a run: where Keras' internals differ, the probe says it is not installed
    and why."""
    if not compat.KERAS3 or LSTM_PROBE["installed"]:
        return
    try:
        _install()
    except Exception as e:
        LSTM_PROBE["installed"] = "no: %s: %s" % (type(e).__name__, e)


def _counted(function, calls, declined):
    def probe(*args, **kwargs):
        inputs = args[0] if args else kwargs.get("inputs")
        if str(getattr(inputs, "device", "")) == "meta":  # torch shape inference: no kernel ran
            LSTM_PROBE["shape_inference_calls"] += 1
            return function(*args, **kwargs)
        LSTM_PROBE[calls] += 1
        try:
            return function(*args, **kwargs)
        except NotImplementedError:
            LSTM_PROBE[declined] += 1
            raise

    return probe


def _install():
    import importlib

    from keras.src import backend as keras_backend

    if compat.backend_name() == "torch":
        # `keras.src.backend.torch.rnn` the module (the package re-exports a function `rnn`).
        torch_rnn = importlib.import_module("keras.src.backend.torch.rnn")
        cudnn = torch_rnn._cudnn_lstm

        def cudnn_probe(*args, **kwargs):
            try:
                out = cudnn(*args, **kwargs)
            except Exception:
                LSTM_PROBE["torch_cudnn_failed"] += 1
                raise
            LSTM_PROBE["torch_cudnn_calls"] += 1
            return out

        torch_rnn._cudnn_lstm = cudnn_probe
    if hasattr(keras_backend, "bidirectional_lstm"):  # Keras 3.15 on: the fused path
        keras_backend.bidirectional_lstm = _counted(
            keras_backend.bidirectional_lstm, "fused_calls", "fused_declined"
        )
    keras_backend.lstm = _counted(keras_backend.lstm, "backend_lstm_calls", "backend_lstm_declined")
    LSTM_PROBE["installed"] = True


def kernel_counts(probe, backend):
    """(cuDNN runs, generic-loop runs) from the probe's counters. A fused call that went through
    ran cuDNN on both backends that have one (each declines without a GPU); a per-layer call ran
    cuDNN when JAX's `lstm` did not decline, or when PyTorch's `_cudnn_lstm` went through."""
    fused = probe["fused_calls"] - probe["fused_declined"]
    if backend == "torch":
        per_layer = probe["torch_cudnn_calls"]
        generic = probe["backend_lstm_calls"] - per_layer
    else:
        per_layer = probe["backend_lstm_calls"] - probe["backend_lstm_declined"]
        generic = probe["backend_lstm_declined"]
    return fused + per_layer, generic


def _lstm_layers(model):
    found = []
    for layer in getattr(model, "layers", []):
        for inner in (
            layer,
            getattr(layer, "forward_layer", None),
            getattr(layer, "backward_layer", None),
        ):
            if inner is not None and type(inner).__name__ == "LSTM" and inner not in found:
                found.append(inner)
    return found


def report(model):
    """What kernel.json says about the model's LSTMs: each layer's use_cudnn and whether it meets
    Keras' cuDNN conditions (the backend's cudnn_ok, as the layer checks it), the GPU and cuDNN
    the backend sees, the probe's counts and a verdict: "cuDNN", "generic loop", "both",
    "not available (no GPU)", "not used (Keras 2.3.1 ...)" or "no LSTM layers"."""
    layers = _lstm_layers(model)
    if not layers:
        return {"verdict": "no LSTM layers"}
    if not compat.KERAS3:
        return {
            "verdict": "not used (Keras 2.3.1 on %s: no use_cudnn; its LSTM runs the "
            "backend's own recurrence, implementation=%s)"
            % (compat.backend_name(), getattr(layers[0], "implementation", None)),
            "layers": [{"name": layer.name} for layer in layers],
        }
    from keras.src import backend as keras_backend

    rows = []
    for layer in layers:
        cell = layer.cell
        try:
            ok = bool(
                keras_backend.cudnn_ok(
                    cell.activation, cell.recurrent_activation, layer.unroll, cell.use_bias
                )
            )
        except Exception as e:  # a backend without cudnn_ok
            ok = "unknown (%s)" % type(e).__name__
        rows.append({"name": layer.name, "use_cudnn": layer.use_cudnn, "cudnn_conditions_ok": ok})
    found = {"layers": rows, "gpu": compat.gpu_available(), "probe": dict(LSTM_PROBE)}
    if compat.backend_name() == "torch":
        import torch

        found["torch_cudnn"] = {
            "available": bool(torch.backends.cudnn.is_available()),
            "enabled": bool(torch.backends.cudnn.enabled),
            "version": torch.backends.cudnn.version()
            if torch.backends.cudnn.is_available()
            else None,
        }
    cudnn_runs, generic = kernel_counts(LSTM_PROBE, compat.backend_name())
    never_asked = all(row["use_cudnn"] is False for row in rows)
    if LSTM_PROBE["installed"] is not True:
        found["verdict"] = "unknown (LSTM probe not installed)"
    elif not found["gpu"]:
        found["verdict"] = "not available (no GPU): generic loop"
    elif cudnn_runs and not generic:
        found["verdict"] = "cuDNN"
    elif cudnn_runs:
        found["verdict"] = "both"
    elif generic or never_asked:
        found["verdict"] = "generic loop"
    else:
        found["verdict"] = "not traced yet"
    return found
