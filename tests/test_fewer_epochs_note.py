"""The report says where runs trained fewer epochs than their profile gives (`kerasbench run
--set epochs=N`, e.g. CIFAR-10 on generated data cut to time only): which repeats, against how
many. Known answers on hand-made run rows and the project's own params files."""

from __future__ import annotations

import pandas as pd

from kerasbench.report import notes
from kerasbench.study import params


def run(repeat, epochs, *, workload="cifar10_cnn", timing=False, ok=True, profile="full"):
    return {
        "workload": workload,
        "source": "this study",
        "profile": profile,
        "backend": "jax",
        "config": "default",
        "repeat": repeat,
        "ok": ok,
        "timing_block": timing,
        "params": {"epochs": epochs},
    }


def said(*runs):
    return list(notes._fewer_epochs_statements(pd.DataFrame(list(runs))))


def test_the_profile_epochs_come_from_the_params_files():
    assert params.profile_epochs("cifar10_cnn", "full") == 20
    assert params.profile_epochs("cifar10_cnn", "quick") == 3
    assert params.profile_epochs("mnist_mlp", "full") == 20
    assert params.profile_epochs("path/to/my_model.py", "full") is None


def test_runs_set_below_the_profile_are_named_with_their_repeats():
    [(workload, source, text, who)] = said(
        run(0, 5), run(0, 5), run(1, 3, timing=True), run(2, 3, timing=True)
    )
    assert (workload, source, who) == ("cifar10_cnn", "this study", None)
    assert text.startswith("repeat 0: 5 epochs, set for these runs, against the full profile's 20")
    [(_, _, text, _)] = said(run(0, 5), run(1, 4))
    assert text.startswith("repeats 0, 1: 4–5 epochs")


def test_nothing_is_said_for_the_profile_s_epochs_timing_blocks_or_failed_runs():
    assert said(run(0, 20), run(1, 3, timing=True)) == []
    assert said(run(0, 5, ok=False)) == []
    assert said(run(0, 3, profile="quick")) == []
    assert said(run(0, 2, workload="my_model.py")) == []
