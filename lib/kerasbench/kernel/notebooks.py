"""The notebooks, written from one template.

    python -m kerasbench.kernel.notebooks           # writes notebooks/<workload>.ipynb
    python -m kerasbench.kernel.notebooks --check   # says which differ, exit 1 if any

`notebooks/<workload>.ipynb`, for every workload of the registry, is made from its module's
header, read without importing it (no Keras needed): its keras-io style docstring (`Title:`,
`Description:`, `Shows:`, then paragraphs: what the notebook says first), `PARAMETERS` (the
workload's own parameters as the parameters cell declares them, `name = value  # comment`, the
values the `smoke` profile's) and the signatures of `load_data`, `build_model` and, where the
module has them, `train_batches` (batches to train from) and `generate` (text sampled after
training). The parameters cell holds the run's settings (`kernel.settings.RUN_PARAMETERS`), the
data set's subset parameters (SUBSETS), then PARAMETERS. Every argument of those functions is
given the notebook's name of the same name: a parameter, or what an earlier cell made (`data`,
`model`, and the names `build_model` takes without a default, which `load_data` returns after
`data`), except `source`, which is given `run.data_source` (the run's data folder, whether
generated data may stand in, its seed); an argument with a default is passed by keyword.
`tests/test_notebooks.py` holds every workload module to this and the committed notebooks to
what this writes. `notebooks/user_model.ipynb` (a model file in the study) is written by the
same template from `USER_MODEL` below.

Kernel side: Python 3.6 syntax, standard library only.
"""

import ast
import collections
import io
import json
import os
import re
import sys
import textwrap

from kerasbench import registry
from kerasbench.kernel.settings import RUN_PARAMETERS

WIDTH = 99  # a code line's longest (the repository's line length, less one)

SETUP_NOTE = (
    "Takes the backend the kernel runs (a `backend` parameter naming another one stops here), "
    "checks the parameters, seeds everything, pins the float precision and records versions and "
    "hardware in `kernel.json`. The data folder is found as `kerasbench run` finds it: "
    "`data_dir`, else `$KERASBENCH_DATA`, else `~/.keras/datasets`."
)
HOW_TO_RUN = (
    "Run it with `kerasbench run --workloads %(name)s`; by hand with papermill "
    "(`papermill notebooks/%(name)s.ipynb out.ipynb -k kerasbench-jax -p run_dir RUN_DIR`) or in "
    "Jupyter with a `kerasbench-<backend>` kernel: the kernel fixes the backend, and the run folder "
    "gets its `run.json` as under `kerasbench run`."
)
TRAIN_NOTE = {
    False: "The test set is the validation data, as in 2017; every epoch goes to `epochs.csv`.",
    True: "There is no test set, as in 2017: the training loss is what is logged; every epoch "
    "goes to `epochs.csv`.",
}
SAMPLE_NOTE = "After training, untimed, as the 2017 script did."

# The subset of each data set a run trains on, after the run's settings: (name, value, comment).
SUBSETS = {
    "mnist": (
        ("train_samples", 512, "training examples, first N; 0 means all 60,000"),
        ("test_samples", 256, "test examples, first N; 0 means all 10,000"),
    ),
    "imdb": (
        (
            "train_samples",
            256,
            "training reviews, first N after Keras' shuffle; 0 means all 25,000",
        ),
        ("test_samples", 128, "test reviews, first N; 0 means all 25,000"),
    ),
    "cifar10": (
        (
            "train_samples",
            320,
            "training examples, first N; 0 means all 50,000 (steps: N // batch_size)",
        ),
        ("test_samples", 160, "test examples, first N; 0 means all 10,000"),
    ),
    "nietzsche": (
        ("text_chars", 4000, "characters of the corpus, first N; 0 means all 600,893"),
        ("maxlen", 40, "characters per input window"),
        ("step", 3, "characters between window starts"),
    ),
}

# notebooks/user_model.ipynb: a model file (`kerasbench run --workloads path/to/my_model.py`).
# Its run settings are the workloads' but `allow_generated` (the file's PARAMS say `generated`),
# with these comments.
USER_COMMENTS = {
    "run_dir": "folder for epochs.csv, kernel.json and run.json",
    "data_dir": 'data folder given to load_data; "" means $KERASBENCH_DATA, else ~/.keras/datasets',
    "steps_per_execution": "Keras 3: other than 1 (a configuration's), it replaces the file's own "
    "compile option",
    "jit_compile": 'Keras 3: other than "auto", it replaces the file\'s own compile option',
    "use_cudnn": 'Keras 3 LSTMs built with compat.lstm: "auto", True or False; Keras 2.3.1 '
    "ignores it",
}
USER_MODEL = {
    "title": "Your model",
    "introduction": (
        "Runs a model file in the study: `kerasbench run --workloads path/to/my_model.py` "
        "(mixable with the built-in workloads). The file defines `PARAMS` (profiles `full`, and "
        "optionally `quick` and `smoke`, each with `epochs` and `batch_size`), "
        "`load_data(params, data_dir)` returning `(x_train, y_train), (x_test, y_test)` (NumPy "
        "arrays, lists or dicts of them; a y may be None), and `build_model(params)` or "
        "`build_model(params, data)` returning a compiled Keras model; optionally `BACKENDS`, "
        "the backends its model runs on. Its runs are filed under the file's name; the test set "
        "is the validation data, as for every workload. See `examples/` and the README's \"Your "
        'own model".'
    ),
    "how_to_run": (
        "Open it in Jupyter with a `kerasbench-<backend>` kernel (the kernel fixes the backend) "
        "and run all cells to train `model_file` in its `profile`."
    ),
    "parameters": tuple(
        (name, value, USER_COMMENTS.get(name, comment))
        for name, value, comment in RUN_PARAMETERS
        if name != "allow_generated"
    )
    + (
        (
            "model_file",
            "../examples/imdb_transformer.py",
            "the model file (relative to this notebook)",
        ),
        ("profile", "smoke", 'which PARAMS profile, over PARAMS["full"], when params is empty'),
        (
            "params",
            {},
            "the resolved parameters (the runner passes them); {} means PARAMS[profile]",
        ),
        (
            "model_fingerprint",
            "",
            "the runner's: sha256 of the file and of what it imports from its folder",
        ),
        ("model_backends", [], "the runner's: the file's BACKENDS ([]: every backend)"),
    ),
    "setup_note": SETUP_NOTE
    + " Then the model file is imported, with Keras' home at the data folder "
    "(`keras.datasets.*.load_data()` reads the files there).",
    "setup": (
        "from kerasbench.kernel import session, training, usermodel\n\n"
        "run = session.start(usermodel.name(model_file), globals())\n"
        "module = usermodel.load(model_file, run.settings.data_dir, run.backend, model_backends)\n"
        "values = usermodel.parameters(module, profile, params)"
    ),
    "data": "data = usermodel.load_data(module, values, run.settings.data_dir)\nrun.record_data(data)",
    "model_note": (
        "`build_model` gets the data too where it takes a second argument; a configuration's\n"
        "`steps_per_execution` and `jit_compile` replace the file's own (`kernel.json` records "
        "what the\nmodel trained with: `backend_settings.model_compile`)."
    ),
    "model": "model = usermodel.build_model(module, values, data, run)\nmodel.summary()",
    "train_note": "The test set is the validation data; every epoch goes to `epochs.csv`.",
    "train": (
        'history = training.fit(run, model, data, epochs=values["epochs"], '
        'batch_size=values["batch_size"])'
    ),
}


# What an argument of these names is given, where it is not the notebook's name of the same name.
GIVEN = {"source": "run.data_source"}


class HeaderError(ValueError):
    """A workload module lacks what its notebook is written from (the reason is the message)."""


# Reading a workload module's header (never importing it)


def module_path(workload):
    return os.path.join(registry.ROOT, "lib", *registry.module_name(workload).split(".")) + ".py"


Signature = collections.namedtuple("Signature", "name required optional")


def read_header(workload):
    """{title, introduction, parameters, functions: {name: Signature}} from the module's source;
    HeaderError names what is missing."""
    path = module_path(workload)
    with io.open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    where = os.path.relpath(path, registry.ROOT)
    fields, paragraphs = docstring_fields(ast.get_docstring(tree) or "")
    for name in ("Title", "Description", "Shows"):
        if not fields.get(name):
            raise HeaderError("%s: its docstring has no `%s:` line" % (where, name))
    parameters, functions = None, {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id == "PARAMETERS":
                parameters = parameter_table(ast.literal_eval(node.value), where)
        elif isinstance(node, ast.FunctionDef):
            names = [a.arg for a in node.args.args]
            split = len(names) - len(node.args.defaults)
            functions[node.name] = Signature(node.name, names[:split], names[split:])
    if parameters is None:
        raise HeaderError("%s defines no PARAMETERS" % where)
    for name in ("load_data", "build_model"):
        if name not in functions:
            raise HeaderError("%s defines no %s()" % (where, name))
    number = list(registry.WORKLOADS).index(workload) + 1
    introduction = "%s\n\nWorkload %d of the 2017 study. What it shows: %s" % (
        fields["Description"][0].upper() + fields["Description"][1:],
        number,
        fields["Shows"],
    )
    return {
        "title": fields["Title"],
        "introduction": "\n\n".join([introduction] + paragraphs),
        "parameters": parameters,
        "functions": functions,
    }


def docstring_fields(text):
    """({field: text} of the docstring's first paragraph, `Field: text` lines with their
    continuation lines; the other paragraphs, each on one line)."""
    head, _, rest = text.strip().partition("\n\n")
    fields, key = collections.OrderedDict(), None
    for line in head.splitlines():
        match = re.match(r"([A-Z][a-z]+): (.*)$", line)
        if match:
            key = match.group(1)
            fields[key] = match.group(2).strip()
        elif key is not None:
            fields[key] += " " + line.strip()
    return fields, [" ".join(p.split()) for p in rest.split("\n\n") if p.strip()]


def parameter_table(text, where):
    """((name, value, comment), ...) from parameters written as the parameters cell writes them:
    one `name = literal  # comment` a line."""
    table = []
    for line in text.splitlines():
        code, _, comment = line.partition("  # ")
        try:
            (node,) = ast.parse(code).body
            name, value = node.targets[0].id, ast.literal_eval(node.value)
        except (SyntaxError, ValueError, AttributeError, TypeError) as e:
            raise HeaderError(
                "%s: PARAMETERS line %r is not `name = value  # comment` (%s)" % (where, line, e)
            )
        if not comment:
            raise HeaderError("%s: PARAMETERS line %r has no comment" % (where, line))
        table.append((name, value, comment))
    return tuple(table)


# Writing cells


def literal(value):
    """A parameter's value as the parameters cell writes it (strings in double quotes)."""
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def parameter_lines(parameters):
    return "\n".join(
        "%s = %s  # %s" % (name, literal(value), comment) for name, value, comment in parameters
    )


def call(target, function, signature):
    """`target = function(a, b, c=c)`, wrapped as the notebooks are (continuation lines under
    the first argument)."""
    arguments = [GIVEN.get(n, n) for n in signature.required]
    arguments += ["%s=%s" % (n, GIVEN.get(n, n)) for n in signature.optional]
    head = "%s = %s(" % (target, function) if target else "%s(" % function
    text = ", ".join(arguments) + ")"
    lines = textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=head,
        subsequent_indent=" " * len(head),
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "\n".join(lines)


def workload_parts(workload):
    """The parts of a workload's notebook, from its module's header."""
    header = read_header(workload)
    functions = header["functions"]
    model = functions["build_model"]
    returned = ", ".join(["data"] + list(model.required))
    data = [call(returned, workload + ".load_data", functions["load_data"])]
    data.append("run.record_data(data)")
    train = "history = training.fit(run, model, data, epochs=epochs, batch_size=batch_size"
    if "train_batches" in functions:
        data.append(call("batches", workload + ".train_batches", functions["train_batches"]))
        train += ",\n                       train_batches=batches"
    parts = {
        "title": header["title"],
        "introduction": header["introduction"]
        + "\n\nThe defaults below are the `smoke` profile; `kerasbench run` injects the "
        "profile's values.",
        "how_to_run": HOW_TO_RUN % {"name": workload},
        "parameters": RUN_PARAMETERS
        + SUBSETS[registry.WORKLOADS[workload].datasets[0]]
        + header["parameters"],
        "setup_note": SETUP_NOTE,
        "setup": "from kerasbench.kernel import session, training\n"
        "from kerasbench.workloads import %s\n\n"
        "run = session.start(%s, globals())" % (workload, json.dumps(workload)),
        "data": "\n".join(data),
        "model": call("model", workload + ".build_model", model) + "\nmodel.summary()",
        "train_note": TRAIN_NOTE[registry.WORKLOADS[workload].text_model],
        "train": train + ")",
    }
    if "generate" in functions:
        parts["sample"] = (
            call("sample", workload + ".generate", functions["generate"])
            + "\nrun.save_sample(sample)"
        )
    return parts


def notebook(parts):
    """The notebook (a dict in nbformat 4.5) made of `parts`: title, introduction, how_to_run,
    parameters, setup_note, setup, data, [model_note], model, train_note, train, [sample]."""
    cells = [
        ("intro", "markdown", "# %(title)s\n\n%(introduction)s\n\n%(how_to_run)s" % parts),
        ("parameters", "parameters", parameter_lines(parts["parameters"])),
        ("setup-note", "markdown", "## Setup\n\n" + parts["setup_note"]),
        ("setup", "code", parts["setup"]),
        ("data-note", "markdown", "## Data"),
        ("data", "code", parts["data"]),
        (
            "model-note",
            "markdown",
            "## Model" + ("\n\n" + parts["model_note"] if "model_note" in parts else ""),
        ),
        ("model", "code", parts["model"]),
        ("train-note", "markdown", "## Train\n\n" + parts["train_note"]),
        ("train", "code", parts["train"]),
    ]
    if "sample" in parts:
        cells.append(("sample-note", "markdown", "## Sample text\n\n" + SAMPLE_NOTE))
        cells.append(("sample", "code", parts["sample"]))
    cells.append(("record-note", "markdown", "## Record"))
    cells.append(("record", "code", "run.finish(model)"))
    return {
        "cells": [_cell(*cell) for cell in cells],
        "metadata": {
            "kernelspec": {
                "display_name": "kerasbench (tensorflow)",
                "language": "python",
                "name": "kerasbench-tensorflow",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _cell(cell_id, kind, source):
    lines = source.splitlines(True)
    if kind == "markdown":
        return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": lines}
    metadata = {"tags": ["parameters"]} if kind == "parameters" else {}
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": metadata,
        "outputs": [],
        "source": lines,
    }


def text(nb):
    """The notebook's file text, as nbformat writes it."""
    return (
        json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False, separators=(",", ": ")) + "\n"
    )


def expected():
    """{path: file text} of every notebook the template writes."""
    found = collections.OrderedDict()
    for workload in registry.WORKLOADS:
        found[registry.notebook_path(workload)] = text(notebook(workload_parts(workload)))
    found[registry.notebook_path(registry.USER_NOTEBOOK)] = text(notebook(USER_MODEL))
    return found


def differing():
    """The notebooks whose committed text is not the template's."""
    out = []
    for path, wanted in expected().items():
        try:
            with io.open(path, encoding="utf-8") as f:
                same = f.read() == wanted
        except (IOError, OSError):
            same = False
        if not same:
            out.append(path)
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv not in ([], ["--check"]):
        sys.exit("usage: python -m kerasbench.kernel.notebooks [--check]")
    if argv:
        stale = differing()
        for path in stale:
            print("%s differs from its template: run python -m kerasbench.kernel.notebooks" % path)
        return 1 if stale else 0
    for path, wanted in expected().items():
        with io.open(path, "w", encoding="utf-8") as f:
            f.write(wanted)
        print("wrote %s" % os.path.relpath(path, registry.ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
