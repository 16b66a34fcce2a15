""" "Then and now" says on what basis it gives a backend's speed-up over 2017: the same workload,
data sizes and epochs; fewer epochs here (`--set epochs=N`: a steady epoch is the same work, so
the speed-up per epoch holds); generated data of the same size; or another profile (no speed-up).
Known answers on a hand-made summary table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from kerasbench.report import thenandnow

NO_COMPARISONS = pd.DataFrame(
    columns=["source", "workload", "kind", "numerator", "denominator", "ratio", "low", "high"]
)


def row(source, seconds, epochs, *, reference=False, profile="full", data="full"):
    return {
        "source": source,
        "workload": "cifar10_cnn",
        "backend": "tensorflow",
        "config": "default",
        "reference": reference,
        "mean_epoch_seconds": seconds,
        "mean_after_first": seconds,
        "epochs": epochs,
        "profile": profile,
        "data_source": data,
    }


def basis(epochs, **here):
    table = pd.DataFrame([row("2017", 40.0, 20, reference=True), row("here", 10.0, epochs, **here)])
    [found] = thenandnow.same_backend(table, NO_COMPARISONS).to_dict("records")
    return found["speedup"], found["speedup_basis"]


def test_the_basis_of_each_speed_up():
    assert basis(20) == (pytest.approx(4.0), "the same workload, data sizes and epochs")
    assert basis(20, data="generated") == (
        pytest.approx(4.0),
        "the same workload, data sizes and epochs; generated data of that size here",
    )
    assert basis(5, data="generated") == (
        pytest.approx(4.0),
        "the same workload and data sizes, 5 epochs here against 20; generated data of that size here",
    )
    speedup, said = basis(3, profile="quick")
    assert math.isnan(speedup) and said == "profile quick here, not the reference's data and epochs"
