"""Where the framework holds the model: kernel.json's `trained_on`, recorded by session.Run
when training starts and again when it ends (runfiles.trained_on reads it, the runner judges it).
Kernel side: Python 3.6 syntax.
"""

from kerasbench import environment, runfiles
from kerasbench.kernel import compat


def _variable_devices(backend, variable):
    """The devices one model variable lives on, as the framework names them."""
    value = variable.value if compat.KERAS3 else variable
    if backend == "jax":
        devices = getattr(value, "devices", None)
        return [str(d) for d in devices()] if devices is not None else []
    device = getattr(value, "device", None)
    if device is None:
        return []
    text = str(device)
    if backend == "tensorflow" and "device:" in text:
        text = text.rsplit("device:", 1)[1]  # /job:localhost/.../device:GPU:0 -> GPU:0
    return [text]


def trained_on(model):
    """Where the framework itself holds the model: kernel.json's `trained_on` (what
    runfiles.trained_on reads and the runner judges).

    TensorFlow, JAX, PyTorch: the devices of the model's variables (TensorFlow's variable device,
    JAX's array devices, PyTorch's parameter device); CNTK (Keras 2.3.1): its default device.
    `gpus_seen` and `why`: what the framework sees (environment.gpu_view), so that a run on the
    CPU says why. Never fails the run: what cannot be read is recorded as `error`.
    """
    backend = compat.backend_name()
    found = {"framework": backend, "devices": [], "how": "the model's variables"}
    try:
        if backend == "cntk":
            import cntk

            default = cntk.device.use_default_device()
            if environment.cntk_is_gpu(default):
                found["devices"] = ["gpu:%s" % getattr(default, "id", lambda: "?")()]
            else:
                found["devices"] = ["cpu"]
            found["how"] = "cntk's default device"
        else:
            names = set()
            for variable in model.weights:
                names.update(_variable_devices(backend, variable))
            found["devices"] = sorted(names)
    except Exception as e:  # a Keras or framework that differs: say so, never fail the run
        found["error"] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
    found["kind"] = runfiles.device_kind(found["devices"])
    try:
        view = environment.gpu_view(backend)
        found["gpus_seen"] = view["gpus"]
        found["why"] = None
        if found["kind"] != "gpu":
            found["why"] = view["why"] or "the model's variables are on %s, though %s sees %s" % (
                ", ".join(found["devices"]) or "no device it names",
                backend,
                ", ".join(view["gpus"]),
            )
    except Exception as e:
        found["why"] = None
        found.setdefault("error", "%s: %s" % (type(e).__name__, e))
    return found
