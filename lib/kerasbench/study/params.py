"""Parameter profiles: `params/<workload>.yaml`, validated strictly before anything trains.

The workload's notebook is the schema for names and types (its `parameters` cell, read with
papermill's own parser); the value rules below say what is possible. papermill only warns about
unknown parameters, so every key is checked here. Host side.
"""

import ast
import difflib
import io
import os

import papermill
import yaml

from kerasbench import registry
from kerasbench.errors import UserError

# Injected by the runner for every run; never set in a params file.
RUNNER_KEYS = ("backend", "run_dir", "seed", "data_dir")

# How a run is executed rather than what it trains: set by configurations (configs.yaml) and
# --set, never part of a workload's 2017 definition.
RUN_SETTINGS = (
    "precision",
    "steps_per_execution",
    "jit_compile",
    "data_on_device",
    "use_cudnn",
    "keras_patch",
    "batch_callbacks",
    "nan_at_epoch",
)

# What each dataset holds, for "subset larger than the dataset" (train, test; characters).
DATASET_SIZES = {"mnist": (60000, 10000), "imdb": (25000, 25000), "cifar10": (50000, 10000)}
NIETZSCHE_CHARS = 600893


class ParamError(UserError):
    pass


def _positive_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v > 0, "a positive integer"


def _non_negative_int(v):
    return isinstance(v, int) and not isinstance(
        v, bool
    ) and v >= 0, "an integer >= 0 (0 means all)"


def _fraction(v):
    return 0 <= v < 1, "a number in [0, 1)"


def _open_fraction(v):
    return 0 < v < 1, "a number in (0, 1)"


def _positive(v):
    return v > 0, "a number > 0"


def _non_negative(v):
    return v >= 0, "a number >= 0"


def _one_of(*choices):
    return lambda v: (v in choices, "one of " + ", ".join(repr(c) for c in choices))


def _int_list(v):
    return bool(v) and all(_positive_int(x)[0] for x in v), "a non-empty list of positive integers"


def _loss_weights(v):
    return len(v) == 2 and all(x >= 0 for x in v), "two numbers >= 0 (main head, auxiliary head)"


VALUE_RULES = {
    "epochs": _positive_int,
    "batch_size": _positive_int,
    "hidden_units": _positive_int,
    "lstm_units": _positive_int,
    "embedding_dim": _positive_int,
    "embedding_dims": _positive_int,
    "max_features": _positive_int,
    "maxlen": _positive_int,
    "step": _positive_int,
    "ngram_range": _positive_int,
    "steps_per_execution": _positive_int,
    "train_samples": _non_negative_int,
    "test_samples": _non_negative_int,
    "text_chars": _non_negative_int,
    "sample_chars": _non_negative_int,
    "dropout": _fraction,
    "width_shift": _fraction,
    "height_shift": _fraction,
    "rho": _open_fraction,
    "learning_rate": _positive,
    "temperature": _positive,
    "decay": _non_negative,
    "precision": _one_of("float32", "tf32", "mixed"),
    "jit_compile": _one_of("auto", True, False),
    "use_cudnn": _one_of("auto", True, False),
    "keras_patch": _one_of("", "jax-scan"),
    "dense_units": _int_list,
    "loss_weights": _loss_weights,
    "data_on_device": _one_of(True, False),
    "batch_callbacks": _one_of(True, False),
    "nan_at_epoch": _non_negative_int,
}


def notebook_parameters(workload):
    """Name -> default value of the notebook's `parameters` cell, in order."""
    declared = papermill.inspect_notebook(registry.notebook_path(workload))
    return {name: ast.literal_eval(p["default"]) for name, p in declared.items()}


def type_ok(value, default):
    """The type a value must have is the type of the notebook's default."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, list):
        return (
            isinstance(value, list) and all(type_ok(v, default[0]) for v in value)
            if default
            else isinstance(value, list)
        )
    return isinstance(value, type(default))


def _type_name(default):
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, list):
        return "a list of " + _type_name(default[0]) + "s" if default else "a list"
    return {float: "a number", int: "an integer", str: "a string"}.get(type(default), "a value")


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error: YAML requires
    unique keys, and PyYAML would silently keep the last (a second `smoke:` block)."""


def _unique_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.setdefault(key, key_node.start_mark.line)
        except TypeError:  # an unhashable key: construct_mapping says so
            continue
        if first != key_node.start_mark.line:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "%r is given twice (lines %d and %d)"
                % (key, first + 1, key_node.start_mark.line + 1),
                key_node.start_mark,
            )
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_yaml(path, shown):
    """A YAML file's content; one line for anything malformed: not UTF-8, not YAML, a key twice."""
    try:
        with io.open(path, encoding="utf-8") as f:
            return yaml.load(f, Loader=_UniqueKeyLoader)
    except UnicodeDecodeError as e:
        raise ParamError(
            "%s: not UTF-8 text (byte %d is 0x%02x)" % (shown, e.start, e.object[e.start])
        )
    except OSError as e:
        raise ParamError("%s: cannot be read (%s)" % (shown, e.strerror or e))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = " (line %d)" % (mark.line + 1) if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ParamError("%s: not valid YAML%s: %s" % (shown, where, problem))


def read_file(workload, path=None):
    """The parsed YAML: {profile: {key: value}}; one-line errors for anything malformed."""
    path = path or registry.params_path(workload)
    shown = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path
    if not os.path.exists(path):
        raise ParamError("%s: parameter file not found" % shown)
    data = load_yaml(path, shown)
    if not isinstance(data, dict):
        raise ParamError(
            "%s: must map profile names (%s) to parameters" % (shown, ", ".join(registry.PROFILES))
        )
    for profile, values in data.items():
        if profile not in registry.PROFILES:
            raise ParamError(
                "%s: unknown profile %r (profiles: %s)"
                % (shown, profile, ", ".join(registry.PROFILES))
            )
        if not isinstance(values, dict):
            raise ParamError("%s: profile %r must map parameter names to values" % (shown, profile))
    if "full" not in data:
        raise ParamError("%s: has no `full` profile" % shown)
    return shown, data


# Keys whose rule lists every allowed value, of mixed types ("auto" or a bool): the rule is the
# type check (the notebook's default, a string, would reject True).
CHOICE_KEYS = ("precision", "jit_compile", "use_cudnn", "data_on_device", "keras_patch")


def _check_value(where, key, value, default):
    if key not in CHOICE_KEYS and not type_ok(value, default):
        raise ParamError("%s.%s: must be %s, got %r" % (where, key, _type_name(default), value))
    rule = VALUE_RULES.get(key)
    if rule is not None:
        ok, expected = rule(value)
        if not ok:
            raise ParamError("%s.%s: must be %s, got %r" % (where, key, expected, value))
    if isinstance(default, float) and isinstance(value, int):
        return float(value)
    return value


def _check_sizes(where, workload, values):
    """Cross-key rules: subsets within the dataset, at least one batch."""
    datasets = registry.WORKLOADS[workload].datasets
    for dataset in datasets:
        if dataset in DATASET_SIZES:
            for key, size in zip(("train_samples", "test_samples"), DATASET_SIZES[dataset]):
                if values.get(key, 0) > size:
                    raise ParamError(
                        "%s.%s: %d is more than the %d examples %s has"
                        % (where, key, values[key], size, dataset)
                    )
    if "nietzsche" in datasets:
        chars = values.get("text_chars", 0)
        if chars > NIETZSCHE_CHARS:
            raise ParamError(
                "%s.text_chars: %d is more than the %d characters of nietzsche.txt"
                % (where, chars, NIETZSCHE_CHARS)
            )
        if 0 < chars <= values["maxlen"] + values["step"]:
            raise ParamError(
                "%s.text_chars: %d leaves no window of maxlen %d" % (where, chars, values["maxlen"])
            )
    train = values.get("train_samples")
    if train and values["batch_size"] > train:
        raise ParamError(
            "%s.batch_size: %d is more than train_samples (%d): no full batch"
            % (where, values["batch_size"], train)
        )


def check_backend(where, workload, backend, values):
    """Rules that depend on the backend, before anything trains (one line each)."""
    if backend == "torch" and values.get("steps_per_execution", 1) > 1:
        raise ParamError(
            "%s.steps_per_execution: must be 1 on torch (Keras 3's PyTorch trainer "
            "runs one batch per call), got %d" % (where, values["steps_per_execution"])
        )
    if values.get("keras_patch"):
        if backend != "jax":
            raise ParamError(
                "%s.keras_patch: %r patches Keras 3's JAX trainer, not %s"
                % (where, values["keras_patch"], backend)
            )
        if values.get("steps_per_execution", 1) < 2:
            raise ParamError(
                "%s.keras_patch: %r changes how steps_per_execution runs: set it "
                "above 1" % (where, values["keras_patch"])
            )
    if backend == "cntk":
        if values.get("precision") == "mixed":
            raise ParamError(
                "%s.precision: 'mixed' needs Keras 3's mixed_float16 policy; Keras "
                "2.3.1 on CNTK has none" % where
            )
        if values.get("steps_per_execution", 1) > 1:
            raise ParamError(
                "%s.steps_per_execution: Keras 2.3.1 (cntk) has no "
                "steps_per_execution, got %d" % (where, values["steps_per_execution"])
            )
    return values


def resolve(workload, profile, path=None, overrides=None):
    """The complete, validated parameters of one workload in one profile (runner keys excluded).

    `full` is the base; `quick` and `smoke` override it; `overrides` (from the command line)
    override the profile. Keys absent everywhere keep the notebook's default.
    """
    if workload not in registry.WORKLOADS:
        raise ParamError(
            "unknown workload %r (workloads: %s)" % (workload, ", ".join(registry.WORKLOADS))
        )
    if profile not in registry.PROFILES:
        raise ParamError(
            "unknown profile %r (profiles: %s)" % (profile, ", ".join(registry.PROFILES))
        )
    shown, data = read_file(workload, path)
    defaults = notebook_parameters(workload)
    settable = [k for k in defaults if k not in RUNNER_KEYS]
    values = {k: defaults[k] for k in settable}
    layers = [("full", data.get("full") or {})]
    if profile != "full":
        layers.append((profile, data.get(profile) or {}))
    if overrides:
        layers.append(("override", overrides))
    for layer, given in layers:
        where = "%s: %s" % (shown, layer)
        for key, value in given.items():
            if key not in settable:
                hint = difflib.get_close_matches(str(key), settable, n=1)
                reason = (
                    "is set by the runner"
                    if key in RUNNER_KEYS
                    else "is not a parameter of notebooks/%s.ipynb%s"
                    % (workload, " (did you mean %r?)" % hint[0] if hint else "")
                )
                raise ParamError("%s.%s: %s" % (where, key, reason))
            values[key] = _check_value(where, key, value, defaults[key])
    _check_sizes("%s: %s" % (shown, profile), workload, values)
    return values


def profile_epochs(workload, profile):
    """The epochs the project's params file gives a built-in workload in a profile (its own
    value, else `full`'s); None for a model file or where the file says none."""
    if workload not in registry.WORKLOADS or profile not in registry.PROFILES:
        return None
    _, data = read_file(workload)
    epochs = (data.get(profile) or {}).get("epochs", data["full"].get("epochs"))
    return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None


CONFIGS_FILE = "configs.yaml"


def read_configs(params_dir=None):
    """Named configurations from params/configs.yaml: {label: {backend: {key: value}}}."""
    path = os.path.join(params_dir or registry.PARAMS_DIR, CONFIGS_FILE)
    if not os.path.exists(path):
        return {}
    data = load_yaml(path, path) or {}
    if not isinstance(data, dict):
        raise ParamError("%s: expected configuration labels at the top level" % path)
    for label, per_backend in data.items():
        per_backend = per_backend or {}
        if not isinstance(per_backend, dict):
            raise ParamError("%s: %s: expected backends with their settings" % (path, label))
        for backend, settings in per_backend.items():
            if backend not in registry.BACKENDS:
                raise ParamError(
                    "%s: %s.%s: unknown backend (backends: %s)"
                    % (path, label, backend, ", ".join(registry.BACKENDS))
                )
            if not isinstance(settings or {}, dict):
                raise ParamError("%s: %s.%s: expected KEY: VALUE settings" % (path, label, backend))
        data[label] = {b: dict(v or {}) for b, v in per_backend.items()}
    return data


def config_settings(configs, label, backend):
    """The settings a named configuration gives one backend ({} for a free label)."""
    return dict(configs.get(label, {}).get(backend, {}))


def parse_override(text):
    """`key=value` from the command line; the value is read as YAML (numbers, true, lists)."""
    if "=" not in text:
        raise ParamError("--set %s: expected KEY=VALUE" % text)
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ParamError("--set %s: %r is not a valid value" % (text, raw))
    return key.strip(), value


def check_value(where, key, value, default):
    """One value against the type of its notebook default and the value rules (model files'
    run settings, study.usermodel); returns it (an int given for a float default as a float)."""
    return _check_value(where, key, value, default)
