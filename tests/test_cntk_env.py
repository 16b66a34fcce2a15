"""The legacy CNTK kernel's environment (scripts/setup_cntk.sh, `make cntk`): Keras 2.3.1 on CNTK.

Skipped, with the reason shown, where there is no Python 3.6 or no .venv-cntk. Fast: one import.
"""

import glob
import json
import os
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP = os.path.join(REPO, "scripts", "setup_cntk.sh")
VENV = os.environ.get("KERASBENCH_CNTK_VENV") or os.path.join(REPO, ".venv-cntk")
HOW = (
    "pyenv install 3.6.15, conda python=3.6 or the python:3.6 image, "
    "then PYTHON36=/path/to/python3.6 make cntk"
)


def _python36():
    if os.environ.get("PYTHON36"):
        return os.environ["PYTHON36"]
    roots = [os.environ.get("PYENV_ROOT"), os.path.expanduser("~/.pyenv")]
    for root in filter(None, roots):
        found = sorted(glob.glob(os.path.join(root, "versions", "3.6.*", "bin", "python")))
        if found:
            return found[-1]
    return None


@pytest.fixture(scope="module")
def venv_python():
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        if _python36() is None:
            pytest.skip("no Python 3.6: the CNTK kernel is not set up (%s)" % HOW)
        pytest.skip("no %s: run `make cntk` (scripts/setup_cntk.sh)" % VENV)
    return python


def test_keras_2_3_1_on_cntk(venv_python):
    env = dict(os.environ, KERAS_BACKEND="cntk", LD_LIBRARY_PATH=os.path.join(VENV, "mpi-compat"))
    env.pop("PYTHONPATH", None)
    code = (
        "import json, keras, cntk, numpy, h5py; print(json.dumps({"
        "'backend': keras.backend.backend(), 'keras': keras.__version__, "
        "'cntk': cntk.__version__, 'numpy': numpy.__version__, 'h5py': h5py.__version__}))"
    )
    proc = subprocess.run(
        [venv_python, "-c", code],
        env=env,
        cwd=tempfile.gettempdir(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["backend"] == "cntk"
    assert got["keras"] == "2.3.1"
    assert got["cntk"] == "2.7"
    assert got["h5py"].startswith("2."), "h5py 3 breaks Keras 2 model loading"


def test_kernel_packages_import(venv_python):
    # What the Jupyter kernel itself needs (the host's papermill drives it over the protocol).
    proc = subprocess.run(
        [venv_python, "-c", "import ipykernel, jupyter_client, zmq; print(ipykernel.__version__)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "5.5.6"


def test_setup_without_python36_says_how_in_one_line(tmp_path):
    # No $PYTHON36, no pyenv, no python3.6 on PATH: one line on how to get one, exit code 3.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON36": ""}
    if any(os.path.exists(os.path.join(d, "python3.6")) for d in ("/usr/bin", "/bin")):
        pytest.skip("a system python3.6 is on PATH")
    proc = subprocess.run(
        ["bash", SETUP, str(tmp_path / "venv")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert "pyenv install 3.6.15" in lines[0] and "PYTHON36" in lines[0]
    assert not (tmp_path / "venv").exists()
