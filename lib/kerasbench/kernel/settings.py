"""A run's settings in the kernel: one object, made once per run by `session.start` from the
notebook's parameters, and the only place a kernel module reads them from.

Before it, a run's settings reached the kernel three ways:
1. the notebook's parameters (papermill's injected cell), passed one by one to session.start and
   read again by the workload's cells (`data_dir`, `allow_generated`, `seed`);
2. environment variables: KERAS_BACKEND (the kernel spec), which the `backend` parameter had to
   repeat, and KERASBENCH_DATA, read by each loader where `data_dir` was "";
3. module globals and attributes set after the fact: `compat._compile_options` and
   `compat._lstm_options` (set by session.start, read by compat.compile and compat.lstm), and
   the Run's `data_on_device`, `nan_at_epoch` and `batch_callbacks` (set on it, read by
   training.fit through getattr defaults).
Now `Settings.from_parameters` takes the notebook's parameters and the kernel's own backend,
resolves the data folder once as `kerasbench run` does (`datafiles.data_dir`: the parameter,
else $KERASBENCH_DATA, else Keras' ~/.keras/datasets), and session.start keeps the result on the
run (`run.settings`) and makes it current (`current()`: what compat.compile, compat.lstm and
compat.apply_compile_options read). The environment variables a framework reads itself
(CUDA_VISIBLE_DEVICES, JAX_PLATFORMS, XLA_FLAGS) stay the framework's.

Kernel side: Python 3.6 syntax, standard library only (the notebook template reads
RUN_PARAMETERS without Keras).
"""

import collections
import os

from kerasbench import datafiles

# The run's settings, first in every workload notebook's parameters cell (kernel.notebooks writes
# them; study.params.RUNNER_KEYS and RUN_SETTINGS name the same): (name, value, comment).
RUN_PARAMETERS = (
    ("backend", "", "the kernel's Keras backend (\"\"); a backend named here must be the kernel's"),
    (
        "run_dir",
        ".",
        "folder for epochs.csv, kernel.json, run.json (and sample.txt for text models)",
    ),
    ("seed", 0, "seeds weights, shuffling and sampling; the runner gives each repeat its own"),
    ("data_dir", "", 'data folder; "" means $KERASBENCH_DATA, else ~/.keras/datasets'),
    (
        "allow_generated",
        True,
        "if a data file is missing, train on generated data (never in `full`)",
    ),
    (
        "precision",
        "float32",
        '"float32": TF32 off on every backend; "tf32": TF32 allowed everywhere',
    ),
    ("steps_per_execution", 1, "Keras 3 batches run per compiled call (1 is the Keras default)"),
    ("jit_compile", "auto", 'Keras 3 jit_compile for compile(): "auto", True or False'),
    ("data_on_device", False, "Keras 3: put the arrays on the accelerator before fit() (tuned)"),
    (
        "use_cudnn",
        "auto",
        'Keras 3 LSTMs: "auto" (cuDNN where Keras can), True or False; Keras 2.3.1 ignores it',
    ),
    (
        "keras_patch",
        "",
        '"" (none) or "jax-scan": a documented Keras patch, only in configuration keras-patched',
    ),
    (
        "batch_callbacks",
        True,
        "False drops the per-batch callbacks (NaN checked once an epoch, no progress log), as in "
        "the quiet configurations",
    ),
    ("nan_at_epoch", 0, "tests only: the loss turns NaN from this epoch on; 0 means never"),
)
DEFAULTS = collections.OrderedDict((name, value) for name, value, _ in RUN_PARAMETERS)


class BackendMismatch(RuntimeError):
    """The `backend` parameter names another backend than the kernel's."""

    def _render_traceback_(self):
        # IPython shows this instead of a traceback: the notebook's error is one line.
        return ["%s: %s" % (type(self).__name__, self)]


class Settings(object):
    """What one run asked for. Every field has the meaning of the notebook parameter of its
    name, resolved: `backend` is the kernel's, `run_dir` and `data_dir` absolute folders.
    `parameters`: the notebook's parameters as given ({} where not known), for run.json.

    steps_per_execution and jit_compile None: not given (compile() gets neither)."""

    FIELDS = ("workload",) + tuple(DEFAULTS) + ("parameters",)

    def __init__(self, **values):
        unknown = sorted(set(values) - set(self.FIELDS))
        if unknown:
            raise TypeError("unknown settings: %s" % ", ".join(unknown))
        defaults = dict(
            DEFAULTS,
            workload="",
            run_dir=os.path.abspath("."),
            data_dir="",
            allow_generated=False,
            steps_per_execution=None,
            jit_compile=None,
            parameters={},
        )
        for name in self.FIELDS:
            setattr(self, name, values.get(name, defaults[name]))

    @classmethod
    def from_parameters(cls, workload, parameters, kernel_backend, declared=None):
        """The settings of a run of `workload` from the notebook's namespace `parameters` (a
        name it does not hold takes the notebook's default); `kernel_backend`: the backend this
        kernel runs; `declared`: the names of the notebook's parameters cell, kept with their
        values in `parameters` (run.json's `params` when the kernel writes it).
        BackendMismatch where `backend` names another backend than the kernel's."""
        given = dict((name, parameters.get(name, value)) for name, value in DEFAULTS.items())
        asked = given["backend"]
        if asked and asked != kernel_backend:
            raise BackendMismatch(
                "the backend parameter asks for %r but this kernel runs Keras on %r: use the "
                "kerasbench-%s kernel, or leave backend out (the kernel's is used)"
                % (asked, kernel_backend, asked)
            )
        given.update(
            workload=workload,
            backend=kernel_backend,
            run_dir=os.path.abspath(given["run_dir"] or "."),
            data_dir=os.path.abspath(datafiles.data_dir(given["data_dir"] or None)),
            seed=int(given["seed"]),
            allow_generated=bool(given["allow_generated"]),
            data_on_device=bool(given["data_on_device"]),
            batch_callbacks=bool(given["batch_callbacks"]),
            nan_at_epoch=int(given["nan_at_epoch"] or 0),
            parameters=dict(
                (name, parameters[name]) for name in declared or () if name in parameters
            ),
        )
        return cls(**given)

    def replace(self, **changes):
        """A copy with `changes`."""
        values = self.as_dict()
        values.update(changes)
        return Settings(**values)

    def as_dict(self):
        return dict((name, getattr(self, name)) for name in self.FIELDS)

    def compile_options(self):
        """What Keras 3's compile() is given beyond the model's own arguments."""
        options = (
            ("steps_per_execution", self.steps_per_execution),
            ("jit_compile", self.jit_compile),
        )
        return dict((k, v) for k, v in options if v is not None)

    def lstm_options(self):
        """What every LSTM is given (compat.lstm): use_cudnn where it is not "auto"."""
        return {} if self.use_cudnn == "auto" else {"use_cudnn": self.use_cudnn}


_current = [Settings()]


def current():
    """The settings of the run in progress (session.start's); before any, Keras' defaults."""
    return _current[0]


def use(settings):
    """Makes `settings` current; returns the settings it replaces."""
    previous = _current[0]
    _current[0] = settings
    return previous
