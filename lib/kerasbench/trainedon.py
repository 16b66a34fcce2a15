"""Where a run trained, from its record, and the rule that fails a run which trained on the CPU
of a machine with a GPU.

`trained_on` reads run.json's or kernel.json's `trained_on` (the kernel's own view:
`kernel.compat.trained_on`) and, for records of older code, infers it; `device_kind` names the
kind of a list of device names; `cpu_fallback` is the rule `study.execute` applies as it writes
run.json (and the native loops as they write theirs). Part of `runfiles`, which offers these
names too. Ground floor: standard library only, Python 3.6 syntax.
"""

DEVICE_CHOICES = ("auto", "gpu", "cpu")  # kerasbench run --device


def device_kind(names):
    """ "gpu", "cpu", "other" (a TPU, Apple's MPS) or "unknown" (no name) for device names as the
    frameworks write them ("cuda:0", "/job:localhost/replica:0/task:0/device:GPU:0", "cpu:0",
    "TFRT_CPU_0"): "gpu" as soon as one is a GPU, "cpu" when every one is a CPU."""
    kinds = set()
    for name in names:
        text = str(name).lower()
        if "gpu" in text or "cuda" in text or "rocm" in text:
            kinds.add("gpu")
        elif "cpu" in text:
            kinds.add("cpu")
        else:
            kinds.add("other")
    if "gpu" in kinds:
        return "gpu"
    if kinds == {"cpu"}:
        return "cpu"
    return "other" if kinds else "unknown"


def trained_on(record):
    """Where a run trained, from its run.json or kernel.json record: a dict with `kind` ("gpu",
    "cpu", "other", "unknown"), `devices`, `framework`, `why` (where it saw no GPU) and
    `recorded` (False: inferred from an older record), or None where nothing says.

    Records of older code have no `trained_on`; for them: JAX's `versions.jax_devices` (the
    devices Keras put its arrays on), PyTorch's `versions.cuda` on a machine with a GPU (written
    only where torch.cuda.is_available(): None means the model stayed on the CPU), a native
    loop's `backend_settings.device`. TensorFlow's older records say nothing.
    """
    if not isinstance(record, dict):
        return None
    given = record.get("trained_on")
    if isinstance(given, dict) and given.get("kind"):
        found = dict(given)
        found.setdefault("recorded", True)
        return found
    versions = record.get("versions") if isinstance(record.get("versions"), dict) else {}
    settings = record.get("backend_settings")
    settings = settings if isinstance(settings, dict) else {}
    device = record.get("device") if isinstance(record.get("device"), dict) else {}
    backend = str(record.get("backend") or "")
    framework = str(versions.get("backend_framework") or backend).split(" ")[0]
    devices = None
    source = None
    if isinstance(versions.get("jax_devices"), list) and not backend.startswith("native-"):
        devices, source = [str(d) for d in versions["jax_devices"]], "versions.jax_devices"
    elif framework == "torch" and "cuda" in versions and device.get("gpu"):
        devices = ["cuda"] if versions.get("cuda") else ["cpu"]
        source = "versions.cuda"
    elif backend.startswith("native-") and settings.get("device"):
        devices, source = [str(settings["device"])], "backend_settings.device"
        framework = backend[len("native-") :]
    if devices is None:
        return None
    return {
        "kind": device_kind(devices),
        "devices": devices,
        "framework": framework,
        "why": None,
        "recorded": False,
        "from": source,
    }


def cpu_fallback(trained, device, requested=None):
    """The one line that fails a run which trained on the CPU of a machine with a GPU, or None.

    `trained`: trained_on()'s answer; `device`: the machine (environment.device(): `gpu` is the
    GPU's name, None without one); `requested`: --device (cpu: the CPU was asked for, no
    failure). A run whose record does not say where it trained is not failed here."""
    gpu = (device or {}).get("gpu") if isinstance(device, dict) else None
    if requested == "cpu" or not gpu or not trained or trained.get("kind") != "cpu":
        return None
    framework = trained.get("framework") or "the backend"
    why = trained.get("why") or "%s sees only %s" % (
        framework,
        ", ".join(str(d) for d in trained.get("devices") or []) or "the CPU",
    )
    return "%s trained on the CPU although this machine has a GPU (%s): %s" % (framework, gpu, why)
