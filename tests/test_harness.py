"""The harness-overhead measurement: a notebook's code run as a plain process, beside papermill."""

import csv
import json
import os

import pytest

from kerasbench import cli, plain
from kerasbench.study import harness


def test_plain_run_injects_parameters_after_the_first_cell(tmp_path):
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# title"]},
            {"cell_type": "code", "source": ["a = 1\n", "b = 2"]},
            {"cell_type": "code", "source": ["c = a * 10 + b"]},
        ]
    }
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook))
    namespace = plain.run(str(path), {"a": 5})
    assert namespace["c"] == 52  # a injected, b kept from the parameters cell


def test_ratios_pair_papermill_with_plain():
    rows = [
        {
            "pair": 0,
            "harness": "papermill",
            "status": "ok",
            "wall_seconds": 12.0,
            "steady_epoch_seconds": 1.1,
        },
        {
            "pair": 0,
            "harness": "plain",
            "status": "ok",
            "wall_seconds": 10.0,
            "steady_epoch_seconds": 1.0,
        },
        {
            "pair": 1,
            "harness": "plain",
            "status": "ok",
            "wall_seconds": 10.0,
            "steady_epoch_seconds": 1.0,
        },
        {
            "pair": 1,
            "harness": "papermill",
            "status": "ok",
            "wall_seconds": 14.0,
            "steady_epoch_seconds": 1.3,
        },
        {
            "pair": 2,
            "harness": "papermill",
            "status": "failed",
            "wall_seconds": 1.0,
            "steady_epoch_seconds": None,
        },
        {
            "pair": 2,
            "harness": "plain",
            "status": "ok",
            "wall_seconds": 10.0,
            "steady_epoch_seconds": 1.0,
        },
    ]
    r = harness.ratios(rows)
    assert r["pairs"] == 2  # the failed pair is left out
    assert r["wall_ratios"] == pytest.approx([1.2, 1.4])
    assert r["median_wall_ratio"] == pytest.approx(1.3)
    assert r["median_steady_ratio"] == pytest.approx(1.2)


def test_one_real_pair_through_both_harnesses(tmp_path, data_dir, capsys):
    out = str(tmp_path / "h")
    code = cli.main(
        [
            "harness",
            "--workload",
            "mnist_mlp",
            "--backend",
            "jax",
            "--profile",
            "smoke",
            "--pairs",
            "1",
            "--data-dir",
            data_dir,
            "--out",
            out,
        ]
    )
    assert code == 0
    with open(os.path.join(out, "harness.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["harness"] for r in rows] == ["papermill", "plain"]
    assert all(r["status"] == "ok" and r["epochs"] == "2" for r in rows)
    assert "papermill / plain over 1 pairs" in capsys.readouterr().out
    # Its results were moved in from a staging folder, which is gone; the folder is the harness's
    # now, and `run` refuses it in one line (issue 28).
    assert sorted(os.listdir(out)) == [".kerasbench.lock", "harness", "harness.csv"]
    assert sorted(os.listdir(os.path.join(out, "harness"))) == ["papermill", "plain-0"]
    code = cli.main(["run", "--out", out, "--profile", "smoke", "--data-dir", data_dir])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err, err
    assert "%s holds the results of kerasbench harness (harness/)" % out in err


def test_harness_never_downloads_with_no_download(tmp_path, capsys):
    """`harness` takes --no-download as `run`, `parity` and `profile` do (it had none)."""
    empty = tmp_path / "data"
    empty.mkdir()
    argv = ["harness", "--out", str(tmp_path / "h"), "--profile", "full", "--no-download"]
    assert cli.main(argv + ["--data-dir", str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert "mnist.npz: missing" in err and "\n" not in err, err
    assert "downloading" not in err and not os.listdir(str(empty))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--pairs", "0"], "--pairs must be at least 1"),
        (["--workload", "mnist_mpl"], "unknown workload"),
        (["--backend", "mxnet"], "unknown backend"),
        (["--data-dir", "/no/such/folder"], "/no/such/folder"),
    ],
)
def test_bad_harness_input_is_one_line(argv, message, capsys, tmp_path):
    assert cli.main(["harness", "--out", str(tmp_path / "h")] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
