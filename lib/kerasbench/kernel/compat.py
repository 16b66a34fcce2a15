"""Every difference between Keras 2.3.1 (the legacy CNTK kernel) and Keras 3 lives here.

The workloads call these helpers and stay identical for every backend. Kernel side: Python 3.6
syntax, and import this only inside a kernel whose KERAS_BACKEND is already fixed.
"""

import numpy as np

import keras

from kerasbench.kernel import settings

KERAS_MAJOR = int(keras.__version__.split(".")[0])
KERAS3 = KERAS_MAJOR >= 3


def compile_options():
    """What compile() is given beyond the model's own arguments (the run's steps_per_execution
    and jit_compile: kernel.settings); Keras 2 takes none of them."""
    return settings.current().compile_options() if KERAS3 else {}


def backend_name():
    return keras.backend.backend()


def set_seed(seed):
    """Seeds Python, NumPy and the backend, so a repeat's seed fixes weights and shuffling."""
    if KERAS3:
        keras.utils.set_random_seed(seed)
        return
    import random

    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "cntk":
        import cntk

        cntk.cntk_py.set_fixed_random_seed(seed)


def input_layer(shape, dtype="float32", name=None):
    """The first element of a Sequential: Keras 3 takes keras.Input, Keras 2 an InputLayer."""
    if KERAS3:
        return keras.Input(shape=shape, dtype=dtype, name=name)
    return keras.layers.InputLayer(input_shape=shape, dtype=dtype, name=name)


def _learning_rate(learning_rate, decay):
    # Keras 2's `decay` is lr / (1 + decay * step): InverseTimeDecay with decay_steps=1 in Keras 3.
    if decay:
        return keras.optimizers.schedules.InverseTimeDecay(
            learning_rate, decay_steps=1, decay_rate=decay
        )
    return learning_rate


def optimizer(name, learning_rate, decay=0.0, **kwargs):
    """An optimizer with Keras 2.0's semantics on either Keras.

    name: "adam", "rmsprop" or "adadelta". Pass every hyperparameter explicitly: the defaults
    changed (Keras 3's Adadelta starts at 0.001, Keras 2.0's at 1.0).
    """
    classes = {
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "adadelta": keras.optimizers.Adadelta,
    }
    cls = classes[name]
    if KERAS3:
        return cls(learning_rate=_learning_rate(learning_rate, decay), **kwargs)
    return cls(lr=learning_rate, decay=decay, **kwargs)


def lstm(units, implementation=None, **kwargs):
    """An LSTM with the same maths on every backend.

    The recurrent activation is sigmoid everywhere (Keras 2.0 used hard_sigmoid; sigmoid is what
    the fused cuDNN kernels compute, and it keeps the four backends comparable). Keras 2 takes
    `implementation` (2 = fused gate matmuls, as the 2017 text models asked for); Keras 3 has one
    implementation and picks cuDNN itself where it can, so the argument is dropped there.
    """
    kwargs.setdefault("recurrent_activation", "sigmoid")
    if not KERAS3 and implementation is not None:
        kwargs["implementation"] = implementation
    if KERAS3:
        for key, value in settings.current().lstm_options().items():
            kwargs.setdefault(key, value)
        if kwargs.get("use_cudnn") is True and not gpu_available():
            raise ValueError(
                "use_cudnn=True asks for cuDNN's LSTM, and Keras on %s sees no GPU "
                "here: use 'auto' or False" % backend_name()
            )
    return keras.layers.LSTM(units, **kwargs)


def gpu_available():
    """Whether the backend itself sees a GPU (where Keras' cuDNN paths can run)."""
    backend = backend_name()
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return False


def pad_sequences(sequences, maxlen):
    """Pre-pads and pre-truncates word-id lists to `maxlen`, as the 2017 examples did."""
    if KERAS3:
        return keras.utils.pad_sequences(sequences, maxlen=maxlen)
    return keras.preprocessing.sequence.pad_sequences(sequences, maxlen=maxlen)


def compile(model, optimizer, loss, metrics=None, loss_weights=None):
    kwargs = {"optimizer": optimizer, "loss": loss, "metrics": metrics}
    if loss_weights is not None:
        kwargs["loss_weights"] = loss_weights
    if KERAS3:
        kwargs.update(compile_options())
    model.compile(**kwargs)
    return model


def sample_count(x, y=None):
    """The number of samples in fit()'s data: an array, a list or tuple of arrays (several
    inputs), or a dict of them by input name; `y` may be None (a model that makes its own loss)."""
    for value in (y, x):
        if value is None:
            continue
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, (list, tuple)):
            if not value:
                continue
            value = value[0]
        return len(value)
    return 0


def logged_metrics(history):
    """The names fit() logged, in Keras' order (loss, the compiled metrics in the order given to
    compile(), then any other; the validation ones with `val_`), as epochs.csv names them."""
    names = list(normalize_logs(dict.fromkeys(getattr(history, "history", None) or {})))
    return [str(n) for n in names]


def apply_compile_options(model):
    """The run's compile options (a configuration's steps_per_execution and jit_compile) on a
    model compiled elsewhere (a model file compiles its own): each option the run sets to other
    than Keras' default replaces the model's, its loss, optimizer and metrics are kept. Keras 3
    reads both when fit() builds its train function, so setting them before fit() is what a
    compile() with them would do. Returns what the model trains with: {option: value}; Keras
    2.3.1 has neither ({})."""
    if not KERAS3:
        return {}
    wanted = compile_options()
    if wanted.get("steps_per_execution", 1) not in (None, 1):
        model.steps_per_execution = int(wanted["steps_per_execution"])
    if wanted.get("jit_compile", "auto") not in (None, "auto"):
        model.jit_compile = wanted["jit_compile"]  # Keras turns it off where it cannot apply
    model.train_function = model.test_function = model.predict_function = None
    return compiled_with(model)


def compiled_with(model):
    """What Keras trains `model` with, its "auto" resolved by Keras: {"jit_compile": True (XLA on
    TensorFlow and JAX, torch.compile on PyTorch) or False, "steps_per_execution": N}. Keras 3
    resolves jit_compile="auto" at compile(): XLA on JAX, on TensorFlow only where it sees a GPU
    (and op determinism is off), never on PyTorch. Keras 2.3.1 has neither ({})."""
    if not KERAS3:
        return {}
    jit = getattr(model, "jit_compile", None)
    return {
        "steps_per_execution": int(getattr(model, "steps_per_execution", 1) or 1),
        "jit_compile": jit if isinstance(jit, bool) else None,
    }


def normalize_logs(logs):
    """Keras 2 logs `acc`/`val_acc`; the study's columns are Keras 3's `accuracy`/`val_accuracy`."""
    renamed = {}
    for key, value in (logs or {}).items():
        if key == "acc" or key.endswith("_acc"):
            key = key[: -len("acc")] + "accuracy"
        renamed[key] = value
    return renamed


def exact_validation_metrics(model, logs):
    """Keras 2.3.1 on CNTK reports each metric one batch late: its CNTK function reads the result
    before adding the last batch (with one validation batch, val_accuracy reads 0). At epoch end
    the metric objects still hold the totals of the whole validation pass, so read those.
    Losses are reported correctly and are left alone. Other backends: logs unchanged."""
    if KERAS3 or keras.backend.backend() != "cntk":
        return logs
    for metric in getattr(model, "metrics", None) or []:
        key = "val_" + getattr(metric, "name", "")
        total, count = getattr(metric, "total", None), getattr(metric, "count", None)
        if key in logs and not key.endswith("loss") and total is not None and count is not None:
            seen = float(keras.backend.get_value(count))
            if seen > 0:
                logs[key] = float(keras.backend.get_value(total)) / seen
    return logs


def layer_shapes(model):
    """Each layer's output shape (batch dimension None), comparable across Kerases."""
    shapes = []
    for layer in model.layers:
        shape = layer.output.shape if KERAS3 else layer.output_shape
        shape = shape[0] if isinstance(shape, list) else shape
        shapes.append([None if d is None else int(d) for d in shape])
    return shapes


def batch_sequence_base():
    """Base class for a batch source that fit() accepts on both Kerases."""
    if KERAS3:
        return keras.utils.PyDataset
    return keras.utils.Sequence


def fit(model, x=None, y=None, on_device=False, **options):
    """model.fit(x, y, **options), also with a batch Sequence as `x` (Keras 2.3.1 needs
    fit_generator for those; neither Keras takes y or batch_size with one).

    options: fit()'s epochs, batch_size, validation_data, callbacks, verbose (2 unless given) and,
    for a Sequence, steps_per_epoch. on_device: arrays go to the accelerator first (to_device);
    a batch Sequence stays as it is.
    """
    options.setdefault("verbose", 2)
    is_sequence = isinstance(x, batch_sequence_base())
    if not is_sequence:
        options.pop("steps_per_epoch", None)
        if on_device:
            x, y = to_device(x), to_device(y)
            options["validation_data"] = to_device(options.get("validation_data"))
        return model.fit(x, y, **options)
    options.pop("batch_size", None)
    if KERAS3:
        return model.fit(x, **options)
    return model.fit_generator(x, shuffle=False, workers=0, **options)


def to_device(x):
    """The arrays as backend tensors on the accelerator (Keras 3), copied there once.

    fit() then slices batches on the device instead of feeding NumPy batches from host memory,
    which is what bounds the small 2017 models on a fast GPU. Lists and tuples (several inputs or
    outputs) are converted element by element. Keras 2.3.1 (CNTK) has no such path: unchanged.
    """
    if not KERAS3 or x is None:
        return x
    if isinstance(x, (list, tuple)):
        return type(x)(to_device(v) for v in x)
    if isinstance(x, dict):
        return {k: to_device(v) for k, v in x.items()}
    return keras.ops.convert_to_tensor(x)


def predict_batch(model, x):
    """One forward pass for text sampling, called once per generated character.

    predict_on_batch reuses the model's compiled predict function: measured on the 2-core CPU
    (LSTM(128) on one 40x57 window) 0.3 ms a call on JAX against 186 ms for an eager
    model(x) (which retraces the recurrence every call), 1.3 against 41 ms on TensorFlow,
    1.9 against 2.6 ms on PyTorch. Sampling is untimed, but it was most of a quick run's wall time."""
    return model.predict_on_batch(x)


def count_params(model):
    return int(model.count_params())
