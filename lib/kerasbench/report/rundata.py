"""A study's runs folder and its references read into tables: what the summary works on.

Host side only (pandas, never Keras). `load_study` reads a runs folder (`load_run_index`: one
row per run folder, what its run.json says; `load_runs`: every epoch, the tidy table of tidy.py)
and any number of reference folders (references.py) into a `Study`. The runs of the runs folder
are one source ("this study (<device>)"); every reference folder is its own source. Beside the
loading: the runs folder's README.md (`study_notes`) and the tables of runs the page lists
(`problem_runs`, `text_samples`).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench import registry, runfiles, studyfiles
from kerasbench.report.machines import machine_id, source_label
from kerasbench.report.naming import joined, sort_key
from kerasbench.report.references import (
    SHIPPED_REFERENCE,
    SOURCE_FILE,
    load_reference,
    read_source,
)
from kerasbench.report.tidy import (
    AFTER_FIRST,
    BOOL_FACTS,
    RUN_COLUMNS,
    RUN_IDENTITY,
    UNFINISHED,
    RunDataError,
    Source,
    tidy,
)

STUDY_NOTES = "README.md"

# Files that make a folder a run folder (docs/design.md); a folder with none of them is not a run.
RUN_FILES = runfiles.FILES


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
    """(path, identity, refusal) of every entry under <workload>/<backend>/ that holds a run:
    a folder holding one of RUN_FILES (identity: runfiles.path_identity, refusal None), a folder
    holding one under a name that is not a run folder's ("0 copy", "00"), and a symbolic link
    that leads to no folder (identity None, refusal: why). Hidden entries are left out, as are
    folders without a run file. A symbolic link to a folder is followed: its own path says
    which run it is, and read_run holds its run.json to that."""

    def listed(folder):
        with os.scandir(folder) as entries:
            return sorted((e for e in entries if not e.name.startswith(".")), key=_name_order)

    for workload_dir in listed(runs_dir):
        if not os.path.isdir(workload_dir.path):  # False for a link that leads nowhere, too
            continue
        for backend_dir in listed(workload_dir.path):
            if not os.path.isdir(backend_dir.path):
                continue
            for entry in listed(backend_dir.path):
                path = Path(entry.path)
                if not os.path.isdir(entry.path):
                    if entry.is_symlink():
                        yield (
                            path,
                            None,
                            (
                                f"a symbolic link to {os.readlink(entry.path)}, which is no "
                                "folder: remove it, or link it to the run folder it stood for"
                            ),
                        )
                    continue
                try:
                    names = set(os.listdir(entry.path))
                except OSError as e:
                    yield path, None, f"cannot be read ({e.strerror or e})"
                    continue
                if names.isdisjoint(RUN_FILES):
                    continue
                identity = runfiles.path_identity(entry.path)
                if identity is None:
                    yield (
                        path,
                        None,
                        (
                            "holds a run but is not named as a run folder (kerasbench run names "
                            "them <repeat> or <config>-<repeat>: 0, tuned-0); a copy of a run? "
                            "move it out of the runs folder"
                        ),
                    )
                    continue
                yield path, identity, None


def _name_order(entry):
    """Repeats in number order, then other names."""
    name = entry.name
    return (not name.isdigit(), int(name) if name.isdigit() else 0, name)


def _refused(refusals) -> RunDataError:
    """One line for every run folder the report will not count: the first three named."""
    shown = "; ".join(refusals[:3])
    more = f" (and {len(refusals) - 3} more)" if len(refusals) > 3 else ""
    return RunDataError(shown + more)


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
    "gpu_libraries",
    "device_requested",
]


def load_run_index(runs_dir, source: str | None = None) -> pd.DataFrame:
    """One row per run folder under runs_dir (finished or not), with what run.json says about it.

    Columns: INDEX_COLUMNS (versions, device, backend_settings, params, trained_on and
    gpu_libraries are dicts,
    {} when unknown; trained_on is runfiles.trained_on's, which reads an older run's JAX devices
    too). A folder without run.json is an unfinished run (status "unfinished"). A run's identity
    (workload, backend, config, repeat) is its folder's path (runfiles.path_identity).
    Raises RunDataError (one line naming the folders) when runs_dir is not a folder, or a run
    folder is refused: damaged (runfiles.read_run: a torn row or an unusable number in an ok
    run, run.json not an object, an ok run without epochs.csv, a run.json that is the record of
    another run), named as no run folder is, or a symbolic link that leads nowhere.
    """
    return _load(runs_dir, source)[0]


def _load(runs_dir, source: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(load_run_index's index, load_runs' tidy table), every folder read once."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RunDataError(f"runs folder not found: {runs_dir}")
    rows, runs, refusals = [], [], []
    for run_dir, identity, refusal in _run_dirs(runs_dir):
        if refusal:
            refusals.append(f"{run_dir}: {refusal}")
            continue
        folder = runfiles.read_run(str(run_dir), identity)
        if folder.damaged:
            # A torn row in an ok run, an ok run without epochs.csv, a run.json of the wrong
            # shape or of another run: never counted silently. The same `kerasbench run`
            # retrains such a run.
            refusals.append(
                f"damaged {folder.why()} in {run_dir} (rerun the same "
                f"`kerasbench run` to retrain it)"
            )
            continue
        if refusals:
            continue  # the report stops: only the refusals are still needed
        workload, backend, config, repeat = identity
        run = folder.record
        sample_path = run_dir / runfiles.SAMPLE_TXT
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
                "workload": workload,
                "backend": backend,
                "config": config,
                "repeat": repeat,
                "run_id": run_dir.relative_to(runs_dir).as_posix(),
                "status": status,
                "ok": status == "ok",
                "data_source": data.get("source"),
                "profile": info.get("profile"),
                "mean_basis": AFTER_FIRST,
                "machine": machine_id(section("device"), info.get("host"), trained),
                "timing_block": info.get("timing_block") is True,
                "path": str(run_dir),
                "finished": run is not None,
                "error": _text(info.get("error")),
                "data_detail": data.get("detail"),
                "seed": info.get("seed"),
                "n_epochs": len(folder.epochs),
                "sample_text": sample,
                "versions": section("versions"),
                "device": section("device"),
                "backend_settings": section("backend_settings"),
                "params": section("params"),
                "gpu_libraries": section("gpu_libraries"),
                "trained_on": trained,
                "device_requested": info.get("device_requested"),
            }
        )
        runs.append(folder)
    if refusals:
        raise _refused(refusals)
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    index["source"] = source or source_label(r["device"] for r in rows)
    index = index[INDEX_COLUMNS].astype(
        {"ok": bool, "finished": bool, "reference": bool, "timing_block": bool}
    )
    return index, _epochs_table(index, runs)


def _epochs_table(index: pd.DataFrame, runs) -> pd.DataFrame:
    """The tidy table of the runs' epochs, built column by column (one frame, not one per run)."""
    columns: dict[str, list] = {}
    position: list[int] = []
    for i, run in enumerate(runs):
        if not run.epochs:
            continue
        for column in run.columns:
            if column not in columns:
                columns[column] = [None] * len(position)
        for column, values in columns.items():
            values.extend([row.get(column) for row in run.epochs])
        position.extend([i] * len(run.epochs))
    if not position:
        return tidy([])
    table = pd.DataFrame({c: np.array(v, dtype=float) for c, v in columns.items()})
    take = np.asarray(position)
    for column in RUN_COLUMNS:
        table[column] = index[column].to_numpy()[take]
    return tidy([table.astype(BOOL_FACTS)])


def load_runs(
    runs_dir, source: str | None = None, index: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every epoch of every run folder under runs_dir: RUN_COLUMNS + epoch columns, one row each.

    Runs whose status is not "ok" are kept with ok=False; folders without run.json are kept with
    status "unfinished". The summary counts only ok runs. Raises RunDataError (see load_run_index).
    `index`: load_run_index's, where read already (its runs' epochs are read again).
    """
    if index is None:
        return _load(runs_dir, source)[1]
    runs = [runfiles.read_run(path) for path in index["path"]]
    return _epochs_table(index, runs)


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
    index, epochs = _load(runs_dir)
    if index.empty:
        hint = (
            f"; did you mean {runs_dir / studyfiles.RUNS}?"
            if (runs_dir / studyfiles.RUNS).is_dir()
            else " (expected <workload>/<backend>/<repeat>/ folders with epochs.csv and run.json)"
        )
        raise RunDataError(f"no runs in {runs_dir}{hint}")
    label = index["source"].iloc[0]
    sources = [
        Source(
            label=label,
            reference=False,
            hardware=joined(
                machine_id(d, None, t) for d, t in zip(index["device"], index["trained_on"])
            ),
            folder=str(runs_dir),
        )
    ]
    tables = [epochs]
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
# Tables about runs


def problem_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs that are not ok (failed, timeout, nan, unfinished) with their status and error."""
    columns = RUN_IDENTITY + ["status", "finished", "n_epochs", "error"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    bad = runs[~runs["ok"]]
    return bad[columns].sort_values(
        ["workload", "backend", "run_id"], key=sort_key, ignore_index=True
    )


def text_samples(runs: pd.DataFrame) -> pd.DataFrame:
    """Generated text per run (sample.txt): workload, backend, config, repeat, run_id, status, text."""
    columns = ["source"] + RUN_IDENTITY + ["status", "text"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    have = runs[runs["sample_text"].notna()].rename(columns={"sample_text": "text"})
    return have[columns].sort_values(
        ["workload", "backend", "run_id"], key=sort_key, ignore_index=True
    )
