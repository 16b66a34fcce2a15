#!/usr/bin/env bash
# The distance-to-the-floor table on this machine's CPU, for the three backends: MNIST MLP and CNN
# (quick profile) in the default and tuned configurations, the native loops on the same data
# beside them (`kerasbench floor`: JAX scan and PyTorch compiled, the quick profile's epochs and
# data), and the report. Usage: scripts/cpu_floor.sh [OUT] (default output/reference/cpu)
set -uo pipefail
out=${1:-output/reference/cpu}
bin=${BIN:-.venv/bin}
$bin/kerasbench run --profile quick --workloads mnist_mlp,mnist_cnn \
  --backends tensorflow,jax,torch --config default,tuned --out "$out" --no-next || exit 1
$bin/kerasbench floor --profile quick --workloads mnist_mlp,mnist_cnn --device cpu --out "$out" \
  || echo "kerasbench floor: not every native loop ran ok (its lines above say which)"
$bin/kerasbench report --out "$out" --runs "$out/runs"
