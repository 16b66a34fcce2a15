#!/usr/bin/env bash
# Lands one GPU call's runs (scripts/gpu_study.sh packs them into runs.tar.gz) in the study's
# runs folder: each finished run folder and the machine files (gpu-HHMM.txt). Left out: a run cut
# off at the call's end (no run.json; the runner retrains it on resume, and a half run must not be
# committed as one) and everything else in the pack (README.md there is the copy the call
# started from, older than this checkout's; profile/ is not a run). Beside the runs folder, as
# in output/reference/cpu/: a finished parity check (parity/parity.csv) replaces the study's
# parity/, and the harness measurement (harness/harness.csv) its harness.csv.
#   Usage: scripts/land_gpu_runs.sh RUNS_TAR_GZ [RUNS_FOLDER]   (default output/reference/h200/runs)
set -euo pipefail
tarball=${1:?usage: scripts/land_gpu_runs.sh RUNS_TAR_GZ [RUNS_FOLDER]}
dest=${2:-output/reference/h200/runs}
[ -f "$tarball" ] || { echo "land_gpu_runs: $tarball: no such file" >&2; exit 2; }
[ -d "$dest" ] || { echo "land_gpu_runs: $dest: no such folder" >&2; exit 2; }
dest=$(cd "$dest" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
tar -xzf "$tarball" -C "$tmp"
if [ -f "$tmp/parity/parity.csv" ]; then
  rm -rf "${dest:?}/../parity" && cp -r "$tmp/parity" "$dest/../parity"
  echo "landed: parity ($(($(wc -l < "$tmp/parity/parity.csv") - 1)) checks) in $(cd "$dest/.." && pwd)/parity"
fi
if [ -f "$tmp/harness/harness.csv" ] && ! cmp -s "$tmp/harness/harness.csv" "$dest/../harness.csv"; then
  cp "$tmp/harness/harness.csv" "$dest/../harness.csv" && echo "landed: harness.csv in $(cd "$dest/.." && pwd)"
fi
cd "$tmp/runs"
cp gpu-*.txt "$dest/" 2>/dev/null || true
landed=0
# A run folder is WORKLOAD/BACKEND/RUN (native floors too); a finished one has run.json.
while read -r run; do
  if [ ! -f "$run/run.json" ]; then
    echo "left out (cut off, no run.json): $run"
  elif ! cmp -s "$run/run.json" "$dest/$run/run.json"; then
    rm -rf "${dest:?}/$run" && mkdir -p "$dest/$run" && cp -r "$run/." "$dest/$run/"
    echo "landed: $run"
    landed=$((landed + 1))
  fi
done < <(find . -mindepth 3 -maxdepth 3 -type d -printf '%P\n' | sort)
echo "land_gpu_runs: $landed new or changed run(s) in $dest"
