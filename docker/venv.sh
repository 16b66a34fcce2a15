#!/bin/sh
# docker/venv.sh ENVIRONMENT VENV: builds one virtual environment of the images, from the checkout.
#
# ENVIRONMENT is host, tensorflow, jax or torch. Its requirements are derived from requirements.txt
# by docker/requirements.py (for a backend: the GPU build of that one framework at the pinned
# version, the other frameworks left out), kept as VENV/requirements-kerasbench.txt, installed with
# uv on the image's Python $PYTHON_VERSION, frozen to VENV/freeze-kerasbench.txt, and, for a
# backend, checked by docker/check_venv.py (Keras loads that backend; the framework is its CUDA
# build).
set -eu
environment=$1
venv=$2
python=$(uv python find --python-preference only-managed "${PYTHON_VERSION:?}")
uv venv --python "$python" --seed "$venv"
"$python" docker/requirements.py "$environment" requirements.txt > "$venv/requirements-kerasbench.txt"
uv pip install --python "$venv/bin/python" -r "$venv/requirements-kerasbench.txt"
# Everything that got installed, the CUDA and cuDNN wheels included (requirements.txt pins only
# what the project names): the record of what a study in this image ran on.
uv pip freeze --python "$venv/bin/python" > "$venv/freeze-kerasbench.txt"
if [ "$environment" != host ]; then
    KERAS_BACKEND=$environment TF_CPP_MIN_LOG_LEVEL=2 "$venv/bin/python" docker/check_venv.py "$environment"
fi
