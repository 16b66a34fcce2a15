"""A model file in a kernel: import it, give it its parameters, wrap what it returns.

The file (see kerasbench.study.usermodel for its contract) is imported from its path after the
kernel fixed KERAS_BACKEND, like any workload module. `load_data(params, data_dir)` must return
`(x_train, y_train), (x_test, y_test)` as NumPy arrays (lists of arrays for several inputs or
outputs); `build_model(params)` a compiled model. Kernel side: Python 3.6 syntax.
"""

import importlib.util
import os
import sys

import numpy as np

from kerasbench import datafiles
from kerasbench.kernel import datasets


class ModelFileError(RuntimeError):
    pass


def name(model_file):
    return os.path.splitext(os.path.basename(model_file))[0]


def load(model_file):
    """The model file as a module (its folder first on sys.path, so it may import its neighbours)."""
    path = os.path.abspath(model_file)
    if not os.path.exists(path):
        raise ModelFileError("%s: model file not found" % model_file)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("kerasbench_model_" + name(path), path)
    module = importlib.util.module_from_spec(spec)
    _call(model_file, "importing it", spec.loader.exec_module, module)
    return module


def _call(model_file, what, function, *args):
    """`function(*args)`, where the model file's sys.exit() is an error: papermill takes a
    SystemExit(0) for a notebook that ended early on purpose, and the run would read ok with
    no epoch."""
    try:
        return function(*args)
    except SystemExit as e:
        raise ModelFileError(
            "%s called sys.exit(%s) while %s: a model file defines PARAMS, load_data and "
            "build_model, and must not exit"
            % (name(model_file), "" if e.code is None else repr(e.code), what)
        )


def parameters(module, profile, given=None):
    """`given` (the runner's resolved parameters) if any, else the file's PARAMS[profile] over
    PARAMS['full'] (running the notebook by hand)."""
    if given:
        return dict(given)
    table = getattr(module, "PARAMS", None) or {}
    values = dict(table.get("full") or {})
    values.update(table.get(profile) or {})
    return values


def _count(x):
    if isinstance(x, (list, tuple)):
        return len(x[0]) if x else 0
    return len(x)


def _check_arrays(where, value):
    arrays = value if isinstance(value, (list, tuple)) else [value]
    for a in arrays:
        if not isinstance(a, np.ndarray):
            raise ModelFileError(
                "load_data: %s must be a NumPy array (or a list of them), got %s"
                % (where, type(a).__name__)
            )


def load_data(module, params, data_dir):
    """The file's data as a datasets.Split (source `model file`), checked."""
    result = _call(
        module.__file__,
        "in load_data",
        module.load_data,
        params,
        datafiles.data_dir(data_dir or None),
    )
    try:
        (x_train, y_train), (x_test, y_test) = result
    except (TypeError, ValueError):
        raise ModelFileError("load_data must return (x_train, y_train), (x_test, y_test)")
    for where, value in (
        ("x_train", x_train),
        ("y_train", y_train),
        ("x_test", x_test),
        ("y_test", y_test),
    ):
        _check_arrays(where, value)
    if _count(x_train) != _count(y_train) or _count(x_test) != _count(y_test):
        raise ModelFileError(
            "load_data: x and y differ in length (train %d/%d, test %d/%d)"
            % (_count(x_train), _count(y_train), _count(x_test), _count(y_test))
        )
    detail = "%s.load_data: %d train / %d test samples" % (
        name(module.__file__),
        _count(x_train),
        _count(x_test),
    )
    return datasets.Split(x_train, y_train, x_test, y_test, "model file", detail)


def build_model(module, params):
    model = _call(module.__file__, "in build_model", module.build_model, params)
    if getattr(model, "optimizer", None) is None:
        raise ModelFileError("build_model must return a compiled model (call model.compile)")
    return model
