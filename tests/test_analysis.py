"""The analysis library against known answers: loading, bootstrap, summary, the 2017 numbers.

The full coverage simulation (2,000 simulated studies, 10,000 resamples each, about a minute) runs
with `pytest -m slow tests/test_analysis.py` or KERASBENCH_FULL_COVERAGE=1; the default run does a
few hundred studies with fewer resamples and bounds wide enough for that many.
"""
from __future__ import annotations

import json
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    import kerasbench  # noqa: F401
except ImportError:  # not installed: use the checkout's lib/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from kerasbench import analysis, registry  # noqa: E402

SHARED_REFERENCE = Path("/work/shared/reference/keras-cntk-2017-k80")


# ---------------------------------------------------------------------------------------------
# Helpers: tidy frames built in memory, and a run folder on disk

def fake_epochs(workload="mnist_mlp", backend="jax", runs=(), source="new", status="ok",
                metric="val_accuracy") -> pd.DataFrame:
    """A tidy table of runs; runs is a list of (epoch_seconds list, final metric value)."""
    frames = []
    for repeat, (seconds, final) in enumerate(runs):
        n = len(seconds)
        frame = pd.DataFrame({"epoch": np.arange(n, dtype=float),
                              "epoch_seconds": np.asarray(seconds, dtype=float)})
        frame["elapsed_seconds"] = frame["epoch_seconds"].cumsum()
        frame["samples_per_second"] = 100.0 / frame["epoch_seconds"]
        frame[metric] = np.linspace(final / 2, final, n)
        run = {"source": source, "workload": workload, "backend": backend, "config": "default",
               "repeat": repeat, "run_id": f"{workload}/{backend}/{repeat}", "status": status,
               "ok": status == "ok", "data_source": "full", "profile": "full",
               "mean_basis": analysis.AFTER_FIRST}
        for column in reversed(analysis.RUN_COLUMNS):
            frame.insert(0, column, run[column])
        frames.append(frame)
    return analysis.combine(*frames)


def write_run(root: Path, workload: str, backend: str, repeat: int, *, status="ok",
              rows="epoch,epoch_seconds,val_accuracy\n0,3.0,0.5\n1,1.0,0.7\n2,1.2,0.8\n",
              run_json=True, data_source="full") -> Path:
    run_dir = root / workload / backend / str(repeat)
    run_dir.mkdir(parents=True)
    if rows is not None:
        (run_dir / "epochs.csv").write_text(rows)
    if run_json:
        (run_dir / "run.json").write_text(json.dumps({
            "schema": 1, "workload": workload, "backend": backend, "repeat": repeat,
            "config": "default", "profile": "smoke", "status": status,
            "error": None if status == "ok" else "boom", "data": {"source": data_source},
            "versions": {"keras": "3.15.1"}, "device": {"cpu": "Test CPU", "gpu": None},
            "backend_settings": {"precision": "float32"}}))
    return run_dir


# ---------------------------------------------------------------------------------------------
# Loading

def test_load_runs_keeps_failed_and_unfinished_runs(tmp_path):
    write_run(tmp_path, "mnist_mlp", "jax", 0)
    write_run(tmp_path, "mnist_mlp", "jax", 1, status="failed")
    write_run(tmp_path, "mnist_mlp", "torch", 0, run_json=False)
    write_run(tmp_path, "mnist_cnn", "torch", 0, status="timeout", rows=None)
    epochs = analysis.load_runs(tmp_path)
    assert list(epochs.columns[:len(analysis.RUN_COLUMNS)]) == analysis.RUN_COLUMNS
    assert list(epochs.columns[len(analysis.RUN_COLUMNS):][:9]) == analysis.EPOCH_COLUMNS
    by_run = epochs.groupby("run_id")[["status", "ok", "config", "data_source"]].first()
    assert by_run.loc["mnist_mlp/jax/0"].tolist() == ["ok", True, "default", "full"]
    assert by_run.loc["mnist_mlp/jax/1", "status"] == "failed"
    assert by_run.loc["mnist_mlp/torch/0", "status"] == "unfinished"
    assert not by_run.loc["mnist_mlp/torch/0", "ok"]
    assert len(epochs) == 9 and epochs["source"].unique().tolist() == ["this study (Test CPU)"]
    index = analysis.load_run_index(tmp_path)
    assert set(index["run_id"]) == {"mnist_mlp/jax/0", "mnist_mlp/jax/1", "mnist_mlp/torch/0",
                                    "mnist_cnn/torch/0"}
    problems = analysis.problem_runs(index)
    assert problems["status"].tolist() == ["failed", "unfinished", "timeout"]
    summary = analysis.summarize(epochs, n_resamples=200)
    assert summary.set_index("backend").loc["jax", "runs"] == 1
    assert summary.set_index("backend").loc["torch", "runs"] == 0


@pytest.mark.parametrize("rows", [
    "epoch,epoch_seconds\n0,1.0\n1,1.0,2.0,3.0\n",
    "epoch,epoch_seconds\n0,fast\n",
    "step,seconds\n0,1.0\n",
])
def test_damaged_epochs_csv_is_one_line(tmp_path, rows):
    write_run(tmp_path, "mnist_mlp", "jax", 0, rows=rows)
    with pytest.raises(analysis.RunDataError) as e:
        analysis.load_runs(tmp_path)
    assert "\n" not in str(e.value) and "epochs.csv" in str(e.value)


def test_empty_epochs_csv_is_a_run_without_epochs(tmp_path):
    write_run(tmp_path, "mnist_mlp", "jax", 0, rows="", run_json=False)
    assert analysis.load_runs(tmp_path).empty
    assert analysis.load_run_index(tmp_path)["status"].tolist() == ["unfinished"]


def test_missing_runs_folder(tmp_path):
    with pytest.raises(analysis.RunDataError, match="not found"):
        analysis.load_runs(tmp_path / "missing")


def test_load_reference_schema_and_mapping():
    ref = analysis.load_reference()
    assert set(ref["source"]) == {analysis.REFERENCE_SOURCE}
    assert set(ref["backend"]) == {"tensorflow", "cntk"}
    assert set(ref["workload"]) == set(registry.WORKLOADS)
    assert (ref["mean_basis"] == analysis.ALL_EPOCHS).all() and ref["ok"].all()
    raw = pd.read_csv(analysis.REFERENCE_DIR / "mnist_cnn_cntk.csv")
    run = ref[ref["run_id"] == "2017/mnist_cnn/cntk"]
    np.testing.assert_allclose(run["epoch_seconds"], raw["elapsed"])
    np.testing.assert_allclose(run["elapsed_seconds"], raw["elapsed"].cumsum())
    np.testing.assert_allclose(run["accuracy"], raw["acc"])
    np.testing.assert_allclose(run["val_accuracy"], raw["val_acc"])
    text = ref[ref["run_id"] == "2017/text_generator_keras/tensorflow"]
    raw = pd.read_csv(analysis.REFERENCE_DIR / "text_generator_keras_tensorflow.csv")
    np.testing.assert_allclose(text[registry.WORKLOADS["text_generator_keras"].metric], raw["loss"])
    assert text["loss"].isna().all()  # not the total loss of both heads


def test_shipped_reference_is_the_published_copy():
    shipped = analysis.REFERENCE_DIR
    assert (shipped / "LICENSE").read_text().count("Copyright (c) 2017 Max Woolf") == 1
    assert (shipped / "README.md").exists()
    if not SHARED_REFERENCE.is_dir():
        pytest.skip(f"{SHARED_REFERENCE} not on this machine")
    for path in SHARED_REFERENCE.glob("*.csv"):
        assert (shipped / path.name).read_bytes() == path.read_bytes(), path.name


# ---------------------------------------------------------------------------------------------
# Bootstrap against NumPy and closed forms

def numpy_percentile_ci(samples, statistic, n_resamples, seed, level=0.95):
    """What scipy.stats.bootstrap(method='percentile') computes, spelled out: each sample is
    resampled in turn from the same generator, then the linear-interpolation quantiles."""
    rng = np.random.default_rng(seed)
    resampled = [x[rng.integers(0, len(x), (n_resamples, len(x)))] for x in samples]
    distribution = statistic(*resampled)
    alpha = (1 - level) / 2
    return tuple(np.quantile(distribution, [alpha, 1 - alpha]))


def test_mean_ci_matches_numpy():
    x = np.array([2.1, 2.5, 1.9, 3.2, 2.8, 2.2, 2.6, 4.0])
    got = analysis.bootstrap_mean_ci(x, n_resamples=10_000, rng=np.random.default_rng(42))
    expected = numpy_percentile_ci([x], lambda r: r.mean(axis=-1), 10_000, 42)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[0] < x.mean() < got[1]


def test_ratio_ci_matches_numpy():
    a = np.array([2.0, 2.2, 2.1, 2.6])
    b = np.array([1.0, 1.1, 0.9, 1.05, 1.2])
    got = analysis.bootstrap_ratio_ci(a, b, n_resamples=5_000, rng=np.random.default_rng(7),
                                      confidence_level=0.9)
    expected = numpy_percentile_ci([a, b], lambda x, y: x.mean(-1) / y.mean(-1), 5_000, 7, 0.9)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_degenerate_data_never_raises():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DegenerateDataWarning either
        assert analysis.bootstrap_mean_ci([3.5] * 6) == (3.5, 3.5)
        assert all(math.isnan(v) for v in analysis.bootstrap_mean_ci([3.5]))
        assert all(math.isnan(v) for v in analysis.bootstrap_mean_ci([]))
        assert all(math.isnan(v) for v in analysis.bootstrap_mean_ci([np.nan, 1.0]))
        assert analysis.bootstrap_ratio_ci([2.0, 2.0], [4.0, 4.0, 4.0]) == (0.5, 0.5)
        assert all(math.isnan(v) for v in analysis.bootstrap_ratio_ci([2.0], [1.0, 1.1]))
        low, high = analysis.bootstrap_ratio_ci([2.0, 2.0], [1.0, 1.1, 0.9], n_resamples=500)
        assert low < 2.0 < high


def test_group_streams_are_independent_of_other_groups():
    one = analysis.summarize(fake_epochs(runs=[([3, 1, 1.1, 0.9], 0.9)]), n_resamples=500, seed=3)
    both = analysis.summarize(analysis.combine(
        fake_epochs(runs=[([3, 1, 1.1, 0.9], 0.9)]),
        fake_epochs(backend="torch", runs=[([3, 2, 2.2, 2.1], 0.8)])), n_resamples=500, seed=3)
    jax = both.set_index("backend").loc["jax"]
    assert (jax["ci_low"], jax["ci_high"]) == (one["ci_low"][0], one["ci_high"][0])


# ---------------------------------------------------------------------------------------------
# Summary statistics

def test_summary_over_runs():
    runs = [([5.0, 1.0, 1.2, 1.1], 0.90), ([6.0, 1.3, 1.1, 1.2], 0.92), ([4.0, 1.0, 1.0, 1.0], 0.94)]
    summary = analysis.summarize(fake_epochs(runs=runs), n_resamples=2_000, seed=1)
    row = summary.iloc[0]
    assert list(summary.columns[:len(analysis.SUMMARY_COLUMNS)]) == analysis.SUMMARY_COLUMNS
    run_means = [np.mean(s[1:]) for s, _ in runs]
    assert row["runs"] == 3 and row["epochs"] == 4 and row["ci_basis"] == analysis.CI_RUNS
    assert row["mean_epoch_seconds"] == pytest.approx(np.mean(run_means))
    assert row["warmup_seconds"] == pytest.approx(5.0)
    expected = analysis.bootstrap_mean_ci(run_means, n_resamples=2_000,
                                          rng=analysis.group_rng(1, "new", "mnist_mlp", "jax", "default"))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(expected)
    assert row["final_metric_name"] == "val_accuracy"
    assert row["final_metric"] == pytest.approx(0.92)
    assert row["final_metric_std"] == pytest.approx(np.std([0.90, 0.92, 0.94], ddof=1))
    assert (row["final_metric_min"], row["final_metric_max"]) == pytest.approx((0.90, 0.94))
    assert row["speedup_vs_fastest"] == 1.0 and row["fastest_backend"] == "jax"


def test_single_run_resamples_epochs():
    seconds = [9.0, 2.0, 2.2, 1.8, 2.4, 2.1]
    row = analysis.summarize(fake_epochs(runs=[(seconds, 0.8)]), n_resamples=2_000, seed=2).iloc[0]
    assert row["ci_basis"] == analysis.CI_EPOCHS
    assert row["mean_epoch_seconds"] == pytest.approx(np.mean(seconds[1:]))
    expected = analysis.bootstrap_mean_ci(seconds[1:], n_resamples=2_000,
                                          rng=analysis.group_rng(2, "new", "mnist_mlp", "jax", "default"))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(expected)
    assert math.isnan(row["final_metric_std"])


def test_speedup_is_time_over_fastest_with_ratio_ci():
    fast = [([3, 1.0, 1.1], 0.9), ([3, 0.9, 1.0], 0.9)]
    slow = [([6, 2.0, 2.2], 0.9), ([6, 2.1, 1.9], 0.9), ([6, 2.4, 2.0], 0.9)]
    failed = [([6, 50.0, 50.0], 0.1)]
    epochs = analysis.combine(fake_epochs(backend="jax", runs=fast),
                              fake_epochs(backend="torch", runs=slow),
                              fake_epochs(backend="tensorflow", runs=failed, status="failed"))
    summary = analysis.summarize(epochs, n_resamples=3_000, seed=5).set_index("backend")
    jax, torch = summary.loc["jax"], summary.loc["torch"]
    assert torch["speedup_vs_fastest"] == pytest.approx(torch["mean_epoch_seconds"] / jax["mean_epoch_seconds"])
    assert torch["speedup_vs_fastest"] > 1
    expected = analysis.bootstrap_ratio_ci([2.1, 2.0, 2.2], [1.05, 0.95], n_resamples=3_000,
                                           rng=analysis.group_rng(5, "new", "mnist_mlp", "torch", "default", "vs", "jax"))
    assert (torch["speedup_ci_low"], torch["speedup_ci_high"]) == pytest.approx(expected)
    assert (jax["speedup_vs_fastest"], jax["speedup_ci_low"], jax["speedup_ci_high"]) == (1.0, 1.0, 1.0)
    tf = summary.loc["tensorflow"]
    assert tf["runs"] == 0 and tf["not_ok_runs"] == 1 and math.isnan(tf["mean_epoch_seconds"])
    assert math.isnan(tf["speedup_vs_fastest"])


def _with_config(frame, config):
    frame = frame.copy()
    frame["config"] = config
    return frame


def test_distance_to_the_floor_known_answers():
    """jax default 2 s, jax tuned 1 s, torch 3 s; native JAX scan 0.5 s, native torch 1 s:
    times_floor is each Keras row over the fastest native loop, times_native over its own."""
    epochs = analysis.combine(
        fake_epochs(backend="jax", runs=[([9, 2.0, 2.0, 2.0], 0.9)]),
        _with_config(fake_epochs(backend="jax", runs=[([9, 1.0, 1.0], 0.9)]), "tuned"),
        fake_epochs(backend="torch", runs=[([9, 3.0, 3.0], 0.9)]),
        _with_config(fake_epochs(backend="native-jax", runs=[([9, 0.5, 0.5], 0.9)]), "scan"),
        _with_config(fake_epochs(backend="native-torch", runs=[([9, 1.0, 1.0], 0.9)]), "compiled"))
    summary = analysis.summarize(epochs, n_resamples=1_000, seed=1)
    row = {(r.backend, r.config): r for r in summary.itertuples()}
    assert row["jax", "default"].times_floor == pytest.approx(4.0)
    assert (row["jax", "default"].times_floor_ci_low, row["jax", "default"].times_floor_ci_high) \
        == pytest.approx((4.0, 4.0))  # constant epochs: the interval is the point
    assert row["jax", "tuned"].times_floor == pytest.approx(2.0)
    assert row["torch", "default"].times_floor == pytest.approx(6.0)
    assert row["torch", "default"].times_native == pytest.approx(3.0)
    assert row["torch", "default"].native_seconds == pytest.approx(1.0)
    assert row["jax", "default"].floor_backend == "native-jax scan"
    # Native loops are the floor, not backends: no speed-up, no floor ratio of their own.
    assert math.isnan(row["native-jax", "scan"].speedup_vs_fastest)
    assert math.isnan(row["native-jax", "scan"].times_floor)
    # Speed-ups compare backends within a configuration.
    assert row["torch", "default"].speedup_vs_fastest == pytest.approx(1.5)
    assert row["jax", "tuned"].speedup_vs_fastest == 1.0


def test_a_run_whose_loss_does_not_go_down_is_flagged():
    learning = fake_epochs(backend="jax", runs=[([5, 1.0, 1.0], 0.9)])
    learning["loss"] = np.tile([3.9, 2.5, 2.1], 1)
    diverged = fake_epochs(backend="cntk", runs=[([5, 1.0, 1.0], 0.9)])
    diverged["loss"] = [13.5, 13.6, 13.6]
    summary = analysis.summarize(analysis.combine(learning, diverged), n_resamples=200)
    by_backend = summary.set_index("backend")
    assert by_backend.loc["jax", "not_learning_runs"] == 0
    assert by_backend.loc["cntk", "not_learning_runs"] == 1
    notes = analysis.notes(summary)
    flagged = notes[notes["note"].str.contains("did not go down")]
    assert list(flagged["backends"]) == ["cntk"]


def test_no_native_loops_no_floor():
    summary = analysis.summarize(fake_epochs(runs=[([9, 1.0, 1.0], 0.9)]), n_resamples=500)
    assert summary["times_floor"].isna().all() and summary["floor_backend"].isna().all()


def test_study_notes_are_the_runs_folder_readme(tmp_path):
    assert analysis.study_notes(tmp_path) is None
    (tmp_path / "README.md").write_text("**TensorFlow** cannot run on this GPU.")
    assert "cannot run" in analysis.study_notes(tmp_path)


def test_text_model_metric_is_final_training_loss():
    epochs = fake_epochs(workload="text_generator_keras", metric="main_out_loss",
                         runs=[([2, 1, 1], 1.3), ([2, 1, 1], 1.5)])
    row = analysis.summarize(epochs, n_resamples=200).iloc[0]
    assert row["final_metric_name"] == "main_out_loss"
    assert row["final_metric"] == pytest.approx(1.4)


def test_notes_state_the_handicaps():
    epochs = fake_epochs(runs=[([3, 1, 1.1], 0.9)])
    epochs["data_source"] = "generated"
    summary = analysis.summarize(analysis.combine(epochs, analysis.load_reference()), n_resamples=200)
    text = " ".join(analysis.notes(summary)["note"])
    assert "generated data" in text and "accuracy is not a result" in text
    assert "a single run, so the interval is over its epochs" in text
    assert "No runs of this workload in the runs folder" in text
    assert "2017: one run per backend" in text
    assert "Text model" in text


# ---------------------------------------------------------------------------------------------
# The 2017 numbers, computed independently with plain pandas

def test_2017_means_in_summary_csv_match_the_logs(tmp_path):
    summary = analysis.summarize(analysis.load_reference(), n_resamples=500)
    written = pd.read_csv(analysis.write_summary(summary, tmp_path))
    assert list(written.columns[:len(analysis.SUMMARY_COLUMNS)]) == analysis.SUMMARY_COLUMNS
    written = written.set_index(["workload", "backend"])
    csvs = sorted(analysis.REFERENCE_DIR.glob("*.csv"))
    assert len(written) == len(csvs) == 14
    for path in csvs:
        workload, _, backend = path.stem.rpartition("_")
        log = pd.read_csv(path)
        row = written.loc[(workload, backend)]
        assert row["source"] == "2017 K80 (Keras 2.0)"
        assert row["epochs"] == len(log)
        assert row["mean_epoch_seconds"] == pytest.approx(log["elapsed"].mean(), rel=1e-5)
        assert row["warmup_seconds"] == pytest.approx(log["elapsed"].iloc[0], rel=1e-5)
        final = log["val_acc"].iloc[-1] if "val_acc" in log and log["val_acc"].notna().any() else log["loss"].iloc[-1]
        assert row["final_metric"] == pytest.approx(final, rel=1e-5)
        assert row["ci_low"] <= row["mean_epoch_seconds"] <= row["ci_high"]
    # The study's headline example: CNTK trained the char-LSTM about 1.9x faster than TensorFlow.
    lstm = written.loc[("lstm_text_generation", "tensorflow")]
    assert lstm["speedup_vs_fastest"] == pytest.approx(
        pd.read_csv(analysis.REFERENCE_DIR / "lstm_text_generation_tensorflow.csv")["elapsed"].mean()
        / pd.read_csv(analysis.REFERENCE_DIR / "lstm_text_generation_cntk.csv")["elapsed"].mean(), rel=1e-5)


# ---------------------------------------------------------------------------------------------
# Coverage: does a nominal 95% interval cover the true mean 95% of the time?

def coverage(trials: int, n: int, n_resamples: int, seed: int) -> float:
    """Share of simulated studies (n values, normal noise around 2.0 s) whose interval covers 2.0."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(trials):
        sample = 2.0 + 0.1 * rng.standard_normal(n)
        low, high = analysis.bootstrap_mean_ci(sample, n_resamples=n_resamples, rng=rng)
        hits += low <= 2.0 <= high
    return hits / trials


def test_coverage_fast():
    # One run of 100 steady epochs (the single-run basis). The percentile interval's coverage for
    # n=100 is about 94.6%; 300 trials give a binomial standard error of about 1.3 points, so
    # 90-99% is more than +-3 standard errors (a false failure rate below 0.3%). 999 resamples add
    # little noise to the 2.5%/97.5% quantiles at that width.
    assert 0.90 <= coverage(trials=300, n=100, n_resamples=999, seed=11) <= 0.99


def test_coverage_of_few_runs_is_what_the_report_says():
    # 5 runs: SMALL_SAMPLE_COVERAGE says 84%. 400 trials, standard error about 1.8 points: +-6.
    assert abs(coverage(trials=400, n=5, n_resamples=999, seed=12)
               - analysis.SMALL_SAMPLE_COVERAGE[5]) <= 0.06


def _full_coverage_requested(config) -> bool:
    return os.environ.get("KERASBENCH_FULL_COVERAGE") == "1" or "slow" in (config.getoption("-m") or "")


@pytest.mark.slow
def test_coverage_full(request):
    if not _full_coverage_requested(request.config):
        pytest.skip("full coverage simulation: run with -m slow or KERASBENCH_FULL_COVERAGE=1")
    # 2,000 studies, 10,000 resamples: standard error about 0.5 points around ~94.6%, so the
    # 93-97% band is over 3 standard errors wide on each side.
    assert 0.93 <= coverage(trials=2_000, n=100, n_resamples=10_000, seed=13) <= 0.97
