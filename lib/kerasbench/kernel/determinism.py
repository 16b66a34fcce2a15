"""A parity process's session settings: deterministic kernels asked of the framework, and its
float32 switches read back (kernel.parity, `kerasbench parity`).

On top of the notebook's own `session.start` (the run's precision: float32 by default, TF32 off
on every backend, `session.apply_precision`), parity asks each framework for deterministic
kernels before the framework is imported (`make_deterministic`): TensorFlow's op determinism,
PyTorch's deterministic cuDNN and algorithms (benchmark off, warn only where an op has no
deterministic version), JAX's `--xla_gpu_deterministic_ops` (XLA's GPU switch: deterministic
scatter-adds and reductions, which embedding gradients use; nothing changes on a CPU). The
framework's TF32 switches are read back before the first step and after the last
(`check_precision`): a run that asked for float32 and trained with TF32 on is `failed`, saying
which switch was on. Kernel side: Python 3.6 syntax.
"""

import os


class SettingsNotApplied(Exception):
    """The process did not train with the session settings it asked for (the reason)."""


XLA_DETERMINISM_FLAG = "--xla_gpu_deterministic_ops=true"
CUBLAS_WORKSPACE = ":4096:8"  # what cuBLAS needs to be deterministic (PyTorch's documentation)


def make_deterministic(backend):
    """Asks the framework for deterministic kernels; returns what was set, read back.

    Call before the framework is first imported: JAX reads XLA_FLAGS and cuBLAS its workspace
    setting when they start."""
    settings = {}
    if backend == "jax":
        flags = os.environ.get("XLA_FLAGS", "")
        if XLA_DETERMINISM_FLAG not in flags.split():
            os.environ["XLA_FLAGS"] = (flags + " " + XLA_DETERMINISM_FLAG).strip()
        settings["XLA_FLAGS"] = os.environ["XLA_FLAGS"]
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        try:  # the public API sets it but has no getter
            from tensorflow.python.framework import config as tf_config

            settings["op_determinism"] = bool(tf_config.is_op_determinism_enabled())
        except (ImportError, AttributeError):
            settings["op_determinism"] = "enabled (not read back)"
    elif backend == "torch":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        import torch

        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
        settings["cudnn_deterministic"] = bool(torch.backends.cudnn.deterministic)
        settings["cudnn_benchmark"] = bool(torch.backends.cudnn.benchmark)
        settings["deterministic_algorithms"] = bool(torch.are_deterministic_algorithms_enabled())
        settings["deterministic_algorithms_warn_only"] = bool(
            torch.is_deterministic_algorithms_warn_only_enabled()
        )
        settings["CUBLAS_WORKSPACE_CONFIG"] = os.environ["CUBLAS_WORKSPACE_CONFIG"]
    elif backend == "cntk":
        import cntk

        force = getattr(getattr(cntk, "debugging", None), "force_deterministic_algorithms", None)
        if force is not None:
            force()
            settings["force_deterministic_algorithms"] = True
        else:
            settings["force_deterministic_algorithms"] = "not in this CNTK"
    return settings


def precision_state(backend):
    """The framework's float32 switches as they are now: {switch: value}, and the switches that
    allow TF32 (or lower) in float32 matmuls or convolutions, which a float32 run must not have."""
    state, lowered = {}, []
    if backend == "tensorflow":
        import tensorflow as tf

        state["tf32"] = bool(tf.config.experimental.tensor_float_32_execution_enabled())
        if state["tf32"]:
            lowered.append("tf32")
    elif backend == "jax":
        import jax

        value = jax.config.jax_default_matmul_precision
        state["jax_default_matmul_precision"] = value
        # None ("default") lets XLA pick TF32 on a GPU; float32 needs "highest" (or "float32").
        if value not in ("highest", "float32", "HIGHEST"):
            lowered.append("jax_default_matmul_precision")
    elif backend == "torch":
        import torch

        state["torch_matmul_allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
        state["torch_cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
        state["torch_float32_matmul_precision"] = torch.get_float32_matmul_precision()
        for key in ("torch_matmul_allow_tf32", "torch_cudnn_allow_tf32"):
            if state[key]:
                lowered.append(key)
        if state["torch_float32_matmul_precision"] != "highest":
            lowered.append("torch_float32_matmul_precision")
        # PyTorch 2.9+ keeps these per operation beside the switches above ("none": inherit).
        for key, holder, attr in (
            ("torch_cuda_matmul_fp32_precision", "cuda.matmul", "fp32_precision"),
            ("torch_cudnn_conv_fp32_precision", "cudnn.conv", "fp32_precision"),
            ("torch_cudnn_rnn_fp32_precision", "cudnn.rnn", "fp32_precision"),
        ):
            obj = torch.backends
            for part in holder.split("."):
                obj = getattr(obj, part, None)
            value = getattr(obj, attr, None) if obj is not None else None
            if isinstance(value, str):
                state[key] = value
                if value == "tf32":
                    lowered.append(key)
    return state, lowered


def session_settings(namespace, backend, precision):
    """The settings the notebook's `session.start` applied (kernel.json backend_settings); a
    notebook without that cell gets `session.apply_precision` here."""
    run = namespace.get("run")
    info = getattr(run, "info", None) or {}
    settings = info.get("backend_settings")
    if settings is None:
        from kerasbench.kernel import session

        settings = session.apply_precision(backend, precision)
        settings["applied_by"] = "kerasbench.kernel.parity (the notebook started no session)"
    if settings.get("precision") != precision:
        raise SettingsNotApplied(
            "the notebook set precision %r, the job asked for %r"
            % (settings.get("precision"), precision)
        )
    return dict(settings)


def record_determinism(namespace, determinism):
    """Adds the determinism settings to the run's kernel.json, beside its precision settings."""
    run = namespace.get("run")
    info = getattr(run, "info", None)
    if isinstance(info, dict) and isinstance(info.get("backend_settings"), dict):
        info["backend_settings"]["determinism"] = determinism
        info["backend_settings"]["parity"] = True
        run._write_info()


def check_precision(backend, precision, when):
    """The switches read back; SettingsNotApplied where a float32 run has TF32 allowed."""
    state, lowered = precision_state(backend)
    if precision == "float32" and lowered:
        raise SettingsNotApplied(
            "precision float32 was asked but %s allowed TF32 %s (%s)"
            % (", ".join(lowered), when, ", ".join("%s=%s" % (k, state[k]) for k in lowered))
        )
    return state
