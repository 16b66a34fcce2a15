"""The report's names and order: what kind of row a backend or configuration name is, what a
workload is called, and the order rows are shown in.

Host side (pandas). Workloads and backends sort in registry order, the native loops
(`kerasbench.native`, backend `native-<framework>`) after the Keras backends, `default` before
other configurations. The native loops are the floor, not a backend; a patched configuration
changes Keras itself; a lever configuration is one of issue 15's one-setting experiments.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kerasbench import registry

# Hand-written training loops (kerasbench.native) log as backend "native-<framework>", their
# mode ("scan", "compiled", "step") as the config. They are the floor, not a Keras backend.
NATIVE_PREFIX = "native-"


def sort_key(series: pd.Series):
    """The report's order of a column's values (a sort_values key): workloads and backends in
    registry order (native loops last), `default` first, other text by its string. Each distinct
    value is ranked once: the key of a large table costs as little as its few names."""
    if series.name == "workload":
        order = {name: i for i, name in enumerate(registry.WORKLOADS)}
        key = lambda v: (order.get(v, len(order)), str(v))  # noqa: E731
    elif series.name == "backend":
        order = {name: i for i, name in enumerate(registry.BACKENDS)}
        key = lambda v: (is_native(v), order.get(v, len(order)), str(v))  # noqa: E731
    elif series.name == "config":
        key = lambda v: (v != "default", str(v))  # noqa: E731
    elif series.dtype == object or pd.api.types.is_string_dtype(series):
        key = str
    else:
        return series
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    keys = [key(v) for v in uniques]
    ranks = {k: i for i, k in enumerate(sorted(set(keys)))}
    return pd.Series(np.array([ranks[k] for k in keys], dtype=np.int64)[codes], index=series.index)


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


def joined(values) -> str | None:
    """The distinct values (None and NaN left out) in their first order, joined with " / "; None
    where there is none."""
    seen = [
        str(v)
        for v in dict.fromkeys(values)
        if v is not None and not (isinstance(v, float) and math.isnan(v))
    ]
    return " / ".join(seen) if seen else None
