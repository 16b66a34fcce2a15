"""Which machine a run trained on, where on it, and what ran where: the report's machines.

Host side only (pandas, never Keras). A run's machine (`machine_id`) is what blocks pair on
(stats: one repeat on one machine): the GPU's UUID where the kernel recorded one, else the host
with its GPU or CPU model; a run that trained on the CPU of a machine with a GPU is that CPU
(CPU_ONLY), never the GPU beside it. `environment` is the table of versions, devices and backend
settings per source and backend that the page shows.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pandas as pd

from kerasbench.report.naming import joined


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
# CPU, named with this prefix, so it is never taken for the GPU beside it (rules.CAVEATS says so).
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


def gpu_libraries_text(libraries) -> str | None:
    """The CUDA libraries a run's process mapped (run.json's `gpu_libraries`: file name -> real
    path), by folder: "libcudart.so.12 (/env/site-tensorflow/nvidia/cuda_runtime/lib);
    libcublas.so.13, libcudnn.so.9 (/opt/...)". None where the record has none."""
    if not isinstance(libraries, dict) or not libraries:
        return None
    by_folder: dict[str, list] = {}
    for name, path in libraries.items():
        by_folder.setdefault(os.path.dirname(str(path)), []).append(str(name))
    return "; ".join(
        f"{', '.join(sorted(names))} ({folder})" for folder, names in sorted(by_folder.items())
    )


def environment(study) -> pd.DataFrame:
    """What ran where in a loaded study (rundata.Study), per source and backend: columns source,
    backend, field, value.

    Fields are run.json's versions, device, data source and backend_settings, flattened
    ("versions.keras", "none" where run.json says null), `trained_on` (trained_on_text) and
    `gpu_libraries` (gpu_libraries_text: which CUDA files the process really used);
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
                libraries = gpu_libraries_text(getattr(run, "gpu_libraries", None))
                if libraries:
                    flat["gpu_libraries"] = libraries
                for name, value in flat.items():
                    per_field.setdefault(name, []).append(value)
            for name, values in per_field.items():
                rows.append(
                    {"source": source, "backend": backend, "field": name, "value": joined(values)}
                )
    for source in study.sources:
        if source.reference:
            for backend, fields in source.environment.items():
                for name, value in fields.items():
                    rows.append(
                        {"source": source.label, "backend": backend, "field": name, "value": value}
                    )
    return pd.DataFrame(rows, columns=["source", "backend", "field", "value"])
