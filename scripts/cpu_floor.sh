#!/usr/bin/env bash
# The distance-to-the-floor table on this machine's CPU, for the three backends: MNIST MLP and CNN
# (quick profile) in the default and tuned configurations, the native loops on the same data
# beside them, and the report. Usage: scripts/cpu_floor.sh [OUT] (default output/reference/cpu)
set -uo pipefail
out=${1:-output/reference/cpu}
bin=${BIN:-.venv/bin}
$bin/kerasbench run --profile quick --workloads mnist_mlp,mnist_cnn \
  --backends tensorflow,jax,torch --config default,tuned --out "$out" || exit 1
native() {  # WORKLOAD FRAMEWORK MODE TRAIN TEST
  $bin/python -m kerasbench.native --workload $1 --framework $2 --mode $3 --epochs 3 \
    --train-samples $4 --test-samples $5 --device cpu --seed 0 \
    --out "$out/runs/$1/native-$2/$3-0" > /dev/null || echo "native $1 $2 $3 failed"
}
# The quick profile's data: MNIST MLP all of it, MNIST CNN the first 6,000 / 2,000.
native mnist_mlp jax scan 0 0; native mnist_mlp torch compiled 0 0
native mnist_cnn jax scan 6000 2000; native mnist_cnn torch compiled 6000 2000
$bin/kerasbench report --out "$out" --runs "$out/runs"
