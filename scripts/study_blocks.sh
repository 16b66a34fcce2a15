#!/usr/bin/env bash
# The study in blocks, within a time limit (a cluster job, any GPU host with a deadline).
# A block is one workload's repeat: every backend and configuration asked for, interleaved, on this
# one GPU, so that the report compares them within the block. A block starts only when its
# estimate fits in the time left (a block cut in two would put its halves on different machines);
# a later job resumes with the next block (`kerasbench run` skips every finished run).
# After every block, and when the time is up, OUT is packed into $PACK (when set) without the
# executed notebooks, so a job cut off loses only the block in progress.
#
#   Usage: scripts/study_blocks.sh SECONDS OUT WORKLOAD:BLOCKS[:ESTIMATE_SECONDS[:LATER_SECONDS]]... [-- RUN_OPTIONS]
#   e.g.   scripts/study_blocks.sh 580 /scratch/h200 mnist_mlp:1 mnist_cnn:1 -- --backends tensorflow,jax,torch
# Blocks count from 1: mnist_mlp:3 means repeats 0..2. A block OUT holds whole (every run done,
# as `kerasbench run --dry-run` says) needs no time and is passed over; once a block does not
# fit, the workload's later blocks wait too (`--repeats N` would train the earlier one in them).
# LATER_SECONDS: the estimate of blocks 2 and on (timing blocks, `--timing-epochs N` in
# RUN_OPTIONS, are shorter); default: with --timing-epochs, a 3-epoch timing block's measured
# time where there is one, else ESTIMATE_SECONDS. OUT must hold the study's earlier runs
# (a shared folder, or a copy of them): from an empty OUT, block 1 is trained again.
# RUN_OPTIONS go to every `kerasbench run` (default: --profile full --config default,tuned).
# The host side runs as `python3 -m kerasbench.cli` (PYTHONPATH as scripts/offline_host.py's env.sh sets it).
set -uo pipefail
deadline=$(( $(date +%s) + ${1:?usage: study_blocks.sh SECONDS OUT WORKLOAD:BLOCKS...} ))
out=${2:?usage: study_blocks.sh SECONDS OUT WORKLOAD:BLOCKS...}
shift 2
blocks=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do blocks+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
options=("$@")
[ ${#options[@]} -gt 0 ] || options=(--profile full --config default,tuned)
# Seconds one block of default and tuned on three backends took on an H200 or an H100, the
# longer of the two (full profile, start-up of each kernel included); a workload:blocks:seconds
# argument overrides it.
estimate() {
  case $1 in
    mnist_mlp|mnist_cnn) echo 330 ;; imdb_fasttext) echo 270 ;; lstm_text_generation) echo 400 ;;
    imdb_bidirectional_lstm) echo 560 ;; text_generator_keras) echo 720 ;;
    cifar10_cnn) echo 1500 ;; *) echo 600 ;;
  esac
}
# Seconds one timing block (--timing-epochs 3; default and tuned on three backends) took on an
# H100, the longer of two, start-up and packing included, with about a tenth more; a workload
# without one measured gets its first block's estimate ($2: given or estimate's).
timing_estimate() {
  case $1 in
    mnist_mlp) echo 150 ;; mnist_cnn) echo 220 ;; imdb_fasttext) echo 350 ;;
    lstm_text_generation) echo 320 ;; *) echo "$2" ;;
  esac
}
timing=false
for option in "${options[@]}"; do
  case $option in --timing-epochs | --timing-epochs=*) timing=true ;; esac
done
left() { echo $(( deadline - $(date +%s) )); }
# True when every run of repeat $2 - 1 of workload $1 is done in OUT.
block_done() {
  local states
  states=$(python3 -m kerasbench.cli run --out "$out" --workloads "$1" --repeats "$2" \
    "${options[@]}" --dry-run 2>/dev/null | grep "\"repeat\": $(( $2 - 1 )),")
  [ -n "$states" ] && ! grep -q -v '"state": "done"' <<< "$states"
}
pack() {
  [ -n "${PACK:-}" ] || return 0
  tar --exclude=notebook.ipynb -czf "$PACK.tmp" -C "$out" . && mv "$PACK.tmp" "$PACK"
  echo "packed $(du -h "$PACK" | cut -f1) at $(date +%T), $(left) s left"
}
mkdir -p "$out"
for block in "${blocks[@]}"; do
  IFS=: read -r workload count first later <<< "$block"
  first=${first:-$(estimate "$workload")}
  if [ -z "$later" ] && $timing; then later=$(timing_estimate "$workload" "$first"); fi
  for repeats in $(seq 1 "${count:-1}"); do
    if block_done "$workload" "$repeats"; then
      echo "study_blocks: $workload block $repeats done earlier"
      continue
    fi
    seconds=$first
    [ "$repeats" -gt 1 ] && seconds=${later:-$first}
    if [ "$(left)" -lt "$seconds" ]; then
      echo "study_blocks: $workload block $repeats not started (needs ~$seconds s, $(left) s left)"
      [ "$repeats" -lt "${count:-1}" ] &&
        echo "study_blocks: $workload blocks $((repeats + 1))-$count wait for block $repeats"
      break
    fi
    echo "== $(date +%T) $workload block $repeats (repeat $((repeats - 1)))"
    timeout --signal=INT "$(left)" python3 -m kerasbench.cli run --out "$out" --workloads "$workload" \
      --repeats "$repeats" "${options[@]}" 2>&1 | grep -v -e "it/s\]" -e "^study:"
    pack
  done
done
echo "study_blocks: done, $(left) s left"
