#!/usr/bin/env bash
# The GPU study in one call of the lent machine, whose device time is short: the native floors,
# then Keras runs in priority order (MLP and CNN default+tuned first, then every other workload).
# Each stage is packed into $OUT/runs.tar.gz as soon as it ends, so a cut-off loses nothing that
# finished. The machine has PyTorch and JAX but no Keras or Jupyter stack: wheels come in .whl/,
# data in .gpudata/. Usage: scripts/device_gpu.sh SECONDS [EPOCHS_CAP]
set -uo pipefail
deadline=$(( $(date +%s) + ${1:-400} ))
cap=${2:-3}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/lib PYTHONUNBUFFERED=1 KERASBENCH_DATA=$PWD/.gpudata
out=/tmp/kb-gpu
mkdir -p $out/runs
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $out/runs/gpu.txt
python3 -m kerasbench.cli kernels install --backends jax,torch > /dev/null || exit 1
left() { echo $(( deadline - $(date +%s) )); }
pack() { tar -czf "$OUT/runs.tmp.tar.gz" -C $out runs && mv "$OUT/runs.tmp.tar.gz" "$OUT/runs.tar.gz"; echo "packed at $(date +%T), $(left) s left"; }
native() {  # WORKLOAD FRAMEWORK MODE EPOCHS
  [ "$(left)" -gt 30 ] || return 0
  timeout "$(left)" python3 -m kerasbench.native --workload $1 --framework $2 --mode $3 --epochs $4 \
    --data-dir .gpudata --device cuda --seed 0 --out $out/runs/$1/native-$2/$3-0 \
    > /tmp/native.log 2>&1 && echo "native $1 $2 $3: ok" || { echo "native $1 $2 $3: failed"; tail -3 /tmp/native.log; }
}
study() {  # kerasbench run arguments
  [ "$(left)" -gt 40 ] || { echo "skipped (no time): $*"; return 0; }
  timeout --signal=INT "$(left)" python3 -m kerasbench.cli run --profile full --out $out \
    --no-download --backends jax,torch "$@" 2>&1 | grep -v "^study:" ; pack
}
native mnist_mlp jax scan 4; native mnist_mlp torch compiled 4
native mnist_cnn jax scan 4; native mnist_cnn torch compiled 4; pack
study --workloads mnist_mlp --config default,tuned --set epochs=$cap
study --workloads mnist_cnn --config default,tuned --set epochs=$cap
study --workloads imdb_fasttext --set epochs=$cap
study --workloads imdb_bidirectional_lstm --set epochs=2
native imdb_bidirectional_lstm jax scan 2; native imdb_bidirectional_lstm torch compiled 2; pack
study --workloads lstm_text_generation --set epochs=2
study --workloads text_generator_keras --set epochs=2
study --workloads cifar10_cnn --allow-generated --set epochs=2
study --workloads mnist_mlp --backends torch --config compiled --set epochs=$cap
echo "done, $(left) s left"
