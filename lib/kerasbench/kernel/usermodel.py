"""A model file in a kernel: import it, give it its parameters and data, wrap what it returns.

The file (see kerasbench.study.usermodel for its contract) is imported from its path after the
kernel fixed KERAS_BACKEND, like any workload module, with Keras' home pointed at the data folder
(`keras.datasets.*.load_data()` finds the files there, offline). `load_data(params, data_dir)`
must return `(x_train, y_train), (x_test, y_test)`: each x a NumPy array, a list of them (several
inputs) or a dict of them by input name, each y the same or None (a model that makes its own
loss), the test pair None where there is no test set; `build_model(params)` or
`build_model(params, data)` a compiled model. The run's compile options (a configuration's
steps_per_execution, jit_compile) replace the file's own where the run sets them.
Kernel side: Python 3.6 syntax.
"""

import hashlib
import importlib.util
import inspect
import io
import os
import sys
import tempfile

import numpy as np

from kerasbench import datafiles
from kerasbench.kernel import compat, datasets


class ModelFileError(RuntimeError):
    def _render_traceback_(self):
        # IPython shows this instead of a traceback: the notebook's error is one line.
        return ["%s: %s" % (type(self).__name__, self)]


def name(model_file):
    return os.path.splitext(os.path.basename(model_file))[0]


def _listed_sums(folder):
    """{name: sha256} from the data folder's SHA256SUMS (sha256sum's format); {} without one."""
    sums = {}
    try:
        with io.open(os.path.join(folder, datafiles.SUMS_FILE), encoding="utf-8") as f:
            for line in f:
                parts = line.strip().split(None, 1)
                if len(parts) == 2 and len(parts[0]) == 64:
                    sums[parts[1].lstrip("*")] = parts[0].lower()
    except (IOError, OSError, UnicodeDecodeError):
        pass
    return sums


def point_keras_home(data_dir):
    """Points Keras' home at a folder whose `datasets` holds a link to each file of the data
    folder, so that Keras' own loaders (keras.datasets.mnist.load_data(), keras.utils.get_file)
    find the files there instead of downloading them to ~/.keras/datasets. Keras 3 only.

    Keras' get_file replaces a file whose hash is not the one it expects (it downloads again,
    and deletes the file when that fails): the links keep that away from the data folder, and
    Keras' hash check (file_utils.validate_file) also accepts a file whose SHA-256 is the data
    folder's SHA256SUMS line (the rebuilt mnist.npz and imdb.npz), and refuses, with one line,
    a linked file that matches neither, instead of replacing it. Nothing is ever written to the
    data folder. What get_file downloads for a file the data folder lacks stays in this home
    (the temporary folder, one per data folder). Returns the home (also in KERAS_HOME, for the
    processes the file starts), or None on Keras 2.3.1."""
    if not compat.KERAS3:
        return None
    folder = os.path.abspath(datafiles.data_dir(data_dir or None))
    key = hashlib.sha1(folder.encode("utf-8")).hexdigest()[:12]
    home = os.path.join(tempfile.gettempdir(), "kerasbench-keras-home-" + key)
    cache = os.path.join(home, "datasets")
    if os.path.islink(cache):
        os.remove(cache)  # never a link to the folder itself: get_file writes in there
    os.makedirs(cache, exist_ok=True)
    same = os.path.realpath(folder) == os.path.realpath(cache)
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) and not same else []
    for entry in names:
        source = os.path.join(folder, entry)
        link = os.path.join(cache, entry)
        if entry.startswith(".") or not os.path.isfile(source):
            continue
        if os.path.islink(link) and os.readlink(link) == source:
            continue
        try:
            if os.path.lexists(link):
                os.remove(link)  # an earlier download of get_file's: the data folder's wins
            os.symlink(source, link)
        except FileExistsError:
            pass  # another kernel made the same link at the same moment
    os.environ["KERAS_HOME"] = home
    from keras.src.backend import config as keras_config
    from keras.src.utils import file_utils

    keras_config._KERAS_DIR = home  # Keras read KERAS_HOME once, when it was imported
    original = getattr(file_utils.validate_file, "kerasbench_original", file_utils.validate_file)
    sums = _listed_sums(folder)

    def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535):
        if not (os.path.islink(fpath) and os.path.dirname(os.path.abspath(fpath)) == cache):
            return original(fpath, file_hash, algorithm, chunk_size)
        if original(fpath, file_hash, algorithm, chunk_size):
            return True
        entry = os.path.basename(fpath)
        if sums.get(entry) == datafiles.file_sha256(os.path.realpath(fpath)):
            return True
        raise ModelFileError(
            "%s in the data folder %s has neither the hash Keras' loader checks nor one its "
            "%s lists: not replaced (fix or remove the file)" % (entry, folder, datafiles.SUMS_FILE)
        )

    validate_file.kerasbench_original = original
    file_utils.validate_file = validate_file
    return home


def load(model_file, data_dir="", backend=None, model_backends=None):
    """The model file as a module (its folder first on sys.path, so it may import its
    neighbours), with Keras' home at the data folder. `backend`: the kernel's; a file whose
    BACKENDS (or the runner's `model_backends`) leaves it out is refused before it is imported."""
    path = os.path.abspath(model_file)
    if not os.path.exists(path):
        raise ModelFileError("%s: model file not found" % model_file)
    if backend and model_backends and backend not in model_backends:
        raise ModelFileError(
            "%s runs on %s only (its BACKENDS), not on %s"
            % (name(path), ", ".join(model_backends), backend)
        )
    point_keras_home(data_dir)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("kerasbench_model_" + name(path), path)
    module = importlib.util.module_from_spec(spec)
    _call(model_file, "importing it", spec.loader.exec_module, module)
    declared = getattr(module, "BACKENDS", None)
    if backend and declared and backend not in declared:
        raise ModelFileError(
            "%s runs on %s only (its BACKENDS), not on %s"
            % (name(path), ", ".join(declared), backend)
        )
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


def _arrays(where, value, may_be_none):
    """The arrays of one of load_data's values, checked: [(label, array)]."""
    if value is None:
        if may_be_none:
            return []
        raise ModelFileError(
            "load_data: %s is None (only a y may be: a model that makes its own loss)" % where
        )
    if isinstance(value, dict):
        items = [("%s[%r]" % (where, k), v) for k, v in value.items()]
        if not items or not all(isinstance(k, str) for k in value):
            raise ModelFileError(
                "load_data: %s as a dict must map input or output names to arrays" % where
            )
    elif isinstance(value, (list, tuple)):
        items = [("%s[%d]" % (where, i), v) for i, v in enumerate(value)]
        if not items:
            raise ModelFileError("load_data: %s is an empty list" % where)
    else:
        items = [(where, value)]
    for label, a in items:
        if not isinstance(a, np.ndarray):
            raise ModelFileError(
                "load_data: %s must be a NumPy array (or a list or dict of them), got %s"
                % (label, type(a).__name__)
            )
    return items


def _length(where, x, y):
    """The one length of every array of x and y; an error naming the one that differs."""
    items = _arrays("x_" + where, x, False) + _arrays("y_" + where, y, True)
    n = len(items[0][1])
    for label, a in items[1:]:
        if len(a) != n:
            raise ModelFileError(
                "load_data: %s has %d samples, %s %d: every array of a split has one length"
                % (items[0][0], n, label, len(a))
            )
    return n


def load_data(module, params, data_dir):
    """The file's data as a datasets.Split, checked. Its source is `model file`, or `generated`
    where the file's parameters say `generated: True` (made-up data: its metric means nothing)."""
    result = _call(
        module.__file__,
        "in load_data",
        module.load_data,
        params,
        datafiles.data_dir(data_dir or None),
    )
    try:
        train, test = result
        x_train, y_train = train
        x_test, y_test = test if test is not None else (None, None)
    except (TypeError, ValueError):
        raise ModelFileError(
            "load_data must return (x_train, y_train), (x_test, y_test) (the test pair may be None)"
        )
    n_train = _length("train", x_train, y_train)
    n_test = _length("test", x_test, y_test) if x_test is not None else 0
    if x_test is None and y_test is not None:
        raise ModelFileError("load_data: y_test without x_test")
    generated = bool(params.get("generated"))
    detail = "%s.load_data: %d train / %d test samples%s" % (
        name(module.__file__),
        n_train,
        n_test,
        ", generated by the file" if generated else "",
    )
    source = "generated" if generated else "model file"
    return datasets.Split(x_train, y_train, x_test, y_test, source, detail)


def _takes_data(function):
    """True when build_model takes a second argument (data)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)


def build_model(module, params, data=None, run=None):
    """`build_model(params)`, or `build_model(params, data)` where it takes the data
    (`((x_train, y_train), (x_test, y_test))`, as load_data returned it: for adapt() layers, a
    part trained first); checked compiled. The run's compile options then replace the file's
    where the run sets them (compat.apply_compile_options), and `run` records what the model
    trains with (backend_settings `model_compile`)."""
    args = [params]
    if data is not None and _takes_data(module.build_model):
        args.append(((data.x_train, data.y_train), (data.x_test, data.y_test)))
    model = _call(module.__file__, "in build_model", module.build_model, *args)
    if getattr(model, "optimizer", None) is None:
        raise ModelFileError("build_model must return a compiled model (call model.compile)")
    applied = compat.apply_compile_options(model)
    if run is not None and hasattr(run, "record_compile"):
        run.record_compile(applied)
    return model
