"""Run folders and the 2017 logs as one tidy table, and the statistics the report shows.

Host side only: pandas, NumPy and SciPy, never Keras. Everything here is a function over pandas
frames so it can be tested against known answers; `plots` draws what these functions return and
`notebooks/analysis.ipynb` only calls the two.

The tidy table (`load_runs`, `load_reference`) has one row per epoch: the run's identity
(`RUN_COLUMNS`) followed by the `epochs.csv` columns (docs/design.md). `summarize` turns it into one
row per (source, workload, backend, config) with bootstrap intervals (`SUMMARY_COLUMNS` first).

Definitions the report relies on:
- mean_epoch_seconds: the mean over a run's epochs after the first (epoch 0 carries compilation and
  warm-up and is reported apart as warmup_seconds), averaged over the ok runs. The 2017 logs keep
  the study's own definition, the plain mean over all epochs (`mean_basis` says which).
- CI: percentile bootstrap (scipy.stats.bootstrap). With two or more ok runs it resamples the runs'
  means (`ci_basis` "runs"); with one run it resamples that run's epochs ("epochs (single run)"),
  which treats epochs as independent and so ignores run-to-run variation: the report says so.
- speedup_vs_fastest: this backend's mean epoch seconds / the fastest backend's in the same
  (source, workload, config). The fastest reads 1.0; 2.5 means "epochs take 2.5 times as long as on
  the fastest backend". Its CI resamples both backends independently (a ratio of means).
- runs: ok runs counted; epochs: epochs per run (the most any counted run logged).
- final_metric: the workload's registry metric at the last epoch (val_accuracy = test accuracy; the
  text models log training loss only), averaged over ok runs, with std/min/max over runs.

Why percentile and not BCa: with the 3-5 runs a study has, BCa's acceleration comes from a jackknife
of 3-5 means and its bias correction from where the observed mean falls in a bootstrap
distribution with a handful of distinct values; both are noisy and BCa returns NaN (with a
warning) on degenerate data. The percentile interval is always defined, respects monotone
transforms (a ratio's interval is the inverse ratio's, inverted) and is reproducible with plain
NumPy (tests/test_analysis.py does that). Neither method reaches 95% coverage with very few runs;
`coverage_note` states the shortfall the coverage simulation measures.
"""
from __future__ import annotations

import json
import math
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from kerasbench import registry

REFERENCE_SOURCE = "2017 K80 (Keras 2.0)"
REFERENCE_DIR = Path(__file__).resolve().parent / "reference" / "keras-cntk-2017-k80"

# What the 2017 study ran on (its README and blog post); it has no run.json to read this from.
REFERENCE_ENVIRONMENT = {
    "tensorflow": {"versions.keras": "2.0", "versions.backend_framework": "tensorflow 1.1",
                   "device.gpu": "NVIDIA Tesla K80 (one GPU)", "data.source": "full",
                   "backend_settings.precision": "float32"},
    "cntk": {"versions.keras": "2.0", "versions.backend_framework": "cntk 2.0",
             "device.gpu": "NVIDIA Tesla K80 (one GPU)", "data.source": "full",
             "backend_settings.precision": "float32"},
}

EPOCH_COLUMNS = ["epoch", "epoch_seconds", "train_seconds", "elapsed_seconds",
                 "samples_per_second", "loss", "accuracy", "val_loss", "val_accuracy"]
RUN_COLUMNS = ["source", "workload", "backend", "config", "repeat", "run_id", "status", "ok",
               "data_source", "profile", "mean_basis"]
SUMMARY_COLUMNS = ["source", "workload", "backend", "runs", "epochs", "mean_epoch_seconds",
                   "ci_low", "ci_high", "warmup_seconds", "final_metric_name", "final_metric",
                   "speedup_vs_fastest", "speedup_ci_low", "speedup_ci_high"]
SUMMARY_EXTRA_COLUMNS = ["config", "ci_basis", "mean_basis", "fastest_backend",
                         "final_metric_std", "final_metric_min", "final_metric_max",
                         "samples_per_second", "data_source", "profile", "not_ok_runs",
                         "confidence_level", "n_resamples", "ci_method",
                         "not_learning_runs", "floor_backend", "floor_seconds", "times_floor", "times_floor_ci_low",
                         "times_floor_ci_high", "native_seconds", "times_native"]

# Hand-written training loops (kerasbench.native) log as backend "native-<framework>", their
# mode ("scan", "compiled", "step") as the config. They are the floor, not a Keras backend.
NATIVE_PREFIX = "native-"

AFTER_FIRST = "epochs after the first"
ALL_EPOCHS = "all epochs (as 2017)"
CI_RUNS = "runs"
CI_EPOCHS = "epochs (single run)"
CI_METHOD = "percentile"
UNFINISHED = "unfinished"


class RunDataError(ValueError):
    """A runs folder or file the analysis cannot read; the message is one line naming the path."""


# ---------------------------------------------------------------------------------------------
# Loading

# Files that make a folder a run folder (docs/design.md); a folder with none of them is not a run.
RUN_FILES = ("run.json", "epochs.csv", "kernel.json", "notebook.ipynb", "sample.txt")


def _run_dirs(runs_dir: Path):
    """Every <workload>/<backend>/<repeat>/ folder holding one of RUN_FILES."""
    for workload_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for backend_dir in sorted(p for p in workload_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for run_dir in sorted((p for p in backend_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
                                  key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name)):
                if any((run_dir / name).is_file() for name in RUN_FILES):
                    yield run_dir


def _read_run_json(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDataError(f"damaged run.json: {path}: {e}") from None
    if not isinstance(data, dict):
        raise RunDataError(f"damaged run.json: {path}: not a JSON object")
    return data


def _read_epochs_csv(path: Path) -> pd.DataFrame:
    """epochs.csv as numbers; an empty file (killed before its first epoch ended) has no rows."""
    if path.stat().st_size == 0:
        return pd.DataFrame(columns=EPOCH_COLUMNS, dtype=float)
    try:
        frame = pd.read_csv(path, dtype=float)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=EPOCH_COLUMNS, dtype=float)
    except pd.errors.ParserError as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RunDataError(f"damaged epochs.csv: {path}: {message}") from None
    except (ValueError, UnicodeDecodeError):
        raise RunDataError(f"damaged epochs.csv: {path}: {_non_numeric(path)}") from None
    missing = [c for c in ("epoch", "epoch_seconds") if c not in frame.columns]
    if missing:
        raise RunDataError(f"damaged epochs.csv: {path}: missing column(s) {', '.join(missing)}")
    for column in EPOCH_COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan
    return frame


def _non_numeric(path: Path) -> str:
    """Which column of a CSV that would not parse as numbers holds text (for the message)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as e:
        return str(e).strip().splitlines()[0] if str(e).strip() else "not a CSV file"
    for column in frame.columns:
        try:
            pd.to_numeric(frame[column].replace("", np.nan), errors="raise")
        except (ValueError, TypeError):
            return f"column {column!r} is not numeric"
    return "not numeric"


def _repeat(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _source_label(devices) -> str:
    """'this study (<GPU or CPU>)': the device most runs in the folder used."""
    names = Counter()
    for device in devices:
        if isinstance(device, dict):
            name = device.get("gpu") or device.get("cpu")
            if name:
                names[str(name)] += 1
    return f"this study ({names.most_common(1)[0][0]})" if names else "this study"


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def load_run_index(runs_dir, source: str | None = None) -> pd.DataFrame:
    """One row per run folder under runs_dir (finished or not), with what run.json says about it.

    Columns: RUN_COLUMNS, then path, finished, error, data_detail, seed, n_epochs, sample_text,
    versions, device, backend_settings, params (the last four are dicts, {} when unknown).
    A folder without run.json is an unfinished run (status "unfinished").
    Raises RunDataError when runs_dir is not a folder or a run.json/epochs.csv is damaged.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RunDataError(f"runs folder not found: {runs_dir}")
    rows = []
    for run_dir in _run_dirs(runs_dir):
        run = _read_run_json(run_dir / "run.json")
        epochs_path = run_dir / "epochs.csv"
        n_epochs = len(_read_epochs_csv(epochs_path)) if epochs_path.exists() else 0
        sample_path = run_dir / "sample.txt"
        sample = sample_path.read_text(encoding="utf-8", errors="replace") if sample_path.exists() else None
        info = run or {}
        data = info.get("data") if isinstance(info.get("data"), dict) else {}
        status = str(info.get("status") or "unknown") if run is not None else UNFINISHED
        workload = str(info.get("workload") or run_dir.parent.parent.name)
        backend = str(info.get("backend") or run_dir.parent.name)
        repeat = _repeat(info.get("repeat", run_dir.name))
        rows.append({
            "workload": workload, "backend": backend,
            "config": str(info.get("config") or "default"), "repeat": repeat,
            "run_id": run_dir.relative_to(runs_dir).as_posix(), "status": status,
            "ok": status == "ok", "data_source": data.get("source"),
            "profile": info.get("profile"), "mean_basis": AFTER_FIRST,
            "path": str(run_dir), "finished": run is not None, "error": _text(info.get("error")),
            "data_detail": data.get("detail"), "seed": info.get("seed"), "n_epochs": n_epochs,
            "sample_text": sample,
            "versions": info.get("versions") if isinstance(info.get("versions"), dict) else {},
            "device": info.get("device") if isinstance(info.get("device"), dict) else {},
            "backend_settings": (info.get("backend_settings")
                                 if isinstance(info.get("backend_settings"), dict) else {}),
            "params": info.get("params") if isinstance(info.get("params"), dict) else {},
        })
    columns = RUN_COLUMNS + ["path", "finished", "error", "data_detail", "seed", "n_epochs",
                             "sample_text", "versions", "device", "backend_settings", "params"]
    index = pd.DataFrame(rows, columns=columns)
    index["source"] = source or _source_label(r["device"] for r in rows)
    return index[columns].astype({"ok": bool, "finished": bool})


def load_runs(runs_dir, source: str | None = None) -> pd.DataFrame:
    """Every epoch of every run folder under runs_dir: RUN_COLUMNS + epoch columns, one row each.

    Runs whose status is not "ok" are kept with ok=False; folders without run.json are kept with
    status "unfinished". `summarize` counts only ok runs. Raises RunDataError (see load_run_index).
    """
    index = load_run_index(runs_dir, source)
    frames = []
    for run in index.itertuples(index=False):
        epochs_path = Path(run.path) / "epochs.csv"
        if run.n_epochs and epochs_path.exists():
            frames.append(_read_epochs_csv(epochs_path).assign(run_id=run.run_id))
    if not frames:
        return _tidy([])
    table = pd.concat(frames, ignore_index=True)
    runs = index[RUN_COLUMNS].set_index("run_id")
    for column in RUN_COLUMNS:
        if column != "run_id":
            table[column] = table["run_id"].map(runs[column])
    table["ok"] = table["ok"].astype(bool)
    return _tidy([table])


def _tidy(frames) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object if c in RUN_COLUMNS else float)
                             for c in RUN_COLUMNS + EPOCH_COLUMNS}).astype({"ok": bool})
    table = pd.concat(frames, ignore_index=True)
    for column in EPOCH_COLUMNS:
        if column not in table.columns:
            table[column] = np.nan
    extra = sorted(c for c in table.columns if c not in RUN_COLUMNS + EPOCH_COLUMNS)
    table = table[RUN_COLUMNS + EPOCH_COLUMNS + extra]
    return table.sort_values(["source", "workload", "backend", "config", "run_id", "epoch"],
                             key=_sort_key, ignore_index=True)


def load_reference(dir=None) -> pd.DataFrame:
    """The 2017 K80 logs (`<workload>_<backend>.csv`) in the same schema as load_runs.

    acc -> accuracy, val_acc -> val_accuracy, elapsed (per-epoch seconds) -> epoch_seconds, with
    elapsed_seconds its running sum. text_generator_keras logged main_out's loss in its `loss`
    column (the script's own logger wrote logs['main_out_loss']), so it becomes main_out_loss there.
    dir=None reads the copy shipped in this package.
    """
    ref_dir = Path(dir) if dir is not None else REFERENCE_DIR
    if not ref_dir.is_dir():
        raise RunDataError(f"reference folder not found: {ref_dir}")
    frames = []
    for path in sorted(ref_dir.glob("*.csv")):
        workload, _, backend = path.stem.rpartition("_")
        if not workload:
            continue
        try:
            raw = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise RunDataError(f"damaged reference log: {path}: {str(e).strip().splitlines()[0]}") from None
        if not {"epoch", "elapsed"} <= set(raw.columns):
            raise RunDataError(f"damaged reference log: {path}: needs columns epoch and elapsed")
        raw = raw.apply(pd.to_numeric, errors="coerce").astype(float)
        frame = pd.DataFrame({
            "epoch": raw["epoch"], "epoch_seconds": raw["elapsed"], "train_seconds": np.nan,
            "elapsed_seconds": raw["elapsed"].cumsum(), "samples_per_second": np.nan,
            "loss": raw.get("loss", np.nan), "accuracy": raw.get("acc", np.nan),
            "val_loss": raw.get("val_loss", np.nan), "val_accuracy": raw.get("val_acc", np.nan),
        })
        if workload == "text_generator_keras":
            frame["main_out_loss"] = frame["loss"]
            frame["loss"] = np.nan
        run = {"source": REFERENCE_SOURCE, "workload": workload, "backend": backend,
               "config": "default", "repeat": 0, "run_id": f"2017/{workload}/{backend}",
               "status": "ok", "ok": True, "data_source": "full", "profile": "full",
               "mean_basis": ALL_EPOCHS}
        for column in reversed(RUN_COLUMNS):
            frame.insert(0, column, run[column])
        frames.append(frame)
    return _tidy(frames)


def combine(*tables: pd.DataFrame) -> pd.DataFrame:
    """Tidy tables (load_runs, load_reference) stacked into one."""
    return _tidy(list(tables))


# ---------------------------------------------------------------------------------------------
# Ordering: registry order for workloads and backends, new results before the 2017 ones

def _sort_key(series: pd.Series):
    if series.name == "workload":
        order = {name: i for i, name in enumerate(registry.WORKLOADS)}
        return series.map(lambda v: (order.get(v, len(order)), str(v)))
    if series.name == "backend":
        order = {name: i for i, name in enumerate(registry.BACKENDS)}
        return series.map(lambda v: (order.get(v, len(order)), str(v)))
    if series.name == "source":
        return series.map(lambda v: (v == REFERENCE_SOURCE, str(v)))
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        return series.map(str)
    return series


def metric_name(workload: str, columns=()) -> str:
    """The column the report follows for a workload (the registry's; val_accuracy or loss if unknown)."""
    if workload in registry.WORKLOADS:
        return registry.WORKLOADS[workload].metric
    return "val_accuracy" if "val_accuracy" in columns else "loss"


def workload_title(workload: str) -> str:
    return registry.WORKLOADS[workload].title if workload in registry.WORKLOADS else workload


def is_text_model(workload: str) -> bool:
    return workload in registry.WORKLOADS and registry.WORKLOADS[workload].text_model


# ---------------------------------------------------------------------------------------------
# Bootstrap

def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def _ratio_of_means(x, y, axis=-1):
    return np.mean(x, axis=axis) / np.mean(y, axis=axis)


def _finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[np.isfinite(x)]


def group_rng(seed: int, *key) -> np.random.Generator:
    """A generator for one group, derived from seed and the group's names.

    Each interval gets its own stream, so adding runs of another workload or backend does not
    change the intervals of this one.
    """
    tag = zlib.crc32("\x1f".join(str(k) for k in key).encode("utf-8"))
    return np.random.default_rng([int(seed), tag])


def bootstrap_mean_ci(values, *, confidence_level: float = 0.95, n_resamples: int = 10_000,
                      rng=None) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of values (NaNs dropped).

    No data or a single value: (nan, nan), one number says nothing about spread. Constant data:
    (value, value), every resample has the same mean. Never raises for degenerate input.
    """
    x = _finite(values)
    if x.size < 2:
        return math.nan, math.nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    res = stats.bootstrap((x,), _mean, n_resamples=n_resamples, vectorized=True,
                          confidence_level=confidence_level, method=CI_METHOD, rng=rng)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def bootstrap_ratio_ci(numerator, denominator, *, confidence_level: float = 0.95,
                       n_resamples: int = 10_000, rng=None) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(numerator) / mean(denominator).

    The two samples are resampled independently (different backends' runs are not paired).
    Either sample with fewer than two values: (nan, nan). Both constant: the ratio itself.
    """
    a, b = _finite(numerator), _finite(denominator)
    if a.size < 2 or b.size < 2:
        return math.nan, math.nan
    if np.all(a == a[0]) and np.all(b == b[0]):
        ratio = float(a[0] / b[0]) if b[0] != 0 else math.nan
        return ratio, ratio
    res = stats.bootstrap((a, b), _ratio_of_means, n_resamples=n_resamples, vectorized=True,
                          paired=False, confidence_level=confidence_level, method=CI_METHOD,
                          rng=rng)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


# ---------------------------------------------------------------------------------------------
# Statistics

GROUP = ["source", "workload", "backend", "config"]


def run_stats(epochs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: warm-up (first epoch), mean epoch seconds, final metric, throughput.

    mean_epoch_seconds follows the run's mean_basis: epochs after the first (new runs) or all
    epochs (2017). steady_seconds keeps the epoch times that mean is taken over (a list), for the
    single-run bootstrap.
    """
    rows = []
    if epochs.empty:
        return pd.DataFrame(columns=GROUP + ["run_id", "repeat", "status", "ok", "data_source",
                                             "profile", "mean_basis", "epochs", "warmup_seconds",
                                             "mean_epoch_seconds", "steady_seconds",
                                             "final_metric_name", "final_metric",
                                             "samples_per_second", "not_learning"])
    for keys, run in epochs.groupby(GROUP + ["run_id"], sort=False, dropna=False):
        run = run.sort_values("epoch")
        first = run.iloc[0]
        seconds = run["epoch_seconds"].to_numpy(dtype=float)
        steady = seconds if first["mean_basis"] == ALL_EPOCHS else seconds[1:]
        steady = steady[np.isfinite(steady)]
        steady_rate = run["samples_per_second"].to_numpy(dtype=float)[1:]
        steady_rate = steady_rate[np.isfinite(steady_rate)]
        metric = metric_name(keys[1], run.columns)
        final = float(run[metric].iloc[-1]) if metric in run.columns else math.nan
        losses = run["loss"].to_numpy(dtype=float) if "loss" in run.columns else np.array([])
        losses = losses[~np.isnan(losses)]  # a log without the column (2017 two-head model)
        rows.append({
            **dict(zip(GROUP + ["run_id"], keys)),
            "repeat": first["repeat"], "status": first["status"], "ok": bool(first["ok"]),
            "data_source": first["data_source"], "profile": first["profile"],
            "mean_basis": first["mean_basis"], "epochs": len(run),
            "warmup_seconds": float(seconds[0]),
            "mean_epoch_seconds": float(steady.mean()) if steady.size else math.nan,
            "steady_seconds": steady.tolist(),
            "final_metric_name": metric, "final_metric": final,
            "samples_per_second": float(steady_rate.mean()) if steady_rate.size else math.nan,
            # Did it learn? A training loss that ends no lower than it started (or non-finite).
            "not_learning": bool(losses.size >= 2 and not losses[-1] < losses[0]),
        })
    return pd.DataFrame(rows)


def _joined(values) -> str | None:
    seen = [str(v) for v in dict.fromkeys(values) if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return " / ".join(seen) if seen else None


def summarize(epochs: pd.DataFrame, *, confidence_level: float = 0.95,
              n_resamples: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """One row per (source, workload, backend, config): SUMMARY_COLUMNS, then SUMMARY_EXTRA_COLUMNS.

    Only ok runs enter the statistics; a group whose runs all failed is kept with runs=0 and NaN
    statistics, and not_ok_runs counts its failed/unfinished runs that logged epochs.
    """
    per_run = run_stats(epochs)
    rows = []
    samples = {}
    for keys, group in per_run.groupby(GROUP, sort=False, dropna=False):
        ok = group[group["ok"]]
        key = tuple(keys)
        row = dict(zip(GROUP, keys))
        row.update({"runs": len(ok), "not_ok_runs": int((~group["ok"]).sum()),
                    "not_learning_runs": int(ok["not_learning"].sum()),
                    "epochs": int(ok["epochs"].max()) if len(ok) else 0,
                    "final_metric_name": group["final_metric_name"].iloc[0],
                    "mean_basis": group["mean_basis"].iloc[0],
                    "data_source": _joined(ok["data_source"]),
                    "profile": _joined(ok["profile"]),
                    "confidence_level": confidence_level, "n_resamples": n_resamples,
                    "ci_method": CI_METHOD})
        run_means = ok["mean_epoch_seconds"].to_numpy(dtype=float)
        run_means = run_means[np.isfinite(run_means)]
        if run_means.size >= 2:
            basis, sample = CI_RUNS, run_means
        elif len(ok) >= 1:
            basis, sample = CI_EPOCHS, np.asarray(ok["steady_seconds"].iloc[0], dtype=float)
        else:
            basis, sample = None, np.array([])
        samples[key] = sample
        low, high = bootstrap_mean_ci(sample, confidence_level=confidence_level,
                                      n_resamples=n_resamples, rng=group_rng(seed, *key))
        finals = ok["final_metric"].to_numpy(dtype=float)
        row.update({
            "ci_basis": basis,
            "mean_epoch_seconds": float(run_means.mean()) if run_means.size else math.nan,
            "ci_low": low, "ci_high": high,
            "warmup_seconds": float(ok["warmup_seconds"].mean()) if len(ok) else math.nan,
            "final_metric": float(np.nanmean(finals)) if np.isfinite(finals).any() else math.nan,
            "final_metric_std": float(np.nanstd(finals, ddof=1)) if np.isfinite(finals).sum() >= 2 else math.nan,
            "final_metric_min": float(np.nanmin(finals)) if np.isfinite(finals).any() else math.nan,
            "final_metric_max": float(np.nanmax(finals)) if np.isfinite(finals).any() else math.nan,
            "samples_per_second": float(ok["samples_per_second"].mean()) if ok["samples_per_second"].notna().any() else math.nan,
        })
        rows.append(row)
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS + SUMMARY_EXTRA_COLUMNS)
    if summary.empty:
        return summary
    _add_speedups(summary, samples, confidence_level, n_resamples, seed)
    _add_floor(summary, samples, confidence_level, n_resamples, seed)
    return summary.sort_values(GROUP, key=_sort_key, ignore_index=True)


def is_native(backend) -> bool:
    return str(backend).startswith(NATIVE_PREFIX)


def _add_floor(summary, samples, confidence_level, n_resamples, seed):
    """Each Keras row's epoch time as a multiple of the floor: the fastest native loop of the same
    source and workload (times_floor, with a bootstrap CI on the ratio), and of the fastest native
    loop of its own framework (times_native: Keras on JAX against plain JAX)."""
    for column in ("floor_seconds", "times_floor", "times_floor_ci_low", "times_floor_ci_high",
                   "native_seconds", "times_native"):
        summary[column] = np.nan
    summary["floor_backend"] = None
    finite = np.isfinite(summary["mean_epoch_seconds"].astype(float))
    native = summary["backend"].map(is_native)
    for _, block in summary[finite].groupby(["source", "workload"], sort=False, dropna=False):
        natives = block[block["backend"].map(is_native)]
        if natives.empty:
            continue
        floor = natives.loc[natives["mean_epoch_seconds"].idxmin()]
        floor_key = tuple(floor[GROUP])
        for i, row in block[~native[block.index]].iterrows():
            key = tuple(row[GROUP])
            summary.at[i, "floor_backend"] = "%s %s" % (floor["backend"], floor["config"])
            summary.at[i, "floor_seconds"] = floor["mean_epoch_seconds"]
            summary.at[i, "times_floor"] = row["mean_epoch_seconds"] / floor["mean_epoch_seconds"]
            low, high = bootstrap_ratio_ci(
                samples[key], samples[floor_key], confidence_level=confidence_level,
                n_resamples=n_resamples, rng=group_rng(seed, *key, "vs floor"))
            summary.at[i, "times_floor_ci_low"], summary.at[i, "times_floor_ci_high"] = low, high
            own = natives[natives["backend"] == NATIVE_PREFIX + row["backend"]]
            if not own.empty:
                best = own["mean_epoch_seconds"].min()
                summary.at[i, "native_seconds"] = best
                summary.at[i, "times_native"] = row["mean_epoch_seconds"] / best


def _add_speedups(summary, samples, confidence_level, n_resamples, seed):
    fastest_backend = pd.Series(None, index=summary.index, dtype=object)
    ratio = pd.Series(np.nan, index=summary.index)
    low = ratio.copy()
    high = ratio.copy()
    keras_rows = summary[~summary["backend"].map(is_native)]  # native loops are not backends
    for _, block in keras_rows.groupby(["source", "workload", "config"], sort=False, dropna=False):
        timed = block[np.isfinite(block["mean_epoch_seconds"].astype(float))]
        if timed.empty:
            continue
        fastest = timed.loc[timed["mean_epoch_seconds"].idxmin()]
        fastest_key = tuple(fastest[GROUP])
        for i, row in timed.iterrows():
            key = tuple(row[GROUP])
            fastest_backend[i] = fastest["backend"]
            if key == fastest_key:
                # The fastest against itself is 1 by definition, not an estimate.
                ratio[i] = low[i] = high[i] = 1.0
                continue
            ratio[i] = row["mean_epoch_seconds"] / fastest["mean_epoch_seconds"]
            low[i], high[i] = bootstrap_ratio_ci(
                samples[key], samples[fastest_key], confidence_level=confidence_level,
                n_resamples=n_resamples, rng=group_rng(seed, *key, "vs", fastest["backend"]))
    summary["fastest_backend"] = fastest_backend
    summary["speedup_vs_fastest"] = ratio
    summary["speedup_ci_low"] = low
    summary["speedup_ci_high"] = high


def write_summary(summary: pd.DataFrame, out_dir) -> Path:
    """summary.csv in out_dir (created if needed); returns its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "summary.csv"
    columns = SUMMARY_COLUMNS + [c for c in summary.columns if c not in SUMMARY_COLUMNS]
    summary[columns].to_csv(path, index=False, float_format="%.10g")
    return path


def metric_curves(epochs: pd.DataFrame) -> pd.DataFrame:
    """Mean of each workload's metric per epoch over the ok runs of a (source, backend, config).

    Columns: source, workload, backend, config, metric, epoch, value, elapsed_seconds, runs.
    """
    parts = []
    for workload, block in epochs[epochs["ok"]].groupby("workload", sort=False):
        metric = metric_name(workload, block.columns)
        if metric not in block.columns:
            continue
        curve = (block.groupby(GROUP + ["epoch"], sort=False, dropna=False)
                 .agg(value=(metric, "mean"), elapsed_seconds=("elapsed_seconds", "mean"),
                      runs=("run_id", "nunique"))
                 .reset_index())
        curve.insert(4, "metric", metric)
        parts.append(curve)
    columns = GROUP + ["metric", "epoch", "value", "elapsed_seconds", "runs"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns].sort_values(
        GROUP + ["epoch"], key=_sort_key, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# What the report states beside the charts

# Coverage of a nominal 95% percentile interval of a mean over n runs with normal noise
# (10,000 simulated studies each; tests/test_analysis.py checks the 5-run figure).
SMALL_SAMPLE_COVERAGE = {2: 0.50, 3: 0.75, 4: 0.80, 5: 0.84, 6: 0.86, 7: 0.87, 8: 0.89, 9: 0.90}


def coverage_note(runs: int) -> str | None:
    """What a percentile interval over few runs really covers; None from 10 runs on."""
    coverage = SMALL_SAMPLE_COVERAGE.get(int(runs))
    if coverage is None:
        return None
    return (f"{runs} runs: a percentile bootstrap over so few runs is too narrow; a nominal 95% "
            f"interval covers the true mean only about {coverage:.0%} of the time (normal noise, "
            "simulated). Read it as a lower bound on the uncertainty.")


def notes(summary: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Handicaps to state beside each workload's charts: columns workload, source, backends, note.

    One row per distinct statement; `backends` lists the backends it concerns (None: the whole
    workload or source) and `note` is the sentence to print, prefixed with them.
    """
    found: dict[tuple, list] = {}

    def add(workload, source, text, backend=None):
        backends = found.setdefault((workload, source, text), [])
        if backend is not None and backend not in backends:
            backends.append(backend)

    not_ok: dict[tuple, Counter] = {}
    if runs is not None and not runs.empty:
        for run in runs[~runs["ok"]].itertuples(index=False):
            not_ok.setdefault((run.source, run.workload, run.backend), Counter())[run.status] += 1
    for workload, block in summary.groupby("workload", sort=False):
        if is_text_model(workload):
            add(workload, None, "Text model: no test set, so the metric is the final training loss "
                f"({metric_name(workload)}); lower is better.")
        if set(block["source"]) == {REFERENCE_SOURCE}:
            add(workload, None, "No runs of this workload in the runs folder: the 2017 numbers only.")
    for row in summary.itertuples(index=False):
        workload, source, backend = row.workload, row.source, row.backend
        reference = source == REFERENCE_SOURCE
        if reference:
            add(workload, source, "2017: one run per backend on a K80; its mean includes the first "
                "epoch, as the study computed it, and its interval is over that run's epochs.")
        if runs is not None:
            statuses = not_ok.get((source, workload, backend), Counter())
            if statuses:
                detail = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
                add(workload, source, f"{sum(statuses.values())} run(s) left out ({detail}; see "
                    "the failed runs table).", backend)
        elif row.not_ok_runs:
            add(workload, source, f"{row.not_ok_runs} run(s) failed or did not finish and are left "
                "out.", backend)
        if row.runs == 0:
            add(workload, source, "no run finished ok, so no statistics.", backend)
            continue
        if not reference:
            data = set(str(row.data_source or "").split(" / "))
            if "generated" in data:
                add(workload, source, "trained on generated data (the real dataset was not "
                    "available): the accuracy is not a result, only the time per epoch is.", backend)
            elif "subset" in data:
                add(workload, source, "trained on a subset of the data: accuracy and time per epoch "
                    "are not comparable with 2017.", backend)
            if row.profile and "full" not in str(row.profile).split(" / "):
                add(workload, source, f"profile {row.profile} (fewer epochs or less data than 2017): "
                    "the final metric is not comparable with 2017.", backend)
            if row.ci_basis == CI_EPOCHS:
                add(workload, source, "a single run, so the interval is over its epochs as if they "
                    "were independent; it does not cover run-to-run variation.", backend)
            note = coverage_note(int(row.runs)) if row.ci_basis == CI_RUNS else None
            if note:
                add(workload, source, note, backend)
        if getattr(row, "not_learning_runs", 0):
            add(workload, source, f"the training loss did not go down in {row.not_learning_runs} "
                f"of {row.runs} run(s) (it diverged or stuck): this backend did not learn the "
                "model as the others did; see its curve and generated text.", backend)
        if not np.isfinite(row.mean_epoch_seconds):
            add(workload, source, "only one epoch logged, so no steady-state time (epoch 0 is "
                "warm-up).", backend)
    if runs is not None and not runs.empty:
        logged = set(zip(summary["source"], summary["workload"], summary["backend"])) if not summary.empty else set()
        for run in runs[~runs["ok"]].itertuples(index=False):
            if (run.source, run.workload, run.backend) not in logged:
                add(run.workload, run.source, f"run {run.run_id} ended with status {run.status} "
                    "before logging an epoch.", run.backend)
    rows = [{"workload": workload, "source": source,
             "backends": ", ".join(backends) if backends else None,
             "note": f"{', '.join(backends)}: {text}" if backends else text}
            for (workload, source, text), backends in found.items()]
    return pd.DataFrame(rows, columns=["workload", "source", "backends", "note"])


STUDY_NOTES = "README.md"


def study_notes(runs_dir) -> str | None:
    """The runs folder's README.md, if any: what the person who ran the study says about it
    (machine limits, handicaps, what was left unrun), shown at the top of the report."""
    path = Path(runs_dir) / STUDY_NOTES
    return path.read_text(encoding="utf-8") if path.is_file() else None


def problem_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs that are not ok (failed, timeout, nan, unfinished) with their status and error."""
    columns = ["workload", "backend", "config", "repeat", "run_id", "status", "finished",
               "n_epochs", "error"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    bad = runs[~runs["ok"]]
    return bad[columns].sort_values(["workload", "backend", "run_id"], key=_sort_key, ignore_index=True)


def text_samples(runs: pd.DataFrame) -> pd.DataFrame:
    """Generated text per run (sample.txt): workload, backend, repeat, run_id, status, text."""
    columns = ["source", "workload", "backend", "repeat", "run_id", "status", "text"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    have = runs[runs["sample_text"].notna()].rename(columns={"sample_text": "text"})
    return have[columns].sort_values(["workload", "backend", "run_id"], key=_sort_key, ignore_index=True)


def _flatten(prefix: str, value, out: dict):
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif value is None:
        out[prefix] = "none"
    else:
        out[prefix] = value if isinstance(value, str) else json.dumps(value)


def environment(runs: pd.DataFrame, include_reference: bool = True) -> pd.DataFrame:
    """What ran where, per source and backend: columns source, backend, field, value.

    Fields are run.json's versions, device, data source and backend_settings, flattened
    ("versions.keras", "none" where run.json says null); where runs of a backend differ the
    distinct values are joined with " / ". Data details differ per workload and stay in run.json.
    Only finished runs are read (unfinished ones have no run.json).
    """
    rows = []
    if not runs.empty:
        for (source, backend), block in runs[runs["finished"]].groupby(["source", "backend"], sort=False):
            per_field: dict[str, list] = {}
            for run in block.itertuples(index=False):
                flat = {}
                for section in ("versions", "device", "backend_settings"):
                    _flatten(section, getattr(run, section), flat)
                flat["data.source"] = run.data_source
                for field, value in flat.items():
                    per_field.setdefault(field, []).append(value)
            for field, values in per_field.items():
                rows.append({"source": source, "backend": backend, "field": field,
                             "value": _joined(values)})
    if include_reference:
        for backend, env in REFERENCE_ENVIRONMENT.items():
            for field, value in env.items():
                rows.append({"source": REFERENCE_SOURCE, "backend": backend, "field": field,
                             "value": value})
    table = pd.DataFrame(rows, columns=["source", "backend", "field", "value"])
    return table.sort_values(["source", "backend"], key=_sort_key, kind="stable", ignore_index=True)
