"""The notebooks refuse a parameter they do not declare (papermill only warns, then trains the
default), and the kernel records which kerasbench it imported."""

import os
import subprocess
import sys

import pytest

from kerasbench import plain, registry
from kerasbench.study import execute, kernels

from conftest import REPO

pytest.importorskip("keras")
from kerasbench.kernel import session  # noqa: E402

PARAMETERS = 'backend = "jax"  # the backend\nepochs = 2  # epochs\nbatch_size = 128\n'


def test_an_injected_parameter_the_notebook_does_not_declare_is_one_line():
    injected = '# Parameters\nbackend = "jax"\nepochz = 3\n'
    with pytest.raises(session.UnknownParameter) as e:
        session.check_parameters(["", "import os", PARAMETERS, injected, "session.start(...)"])
    message = str(e.value)
    assert message.startswith("unknown parameter epochz (did you mean epochs?)")
    assert "backend, epochs, batch_size" in message and "nothing was trained" in message
    assert e.value._render_traceback_() == ["UnknownParameter: " + message]


def test_declared_parameters_and_a_notebook_run_by_hand_pass():
    session.check_parameters(["", PARAMETERS, "# Parameters\nepochs = 3\n", "x"])
    session.check_parameters(["", PARAMETERS, "x = 1"])  # no injected cell: Jupyter by hand
    session.check_parameters([])


def test_the_plain_harness_refuses_an_unknown_parameter():
    with pytest.raises(SystemExit) as e:
        plain.run(registry.notebook_path("mnist_mlp"), {"epochz": 3})
    assert "unknown parameter epochz" in str(e.value.code)


def test_a_kernel_of_another_checkout_is_named():
    assert execute.other_checkout(kernels.LIB_DIR) is None
    assert execute.other_checkout(None) is None  # older code recorded nothing
    why = execute.other_checkout("/elsewhere/lib")
    assert why.startswith("imported kerasbench from /elsewhere/lib, not from this checkout's")


def test_the_kernel_records_the_code_it_imported():
    code = session.code_identity()
    assert code["path"] == os.path.join(REPO, "lib")
    assert code["git_commit"] and len(code["git_commit"].split("+")[0]) == 40


@pytest.mark.slow
@pytest.mark.skipif(
    kernels.find("jax") is None, reason="the kerasbench-jax kernel is not installed"
)
def test_papermill_by_hand_refuses_a_misspelled_parameter(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            registry.notebook_path("mnist_mlp"),
            str(tmp_path / "out.ipynb"),
            "-k",
            "kerasbench-jax",
            "-p",
            "backend",
            "jax",
            "-p",
            "run_dir",
            str(run_dir),
            "-p",
            "data_dir",
            data_dir,
            "-p",
            "epochz",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if "UnknownParameter" in line]
    assert lines and "unknown parameter epochz (did you mean epochs?)" in lines[-1], done.stderr[
        -3000:
    ]
    assert not (run_dir / "epochs.csv").exists(), "nothing trained"
