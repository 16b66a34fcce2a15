#!/usr/bin/env bash
# The GPU study, resumable across slices of lent GPU time (the lent H200 gives about 25 usable
# minutes a session, at most 10 a call). It starts from the runs committed in
# output/reference/h200/runs (resume skips every finished run of the same plan), runs the named
# stages in the order given while time is left, and packs the runs folder into $OUT/runs.tar.gz
# after every stage, so a call cut off loses only the run in progress.
# The machine has PyTorch and JAX but no Keras/Jupyter stack: wheels come in .whl/, data in .gpudata/.
#   Usage: scripts/gpu_study.sh SECONDS STAGE...    (stages: see `stage` below; `list` prints them)
# Land each call's pack here with scripts/land_gpu_runs.sh .../runs.tar.gz (finished runs only).
# Repeats use seed = repeat number (kerasbench run --repeats N, base seed 0), backends interleaved.
set -uo pipefail
deadline=$(( $(date +%s) + ${1:?seconds} )); shift
out=/tmp/kb-gpu
left() { echo $(( deadline - $(date +%s) )); }
# Packed: runs/, profile/, parity/ and harness/, less what only the machine needs (parity's
# weights, predictions and 5 MB page: the report reads its CSVs; notebooks; JAX traces).
pack() { tar --exclude=notebook.ipynb --exclude=jax-trace --exclude='*.h5' --exclude='*.npz' --exclude=parity.html \
           -czf "$OUT/runs.tmp.tar.gz" -C $out runs $(cd $out && ls -d profile parity harness 2>/dev/null) \
           && mv "$OUT/runs.tmp.tar.gz" "$OUT/runs.tar.gz"; echo "packed at $(date +%T), $(left) s left"; }
fits() {  # ESTIMATED_SECONDS WHAT...: true when more time is left than the estimate, else says what is skipped
  [ "$(left)" -gt "$1" ] || { echo "skipped (needs ~$1 s, $(left) s left): ${*:2}"; return 1; }
}
run() {  # ESTIMATED_SECONDS kerasbench-run-arguments...: skipped when less time is left than the estimate
  local need=$1; shift
  fits "$need" "$@" || return 0
  echo "== $(date +%T) kerasbench run $*"
  timeout --signal=INT "$(left)" python3 -m kerasbench.cli run --profile full --out $out \
    --no-download --backends jax,torch "$@" 2>&1 | grep -v -e "^study:" -e "it/s\]" ; pack
}
native() {  # WORKLOAD EPOCHS [REPEATS]: the floor loops (JAX whole-epoch scan, PyTorch CUDA graphs),
  # repeat r with seed r, frameworks interleaved as the runner interleaves backends
  for r in $(seq 0 $(( ${3:-1} - 1 ))); do
    for fm in jax:scan torch:compiled; do
      [ "$(left)" -gt 60 ] || return 0
      f=${fm%%:*}; m=${fm##*:}; dir=$out/runs/$1/native-$f/$m-$r
      [ -f $dir/run.json ] && { echo "native $1 $f $m-$r: done earlier"; continue; }
      timeout "$(left)" python3 -m kerasbench.native --workload $1 --framework $f --mode $m \
        --epochs $2 --data-dir .gpudata --device cuda --seed $r --repeat $r --out $dir > /tmp/native.log 2>&1 \
        && echo "native $1 $f $m-$r: ok" || { echo "native $1 $f $m-$r: failed"; tail -3 /tmp/native.log; }
    done
    pack
  done
}
profile() {  # ESTIMATED_SECONDS WORKLOAD STEPS [CONFIG]: kerasbench profile on jax and torch (issue 15),
  # into $out/profile/<workload>/<backend>[-<config>]; a finished one (profile.json, status ok) is kept
  local need=$1 w=$2 steps=$3 config=${4:-default} gen=""
  [ "$w" = cifar10_cnn ] && gen="--set allow_generated=true"  # no CIFAR-10 files on the GPU machine
  for b in jax torch; do
    local dir=$out/profile/$w/$b; [ "$config" = default ] || dir=$dir-$config
    grep -qs '"status": "ok"' $dir/profile.json && { echo "profile $w $b $config: done earlier"; continue; }
    fits "$need" profile $w $b $config || continue
    echo "== $(date +%T) kerasbench profile --workload $w --backend $b --config $config --steps $steps"
    timeout --signal=INT "$(left)" python3 -m kerasbench.cli profile --workload $w --backend $b \
      --config $config --profile full --steps $steps --repeats 3 --no-download $gen --out $dir \
      --timeout "$(left)" 2>&1 | grep -v -e "^WARNING" -e "^I0000"
    pack
  done
}
harness() {  # ESTIMATED_SECONDS: the harness cost (papermill against a plain process), 3 pairs, MLP
  fits "$1" harness || return 0
  echo "== $(date +%T) kerasbench harness --workload mnist_mlp --backend jax --pairs 3"
  timeout "$(left)" python3 -m kerasbench.cli harness --workload mnist_mlp --backend jax \
    --profile full --pairs 3 --out $out/harness; pack
}
parity_check() {  # ESTIMATED_SECONDS: does it learn the same on the GPU? kerasbench parity, the seven
  # workloads, JAX as the reference against PyTorch, 10 steps, quick profile (CIFAR-10 on generated
  # data). On the 2-core CPU the 14 processes take 156 s; on the GPU each also starts CUDA.
  fits "$1" parity || return 0
  echo "== $(date +%T) kerasbench parity --workloads all --backends jax,torch --steps 10"
  timeout "$(left)" python3 -m kerasbench.cli parity --workloads all --backends jax,torch --steps 10 --no-download \
    --out $out/parity --timeout "$(left)" 2>&1 | grep -v -e "^WARNING" -e "^I0000"; pack
}
# Slice 1's text_generator_keras repeat 0 ran with allow_generated=true (real data all the same):
# another plan, which the runner will not overwrite unless told to. --force while such a run is here;
# `r1-textgen` replaces that pair alone (about 330 s), so r2/r3 then resume instead of retraining.
old_plan() { grep -qs '"allow_generated": true' $out/runs/$1/*/0/run.json && echo --force; }
stage() {
  case $1 in
    floors) native mnist_mlp 20; native mnist_cnn 12; native imdb_bidirectional_lstm 4 ;;
    # Issue 15's distance table with intervals: 3 paired repeats of the floors and of `tuned` on the
    # three workloads with a floor (the report pairs Keras and floor runs by repeat).
    floors-r3) native mnist_mlp 20 3; native mnist_cnn 12 3; native imdb_bidirectional_lstm 4 3 ;;
    tuned-r3) run 100 --workloads mnist_mlp,mnist_cnn --backends jax --config tuned --repeats 3
      run 200 --workloads imdb_bidirectional_lstm --config tuned --repeats 3 ;;
    r1-*|r2-*|r3-*) n=${1:1:1}; w=${1:3}
      case $w in mlp) run 130 --workloads mnist_mlp --repeats $n ;;  cnn) run 120 --workloads mnist_cnn --repeats $n ;;
        fasttext) run 100 --workloads imdb_fasttext --repeats $n ;;  bilstm) run 150 --workloads imdb_bidirectional_lstm --repeats $n ;;
        lstmtext) run 200 --workloads lstm_text_generation --repeats $n ;;  textgen) run 330 --workloads text_generator_keras --repeats $n $(old_plan text_generator_keras) ;;
        esac ;;
    # CIFAR-10 (generated data, 20 epochs): a PyTorch repeat takes about 470 s of a call's 600
    # (22 s an epoch on the H200, slice 7), so the backends cannot interleave within a call: all JAX
    # repeats in one call (about 135 s each), then one PyTorch repeat a call.
    # `tuned` has one run per backend: cifar-jax-tuned, cifar-torch-tuned (a call of its own too).
    cifar-jax) run 160 --workloads cifar10_cnn --allow-generated --backends jax --repeats 3 ;;
    cifar-torch) run 530 --workloads cifar10_cnn --allow-generated --backends torch --repeats 3 ;;
    cifar-jax-tuned) run 160 --workloads cifar10_cnn --allow-generated --backends jax --config tuned ;;
    cifar-torch-tuned) run 530 --workloads cifar10_cnn --allow-generated --backends torch --config tuned ;;
    tuned-*) w=${1:6}
      case $w in mlp) run 80 --workloads mnist_mlp --config tuned ;;  cnn) run 80 --workloads mnist_cnn --config tuned ;;
        fasttext) run 100 --workloads imdb_fasttext --config tuned ;;  bilstm) run 150 --workloads imdb_bidirectional_lstm --config tuned ;;
        lstmtext) run 200 --workloads lstm_text_generation --config tuned ;;  textgen) run 130 --workloads text_generator_keras --config tuned --backends jax  # a fits check per backend:
          run 290 --workloads text_generator_keras --config tuned --backends torch ;; esac ;;  # one for both cut torch off (slice 8)
    compiled) run 200 --workloads mnist_mlp,mnist_cnn --backends torch --config compiled ;;
    harness) harness 300 ;;
    parity) parity_check 300 ;;
    # Issue 15: where the time goes (kerasbench profile). `profile`: the three workloads with a
    # floor (about 5-6 minutes with the start-up, estimates: imports, compiles, 4 x 5 passes);
    # `profile-rest`: the other four (another call).
    profile) profile 45 mnist_mlp 200; profile 60 mnist_cnn 200; profile 100 imdb_bidirectional_lstm 100 ;;
    profile-rest) profile 60 imdb_fasttext 100; profile 100 lstm_text_generation 100
      profile 100 text_generator_keras 100; profile 120 cifar10_cnn 100 ;;
    profile-tuned) profile 45 mnist_mlp 200 tuned; profile 60 mnist_cnn 200 tuned
      profile 90 imdb_bidirectional_lstm 100 tuned ;;
    # Issue 15: Keras' levers, each beside `tuned-callbacks` (the `tuned` they were measured against,
    # before it adopted batch_callbacks: false) in one call.
    # keras-patched: tuned-epoch plus the documented JAX-trainer patch (params/configs.yaml).
    levers-mlp) run 200 --workloads mnist_mlp --backends jax --config tuned-callbacks,tuned-epoch,keras-patched
      run 200 --workloads mnist_mlp --backends torch --config tuned-callbacks,tuned-compiled ;;
    levers-cnn) run 200 --workloads mnist_cnn --backends jax --config tuned-callbacks,tuned-epoch,keras-patched
      run 300 --workloads mnist_cnn --backends torch --config tuned,tuned-callbacks,tuned-compiled ;;
    # PyTorch's generic LSTM loop (nocudnn) took 224 s for one BiLSTM epoch on the H200 (slice 3):
    # measured once, never retried; JAX's runs at cuDNN's speed.
    levers-bilstm) run 300 --workloads imdb_bidirectional_lstm --backends jax --config tuned-callbacks,cudnn,nocudnn
      run 150 --workloads imdb_bidirectional_lstm --backends torch --config tuned-callbacks,cudnn
      run 200 --workloads imdb_bidirectional_lstm --backends jax --config tuned-epoch,keras-patched ;;
    # The study's per-batch callbacks (batch_callbacks=False), on the two workloads where the
    # breakdown puts callbacks at a third of a JAX step: `quiet` beside `default` (other calls),
    # `tuned` (which adopted it in slice 4; these runs were `tuned-quiet`) beside `tuned-callbacks`.
    levers-quiet) run 250 --workloads mnist_mlp,mnist_cnn --backends jax --config quiet,tuned,tuned-callbacks
      run 150 --workloads mnist_mlp --backends torch --config tuned ;;
    mixed) run 200 --workloads mnist_mlp,mnist_cnn --config tuned,mixed ;;
    list) echo "floors floors-r3 tuned-r3 r1-textgen r2-{mlp,cnn,fasttext,bilstm,lstmtext,textgen} r3-... cifar-jax cifar-torch cifar-{jax,torch}-tuned tuned-{mlp,...} compiled harness parity profile profile-rest profile-tuned levers-{mlp,cnn,bilstm,quiet} mixed" ;;
    *) echo "unknown stage $1" ;;
  esac
}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/lib PYTHONUNBUFFERED=1 KERASBENCH_DATA=$PWD/.gpudata
mkdir -p $out/runs && cp -r output/reference/h200/runs/. $out/runs/
[ -d output/reference/h200/profile ] && mkdir -p $out/profile && cp -r output/reference/h200/profile/. $out/profile/
nvidia-smi --query-gpu=name,uuid,memory.total,driver_version --format=csv,noheader | tee $out/runs/gpu-$(date +%H%M).txt
python3 -m kerasbench.cli kernels install --backends jax,torch > /dev/null || exit 1
for s in "$@"; do stage "$s"; done
echo "done, $(left) s left"
