"""The kernel side of `kerasbench parity`: one backend, one workload, one fresh process.

    python -m kerasbench.kernel.parity JOB_JSON

Run with the backend kernel's Python and environment (KERAS_BACKEND fixed before anything imports
Keras), as `kerasbench.plain` is. The model and data come from the workload's own notebook: its
code cells run up to, not including, the cell that trains (the one calling `training.fit`), so
parity checks the model the study trains, built the way the study builds it.

Then, with files only for exchange (the host compares them; nothing here judges):
1. Initial weights. The reference backend saves them (`init.weights.h5`, Keras 3's backend-neutral
   format, and `init.layers.h5`, one group per layer in layer order); every other backend loads
   them (Keras 3 from `.weights.h5`; Keras 2.3.1, which cannot read that format, by layer order
   after checking that each layer's weight shapes match, else it cannot join and says why).
   `weights_step0.layers.h5` is what the backend holds before its first step.
2. Randomness that could differ between backends is switched off: every Dropout layer's rate and
   every recurrent cell's dropout/recurrent_dropout become 0 (listed in result.json); batches are
   the first `steps` batches of the training arrays in order (wrapping around), one
   `train_on_batch` each: no shuffling, no augmentation. BatchNormalization stays in training
   mode (deterministic: batch statistics).
3. Per-step loss (`losses.csv`), the weights after training (`weights_final.layers.h5`), the
   predictions on the evaluation samples (`predictions.npz`) and `evaluate()` on them.
4. Cross-load: every non-reference backend loads the reference's trained weights, predicts and
   evaluates the same samples (`crossload_predictions.npz`, `crossload` in result.json).

Session settings: the notebook's own `session.start` cell runs, as in a timed run: the run's
`precision` (float32 by default: TF32 off on every backend, `session.apply_precision`) and the
compile options of the configuration the host asked for (`default`). On top of them parity asks
each framework for deterministic kernels, before the framework is imported, and reads the
float32 switches back before the first step and after the last (kernel.determinism). Timed runs
do not ask for determinism: a nondeterministic kernel sums in an order that changes from run to
run, which the tolerances allow for but which would make a difference found once impossible to
reproduce. result.json `session_settings` and kernel.json `backend_settings.determinism` record
all of it.

Kernel side: Python 3.6 syntax (the CNTK kernel).
"""

import csv
import json
import os
import sys
import traceback

import numpy as np

from kerasbench import plain, runfiles, studyfiles
from kerasbench.kernel import determinism

TRAIN_CELL_MARK = "training.fit("


class CannotJoin(Exception):
    """This backend cannot take part for this workload (the reason is the message)."""


def model_cells(notebook_path):
    """The notebook's code cells before the one that trains."""
    cells = plain.code_cells(notebook_path)
    for n, (_, source) in enumerate(cells):
        if TRAIN_CELL_MARK in source:
            return cells[:n]
    raise CannotJoin(
        "%s has no cell calling %s...): nothing to stop before" % (notebook_path, TRAIN_CELL_MARK)
    )


def build(notebook_path, parameters):
    """Runs the notebook up to training; returns its namespace (`model`, `data`, `run`...)."""
    namespace = {"__name__": "__main__"}
    for n, (index, source) in enumerate(model_cells(notebook_path)):
        exec(compile(source, "%s[cell %d]" % (notebook_path, index), "exec"), namespace)
        if n == 0:
            namespace.update(parameters)
    for name in ("model", "data"):
        if name not in namespace:
            raise CannotJoin("%s defines no `%s` before training" % (notebook_path, name))
    return namespace


# Layers and their weights, in layer order


def _all_layers(model):
    """Every layer, wrappers' inner layers and a custom layer's sublayers included (Keras'
    _flatten_layers where it has one: a Transformer block's Dropouts are inside the block)."""
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is not None:
        try:
            return [layer for layer in flatten(include_self=False, recursive=True)]
        except TypeError:
            pass
    found = []
    for layer in model.layers:
        found.append(layer)
        for attr in ("forward_layer", "backward_layer", "layer"):
            inner = getattr(layer, attr, None)
            if inner is not None and hasattr(inner, "get_weights") and inner is not layer:
                found.append(inner)
    return found


def layer_table(model):
    """[(index, name, class, [weight shapes])] for every layer of the model, in order."""
    return [
        (i, layer.name, type(layer).__name__, [list(w.shape) for w in layer.get_weights()])
        for i, layer in enumerate(model.layers)
    ]


def save_layers(model, path):
    """One group per layer (`layer_000`...), its weights as datasets `0`, `1`... in Keras' order,
    the layer's name and class as attributes: readable by h5py on both sides, any Keras."""
    import h5py

    with h5py.File(path + ".tmp", "w") as f:
        for i, name, cls, _ in layer_table(model):
            group = f.create_group("layer_%03d" % i)
            group.attrs["name"] = name
            group.attrs["class"] = cls
            for j, w in enumerate(model.layers[i].get_weights()):
                group.create_dataset(str(j), data=np.asarray(w))
    os.replace(path + ".tmp", path)


def load_layers(model, path):
    """Sets every layer's weights from save_layers' file by layer order, after checking that the
    layers line up (same count, same weight shapes): CannotJoin names the first that does not."""
    saved = studyfiles.read_layers(path)
    if len(saved) != len(model.layers):
        raise CannotJoin(
            "the model has %d layers here, %d in %s (layer structures differ)"
            % (len(model.layers), len(saved), os.path.basename(path))
        )
    for layer, (name, cls, arrays) in zip(model.layers, saved):
        shapes = [tuple(w.shape) for w in layer.get_weights()]
        if shapes != [tuple(a.shape) for a in arrays]:
            raise CannotJoin(
                "layer %s (%s) holds weights %s here but %s (%s) holds %s"
                % (
                    layer.name,
                    type(layer).__name__,
                    shapes,
                    name,
                    cls,
                    [tuple(a.shape) for a in arrays],
                )
            )
        if arrays:
            layer.set_weights(arrays)


def save_weights(model, folder, stem):
    """`<stem>.weights.h5` (Keras 3 only) and `<stem>.layers.h5` (both Kerases)."""
    from kerasbench.kernel import compat

    if compat.KERAS3:
        model.save_weights(os.path.join(folder, studyfiles.keras_weights_file(stem)))
    save_layers(model, os.path.join(folder, studyfiles.layers_file(stem)))


def load_weights(model, folder, stem):
    """Keras 3 reads the backend-neutral `.weights.h5`; Keras 2.3.1 the layer-ordered file."""
    from kerasbench.kernel import compat

    keras3_file = os.path.join(folder, studyfiles.keras_weights_file(stem))
    if compat.KERAS3 and os.path.exists(keras3_file):
        model.load_weights(keras3_file)
        return "keras .weights.h5"
    load_layers(model, os.path.join(folder, studyfiles.layers_file(stem)))
    return "layer order (.layers.h5)"


def perturb(model, layer_name, scale, seed=12345):
    """Tests only: adds scale x (the weight's std) x N(0, 1) noise to every weight of the layer
    named `layer_name`, as if it had been initialised differently on this backend. Returns the
    layer's name, or None where the model has no such layer (nothing changed)."""
    layers = [layer for layer in model.layers if layer.name == layer_name]
    if not layers:
        return None
    rng = np.random.RandomState(seed)
    # A weight initialised to constants (biases: zeros) is left alone: it has no spread to copy.
    layers[0].set_weights(
        [
            w + (scale * float(np.std(w)) * rng.standard_normal(w.shape)).astype(w.dtype)
            for w in layers[0].get_weights()
        ]
    )
    return layer_name


# Randomness that differs between backends: dropout


def without_dropout(model):
    """The model with every dropout rate 0; returns (model, [what was switched off]).

    Keras 3 reads a Dropout layer's rate when it traces the train step, so setting it suffices.
    Keras 2.3.1 built the dropout into its graph when the layer was called: there the model is
    cloned from its (now rate-0) configuration and compiled again with the same loss, loss weights,
    metrics and a fresh optimizer of the same configuration (nothing had trained yet).
    """
    from kerasbench.kernel import compat

    switched = []
    for layer in _all_layers(model):
        if "Dropout" in type(layer).__name__ and getattr(layer, "rate", 0):
            switched.append("%s.rate=%g" % (layer.name, layer.rate))
            layer.rate = 0.0
        cell = getattr(layer, "cell", None)
        for holder in (layer, cell):
            for attr in ("dropout", "recurrent_dropout"):
                value = getattr(holder, attr, None) if holder is not None else None
                if isinstance(value, (int, float)) and value > 0:
                    try:
                        setattr(holder, attr, 0.0)
                    except AttributeError:
                        continue  # Keras 3 LSTM layer: a read-only view of its cell's value
                    switched.append("%s.%s=%g" % (layer.name, attr, value))
    if switched and not compat.KERAS3:
        import keras

        clone = keras.models.clone_model(model)
        if not clone.built:  # a Sequential's clone drops its InputLayer: build it to that shape
            clone.build(model.input_shape)
        clone.set_weights(model.get_weights())
        optimizer = type(model.optimizer).from_config(model.optimizer.get_config())
        clone.compile(
            optimizer=optimizer,
            loss=model.loss,
            loss_weights=model.loss_weights,
            metrics=getattr(model, "_compile_metrics", None),
        )
        model = clone
    return model, switched


# Data


def _take(x, index):
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return [v[index] for v in x]
    if isinstance(x, dict):
        return dict((k, v[index]) for k, v in x.items())
    return x[index]


def _length(x):
    if isinstance(x, (list, tuple)):
        return len(x[0])
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    return len(x)


def batches(data, batch_size, steps):
    """The first `steps` full batches of the training arrays, in order, wrapping around."""
    n = _length(data.x_train)
    per_epoch = n // batch_size
    if per_epoch < 1:
        raise CannotJoin("%d training samples make no full batch of %d" % (n, batch_size))
    for step in range(steps):
        start = (step % per_epoch) * batch_size
        index = slice(start, start + batch_size)
        yield step, _take(data.x_train, index), _take(data.y_train, index)


def evaluation_set(data, batch_size, steps, samples):
    """The test set's first `samples`; a model without one (the text models) is evaluated on the
    training samples after the ones its `steps` batches used (the last ones if none are left)."""
    if data.x_test is not None:
        n = min(samples, _length(data.x_test))
        return _take(data.x_test, slice(0, n)), _take(data.y_test, slice(0, n)), "test"
    total = _length(data.x_train)
    start = min(steps * batch_size, total)
    if total - start < min(samples, total):
        start = max(0, total - samples)
    index = slice(start, min(total, start + samples))
    return (
        _take(data.x_train, index),
        _take(data.y_train, index),
        "training samples %d-%d (no test set)" % (index.start, index.stop),
    )


def _outputs(value):
    return (
        [np.asarray(v) for v in value] if isinstance(value, (list, tuple)) else [np.asarray(value)]
    )


def _first_loss(value):
    """train_on_batch's total loss: a scalar, or the first entry of [loss, metrics...]."""
    if isinstance(value, (list, tuple)):
        value = value[0]
    return float(np.asarray(value))


def build_on_one_batch(model, data, batch_size):
    """Builds a model that is not built yet (a subclassed model creates its weights when it
    first sees data) by calling it on the first training batch, so that its initial weights can
    be saved and loaded; returns True where it did. A built model is left as it is."""
    if getattr(model, "built", True):
        return False
    model(_take(data.x_train, slice(0, batch_size)))
    return True


def predict(model, x, batch_size):
    return _outputs(model.predict(x, batch_size=batch_size, verbose=0))


def evaluate(model, x, y, batch_size):
    from kerasbench.kernel import compat

    if compat.KERAS3:  # metrics_names there says `compile_metrics`, not the metric's name
        logs = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
        return dict((k, float(v)) for k, v in logs.items())
    values = model.evaluate(x, y, batch_size=batch_size, verbose=0)
    values = values if isinstance(values, (list, tuple)) else [values]
    names = list(getattr(model, "metrics_names", None) or ["loss"])
    logs = dict(zip(names, [float(v) for v in values]))
    if compat.backend_name() == "cntk":
        # Keras 2.3.1 on CNTK reports a metric one batch late (compat.exact_validation_metrics):
        # its running totals hold the whole pass.
        for metric in getattr(model, "metrics", None) or []:
            total, count = getattr(metric, "total", None), getattr(metric, "count", None)
            if getattr(metric, "name", None) in logs and total is not None and count is not None:
                seen = float(keras_value(count))
                if seen > 0:
                    logs[metric.name] = float(keras_value(total)) / seen
    return compat.normalize_logs(logs)


def keras_value(variable):
    import keras

    return keras.backend.get_value(variable)


def _save_npz(path, arrays):
    np.savez(path, **dict(("output_%d" % i, a) for i, a in enumerate(arrays)))


# The job


def depth(model):
    """D: the layers with weights of their own, a custom layer's sublayers counted one by one
    (a Transformer block is several matrix products deep, not one)."""
    leaves = [layer for layer in _all_layers(model) if layer.get_weights()]
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is None:
        return max(1, sum(1 for layer in model.layers if layer.get_weights()))
    own = [
        layer
        for layer in leaves
        if not any(sub.get_weights() for sub in layer._flatten_layers(include_self=False))
    ]
    return max(1, len(own))


def reduction_length(model, batch_size):
    """K: the longest sum one training step computes, for the host's tolerance.

    The larger of the widest fan-in of a weight matrix (Dense inputs, conv kernel_h x kernel_w x
    channels, LSTM inputs and units; embeddings are lookups, not sums) and batch x positions (a
    weight gradient sums over every sample and every spatial or time position its layer sees).
    """
    from kerasbench.kernel import compat

    fan_in = 1
    for layer in _all_layers(model):
        if "Embedding" in type(layer).__name__:
            continue
        for w in layer.get_weights():
            if w.ndim >= 2:
                fan_in = max(fan_in, int(np.prod(w.shape[:-1])))
    positions = 1
    for layer in model.layers:
        try:
            shape = layer.input.shape if compat.KERAS3 else layer.input_shape
        except (AttributeError, ValueError):
            continue
        shape = shape[0] if isinstance(shape, list) else shape
        dims = [int(d) for d in list(shape)[1:-1] if d is not None]
        if dims:
            positions = max(positions, int(np.prod(dims)))
    return max(fan_in, batch_size * positions)


def job_result(job, status, **more):
    """result.json: whose result it is (backend, workload, role), its status, then `more`."""
    result = {
        "backend": job["backend"],
        "workload": job["workload"],
        "role": job["role"],
        "status": status,
    }
    result.update(more)
    return result


def start_session(job, precision, result):
    """Deterministic kernels asked for, the notebook run up to training, the session settings
    read back into result["session_settings"]; returns (the notebook's namespace, the settings)."""
    backend = job["backend"]
    asked = determinism.make_deterministic(backend)
    namespace = build(job["notebook"], job["parameters"])
    import keras

    result["keras"] = keras.__version__
    settings = determinism.session_settings(namespace, backend, precision)
    settings["determinism"] = asked
    determinism.record_determinism(namespace, asked)
    settings["switches_before_training"] = determinism.check_precision(
        backend, precision, "before the first step"
    )
    settings["configuration"] = job.get("configuration", "")
    result["session_settings"] = settings
    return namespace, settings


def prepared_model(model, data, batch_size, result):
    """The model built (a subclassed one on the first batch), its dropout switched off, and
    described in `result` (layers, depth, reduction length, optimizer, parameter count)."""
    from kerasbench.kernel import compat

    result["built_on_one_batch"] = build_on_one_batch(model, data, batch_size)
    model, result["dropout_switched_off"] = without_dropout(model)
    result["layers"] = layer_table(model)
    result["weighted_layers"] = depth(model)
    result["reduction_length"] = reduction_length(model, batch_size)
    result["optimizer"] = type(model.optimizer).__name__
    result["batch_size"] = batch_size
    result["parameters"] = int(compat.count_params(model))
    return model


def initial_weights(model, job, result):
    """The reference saves its initial weights, every other backend loads them; a test's
    perturbation; then `weights_step0.layers.h5`, what the backend holds before its first step."""
    out = job["folder"]
    if job["role"] == "reference":
        save_weights(model, out, studyfiles.INITIAL_WEIGHTS)
        result["initial_weights"] = "built here, saved"
    else:
        result["initial_weights"] = "loaded by " + load_weights(
            model, job["reference_folder"], studyfiles.INITIAL_WEIGHTS
        )
    if job.get("perturb_layer") is not None:
        result["perturbed_layer"] = perturb(
            model, job["perturb_layer"], float(job.get("perturb_scale", 1.0))
        )
    save_layers(model, os.path.join(out, studyfiles.layers_file(studyfiles.WEIGHTS_STEP0)))


def train(model, data, batch_size, job):
    """`steps` batches, one train_on_batch each, the loss of each in losses.csv; then
    `weights_final.layers.h5`."""
    out = job["folder"]
    with open(os.path.join(out, studyfiles.PARITY_KERNEL_LOSSES), "w") as f:
        writer = csv.writer(f)
        writer.writerow(studyfiles.PARITY_KERNEL_LOSS_COLUMNS)
        for step, x, y in batches(data, batch_size, int(job["steps"])):
            loss = _first_loss(model.train_on_batch(x, y))
            writer.writerow([step, repr(loss)])
            f.flush()
    save_layers(model, os.path.join(out, studyfiles.layers_file(studyfiles.WEIGHTS_FINAL)))


def evaluate_and_crossload(model, data, batch_size, job, result):
    """Predictions and evaluate() on the evaluation samples; the reference saves its trained
    weights, every other backend then loads them and predicts and evaluates again (crossload)."""
    out = job["folder"]
    x_eval, y_eval, result["evaluated_on"] = evaluation_set(
        data, batch_size, int(job["steps"]), int(job["eval_samples"])
    )
    result["eval_samples"] = _length(x_eval)
    _save_npz(os.path.join(out, studyfiles.PREDICTIONS_NPZ), predict(model, x_eval, batch_size))
    result["evaluate"] = evaluate(model, x_eval, y_eval, batch_size)
    if job["role"] == "reference":
        save_weights(model, out, studyfiles.TRAINED_WEIGHTS)
        return
    result["crossload_weights"] = "loaded by " + load_weights(
        model, job["reference_folder"], studyfiles.TRAINED_WEIGHTS
    )
    _save_npz(
        os.path.join(out, studyfiles.CROSSLOAD_PREDICTIONS_NPZ),
        predict(model, x_eval, batch_size),
    )
    result["crossload"] = evaluate(model, x_eval, y_eval, batch_size)


def run_job(job):
    """One backend's side of a parity check (the module's docstring); returns result.json."""
    from kerasbench.kernel import compat

    result = job_result(job, "running")
    given = job["parameters"]
    precision = given.get("precision") or (given.get("params") or {}).get("precision") or "float32"
    namespace, settings = start_session(job, precision, result)
    # A model file's notebook holds its parameters in `params` (kernel/usermodel).
    batch_size = int(given.get("batch_size") or (given.get("params") or {})["batch_size"])
    model = prepared_model(namespace["model"], namespace["data"], batch_size, result)
    initial_weights(model, job, result)
    train(model, namespace["data"], batch_size, job)
    settings["switches_after_training"] = determinism.check_precision(
        job["backend"], precision, "during training"
    )
    evaluate_and_crossload(model, namespace["data"], batch_size, job, result)
    result["status"] = "ok"
    result["compile_options"] = compat.compile_options()
    return result


def read_job(path):
    with open(path) as f:
        return json.load(f)


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit("usage: python -m kerasbench.kernel.parity JOB_JSON")
    job = read_job(args[0])
    path = os.path.join(job["folder"], studyfiles.PARITY_RESULT_JSON)
    try:
        result = run_job(job)
    except determinism.SettingsNotApplied as e:
        result = job_result(job, "failed", reason="session settings: %s" % e)
    except CannotJoin as e:
        result = job_result(job, "cannot_join", reason=str(e))
    except Exception as e:  # the host reads the reason; the traceback goes to the log
        traceback.print_exc()
        result = job_result(job, "failed", reason="%s: %s" % (type(e).__name__, e))
    runfiles.write_json_atomic(path, result)
    print("parity %s on %s: %s" % (job["workload"], job["backend"], result["status"]))


if __name__ == "__main__":
    main()
