#!/bin/sh
# kerasbench-study [ARGS...]: the images' default command. The study, then the report, like
# `make study`: `kerasbench run` (full profile, the backends in $KERASBENCH_BACKENDS) into
# $KERASBENCH_OUT, then `kerasbench report` there. ARGS go to `kerasbench run` and win over the
# defaults: `kerasbench-study --profile quick --repeats 3 --workloads mnist_mlp`.
set -u
out=${KERASBENCH_OUT:-/work/output}
kerasbench run --profile full --backends "${KERASBENCH_BACKENDS:-tensorflow,jax,torch}" \
    --out "$out" "$@"
status=$?
# 0: every run ok; 1: some failed, and the report shows which; 2 or more: nothing ran (said above).
if [ "$status" -le 1 ]; then
    kerasbench report --out "$out" || exit $?
fi
exit "$status"
