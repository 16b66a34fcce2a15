"""The report says where Keras left TensorFlow's train step without XLA (jit_compile='auto' on
a machine without a GPU) while JAX's is XLA-compiled: a handicap of Keras' defaults, stated beside
the workload. Known answers on hand-made run rows; the kernel's record of the resolved setting is
checked on real runs in test_study.py."""

from __future__ import annotations

import pandas as pd

from kerasbench.report import notes

CPU = {"cpu": "x86", "gpu": None}
GPU = {"cpu": "x86", "gpu": "NVIDIA H100 80GB HBM3"}


def run(backend, config="default", resolved=None, asked="auto", trained=None, device=CPU, ok=True):
    settings = {"compile_options": {"jit_compile": asked, "steps_per_execution": 1}}
    if resolved is not None:
        settings["model_compile"] = {"jit_compile": resolved, "steps_per_execution": 1}
    return {
        "workload": "mnist_mlp",
        "source": "this study",
        "backend": backend,
        "config": config,
        "ok": ok,
        "backend_settings": settings,
        "trained_on": {"kind": trained} if trained else {},
        "device": device,
    }


def rows(*runs):
    return pd.DataFrame(list(runs))


def test_the_resolved_setting_decides_and_an_older_record_falls_back_to_where_it_trained():
    one = lambda **kw: next(rows(run("tensorflow", **kw)).itertuples(index=False))  # noqa: E731
    assert notes.without_xla(one(resolved=False))
    assert not notes.without_xla(one(resolved=True, device=CPU))  # the record wins
    assert not notes.without_xla(one(resolved=False, asked=False))  # the study's own choice
    assert notes.without_xla(one(trained="cpu", device=GPU))  # --device cpu on a GPU host
    assert not notes.without_xla(one(trained="gpu", device=GPU))
    assert notes.without_xla(one())  # no trained_on: a machine without a GPU
    assert not notes.without_xla(one(device=GPU))
    jax = next(rows(run("jax", resolved=False)).itertuples(index=False))
    assert not notes.without_xla(jax)  # only TensorFlow's "auto" depends on the machine


def test_one_statement_per_tensorflow_row_and_only_beside_jax():
    table = rows(
        run("tensorflow", resolved=False),
        run("tensorflow", "tuned", resolved=False),
        run("tensorflow", "tuned", resolved=True),  # one run of the row with XLA: not said
        run("jax", resolved=True),
        run("torch", resolved=False),
    )
    said = list(notes._xla_statements(table))
    assert said == [("mnist_mlp", "this study", notes.XLA_OFF, "tensorflow default")]
    assert "without XLA" in notes.XLA_OFF and "Keras' defaults" in notes.XLA_OFF
    without_jax = table[table["backend"] != "jax"]
    assert list(notes._xla_statements(without_jax)) == []
    failed = rows(run("tensorflow", ok=False), run("jax", resolved=True))
    assert list(notes._xla_statements(failed)) == []
