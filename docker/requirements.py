"""Writes the requirements of one virtual environment of the images, derived from requirements.txt.

    python3 docker/requirements.py {host,tensorflow,jax,torch} [requirements.txt] > req.txt

requirements.txt is the one pinned set. Its frameworks are the CPU builds (tensorflow-cpu, jax,
torch from the CPU index on a dev machine). The GPU image gives each backend its own environment,
because the three frameworks want different CUDA libraries (TensorFlow 2.21: CUDA 12 wheels;
JAX and PyTorch: CUDA 13 wheels) and pip-installed nvidia-* wheels of different versions
overwrite each other in one site-packages. So:

  host        every pin except Keras and the frameworks (papermill, nbconvert, pandas, plotly...;
              the host side never imports Keras)
  <backend>   every pin, with this backend's framework swapped for its GPU build at the SAME
              version, and the other frameworks left out

The GPU lines are templates on the pinned version, so a version bump in requirements.txt moves
the image with it; a framework missing from requirements.txt stops the build. Python 3.6 syntax
(it also runs in the CNTK image's build); standard library only.
"""

import re
import sys

# requirements.txt name -> (backend whose environment gets it, requirement written there).
# TensorFlow's GPU build is `tensorflow` (its `and-cuda` extra pulls the CUDA 12 wheels);
# JAX's is the `cuda13` extra (jaxlib + jax-cuda13-plugin[with-cuda] at the same version);
# PyPI's Linux x86_64 torch wheel IS the CUDA 13.0 build (requires cuda-toolkit 13.0.x).
GPU = {
    "tensorflow-cpu": ("tensorflow", "tensorflow[and-cuda]=={version}"),
    "jax": ("jax", "jax[cuda13]=={version}"),
    "jaxlib": ("jax", "jaxlib=={version}"),
    "torch": ("torch", "torch=={version}"),
}
# Kernel side only: the host environment never imports Keras (docs/design.md).
KERNEL_ONLY = {"keras"}
# Host side only: the Ray executor drives papermill from the host environment; kernels never
# import it, so the per-backend environments do without it.
HOST_ONLY = {"ray"}
ENVIRONMENTS = ("host", "tensorflow", "jax", "torch")

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;#]+)\s*(;[^#]*)?(#.*)?$")


def normalize(name):
    """PEP 503: PyYAML, pyyaml and py_yaml are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text):
    """[(name, version, line)] of the `name==version` lines; anything else but comments is an error."""
    pins = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        if not match:
            raise ValueError("requirements line %d is not `name==version`: %r" % (number, raw))
        pins.append((match.group(1), match.group(3), line.split("#", 1)[0].strip()))
    return pins


def derive(text, environment):
    if environment not in ENVIRONMENTS:
        raise ValueError(
            "unknown environment %r (one of %s)" % (environment, ", ".join(ENVIRONMENTS))
        )
    pins = parse(text)
    names = {normalize(name) for name, _, _ in pins}
    missing = sorted(set(GPU) - names)
    if missing:
        raise ValueError(
            "requirements.txt no longer pins %s: update docker/requirements.py" % ", ".join(missing)
        )
    out = []
    for name, version, line in pins:
        key = normalize(name)
        if key in GPU:
            backend, template = GPU[key]
            if backend == environment:
                out.append(template.format(version=version))
        elif key in KERNEL_ONLY:
            if environment != "host":
                out.append(line)
        elif key in HOST_ONLY:
            if environment == "host":
                out.append(line)
        else:
            out.append(line)
    return out


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    path = argv[2] if len(argv) == 3 else "requirements.txt"
    with open(path) as f:
        text = f.read()
    try:
        lines = derive(text, argv[1])
    except ValueError as e:
        sys.stderr.write("docker/requirements.py: %s\n" % e)
        return 2
    sys.stdout.write("# derived from %s by docker/requirements.py %s\n" % (path, argv[1]))
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
