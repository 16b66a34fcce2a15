"""A workload's notebook run as a plain Python process: no Jupyter kernel, no papermill.

It executes the notebook's own code cells, in order, in one namespace, with the run's parameters
put in after the parameters cell (as papermill injects them). The code that trains is the same;
only the harness differs, which is what `kerasbench harness` measures. Kernel side (Python 3.6):
run it with the backend's Python and KERAS_BACKEND set, as a kernel would be.

    python -m kerasbench.plain NOTEBOOK PARAMETERS_JSON
"""

import ast
import json
import sys


def code_cells(notebook_path):
    with open(notebook_path) as f:
        notebook = json.load(f)
    return [
        (i, "".join(cell["source"]))
        for i, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code"
    ]


def run(notebook_path, parameters):
    """Executes the notebook's code cells with `parameters` injected after the first (defaults)."""
    cells = code_cells(notebook_path)
    declared = assigned_names(cells[0][1]) if cells else []
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise SystemExit(
            "kerasbench.plain: unknown parameter%s %s: %s declares %s"
            % (
                "" if len(unknown) == 1 else "s",
                ", ".join(unknown),
                notebook_path,
                ", ".join(declared),
            )
        )
    namespace = {"__name__": "__main__"}
    for n, (index, source) in enumerate(cells):
        exec(compile(source, "%s[cell %d]" % (notebook_path, index), "exec"), namespace)
        if n == 0:
            namespace.update(parameters)
    return namespace


def assigned_names(source):
    """The names a cell assigns at its top level (the parameters cell's declarations)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.exit("usage: python -m kerasbench.plain NOTEBOOK PARAMETERS_JSON")
    with open(argv[1]) as f:
        parameters = json.load(f)
    run(argv[0], parameters)


if __name__ == "__main__":
    main()
