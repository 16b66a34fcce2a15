"""How the report's time grows with the study: N generated run folders, loaded, summarised, drawn.

    .venv/bin/python benchmarks/report_scale.py --runs 1000 [--runs 10000] [--profile] [--report]
    .venv/bin/python benchmarks/report_scale.py --runs 1000 --keep /tmp/scale  # keep the folders

GENERATED DATA, NOT MEASUREMENTS. Every run folder written here is synthetic: epoch times drawn
around made-up means, accuracies from a formula. Each run.json says so (`data.source`
"generated", `data.detail` "benchmarks/report_scale.py: generated for a timing benchmark",
device "benchmark GPU" on hosts "bench-a"/"bench-b"), and so does the runs folder's README.md.
Never put these folders beside a real study.

The study: the seven workloads at their 2017 epoch counts x tensorflow, jax, torch x `default`
and `tuned`, plus the native-jax floor (`scan`) of three workloads; runs are dealt out
round-robin, so repeat r of every cell is written before repeat r+1; repeats alternate between
two machines; one run in 37 failed after two epochs. The files are written with runfiles (the
format's owner), as the runner writes them.

What is timed, once each, in this process, for each N (the parts that grow with the study),
after one untimed read of every file (`warm`), and after the imports (timed apart, a fixed cost);
wall and CPU seconds (CPU: this process, all its threads; on a shared machine the steadier):
  load     build.load: rundata.load_study of the runs folder and the shipped 2017 logs (what
           `kerasbench report` does first, and the notebook again in its kernel)
  summary  summary.build: per-run numbers, intervals, comparisons, notes, the coverage table
  page     every other code cell of notebooks/analysis.ipynb, executed here, each displayed
           object rendered to HTML as Jupyter renders it
`--report` also times report.build_report (papermill kernel, the same cells, nbconvert export):
that adds a fixed cost of several seconds (the kernel start, the export) to the parts above.
`--profile` prints cProfile's top functions (cumulative) for the largest N.

Target (issue 28): load + summary + page under 3 s for 1,000 runs and under 20 s for 10,000 on a
2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    import kerasbench  # noqa: F401
except ImportError:  # not installed: use the checkout's lib/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from kerasbench import registry, runfiles  # noqa: E402

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
CONFIGS = ("default", "tuned")
FLOOR = ("mnist_mlp", "mnist_cnn", "imdb_bidirectional_lstm")  # native-jax scan
HOSTS = ("bench-a", "bench-b")
DETAIL = "benchmarks/report_scale.py: generated for a timing benchmark"
NOTICE = (
    "# Generated data, not measurements\n\n"
    "Every run folder here was written by `benchmarks/report_scale.py` to time the report.\n"
)
NOTEBOOK = Path(registry.NOTEBOOKS_DIR) / "analysis.ipynb"


def cells():
    """(workload, backend, config) of the generated study, in the order runs are dealt out."""
    found = [(w, b, c) for w in EPOCHS for b in BACKENDS for c in CONFIGS]
    return found + [(w, "native-jax", "scan") for w in FLOOR]


def write_study(runs_dir: Path, n_runs: int, seed: int = 0) -> None:
    """n_runs generated run folders under runs_dir (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    plan = cells()
    runs_dir.mkdir(parents=True, exist_ok=True)
    (runs_dir / "README.md").write_text(NOTICE, encoding="utf-8")
    for i in range(n_runs):
        workload, backend, config = plan[i % len(plan)]
        repeat = i // len(plan)
        folder = runfiles.run_folder(str(runs_dir.parent), workload, backend, config, repeat)
        os.makedirs(folder)
        host = HOSTS[repeat % len(HOSTS)]
        failed = i % 37 == 36
        text = registry.WORKLOADS[workload].text_model
        base = (
            0.5
            + 0.2 * list(EPOCHS).index(workload)
            + (0.3 * BACKENDS.index(backend) if backend in BACKENDS else -0.2)
            - (0.1 if config == "tuned" else 0.0)
        ) * (1.1 if host == "bench-b" else 1.0)
        columns = list(runfiles.COLUMNS)
        if workload == "text_generator_keras":
            columns += ["aux_out_loss", "main_out_loss"]
        rows, elapsed = [], 0.0
        n_epochs = 2 if failed else EPOCHS[workload]
        for epoch in range(n_epochs):
            seconds = base * (4 if epoch == 0 else 1) * float(np.exp(0.05 * rng.standard_normal()))
            elapsed += seconds
            loss = 2.0 / (epoch + 1)
            row = {
                "epoch": epoch,
                "epoch_seconds": seconds,
                "train_seconds": None if text else 0.9 * seconds,
                "elapsed_seconds": elapsed,
                "samples_per_second": 1000 / seconds,
                "loss": loss,
                "accuracy": None if text else 1 - loss / 4,
                "val_loss": None if text else loss / 2,
                "val_accuracy": None if text else 1 - loss / 3,
            }
            if workload == "text_generator_keras":
                row.update(aux_out_loss=1.2 * loss, main_out_loss=0.9 * loss)
            rows.append(row)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: runfiles.cell(v) for k, v in row.items()})
        Path(folder, runfiles.EPOCHS_CSV).write_text(buffer.getvalue())
        if text:
            Path(folder, runfiles.SAMPLE_TXT).write_text("the philosopher " * 25)
        record = runfiles.record(
            workload,
            backend,
            "full",
            repeat,
            1000 + repeat,
            config,
            {"epochs": n_epochs if failed else EPOCHS[workload], "batch_size": 128},
            "failed" if failed else "ok",
            "RuntimeError: generated failure" if failed else None,
            runfiles.now(),
            elapsed + 5.0,
            kernel_info={
                "data": {"source": "generated", "detail": DETAIL},
                "versions": {"python": "3.11", "keras": "3.x", "backend_framework": backend},
                "device": {"cpu": "benchmark CPU", "gpu": "benchmark GPU", "host": host},
                "backend_settings": {"precision": "float32", "config": config},
                "trained_on": {"kind": "gpu", "devices": ["gpu:0"], "framework": backend},
            },
            host=host,
        )
        Path(folder, runfiles.RUN_JSON).write_text(json.dumps(record, indent=2, sort_keys=True))


def clocks() -> np.ndarray:
    """(wall seconds, CPU seconds of this process, all its threads)."""
    return np.array([time.perf_counter(), time.process_time()])


@contextlib.contextmanager
def timed(times: dict, name: str):
    start = clocks()
    try:
        yield
    finally:
        times[name] = times.get(name, 0.0) + clocks() - start


def run_notebook(out_dir: Path, times: dict) -> int:
    """Executes the analysis notebook's code cells here; returns the HTML's size in characters.

    build.load and summary.build are timed apart (times["load"], times["summary"]); the rest is
    the page (times["page"]): every display() rendered as Jupyter would render it."""
    import IPython.display
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    from kerasbench.report import build, summary

    formatter = InteractiveShell.instance().display_formatter
    formatter.active_types = formatter.format_types  # every type, as a notebook's kernel
    html = [0]

    def display(*objects, raw=False, **_):
        for obj in objects:
            if raw:  # a mimebundle already (plotly's renderer hands its figures over so)
                data = obj
            elif hasattr(obj, "_ipython_display_"):
                obj._ipython_display_()  # a figure: its renderer calls display(bundle, raw=True)
                continue
            else:
                data, _metadata = formatter.format(obj)
            html[0] += len(data.get("text/html") or data.get("text/markdown") or "")

    real = (IPython.display.display, build.load, summary.build)

    def load(*args, **kwargs):
        with timed(times, "load"):
            return real[1](*args, **kwargs)

    def summarize(*args, **kwargs):
        with timed(times, "summary"):
            return real[2](*args, **kwargs)

    IPython.display.display, build.load, summary.build = display, load, summarize
    try:
        notebook = nbformat.read(str(NOTEBOOK), as_version=4)
        namespace = {"__name__": "__main__"}
        start = clocks()
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            exec(compile(cell.source, "analysis.ipynb", "exec"), namespace)
            if "parameters" in cell.metadata.get("tags", []):
                namespace.update(out_dir=str(out_dir), runs_dir=str(out_dir / runfiles.RUNS))
        total = clocks() - start
    finally:
        IPython.display.display, build.load, summary.build = real
    times["page"] = total - times.get("load", 0.0) - times.get("summary", 0.0)
    return html[0]


def warm(runs_dir: Path) -> None:
    """Reads every file once, untimed: the disk's cache as right after a study wrote them, so
    that the figures measure the code, not the disk (a cold read of 10,000 folders adds seconds
    that depend on the machine)."""
    for folder, _, names in os.walk(runs_dir):
        for name in names:
            Path(folder, name).read_bytes()


def imports() -> float:
    """Imports what the notebook imports (pandas, scipy, plotly, IPython): a fixed cost, paid
    once per report in its kernel, timed apart from the parts that grow with the study."""
    start = time.perf_counter()
    import IPython.display  # noqa: F401
    import nbformat  # noqa: F401

    from kerasbench.report import breakdown, build, parity, sections, summary, tables  # noqa: F401

    return time.perf_counter() - start


def measure(n_runs: int, root: Path, report: bool, profile: bool) -> dict:
    out_dir = root / f"study-{n_runs}"
    runs_dir = out_dir / runfiles.RUNS
    if not runs_dir.is_dir():
        start = time.perf_counter()
        write_study(runs_dir, n_runs)
        print(f"wrote {n_runs} generated runs in {time.perf_counter() - start:.1f} s: {runs_dir}")
    warm(runs_dir)
    times: dict = {}
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    size = run_notebook(out_dir, times)
    if profiler:
        profiler.disable()
    parts = ", ".join(f"{k} {times[k][0]:.2f} s" for k in ("load", "summary", "page"))
    wall, cpu = sum(times[k] for k in ("load", "summary", "page"))
    print(
        f"{n_runs} runs: {wall:.2f} s wall, {cpu:.2f} s CPU ({parts}); "
        f"outputs {size / 1e6:.1f} M characters of HTML"
    )
    if report:
        from kerasbench.report import build

        start = time.perf_counter()
        build.build_report(runs_dir, out_dir / "report", references=None)
        times["report"] = time.perf_counter() - start
        print(f"{n_runs} runs: build_report {times['report']:.2f} s (papermill + export)")
    if profiler:
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(35)
        print(stream.getvalue())
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, action="append", help="N (repeatable); default 1000")
    parser.add_argument("--report", action="store_true", help="also time build_report")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest N")
    parser.add_argument("--keep", type=Path, help="write (or reuse) the studies here")
    args = parser.parse_args(argv)
    sizes = sorted(args.runs or [1000])
    root = args.keep or Path(tempfile.mkdtemp(prefix="kerasbench-scale-"))
    print(f"imports (fixed, not counted below): {imports():.2f} s")
    try:
        for n in sizes:
            measure(n, root, args.report, args.profile and n == sizes[-1])
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
