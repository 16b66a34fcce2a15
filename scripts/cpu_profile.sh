#!/usr/bin/env bash
# Issue 15 on a CPU: `kerasbench profile` of MNIST MLP and CNN on the three Keras 3 backends into
# output/reference/cpu/profile/<workload>/<backend>/ (a CPU result: there is no separate device, so
# the device-compute part is an upper bound). One thread per backend: on the shared 2-core test
# machine, PyTorch's two-thread OpenMP pool ran 50x slower under other jobs' load.
#   Usage: scripts/cpu_profile.sh [MLP_STEPS CNN_STEPS REPEATS]   (defaults 40 10 5)
set -uo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 \
  TF_NUM_INTEROP_THREADS=1 XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
for w in mnist_mlp:${1:-40} mnist_cnn:${2:-10}; do
  for b in jax torch tensorflow; do
    name=${w%%:*}; steps=${w##*:}
    echo "== $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg): $name on $b, $steps steps x ${3:-5}"
    .venv/bin/kerasbench profile --workload $name --backend $b --profile full --steps $steps \
      --repeats ${3:-5} --no-download --out output/reference/cpu/profile/$name/$b 2>&1 \
      | grep -v -e oneDNN -e absl
  done
done
