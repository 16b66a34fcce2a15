"""The start and end of a run inside a kernel: its settings, seeds, precision, kernel.json, and
run.json where no runner writes it.

Kernel side, Python 3.6. The kernel fixes KERAS_BACKEND before anything imports Keras; start()
takes the backend it got (a `backend` parameter naming another is an error) and the rest of the
run's settings from the notebook's parameters (kernel.settings).
"""

import difflib
import math
import os
import socket
import time

import keras

import kerasbench
from kerasbench import environment, runfiles
from kerasbench.plain import assigned_names
from kerasbench.kernel import compat, datasets, devices, epoch_log, lstm_probe, patches, terminal
from kerasbench.kernel import settings as run_settings

KERNEL_JSON = runfiles.KERNEL_JSON
EPOCHS_CSV = runfiles.EPOCHS_CSV
SAMPLE_TXT = runfiles.SAMPLE_TXT

BackendMismatch = run_settings.BackendMismatch


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
    """One run's folder and what the kernel records in it; `settings`: what the run asked for
    (kernel.settings.Settings)."""

    def __init__(self, settings):
        self.settings = settings
        self.run_dir = settings.run_dir
        self.workload = settings.workload
        self.backend = settings.backend
        self.seed = settings.seed
        self.info = {"workload": self.workload, "backend": self.backend, "seed": self.seed}
        self.logger = None
        self.started = time.time()

    @property
    def data_source(self):
        """Where the workload's data comes from (datasets.Source): the run's data folder,
        whether generated data may stand in, its seed."""
        chosen = self.settings
        return datasets.Source(chosen.data_dir, chosen.allow_generated, chosen.seed)

    def path(self, name):
        return os.path.join(self.run_dir, name)

    def _write_info(self):
        runfiles.write_json_atomic(self.path(KERNEL_JSON), self.info)

    def record_data(self, data):
        """Says which data the run trained on: full, subset or generated."""
        self.info["data"] = {
            "source": data.source,
            "detail": data.detail,
            "folder": self.settings.data_dir,
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
        trains with (compat.compiled_with: "auto" as Keras resolved it), where a model file
        compiled the model (usermodel.build_model) and again for every run as it ends."""
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
        """Records the parameter count, where the model trained, whether the loss went
        non-finite (status `nan`) and how busy the machine was as training ended."""
        losses = self.logger.losses if self.logger else []
        nan = any(loss is None or not math.isfinite(loss) for loss in losses)
        self.info.update(
            parameters=compat.count_params(model),
            epochs_logged=len(losses),
            nan_loss=nan,
            finished_at=runfiles.now(),
        )
        # How busy the machine was as training ended (its start: start()).
        self.info.setdefault("machine_load", {})["end"] = environment.machine_load()
        # Which CUDA libraries trained it, by their real files (a borrowed name shows here).
        self.info["gpu_libraries"] = environment.loaded_gpu_libraries()
        self.record_lstm_kernel(model)
        if compat.KERAS3:
            self.record_compile(compat.compiled_with(model))
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
        if by_hand(self.run_dir):
            record = self.write_record()
            generated = (self.info.get("data") or {}).get("source") == "generated"
            terminal.say(
                "kerasbench: %s on %s: %s%s%s; run folder %s"
                % (
                    self.workload,
                    self.backend,
                    record["status"],
                    " (%s)" % record["error"] if record["error"] else "",
                    ", on generated data" if generated else "",
                    self.run_dir,
                )
            )

    def write_record(self):
        """run.json, as the runner would write it, for a run no runner watches (by_hand):
        `ok`, `nan` (the loss went NaN) or `failed` (trained on the CPU of a machine with a GPU:
        runfiles.cpu_fallback); the parameters as the notebook got them, with the backend, run
        and data folders resolved; profile none (the notebook's own values); configuration and
        repeat from the folder's path where it is a run folder of this workload and backend."""
        identity = runfiles.path_identity(self.run_dir)
        config, repeat = None, 0
        if identity is not None and identity[:2] == (self.workload, self.backend):
            config, repeat = identity[2], identity[3]
        status, error = "ok", None
        if self.info.get("nan_loss"):
            status, error = "nan", "the loss became NaN; training stopped early"
        fallback = runfiles.cpu_fallback(runfiles.trained_on(self.info), self.info.get("device"))
        if status == "ok" and fallback:
            status, error = "failed", fallback
        chosen = self.settings
        params = dict(
            chosen.parameters,
            backend=chosen.backend,
            run_dir=chosen.run_dir,
            data_dir=chosen.data_dir,
        )
        code = self.info.get("code") or {}
        record = runfiles.record(
            self.workload,
            self.backend,
            None,
            repeat,
            self.seed,
            config,
            params,
            status,
            error,
            self.info.get("started_at"),
            time.time() - self.started,
            kernel_info=self.info,
            git_commit=code.get("git_commit"),
            code_path=code.get("path"),
            host=socket.gethostname(),
        )
        runfiles.write_json_atomic(self.path(runfiles.RUN_JSON), record)
        return record


def by_hand(run_dir):
    """True in a Jupyter kernel that no kerasbench runner watches (papermill or Jupyter run by
    hand): the runner records its kernel's pid in the run folder as the kernel starts
    (runfiles.write_kernel_pid) and writes run.json itself once the kernel is done. A plain
    process (kerasbench.plain, parity, profile) records no run.json."""
    if not _in_ipython():
        return False
    recorded = runfiles.read_kernel_pid(run_dir)
    return recorded is None or recorded[0] != os.getpid()


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


def parameters_cell(inputs):
    """The notebook's parameters cell among the cells this kernel ran: the one before papermill's
    injected cell, else the first that assigns both `run_dir` and `seed` (Jupyter, by hand);
    "" where there is none (a plain process)."""
    for i in range(len(inputs) - 1, 0, -1):
        if inputs[i].lstrip().startswith(INJECTED_HEADER):
            return inputs[i - 1]
    for source in inputs:
        names = assigned_names(source)
        if "run_dir" in names and "seed" in names:
            return source
    return ""


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _in_ipython():
    return _shell() is not None


def _ipython_inputs():
    shell = _shell()
    return list(shell.user_ns.get("In") or []) if shell is not None else []


def code_identity():
    """Which kerasbench this kernel imported: its lib/ folder and that checkout's commit. The
    runner refuses a run whose kernel imported another checkout's code."""
    lib = os.path.dirname(os.path.dirname(os.path.abspath(kerasbench.__file__)))
    return {"path": lib, "git_commit": environment.git_commit(os.path.dirname(lib))}


def start(workload, parameters):
    """Starts a run of `workload` from the notebook's namespace `parameters` (its globals(),
    holding the parameters cell's names as papermill injected them): checks the parameters,
    takes the backend the kernel runs (kernel.settings), seeds everything, pins precision and
    writes kernel.json (with the code this kernel imported). Returns the Run.

    The settings: data_on_device hands Keras arrays already on the accelerator (tuned);
    nan_at_epoch (tests only) makes the loss NaN from that epoch on; use_cudnn is Keras 3's LSTM
    argument for every LSTM of the model (compat.lstm; Keras 2.3.1 ignores it; which LSTM kernel
    ran is recorded by finish(), kernel.json lstm_kernel); keras_patch is "" or a documented Keras
    patch (patches.apply), only in the `keras-patched` configuration; batch_callbacks False drops
    the study's per-batch callbacks (training.study_callbacks).
    """
    inputs = _ipython_inputs()
    check_parameters(inputs)
    chosen = run_settings.Settings.from_parameters(
        workload, parameters, compat.backend_name(), assigned_names(parameters_cell(inputs))
    )
    if not os.path.isdir(chosen.run_dir):
        os.makedirs(chosen.run_dir)
    run_settings.use(chosen)
    run = Run(chosen)
    compat.set_seed(chosen.seed)
    lstm_probe.install()
    settings = apply_precision(chosen.backend, chosen.precision)
    settings["use_cudnn"] = chosen.use_cudnn if compat.KERAS3 else "ignored (Keras 2.3.1)"
    settings["keras_patch"] = patches.apply(chosen.keras_patch)
    settings["batch_callbacks"] = chosen.batch_callbacks
    settings["compile_options"] = compat.compile_options()
    settings["data_on_device"] = chosen.data_on_device
    run.info.update(
        versions=environment.framework_versions(chosen.backend),
        device=environment.device(),
        backend_settings=settings,
        code=code_identity(),
        started_at=runfiles.now(),
        machine_load={"start": environment.machine_load()},
    )
    run._write_info()
    print(
        "kerasbench: %s on Keras %s (%s), seed %d"
        % (workload, keras.__version__, run.info["versions"]["backend_framework"], chosen.seed)
    )
    return run
