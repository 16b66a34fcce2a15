"""Shared test set-up: the real datasets beside the checkout (../shared/datasets), never a download."""

import contextlib
import html
import os
import re
import subprocess
import sys

import pytest

# Kernel-side unit tests import Keras in the test process: pin a light backend before any import.
# (Each backend gets its own process in the tests that compare backends.)
os.environ.setdefault("KERAS_BACKEND", "jax")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "datasets"))


@pytest.fixture(scope="session")
def data_dir():
    folder = os.environ.get("KERASBENCH_DATA") or SHARED_DATA
    if not os.path.exists(os.path.join(folder, "mnist.npz")):
        pytest.skip("the real datasets are not at %s: set KERASBENCH_DATA" % folder)
    return folder


def smoke_run(out, *extra, workloads="mnist_mlp", backends="jax"):
    """The command line of `kerasbench run --profile smoke` of `workloads` on `backends` into
    `out`, `extra` options after it: the small real study many tests start from."""
    argv = ["run", "--profile", "smoke", "--workloads", workloads, "--backends", backends]
    return argv + ["--out", str(out)] + list(extra)


def grid_rows(page, table_id="kb-grid-default") -> dict:
    """A grid of the report's first screen (report.grid) as text: {workload title: {"workload":
    its first cell, backend: its cell}}; tags dropped, each <br> as " | ", entities unescaped."""
    body = page[page.index(f"id='{table_id}'") :]
    body = body[: body.index("</table>")]
    backends = [html.unescape(b) for b in re.findall(r"<th>([^<]*)</th>", body)][1:]
    rows = {}
    for tr in re.findall(r"<tr>(<td.*?)</tr>", body):
        cells = [
            html.unescape(re.sub(r"<[^>]+>", "", c.replace("<br>", " | ")))
            for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)
        ]
        rows[cells[0].split(" | ")[0]] = {"workload": cells[0], **dict(zip(backends, cells[1:]))}
    return rows


# Another process holds --out's lock (`with held(out) as holder:`), as a second command would.
HOLD = """import sys, time
from kerasbench.study import preflight
with preflight.lock_output(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


@contextlib.contextmanager
def held(out):
    """A process that holds the lock of the folder `out` (preflight.lock_output, as command
    `run`) until the block ends; yields its Popen (its pid is the one an error names)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)],
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=os.path.join(REPO, "lib")),
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def stand_in_notebook(tmp_path, monkeypatch):
    """Makes notebooks that every workload runs in place of its own (registry.notebook_path):
    `make(name, parameters, *cells)` writes tmp_path/<name>.ipynb for the kerasbench-jax kernel,
    a parameters cell then `cells`, and returns its path. The runner under test, with a kernel
    whose behaviour the test chooses (a fault, a GPU it pretends to see)."""
    import nbformat

    from kerasbench import registry

    def make(name, parameters, *cells):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "kerasbench-jax",
            "language": "python",
            "display_name": "kerasbench (jax)",
        }
        nb.metadata["language_info"] = {"name": "python"}
        first = nbformat.v4.new_code_cell(parameters)
        first.metadata["tags"] = ["parameters"]
        nb.cells = [first] + [nbformat.v4.new_code_cell(cell) for cell in cells]
        path = str(tmp_path / (name + ".ipynb"))
        nbformat.write(nb, path)
        monkeypatch.setattr(registry, "notebook_path", lambda workload: path)
        return path

    return make
