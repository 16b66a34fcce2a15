"""The report's sections (report/sections.py), tables and figures read from the committed studies
(output/reference/{cpu-quick,h200}) without a notebook or a browser: what a study has no result
for is one line, not an empty section; chart titles name only what is drawn; the 2017 curves
share axes only with a study of their profile; then and now names the hardware on both sides;
crowded charts keep their labels whole and their legends grouped."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from kerasbench import cli, registry
from kerasbench.report import (
    build,
    figures,
    rules,
    rundata,
    sections,
    style,
    tables,
    summary as summary_mod,
)

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "output" / "reference"


def _summary(study_dir: Path):
    study = build.load(study_dir / "runs", None)
    return study, summary_mod.build(study, n_resamples=200, coverage_studies=20)


@pytest.fixture(scope="module")
def quick():
    """The committed quick CPU study: its README, parity; no native floor, no profile."""
    study, summary = _summary(REFERENCE / "cpu-quick")
    return study, summary, build.study_paths(REFERENCE / "cpu-quick")


@pytest.fixture(scope="module")
def h200():
    """The committed H200 study: its README, native floors, profiles; no parity."""
    study, summary = _summary(REFERENCE / "h200")
    return study, summary, build.study_paths(REFERENCE / "h200")


def words(blocks) -> str:
    """What a reader sees of some HTML blocks: the text, tags out, spaces collapsed."""
    text = " ".join(str(b) for b in blocks)
    text = re.sub(r"<style.*?</style>", " ", text, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text))).strip()


# ---------------------------------------------------------------------------------------------
# (a) A section with nothing to show is one line, with how to add it


def test_a_study_without_floor_or_profile_says_so_in_one_line(quick):
    study, summary, paths = quick
    assert sections.floor_section(summary) == []
    assert sections.profile_section(paths.profile, summary) == []
    (line,) = sections.not_measured(study, summary, paths)
    said = words([line])
    assert said.startswith("Not measured in this study: floor, profile (how to add each)")
    assert "kerasbench floor --out output/reference/cpu-quick runs" in said
    assert "into output/reference/cpu-quick/runs, beside the Keras runs" in said
    assert (
        "kerasbench profile --workload W --backend B --out output/reference/cpu-quick/profile/W/B"
        in said
    )
    assert "kerasbench parity" not in said  # it has parity
    # What it has keeps its heading.
    assert words(sections.parity_section(paths.parity)).startswith(sections.PARITY_TITLE)
    assert words(sections.about_these_runs(study, paths.out)).startswith(sections.NOTES_TITLE)


def test_a_study_with_floor_and_profile_shows_them_and_lacks_only_parity(h200):
    study, summary, paths = h200
    assert words(sections.floor_section(summary)).startswith(sections.FLOOR_TITLE)
    assert words(sections.profile_section(paths.profile, summary)).startswith(
        sections.PROFILE_TITLE
    )
    assert sections.parity_section(paths.parity) == []
    (line,) = sections.not_measured(study, summary, paths)
    assert words([line]).startswith("Not measured in this study: parity (how to add it)")


def test_a_bare_study_names_all_four_in_one_line(quick, tmp_path):
    study, summary, _ = quick
    runs = tmp_path / "runs"
    shutil.copytree(REFERENCE / "cpu-quick" / "runs" / "mnist_mlp", runs / "mnist_mlp")
    bare = build.load(runs, [])
    assert not bare.study_notes
    paths = build.study_paths(tmp_path)
    assert sections.about_these_runs(bare, paths.out) == []
    assert sections.parity_section(paths.parity) == []
    (line,) = sections.not_measured(bare, summary_mod.build(bare, n_resamples=50), paths)
    said = words([line])
    assert said.startswith(
        "Not measured in this study: parity, floor, profile; no notes on these runs "
        "(how to add each)"
    )
    assert said.count("kerasbench") == 3 and "README.md" in said
    # Each how-to is a command line its command takes (W and B stand for a workload, a backend).
    shown = rundata.shown_path
    commands = [
        f"kerasbench parity --out {shown(paths.parity)}",
        f"kerasbench floor --out {shown(paths.out)}",
        f"kerasbench profile --workload W --backend B --out {shown(paths.profile)}/W/B",
    ]
    parser = cli.build_parser()
    for command in commands:
        assert command in said
        argv = command.replace(" W", " mnist_mlp").replace(" B", " jax").split()[1:]
        args = parser.parse_args(argv)
        assert (args.command, args.out) == (argv[0], argv[-1])


# ---------------------------------------------------------------------------------------------
# (b) A chart's title names only what it draws


def test_chart_titles_promise_no_interval_where_none_is_drawn(quick, h200):
    _, summary, _ = quick  # one run of everything: no interval anywhere
    title = figures.speedup_overview(summary).layout.title.text
    assert "CI" not in title and "n = blocks" in title
    for workload in ("mnist_mlp", "lstm_text_generation"):
        title = figures.epoch_time_figure(summary, workload).layout.title.text
        assert "CI" not in title and "◇ first epoch" in title
    _, summary, _ = h200  # three blocks of the default rows: intervals drawn
    fig = figures.speedup_overview(summary)
    assert "95% CI over blocks" in fig.layout.title.text
    assert any(np.isfinite(np.asarray(bar.error_y.array, dtype=float)).any() for bar in fig.data)
    assert "95% CI over runs" in figures.epoch_time_figure(summary, "mnist_mlp").layout.title.text


# ---------------------------------------------------------------------------------------------
# (c) The 2017 curves share axes only with a study of their profile and epochs


def test_2017_curves_are_drawn_only_beside_the_full_profile(quick, h200):
    _, summary, _ = quick  # profile quick, 3 epochs
    for workload in ("mnist_mlp", "imdb_fasttext", "lstm_text_generation"):
        fig = figures.metric_figure(summary, workload)
        assert fig.data and not [t for t in fig.data if "2017" in t.legendgroup]
        assert "2017 K80 (Keras 2.0) not drawn: this study ran profile quick, 3 epochs" in (
            fig.layout.title.text
        )
        assert max(max(t.x) for t in fig.data) == 2  # epochs 0-2: no 2017 epoch on the axis
    _, summary, _ = h200  # the full profile, the 2017 epochs
    fig = figures.metric_figure(summary, "mnist_mlp")
    assert [t.name for t in fig.data if t.legendgroup == "2017 K80 (Keras 2.0)"] == [
        "tensorflow default (n=1)",
        "cntk default (n=1)",
    ]
    assert "not drawn" not in fig.layout.title.text


# ---------------------------------------------------------------------------------------------
# (d) Then and now names the hardware on both sides


def test_then_and_now_names_the_hardware_of_each_side(quick):
    _, summary, _ = quick  # the 2017 K80 GPU against today's 2-core CPU
    page = str(tables.then_and_now_table(summary))
    pairs, alone = page.split("The backends that ran in a reference and here, each on its own")
    rows = re.findall(r"<tr>\s*<td>.*?</tr>", pairs, flags=re.S)
    assert len(rows) == len(summary.then_and_now) > 0
    for row in rows:
        cells = re.findall(r"<td>(.*?)</td>", row, flags=re.S)
        assert cells[2].startswith("2017 K80 (Keras 2.0), one NVIDIA Tesla K80 GPU: ")
        assert cells[3].startswith("2-core AMD EPYC CPU: ")
    assert "⚑ Then on a GPU, now on a CPU: the two ratios come from different kinds" in page
    # each of the two backends on its own too; the quick profile: no speed-up against 2017
    assert len(re.findall(r"<tr>\s*<td>", alone)) == len(summary.same_backend) > len(rows)
    assert "× faster" not in alone and "– (profile quick here" in alone


def test_hardware_words_say_the_kind():
    assert rules.device_words({"gpu": "NVIDIA H200", "cpu": "Xeon", "cores": 16}) == (
        "NVIDIA H200 GPU"
    )
    assert rules.device_words({"gpu": None, "cpu": "AMD EPYC", "cores": 2}) == "2-core AMD EPYC CPU"
    # A run that trained on the CPU of a GPU host is that CPU.
    cpu_only = rules.device_words({"gpu": "NVIDIA H200", "cpu": "Xeon"}, {"kind": "cpu"})
    assert cpu_only == "Xeon CPU"
    assert rules.device_words({}) is None
    assert [rules.hardware_kind(w) for w in ("one NVIDIA Tesla K80 GPU", "Xeon CPU", "vm")] == [
        "GPU",
        "CPU",
        None,
    ]


# ---------------------------------------------------------------------------------------------
# (e) Crowded charts: labels whole, legends grouped, no two entries of a group alike


def test_crowded_charts_keep_labels_whole_and_legends_grouped(h200):
    _, summary, _ = h200  # 16 backend-configurations of MNIST MLP, 17 legend entries
    fig = figures.speedup_overview(summary)
    mine = [t for t in fig.data if t.xaxis == "x"]  # this study's panel
    assert len(mine) > figures.LABELLED_BARS
    assert all(t.text is None for t in mine)  # too narrow to label: n and pairing in the hover
    for group in {t.legendgroup for t in mine}:
        bars = [t for t in mine if t.legendgroup == group]
        assert {t.legendgrouptitle.text for t in bars} == {group}
        looks = {(t.marker.pattern.shape, t.marker.pattern.fillmode) for t in bars}
        assert len(looks) == len(bars), group  # each configuration has its own pattern
    for label in {x for t in fig.data for x in t.x}:  # a workload's whole title, level, in lines
        lines = label.split("<br>")
        assert " ".join(lines) in {w.title for w in registry.WORKLOADS.values()}
        assert all(len(line) <= 16 or " " not in line for line in lines), label
    assert fig.layout.xaxis.tickangle == 0 and fig.layout.xaxis.automargin

    time = figures.epoch_time_figure(summary, "mnist_mlp")
    axis = time.layout.xaxis
    assert axis.type == "category" and axis.automargin
    assert {"jax keras-patched", "torch tuned-compiled", "native-jax scan"} <= set(
        axis.categoryarray
    )
    keys = [t for t in time.data if t.showlegend is not False]
    assert time.layout.height >= 24 * len(keys) + 220  # the whole legend, no scroll bar
    patterns = [
        (t.marker.pattern.shape, t.marker.pattern.fillmode) for t in keys if t.type == "bar"
    ]
    assert len(set(patterns)) == len(patterns)
    assert {t.marker.color for t in keys if t.type == "bar"} == {"#9a9a9a"}  # pattern, not colour

    metric = figures.metric_figure(summary, "mnist_mlp")
    groups = {t.legendgroup for t in metric.data}
    assert {"jax", "torch", "2017 K80 (Keras 2.0)"} <= groups
    for group in groups:
        lines = [t for t in metric.data if t.legendgroup == group]
        looks = {(t.line.color, t.line.dash, t.marker.symbol) for t in lines}
        assert len(looks) == len(lines), group
    assert metric.layout.height >= 24 * (len(metric.data) + len(groups)) + 220


def test_every_configuration_of_a_page_has_its_own_look():
    configs = ["default", "tuned", "cudnn", "keras-patched", "quiet", "mixed", "compiled"]
    looks = style.config_looks(configs)
    assert len({looks[c] for c in configs}) == len(configs)
    assert looks["tuned"] == style.Look(*style.CONFIG_STYLES["tuned"])
    assert style.config_looks(reversed(configs)) == looks  # the same in every chart
