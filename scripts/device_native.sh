#!/usr/bin/env bash
# The native floor loops (kerasbench.native) on the lent GPU machine, into
# /tmp/kb-native/runs/<workload>/native-<framework>/<mode>-0, packed as $OUT/runs-native.tar.gz.
# Usage: scripts/device_native.sh EPOCHS
set -uo pipefail
epochs=${1:-5}
export PYTHONPATH=$PWD/lib PYTHONUNBUFFERED=1
for w in mnist_mlp mnist_cnn imdb_bidirectional_lstm; do
  for fm in jax:step jax:scan torch:step torch:compiled; do
    f=${fm%%:*}; m=${fm##*:}
    e=$epochs; [ $w = imdb_bidirectional_lstm ] && e=4   # the 2017 epoch count
    timeout 120 python3 -m kerasbench.native --workload $w --framework $f --mode $m --epochs $e \
      --data-dir .gpudata --device cuda --seed 0 --out /tmp/kb-native/runs/$w/native-$f/$m-0 \
      > /tmp/kb-native.log 2>&1 && echo "native $w $f $m: ok" || { echo "native $w $f $m: failed"; tail -3 /tmp/kb-native.log; }
  done
done
tar -czf "$OUT/runs-native.tar.gz" -C /tmp/kb-native runs
