# syntax=docker/dockerfile:1
# kerasbench on an NVIDIA GPU: the study of Keras 3 on TensorFlow, JAX and PyTorch, then the report.
#
#   docker build -t kerasbench-gpu .
#   docker run --gpus all --rm -v "$PWD/output:/work/output" -v "$HOME/.keras/datasets:/data" kerasbench-gpu
#
# One virtual environment per backend, each a Jupyter kernel on its own Python:
#   /opt/venv             host: kerasbench, papermill, nbconvert, pandas, scipy, plotly (no Keras)
#   /opt/venv-tensorflow  kerasbench-tensorflow: Keras + tensorflow[and-cuda] (CUDA 12 wheels)
#   /opt/venv-jax         kerasbench-jax: Keras + jax[cuda13] (CUDA 13 wheels)
#   /opt/venv-torch       kerasbench-torch: Keras + torch (PyPI's Linux wheel is the CUDA 13.0 build)
# The frameworks bring their CUDA as pip nvidia-* wheels of different versions (TensorFlow 2.21 is
# still on CUDA 12), which overwrite each other in one site-packages. Every environment's pins are
# derived from requirements.txt while building (docker/requirements.py: the same pinned version,
# the GPU build of one framework), so the image cannot drift from `make study`.
#
# Needs an NVIDIA driver >= 580 (CUDA 13) and a Turing or newer GPU; the base image's
# NVIDIA_REQUIRE_CUDA makes the container runtime say so at `docker run` on an older driver.

ARG CUDA_IMAGE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# CUDA 13.0 like the JAX and PyTorch wheels. The kernels load the CUDA of their own environment
# first (docker/ld_library_path.py), never this image's; it is the runtime the driver is checked
# against. `--build-arg CUDA_IMAGE=nvidia/cuda:13.0.2-base-ubuntu24.04` leaves out the base
# image's own CUDA and cuDNN libraries (several GB), which no kernel loads.
FROM ${CUDA_IMAGE}

# The Python of every environment: 3.11, as on the development machines and in environment.yml.
ARG PYTHON_VERSION=3.11
ENV DEBIAN_FRONTEND=noninteractive \
    UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_PYTHON_PREFERENCE=only-managed \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    PYTHONUNBUFFERED=1

# git: run.json records the commit the study ran from. tini: reaps the kernels papermill starts.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git tini \
 && rm -rf /var/lib/apt/lists/*

# CPython from uv's standalone builds: Ubuntu 24.04's own is 3.12, and JAX 0.10 needs >= 3.11.
COPY --from=uv /uv /usr/local/bin/uv
RUN uv python install "${PYTHON_VERSION}"

# The environments, before the rest of the checkout, so that editing code does not reinstall them.
# One layer each (each is several GB).
WORKDIR /opt/kerasbench
COPY requirements.txt ./
COPY docker/requirements.py docker/venv.sh docker/check_venv.py docker/
RUN --mount=type=cache,target=/root/.cache/uv sh docker/venv.sh host /opt/venv
# hadolint ignore=DL3059
RUN --mount=type=cache,target=/root/.cache/uv sh docker/venv.sh tensorflow /opt/venv-tensorflow
# hadolint ignore=DL3059
RUN --mount=type=cache,target=/root/.cache/uv sh docker/venv.sh jax /opt/venv-jax
# hadolint ignore=DL3059
RUN --mount=type=cache,target=/root/.cache/uv sh docker/venv.sh torch /opt/venv-torch

# The project, editable like `make venv`: the kernels import kerasbench from /opt/kerasbench/lib
# and the runner reads notebooks/ and params/ there. Then one kernel per backend, each on its own
# environment's Python and CUDA libraries.
COPY . /opt/kerasbench
ENV PATH=/opt/venv/bin:$PATH
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --python /opt/venv/bin/python --no-deps -e /opt/kerasbench \
 && git config --system --add safe.directory /opt/kerasbench \
 && libs=$(/opt/venv-tensorflow/bin/python docker/ld_library_path.py) \
 && kerasbench kernels install --backends tensorflow --python /opt/venv-tensorflow/bin/python --ld-library-path "$libs" \
 && libs=$(/opt/venv-jax/bin/python docker/ld_library_path.py) \
 && kerasbench kernels install --backends jax --python /opt/venv-jax/bin/python --ld-library-path "$libs" \
 && libs=$(/opt/venv-torch/bin/python docker/ld_library_path.py) \
 && kerasbench kernels install --backends torch --python /opt/venv-torch/bin/python --ld-library-path "$libs" \
 && kerasbench kernels list \
 && chmod 0755 docker/study.sh \
 && ln -s /opt/kerasbench/docker/study.sh /usr/local/bin/kerasbench-study

# Mount the data at /data (missing files are downloaded there and checked) and a folder for the
# runs and the report at /work/output.
ENV KERASBENCH_DATA=/data \
    KERASBENCH_OUT=/work/output \
    KERASBENCH_BACKENDS=tensorflow,jax,torch
WORKDIR /work
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["kerasbench-study"]
