"""Where a run lives and what its path says it is: the run folder's path rules.

    <out>/runs/<workload>/<backend>/<repeat>        the default configuration
    <out>/runs/<workload>/<backend>/<config>-<repeat>

A run is what its folder says it is: its identity (workload, backend, configuration, repeat) is
its path (`path_identity`, the inverse of `run_folder`), and a run.json that names another run is
no record of this folder (`identity_problem`). A name `run_folder` never gives ("0 copy", "00",
"default-0") is no run folder's. Part of `runfiles` (which owns the run folder's format and
offers these names too). Ground floor: standard library only, Python 3.6 syntax.
"""

import os

RUNS = "runs"  # <out>/runs/...
DEFAULT_CONFIG = "default"


def run_folder(out, workload, backend, config, repeat):
    """<out>/runs/<workload>/<backend>/<repeat>, or .../<config>-<repeat> for a named config."""
    return os.path.join(out, RUNS, workload, backend, run_name(config, repeat))


def run_name(config, repeat):
    """A run folder's own name: "<repeat>" for the default configuration, "<config>-<repeat>"."""
    return str(repeat) if config == DEFAULT_CONFIG else "%s-%d" % (config, repeat)


def is_config_name(text):
    """A configuration label names a folder: letters, digits, '_' and '-', not only digits."""
    return bool(text) and all(c.isalnum() or c in "_-" for c in text) and not text.isdigit()


def parse_run_name(name):
    """(config, repeat) that a run folder's name spells, or None where `name` is not a name
    run_folder gives: "0 copy", "00", "default-0", "tuned-" are not run folders' names."""
    config, dash, number = name.rpartition("-")
    if not dash:
        config = DEFAULT_CONFIG
    if not number or any(c not in "0123456789" for c in number) or not is_config_name(config):
        return None
    repeat = int(number)
    return (config, repeat) if run_name(config, repeat) == name else None


def path_identity(folder):
    """(workload, backend, config, repeat) that a run folder's path says it is:
    .../<workload>/<backend>/<repeat> or .../<config>-<repeat>; None where its last part is not a
    run folder's name (parse_run_name). A run is what its folder says it is: read_run holds its
    run.json to this."""
    folder = os.path.normpath(folder)
    parsed = parse_run_name(os.path.basename(folder))
    backend_dir = os.path.dirname(folder)
    backend, workload = (
        os.path.basename(backend_dir),
        os.path.basename(os.path.dirname(backend_dir)),
    )
    if parsed is None or not backend or not workload:
        return None
    return (workload, backend) + parsed


def identity_problem(record, identity):
    """The one line that says a run.json is not the record of the run `identity` names
    ((workload, backend, config, repeat): the folder it lies in), or None where it is."""
    said = (
        record.get("workload"),
        record.get("backend"),
        record.get("config") or DEFAULT_CONFIG,
        record.get("repeat"),
    )
    if said == tuple(identity):
        return None
    workload, backend, config, repeat = said
    try:
        name = "/".join((str(workload), str(backend), run_name(str(config), int(repeat))))
    except (TypeError, ValueError):
        name = "workload %r, backend %r, config %r, repeat %r" % said
    return (
        "run.json is the record of %s, not of the folder it is in (%s): a run folder renamed, "
        "moved or copied" % (name, "/".join((identity[0], identity[1], run_name(*identity[2:]))))
    )
