"""The start and end of a run inside a kernel: backend check, seeds, precision, kernel.json.

Kernel side, Python 3.6. The kernel fixes KERAS_BACKEND before anything imports Keras; start()
checks that the backend it got is the one the run asked for.
"""

import difflib
import math
import os

import keras

import kerasbench
from kerasbench import environment, runfiles
from kerasbench.plain import assigned_names
from kerasbench.kernel import compat, devices, epoch_log, lstm_probe, patches

KERNEL_JSON = runfiles.KERNEL_JSON
EPOCHS_CSV = runfiles.EPOCHS_CSV
SAMPLE_TXT = runfiles.SAMPLE_TXT


class BackendMismatch(RuntimeError):
    pass


def apply_precision(backend, precision):
    """Pins float32 matmul/conv precision, since the frameworks' GPU defaults differ.

    "float32": strict IEEE float32 everywhere (TF32 off), as on the 2017 K80.
    "tf32": TensorFloat-32 allowed in matmuls and convolutions on every backend that has it.
    Returns what was set, for the report. On a CPU these settings change nothing.
    """
    tf32 = precision == "tf32"
    if precision == "mixed":
        # float16 compute with float32 variables (Keras' mixed_float16 policy, loss scaling by
        # the optimizer); matmuls stay TF32-free. Its own labelled configuration, never tuned.
        keras.mixed_precision.set_global_policy("mixed_float16")
    settings = {"precision": precision, "float_dtype": keras.backend.floatx()}
    if precision == "mixed":
        settings["dtype_policy"] = keras.mixed_precision.global_policy().name
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(tf32)
        settings["tf32"] = tf.config.experimental.tensor_float_32_execution_enabled()
    elif backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "tensorfloat32" if tf32 else "highest")
        settings["jax_default_matmul_precision"] = jax.config.jax_default_matmul_precision
    elif backend == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.set_float32_matmul_precision("high" if tf32 else "highest")
        settings["torch_matmul_allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
        settings["torch_cudnn_allow_tf32"] = torch.backends.cudnn.allow_tf32
        settings["torch_threads"] = torch.get_num_threads()
    else:
        settings["tf32"] = False  # CNTK's last release predates TF32
    return settings


def _count(x):
    return 0 if x is None else compat.sample_count(x)


class Run(object):
    """One run's folder and what the kernel records in it."""

    def __init__(self, run_dir, workload, backend, seed):
        self.run_dir = os.path.abspath(run_dir)
        self.workload = workload
        self.backend = backend
        self.seed = seed
        self.info = {"workload": workload, "backend": backend, "seed": seed}
        self.logger = None
        self.data_on_device = False
        self.nan_at_epoch = 0

    def path(self, name):
        return os.path.join(self.run_dir, name)

    def _write_info(self):
        runfiles.write_json_atomic(self.path(KERNEL_JSON), self.info)

    def record_data(self, data):
        """Says which data the run trained on: full, subset or generated."""
        self.info["data"] = {
            "source": data.source,
            "detail": data.detail,
            "train_samples": _count(data.x_train),
            "test_samples": _count(data.x_test),
        }
        self._write_info()
        print("data: %s (%s)" % (data.source, data.detail))

    def epoch_logger(self, samples_per_epoch):
        self.logger = epoch_log.EpochLogger(self.path(EPOCHS_CSV), samples_per_epoch)
        return self.logger

    def save_sample(self, sample):
        with open(self.path(SAMPLE_TXT), "w") as f:
            f.write(sample["seed_text"] + sample["generated"])
        self.info["sample"] = {
            "file": SAMPLE_TXT,
            "temperature": sample["temperature"],
            "seed_chars": len(sample["seed_text"]),
            "generated_chars": len(sample["generated"]),
        }
        self._write_info()
        print(sample["seed_text"] + " | " + sample["generated"])

    def record_lstm_kernel(self, model):
        """kernel.json `lstm_kernel`: which LSTM kernel ran (lstm_probe.report)."""
        report = lstm_probe.report(model)
        self.info["lstm_kernel"] = report
        self._write_info()
        if report["verdict"] != "no LSTM layers":
            print("LSTM kernel: %s" % report["verdict"])
        return report

    def record_metrics(self, names):
        """kernel.json `metrics`: the names Keras logged, in its order (training.fit)."""
        self.info["metrics"] = list(names)
        self._write_info()

    def record_compile(self, applied):
        """backend_settings `model_compile`: the steps_per_execution and jit_compile the model
        trains with, where the model was compiled by a model file (usermodel.build_model)."""
        self.info.setdefault("backend_settings", {})["model_compile"] = applied
        self._write_info()

    def record_trained_on(self, model):
        """kernel.json `trained_on`: where the framework holds the model (devices.trained_on),
        recorded when training starts and again when it ends. The runner fails a run that
        trained on the CPU of a machine with a GPU, unless the CPU was asked for."""
        found = devices.trained_on(model)
        self.info["trained_on"] = found
        self._write_info()
        return found

    def finish(self, model):
        """Records the parameter count, where the model trained and whether the loss went
        non-finite (status `nan`)."""
        losses = self.logger.losses if self.logger else []
        nan = any(loss is None or not math.isfinite(loss) for loss in losses)
        self.info.update(
            parameters=compat.count_params(model),
            epochs_logged=len(losses),
            nan_loss=nan,
            finished_at=runfiles.now(),
        )
        # Which CUDA libraries trained it, by their real files (a borrowed name shows here).
        self.info["gpu_libraries"] = environment.loaded_gpu_libraries()
        self.record_lstm_kernel(model)
        where = self.record_trained_on(model)
        print(
            "%s on %s: %d epochs logged%s; trained on %s (%s)"
            % (
                self.workload,
                self.backend,
                len(losses),
                ", loss became NaN" if nan else "",
                where["kind"],
                ", ".join(where["devices"]) or where.get("error") or "no device named",
            )
        )


# papermill's injected-parameters cell starts with this comment (its Python translator's).
INJECTED_HEADER = "# Parameters"


class UnknownParameter(ValueError):
    """A parameter injected into the notebook that its `parameters` cell does not declare (a typo
    in papermill's -p): papermill only warns, and the run would train the default instead."""

    def _render_traceback_(self):
        # IPython shows this instead of a traceback: the notebook's error is one line.
        return ["%s: %s" % (type(self).__name__, self)]


def check_parameters(inputs=None):
    """Refuses a parameter injected by papermill that the notebook does not declare.

    `inputs`: the cells this kernel executed, in order (IPython's input history, `In`, by
    default). The last cell papermill injected is compared with the cell run just before it, the
    notebook's `parameters` cell. Outside IPython, or with no injected cell (the notebook run by
    hand in Jupyter), there is nothing to check.
    """
    if inputs is None:
        inputs = _ipython_inputs()
    for i in range(len(inputs) - 1, 0, -1):
        if inputs[i].lstrip().startswith(INJECTED_HEADER):
            declared = assigned_names(inputs[i - 1])
            unknown = [n for n in assigned_names(inputs[i]) if n not in declared]
            if unknown:
                hints = [
                    "%s (did you mean %s?)" % (n, difflib.get_close_matches(n, declared, 1)[0])
                    if difflib.get_close_matches(n, declared, 1)
                    else n
                    for n in unknown
                ]
                raise UnknownParameter(
                    "unknown parameter%s %s: this notebook's parameters are %s; nothing was "
                    "trained"
                    % ("" if len(unknown) == 1 else "s", ", ".join(hints), ", ".join(declared))
                )
            return


def _ipython_inputs():
    try:
        from IPython import get_ipython
    except ImportError:
        return []
    shell = get_ipython()
    return list(shell.user_ns.get("In") or []) if shell is not None else []


def code_identity():
    """Which kerasbench this kernel imported: its lib/ folder and that checkout's commit. The
    runner refuses a run whose kernel imported another checkout's code."""
    lib = os.path.dirname(os.path.dirname(os.path.abspath(kerasbench.__file__)))
    return {"path": lib, "git_commit": environment.git_commit(os.path.dirname(lib))}


def start(
    backend,
    run_dir,
    seed,
    workload,
    precision="float32",
    steps_per_execution=None,
    jit_compile=None,
    data_on_device=False,
    nan_at_epoch=0,
    use_cudnn="auto",
    keras_patch="",
    batch_callbacks=True,
):
    """Checks the parameters and the backend, seeds everything, pins precision and writes
    kernel.json (with the code this kernel imported).

    data_on_device: training.fit hands Keras arrays already on the accelerator (tuned setting).
    nan_at_epoch: tests only; from that epoch on the loss is made NaN (0: never).
    use_cudnn: Keras 3's LSTM argument for every LSTM of the model (compat.lstm); Keras 2.3.1
    ignores it. Which LSTM kernel actually ran is recorded by finish() (kernel.json lstm_kernel).
    keras_patch: "" or the name of a documented Keras patch (patches.apply), only in
    the `keras-patched` configuration.
    batch_callbacks: False drops the study's per-batch callbacks (training.study_callbacks).
    """
    check_parameters()
    actual = compat.backend_name()
    if actual != backend:
        raise BackendMismatch(
            "this kernel runs Keras on %r but the run asked for %r: use the kerasbench-%s kernel"
            % (actual, backend, backend)
        )
    if not os.path.isdir(run_dir):
        os.makedirs(run_dir)
    run = Run(run_dir, workload, backend, seed)
    run.data_on_device = bool(data_on_device)
    run.nan_at_epoch = int(nan_at_epoch or 0)
    run.batch_callbacks = bool(batch_callbacks)
    compat.set_seed(seed)
    compat.set_compile_options(steps_per_execution=steps_per_execution, jit_compile=jit_compile)
    compat.set_lstm_options(use_cudnn=use_cudnn)
    lstm_probe.install()
    settings = apply_precision(backend, precision)
    settings["use_cudnn"] = use_cudnn if compat.KERAS3 else "ignored (Keras 2.3.1)"
    settings["keras_patch"] = patches.apply(keras_patch)
    settings["batch_callbacks"] = run.batch_callbacks
    settings["compile_options"] = compat.compile_options()
    settings["data_on_device"] = run.data_on_device
    run.info.update(
        versions=environment.framework_versions(backend),
        device=environment.device(),
        backend_settings=settings,
        code=code_identity(),
        started_at=runfiles.now(),
    )
    run._write_info()
    print(
        "kerasbench: %s on Keras %s (%s), seed %d"
        % (workload, keras.__version__, run.info["versions"]["backend_framework"], seed)
    )
    return run
