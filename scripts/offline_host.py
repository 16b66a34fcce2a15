#!/usr/bin/env python3
"""The study on an offline GPU host (an HPC node, a cluster job with a time limit, no internet and
no Docker): one environment per backend, as the GPU image has them, from a wheelhouse built where
pip works and copied over in pieces small enough for whatever moves files to that host.

Where pip works (any OS; the wheels are chosen for the host's Python and Linux):

    python3 scripts/offline_host.py build WHEELHOUSE --have host-freeze.txt [--piece-mib 60]

  `host-freeze.txt` is `python3 -m pip list --format=freeze` run on the GPU host: what the host
  already has (its own JAX or PyTorch build, NumPy...) is used as it is and not copied again.
  WHEELHOUSE/pieces/ then holds `wheelhouse.tar.NNN` pieces of at most --piece-mib MiB each and
  `wheelhouse.json` (every piece's SHA-256, and which wheels each environment installs).

On the GPU host, once every piece is there (copied in any order, in as many batches as needed):

    python3 scripts/offline_host.py install PIECES PREFIX [--link-cuda-from SITE_PACKAGES]

  checks every piece, joins them, installs each environment into PREFIX/site-<env> (one site
  folder per backend: the frameworks' CUDA wheels of different versions never shadow each other),
  writes PREFIX/python-<backend> (the host's Python with that site folder first) and PREFIX/env.sh
  (the host side's PYTHONPATH), installs one Jupyter kernel per backend on its own Python and
  library path, and checks that each framework sees the GPU: a backend that does not stops the
  install with one line naming it.

A host whose CUDA is newer than TensorFlow's build (TensorFlow 2.21 links CUDA 12; a CUDA 13
host): `build --cuda-from-host` copies only the two CUDA 12 pieces TensorFlow cannot do without
(the runtime and nvJitLink), and `install --link-cuda-from SITE` offers the host's own CUDA 13
cuBLAS, cuFFT, cuSOLVER, cuSPARSE, cuRAND, CUPTI, cuDNN 9 and NCCL (the nvidia-* wheels in the
host Python's SITE) under the names TensorFlow asks for, first on its kernel's library path only.
Those are not the libraries TensorFlow was built against: the runs record it (kernel.json's
library path) and a report of them should say so.

Standard library only; the requirement sets come from requirements.txt through
docker/requirements.py, so the host runs the same pins as `make study` and the GPU image.
"""

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "docker"))
import requirements as derive_requirements  # noqa: E402  (docker/requirements.py)

BACKENDS = ("tensorflow", "jax", "torch")
MANIFEST = "wheelhouse.json"
PIECE = "wheelhouse.tar."
# Tools the study itself does not need on a GPU host (the report and the tests run elsewhere).
DEFAULT_SKIP = ("ray", "pytest", "ruff")
# TensorFlow 2.21's CUDA 12 pieces that a CUDA 13 host cannot stand in for (its `and-cuda` extra
# pins these series); the versions are the ones this was checked with.
TF_CUDA12_OWN = ("nvidia-cuda-runtime-cu12==12.9.79", "nvidia-nvjitlink-cu12==12.9.86")
# name TensorFlow asks for -> the host's CUDA 13 wheel file that stands in for it (glob under SITE/nvidia)
TF_CUDA_LINKS = {
    "libcublas.so.12": "cu13/lib/libcublas.so.13",
    "libcublasLt.so.12": "cu13/lib/libcublasLt.so.13",
    "libcufft.so.11": "cu13/lib/libcufft.so.12",
    "libcusolver.so.11": "cu13/lib/libcusolver.so.12",
    "libcusparse.so.12": "cu13/lib/libcusparse.so.12",
    "libcurand.so.10": "cu13/lib/libcurand.so.10",
    "libcupti.so.12": "cu13/lib/libcupti.so.13",
    "libnccl.so.2": "nccl/lib/libnccl.so.2",
}
PLATFORMS = (
    "manylinux_2_35_x86_64 manylinux_2_34_x86_64 manylinux_2_31_x86_64 manylinux_2_28_x86_64 "
    "manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 "
    "manylinux_2_12_x86_64 manylinux2010_x86_64 manylinux1_x86_64 linux_x86_64"
).split()


class Refused(Exception):
    """A one-line error for the user (exit 2)."""


def normalize(name):
    return derive_requirements.normalize(name)


def wheel_project(filename):
    """'tensorflow-2.21.0-cp312-...whl' -> 'tensorflow' (PEP 503 normalised)."""
    return normalize(os.path.basename(filename).split("-", 1)[0])


def read_have(path):
    """Project names in a `pip list --format=freeze` (or requirements-style) file."""
    names = set()
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                names.add(normalize(re.split(r"[=<>!~ @\[;]", line, 1)[0]))
    return names


def environment_requirements(text, backends, cuda_from_host):
    """{env: [requirement lines]} for the host side and each backend, from requirements.txt."""
    envs = {"host": derive_requirements.derive(text, "host")}
    for backend in backends:
        lines = derive_requirements.derive(text, backend)
        if backend == "tensorflow" and cuda_from_host:
            lines = [re.sub(r"^tensorflow\[and-cuda\]", "tensorflow", x) for x in lines]
            lines += list(TF_CUDA12_OWN)
        envs[backend] = lines
    return envs


def pip_download(lines, dest, python_version):
    """Wheels of `lines` and their needs for a Linux x86_64 CPython python_version, into dest."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        reqs = f.name
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:"]
    cmd += ["--python-version", python_version, "--implementation", "cp", "-d", dest, "-r", reqs]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    finally:
        os.unlink(reqs)
    if done.returncode != 0:
        out = done.stdout.decode("utf-8", "replace").strip().splitlines()
        errors = [x for x in out if x.startswith("ERROR")] or out[-1:]
        raise Refused("pip download failed: %s" % (errors[0] if errors else "no output"))


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def split(path, dest, piece_bytes):
    """path cut into dest/<PIECE>NNN files of at most piece_bytes; [(name, bytes, sha256)]."""
    pieces = []
    with open(path, "rb") as src:
        number = 0
        while True:
            name = "%s%03d" % (PIECE, number)
            target = os.path.join(dest, name)
            written = 0
            with open(target, "wb") as out:
                while written < piece_bytes:
                    block = src.read(min(1 << 20, piece_bytes - written))
                    if not block:
                        break
                    out.write(block)
                    written += len(block)
            if written == 0:
                os.unlink(target)
                break
            pieces.append({"name": name, "bytes": written, "sha256": sha256(target)})
            number += 1
    return pieces


def build(args):
    with open(args.requirements) as f:
        text = f.read()
    backends = [b for b in args.backends.split(",") if b]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise Refused(
            "--backends: unknown %s (one of %s)" % (", ".join(unknown), ", ".join(BACKENDS))
        )
    have = read_have(args.have) if args.have else set()
    skip = {normalize(x) for x in args.skip.split(",") if x}
    envs = environment_requirements(text, backends, args.cuda_from_host)
    wheels_dir = os.path.join(args.wheelhouse, "wheels")
    pieces_dir = os.path.join(args.wheelhouse, "pieces")
    for folder in (wheels_dir, pieces_dir):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
    manifest = {"python_version": args.python_version, "environments": {}, "have": sorted(have)}
    for env, lines in envs.items():
        # A framework the host has (its own JAX or PyTorch build) is used as it is: not resolved here.
        lines = [x for x in lines if normalize(re.split(r"[=\[]", x, 1)[0]) not in skip | have]
        tmp = tempfile.mkdtemp()
        try:
            pip_download(lines, tmp, args.python_version)
            kept = []
            for path in sorted(glob.glob(os.path.join(tmp, "*.whl"))):
                if wheel_project(path) in have or wheel_project(path) in skip:
                    continue  # the host's own copy is used (its framework build, its NumPy...)
                kept.append(os.path.basename(path))
                if not os.path.exists(os.path.join(wheels_dir, kept[-1])):
                    shutil.move(path, wheels_dir)
        finally:
            shutil.rmtree(tmp)
        manifest["environments"][env] = kept
    tar_path = os.path.join(args.wheelhouse, "wheelhouse.tar")
    with tarfile.open(tar_path, "w") as tar:  # wheels are zip files already: no compression
        for name in sorted(os.listdir(wheels_dir)):
            tar.add(os.path.join(wheels_dir, name), arcname=name)
    manifest["sha256"] = sha256(tar_path)
    manifest["pieces"] = split(tar_path, pieces_dir, int(args.piece_mib * 1048576))
    os.unlink(tar_path)
    with open(os.path.join(pieces_dir, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(p["bytes"] for p in manifest["pieces"])
    print(
        "offline_host: %d wheels for %s, %.0f MiB in %d pieces of at most %g MiB in %s"
        % (
            len(os.listdir(wheels_dir)),
            ", ".join(envs),
            total / 1048576.0,
            len(manifest["pieces"]),
            args.piece_mib,
            pieces_dir,
        )
    )
    return 0


def assemble(pieces_dir, dest):
    """Checks every piece the manifest names and joins them into dest/wheels; returns the manifest."""
    path = os.path.join(pieces_dir, MANIFEST)
    if not os.path.isfile(path):
        raise Refused("%s: no %s (copy it with the pieces)" % (pieces_dir, MANIFEST))
    with open(path) as f:
        manifest = json.load(f)
    missing = [
        p["name"]
        for p in manifest["pieces"]
        if not os.path.isfile(os.path.join(pieces_dir, p["name"]))
    ]
    if missing:
        raise Refused(
            "%d of %d pieces are not in %s yet: %s"
            % (len(missing), len(manifest["pieces"]), pieces_dir, " ".join(missing))
        )
    bad = [
        p["name"]
        for p in manifest["pieces"]
        if sha256(os.path.join(pieces_dir, p["name"])) != p["sha256"]
    ]
    if bad:
        raise Refused(
            "damaged piece(s) in %s (SHA-256 differs): %s: copy them again"
            % (pieces_dir, " ".join(bad))
        )
    tar_path = os.path.join(dest, "wheelhouse.tar")
    with open(tar_path, "wb") as out:
        for piece in manifest["pieces"]:
            with open(os.path.join(pieces_dir, piece["name"]), "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    if sha256(tar_path) != manifest["sha256"]:
        raise Refused("the joined wheelhouse's SHA-256 differs from %s's" % MANIFEST)
    wheels = os.path.join(dest, "wheels")
    os.makedirs(wheels, exist_ok=True)
    with tarfile.open(tar_path) as tar:
        for member in tar.getmembers():
            if not member.isfile() or os.path.basename(member.name) != member.name:
                raise Refused("unexpected entry %r in the wheelhouse" % member.name)
            tar.extract(member, wheels)
    os.unlink(tar_path)
    return manifest


def cuda_links(site, dest):
    """dest/: the host's CUDA 13 libraries (nvidia-* wheels under site) under TensorFlow's names."""
    nvidia = os.path.join(site, "nvidia")
    os.makedirs(dest, exist_ok=True)
    targets = dict(TF_CUDA_LINKS)
    for path in glob.glob(os.path.join(nvidia, "cudnn", "lib", "*.so.9")):
        targets[os.path.basename(path)] = os.path.relpath(path, nvidia)
    missing = [rel for rel in targets.values() if not os.path.exists(os.path.join(nvidia, rel))]
    if missing:
        raise Refused(
            "--link-cuda-from %s: no %s there (is it the site folder of the host's CUDA 13 wheels?)"
            % (site, ", ".join("nvidia/" + m for m in missing))
        )
    for name, rel in sorted(targets.items()):
        link = os.path.join(dest, name)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.join(nvidia, rel), link)
    return dest


def library_path(site):
    """The nvidia-* wheel library folders of one site folder (CUDA of that environment first)."""
    return sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib")))


def install(args):
    prefix = os.path.abspath(args.prefix)
    os.makedirs(prefix, exist_ok=True)
    manifest = assemble(os.path.abspath(args.pieces), prefix)
    wheels = os.path.join(prefix, "wheels")
    python = args.python or sys.executable
    for env, names in manifest["environments"].items():
        site = os.path.join(prefix, "site-" + env)
        if names:
            cmd = [python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
            cmd += ["--upgrade", "--target", site] + [os.path.join(wheels, n) for n in names]
            done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
                raise Refused(
                    "pip install of the %s environment failed: %s"
                    % (env, lines[-1] if lines else "?")
                )
        else:
            os.makedirs(site, exist_ok=True)
        print("offline_host: %s environment: %d wheels in %s" % (env, len(names), site))
    with open(os.path.join(prefix, "environments.json"), "w") as f:
        json.dump({"python": python, "environments": sorted(manifest["environments"])}, f)
    return register(args)


def register(args):
    """The kernels of an installed PREFIX, for this checkout: one per backend on its own site
    folder, then the GPU check. Run again (`kernels`) when the checkout has moved."""
    prefix = os.path.abspath(args.prefix)
    path = os.path.join(prefix, "environments.json")
    if not os.path.isfile(path):
        raise Refused("%s: nothing installed there (run `install` first)" % prefix)
    with open(path) as f:
        installed = json.load(f)
    python = args.python or installed["python"]
    host_path = os.pathsep.join([os.path.join(prefix, "site-host"), os.path.join(ROOT, "lib")])
    with open(os.path.join(prefix, "env.sh"), "w") as f:
        f.write("# the host side of the study (kerasbench run, papermill): . %s/env.sh\n" % prefix)
        f.write("export PYTHONPATH=%s${PYTHONPATH:+:$PYTHONPATH}\n" % host_path)
    env = dict(os.environ, PYTHONPATH=host_path)
    backends = [b for b in BACKENDS if b in installed["environments"]]
    for backend in backends:
        site = os.path.join(prefix, "site-" + backend)
        wrapper = os.path.join(prefix, "python-" + backend)
        with open(wrapper, "w") as f:
            f.write(
                "#!/bin/sh\n# %s's kernel: the host Python with its own site folder first\n"
                % backend
            )
            f.write(
                'export PYTHONPATH=%s${PYTHONPATH:+:$PYTHONPATH}\nexec %s "$@"\n' % (site, python)
            )
        os.chmod(wrapper, 0o755)
        libs = library_path(site)
        if backend == "tensorflow" and args.link_cuda_from:
            links = os.path.join(prefix, "cuda-links")
            libs = [cuda_links(os.path.abspath(args.link_cuda_from), links)] + libs
        cmd = [python, "-m", "kerasbench.cli", "kernels", "install", "--backends", backend]
        cmd += ["--python", wrapper]
        if libs:
            cmd += ["--ld-library-path", os.pathsep.join(libs)]
        done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
            raise Refused("kernel %s: %s" % (backend, lines[-1] if lines else "?"))
        print("offline_host: kernel kerasbench-%s on %s" % (backend, wrapper))
    if not args.no_check:
        # Each framework must see the GPU before anything trains: one line per backend that does not.
        cmd = [python, "-m", "kerasbench.cli", "kernels", "check", "--backends", ",".join(backends)]
        done = subprocess.run(cmd, env=env)
        if done.returncode != 0:
            return done.returncode
    print(
        "offline_host: ready; for the study: . %s/env.sh; python3 -m kerasbench.cli run ..."
        % prefix
    )
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="offline_host.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    b = sub.add_parser("build", help="where pip works: the wheelhouse, in pieces")
    b.add_argument("wheelhouse")
    b.add_argument("--backends", default=",".join(BACKENDS))
    b.add_argument("--python-version", default="3.12", help="the GPU host's Python (default 3.12)")
    b.add_argument(
        "--have", help="`pip list --format=freeze` of the GPU host: those are not copied"
    )
    b.add_argument(
        "--skip", default=",".join(DEFAULT_SKIP), help="projects left out (default %(default)s)"
    )
    b.add_argument(
        "--piece-mib", type=float, default=60.0, help="largest piece in MiB (default 60)"
    )
    b.add_argument(
        "--cuda-from-host",
        action="store_true",
        help="TensorFlow: only its CUDA 12 runtime and nvJitLink",
    )
    b.add_argument("--requirements", default=os.path.join(ROOT, "requirements.txt"))
    i = sub.add_parser("install", help="on the GPU host: environments, kernels, the GPU check")
    i.add_argument("pieces")
    i.add_argument("prefix")
    i.add_argument("--link-cuda-from", help="site folder of the host's CUDA 13 nvidia-* wheels")
    i.add_argument("--python", help="the host's Python (default: this one)")
    i.add_argument("--no-check", action="store_true", help="skip the per-backend GPU check")
    k = sub.add_parser("kernels", help="on the GPU host: the kernels of an installed PREFIX again")
    k.add_argument("prefix")
    k.add_argument("--link-cuda-from", help="site folder of the host's CUDA 13 nvidia-* wheels")
    k.add_argument("--python", help="the host's Python (default: the one it was installed with)")
    k.add_argument("--no-check", action="store_true", help="skip the per-backend GPU check")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        return 2
    if args.command == "build" and args.piece_mib <= 0:
        parser.error("--piece-mib must be positive")
    try:
        return {"build": build, "install": install, "kernels": register}[args.command](args)
    except Refused as e:
        sys.stderr.write("offline_host: %s\n" % e)
        return 2
    except OSError as e:
        sys.stderr.write("offline_host: %s\n" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
