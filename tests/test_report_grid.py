"""The report's first screen (report.grid, report.grid_data) on generated runs with known answers:
the cells (s/epoch, ms/step from train samples and batch size, the ratio to the fastest, the
fastest in bold only where summary decided it), the learning verdict per cell from parity, the
hardware and load line, the key findings, the `tuned` grid kept apart, links and escaping.
The committed cpu-quick parity check gives the learning words known answers."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from kerasbench import runfiles
from kerasbench.report import grid, grid_data, parity, rundata, summary as summary_mod

from conftest import REPO

CPU_QUICK_PARITY = os.path.join(REPO, "output", "reference", "cpu-quick", "parity")


def write_run(
    out: Path,
    workload,
    backend,
    seconds=1.0,
    *,
    config="default",
    repeat=0,
    status="ok",
    error=None,
    loss_falls=True,
    load=(1.0, 3.0),
    train_samples=1000,
    batch_size=128,
    cpu="Xeon Test",
    host="box",
):
    """One run folder: epoch 0 takes 9 s, then two steady epochs of `seconds` (training 80% of
    it, so samples per second = train_samples / (0.8 * seconds)); run.json through runfiles."""
    folder = runfiles.run_folder(str(out), workload, backend, config, repeat)
    os.makedirs(folder)
    losses = [2.0, 1.5, 1.0] if loss_falls else [1.0, 1.5, 2.0]
    writer = runfiles.EpochWriter(os.path.join(folder, runfiles.EPOCHS_CSV))
    elapsed = 0.0
    for epoch, (took, loss) in enumerate(zip([9.0, seconds, seconds], losses)):
        elapsed += took
        writer.write(
            {
                "epoch": epoch,
                "epoch_seconds": took,
                "train_seconds": 0.8 * took,
                "elapsed_seconds": elapsed,
                "samples_per_second": train_samples / (0.8 * took),
                "loss": loss,
                "val_accuracy": 0.9,
            }
        )
    writer.close()
    kernel = {
        "data": {"source": "full", "detail": "test", "train_samples": train_samples},
        "device": {"cpu": cpu, "cores": 2, "gpu": None, "host": host},
    }
    if load is not None:
        kernel["machine_load"] = {
            "start": {"load_1min": load[0], "cpus": 2},
            "end": {"load_1min": load[1], "cpus": 2},
        }
    record = runfiles.record(
        workload,
        backend,
        "quick",
        repeat,
        repeat,
        config,
        {"epochs": 3, "batch_size": batch_size},
        status,
        error,
        runfiles.now(),
        30.0,
        kernel_info=kernel,
        host=host,
    )
    runfiles.write_json_atomic(os.path.join(folder, runfiles.RUN_JSON), record)


def summarize(out: Path):
    study = rundata.load_study(out / runfiles.RUNS, references=[])
    return summary_mod.build(study, n_resamples=200, coverage_studies=20)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """MLP: jax 1 s fastest, tensorflow 2 s, torch 3 s, cntk failed; CNN: tensorflow 1 s,
    jax 1.05 s (within the noise), torch 2 s and did not learn; fastText: jax 1 s, torch 1.5 s,
    tensorflow 4 s. tuned: jax 0.5 s and torch 3 s on the MLP. One run with load 4 on 2 cores."""
    out = tmp_path_factory.mktemp("grid")
    for workload, times in {
        "mnist_mlp": {"tensorflow": 2.0, "jax": 1.0, "torch": 3.0},
        "mnist_cnn": {"tensorflow": 1.0, "jax": 1.05, "torch": 2.0},
        "imdb_fasttext": {"tensorflow": 4.0, "jax": 1.0, "torch": 1.5},
    }.items():
        for backend, seconds in times.items():
            busy = workload == "imdb_fasttext" and backend == "tensorflow"
            write_run(
                out,
                workload,
                backend,
                seconds,
                loss_falls=not (workload == "mnist_cnn" and backend == "torch"),
                load=(4.0, 4.0) if busy else (1.0, 3.0),
            )
    write_run(
        out, "mnist_mlp", "cntk", status="failed", error="ValueError: <img src=x onerror=alert(1)>"
    )
    write_run(out, "mnist_mlp", "jax", 0.5, config="tuned")
    write_run(out, "mnist_mlp", "torch", 3.0, config="tuned")
    return out, summarize(out)


def cell(table, workload, backend):
    hit = table[(table["workload"] == workload) & (table["backend"] == backend)]
    assert len(hit) == 1, (workload, backend)
    return hit.iloc[0]


def test_steps_per_epoch_and_ms_per_step_known_answers():
    record = {"data": {"train_samples": 1000}, "params": {"batch_size": 128}}
    assert grid_data.steps_per_epoch(record) == (1000, 8)  # ceil(1000 / 128)
    assert grid_data.steps_per_epoch({"params": {"batch_size": 128}}) == (None, None)
    assert grid_data.steps_per_epoch({"data": {"train_samples": 60000}, "params": {}}) == (
        None,
        None,
    )
    # 1000 samples at 1250 samples/s: 0.8 s of training over 8 steps
    assert grid_data.ms_per_step(1250.0, 1000, 8) == pytest.approx(100.0)
    assert pd.isna(grid_data.ms_per_step(float("nan"), 1000, 8))


def test_default_cells_known_answers(study):
    _, summary = study
    table = grid_data.cells(summary)
    mlp_jax = cell(table, "mnist_mlp", "jax")
    assert mlp_jax["seconds"] == pytest.approx(1.0) and mlp_jax["steps"] == 8
    assert mlp_jax["ms_step"] == pytest.approx(100.0)
    assert mlp_jax["fastest"] and mlp_jax["decided"] and mlp_jax["runs"] == 1
    mlp_torch = cell(table, "mnist_mlp", "torch")
    assert mlp_torch["ratio"] == pytest.approx(3.0) and mlp_torch["call"] == "apart"
    assert mlp_torch["ms_step"] == pytest.approx(300.0) and not mlp_torch["fastest"]
    assert cell(table, "mnist_cnn", "tensorflow")["fastest"]
    assert cell(table, "mnist_cnn", "jax")["call"] == "close"  # 1.05×: within the noise
    assert cell(table, "mnist_cnn", "torch")["not_learning"]
    failed = cell(table, "mnist_mlp", "cntk")
    assert failed["runs"] == 0 and failed["status"].startswith("failed: ValueError: <img")
    # the fastest of each workload is summary's own pick among `default`
    for workload, block in table[table["runs"] > 0].groupby("workload"):
        pick = summary.rankings[
            (summary.rankings["workload"] == workload) & (summary.rankings["among"] == "default")
        ].iloc[0]
        assert list(block[block["fastest"].astype(bool)]["backend"]) == [pick["fastest"].split()[0]]


def test_tuned_cells_are_their_own_grid_against_their_default(study):
    _, summary = study
    tuned = grid_data.cells(summary, "tuned")
    assert set(tuned["workload"]) == {"mnist_mlp"} and set(tuned["config"]) == {"tuned"}
    jax = cell(tuned, "mnist_mlp", "jax")
    assert jax["fastest"] and jax["decided"]
    assert jax["over_default"]["ratio"] == pytest.approx(0.5) and jax["over_default"]["paired"]
    torch = cell(tuned, "mnist_mlp", "torch")
    assert torch["ratio"] == pytest.approx(6.0)
    # against its default: jax's 2× is beyond the noise of 1 block, torch's 1.00× is not
    assert jax["over_default"]["call"] == "apart" and torch["over_default"]["call"] == "close"
    assert "2.00× faster than default ·" in grid.cell_html(jax)
    assert "1.00× faster than default (too close to call) ·" in grid.cell_html(torch)
    # tuned never wins the default grid: jax default stays the MLP's fastest there
    assert cell(grid_data.cells(summary), "mnist_mlp", "jax")["fastest"]


def test_findings_known_answers(study):
    _, summary = study
    default, tuned = grid_data.cells(summary), grid_data.cells(summary, "tuned")
    # tensorflow's MNIST CNN win is within the noise (jax at 1.05×, 1 block): said so
    assert grid_data.wins_finding(default) == (
        "As shipped, jax is fastest on 2 of 3 workloads, tensorflow on 1; on 1 of them a "
        "runner-up is too close to call (jax on the MNIST CNN)."
    )
    assert grid_data.gap_finding(default) == (
        "The widest gap: tensorflow takes 4.00× as long as jax on the IMDb fastText (bigrams) "
        "(1 block)."
    )
    assert grid_data.not_learning_finding(default) == (
        "Did not learn (its training loss did not fall): torch on the MNIST CNN."
    )
    assert grid_data.tuned_finding(tuned) == (
        "The tuned configuration makes jax 2.0× faster than its default on the MNIST MLP "
        "(1 block); clearly faster on 1 of 2 workload and backend pairs measured side by side."
    )
    runs = summary.study.runs
    entries = grid_data.hardware(runs[runs["ok"]], grid_data.run_records(summary.study))
    assert grid_data.busy_finding(entries) == (
        "The machine was busier than its 2 cores during 1 of 11 runs (load up to 4.0): their "
        "times may be slower than it can do."
    )
    found = grid_data.findings(default, tuned, {}, entries)
    assert found == [
        grid_data.wins_finding(default),
        grid_data.gap_finding(default),
        grid_data.busy_finding(entries),
        grid_data.not_learning_finding(default),
    ]


def test_tuned_on_other_machines_than_default_is_said_unpaired(tmp_path):
    write_run(tmp_path, "mnist_mlp", "jax", 1.0)
    write_run(tmp_path, "mnist_mlp", "jax", 0.4, config="tuned", host="other")
    summary = summarize(tmp_path)
    tuned = grid_data.cells(summary, "tuned")
    assert not cell(tuned, "mnist_mlp", "jax")["over_default"]["paired"]
    assert grid_data.tuned_finding(tuned) == (
        "The tuned configuration never ran on one machine with default, so its gains compare "
        "across machines, not paired: up to 2.5× for jax on the MNIST MLP."
    )
    assert "2.50× faster than default (not paired)" in grid.first_screen(summary, None, tmp_path)


def test_hardware_and_load_line(study):
    _, summary = study
    runs = summary.study.runs
    entries = grid_data.hardware(runs[runs["ok"]], grid_data.run_records(summary.study))
    assert len(entries) == 1 and entries[0]["runs"] == 11
    # ten runs at (1 + 3) / 2 = 2, one at 4: median 2
    assert grid_data.load_text(entries[0]) == (
        "load 2.0 on 2 cores (median of 11 runs, 2.0–4.0) during the runs"
    )
    line = grid.hardware_html(entries, "quick")
    assert re.sub("<[^>]+>", "", line) == (
        "Ran on: Xeon Test CPU, 2 cores; load 2.0 on 2 cores (median of 11 runs, 2.0–4.0) "
        "during the runs · profile quick"
    )


def test_load_of_older_runs_is_said_not_recorded(tmp_path):
    write_run(tmp_path, "mnist_mlp", "jax", load=None)
    write_run(tmp_path, "mnist_mlp", "torch", 2.0, load=None, cpu="Other <CPU>")
    summary = summarize(tmp_path)
    runs = summary.study.runs
    entries = grid_data.hardware(runs, grid_data.run_records(summary.study))
    assert [grid_data.load_text(e) for e in entries] == [
        "machine load not recorded (runs of older code)"
    ] * 2
    line = grid.hardware_html(entries)
    assert "several kinds of machine" in line and "Other &lt;CPU&gt;" in line


def test_learning_words_from_the_committed_parity_check():
    rows, _ = parity.load(CPU_QUICK_PARITY)
    groups = parity.learning_groups(rows)
    words = grid_data.learning_cells(groups)
    assert words["mnist_cnn", "jax"] == ("same", "learns the same")
    assert words["imdb_fasttext", "tensorflow"] == (
        "differs",
        "learns differently (weights of embedding, dense)",
    )
    assert words["imdb_fasttext", "jax"] == ("same", "learns the same as torch, cntk")
    assert words["mnist_mlp", "cntk"] == (
        "differs",
        "learns differently (weights of dense, dense_1, dense_2)",
    )
    # seven layers differ: three named, the rest counted
    assert words["text_generator_keras", "cntk"][1] == (
        "learns differently (weights of embedding, rnn, hidden_1 +4 more)"
    )
    assert grid_data.learning_finding(groups, list(groups)) == (
        "cntk learns differently from the others on 5 of 7 workloads checked, tensorflow on 3; "
        "all learn the same on MNIST CNN."
    )
    assert grid_data.learning_finding(groups, ["imdb_fasttext"]) == (
        "tensorflow learns the IMDb fastText (bigrams) differently (weights of embedding, dense)."
    )
    assert grid_data.learning_finding(groups, ["mnist_cnn"]) == (
        "Every backend learns the same on 1 workload checked."
    )
    assert grid_data.learning_finding({}, ["mnist_cnn"]) is None


def test_learning_words_for_two_that_differ_and_one_that_failed():
    groups = {
        "mnist_mlp": {
            "groups": [["tensorflow"], ["jax"]],
            "largest": 0,
            "layers": ["", "dense"],
            "outside": {"torch": "failed to run"},
        }
    }
    words = grid_data.learning_cells(groups)
    # neither agrees with anyone: both differ (the layers named against the other)
    assert words["mnist_mlp", "tensorflow"] == ("differs", "learns differently (weights of dense)")
    assert words["mnist_mlp", "jax"] == ("differs", "learns differently (weights of dense)")
    assert words["mnist_mlp", "torch"] == ("outside", "parity: failed to run")


def test_first_screen_page(study):
    out, summary = study
    page = grid.first_screen(summary, CPU_QUICK_PARITY, str(out))
    default = page[page.index("id='kb-grid-default'") : page.index("id='kb-grid-tuned'")]
    tuned = page[page.index("id='kb-grid-tuned'") :]
    # bold: exactly the decided fastest of each workload, in each grid
    assert re.findall(r"<b>([^<]*s/epoch[^<]*)</b>", default) == [
        "1 s/epoch · 100 ms/step",  # MLP: jax
        "1 s/epoch · 100 ms/step",  # CNN: tensorflow
        "1 s/epoch · 100 ms/step",  # fastText: jax
    ]
    assert re.findall(r"<b>([^<]*s/epoch[^<]*)</b>", tuned) == ["0.5 s/epoch · 50 ms/step"]
    assert "2.00× faster than default" in tuned and "learns" not in tuned
    # learning verdicts from the parity folder; a cell parity has not checked says so
    assert "learns differently (weights of dense, dense_1, dense_2)" not in default  # no cntk cell
    assert "learns the same as tensorflow, torch" in default  # MLP jax
    assert "1.05× (too close to call)" in default
    # runs link relatively; text from run.json is escaped
    assert "href='runs/mnist_mlp/jax/'" in default and "href='runs/mnist_mlp/'" in default
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert (
        "<li>As shipped, jax is fastest on 2 of 3 workloads, tensorflow on 1; on 1 of them a "
        "runner-up is too close to call (jax on the MNIST CNN).</li>"
    ) in page
    no_parity = grid.first_screen(summary, None, str(out))
    assert no_parity.count("learning not checked") == 9  # every default cell with a time
    assert "not run in this study" in no_parity
    # a folder without parity results reads as no parity check
    assert grid.first_screen(summary, str(out / "no-parity-here"), str(out)) == no_parity


# ---------------------------------------------------------------------------------------------
# The first screen in a browser (issue 31's "Done means"), on the committed studies

FIRST_SCREEN = """(() => {
    const box = e => { const r = e.getBoundingClientRect(); return {bottom: r.bottom, right: r.right}; };
    const grid = document.getElementById('kb-grid-default');
    return {scrollY: window.scrollY, grid: box(grid),
            cells: [...grid.querySelectorAll('td.kb-cell')].length,
            verdicts: [...grid.querySelectorAll('td.kb-cell > span:last-child')]
                .filter(s => /learn|parity/.test(s.textContent)).map(s => box(s)),
            findings: [...document.querySelectorAll('ul.kb-findings li')].map(li => box(li)),
            hardware: document.querySelector('p.kb-hardware').textContent};
})()"""


@pytest.mark.browser
@pytest.mark.parametrize("name, learned", [("cpu-quick", True), ("h200", False)])
def test_grid_and_learning_verdicts_fill_the_first_screen(tmp_path, name, learned):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import browser

    from kerasbench.report import build

    if not browser.chromium_available():
        pytest.skip(
            f"chromium not found at {browser.CHROMIUM}; install it with `{browser.CHROMIUM_INSTALL}`"
        )
    study = tmp_path / name
    shutil.copytree(os.path.join(REPO, "output", "reference", name), study)
    page_path = build.build_report(study / runfiles.RUNS, study, n_resamples=500)
    with browser.Page(page_path, 1400, 900) as page:
        found = page.evaluate(FIRST_SCREEN)
        problems = page.problems()
    assert problems == [] and found["scrollY"] == 0
    assert found["grid"]["bottom"] <= 900 and found["grid"]["right"] <= 1400, found["grid"]
    # every cell of the grid carries its learning verdict, all of them on the first screen
    assert len(found["verdicts"]) == found["cells"] > 0
    assert all(v["bottom"] <= 900 and v["right"] <= 1400 for v in found["verdicts"])
    assert 2 <= len(found["findings"]) <= 4 and found["findings"][-1]["bottom"] <= 900
    assert found["hardware"].startswith("Ran on: ")
    text = page_path.read_text(encoding="utf-8")
    start = re.search(r"id=[\"']kb-grid-default", text).start()
    grid_part = text[start : text.index("</table>", start)]
    assert ("learning not checked" in grid_part) != learned
