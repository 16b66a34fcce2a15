"""The report's data and summary against known answers: loading run and reference folders,
sources from source.yaml, the summary (intervals only from 3 runs, paired speed-ups over all
configurations), the notes and verdicts, and the 2017 numbers recomputed with plain pandas."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from kerasbench import registry
from kerasbench.report import (
    grid,
    grid_data,
    machines,
    references,
    rules,
    rundata,
    stats,
    summary as summary_mod,
    tables,
    tidy,
)

from conftest import REPO, grid_rows

SHARED_REFERENCE = Path("/work/shared/reference/keras-cntk-2017-k80")
SHIPPED = references.SHIPPED_REFERENCE
LABEL_2017 = "2017 K80 (Keras 2.0)"


def write_run(
    root: Path,
    workload: str,
    backend: str,
    repeat,
    *,
    status="ok",
    config="default",
    rows="epoch,epoch_seconds,val_accuracy,loss\n0,3.0,0.5,2.0\n1,1.0,0.7,1.5\n2,1.2,0.8,1.0\n",
    run_json=True,
    data_source="full",
    device=None,
    folder=None,
) -> Path:
    run_dir = root / workload / backend / (folder or str(repeat))
    run_dir.mkdir(parents=True)
    if rows is not None:
        (run_dir / "epochs.csv").write_text(rows)
    if run_json:
        (run_dir / "run.json").write_text(
            json.dumps(
                {
                    "schema": 1,
                    "workload": workload,
                    "backend": backend,
                    "repeat": repeat,
                    "config": config,
                    "profile": "full",
                    "status": status,
                    "error": None if status == "ok" else "boom",
                    "data": {"source": data_source},
                    "versions": {"keras": "3.15.1"},
                    "device": device or {"cpu": "Test CPU", "gpu": None, "host": "box"},
                    "backend_settings": {"precision": "float32"},
                }
            )
        )
    return run_dir


def epochs_rows(seconds, metric=0.9, loss=None):
    lines = ["epoch,epoch_seconds,val_accuracy,loss"]
    for i, s in enumerate(seconds):
        lines.append(
            f"{i},{s},{metric},{(loss or [2.0 / (i + 1)] * len(seconds))[i] if loss else 2.0 / (i + 1)}"
        )
    return "\n".join(lines) + "\n"


def write_configs(root: Path, workload: str, rows, repeat=0):
    """One run per (backend, config, steady seconds[, metric]): epoch 0 takes 9 s, two steady epochs."""
    for backend, config, seconds, *metric in rows:
        write_run(
            root,
            workload,
            backend,
            repeat,
            config=config,
            folder=None if config == "default" else f"{config}-{repeat}",
            rows=epochs_rows([9, seconds, seconds], *metric),
        )


def build(runs_dir, references=(), **kw):
    study = rundata.load_study(runs_dir, list(references))
    return summary_mod.build(
        study,
        n_resamples=kw.pop("n_resamples", 2000),
        coverage_studies=kw.pop("coverage_studies", 300),
        **kw,
    )


# ---------------------------------------------------------------------------------------------
# Loading


def test_load_runs_keeps_failed_and_unfinished_runs(tmp_path):
    write_run(tmp_path, "mnist_mlp", "jax", 0)
    write_run(tmp_path, "mnist_mlp", "jax", 1, status="failed")
    write_run(tmp_path, "mnist_mlp", "torch", 0, run_json=False)
    write_run(tmp_path, "mnist_cnn", "torch", 0, status="timeout", rows=None)
    epochs = rundata.load_runs(tmp_path)
    assert list(epochs.columns[: len(tidy.RUN_COLUMNS)]) == tidy.RUN_COLUMNS
    assert list(epochs.columns[len(tidy.RUN_COLUMNS) :][:9]) == tidy.EPOCH_COLUMNS
    by_run = epochs.groupby("run_id")[["status", "ok", "config", "data_source"]].first()
    assert by_run.loc["mnist_mlp/jax/0"].tolist() == ["ok", True, "default", "full"]
    assert by_run.loc["mnist_mlp/jax/1", "status"] == "failed"
    assert by_run.loc["mnist_mlp/torch/0", "status"] == "unfinished"
    assert len(epochs) == 9 and epochs["source"].unique().tolist() == ["this study (Test CPU)"]
    index = rundata.load_run_index(tmp_path)
    assert rundata.problem_runs(index)["status"].tolist() == ["failed", "unfinished", "timeout"]
    table = build(tmp_path).table.set_index("backend")
    assert table.loc["jax", "runs"] == 1 and table.loc["torch", "runs"] == 0


@pytest.mark.parametrize(
    "rows",
    [
        "epoch,epoch_seconds\n0,1.0\n1,1.0,2.0,3.0\n",
        "epoch,epoch_seconds\n0,fast\n",
        "step,seconds\n0,1.0\n",
    ],
)
def test_damaged_epochs_csv_is_one_line(tmp_path, rows):
    write_run(tmp_path, "mnist_mlp", "jax", 0, rows=rows)
    with pytest.raises(tidy.RunDataError) as e:
        rundata.load_runs(tmp_path)
    assert "\n" not in str(e.value) and "epochs.csv" in str(e.value)


def test_missing_and_empty_runs_folder(tmp_path):
    with pytest.raises(tidy.RunDataError, match="not found"):
        rundata.load_study(tmp_path / "missing")
    (tmp_path / "out" / "runs").mkdir(parents=True)
    write_run(tmp_path / "out" / "runs", "mnist_mlp", "jax", 0)
    with pytest.raises(tidy.RunDataError, match="did you mean"):
        rundata.load_study(tmp_path / "out")


def test_machine_identity_prefers_the_gpu_uuid():
    assert (
        machines.machine_id({"gpu": "NVIDIA H200", "gpu_uuid": "GPU-1234"})
        == "NVIDIA H200 GPU-1234"
    )
    assert machines.machine_id({"gpu": None, "cpu": "AMD EPYC", "host": "vm"}) == "AMD EPYC on vm"
    assert machines.machine_id({}) is None


def test_load_reference_schema_and_mapping():
    ref = references.load_reference()
    assert set(ref["source"]) == {LABEL_2017} and ref["reference"].all()
    assert set(ref["backend"]) == {"tensorflow", "cntk"}
    assert set(ref["workload"]) == set(registry.WORKLOADS)
    assert (ref["mean_basis"] == tidy.ALL_EPOCHS).all() and ref["ok"].all()
    raw = pd.read_csv(SHIPPED / "mnist_cnn_cntk.csv")
    run = ref[ref["run_id"] == f"{LABEL_2017}/mnist_cnn/cntk"]
    np.testing.assert_allclose(run["epoch_seconds"], raw["elapsed"])
    np.testing.assert_allclose(run["elapsed_seconds"], raw["elapsed"].cumsum())
    np.testing.assert_allclose(run["val_accuracy"], raw["val_acc"])
    text = ref[ref["run_id"] == f"{LABEL_2017}/text_generator_keras/tensorflow"]
    raw = pd.read_csv(SHIPPED / "text_generator_keras_tensorflow.csv")
    np.testing.assert_allclose(text[registry.WORKLOADS["text_generator_keras"].metric], raw["loss"])
    assert text["loss"].isna().all()  # not the total loss of both heads


def test_shipped_reference_is_the_published_copy_with_its_source():
    assert (SHIPPED / "LICENSE").read_text().count("Copyright (c) 2017 Max Woolf") == 1
    source = references.read_source(SHIPPED)
    assert source.label == LABEL_2017 and "K80" in source.hardware and source.reference
    assert source.environment["cntk"]["versions.backend_framework"] == "cntk 2.0"
    if not SHARED_REFERENCE.is_dir():
        pytest.skip(f"{SHARED_REFERENCE} not on this machine")
    for path in SHARED_REFERENCE.glob("*.csv"):
        assert (SHIPPED / path.name).read_bytes() == path.read_bytes(), path.name


def test_reference_without_source_yaml_is_its_folder_name(tmp_path):
    ref = tmp_path / "p100-logs"
    ref.mkdir()
    shutil.copy(SHIPPED / "mnist_mlp_cntk.csv", ref)
    assert references.read_source(ref).label == "p100-logs"
    assert set(references.load_reference(ref)["source"]) == {"p100-logs"}


def test_bad_source_yaml_and_duplicate_labels_are_one_line(tmp_path):
    write_run(tmp_path / "runs", "mnist_mlp", "jax", 0)
    ref = tmp_path / "ref"
    ref.mkdir()
    shutil.copy(SHIPPED / "mnist_mlp_cntk.csv", ref)
    (ref / "source.yaml").write_text("label: x\nhardwre: K80\n")
    with pytest.raises(tidy.RunDataError, match="unknown key.*hardwre"):
        rundata.load_study(tmp_path / "runs", [ref])
    (ref / "source.yaml").write_text(f"label: {LABEL_2017}\n")
    with pytest.raises(tidy.RunDataError, match="two sources are labelled"):
        rundata.load_study(tmp_path / "runs", [SHIPPED, ref])


# ---------------------------------------------------------------------------------------------
# Summary


def test_no_interval_under_three_runs_but_the_epoch_spread(tmp_path):
    for repeat in range(2):
        write_run(tmp_path, "mnist_mlp", "jax", repeat, rows=epochs_rows([5, 1.0, 1.4, 1.2]))
    for repeat in range(3):
        write_run(
            tmp_path,
            "mnist_mlp",
            "torch",
            repeat,
            rows=epochs_rows([5, 2.0 + repeat, 2.0 + repeat]),
        )
    table = build(tmp_path).table.set_index("backend")
    jax, torch = table.loc["jax"], table.loc["torch"]
    assert jax["runs"] == 2 and math.isnan(jax["ci_low"]) and math.isnan(jax["ci_high"])
    assert (jax["spread_low"], jax["spread_high"]) == (1.0, 1.4)
    # Three runs with means 2, 3, 4: the geometric mean 24 ** (1/3) and Student t on the logs.
    logs = np.log([2.0, 3.0, 4.0])
    half = scipy_stats.t.ppf(0.975, 2) * logs.std(ddof=1) / math.sqrt(3)
    assert torch["mean_epoch_seconds"] == pytest.approx(24 ** (1 / 3))
    assert (torch["ci_low"], torch["ci_high"]) == pytest.approx(
        (math.exp(logs.mean() - half), math.exp(logs.mean() + half))
    )
    assert torch["ci_method"] == stats.T_METHOD and jax["ci_method"] == stats.NO_INTERVAL
    assert math.isnan(torch["spread_low"])


def test_speedup_is_paired_and_over_all_configurations(tmp_path):
    # Three repeats; repeat r runs (1 + r) times slower on every row (drift between repeats).
    base = {
        ("jax", "default"): 2.0,
        ("jax", "tuned"): 1.0,
        ("torch", "default"): 3.0,
        ("torch", "tuned"): 2.5,
    }
    for r in range(3):
        rows = [(backend, config, s * (1 + r)) for (backend, config), s in base.items()]
        write_configs(tmp_path, "mnist_mlp", rows, repeat=r)
    result = build(tmp_path, n_resamples=3000)
    row = {(r.backend, r.config): r for r in result.table.itertuples()}
    # The fastest of the workload is jax tuned, for every configuration.
    assert {r.fastest for r in result.table.itertuples()} == {"jax tuned"}
    assert row["jax", "tuned"].times_fastest == 1.0
    assert math.isnan(row["jax", "tuned"].times_fastest_low)  # 1 by definition, no interval
    # torch tuned is 2.5x in every repeat: the paired interval is the point, despite the drift.
    torch = row["torch", "tuned"]
    assert (
        torch.times_fastest,
        torch.times_fastest_low,
        torch.times_fastest_high,
    ) == pytest.approx((2.5, 2.5, 2.5))
    assert torch.pairs == 3 and torch.pairing == "3 blocks" and torch.paired
    assert row["torch", "default"].times_fastest == pytest.approx(3.0)
    assert row["jax", "default"].times_fastest == pytest.approx(2.0)
    # Three runs and three blocks: the coverage for n = 3 is in the summary for the Method
    # section, the t interval's near 95%, the percentile bootstrap's near 75%.
    coverage = result.coverage.set_index(["n", "scenario", "method"])["coverage"]
    assert set(result.coverage["n"]) == {3}
    assert 0.9 < coverage[3, "runs", "t"] and coverage[3, "runs", "percentile"] < 0.85
    verdict = result.verdicts.iloc[0]
    assert verdict["fastest"] == "jax tuned" and verdict["decided"]
    assert "jax tuned is fastest" not in verdict["text"]  # the label is printed apart, in bold
    assert verdict["text"].startswith("is fastest at")
    assert "jax default takes 2.00× [2.00, 2.00] as long (3 blocks)" in verdict["text"]
    assert "3 runs each" in verdict["text"] and "no interval" not in verdict["text"]


def test_distance_to_the_floor(tmp_path):
    write_run(tmp_path, "mnist_mlp", "jax", 0, rows=epochs_rows([9, 2.0, 2.0]))
    write_run(
        tmp_path,
        "mnist_mlp",
        "native-jax",
        0,
        config="scan",
        folder="scan-0",
        rows=epochs_rows([9, 0.5, 0.5]),
    )
    table = build(tmp_path).table
    row = {(r.backend, r.config): r for r in table.itertuples()}
    assert row["jax", "default"].times_floor == pytest.approx(4.0)
    assert row["jax", "default"].floor == "native-jax scan"
    # Native loops are the floor, not candidates for the fastest.
    assert math.isnan(row["native-jax", "scan"].times_fastest)
    assert row["jax", "default"].fastest == "jax default"


def test_distance_table_sets_a_one_run_best_beside_the_best_with_an_interval(tmp_path):
    from kerasbench.report import breakdown

    # jax tuned: 3 runs at 2.0 s, paired with 3 floor runs at 0.5 s (4x, interval [4, 4]);
    # jax tuned-epoch: 1 run at 1.5 s (3x, 1 block with the floor), faster but with no interval.
    for r in range(3):
        write_configs(
            tmp_path, "mnist_mlp", [("jax", "tuned", 2.0), ("native-jax", "scan", 0.5)], r
        )
    write_configs(tmp_path, "mnist_mlp", [("jax", "tuned-epoch", 1.5)])
    html = str(breakdown.distance_table(build(tmp_path, n_resamples=200, coverage_studies=20)))
    assert "jax tuned-epoch" in html  # the best by mean
    assert "3.00×, 1 block (no interval); jax tuned: 4.00× [4.00, 4.00], 3 blocks" in html
    assert "<td>yes</td>" in html  # within 3x: the best's mean


def test_runs_from_different_machines_are_said(tmp_path):
    for r, uuid in enumerate(["GPU-aaa", "GPU-bbb", "GPU-aaa"]):
        write_run(tmp_path, "mnist_mlp", "jax", r, device={"gpu": "NVIDIA H200", "gpu_uuid": uuid})
    result = build(tmp_path)
    row = result.table.iloc[0]
    assert row["machines"] == 2
    assert "runs on 2 machines" in rules.caveats(row)
    assert any("2 different machines" in n for n in result.notes["note"])


def test_did_not_learn_and_generated_data_are_flagged(tmp_path):
    write_run(tmp_path, "mnist_mlp", "jax", 0)
    write_run(
        tmp_path,
        "mnist_mlp",
        "cntk",
        0,
        rows="epoch,epoch_seconds,val_accuracy,loss\n0,3,0.1,13.5\n1,1,0.1,13.6\n2,1,0.1,13.6\n",
    )
    write_run(tmp_path, "cifar10_cnn", "jax", 0, data_source="generated")
    result = build(tmp_path)
    table = result.table.set_index(["workload", "backend"])
    assert table.loc[("mnist_mlp", "cntk"), "not_learning_runs"] == 1
    text = " ".join(result.notes["note"])
    assert "cntk default: the training loss did not go down" in text
    assert "generated data" in text and "not drawn" in text
    assert "generated data: time only" in rules.caveats(
        table.loc[("cifar10_cnn", "jax")].to_dict() | {"backend": "jax"}
    )
    verdict = result.verdicts.set_index("workload")
    assert "did not learn: cntk default" in verdict.loc["mnist_mlp", "text"]
    assert "accuracy not compared (generated data)" in verdict.loc["cifar10_cnn", "text"]


def test_text_model_metric_is_final_training_loss(tmp_path):
    for r, final in enumerate([1.3, 1.5]):
        write_run(
            tmp_path,
            "text_generator_keras",
            "jax",
            r,
            rows=f"epoch,epoch_seconds,loss,main_out_loss\n0,2,3,2\n1,1,2,{final}\n",
        )
    row = build(tmp_path).table.iloc[0]
    assert row["final_metric_name"] == "main_out_loss"
    assert row["final_metric"] == pytest.approx(1.4)
    assert (row["final_metric_min"], row["final_metric_max"]) == pytest.approx((1.3, 1.5))


# ---------------------------------------------------------------------------------------------
# The 2017 numbers, computed independently with plain pandas


def test_2017_means_in_summary_csv_match_the_logs(tmp_path):
    write_run(tmp_path / "runs", "mnist_mlp", "jax", 0)
    result = build(tmp_path / "runs", [SHIPPED])
    written = pd.read_csv(result.write_csv(tmp_path))
    assert list(written.columns) == summary_mod.SUMMARY_COLUMNS
    written = written[written["source"] == LABEL_2017].set_index(["workload", "backend"])
    csvs = sorted(SHIPPED.glob("*.csv"))
    assert len(written) == len(csvs) == 14
    for path in csvs:
        workload, _, backend = path.stem.rpartition("_")
        log = pd.read_csv(path)
        row = written.loc[(workload, backend)]
        assert row["epochs"] == len(log) and row["runs"] == 1
        # 2017's own method (all epochs), and the first-epoch-apart mean beside it.
        assert row["mean_epoch_seconds"] == pytest.approx(log["elapsed"].mean(), rel=1e-5)
        assert row["mean_after_first"] == pytest.approx(log["elapsed"].iloc[1:].mean(), rel=1e-5)
        assert row["warmup_seconds"] == pytest.approx(log["elapsed"].iloc[0], rel=1e-5)
        final = (
            log["val_acc"].iloc[-1]
            if "val_acc" in log and log["val_acc"].notna().any()
            else log["loss"].iloc[-1]
        )
        assert row["final_metric"] == pytest.approx(final, rel=1e-5)
        # One run: its interval is the 2017 method's, the percentile bootstrap over its epochs,
        # from 10 epochs on (and labelled so); none for the 4- and 5-epoch IMDb logs.
        if len(log) >= stats.MIN_EPOCHS:
            assert row["ci_method"] == stats.EPOCH_METHOD
            assert row["ci_low"] < row["mean_epoch_seconds"] < row["ci_high"]
            assert log["elapsed"].min() <= row["ci_low"] and row["ci_high"] <= log["elapsed"].max()
        else:
            assert math.isnan(row["ci_low"]) and row["ci_method"] == stats.NO_INTERVAL
    # The study's headline example: CNTK trained the char-LSTM about 1.9x faster than TensorFlow.
    lstm = written.loc[("lstm_text_generation", "tensorflow")]
    assert lstm["times_fastest"] == pytest.approx(
        pd.read_csv(SHIPPED / "lstm_text_generation_tensorflow.csv")["elapsed"].mean()
        / pd.read_csv(SHIPPED / "lstm_text_generation_cntk.csv")["elapsed"].mean(),
        rel=1e-5,
    )
    assert lstm["fastest"] == "cntk default"


def test_kernel_records_the_gpu_uuid(tmp_path, monkeypatch):
    """environment.device() (the kernel's device record in run.json): name and UUID from
    nvidia-smi, the GPU CUDA_VISIBLE_DEVICES picks, and no GPU at all without nvidia-smi."""
    from kerasbench import environment

    fake = tmp_path / "nvidia-smi"
    fake.write_text(
        "#!/bin/sh\necho 'NVIDIA H200, 143771, 580.1, GPU-aaa'\n"
        "echo 'NVIDIA H200, 143771, 580.1, GPU-bbb'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    device = environment.device()
    assert (device["gpu"], device["gpu_uuid"], device["gpu_count"]) == ("NVIDIA H200", "GPU-aaa", 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert environment.device()["gpu_uuid"] == "GPU-bbb"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-aaa")
    assert environment.device()["gpu_uuid"] == "GPU-aaa"
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert environment.device()["gpu"] is None and environment.device()["gpu_uuid"] is None


def test_then_and_now_compares_ratios(tmp_path):
    for backend, seconds in (("tensorflow", 2.0), ("cntk", 5.0)):
        write_run(
            tmp_path / "runs", "mnist_mlp", backend, 0, rows=epochs_rows([9, seconds, seconds])
        )
    frame = build(tmp_path / "runs", [SHIPPED]).then_and_now
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["workload"], row["numerator"], row["denominator"]) == (
        "mnist_mlp",
        "cntk",
        "tensorflow",
    )
    cntk = pd.read_csv(SHIPPED / "mnist_mlp_cntk.csv")["elapsed"].iloc[1:].mean()
    tf = pd.read_csv(SHIPPED / "mnist_mlp_tensorflow.csv")["elapsed"].iloc[1:].mean()
    assert row["reference_ratio"] == pytest.approx(cntk / tf)
    assert row["ratio"] == pytest.approx(2.5) and row["runs"] == "1 / 1"
    assert row["pairing"] == "1 block"  # both ran repeat 0 on one machine


def test_a_backend_that_ran_then_and_now_is_shown_on_its_own(tmp_path):
    """No pair of backends ran in 2017 and here (cntk is not here), but tensorflow did: its
    time over the fastest of its day then (cntk on the 2017 MLP) and now (jax, within the
    block), and the speed-up of the same workload, only where this study ran the full profile."""
    runs = tmp_path / "runs"
    for workload in ("mnist_mlp", "mnist_cnn"):
        for backend, seconds in (("tensorflow", 2.0), ("jax", 1.0)):
            write_run(runs, workload, backend, 0, rows=epochs_rows([9, seconds, seconds]))
    for backend in ("tensorflow", "jax"):  # the CNN's runs: the quick profile
        path = runs / "mnist_cnn" / backend / "0" / "run.json"
        path.write_text(json.dumps(dict(json.loads(path.read_text()), profile="quick")))
    summary = build(runs, [SHIPPED], n_resamples=200, coverage_studies=20)
    assert summary.then_and_now.empty
    frame = summary.same_backend.set_index("workload")
    assert list(frame["backend"]) == ["tensorflow", "tensorflow"]
    mlp = frame.loc["mnist_mlp"]
    tf = pd.read_csv(SHIPPED / "mnist_mlp_tensorflow.csv")["elapsed"].iloc[1:].mean()
    cntk = pd.read_csv(SHIPPED / "mnist_mlp_cntk.csv")["elapsed"].iloc[1:].mean()
    assert mlp["then_times_fastest"] == pytest.approx(tf / cntk) and mlp["then_fastest"] == "cntk"
    assert mlp["times_fastest"] == pytest.approx(2.0) and mlp["fastest"] == "jax default"
    assert mlp["pairing"] == "1 block"
    assert mlp["speedup"] == pytest.approx(tf / 2.0)
    cnn = frame.loc["mnist_cnn"]
    assert math.isnan(cnn["speedup"]) and cnn["speedup_basis"].startswith("profile quick here")
    page = str(tables.then_and_now_table(summary))
    assert "No pair of backends ran both in a reference and here." in page
    assert f"{tf / cntk:.2f}× cntk's" in page and "2.00× jax's, 1 block" in page
    # 3 epochs logged here against the reference's 20 (as `--set epochs=3` would): said, and
    # the speed-up per steady epoch still given
    epochs_then = len(pd.read_csv(SHIPPED / "mnist_mlp_tensorflow.csv"))
    assert (
        mlp["speedup_basis"]
        == f"the same workload and data sizes, 3 epochs here against {epochs_then}"
    )
    assert f"{tf / 2.0:.2f}× faster (the same workload and data sizes, 3 epochs here" in page
    assert "never a comparison of backends" in page


def verdict_rows(metric_name, default_metrics, tuned_backend, tuned_metric):
    """A workload's summary rows as learning_sentence reads them: `default` on tensorflow, jax
    and torch with `default_metrics`, then one `tuned` row, all on the full data."""
    return pd.DataFrame(
        {
            "backend": ["tensorflow", "jax", "torch", tuned_backend],
            "config": ["default", "default", "default", "tuned"],
            "final_metric": list(default_metrics) + [tuned_metric],
            "final_metric_name": [metric_name] * 4,
            "data_source": ["full"] * 4,
        }
    )


def test_the_verdict_names_a_backend_that_learns_differently_beside_its_accuracy():
    rows = verdict_rows("val_accuracy", [0.8798, 0.9059, 0.9051], "tensorflow", 0.8798)
    learning = {
        ("imdb_fasttext", "tensorflow"): ("differs", "learns differently (weights of embedding)"),
        ("imdb_fasttext", "jax"): ("same", "learns the same as torch"),
        ("mnist_mlp", "torch"): ("differs", "learns differently"),
    }
    assert tables.learning_sentence("imdb_fasttext", rows, learning) == (
        "kerasbench parity: tensorflow learns differently (weights of embedding); its test "
        "accuracy 0.8798 against 0.9051–0.9059 on the others."
    )
    assert tables.learning_sentence("imdb_fasttext", rows, {}) == ""
    generated = rows.assign(data_source="generated")
    assert tables.learning_sentence("imdb_fasttext", generated, learning) == (
        "kerasbench parity: tensorflow learns differently (weights of embedding)."
    )


def test_where_no_two_backends_agree_the_verdict_says_so_once():
    rows = verdict_rows("main_out_loss", [1.24071, 1.28330, 1.27895], "jax", 1.2834)
    words = "learns differently (weights of embedding, rnn, hidden_1 +4 more)"
    learning = {("text_generator_keras", b): ("differs", words) for b in rows["backend"]}
    assert tables.learning_sentence("text_generator_keras", rows, learning) == (
        "kerasbench parity: no two of tensorflow, jax, torch learn the same (weights of "
        "embedding, rnn, hidden_1 +4 more); their final training loss 1.2407, 1.2833, 1.2790."
    )
    # Two that agree and one that differs: the one sentence of the differing backend.
    learning["text_generator_keras", "jax"] = ("same", "learns the same as torch")
    learning["text_generator_keras", "torch"] = ("same", "learns the same as jax")
    assert tables.learning_sentence("text_generator_keras", rows, learning).startswith(
        "kerasbench parity: tensorflow learns differently (weights of embedding, rnn, hidden_1 "
        "+4 more); its final training loss 1.2407 against 1.2790–1.2833 on the others."
    )
    # On generated data no metric is compared.
    learning = {("text_generator_keras", b): ("differs", "learns differently") for b in "ab"}
    generated = rows.assign(data_source="generated", backend=["a", "b", "a", "b"])
    assert tables.learning_sentence("text_generator_keras", generated, learning) == (
        "kerasbench parity: no two of a, b learn the same."
    )


def test_runner_up_whose_interval_contains_one_is_not_called_slower(tmp_path):
    # Per-block ratios 0.95 (torch faster), 1.05, 1.2: over the blocks torch is slower (geometric
    # mean 1.06), and with 3 blocks the t interval on the log ratios contains 1, so the verdict
    # does not call torch slower.
    for r, torch_seconds in enumerate([0.95, 1.05, 1.2]):
        write_run(tmp_path, "mnist_mlp", "jax", r, rows=epochs_rows([9, 1.0, 1.0]))
        write_run(
            tmp_path, "mnist_mlp", "torch", r, rows=epochs_rows([9, torch_seconds, torch_seconds])
        )
    result = build(tmp_path, n_resamples=200, coverage_studies=20)
    torch = result.table.set_index("backend").loc["torch"]
    logs = np.log([0.95, 1.05, 1.2])
    half = scipy_stats.t.ppf(0.975, 2) * logs.std(ddof=1) / math.sqrt(3)
    low, high = math.exp(logs.mean() - half), math.exp(logs.mean() + half)
    assert (torch["times_fastest_low"], torch["times_fastest_high"]) == pytest.approx((low, high))
    text = result.verdicts.iloc[0]["text"]
    assert (
        f"but torch default ({math.exp(logs.mean()):.2f}× [{low:.2f}, {high:.2f}], 3 blocks) is "
        "not distinguishable from it: its interval includes 1" in text
    )


def test_shown_path_is_relative_to_the_repository_inside_it(tmp_path):
    # A committed report must not carry the absolute path of the checkout that built it.
    assert rundata.shown_path(
        os.path.join(registry.ROOT, "output", "reference", "h200", "parity")
    ) == (os.path.join("output", "reference", "h200", "parity"))
    assert rundata.shown_path(tmp_path / "parity") == str((tmp_path / "parity").resolve())


def test_a_patched_keras_is_never_the_fastest(tmp_path):
    # keras-patched (a change to Keras) runs 0.8x of jax tuned: its row says so, the verdict
    # names Keras as shipped.
    write_configs(
        tmp_path,
        "mnist_mlp",
        [("jax", "tuned", 1.0), ("jax", "keras-patched", 0.8), ("torch", "default", 3.0)],
    )
    result = build(tmp_path, n_resamples=200, coverage_studies=20)
    row = {(r.backend, r.config): r for r in result.table.itertuples()}
    assert row["jax", "tuned"].times_fastest == 1.0
    assert row["jax", "keras-patched"].times_fastest == pytest.approx(0.8)
    assert row["torch", "default"].times_fastest == pytest.approx(3.0)
    verdict = result.verdicts.iloc[0]
    assert verdict["fastest"] == "jax tuned" and "keras-patched" not in verdict["text"]
    assert "torch default takes 3.00× as long" in verdict["text"]
    patched = result.table[result.table["config"] == "keras-patched"].iloc[0]
    assert "patched Keras (not as shipped)" in rules.caveats(patched)


def test_first_screen_gives_each_workload_its_backends_times_and_metric(tmp_path):
    # MLP: jax default 1.0 s, torch default 3.0 s, jax tuned 0.5 s; CIFAR-10 on generated data.
    write_configs(
        tmp_path,
        "mnist_mlp",
        [
            ("jax", "default", 1.0, 0.98),
            ("torch", "default", 3.0, 0.97),
            ("jax", "tuned", 0.5, 0.96),
        ],
    )
    write_run(tmp_path, "cifar10_cnn", "jax", 0, data_source="generated")
    page = grid.first_screen(build(tmp_path, n_resamples=200, coverage_studies=20))
    rows, tuned = grid_rows(page), grid_rows(page, "kb-grid-tuned")
    mlp = registry.WORKLOADS["mnist_mlp"].title
    cifar = registry.WORKLOADS["cifar10_cnn"].title
    assert rows[mlp]["jax"] == "1 s/epoch | fastest · 0.9800 · 1 run | learning not checked"
    assert rows[mlp]["torch"] == "3 s/epoch | 3.00× · 0.9700 · 1 run | learning not checked"
    assert rows[mlp]["workload"] == f"{mlp} | test accuracy · runs"
    # tuned is a grid of its own, each cell against its backend's default, with its own metric;
    # the first grid shows the metric of each backend's default runs.
    assert tuned == {
        mlp: {
            "workload": f"{mlp} | test accuracy · runs",
            "jax": "0.5 s/epoch | fastest · 2.00× faster than default · 0.9600 · 1 run",
        }
    }
    # Generated data: no metric to compare; a backend without a run of a workload says so.
    assert rows[cifar] == {
        "workload": f"{cifar} | test accuracy · runs",
        "jax": "1.1 s/epoch | fastest · generated data · 1 run | learning not checked",
        "torch": "not run",
    }
    # One run per cell: the legend says there is no interval.
    assert "1 run per cell, so no interval" in page
    # The 2017 workloads without a run are named below the grid, not left out.
    assert set(rows) == {mlp, cifar}
    left = [
        w.title
        for name, w in registry.WORKLOADS.items()
        if name not in ("mnist_mlp", "cifar10_cnn")
    ]
    assert f"2017 workloads not in this study: {', '.join(left)}." in page


def test_first_screen_marks_figures_from_fewer_runs_than_an_interval_needs(tmp_path):
    # jax default has 3 runs, torch default and jax tuned 1 each: in a study with 3-run rows, the
    # first screen must say which of its figures stand on one run (each cell counts its runs).
    for repeat in range(3):
        write_configs(tmp_path, "mnist_mlp", [("jax", "default", 1.0)], repeat=repeat)
    write_configs(tmp_path, "mnist_mlp", [("torch", "default", 3.0), ("jax", "tuned", 0.5)])
    page = grid.first_screen(build(tmp_path, n_resamples=200, coverage_studies=20))
    mlp = registry.WORKLOADS["mnist_mlp"].title
    rows, tuned = grid_rows(page)[mlp], grid_rows(page, "kb-grid-tuned")[mlp]
    assert rows["jax"] == "1 s/epoch | fastest · 0.9000 · 3 runs | learning not checked"
    # torch's ratio stands on one block: no interval
    assert rows["torch"] == "3 s/epoch | 3.00× · 0.9000 · 1 run | learning not checked"
    assert tuned["jax"] == "0.5 s/epoch | fastest · 2.00× faster than default · 0.9000 · 1 run"
    assert "[interval] from 3 blocks" in page and "so no interval" not in page


def test_verdict_table_shows_a_lever_row_only_where_the_verdict_names_it(tmp_path):
    # jax tuned-epoch is the fastest (named); jax tuned-callbacks and jax quiet are levers the
    # verdict does not name: they leave the verdict table, which says so, and stay in All rows.
    write_configs(
        tmp_path,
        "mnist_mlp",
        [
            ("jax", "default", 2.0),
            ("jax", "tuned", 1.0),
            ("jax", "tuned-epoch", 0.8),
            ("jax", "tuned-callbacks", 1.1),
            ("jax", "quiet", 1.5),
            ("torch", "default", 4.0),
        ],
    )
    from kerasbench.report import tables

    result = build(tmp_path, n_resamples=200, coverage_studies=20)
    verdict = result.verdicts.iloc[0]
    assert verdict["named"] == ("jax tuned-epoch", "jax tuned", "torch default")
    table = tables.verdict_table(result)
    for shown in ("jax default", "jax tuned", "jax tuned-epoch", "torch default"):
        assert f"<td>{shown}</td>" in table
    for hidden in ("jax tuned-callbacks", "jax quiet"):
        assert f"<td>{hidden}</td>" not in table
        assert f"<td>{hidden}</td>" in tables.detail_table(result)
    assert "2 more lever rows" in table


def test_backends_measured_on_different_machines_are_said(tmp_path):
    # CIFAR-10's case on the H200: jax on one machine, torch on another; the MLP's backends share
    # a machine (interleaved repeats), so only CIFAR-10 gets the sentence.
    def gpu(uuid):
        return {"gpu": "NVIDIA H200", "gpu_uuid": uuid}

    write_run(tmp_path, "cifar10_cnn", "jax", 0, device=gpu("GPU-a"))
    write_run(tmp_path, "cifar10_cnn", "torch", 0, device=gpu("GPU-b"))
    write_run(tmp_path, "mnist_mlp", "jax", 0, device=gpu("GPU-a"))
    write_run(tmp_path, "mnist_mlp", "torch", 0, device=gpu("GPU-a"))
    write_run(tmp_path, "mnist_mlp", "torch", 1, device=gpu("GPU-b"))
    result = build(tmp_path, n_resamples=200, coverage_studies=20)
    apart = result.notes[result.notes["note"].str.contains("ran on different machines")]
    assert list(apart["workload"]) == ["cifar10_cnn"]
    assert (
        apart["note"]
        .iloc[0]
        .startswith("jax default and torch default ran on different machines (no machine ran both)")
    )


def test_a_caption_counts_machines_instead_of_listing_them():
    from kerasbench.report import tables

    assert tables.hardware_in_short("NVIDIA H200 GPU-aaa") == "NVIDIA H200 GPU-aaa"
    assert (
        tables.hardware_in_short("NVIDIA H200 on vm / NVIDIA H200 GPU-aaa / NVIDIA H200 GPU-bbb")
        == "NVIDIA H200 (3 machines, named under Sources)"
    )


# ---------------------------------------------------------------------------------------------
# Blocks: every ratio within one repeat on one machine


def gpu(uuid):
    return {"gpu": "NVIDIA H200", "gpu_uuid": uuid}


def write_timed(root, workload, backend, config, repeat, seconds, uuid):
    """One run of `seconds` steady seconds per epoch on the GPU `uuid`."""
    write_run(
        root,
        workload,
        backend,
        repeat,
        config=config,
        folder=None if config == "default" else f"{config}-{repeat}",
        rows=epochs_rows([9, seconds, seconds]),
        device=gpu(uuid),
    )


def test_a_ratio_pairs_only_runs_of_one_machine(tmp_path):
    # The H200's MNIST CNN: jax tuned ran repeat 0 beside tuned-epoch on GPU A, repeats 1-2 on a
    # slower host B. Within the one block they share, tuned takes 1.02x as long; the ratio of the
    # means (1.36x) would carry the machines' difference.
    for repeat, seconds, uuid in ((0, 0.522, "GPU-A"), (1, 0.785, "GPU-B"), (2, 0.807, "GPU-B")):
        write_timed(tmp_path, "mnist_cnn", "jax", "tuned", repeat, seconds, uuid)
    write_timed(tmp_path, "mnist_cnn", "jax", "tuned-epoch", 0, 0.511, "GPU-A")
    result = build(tmp_path, n_resamples=200, coverage_studies=20)
    row = {(r.backend, r.config): r for r in result.table.itertuples()}
    tuned = row["jax", "tuned"]
    assert tuned.fastest == "jax tuned-epoch" and tuned.fastest_decided
    assert tuned.times_fastest == pytest.approx(0.522 / 0.511)
    assert (tuned.pairs, tuned.paired, tuned.pairing) == (1, True, "1 block")
    assert math.isnan(tuned.times_fastest_low)
    # Too close to call with 1 block: the noise comes from the one cell that ran twice on one
    # machine (tuned on B), times sqrt 2 for a ratio; threshold exp(1.96 * sd).
    sd = abs(math.log(0.785 / 0.807)) / math.sqrt(2) * math.sqrt(2)
    assert result.noise[tuned.source]["sd"] == pytest.approx(sd)
    threshold = math.exp(scipy_stats.norm.ppf(0.975) * sd)
    text = result.verdicts.iloc[0]["text"]
    assert text.startswith("is fastest at 0.511 s/epoch")
    assert (
        f"jax tuned takes 1.02× as long (1 block), within the noise between blocks (below "
        f"{threshold:.2f}× at 1 block): too close to call" in text
    )


def test_rows_that_never_shared_a_machine_decide_no_verdict(tmp_path):
    # The H200's MNIST MLP: no machine ran both jax tuned and jax tuned-callbacks. Each beat the
    # row beside it; neither can be called the fastest.
    write_timed(tmp_path, "mnist_mlp", "jax", "tuned", 0, 0.40, "GPU-A")
    write_timed(tmp_path, "mnist_mlp", "jax", "quiet", 0, 0.60, "GPU-A")
    write_timed(tmp_path, "mnist_mlp", "jax", "tuned-callbacks", 0, 0.37, "GPU-B")
    write_timed(tmp_path, "mnist_mlp", "jax", "default", 0, 0.85, "GPU-B")
    result = build(tmp_path, n_resamples=200, coverage_studies=20)
    row = {(r.backend, r.config): r for r in result.table.itertuples()}
    tuned = row["jax", "tuned"]
    assert tuned.fastest == "jax tuned-callbacks" and not tuned.fastest_decided
    assert (tuned.paired, tuned.pairing) == (False, "across machines, not paired")
    assert tuned.times_fastest == pytest.approx(0.40 / 0.37) and math.isnan(tuned.times_fastest_low)
    verdict = result.verdicts.iloc[0]
    assert not verdict["decided"] and "is fastest" not in verdict["text"]
    assert verdict["text"].startswith(
        "is the fastest of the rows it ran beside (0.37 s/epoch), not decided fastest: "
        "jax tuned 1.08× (across machines) never ran on one machine with it"
    )
    # jax quiet, beaten by jax tuned on A, is listed as not paired, never as the runner-up.
    assert "jax default takes 2.30× as long (1 block)" in verdict["text"]
    assert (
        "not paired with it (no machine ran both), so not ranked: jax quiet 1.62×"
        in (verdict["text"])
    )
    assert "jax tuned" in verdict["named"]  # its row stays in the verdict table
    from kerasbench.report import sections

    written = pd.read_csv(result.write_csv(tmp_path)).set_index("config")
    assert not written.loc["tuned", "paired"] and written.loc["default", "paired"]
    assert written.loc["tuned", "pairing"] == "across machines, not paired"
    method = str(sections.method_html(result))
    assert (
        "× fastest (jax tuned-callbacks, not decided): in 1 block: jax default; "
        "not paired: jax quiet, jax tuned" in method
    )


def test_first_screen_calls_no_backend_fastest_on_rows_that_never_shared_a_machine(tmp_path):
    # As shipped: torch beat tensorflow on GPU A; jax, lower still, ran alone on GPU B. torch is
    # the fastest of the rows it ran beside, not the lowest; nothing is bold, and jax's ratio is
    # said to be unpaired.
    write_timed(tmp_path, "mnist_mlp", "jax", "default", 0, 0.37, "GPU-B")
    write_timed(tmp_path, "mnist_mlp", "torch", "default", 0, 0.40, "GPU-A")
    write_timed(tmp_path, "mnist_mlp", "tensorflow", "default", 0, 0.60, "GPU-A")
    result = build(tmp_path, n_resamples=200, coverage_studies=20)
    assert result.verdicts.iloc[0]["text"].startswith(
        "is the fastest of the rows it ran beside (0.4 s/epoch), not decided fastest: "
        "jax default 0.92× (across machines) never ran on one machine with it"
    )
    page = grid.first_screen(result)
    rows = grid_rows(page)[registry.WORKLOADS["mnist_mlp"].title]
    assert rows["torch"].startswith("0.4 s/epoch | fastest of those it ran beside, not decided ·")
    assert rows["jax"].startswith("0.37 s/epoch | 0.92× (not paired) ·")
    assert rows["tensorflow"].startswith("0.6 s/epoch | 1.50× ·")
    grid_part = page[page.index("id='kb-grid-default'") : page.index("</table>")]
    assert "<b>" not in grid_part.split("</caption>")[1]
    # Where no row shares a machine with another, the fastest is only the lowest time.
    write_timed(tmp_path / "apart", "mnist_mlp", "jax", "default", 0, 0.37, "GPU-B")
    write_timed(tmp_path / "apart", "mnist_mlp", "torch", "default", 0, 0.40, "GPU-A")
    apart = grid_rows(grid.first_screen(build(tmp_path / "apart", n_resamples=200)))
    assert apart[registry.WORKLOADS["mnist_mlp"].title]["jax"].startswith(
        "0.37 s/epoch | lowest, not decided ·"
    )


def test_first_screen_as_shipped_carries_its_interval_from_three_blocks(tmp_path):
    # Three blocks on two machines; torch/jax 2.9, 3.0, 3.1 within them. Machine B is twice as
    # slow for both, which the blocks take out.
    for repeat, (uuid, slow, torch_ratio) in enumerate(
        [("GPU-A", 1.0, 2.9), ("GPU-A", 1.0, 3.0), ("GPU-B", 2.0, 3.1)]
    ):
        write_timed(tmp_path, "mnist_mlp", "jax", "default", repeat, 1.0 * slow, uuid)
        write_timed(tmp_path, "mnist_mlp", "torch", "default", repeat, torch_ratio * slow, uuid)
    result = build(tmp_path, n_resamples=200, coverage_studies=20)
    logs = np.log([2.9, 3.0, 3.1])
    half = scipy_stats.t.ppf(0.975, 2) * logs.std(ddof=1) / math.sqrt(3)
    ratio, low, high = (math.exp(logs.mean() + d) for d in (0, -half, half))
    cells = grid_data.cells(result).set_index("backend")
    assert cells.loc["torch", "ratio"] == pytest.approx(ratio)
    assert (cells.loc["torch", "low"], cells.loc["torch", "high"]) == pytest.approx((low, high))
    assert cells.loc["torch", "pairing"] == "3 blocks on 2 machines"
    answer = grid_rows(grid.first_screen(result))[registry.WORKLOADS["mnist_mlp"].title]
    assert (
        answer["jax"]
        == f"{2 ** (1 / 3):.3g} s/epoch | fastest · 0.9000 · 3 runs | learning not checked"
    )
    assert answer["torch"].startswith(
        f"{ratio * 2 ** (1 / 3):.3g} s/epoch | {ratio:.2f}× [{low:.2f}, {high:.2f}] ·"
    )
    # The noise for "too close to call" is measured from this pair's 3 blocks.
    source = result.table["source"].iloc[0]
    assert result.noise[source]["sd"] == pytest.approx(logs.std(ddof=1))
    assert "1 pair of rows with 3 or more blocks" in result.noise[source]["basis"]


@pytest.mark.parametrize("runner_up, close", [(1.1, True), (1.3, False)])
def test_too_close_to_call_uses_the_noise_between_blocks(tmp_path, runner_up, close):
    # jax/torch default in 3 blocks with per-block ratios 2.0, 2.2, 2.4: sd of the log ratios is
    # the noise; the tuned rows ran once, side by side (1 block).
    for repeat, torch_ratio in enumerate([2.0, 2.2, 2.4]):
        write_timed(tmp_path, "mnist_mlp", "jax", "default", repeat, 1.0, "GPU-A")
        write_timed(tmp_path, "mnist_mlp", "torch", "default", repeat, torch_ratio, "GPU-A")
    write_timed(tmp_path, "mnist_mlp", "jax", "tuned", 0, 0.5, "GPU-A")
    write_timed(tmp_path, "mnist_mlp", "jax", "tuned-epoch", 0, 0.5 * runner_up, "GPU-A")
    result = build(tmp_path, n_resamples=200, coverage_studies=20)
    sd = np.log([2.0, 2.2, 2.4]).std(ddof=1)
    threshold = math.exp(scipy_stats.norm.ppf(0.975) * sd)  # 1.19x at 1 block
    text = result.verdicts.iloc[0]["text"]
    assert f"jax tuned-epoch takes {runner_up:.2f}× as long (1 block)" in text
    assert (f"below {threshold:.2f}× at 1 block): too close to call" in text) == close


def test_noise_without_three_blocks_falls_back_to_runs_and_then_to_the_h200(tmp_path):
    # Two runs of one cell on one machine, 1.0 and 1.2 s: sd of the logs |log 1.2| / sqrt 2,
    # times sqrt 2 for a ratio of two runs.
    write_timed(tmp_path / "a", "mnist_mlp", "jax", "default", 0, 1.0, "GPU-A")
    write_timed(tmp_path / "a", "mnist_mlp", "jax", "default", 1, 1.2, "GPU-A")
    noise = build(tmp_path / "a", n_resamples=200, coverage_studies=20).noise
    (only,) = noise.values()
    assert only["sd"] == pytest.approx(math.log(1.2)) and "times √2" in only["basis"]
    write_timed(tmp_path / "b", "mnist_mlp", "jax", "default", 0, 1.0, "GPU-A")
    (only,) = build(tmp_path / "b", n_resamples=200, coverage_studies=20).noise.values()
    assert only["sd"] == stats.SD_RATIO_LOG and "H200" in only["basis"]


def test_the_time_chart_promises_a_ci_only_where_a_bar_has_one(tmp_path):
    from kerasbench.report import figures

    one = tmp_path / "one"
    for backend in ("jax", "torch"):
        write_run(one, "mnist_mlp", backend, 0, rows=epochs_rows([9, 1.0, 1.1]))
    title = figures.epoch_time_figure(build(one), "mnist_mlp").layout.title.text
    assert "CI" not in title and "first epoch" in title
    three = tmp_path / "three"
    for backend in ("jax", "torch"):
        for r in range(3):
            write_run(three, "mnist_mlp", backend, r, rows=epochs_rows([9, 1.0 + r / 10, 1.1]))
    title = figures.epoch_time_figure(build(three), "mnist_mlp").layout.title.text
    assert "black whisker: 95% CI over runs" in title


def test_each_cell_carries_its_learning_verdict_where_parity_ran(tmp_path):
    for backend in ("jax", "torch"):
        write_run(tmp_path / "runs", "mnist_mlp", backend, 0, rows=epochs_rows([9, 1.0, 1.1]))
    summary = build(tmp_path / "runs")
    mlp = registry.WORKLOADS["mnist_mlp"].title
    without = grid.first_screen(summary)
    assert [c.split(" | ")[-1] for c in list(grid_rows(without)[mlp].values())[1:]] == [
        "learning not checked"
    ] * 2
    assert "learns the same as" not in without and "not run in this study" in without
    # The committed CPU check: tensorflow, jax and torch learn the MLP the same, cntk not.
    parity = os.path.join(REPO, "output", "reference", "cpu-quick", "parity")
    page = grid.first_screen(summary, parity)
    rows = grid_rows(page)[mlp]
    assert rows["jax"].endswith(" | learns the same as tensorflow, torch")
    assert rows["torch"].endswith(" | learns the same as tensorflow, jax")
    assert "not run in this study" not in page and "learning not checked" not in page
