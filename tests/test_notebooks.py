"""The notebooks are the template's (kerasbench.kernel.notebooks), and every workload module has the
header the template writes its notebook from."""

import io
import subprocess
import sys

import nbformat
import papermill
import pytest

from kerasbench import registry
from kerasbench.kernel import notebooks

from conftest import REPO

WORKLOADS = list(registry.WORKLOADS)


def test_the_committed_notebooks_are_the_templates_output():
    assert notebooks.differing() == [], "run: python -m kerasbench.kernel.notebooks"
    done = subprocess.run(
        [sys.executable, "-m", "kerasbench.kernel.notebooks", "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_the_check_names_a_notebook_that_differs(tmp_path, monkeypatch):
    stale = tmp_path / "mnist_mlp.ipynb"
    stale.write_text("{}")
    real = registry.notebook_path
    monkeypatch.setattr(
        registry, "notebook_path", lambda w: str(stale) if w == "mnist_mlp" else real(w)
    )
    assert notebooks.differing() == [str(stale)]


@pytest.mark.parametrize("path", sorted(notebooks.expected()))
def test_every_notebook_is_valid_and_has_no_outputs(path):
    with io.open(path, encoding="utf-8") as f:
        nb = nbformat.read(f, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert code[0].metadata.tags == ["parameters"]


@pytest.mark.parametrize("workload", WORKLOADS)
def test_every_workload_module_has_the_header_its_notebook_needs(workload):
    header = notebooks.read_header(workload)
    assert header["title"] and header["introduction"].strip()
    names = [p[0] for p in header["parameters"]]
    names += [p[0] for p in notebooks.SUBSETS[registry.WORKLOADS[workload].datasets[0]]]
    run_names = [p[0] for p in notebooks.RUN_PARAMETERS]
    assert len(set(names)) == len(names) and not set(names) & set(run_names)
    assert all(len(p) == 3 and p[2] for p in header["parameters"]), "name, value, comment"
    # Every argument of the functions the cells call is a parameter or an earlier cell's name.
    functions = header["functions"]
    made = ["data", "model", "batches"] + list(functions["build_model"].required)
    known = set(names) | set(run_names) | set(made) | set(notebooks.GIVEN)
    for name in ("load_data", "build_model", "train_batches", "generate"):
        if name in functions:
            signature = functions[name]
            unknown = set(signature.required + signature.optional) - known
            assert not unknown, "%s.%s takes %s" % (workload, name, sorted(unknown))


@pytest.mark.parametrize("workload", WORKLOADS)
def test_the_parameters_cell_is_the_run_settings_then_the_workloads_own(workload):
    declared = papermill.inspect_notebook(registry.notebook_path(workload))
    header = notebooks.read_header(workload)
    subset = notebooks.SUBSETS[registry.WORKLOADS[workload].datasets[0]]
    expected = notebooks.RUN_PARAMETERS + subset + header["parameters"]
    assert list(declared) == [p[0] for p in expected]
    assert [declared[name]["default"] for name, _, _ in expected] == [
        notebooks.literal(value) for _, value, _ in expected
    ]


@pytest.mark.parametrize(
    "source, expected",
    [
        ('"""\nTitle: X\nDescription: y.\n"""\n', "its docstring has no `Shows:` line"),
        ('"""\nTitle: X\nDescription: y.\nShows: z.\n"""\n', "defines no PARAMETERS"),
        (
            '"""\nTitle: X\nDescription: y.\nShows: z.\n"""\nPARAMETERS = "epochs = 2"\n',
            "PARAMETERS line 'epochs = 2' has no comment",
        ),
        (
            '"""\nTitle: X\nDescription: y.\nShows: z.\n"""\nPARAMETERS = "a = b  # c"\n',
            "is not `name = value  # comment`",
        ),
        (
            '"""\nTitle: X\nDescription: y.\nShows: z.\n"""\nPARAMETERS = "a = 1  # c"\n',
            "defines no load_data()",
        ),
    ],
)
def test_a_module_without_the_header_its_notebook_needs_is_named(
    tmp_path, monkeypatch, source, expected
):
    module = tmp_path / "mnist_mlp.py"
    module.write_text(source)
    monkeypatch.setattr(notebooks, "module_path", lambda workload: str(module))
    with pytest.raises(notebooks.HeaderError) as e:
        notebooks.read_header("mnist_mlp")
    assert expected in str(e.value) and "mnist_mlp.py" in str(e.value)
