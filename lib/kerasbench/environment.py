"""Which hardware and versions produced a run. Both sides; Python 3.6 syntax.

Called inside the kernel (after Keras is imported) for the framework versions and GPU, and on the
host for the git commit. Nothing here imports a framework at import time; `gpu_view` imports the
one it is asked about (in a kernel, or in the probe `kerasbench run` starts with a kernel's Python
before anything trains: `python -m kerasbench.environment BACKEND` prints it as one JSON line).
"""

import importlib.util
import json
import os
import platform
import socket
import subprocess
import sys


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvidia_smi():
    """GPU name, memory, driver and UUID from nvidia-smi, or None where there is no NVIDIA GPU.

    The UUID names the physical GPU (the report says when one cell's runs come from different
    machines); with CUDA_VISIBLE_DEVICES set to an index or a UUID, it is that GPU's.
    """
    try:
        out = subprocess.check_output(
            [
                "nvidia-smi",
                "--query-gpu=name,memory.total,driver_version,uuid",
                "--format=csv,noheader,nounits",
            ],
            stderr=subprocess.DEVNULL,
            universal_newlines=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    rows = [r.split(", ") for r in out.strip().splitlines() if r.strip()]
    if not rows:
        return None
    row = rows[0]
    visible = (os.environ.get("CUDA_VISIBLE_DEVICES") or "").split(",")[0].strip()
    for i, candidate in enumerate(rows):
        if visible and (visible == str(i) or (len(candidate) > 3 and candidate[3] == visible)):
            row = candidate
    name, memory, driver = row[:3]
    try:
        memory = int(float(memory))
    except ValueError:
        memory = None
    return {
        "gpu": name,
        "gpu_count": len(rows),
        "gpu_memory_mb": memory,
        "driver": driver,
        "gpu_uuid": row[3] if len(row) > 3 else None,
    }


def device():
    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "gpu": None,
        "gpu_count": 0,
        "gpu_memory_mb": None,
        "driver": None,
        "gpu_uuid": None,
        "machine": platform.machine(),
        "host": socket.gethostname(),
    }
    smi = _nvidia_smi()
    if smi:
        info.update(smi)
    return info


def machine_load():
    """How busy the machine is now: {"load_1min": the 1-minute load average (None where the
    system keeps none), "cpus": os.cpu_count()}. kernel.session records it as a run starts and
    as it ends (kernel.json and run.json `machine_load`: {"start": ..., "end": ...}; read back by
    runfiles.load_during). The average counts the run's own work too."""
    try:
        load = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # no load average on this system
        load = None
    return {"load_1min": load, "cpus": os.cpu_count()}


def _module_version(name):
    module = sys.modules.get(name)
    return getattr(module, "__version__", None) if module else None


def framework_versions(backend):
    """Versions of Python, Keras, the backend framework, NumPy, and CUDA/cuDNN where present."""
    import keras
    import numpy

    info = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "backend_framework": None,
        "cuda": None,
        "cudnn": None,
    }
    if backend == "tensorflow":
        import tensorflow as tf

        info["backend_framework"] = "tensorflow " + tf.__version__
        build = tf.sysconfig.get_build_info()
        info["cuda"] = build.get("cuda_version")
        info["cudnn"] = build.get("cudnn_version")
    elif backend == "jax":
        import jax
        import jaxlib

        info["backend_framework"] = (
            "jax " + jax.__version__ + " (jaxlib " + jaxlib.__version__ + ")"
        )
        devices = jax.devices()
        info["jax_devices"] = [str(d) for d in devices]
        if devices and devices[0].platform == "gpu":
            try:
                from jax._src.lib import cuda_versions

                if cuda_versions is not None:
                    info["cuda"] = str(cuda_versions.cuda_runtime_get_version())
                    info["cudnn"] = str(cuda_versions.cudnn_get_version())
            except Exception:  # private API; the version is a nicety, never a failure
                pass
    elif backend == "torch":
        import torch

        info["backend_framework"] = "torch " + torch.__version__
        if torch.cuda.is_available():
            info["cuda"] = torch.version.cuda
            info["cudnn"] = str(torch.backends.cudnn.version())
    elif backend == "cntk":
        import cntk

        info["backend_framework"] = "cntk " + cntk.__version__
        info["cntk_devices"] = [str(d) for d in cntk.device.all_devices()]
    return info


def _env_hints():
    """Settings of this process that hide a GPU from every framework, as a phrase (or None)."""
    hints = []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and (not visible.strip() or visible.strip().startswith("-")):
        hints.append("CUDA_VISIBLE_DEVICES=%r hides every GPU" % visible)
    platforms = os.environ.get("JAX_PLATFORMS")
    if platforms is not None and "cuda" not in platforms and "gpu" not in platforms:
        hints.append("JAX_PLATFORMS=%r" % platforms)
    return "; ".join(hints) or None


def _installed(names):
    found = []
    for name in names:
        try:
            if importlib.util.find_spec(name) is not None:
                found.append(name)
        except (ImportError, ValueError):
            pass
    return found


JAX_CUDA_PLUGINS = (
    "jax_cuda13_plugin",
    "jax_cuda12_plugin",
    "jax_plugins.xla_cuda13",
    "jax_plugins.xla_cuda12",
)


def cntk_is_gpu(descriptor):
    """Whether a CNTK DeviceDescriptor is a GPU (its type(), else its name)."""
    try:
        import cntk

        return descriptor.type() == cntk.device.DeviceKind.GPU
    except Exception:  # an older or newer binding: its name says it ("GPU[0] ...")
        return "gpu" in str(descriptor).lower()


def gpu_view(backend):
    """What the backend's framework itself sees: {"framework", "devices", "gpus", "why"}.

    Imports the framework. `gpus` lists the GPUs it can use (as it names them); `why` says, where
    it sees none, the framework's own reason as far as it tells (a CPU-only build, a CUDA plugin
    that did not load, CUDA_VISIBLE_DEVICES), else None.
    """
    why = None
    if backend == "tensorflow":
        import tensorflow as tf

        framework = "tensorflow " + tf.__version__
        devices = [d.name for d in tf.config.list_physical_devices()]
        gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
        if not gpus:
            if not tf.test.is_built_with_cuda():
                why = "this TensorFlow is built without CUDA"
            else:
                cuda = tf.sysconfig.get_build_info().get("cuda_version")
                why = (
                    "TensorFlow (built for CUDA %s) lists no GPU: its CUDA libraries did not "
                    "load" % cuda
                )
    elif backend == "jax":
        import jax

        framework = "jax " + jax.__version__
        found = jax.devices()
        devices = [str(d) for d in found]
        gpus = [str(d) for d in found if d.platform in ("gpu", "cuda", "rocm")]
        if not gpus:
            plugins = _installed(JAX_CUDA_PLUGINS)
            why = "jax sees only %s: %s" % (
                ", ".join(devices) or "no device",
                "its CUDA plugin (%s) did not load" % ", ".join(plugins)
                if plugins
                else "no CUDA plugin is installed (jax[cuda12] or jax[cuda13])",
            )
    elif backend == "torch":
        import torch

        framework = "torch " + torch.__version__
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        gpus = ["cuda:%d" % i for i in range(count)]
        devices = ["cpu"] + gpus
        if not gpus:
            why = (
                "this torch is a CPU-only build"
                if torch.version.cuda is None
                else "torch.cuda.is_available() is False (torch built for CUDA %s)"
                % torch.version.cuda
            )
    elif backend == "cntk":
        import cntk

        framework = "cntk " + cntk.__version__
        found = cntk.device.all_devices()
        devices = [str(d) for d in found]
        gpus = [str(d) for d in found if cntk_is_gpu(d)]
        if not gpus:
            why = "CNTK lists only the CPU"
    else:
        raise ValueError("unknown backend %r" % backend)
    hints = _env_hints()
    if not gpus and hints:
        why = "%s (%s)" % (why, hints) if why else hints
    return {"framework": framework, "devices": devices, "gpus": gpus, "why": why}


# The GPU libraries a run may load; which files they really were is recorded after training.
_GPU_LIBRARIES = (
    "cudart",
    "cublas",
    "cublasLt",
    "cudnn",
    "cufft",
    "cusolver",
    "cusparse",
    "curand",
    "nvJitLink",
    "nccl",
    "cupti",
)


def loaded_gpu_libraries(maps="/proc/self/maps"):
    """{file name: real path} of the CUDA libraries mapped in this process.

    A library may stand in under a borrowed name (a folder of links offering a newer CUDA's cuBLAS
    under the name TensorFlow asks for): the mapped file says which one trained the model.
    {} where /proc is not there (not Linux) or nothing of CUDA is loaded.
    """
    found = {}
    try:
        with open(maps) as f:
            lines = f.read().splitlines()
    except (IOError, OSError):
        return found
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) < 6 or not parts[5].startswith("/"):
            continue
        path = parts[5].strip()
        name = os.path.basename(path)
        stem = name.split(".so", 1)[0]
        if ".so" in name and stem[3:] in _GPU_LIBRARIES or stem.startswith("libcudnn"):
            found.setdefault(name, os.path.realpath(path))
    return found


def git_commit(repo_dir):
    """The commit the code ran from, with '+dirty' when the tree had uncommitted changes."""
    try:
        commit = subprocess.check_output(
            ["git", "rev-parse", "HEAD"],
            cwd=repo_dir,
            stderr=subprocess.DEVNULL,
            universal_newlines=True,
        ).strip()
        dirty = subprocess.check_output(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo_dir,
            stderr=subprocess.DEVNULL,
            universal_newlines=True,
        ).strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _probe_main(argv):
    """`python -m kerasbench.environment BACKEND`: gpu_view as one JSON line on stdout."""
    if len(argv) != 1:
        sys.exit("usage: python -m kerasbench.environment BACKEND")
    print(json.dumps(gpu_view(argv[0]), sort_keys=True))


if __name__ == "__main__":
    _probe_main(sys.argv[1:])
