"""Reference folders: the 2017 study's logs (or another study's, in its format) as tidy tables.

The only owner of a reference folder's format. A reference folder is a source of its own,
labelled by its `source.yaml` (`label`, `hardware`, optional `notes` and `environment`: what
`read_source` accepts) or, without one, by its folder name. It holds logs in the 2017 study's
format: one `<workload>_<backend>.csv` per model and backend (`reference_log_name`), columns
`epoch`, `elapsed` (seconds of that epoch), `loss`, `acc`, `val_loss`, `val_acc`, parsed
strictly (`read_reference_log`). `load_reference` turns them into the tidy table (tidy.py).
The shipped copy of the 2017 logs is SHIPPED_REFERENCE.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from kerasbench import registry, runfiles
from kerasbench.report.tidy import ALL_EPOCHS, RUN_COLUMNS, RunDataError, Source, tidy

SHIPPED_REFERENCE = Path(__file__).resolve().parent.parent / "reference" / "keras-cntk-2017-k80"
SOURCE_FILE = "source.yaml"


def read_source(ref_dir) -> Source:
    """A reference folder's source.yaml (label, hardware, notes, environment), or its folder name.

    label, hardware and notes are text (a number is quoted: `label: "2017"`); environment maps
    each backend to fields and their values (text, numbers or true/false). Anything else is one
    line naming the file and the key (RunDataError)."""
    ref_dir = Path(ref_dir)
    path = ref_dir / SOURCE_FILE
    if not path.is_file():
        return Source(label=ref_dir.name, reference=True, folder=str(ref_dir))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise RunDataError(f"damaged {SOURCE_FILE}: {path}: not UTF-8 text") from None
    except yaml.YAMLError as e:
        raise RunDataError(f"damaged {SOURCE_FILE}: {path}: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise RunDataError(f"damaged {SOURCE_FILE}: {path}: not a mapping")
    unknown = sorted(set(map(str, data)) - {"label", "hardware", "notes", "environment"})
    if unknown:
        raise RunDataError(
            f"{path}: unknown key(s) {', '.join(unknown)} "
            "(expected label, hardware, notes, environment)"
        )
    for key in ("label", "hardware", "notes"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise RunDataError(
                f"{path}: {key} is {_kind(value)} {_shown_value(value)}, not text "
                f'(quote it: {key}: "{value}")'
                if isinstance(value, (int, float, bool))
                else f"{path}: {key} is {_kind(value)}, not text"
            )
    if data.get("label") is not None and not data["label"].strip():
        raise RunDataError(f"{path}: label is empty: give the reference a name, or leave it out")
    environment = data.get("environment") or {}
    if not isinstance(environment, dict):
        raise RunDataError(f"{path}: environment must map backends to fields")
    fields = {}
    for backend, values in environment.items():
        if not isinstance(backend, str) or not isinstance(values, (dict, type(None))):
            raise RunDataError(
                f"{path}: environment: {backend!r} must be a backend's name mapping fields to "
                f"values, not {_kind(values)}"
            )
        for name, value in (values or {}).items():
            if not isinstance(name, str) or not isinstance(value, (str, int, float, bool)):
                raise RunDataError(
                    f"{path}: environment: {backend}: {name!r} is {_kind(value)}, not a value "
                    "(text, a number or true/false)"
                )
        fields[backend] = {k: str(v) for k, v in (values or {}).items()}
    return Source(
        label=data.get("label") or ref_dir.name,
        reference=True,
        hardware=data.get("hardware"),
        notes=data.get("notes"),
        folder=str(ref_dir),
        environment=fields,
    )


def _kind(value) -> str:
    return {
        "NoneType": "empty",
        "bool": "true/false",
        "int": "a number",
        "float": "a number",
        "list": "a list",
        "dict": "a mapping",
        "str": "text",
    }.get(type(value).__name__, type(value).__name__)


def _shown_value(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# A reference log's columns: (name in the log, the tidy table's column). `elapsed` is the
# epoch's seconds (a time: above 0); the others are numbers where given (an empty cell: none).
REFERENCE_COLUMNS = {
    "elapsed": "epoch_seconds",
    "loss": "loss",
    "acc": "accuracy",
    "val_loss": "val_loss",
    "val_acc": "val_accuracy",
}


def reference_log_name(path: Path) -> tuple[str, str]:
    """(workload, backend) a reference log's name says: `<workload>_<backend>.csv`, with a
    workload and a backend kerasbench knows (registry); anything else is refused by name
    (`mnist_mlp-cntk.csv` is not workload `mnist`, backend `mlp-cntk`)."""
    stem = path.stem
    for workload in sorted(registry.WORKLOADS, key=len, reverse=True):
        if stem.startswith(workload + "_") and stem[len(workload) + 1 :] in registry.BACKENDS:
            return workload, stem[len(workload) + 1 :]
    return _refuse_log_name(path)


def _refuse_log_name(path: Path):
    stem = path.stem
    workload = next((w for w in registry.WORKLOADS if stem.startswith(w + "_")), None)
    if workload:
        why = (
            f"{stem[len(workload) + 1 :]!r} is not a backend kerasbench knows "
            f"({', '.join(registry.BACKENDS)})"
        )
    else:
        why = f"no workload kerasbench knows ({', '.join(registry.WORKLOADS)}) begins its name"
    raise RunDataError(
        f"reference log {path}: not named <workload>_<backend>.csv: {why}; rename it, "
        "or move it out of the reference folder"
    )


def read_reference_log(path: Path) -> pd.DataFrame:
    """A 2017-format log as numbers, parsed strictly: columns epoch and elapsed, epochs
    numbered 0, 1, 2, ..., every elapsed a time in seconds (finite, above 0), loss, acc,
    val_loss and val_acc numbers or empty. Anything else is one line naming the file and the
    line (RunDataError); other columns are left out."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise RunDataError(
            f"damaged reference log: {path}: {str(e).strip().splitlines()[0]}"
        ) from None
    if not {"epoch", "elapsed"} <= set(raw.columns):
        raise RunDataError(f"damaged reference log: {path}: needs columns epoch and elapsed")
    if raw.empty:
        raise RunDataError(f"damaged reference log: {path}: no epochs in it")
    numbers = {}
    for column in ["epoch"] + [c for c in REFERENCE_COLUMNS if c in raw.columns]:
        text = raw[column].str.strip()
        values = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(dtype=float)
        if column == "epoch":
            bad = ~(values == np.arange(len(values)))
            need = "the epochs are numbered 0, 1, 2, ..."
        elif column == "elapsed":
            bad = ~((values > 0) & (values <= runfiles.MAX_SECONDS))
            need = "not a time in seconds (a number above 0)"
        else:
            bad = (text != "").to_numpy() & ~(np.abs(values) <= runfiles.MAX_NUMBER)
            need = "not a number"
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            more = int(bad.sum()) - 1
            raise RunDataError(
                f"damaged reference log: {path}, line {row + 2}: {column} is "
                f"{raw[column].iloc[row]!r}, {need}"
                + (f" (and {more} more line{'s' * (more != 1)})" if more else "")
            )
        numbers[column] = values
    return pd.DataFrame(numbers)


def load_reference(ref_dir=None, source: Source | None = None) -> pd.DataFrame:
    """A reference folder's logs (`<workload>_<backend>.csv`) in the same schema as load_runs.

    acc -> accuracy, val_acc -> val_accuracy, elapsed (per-epoch seconds) -> epoch_seconds, with
    elapsed_seconds its running sum. text_generator_keras logged main_out's loss in its `loss`
    column (the script's own logger wrote logs['main_out_loss']), so it becomes main_out_loss there.
    ref_dir=None reads the 2017 copy shipped in this package. Every .csv file in the folder is
    a log: a name that is not `<workload>_<backend>.csv` (reference_log_name) or a value that
    is not a number where one belongs (read_reference_log) is one line (RunDataError).
    """
    ref_dir = Path(ref_dir) if ref_dir is not None else SHIPPED_REFERENCE
    if not ref_dir.is_dir():
        raise RunDataError(f"reference folder not found: {ref_dir}")
    source = source or read_source(ref_dir)
    frames = []
    for path in sorted(ref_dir.glob("*.csv")):
        workload, backend = reference_log_name(path)
        raw = read_reference_log(path)
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
            "timing_block": False,
        }
        for column in reversed(RUN_COLUMNS):
            frame.insert(0, column, run[column])
        frames.append(frame)
    if not frames:
        raise RunDataError(f"no reference logs (<workload>_<backend>.csv) in {ref_dir}")
    return tidy(frames)
