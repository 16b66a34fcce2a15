"""python -m kerasbench.native: one native training run into a run folder.

    python -m kerasbench.native --workload mnist_mlp --framework jax --mode scan \\
        --epochs 20 --batch-size 128 --data-dir ../shared/datasets --seed 0 --out RUN_DIR

Writes RUN_DIR/epochs.csv (a row per epoch) and RUN_DIR/run.json (last). Exit status 0 when the
run's status is "ok", 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys

from kerasbench.native import COMPILE_MODES, FRAMEWORKS
from kerasbench.native.specs import EVAL_BATCH_SIZE, WORKLOADS


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m kerasbench.native",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    p.add_argument("--framework", required=True, choices=FRAMEWORKS)
    p.add_argument(
        "--mode",
        required=True,
        choices=("step", "scan", "compiled"),
        help="jax: step or scan; torch: step or compiled",
    )
    p.add_argument("--epochs", type=int, default=None, help="default: the workload's 2017 value")
    p.add_argument("--batch-size", type=int, default=None, help="default: the workload's")
    p.add_argument("--train-samples", type=int, default=0, help="first N training examples; 0: all")
    p.add_argument("--test-samples", type=int, default=0, help="first N test examples; 0: all")
    p.add_argument(
        "--data-dir",
        default=None,
        help="folder with mnist.npz / imdb.npz (default: $KERASBENCH_DATA, "
        "else ~/.keras/datasets); missing data is generated and labelled so",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=0, help="recorded in run.json")
    p.add_argument("--out", required=True, help="the run folder")
    p.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default=None,
        help="default: cuda where the framework sees one",
    )
    p.add_argument(
        "--precision",
        choices=("float32", "tf32"),
        default="float32",
        help="float32 (default, TF32 off, as the Keras runs) or tf32",
    )
    p.add_argument("--eval-batch-size", type=int, default=EVAL_BATCH_SIZE)
    p.add_argument(
        "--compile-mode",
        choices=COMPILE_MODES,
        default="auto",
        help="torch compiled mode: auto = cuda-graph on CUDA, torch.compile default elsewhere",
    )
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.framework == "jax" and args.device == "cpu" and "jax" not in sys.modules:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")  # no GPU memory taken for a CPU run
    from kerasbench.native.loop import Config, run

    record = run(
        Config(
            workload=args.workload,
            framework=args.framework,
            mode=args.mode,
            out=args.out,
            epochs=args.epochs,
            batch_size=args.batch_size,
            train_samples=args.train_samples,
            test_samples=args.test_samples,
            data_dir=args.data_dir,
            seed=args.seed,
            repeat=args.repeat,
            device=args.device,
            precision=args.precision,
            eval_batch_size=args.eval_batch_size,
            compile_mode=args.compile_mode,
        )
    )
    print(
        f"{record['workload']} {record['backend']} {record['config']}: {record['status']}"
        + (f" - {record['error']}" if record["error"] else ""),
        file=sys.stderr,
    )
    return 0 if record["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
