"""Your own model in the study: `kerasbench run --workloads path/to/my_model.py` (host side).

A model file is a keras-io style script that defines, at its top level:

    PARAMS = {"full": {"epochs": 10, "batch_size": 32, ...}, "quick": {...}, "smoke": {...}}
    def load_data(params, data_dir): ... return (x_train, y_train), (x_test, y_test)
    def build_model(params): ... return model  # compiled; or build_model(params, data)
    BACKENDS = ["tensorflow"]  # optional: the backends its model runs on (default: every one)

PARAMS is read here without running the file (the host never imports Keras, and the file does):
it must be a literal dict, checked like params/*.yaml: `full` is required and must set `epochs`
and `batch_size` (positive integers); `quick` and `smoke` list only what differs from `full`
(a missing profile is `full`), with keys of `full` only and values of the same type. The file's
own keys are checked by type only (their meaning is the file's); `generated` (true or false, in
any profile) says the file makes its data up. A mistake is one line naming the file. The runs are
filed under the file's name (its stem), and run through notebooks/user_model.ipynb like any
workload's notebook, with `model_fingerprint` (`fingerprint`: the file and what it imports from
its own folder; a changed file is another plan) and, where the file declares BACKENDS,
`model_backends` (the plan leaves the other backends out, saying so in one line).
"""

import ast
import collections
import difflib
import hashlib
import io
import os
import tokenize

from kerasbench import registry
from kerasbench.errors import UserError, one_line
from kerasbench.study import params

REQUIRED_FUNCTIONS = ("load_data", "build_model")
REQUIRED_KEYS = ("epochs", "batch_size")
GENERATED = "generated"  # a PARAMS key, in any profile: true when the file makes its data up
# Notebook parameters the runner derives from the file (never --set).
FILE_KEYS = ("model_file", "profile", "params", "model_fingerprint", "model_backends")

# What read() finds in a file: its path as shown, its PARAMS, its BACKENDS (None: any backend).
ModelFile = collections.namedtuple("ModelFile", "shown profiles backends")


class ModelFileError(UserError):
    pass


def is_model_file(token):
    """A --workloads entry that names a file rather than a built-in workload."""
    return token.endswith(".py") or os.sep in token or "/" in token


def name(path):
    """The runs' folder name: the file's stem."""
    return os.path.splitext(os.path.basename(path))[0]


def _shown(path):
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


def _literal_params(path, tree, shown):
    found = None
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
        if "PARAMS" in targets:
            found = node
    if found is None or found.value is None:
        raise ModelFileError(
            "%s: defines no PARAMS dict (profiles: full at least, with epochs "
            "and batch_size)" % shown
        )
    try:
        value = ast.literal_eval(found.value)
    except ValueError:
        raise ModelFileError(
            "%s: line %d: PARAMS must be a literal dict (numbers, strings, "
            "lists, true/false; no names or calls)" % (shown, found.lineno)
        )
    if not isinstance(value, dict):
        raise ModelFileError(
            "%s: line %d: PARAMS must be a dict of profiles (%s)"
            % (shown, found.lineno, ", ".join(registry.PROFILES))
        )
    return value


def _literal_backends(tree, shown):
    """The file's BACKENDS (a literal list of backend names), or None where it defines none."""
    found = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "BACKENDS" for t in node.targets
        ):
            found = node
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "BACKENDS"
        ):
            found = node
    if found is None or found.value is None:
        return None
    known = ", ".join(registry.BACKENDS)
    try:
        value = ast.literal_eval(found.value)
    except ValueError:
        value = None
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(b, str) and b in registry.BACKENDS for b in value)
    ):
        raise ModelFileError(
            "%s: line %d: BACKENDS must be a literal list of the backends its model runs on "
            '(of %s), e.g. ["tensorflow"]' % (shown, found.lineno, known)
        )
    return list(dict.fromkeys(value))


def _same_type(value, like):
    """A value of a file's own key has the type of its `full` value (params.type_ok), but any
    value where that is None, and any list where that is a list (the items are the file's)."""
    if like is None:
        return True
    if isinstance(like, list):
        return isinstance(value, list)
    return params.type_ok(value, like)


def _check_value(where, key, value):
    """The contract's keys: epochs and batch_size positive integers, `generated` true or false.
    The file's own keys are its own: their type is checked (against `full`), not their value."""
    if key in REQUIRED_KEYS:
        rule = params.VALUE_RULES[key]
        try:
            ok, expected = rule(value)
        except TypeError:
            ok, expected = False, rule(1)[1]
        if not ok:
            raise ModelFileError("%s.%s: must be %s, got %r" % (where, key, expected, value))
    elif key == GENERATED and not isinstance(value, bool):
        raise ModelFileError(
            "%s.%s: must be true or false (true: the file makes its data up), got %r"
            % (where, key, value)
        )


def read(path):
    """A model file's ModelFile (shown path, {profile: {key: value}}, BACKENDS or None),
    checked; one-line errors."""
    shown = _shown(path)
    tree = _parse(path, shown)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for function in REQUIRED_FUNCTIONS:
        if function not in defined:
            raise ModelFileError(
                "%s: defines no function %s(params%s)"
                % (shown, function, ", data_dir" if function == "load_data" else "")
            )
    profiles = _literal_params(path, tree, shown)
    _check_profiles(profiles, shown)
    return ModelFile(shown, profiles, _literal_backends(tree, shown))


def _parse(path, shown):
    """The file's syntax tree: a Python file (.py) whose name is not a built-in workload's and
    is an identifier (its runs are filed under it), readable, decoded as Python would."""
    if not os.path.exists(path):
        raise ModelFileError("%s: model file not found" % shown)
    if os.path.isdir(path):
        raise ModelFileError("%s: is a folder; a model file is a Python file (.py)" % shown)
    if not path.endswith(".py"):
        raise ModelFileError("%s: a model file is a Python file (.py)" % shown)
    stem = name(path)
    if stem in registry.WORKLOADS:
        raise ModelFileError(
            "%s: its name clashes with the built-in workload %s: rename the file "
            "(its runs are filed under the file's name)" % (shown, stem)
        )
    if not stem.isidentifier():
        raise ModelFileError(
            "%s: name the file with letters, digits and _ (its runs are filed "
            "under that name)" % shown
        )
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as e:
        raise ModelFileError("%s: cannot be read (%s)" % (shown, e.strerror or e))
    try:
        # Python's own rules: UTF-8, or the encoding the file's coding line names.
        encoding = tokenize.detect_encoding(io.BytesIO(source).readline)[0]
        source = source.decode(encoding)
    except (SyntaxError, UnicodeDecodeError) as e:
        if "unknown encoding" in str(e):  # a coding line naming no codec
            raise ModelFileError("%s: %s" % (shown, one_line(e)))
        raise ModelFileError(
            "%s: not UTF-8 text, and no coding line names its encoding: save it as UTF-8, or "
            "declare its encoding (# -*- coding: latin-1 -*- on line 1 or 2)" % shown
        )
    try:
        return ast.parse(source, path)
    except SyntaxError as e:
        where = "line %s: " % e.lineno if e.lineno else ""
        raise ModelFileError("%s: %s%s" % (shown, where, e.msg))
    except ValueError as e:  # a NUL byte (before Python 3.12)
        raise ModelFileError("%s: not Python source (%s)" % (shown, one_line(e)))


def _check_profiles(profiles, shown):
    """PARAMS against the contract (the module's docstring): known profiles of parameter dicts,
    `full` with epochs and batch_size, the others with keys of `full` of the same types, no
    runner key; one line naming the first mistake."""
    for profile, values in profiles.items():
        if profile not in registry.PROFILES:
            raise ModelFileError(
                "%s: PARAMS: unknown profile %r (profiles: %s)"
                % (shown, profile, ", ".join(registry.PROFILES))
            )
        if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
            raise ModelFileError(
                "%s: PARAMS[%r] must map parameter names to values" % (shown, profile)
            )
    if "full" not in profiles:
        raise ModelFileError("%s: PARAMS has no `full` profile" % shown)
    full = profiles["full"]
    for key in REQUIRED_KEYS:
        if key not in full:
            raise ModelFileError("%s: PARAMS['full'] must set %s" % (shown, key))
    for profile, values in profiles.items():
        where = "%s: PARAMS[%r]" % (shown, profile)
        for key, value in values.items():
            if key in params.RUNNER_KEYS or key in params.RUN_SETTINGS:
                raise ModelFileError(
                    "%s.%s: is set by the runner (--set or params/configs.yaml), "
                    "not by the model file" % (where, key)
                )
            if profile != "full" and key != GENERATED:
                if key not in full:
                    hint = difflib.get_close_matches(key, list(full), n=1)
                    raise ModelFileError(
                        "%s.%s: not in PARAMS['full']%s"
                        % (where, key, " (did you mean %r?)" % hint[0] if hint else "")
                    )
                if not _same_type(value, full[key]):
                    raise ModelFileError(
                        "%s.%s: must be of the type of PARAMS['full'].%s (%r), "
                        "got %r" % (where, key, key, full[key], value)
                    )
            _check_value(where, key, value)


def _local_imports(source, path):
    """The top-level names a Python file imports (anywhere in it, absolute imports only)."""
    try:
        tree = ast.parse(source, path)
    except (SyntaxError, ValueError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.split(".")[0])
    return names


def _package_files(folder):
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".py"))
    return found


def fingerprint(path):
    """'sha256:<16 hex digits>' of the model file's content and of every Python file it imports
    from its own folder (a module beside it, or every .py file of a package there), followed
    through their imports: the same text, the same fingerprint; a changed layer width, another.
    Names and contents both count (a file renamed inside the folder is a change too)."""
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    seen = {}
    todo = [path]
    while todo:
        current = todo.pop()
        rel = os.path.relpath(current, folder)
        if rel in seen:
            continue
        try:
            with open(current, "rb") as f:
                seen[rel] = f.read()
        except OSError as e:
            raise ModelFileError("%s: cannot be read (%s)" % (_shown(current), e.strerror or e))
        for top in _local_imports(seen[rel], current):
            module, package = os.path.join(folder, top + ".py"), os.path.join(folder, top)
            if os.path.isfile(module):
                todo.append(module)
            elif os.path.isdir(package):
                todo.extend(_package_files(package))
    digest = hashlib.sha256()
    for rel in sorted(seen):
        digest.update(rel.replace(os.sep, "/").encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(seen[rel]).digest())
    return "sha256:" + digest.hexdigest()[:16]


def backends_for(path, backends):
    """(the backends of `backends` the file runs on, one line saying which are skipped or None).
    A file whose BACKENDS leaves none of them is a one-line error."""
    found = read(path)
    if found.backends is None:
        return list(backends), None
    kept = [b for b in backends if b in found.backends]
    skipped = [b for b in backends if b not in found.backends]
    only = " and ".join(found.backends)
    if not kept:
        raise ModelFileError(
            "%s: runs on %s only (its BACKENDS), and the backends asked for are %s: "
            "nothing of it would run" % (found.shown, only, ", ".join(backends))
        )
    if not skipped:
        return kept, None
    return kept, "%s: runs on %s only (its BACKENDS): %s skipped" % (
        found.shown,
        only,
        " and ".join(skipped),
    )


def resolve(path, profile, overrides=None):
    """The notebook parameters of one run of a model file (runner keys excluded): the run
    settings of notebooks/user_model.ipynb, `model_file` (absolute), `profile`, `params` (the
    file's PARAMS[profile] over PARAMS['full'] with --set overrides of its keys),
    `model_fingerprint` and, where the file declares BACKENDS, `model_backends`."""
    if profile not in registry.PROFILES:
        raise ModelFileError(
            "unknown profile %r (profiles: %s)" % (profile, ", ".join(registry.PROFILES))
        )
    shown, profiles, backends = read(path)
    defaults = params.notebook_parameters(registry.USER_NOTEBOOK)
    values = {
        k: v for k, v in defaults.items() if k not in params.RUNNER_KEYS and k not in FILE_KEYS
    }
    resolved = dict(profiles["full"])
    if profile != "full":
        resolved.update(profiles.get(profile) or {})
    for key, value in (overrides or {}).items():
        where = "%s: override" % shown
        if key in values:
            # Run settings are checked as for every workload, against the notebook's defaults.
            values[key] = params.check_value(where, key, value, defaults[key])
        elif key in resolved:
            if not _same_type(value, resolved[key]):
                raise ModelFileError(
                    "%s.%s: must be of the type of PARAMS['full'].%s (%r), got %r"
                    % (where, key, key, resolved[key], value)
                )
            _check_value(where, key, value)
            resolved[key] = value
        else:
            hint = difflib.get_close_matches(key, list(resolved) + list(values), n=1)
            raise ModelFileError(
                "%s.%s: is neither in the file's PARAMS nor a run setting%s"
                % (where, key, " (did you mean %r?)" % hint[0] if hint else "")
            )
    values.update(
        model_file=os.path.abspath(path),
        profile=profile,
        params=resolved,
        model_fingerprint=fingerprint(path),
    )
    if backends is not None:
        values["model_backends"] = backends
    return values


def parse_workloads(text):
    """`all`, or built-in names and model files, comma-separated, in the order given."""
    if text in (None, "", "all"):
        return list(registry.WORKLOADS)
    tokens = [t.strip() for t in text.split(",") if t.strip()]
    if not tokens:
        raise UserError(
            "--workloads %r names no workload (workloads: %s, or all)"
            % (text, ", ".join(registry.WORKLOADS))
        )
    names = []
    for token in tokens:
        if is_model_file(token):
            read(token)  # one line now, before anything else is checked
            names.append(name(token))
        elif token not in registry.WORKLOADS:
            raise UserError(
                "unknown workload %r (workloads: %s, or a model file: "
                "path/to/my_model.py)" % (token, ", ".join(registry.WORKLOADS))
            )
        else:
            names.append(token)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(
            "workload listed twice in %r: %s (a model file is named by its file's "
            "name)" % (text, ", ".join(twice))
        )
    return tokens
