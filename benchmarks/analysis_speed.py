"""How long the analysis of a 100-run study takes, bootstraps included, and how big the report is.

    .venv/bin/python benchmarks/analysis_speed.py [--runs 100] [--resamples 10000] [--no-report]

Writes a generated study (the seven workloads at their full 2017 epoch counts, tensorflow, jax and
torch, repeats interleaved, a few failed runs) to a temporary folder, then times
1. the analysis: loading every run and the 2017 logs, the summary with all its bootstrap
   intervals (10,000 resamples each), the curves, notes and tables the report draws; and
2. the whole report: the same in a papermill kernel plus the HTML export.
Target for 1: under 10 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    import kerasbench  # noqa: F401
except ImportError:  # not installed: use the checkout's lib/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from kerasbench import analysis, registry, report  # noqa: E402

# Epochs per workload in the 2017 study (the `full` profile).
EPOCHS = {
    "imdb_bidirectional_lstm": 4,
    "imdb_fasttext": 5,
    "mnist_mlp": 20,
    "mnist_cnn": 12,
    "cifar10_cnn": 20,
    "lstm_text_generation": 10,
    "text_generator_keras": 10,
}
BACKENDS = ("tensorflow", "jax", "torch")


def write_study(root: Path, n_runs: int, seed: int = 0) -> None:
    """n_runs run folders spread over every workload x backend, as the runner writes them."""
    rng = np.random.default_rng(seed)
    groups = [(w, b) for w in registry.WORKLOADS for b in BACKENDS]
    for i in range(n_runs):
        workload, backend = groups[i % len(groups)]
        repeat = i // len(groups)
        run_dir = root / workload / backend / str(repeat)
        run_dir.mkdir(parents=True)
        text = registry.WORKLOADS[workload].text_model
        base = 1.0 + BACKENDS.index(backend) * 0.3 + rng.uniform(0, 0.1)
        failed = i % 37 == 36
        lines = []
        elapsed = 0.0
        n_epochs = 2 if failed else EPOCHS[workload]
        for epoch in range(n_epochs):
            seconds = base * (4 if epoch == 0 else 1) * (1 + 0.03 * rng.standard_normal())
            elapsed += seconds
            loss = 2.0 / (epoch + 1)
            metrics = (
                ["", "", ""]
                if text
                else [f"{1 - loss / 4:.6f}", f"{loss:.6f}", f"{1 - loss / 3:.6f}"]
            )
            cells = [
                epoch,
                f"{seconds:.6f}",
                "" if text else f"{0.9 * seconds:.6f}",
                f"{elapsed:.6f}",
                f"{1000 / seconds:.3f}",
                f"{loss:.6f}",
            ] + metrics
            if workload == "text_generator_keras":
                cells += [f"{loss * 1.2:.6f}", f"{loss * 0.9:.6f}"]
            lines.append(",".join(map(str, cells)))
        header = ",".join(
            analysis.EPOCH_COLUMNS
            + (["aux_out_loss", "main_out_loss"] if workload == "text_generator_keras" else [])
        )
        (run_dir / "epochs.csv").write_text(header + "\n" + "\n".join(lines) + "\n")
        if text:
            (run_dir / "sample.txt").write_text("the philosopher " * 25)
        (run_dir / "run.json").write_text(
            json.dumps(
                {
                    "schema": 1,
                    "workload": workload,
                    "backend": backend,
                    "profile": "full",
                    "repeat": repeat,
                    "seed": 1000 + repeat,
                    "config": "default",
                    "data": {"source": "full", "detail": "benchmark"},
                    "versions": {
                        "python": "3.11.7",
                        "keras": "3.15.1",
                        "backend_framework": backend,
                    },
                    "device": {"cpu": "benchmark CPU", "cores": 2, "gpu": "benchmark GPU"},
                    "backend_settings": {"precision": "float32"},
                    "status": "failed" if failed else "ok",
                    "error": "RuntimeError" if failed else None,
                }
            )
        )


def analyse(runs_dir: Path, n_resamples: int) -> None:
    """Everything the notebook computes, in-process."""
    runs = analysis.load_run_index(runs_dir)
    epochs = analysis.combine(analysis.load_runs(runs_dir), analysis.load_reference())
    summary = analysis.summarize(epochs, n_resamples=n_resamples, seed=0)
    analysis.metric_curves(epochs)
    analysis.notes(summary, runs)
    analysis.environment(runs)
    analysis.problem_runs(runs)
    analysis.text_samples(runs)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--no-report", action="store_true", help="time the analysis only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kerasbench-bench-") as tmp:
        runs_dir = Path(tmp) / "runs"
        write_study(runs_dir, args.runs)
        start = time.perf_counter()
        summary = analyse(runs_dir, args.resamples)
        seconds = time.perf_counter() - start
        intervals = int(
            summary["ci_low"].notna().sum()
            + (summary["speedup_ci_low"].notna() & (summary["speedup_vs_fastest"] != 1)).sum()
        )
        print(
            f"analysis of {args.runs} runs + the 2017 logs: {seconds:.2f} s "
            f"({len(summary)} summary rows, {intervals} bootstrap intervals x {args.resamples} resamples)"
        )
        if not args.no_report:
            start = time.perf_counter()
            html = report.build_report(runs_dir, Path(tmp) / "report", n_resamples=args.resamples)
            seconds = time.perf_counter() - start
            print(
                f"report (papermill kernel + analysis + HTML export): {seconds:.2f} s; "
                f"report.html {html.stat().st_size / 1e6:.2f} MB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
