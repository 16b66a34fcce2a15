# syntax=docker/dockerfile:1
# kerasbench's legacy backend: Keras 2.3.1 on CNTK 2.7 (Python 3.6), on the CPU.
#
#   docker build -f docker/cntk.Dockerfile -t kerasbench-cntk .
#   docker run --rm -v "$PWD/output:/work/output" -v "$HOME/.keras/datasets:/data" kerasbench-cntk
#
# CPU only: CNTK's last release (2.7, 2019) has its GPU build only for CUDA 10.0 and cuDNN 7,
# whose kernels stop at Turing (sm_75): CUDA 10 cannot drive Ampere, Ada or Hopper GPUs.
#
# One image, two Pythons. The kernel needs Python 3.6 (CNTK 2.7 has no wheel for a later one), but
# the host side (runner, papermill, report) needs Python >= 3.10. So the image is python:3.6 with
# the kernel environment /opt/venv-cntk (pip 21.3.1, the last for 3.6, then requirements-cntk.txt)
# plus the same host environment as the GPU image (/opt/venv, Python 3.11, from requirements.txt
# through docker/venv.sh), and one kernel, kerasbench-cntk. Run it into the GPU image's output
# folder and its report shows all four backends (runs already finished there are kept).

ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

# CNTK's wheels are x86_64 only: on an ARM machine this image (both stages) runs emulated.
# hadolint ignore=DL3029
FROM --platform=linux/amd64 ${UV_IMAGE} AS uv

# hadolint ignore=DL3029
FROM --platform=linux/amd64 python:3.6.15-bullseye

ARG PYTHON_VERSION=3.11
ENV DEBIAN_FRONTEND=noninteractive \
    UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_PYTHON_PREFERENCE=only-managed \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    PYTHONUNBUFFERED=1

# CNTK 2.7 links Open MPI 1.10 (libmpi.so.12, libmpi_cxx.so.1); Debian ships Open MPI 4
# (libmpi.so.40, libmpi_cxx.so.40), which serves CNTK's single-process use through two soname links
# in a folder of their own on LD_LIBRARY_PATH (the kernel's too). Debian 11 may have moved to
# archive.debian.org by the time this is built: apt falls back to it.
# hadolint ignore=DL3008
RUN if ! apt-get update; then \
        sed -i -e 's|deb.debian.org/debian-security|archive.debian.org/debian-security|' \
               -e 's|security.debian.org/debian-security|archive.debian.org/debian-security|' \
               -e 's|deb.debian.org/debian |archive.debian.org/debian |' \
               -e '/bullseye-updates/d' /etc/apt/sources.list \
     && apt-get -o Acquire::Check-Valid-Until=false update; \
    fi \
 && apt-get install -y --no-install-recommends libopenmpi3 tini \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /opt/cntk-mpi \
 && ln -s /usr/lib/x86_64-linux-gnu/libmpi.so.40 /opt/cntk-mpi/libmpi.so.12 \
 && ln -s /usr/lib/x86_64-linux-gnu/libmpi_cxx.so.40 /opt/cntk-mpi/libmpi_cxx.so.1
ENV LD_LIBRARY_PATH=/opt/cntk-mpi \
    KERAS_BACKEND=cntk

# The kernel environment, on the image's Python 3.6.
WORKDIR /opt/kerasbench
COPY requirements-cntk.txt ./
RUN python3.6 -m venv /opt/venv-cntk \
 && /opt/venv-cntk/bin/python -m pip install --no-cache-dir pip==21.3.1 \
 && /opt/venv-cntk/bin/python -m pip install --no-cache-dir -r requirements-cntk.txt \
 && /opt/venv-cntk/bin/python -m pip check \
 && /opt/venv-cntk/bin/python -c "import cntk, keras; assert keras.backend.backend() == 'cntk'; print('kerasbench-cntk: keras', keras.__version__, 'cntk', cntk.__version__)"

# The host environment, as in the GPU image.
COPY --from=uv /uv /usr/local/bin/uv
RUN uv python install "${PYTHON_VERSION}"
COPY requirements.txt ./
COPY docker/requirements.py docker/venv.sh docker/check_venv.py docker/
RUN --mount=type=cache,target=/root/.cache/uv sh docker/venv.sh host /opt/venv

COPY . /opt/kerasbench
ENV PATH=/opt/venv/bin:$PATH
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --python /opt/venv/bin/python --no-deps -e /opt/kerasbench \
 && git config --system --add safe.directory /opt/kerasbench \
 && kerasbench kernels install --backends cntk --python /opt/venv-cntk/bin/python --ld-library-path /opt/cntk-mpi \
 && kerasbench kernels list \
 && chmod 0755 docker/study.sh \
 && ln -s /opt/kerasbench/docker/study.sh /usr/local/bin/kerasbench-study

ENV KERASBENCH_DATA=/data \
    KERASBENCH_OUT=/work/output \
    KERASBENCH_BACKENDS=cntk
WORKDIR /work
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["kerasbench-study"]
