#!/usr/bin/env bash
# The legacy CNTK kernel's environment: Keras 2.3.1 on CNTK 2.7 in a Python 3.6 virtual env.
#
#   scripts/setup_cntk.sh [VENV_DIR]      (default: .venv-cntk in the repository root)
#
# Idempotent: a second run reuses the venv and skips pip while requirements-cntk.txt is unchanged.
# Python 3.6 comes from $PYTHON36, else pyenv's versions/3.6.*, else python3.6 on PATH.
# CNTK 2.7 links against OpenMPI 1.10 (libmpi.so.12, libmpi_cxx.so.1); Debian's libopenmpi3
# (OpenMPI 4, ABI-compatible for what CNTK uses) stands in through two symlinks in
# VENV_DIR/mpi-compat, which the kernel gets as LD_LIBRARY_PATH. (`import cntk` runs
# `ldconfig -N -v $LD_LIBRARY_PATH`, which as root adds libmpi.so.40 / libmpi_cxx.so.40 links
# there too: harmless, they resolve to the same libraries.)
#
# The last two lines on stdout are what the Jupyter kernel needs:
#   KERNEL_PYTHON=/abs/path/to/VENV_DIR/bin/python
#   KERNEL_LD_LIBRARY_PATH=/abs/path/to/VENV_DIR/mpi-compat
# Exit codes: 0 ok, 3 no Python 3.6, 4 no OpenMPI, 1 anything else.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQUIREMENTS="$ROOT/requirements-cntk.txt"
VENV_DIR="${1:-$ROOT/.venv-cntk}"
case "$VENV_DIR" in /*) ;; *) VENV_DIR="$PWD/$VENV_DIR" ;; esac
PIP_VERSION=21.3.1
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { echo "setup_cntk: $*" >&2; }
die() { local code="$1"; shift; echo "setup_cntk: $*" >&2; exit "$code"; }

is_py36() { [ -x "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 6))' 2>/dev/null; }

# --- Python 3.6 -----------------------------------------------------------------------------
find_python36() {
    if [ -n "${PYTHON36:-}" ]; then
        is_py36 "$PYTHON36" && { echo "$PYTHON36"; return 0; }
        return 2
    fi
    local root="" candidate
    if command -v pyenv >/dev/null 2>&1; then root="$(pyenv root 2>/dev/null || true)"; fi
    for dir in "$root" "${PYENV_ROOT:-}" "${HOME:-/root}/.pyenv"; do
        [ -n "$dir" ] && [ -d "$dir/versions" ] || continue
        # The newest 3.6.x first.
        for candidate in $(ls -d "$dir"/versions/3.6.*/bin/python 2>/dev/null | sort -rV); do
            is_py36 "$candidate" && { echo "$candidate"; return 0; }
        done
    done
    candidate="$(command -v python3.6 2>/dev/null || true)"
    if [ -n "$candidate" ] && is_py36 "$candidate"; then echo "$candidate"; return 0; fi
    return 1
}
PY36="$(find_python36)" || {
    [ -z "${PYTHON36:-}" ] || die 3 "PYTHON36=$PYTHON36 is not a Python 3.6 interpreter: point it at one (pyenv install 3.6.15; or conda create -n py36 python=3.6; or the python:3.6 Docker image)"
    die 3 "no Python 3.6 found: get one (pyenv install 3.6.15; or conda create -n py36 python=3.6; or the python:3.6 Docker image), then set PYTHON36=/path/to/python3.6"
}
say "Python 3.6: $PY36 ($("$PY36" -c 'import platform; print(platform.python_version())'))"

# --- OpenMPI (libmpi.so.40 and libmpi_cxx.so.40) ----------------------------------------------
find_lib() {  # prints the path of a shared library, by ldconfig or Debian's multiarch folders
    local name="$1" path
    path="$( (ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true) \
             | awk -v n="$name" '$1 == n && /x86-64|64bit/ { print $NF; exit }')"
    if [ -z "$path" ]; then
        path="$( (ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true) \
                 | awk -v n="$name" '$1 == n { print $NF; exit }')"
    fi
    if [ -z "$path" ]; then
        for path in /usr/lib/x86_64-linux-gnu/"$name" /lib/x86_64-linux-gnu/"$name" \
                    /usr/lib/*-linux-gnu/"$name" /usr/lib/openmpi/lib/"$name"; do
            [ -e "$path" ] && break
            path=""
        done
    fi
    [ -n "$path" ] && [ -e "$path" ] && echo "$path"
}
if ! find_lib libmpi.so.40 >/dev/null || ! find_lib libmpi_cxx.so.40 >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing libopenmpi3 (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2 || die 4 "apt-get update failed: install libopenmpi3 by hand"
        apt-get install -y -qq --no-install-recommends libopenmpi3 >&2 \
            || die 4 "apt-get install libopenmpi3 failed: CNTK needs OpenMPI 4 with its C++ bindings (libmpi.so.40, libmpi_cxx.so.40)"
        ldconfig 2>/dev/null || true
    else
        die 4 "OpenMPI not found (libmpi.so.40, libmpi_cxx.so.40): install it, e.g. sudo apt-get install libopenmpi3, then rerun"
    fi
fi
LIBMPI="$(find_lib libmpi.so.40)" || die 4 "libmpi.so.40 still not found after installing libopenmpi3"
LIBMPI_CXX="$(find_lib libmpi_cxx.so.40)" || die 4 "libmpi_cxx.so.40 still not found after installing libopenmpi3"

# --- The virtual env ----------------------------------------------------------------------------
PY="$VENV_DIR/bin/python"
if [ -e "$VENV_DIR" ] && ! is_py36 "$PY"; then
    [ -f "$VENV_DIR/pyvenv.cfg" ] || die 1 "$VENV_DIR exists and is not a virtual env: remove it or pass another VENV_DIR"
    say "recreating $VENV_DIR (not a working Python 3.6 venv)"
    rm -rf "$VENV_DIR"
fi
if [ ! -e "$PY" ]; then
    say "creating $VENV_DIR"
    "$PY36" -m venv "$VENV_DIR"
fi

STAMP="$VENV_DIR/.requirements-cntk.sha256"
WANT="$( (sha256sum "$REQUIREMENTS"; echo "pip==$PIP_VERSION"; "$PY" -V 2>&1) | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
    rm -f "$STAMP"
    if [ "$("$PY" -m pip --version 2>/dev/null | awk '{print $2}')" != "$PIP_VERSION" ]; then
        say "pip $PIP_VERSION"
        # (pip 18 trips over PIP_NO_CACHE_DIR=1; 21.3.1 reads it fine)
        env -u PIP_NO_CACHE_DIR "$PY" -m pip install -q "pip==$PIP_VERSION" >&2
    fi
    say "installing requirements-cntk.txt"
    "$PY" -m pip install -q -r "$REQUIREMENTS" >&2
    "$PY" -m pip check >&2 || die 1 "pip check failed in $VENV_DIR"
    echo "$WANT" > "$STAMP"
else
    say "requirements-cntk.txt already installed"
fi

# --- OpenMPI 1.10 sonames -----------------------------------------------------------------------
COMPAT="$VENV_DIR/mpi-compat"
mkdir -p "$COMPAT"
ln -sfn "$LIBMPI" "$COMPAT/libmpi.so.12"
ln -sfn "$LIBMPI_CXX" "$COMPAT/libmpi_cxx.so.1"

# --- Smoke check --------------------------------------------------------------------------------
ERR="$(mktemp)"
trap 'rm -f "$ERR"' EXIT
if ! GOT="$(cd / && env KERAS_BACKEND=cntk LD_LIBRARY_PATH="$COMPAT" "$PY" -c \
        'import keras, cntk; print(keras.backend.backend(), keras.__version__, cntk.__version__)' \
        2>"$ERR" | tail -1)" || [ "${GOT%% *}" != cntk ]; then
    tail -20 "$ERR" >&2
    rm -f "$STAMP"  # the next run reinstalls
    die 1 "smoke check failed: KERAS_BACKEND=cntk LD_LIBRARY_PATH=$COMPAT $PY -c 'import keras, cntk' (got: ${GOT:-nothing})"
fi
set -- $GOT
say "ok: keras $2 on cntk $3"

echo "KERNEL_PYTHON=$PY"
echo "KERNEL_LD_LIBRARY_PATH=$COMPAT"
