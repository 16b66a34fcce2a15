#!/usr/bin/env bash
# Builds what a call of the lent GPU machine carries (`carry: [".whl", ".gpudata"]`), both
# git-ignored: .whl/, the wheels of Keras and the notebook stack that machine lacks (it has
# Python 3.12 with PyTorch, JAX, numpy, pandas, h5py... but no Keras or Jupyter), at the versions
# pinned in requirements.txt; and .gpudata/, the study's data files from the shared datasets.
# A fresh workspace has neither, so run this before the first call of a session.
#   Usage: scripts/gpu_carry.sh [DATASETS_DIR]   (default: $KERASBENCH_DATA, else ../shared/datasets)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-${KERASBENCH_DATA:-../shared/datasets}}
[ -f "$data/mnist.npz" ] || { echo "gpu_carry: no mnist.npz in $data (give the datasets folder)"; exit 2; }

# Pins of what the GPU run needs from requirements.txt: Keras and the notebook execution stack.
pins=$(grep -E '^(keras|papermill|nbformat|nbclient|ipykernel|jupyter_client)==' requirements.txt)
# Already on the machine's image (the device tool's KINDS.md): a second copy in /tmp/site would
# shadow the one PyTorch and JAX were built against, so these stay out.
present=" absl-py attrs certifi charset-normalizer click h5py idna markdown-it-py mdurl ml-dtypes
 numpy packaging psutil pygments python-dateutil pyyaml requests rich tqdm typing-extensions urllib3 "
present=" $(echo $present) "  # one line, one space between names, for the match below
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
platforms=""
for p in manylinux_2_{31,28,27,24,17}_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  platforms="$platforms --platform $p"
done
# shellcheck disable=SC2086  # word splitting of the pins and platforms is meant
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
  $platforms -d "$tmp" $pins 2>&1 | grep -v "is ignored" || true
rm -rf .whl && mkdir .whl
for f in "$tmp"/*.whl; do
  name=$(basename "$f"); name=$(echo "${name%%-*}" | tr 'A-Z_' 'a-z-')
  case "$present" in *" $name "*) ;; *) cp "$f" .whl/ ;; esac
done
ls .whl/keras-*.whl > /dev/null 2>&1 || { echo "gpu_carry: no Keras wheel came (is PyPI reachable?)"; exit 1; }

rm -rf .gpudata && mkdir .gpudata
for f in mnist.npz imdb.npz cifar-10-python.tar.gz imdb_word_index.json nietzsche.txt SHA256SUMS; do
  # CIFAR-10 has no offline copy in the shared datasets: without one, its runs use generated data
  if [ -f "$data/$f" ]; then cp "$data/$f" .gpudata/; fi
done
echo "gpu_carry: .whl $(ls .whl | wc -l) wheels, $(du -sh .whl | cut -f1); .gpudata $(du -sh .gpudata | cut -f1)"
# What travels: these, the tracked files, less the report pages when a pad branch leaves them out
# (output/reference/h200/runs/README.md, "Resuming").
mib() { echo $(( $1 / 1048576 )); }
carried=$(du -sb .whl .gpudata | awk '{s += $1} END {print s}')
tracked=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
pages=$(git ls-files -z 'output/*report.html' | du -cb --files0-from=- | tail -1 | cut -f1)
echo "gpu_carry: travels $(mib $((carried + tracked))) MiB of 64 ($(mib $((carried + tracked - pages))) MiB without the $(mib "$pages") MiB of report pages)"
