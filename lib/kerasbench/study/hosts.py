"""What this host has for the runs of a study, and how `local --jobs N` shares it out.

The GPUs runs may use (CUDA_VISIBLE_DEVICES, else `nvidia-smi -L`: no framework is imported to
count them), the CPU cores this process may use, the environment variables that cap one run's
CPU threads on every backend, and the slots of `local --jobs N` (a GPU each, or a share of the
cores). Host side; pure where it can be, so the unit tests plan slots without GPUs.
"""

import collections
import os
import subprocess

from kerasbench.errors import UserError

# One slot of `local --jobs N`: the GPU it owns (or None), the CPU cores it may use, and the
# environment its runs' kernels get.
Slot = collections.namedtuple("Slot", ["index", "gpu", "cores", "env"])


def parse_nvidia_smi(text):
    """GPU indices from `nvidia-smi -L` ("GPU 0: NVIDIA H200 (UUID: GPU-...)"), as strings."""
    gpus = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("GPU ") and ":" in line:
            index = line[4 : line.index(":")].strip()
            if index.isdigit():
                gpus.append(index)
    return gpus


def detect_gpus(environ=None, nvidia_smi=None):
    """The GPUs runs may use, as CUDA_VISIBLE_DEVICES entries; [] on a machine without any.

    A CUDA_VISIBLE_DEVICES already set limits the study to those devices ("" or -1: none);
    otherwise `nvidia-smi -L` lists them (no framework is imported to count them).
    """
    environ = os.environ if environ is None else environ
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        entries = [e.strip() for e in visible.split(",") if e.strip()]
        if not entries or entries[0].startswith("-"):
            return []
        return entries
    if nvidia_smi is None:
        try:
            nvidia_smi = subprocess.check_output(
                ["nvidia-smi", "-L"], stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return []
    return parse_nvidia_smi(nvidia_smi)


def available_cores():
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def thread_env(threads, environ=None):
    """Environment variables that cap one run's CPU threads at `threads`, on every backend.

    OpenMP (PyTorch's intra-op pool, MKL, OpenBLAS), TensorFlow's two pools; for one thread,
    XLA's CPU Eigen pool too (JAX has no thread-count flag: the CPU affinity of `local --jobs`
    is what caps it at more than one). XLA_FLAGS keeps what the user set.
    """
    environ = os.environ if environ is None else environ
    n = str(threads)
    env = {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": n,
    }
    if threads == 1:
        flag = "--xla_cpu_multi_thread_eigen=false"
        flags = environ.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = flags if flag in flags else (flags + " " + flag).strip()
    return env


def plan_slots(jobs, gpus, cores, environ=None):
    """The `jobs` slots of `local --jobs`: [Slot]. Pure: the unit tests call it without GPUs.

    With GPUs, slot i owns gpus[i] (one run per GPU, never two on one device) and an equal share
    of the cores for its input pipeline; without, slot i owns cores [i*k, (i+1)*k), k = cores/jobs,
    and its thread pools are capped at k.
    """
    if jobs < 1:
        raise UserError("--jobs must be at least 1, got %d" % jobs)
    if gpus and jobs > len(gpus):
        raise UserError(
            "--jobs %d but %d GPU%s (%s): one run per GPU, so at most --jobs %d"
            % (jobs, len(gpus), "" if len(gpus) == 1 else "s", ",".join(gpus), len(gpus))
        )
    if not gpus and jobs > len(cores):
        raise UserError(
            "--jobs %d but %d CPU cores and no GPU: at most --jobs %d"
            % (jobs, len(cores), len(cores))
        )
    share = len(cores) // jobs
    slots = []
    for i in range(jobs):
        mine = cores[i * share : (i + 1) * share]
        env = thread_env(len(mine), environ)
        gpu = gpus[i] if gpus else None
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        slots.append(Slot(i, gpu, mine, env))
    return slots
