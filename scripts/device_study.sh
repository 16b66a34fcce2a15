#!/usr/bin/env bash
# Runs `kerasbench run ARGS...` on a lent GPU machine that has PyTorch and JAX but no internet,
# Keras or Jupyter stack: installs the wheels carried in .whl/, registers the kernels with that
# machine's Python, reads the data carried in .gpudata/, and packs the runs into
# $OUT/runs-<label>.tar.gz. Usage: scripts/device_study.sh LABEL [kerasbench run arguments...]
set -uo pipefail
label=$1; shift
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/lib PYTHONUNBUFFERED=1
export KERASBENCH_DATA=$PWD/.gpudata
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -m kerasbench.cli kernels install --backends jax,torch > /dev/null || exit 1
# Stop in time to pack what finished (the call has a hard limit); finished runs are kept.
timeout --signal=INT "${KB_LIMIT:-530}" python3 -m kerasbench.cli run --out "/tmp/kb-$label" --no-download "$@"
status=$?
tar -czf "$OUT/runs-$label.tar.gz" -C "/tmp/kb-$label" runs
exit $status
