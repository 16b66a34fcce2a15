"""docker/check_venv.py BACKEND: stops the image build when a kernel environment is not what it says.

Run by docker/venv.sh with KERAS_BACKEND=BACKEND, during the build, so without a GPU: Keras must
load that backend, and the framework must be its CUDA build. A CPU wheel slipping in (a pip index
setting, a changed extra) would otherwise show only as slow runs.
"""

import importlib.metadata
import sys

import keras


def cuda_build(backend):
    """(is the CUDA build, what says so)."""
    if backend == "tensorflow":
        import tensorflow as tf

        build = tf.sysconfig.get_build_info()
        return tf.test.is_built_with_cuda(), "tensorflow %s, CUDA %s, cuDNN %s" % (
            tf.__version__,
            build.get("cuda_version"),
            build.get("cudnn_version"),
        )
    if backend == "jax":
        import jax

        names = {
            d.metadata["Name"].lower().replace("_", "-"): d.version
            for d in importlib.metadata.distributions()
        }
        plugins = sorted(
            "%s %s" % (name, version)
            for name, version in names.items()
            if name.startswith("jax-cuda")
            and name.endswith("-plugin")
            and version == jax.__version__
        )
        return bool(plugins), "jax %s, %s" % (
            jax.__version__,
            ", ".join(plugins) or "no CUDA plugin",
        )
    if backend == "torch":
        import torch

        return torch.version.cuda is not None, "torch %s, CUDA %s" % (
            torch.__version__,
            torch.version.cuda,
        )
    raise SystemExit("check_venv.py: unknown backend %r" % backend)


def main(backend):
    if keras.backend.backend() != backend:
        raise SystemExit(
            "check_venv.py: Keras loaded %r, not %r" % (keras.backend.backend(), backend)
        )
    ok, detail = cuda_build(backend)
    if not ok:
        raise SystemExit("check_venv.py: not the CUDA build: " + detail)
    print("kerasbench-%s: keras %s, %s" % (backend, keras.__version__, detail))


if __name__ == "__main__":
    main(sys.argv[1])
