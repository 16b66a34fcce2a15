"""Run folders and reference logs as one tidy table: one row per epoch, one source per origin.

Host side only (pandas, never Keras). The tidy table has one row per epoch: the run's identity
(`RUN_COLUMNS`) followed by the `epochs.csv` columns (docs/design.md). `load_study` reads a runs
folder and any number of reference folders into a `Study`, which is what the summary works on.

Sources: the runs of the runs folder are one source ("this study (<device>)"); every reference
folder is its own source, labelled by its `source.yaml` (`label`, `hardware`, optional `notes`
and `environment`) or, without one, by its folder name. A reference folder holds logs in the
2017 study's format: one `<workload>_<backend>.csv` per model and backend, columns `epoch`,
`elapsed` (seconds of that epoch), `loss`, `acc`, `val_loss`, `val_acc`.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from kerasbench import registry, runfiles

SHIPPED_REFERENCE = Path(__file__).resolve().parent.parent / "reference" / "keras-cntk-2017-k80"
SOURCE_FILE = "source.yaml"
STUDY_NOTES = "README.md"

EPOCH_COLUMNS = list(runfiles.COLUMNS)  # epochs.csv's leading columns: runfiles owns the format
RUN_COLUMNS = [
    "source",
    "reference",
    "workload",
    "backend",
    "config",
    "repeat",
    "run_id",
    "status",
    "ok",
    "data_source",
    "profile",
    "mean_basis",
    "machine",
]

# Hand-written training loops (kerasbench.native) log as backend "native-<framework>", their
# mode ("scan", "compiled", "step") as the config. They are the floor, not a Keras backend.
NATIVE_PREFIX = "native-"

AFTER_FIRST = "epochs after the first"
ALL_EPOCHS = "all epochs (the 2017 study's method)"
UNFINISHED = "unfinished"

# Files that make a folder a run folder (docs/design.md); a folder with none of them is not a run.
RUN_FILES = runfiles.FILES


class RunDataError(ValueError):
    """A runs folder or file the analysis cannot read; the message is one line naming the path."""


@dataclass
class Source:
    """Where a set of results comes from: this study's runs or one reference folder."""

    label: str
    reference: bool
    hardware: str | None = None
    notes: str | None = None
    folder: str | None = None
    environment: dict = field(default_factory=dict)


@dataclass
class Study:
    """Everything the report reads, loaded once: run index, epochs, sources, the study's notes."""

    runs: pd.DataFrame
    epochs: pd.DataFrame
    sources: list
    study_notes: str | None
    runs_dir: str


# ---------------------------------------------------------------------------------------------
# This study's runs


def _run_dirs(runs_dir: Path):
    """Every <workload>/<backend>/<repeat>/ folder holding one of RUN_FILES."""

    def visible(p):
        return p.is_dir() and not p.name.startswith(".")

    for workload_dir in sorted(p for p in runs_dir.iterdir() if visible(p)):
        for backend_dir in sorted(p for p in workload_dir.iterdir() if visible(p)):
            for run_dir in sorted(
                (p for p in backend_dir.iterdir() if visible(p)),
                key=lambda p: (
                    not p.name.isdigit(),
                    int(p.name) if p.name.isdigit() else 0,
                    p.name,
                ),
            ):
                if any((run_dir / name).is_file() for name in RUN_FILES):
                    yield run_dir


def read_epochs_csv(path) -> pd.DataFrame:
    """epochs.csv's whole rows as numbers (runfiles.read_epochs); an empty file (killed before
    its first epoch ended) has no rows. What is damaged is load_run_index's to report."""
    columns, rows, _ = runfiles.read_epochs(str(path))
    return epochs_frame(columns, rows)


def epochs_frame(columns, rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns or EPOCH_COLUMNS, dtype=float)
    for column in EPOCH_COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan
    return frame


def _repeat(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def source_label(devices) -> str:
    """'this study (<GPU or CPU>)': the device most runs in the folder used."""
    names = Counter()
    for device in devices:
        if isinstance(device, dict):
            name = device.get("gpu") or device.get("cpu")
            if name:
                names[str(name)] += 1
    return f"this study ({names.most_common(1)[0][0]})" if names else "this study"


# A run that trained on the CPU of a machine with a GPU (runfiles.trained_on): its machine is that
# CPU, named with this prefix, so it is never taken for the GPU beside it (notes.caveats says so).
CPU_ONLY = "CPU only: "


def trained_on_cpu_of_gpu_host(trained: dict | None, device: dict | None) -> bool:
    """True for a run that trained on the CPU although its machine has a GPU (asked or not)."""
    return bool(
        isinstance(trained, dict)
        and trained.get("kind") == "cpu"
        and isinstance(device, dict)
        and device.get("gpu")
    )


def machine_id(device: dict, host=None, trained: dict | None = None) -> str | None:
    """Which machine a run trained on: the GPU's UUID where the kernel recorded one, else the
    host name with the GPU (or CPU) model. None when run.json says nothing about it. A run that
    trained on the CPU of a machine with a GPU (`trained`: runfiles.trained_on) is that CPU,
    CPU_ONLY first."""
    device = device if isinstance(device, dict) else {}
    if trained_on_cpu_of_gpu_host(trained, device):
        return CPU_ONLY + " on ".join(
            str(v) for v in (device.get("cpu") or "CPU", device.get("host") or host) if v
        )
    if device.get("gpu_uuid"):
        return f"{device.get('gpu') or 'GPU'} {device['gpu_uuid']}"
    name = device.get("gpu") or device.get("cpu")
    host = device.get("host") or host
    if not (name or host):
        return None
    return " on ".join(str(v) for v in (name, host) if v)


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


INDEX_COLUMNS = RUN_COLUMNS + [
    "path",
    "finished",
    "error",
    "data_detail",
    "seed",
    "n_epochs",
    "sample_text",
    "versions",
    "device",
    "backend_settings",
    "params",
    "trained_on",
    "device_requested",
]


def load_run_index(runs_dir, source: str | None = None) -> pd.DataFrame:
    """One row per run folder under runs_dir (finished or not), with what run.json says about it.

    Columns: INDEX_COLUMNS (versions, device, backend_settings, params and trained_on are dicts,
    {} when unknown; trained_on is runfiles.trained_on's, which reads an older run's JAX devices
    too). A folder without run.json is an unfinished run (status "unfinished").
    Raises RunDataError when runs_dir is not a folder or runfiles.read_run finds a run folder
    damaged (a torn row in an ok run, run.json not an object, an ok run without epochs.csv).
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RunDataError(f"runs folder not found: {runs_dir}")
    rows = []
    for run_dir in _run_dirs(runs_dir):
        folder = runfiles.read_run(str(run_dir))
        if folder.damaged:
            # A torn row in an ok run, an ok run without epochs.csv, a run.json of the wrong
            # shape: never counted silently. The same `kerasbench run` retrains such a run.
            raise RunDataError(
                f"damaged {folder.why()} in {run_dir} (rerun the same "
                f"`kerasbench run` to retrain it)"
            )
        run = folder.record
        n_epochs = len(folder.epochs)
        sample_path = run_dir / "sample.txt"
        sample = (
            sample_path.read_text(encoding="utf-8", errors="replace")
            if sample_path.exists()
            else None
        )
        info = run or {}

        def section(name):
            return info.get(name) if isinstance(info.get(name), dict) else {}

        data = section("data")
        trained = runfiles.trained_on(info) or {}
        status = str(info.get("status") or "unknown") if run is not None else UNFINISHED
        rows.append(
            {
                "reference": False,
                "workload": str(info.get("workload") or run_dir.parent.parent.name),
                "backend": str(info.get("backend") or run_dir.parent.name),
                "config": str(info.get("config") or "default"),
                "repeat": _repeat(info.get("repeat", run_dir.name)),
                "run_id": run_dir.relative_to(runs_dir).as_posix(),
                "status": status,
                "ok": status == "ok",
                "data_source": data.get("source"),
                "profile": info.get("profile"),
                "mean_basis": AFTER_FIRST,
                "machine": machine_id(section("device"), info.get("host"), trained),
                "path": str(run_dir),
                "finished": run is not None,
                "error": _text(info.get("error")),
                "data_detail": data.get("detail"),
                "seed": info.get("seed"),
                "n_epochs": n_epochs,
                "sample_text": sample,
                "versions": section("versions"),
                "device": section("device"),
                "backend_settings": section("backend_settings"),
                "params": section("params"),
                "trained_on": trained,
                "device_requested": info.get("device_requested"),
            }
        )
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    index["source"] = source or source_label(r["device"] for r in rows)
    return index[INDEX_COLUMNS].astype({"ok": bool, "finished": bool, "reference": bool})


def load_runs(
    runs_dir, source: str | None = None, index: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every epoch of every run folder under runs_dir: RUN_COLUMNS + epoch columns, one row each.

    Runs whose status is not "ok" are kept with ok=False; folders without run.json are kept with
    status "unfinished". The summary counts only ok runs. Raises RunDataError (see load_run_index).
    """
    if index is None:
        index = load_run_index(runs_dir, source)
    frames = []
    for run in index.itertuples(index=False):
        if run.n_epochs:
            folder = runfiles.read_run(run.path)
            frames.append(epochs_frame(folder.columns, folder.epochs).assign(run_id=run.run_id))
    if not frames:
        return tidy([])
    table = pd.concat(frames, ignore_index=True)
    runs = index[RUN_COLUMNS].set_index("run_id")
    for column in RUN_COLUMNS:
        if column != "run_id":
            table[column] = table["run_id"].map(runs[column])
    table["ok"] = table["ok"].astype(bool)
    table["reference"] = table["reference"].astype(bool)
    return tidy([table])


def tidy(frames) -> pd.DataFrame:
    """Tidy tables stacked into one, in the report's order, columns RUN_COLUMNS + EPOCH_COLUMNS
    + any other metric sorted by name."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=object if c in RUN_COLUMNS else float)
                for c in RUN_COLUMNS + EPOCH_COLUMNS
            }
        ).astype({"ok": bool, "reference": bool})
    table = pd.concat(frames, ignore_index=True)
    for column in EPOCH_COLUMNS:
        if column not in table.columns:
            table[column] = np.nan
    extra = sorted(c for c in table.columns if c not in RUN_COLUMNS + EPOCH_COLUMNS)
    table = table[RUN_COLUMNS + EPOCH_COLUMNS + extra]
    return table.sort_values(
        ["reference", "source", "workload", "backend", "config", "run_id", "epoch"],
        key=sort_key,
        ignore_index=True,
    )


def combine(*tables: pd.DataFrame) -> pd.DataFrame:
    """Tidy tables (load_runs, load_reference) stacked into one."""
    return tidy(list(tables))


# ---------------------------------------------------------------------------------------------
# Reference folders


def read_source(ref_dir) -> Source:
    """A reference folder's source.yaml (label, hardware, notes, environment), or its folder name."""
    ref_dir = Path(ref_dir)
    path = ref_dir / SOURCE_FILE
    if not path.is_file():
        return Source(label=ref_dir.name, reference=True, folder=str(ref_dir))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise RunDataError(f"damaged {SOURCE_FILE}: {path}: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise RunDataError(f"damaged {SOURCE_FILE}: {path}: not a mapping")
    unknown = sorted(set(data) - {"label", "hardware", "notes", "environment"})
    if unknown:
        raise RunDataError(
            f"{path}: unknown key(s) {', '.join(unknown)} "
            "(expected label, hardware, notes, environment)"
        )
    environment = data.get("environment") or {}
    if not isinstance(environment, dict):
        raise RunDataError(f"{path}: environment must map backends to fields")
    return Source(
        label=str(data.get("label") or ref_dir.name),
        reference=True,
        hardware=data.get("hardware"),
        notes=data.get("notes"),
        folder=str(ref_dir),
        environment={
            str(b): {str(k): str(v) for k, v in (f or {}).items()} for b, f in environment.items()
        },
    )


def load_reference(ref_dir=None, source: Source | None = None) -> pd.DataFrame:
    """A reference folder's logs (`<workload>_<backend>.csv`) in the same schema as load_runs.

    acc -> accuracy, val_acc -> val_accuracy, elapsed (per-epoch seconds) -> epoch_seconds, with
    elapsed_seconds its running sum. text_generator_keras logged main_out's loss in its `loss`
    column (the script's own logger wrote logs['main_out_loss']), so it becomes main_out_loss there.
    ref_dir=None reads the 2017 copy shipped in this package.
    """
    ref_dir = Path(ref_dir) if ref_dir is not None else SHIPPED_REFERENCE
    if not ref_dir.is_dir():
        raise RunDataError(f"reference folder not found: {ref_dir}")
    source = source or read_source(ref_dir)
    frames = []
    for path in sorted(ref_dir.glob("*.csv")):
        workload, _, backend = path.stem.rpartition("_")
        if not workload:
            continue
        try:
            raw = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise RunDataError(
                f"damaged reference log: {path}: {str(e).strip().splitlines()[0]}"
            ) from None
        if not {"epoch", "elapsed"} <= set(raw.columns):
            raise RunDataError(f"damaged reference log: {path}: needs columns epoch and elapsed")
        raw = raw.apply(pd.to_numeric, errors="coerce").astype(float)
        frame = pd.DataFrame(
            {
                "epoch": raw["epoch"],
                "epoch_seconds": raw["elapsed"],
                "train_seconds": np.nan,
                "elapsed_seconds": raw["elapsed"].cumsum(),
                "samples_per_second": np.nan,
                "loss": raw.get("loss", np.nan),
                "accuracy": raw.get("acc", np.nan),
                "val_loss": raw.get("val_loss", np.nan),
                "val_accuracy": raw.get("val_acc", np.nan),
            }
        )
        if workload == "text_generator_keras":
            frame["main_out_loss"] = frame["loss"]
            frame["loss"] = np.nan
        run = {
            "source": source.label,
            "reference": True,
            "workload": workload,
            "backend": backend,
            "config": "default",
            "repeat": 0,
            "run_id": f"{source.label}/{workload}/{backend}",
            "status": "ok",
            "ok": True,
            "data_source": "full",
            "profile": "full",
            "mean_basis": ALL_EPOCHS,
            "machine": source.hardware or source.label,
        }
        for column in reversed(RUN_COLUMNS):
            frame.insert(0, column, run[column])
        frames.append(frame)
    if not frames:
        raise RunDataError(f"no reference logs (<workload>_<backend>.csv) in {ref_dir}")
    return tidy(frames)


# ---------------------------------------------------------------------------------------------
# The whole study


def study_notes(runs_dir) -> str | None:
    """The runs folder's README.md, if any: what the person who ran the study says about it
    (machine limits, handicaps, what was left unrun), shown in the report."""
    path = Path(runs_dir) / STUDY_NOTES
    return path.read_text(encoding="utf-8") if path.is_file() else None


def repo_path(path) -> Path:
    """A relative path as given where it exists from here, else relative to the repository root
    (so the notebook's default `output` works whether it runs from the root or from notebooks/)."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    from_root = Path(registry.ROOT) / path
    return from_root if from_root.exists() else path


def shown_path(path) -> str:
    """A folder as the page names it: relative to the repository root where it lies inside it,
    so a committed report does not carry the absolute path of whoever built it."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path(registry.ROOT).resolve()))
    except ValueError:
        return str(path)


def load_study(runs_dir, references=None) -> Study:
    """The runs folder and the reference folders (None: the shipped 2017 logs; [] none).

    Raises RunDataError for a missing runs or reference folder, a damaged file, two references
    with one label, or a runs folder without runs.
    """
    runs_dir = repo_path(runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise RunDataError(f"runs folder is not a folder: {runs_dir}")
    index = load_run_index(runs_dir)
    if index.empty:
        hint = (
            f"; did you mean {runs_dir / 'runs'}?"
            if (runs_dir / "runs").is_dir()
            else " (expected <workload>/<backend>/<repeat>/ folders with epochs.csv and run.json)"
        )
        raise RunDataError(f"no runs in {runs_dir}{hint}")
    label = index["source"].iloc[0]
    sources = [
        Source(
            label=label,
            reference=False,
            hardware=_joined(
                machine_id(d, None, t) for d, t in zip(index["device"], index["trained_on"])
            ),
            folder=str(runs_dir),
        )
    ]
    tables = [load_runs(runs_dir, index=index)]
    ref_dirs = [SHIPPED_REFERENCE] if references is None else [repo_path(r) for r in references]
    for ref_dir in ref_dirs:
        if not Path(ref_dir).is_dir():
            raise RunDataError(f"reference folder not found: {ref_dir}")
        source = read_source(ref_dir)
        if source.label in {s.label for s in sources}:
            raise RunDataError(
                f"two sources are labelled {source.label!r} ({ref_dir}): give one "
                f"of them a {SOURCE_FILE} with its own label"
            )
        sources.append(source)
        tables.append(load_reference(ref_dir, source))
    return Study(
        runs=index,
        epochs=tidy(tables),
        sources=sources,
        study_notes=study_notes(runs_dir),
        runs_dir=str(runs_dir),
    )


# ---------------------------------------------------------------------------------------------
# Order and names: registry order for workloads and backends, this study before references


def sort_key(series: pd.Series):
    if series.name == "workload":
        order = {name: i for i, name in enumerate(registry.WORKLOADS)}
        return series.map(lambda v: (order.get(v, len(order)), str(v)))
    if series.name == "backend":
        order = {name: i for i, name in enumerate(registry.BACKENDS)}
        return series.map(lambda v: (is_native(v), order.get(v, len(order)), str(v)))
    if series.name == "config":
        return series.map(lambda v: (v != "default", str(v)))
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        return series.map(str)
    return series


def is_native(backend) -> bool:
    return str(backend).startswith(NATIVE_PREFIX)


# Configurations that change Keras itself (params/configs.yaml, issue 15's documented patch): shown
# with their ratio, never "the fastest", which answers for Keras as users install it.
PATCHED_CONFIGS = ("keras-patched",)


def is_patched(config) -> bool:
    return str(config) in PATCHED_CONFIGS


# Issue 15's lever experiments (params/configs.yaml): each is one setting away from the configuration
# it was measured beside (`tuned-callbacks`; `default` for `quiet`), run to decide what `tuned`
# adopts. The verdict table shows one only where its verdict names it; every row stays in "All
# rows" and the floor table.
LEVER_CONFIGS = (
    "tuned-callbacks",
    "tuned-epoch",
    "tuned-compiled",
    "cudnn",
    "nocudnn",
    "quiet",
    "keras-patched",
)


def is_lever(config) -> bool:
    return str(config) in LEVER_CONFIGS


def metric_name(workload: str, columns=()) -> str:
    """The column the report follows for a workload (the registry's; val_accuracy or loss if unknown)."""
    if workload in registry.WORKLOADS:
        return registry.WORKLOADS[workload].metric
    return "val_accuracy" if "val_accuracy" in columns else "loss"


def workload_title(workload: str) -> str:
    return registry.WORKLOADS[workload].title if workload in registry.WORKLOADS else workload


def is_text_model(workload: str) -> bool:
    return workload in registry.WORKLOADS and registry.WORKLOADS[workload].text_model


def _joined(values) -> str | None:
    seen = [
        str(v)
        for v in dict.fromkeys(values)
        if v is not None and not (isinstance(v, float) and math.isnan(v))
    ]
    return " / ".join(seen) if seen else None


joined = _joined


# ---------------------------------------------------------------------------------------------
# Tables about runs


def problem_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs that are not ok (failed, timeout, nan, unfinished) with their status and error."""
    columns = [
        "workload",
        "backend",
        "config",
        "repeat",
        "run_id",
        "status",
        "finished",
        "n_epochs",
        "error",
    ]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    bad = runs[~runs["ok"]]
    return bad[columns].sort_values(
        ["workload", "backend", "run_id"], key=sort_key, ignore_index=True
    )


def text_samples(runs: pd.DataFrame) -> pd.DataFrame:
    """Generated text per run (sample.txt): workload, backend, config, repeat, run_id, status, text."""
    columns = ["source", "workload", "backend", "config", "repeat", "run_id", "status", "text"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    have = runs[runs["sample_text"].notna()].rename(columns={"sample_text": "text"})
    return have[columns].sort_values(
        ["workload", "backend", "run_id"], key=sort_key, ignore_index=True
    )


def _flatten(prefix: str, value, out: dict):
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif value is None:
        out[prefix] = "none"
    else:
        out[prefix] = value if isinstance(value, str) else json.dumps(value)


def trained_on_text(trained: dict | None, device: dict | None, requested=None) -> str | None:
    """Where a run on a machine with a GPU trained, in words: "gpu (cuda:0)", "cpu (cpu:0)"
    with "asked for" where --device cpu asked for it; "device not recorded" where its record
    does not say (TensorFlow before kernels recorded it). None on a machine without a GPU: there
    it can only have been the CPU."""
    if not (isinstance(device, dict) and device.get("gpu")):
        return None
    if isinstance(trained, dict) and trained.get("kind"):
        devices = ", ".join(str(d) for d in trained.get("devices") or [])
        text = f"{trained['kind']} ({devices})" if devices else str(trained["kind"])
        if requested == "cpu":
            text += ", asked for"
        elif not trained.get("recorded", True):
            text += f", from {trained.get('from')}"
        return text
    return "device not recorded"


def environment(study: Study) -> pd.DataFrame:
    """What ran where, per source and backend: columns source, backend, field, value.

    Fields are run.json's versions, device, data source and backend_settings, flattened
    ("versions.keras", "none" where run.json says null), and `trained_on` (trained_on_text);
    where runs of a backend differ the distinct values are joined with " / ". A reference's
    fields come from its source.yaml.
    """
    rows = []
    runs = study.runs
    if not runs.empty:
        for (source, backend), block in runs[runs["finished"]].groupby(
            ["source", "backend"], sort=False
        ):
            per_field: dict[str, list] = {}
            for run in block.itertuples(index=False):
                flat = {}
                for section in ("versions", "device", "backend_settings"):
                    _flatten(section, getattr(run, section), flat)
                flat["data.source"] = run.data_source
                where = trained_on_text(run.trained_on, run.device, run.device_requested)
                if where:
                    flat["trained_on"] = where
                for name, value in flat.items():
                    per_field.setdefault(name, []).append(value)
            for name, values in per_field.items():
                rows.append(
                    {"source": source, "backend": backend, "field": name, "value": _joined(values)}
                )
    for source in study.sources:
        if source.reference:
            for backend, fields in source.environment.items():
                for name, value in fields.items():
                    rows.append(
                        {"source": source.label, "backend": backend, "field": name, "value": value}
                    )
    return pd.DataFrame(rows, columns=["source", "backend", "field", "value"])
