"""Which hardware and versions produced a run. Both sides; Python 3.6 syntax.

Called inside the kernel (after Keras is imported) for the framework versions and GPU, and on the
host for the git commit. Nothing here imports a framework that is not already loaded.
"""

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
