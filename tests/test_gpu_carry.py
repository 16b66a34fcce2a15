"""scripts/gpu_carry.sh: what a call of the lent GPU machine carries. Run in a copy of the
repository's files it needs, with `python3` on the PATH replaced by a stand-in for `pip download`
that records its arguments and writes empty wheels, so no registry is reached."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("git") is None, reason="needs bash and git"
)

# What pip would download for the pins: Keras and the notebook stack with their needs, some of
# which the GPU machine's image already has (numpy, ml_dtypes, typing_extensions).
DOWNLOADED = [
    "keras-3.15.1-py3-none-any.whl",
    "papermill-2.7.0-py3-none-any.whl",
    "optree-0.20.0-cp312-cp312-manylinux_2_27_x86_64.whl",
    "numpy-2.5.5-cp312-cp312-manylinux_2_27_x86_64.whl",
    "ml_dtypes-0.7.0-cp312-cp312-manylinux_2_27_x86_64.whl",
    "typing_extensions-4.16.0-py3-none-any.whl",
]

FAKE_PIP = """#!/usr/bin/env bash
echo "$@" > "{log}"
while [ $# -gt 0 ]; do [ "$1" = -d ] && dir=$2; shift; done
for w in {wheels}; do : > "$dir/$w"; done
"""


def carry(tmp_path, data):
    """Runs gpu_carry.sh in a repository copy under tmp_path with DATASETS_DIR `data`; returns
    (the finished process, the copy, pip's recorded arguments)."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "gpu_carry.sh", repo / "scripts")
    shutil.copy(ROOT / "requirements.txt", repo)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pip-args"
    fake = bin_dir / "python3"
    fake.write_text(FAKE_PIP.format(log=log, wheels=" ".join(DOWNLOADED)))
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        ["bash", str(repo / "scripts" / "gpu_carry.sh"), str(data)],
        capture_output=True,
        text=True,
        env=env,
    )
    return done, repo, (log.read_text().split() if log.exists() else [])


def test_wheels_of_the_pins_less_what_the_machine_has_and_the_data(tmp_path):
    data = tmp_path / "datasets"
    data.mkdir()
    for name in ("mnist.npz", "imdb.npz", "imdb_word_index.json", "nietzsche.txt", "SHA256SUMS"):
        (data / name).write_text(name)
    (data / "unrelated.bin").write_text("not study data")
    done, repo, pip_args = carry(tmp_path, data)
    assert done.returncode == 0, done.stdout + done.stderr
    # The versions pinned in requirements.txt, for the machine's Python 3.12, wheels only.
    for pin in ("keras==3.15.1", "papermill==2.7.0", "ipykernel==7.4.0", "jupyter_client=="):
        assert any(a.startswith(pin) for a in pip_args), (pin, pip_args)
    assert (
        "--only-binary=:all:" in pip_args
        and pip_args[pip_args.index("--python-version") + 1] == "3.12"
    )
    assert sorted(p.name for p in (repo / ".whl").iterdir()) == sorted(DOWNLOADED[:3])
    assert sorted(p.name for p in (repo / ".gpudata").iterdir()) == sorted(
        ["mnist.npz", "imdb.npz", "imdb_word_index.json", "nietzsche.txt", "SHA256SUMS"]
    )
    assert "gpu_carry: travels" in done.stdout and "MiB of 64" in done.stdout


def test_a_folder_without_the_data_is_one_line_and_exit_2(tmp_path):
    done, repo, pip_args = carry(tmp_path, tmp_path / "nowhere")
    assert done.returncode == 2
    assert done.stdout.strip().splitlines() == [
        f"gpu_carry: no mnist.npz in {tmp_path / 'nowhere'} (give the datasets folder)"
    ]
    assert pip_args == [] and not (repo / ".whl").exists()
