"""scripts/offline_host.py: the wheelhouse for an offline GPU host, its pieces, and their assembly.

`pip download` is stood in for (no registry is reached): it writes empty wheels named as pip would.
"""

import hashlib
import importlib.util
import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load():
    spec = importlib.util.spec_from_file_location(
        "offline_host", ROOT / "scripts" / "offline_host.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def oh():
    return load()


REQUIREMENTS = """keras==3.15.1
tensorflow-cpu==2.21.0
jax==0.10.2
jaxlib==0.10.2
torch==2.13.0
papermill==2.7.0
numpy==2.4.6
ray==2.60.0
"""

# What pip would bring for each requirement line (the line's project, then its needs).
BRINGS = {
    "keras": ["keras-3.15.1-py3-none-any.whl", "numpy-2.4.6-cp312-cp312-manylinux_2_27_x86_64.whl"],
    "tensorflow": [
        "tensorflow-2.21.0-cp312-cp312-manylinux_2_27_x86_64.whl",
        "gast-0.7.0-py3-none-any.whl",
    ],
    "nvidia-cuda-runtime-cu12": [
        "nvidia_cuda_runtime_cu12-12.9.79-py3-none-manylinux2014_x86_64.whl"
    ],
    "nvidia-nvjitlink-cu12": ["nvidia_nvjitlink_cu12-12.9.86-py3-none-manylinux2010_x86_64.whl"],
    "jax": ["jax-0.10.2-py3-none-any.whl"],
    "jaxlib": ["jaxlib-0.10.2-cp312-cp312-manylinux_2_27_x86_64.whl"],
    "torch": ["torch-2.13.0-cp312-cp312-manylinux_2_28_x86_64.whl"],
    "papermill": ["papermill-2.7.0-py3-none-any.whl"],
    "numpy": ["numpy-2.4.6-cp312-cp312-manylinux_2_27_x86_64.whl"],
    "ray": ["ray-2.60.0-cp312-cp312-manylinux2014_x86_64.whl"],
}


def fake_download(asked):
    def download(lines, dest, python_version):
        asked.append(list(lines))
        for line in lines:
            name = line.split("[")[0].split("=")[0]
            for wheel in BRINGS[name]:
                # a wheel of some content, so the pieces have bytes to cut
                Path(dest, wheel).write_bytes(wheel.encode() * 2000)

    return download


def build(oh, tmp_path, *extra, have=("torch", "numpy"), piece_mib=0.05):
    req = tmp_path / "requirements.txt"
    req.write_text(REQUIREMENTS)
    have_file = tmp_path / "have.txt"
    have_file.write_text("".join("%s==1.0\n" % n for n in have))
    house = tmp_path / "house"
    argv = ["build", str(house), "--requirements", str(req), "--have", str(have_file)]
    argv += ["--piece-mib", str(piece_mib)] + list(extra)
    return oh.main(argv), house


def test_each_environment_gets_its_framework_and_not_what_the_host_has(oh, tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(oh, "pip_download", fake_download(asked))
    code, house = build(oh, tmp_path, "--cuda-from-host")
    assert code == 0
    manifest = json.loads((house / "pieces" / oh.MANIFEST).read_text())
    envs = manifest["environments"]
    assert set(envs) == {"host", "tensorflow", "jax", "torch"}
    projects = {env: {oh.wheel_project(w) for w in wheels} for env, wheels in envs.items()}
    # the host side: no Keras, no framework; ray is skipped by default
    assert projects["host"] == {"papermill"}
    # TensorFlow's own CUDA 12 runtime and nvJitLink only (--cuda-from-host), no and-cuda extra
    assert {
        "tensorflow",
        "gast",
        "nvidia-cuda-runtime-cu12",
        "nvidia-nvjitlink-cu12",
        "keras",
    } <= projects["tensorflow"]
    assert not any("and-cuda" in line for lines in asked for line in lines)
    # JAX's GPU build is resolved (jax[cuda13]); the host's torch is used as it is: never asked for
    assert "jax" in projects["jax"] and "jax[cuda13]==0.10.2" in asked[2]
    assert "torch" not in projects["torch"] and not any(x.startswith("torch") for x in asked[3])
    # numpy is on the host: no environment copies it
    assert all("numpy" not in p for p in projects.values())


def test_pieces_are_small_enough_and_join_back_to_the_same_wheels(oh, tmp_path, monkeypatch):
    monkeypatch.setattr(oh, "pip_download", fake_download([]))
    code, house = build(oh, tmp_path, piece_mib=0.02)
    assert code == 0
    manifest = json.loads((house / "pieces" / oh.MANIFEST).read_text())
    limit = int(0.02 * 1048576)
    assert len(manifest["pieces"]) > 1
    for piece in manifest["pieces"]:
        path = house / "pieces" / piece["name"]
        assert path.stat().st_size == piece["bytes"] <= limit
        assert hashlib.sha256(path.read_bytes()).hexdigest() == piece["sha256"]
    dest = tmp_path / "host"
    dest.mkdir()
    joined = oh.assemble(str(house / "pieces"), str(dest))
    assert joined["sha256"] == manifest["sha256"]
    assert sorted(os.listdir(dest / "wheels")) == sorted(os.listdir(house / "wheels"))
    for name in os.listdir(dest / "wheels"):
        assert (dest / "wheels" / name).read_bytes() == (house / "wheels" / name).read_bytes()


def test_a_missing_or_damaged_piece_is_one_line(oh, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(oh, "pip_download", fake_download([]))
    _, house = build(oh, tmp_path, piece_mib=0.02)
    pieces = house / "pieces"
    (pieces / "wheelhouse.tar.001").unlink()
    assert oh.main(["install", str(pieces), str(tmp_path / "p"), "--no-check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pieces are not in" in err and "wheelhouse.tar.001" in err
    _, house = build(oh, tmp_path, piece_mib=0.02)
    with open(house / "pieces" / "wheelhouse.tar.000", "r+b") as f:
        f.write(b"X")
    assert oh.main(["install", str(house / "pieces"), str(tmp_path / "p"), "--no-check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "damaged piece(s)" in err and "wheelhouse.tar.000" in err


def test_a_wheelhouse_entry_outside_its_folder_is_refused(oh, tmp_path):
    pieces = tmp_path / "pieces"
    pieces.mkdir()
    tar_path = tmp_path / "evil.tar"
    (tmp_path / "x.whl").write_bytes(b"x")
    with tarfile.open(tar_path, "w") as tar:
        tar.add(tmp_path / "x.whl", arcname="../escaped.whl")
    data = tar_path.read_bytes()
    (pieces / "wheelhouse.tar.000").write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    manifest = {
        "environments": {},
        "sha256": digest,
        "pieces": [{"name": "wheelhouse.tar.000", "bytes": len(data), "sha256": digest}],
    }
    (pieces / "wheelhouse.json").write_text(json.dumps(manifest))
    with pytest.raises(oh.Refused, match="unexpected entry"):
        oh.assemble(str(pieces), str(tmp_path))
    assert not (tmp_path / "escaped.whl").exists()


def test_cuda_links_offer_the_host_libraries_under_tensorflows_names(oh, tmp_path):
    site = tmp_path / "site"
    for rel in oh.TF_CUDA_LINKS.values():
        (site / "nvidia" / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / "nvidia" / rel).write_text(rel)
    (site / "nvidia" / "cudnn" / "lib").mkdir(parents=True)
    (site / "nvidia" / "cudnn" / "lib" / "libcudnn.so.9").write_text("cudnn")
    links = Path(oh.cuda_links(str(site), str(tmp_path / "links")))
    assert (links / "libcublas.so.12").read_text() == "cu13/lib/libcublas.so.13"
    assert (links / "libcufft.so.11").read_text() == "cu13/lib/libcufft.so.12"
    assert (links / "libcudnn.so.9").read_text() == "cudnn"
    assert all(os.path.islink(links / name) for name in oh.TF_CUDA_LINKS)
    (site / "nvidia" / "cu13" / "lib" / "libcublas.so.13").unlink()
    with pytest.raises(oh.Refused, match="libcublas.so.13"):
        oh.cuda_links(str(site), str(tmp_path / "links2"))


def test_usage_mistakes_are_one_line_exit_2(oh, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(oh, "pip_download", fake_download([]))
    code, _ = build(oh, tmp_path, "--backends", "tensorflow,cntk")
    assert code == 2 and "unknown cntk" in capsys.readouterr().err
    assert oh.main(["install", str(tmp_path / "nowhere"), str(tmp_path / "p")]) == 2
    assert "no wheelhouse.json" in capsys.readouterr().err


def test_the_script_runs_with_the_standard_library_only():
    # It runs where only pip and Python are: nothing but the standard library and docker/requirements.
    source = (ROOT / "scripts" / "offline_host.py").read_text()
    imports = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imports <= set(sys.stdlib_module_names) | {"requirements"}


def test_kernels_of_nothing_installed_is_one_line(oh, tmp_path, capsys):
    assert oh.main(["kernels", str(tmp_path / "empty"), "--no-check"]) == 2
    assert "nothing installed there" in capsys.readouterr().err
