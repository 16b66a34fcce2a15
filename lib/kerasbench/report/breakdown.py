"""The "where the time goes" section: `kerasbench profile` results beside the floor, and the
distance-to-floor table for the workloads that have a native floor loop (MLP, CNN, BiLSTM).

Host side (pandas, plotly). Reads every `profile.json` under a folder (`OUT/profile/<workload>/
<backend>[-<config>]/profile.json`, the study folder's layout: studyfiles); the parts and how
each is derived are study/profile.py's (`breakdown`): device compute, host dispatch and Python
overhead, input feeding, callbacks and metrics, adding up to model.fit's seconds per step.
`section` is what notebooks/analysis.ipynb displays.
"""

from __future__ import annotations

import glob
import html
import math
import os

import pandas as pd
import plotly.graph_objects as go

from kerasbench import registry, studyfiles
from kerasbench.report import naming
from kerasbench.report import rundata
from kerasbench.report.style import STYLE, Html

# The parts of a step (studyfiles.GROUPS, device compute first) and their colours, in that order.
DEVICE_COMPUTE = studyfiles.GROUPS[0]
GROUP_COLOURS = dict(zip(studyfiles.GROUPS, ("#009E73", "#D55E00", "#56B4E9", "#CC79A7")))
FLOOR_COLOUR = "#444444"
# The workloads with a native floor loop (kerasbench.native) and the issue-15 goal for them.
FLOOR_WORKLOADS = ["mnist_mlp", "mnist_cnn", "imdb_bidirectional_lstm"]
GOAL = 3.0


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _device_name(kernel: dict) -> str:
    device = kernel.get("device") or {}
    return device.get("gpu") or device.get("cpu") or "unknown device"


def load(folder) -> pd.DataFrame:
    """One row per finished profile (status ok) under `folder`; empty where there is none."""
    rows = []
    for path in sorted(
        glob.glob(os.path.join(str(folder), "**", studyfiles.PROFILE_JSON), recursive=True)
    ):
        record, _ = studyfiles.read_profile(path)
        if record is None:
            continue
        b = record.get("breakdown")
        if record.get("status") != "ok" or not b:
            continue
        kernel = record.get("kernel") or {}
        data = kernel.get("data") or {}
        row = {
            "workload": record["workload"],
            "backend": record["backend"],
            "config": record.get("config", "default"),
            "steps": record.get("steps"),
            "batch_size": record.get("batch_size"),
            "train_samples": data.get("train_samples"),
            "step_seconds": b["total"],
            "device_measured": b["device_measured"],
            "lowest_variant": b.get("lowest_variant"),
            "clipped": ", ".join(b["clipped"]),
            "device": _device_name(kernel),
            "data_source": data.get("source"),
            "gpu": bool((kernel.get("device") or {}).get("gpu")),
            "lstm_kernel": lstm_verdict(kernel.get("lstm_kernel")),
            "path": os.path.relpath(path, str(folder)),
        }
        for group in studyfiles.GROUPS:
            row[group] = b["groups"][group]
        for name, v in (record.get("variants") or {}).items():
            row["t_" + name] = v.get("step_seconds")
        rows.append(row)
    return pd.DataFrame(rows)


def lstm_verdict(report):
    """kernel.json's LSTM verdict, except where an older probe wrote it on a GPU: that probe missed
    Keras 3.15's fused bidirectional call (it has no `fused_calls` counter) and said "generic
    loop" or "not traced yet" where cuDNN may have run."""
    if not report:
        return None
    verdict = report.get("verdict")
    probe = report.get("probe")
    if report.get("gpu") and isinstance(probe, dict) and "fused_calls" not in probe:
        return "unknown (older probe, blind to the fused cuDNN call)"
    return verdict


def steps_per_epoch(row) -> float:
    if _finite(row.get("train_samples")) and _finite(row.get("batch_size")) and row["batch_size"]:
        return float(math.ceil(row["train_samples"] / row["batch_size"]))
    return math.nan


def floor_per_step(summary, frame: pd.DataFrame) -> dict:
    """workload -> (floor label, seconds per step): the fastest native loop's training samples
    per second (its own epochs, whatever their size) turned into one step of the profile's batch;
    without that column, its steady epoch over the profile's steps per epoch."""
    if summary is None:
        return {}
    table = summary.table[~summary.table["reference"].astype(bool)]
    out = {}
    for workload, block in frame.groupby("workload"):
        rows = table[(table["workload"] == workload) & table["floor_seconds"].notna()]
        if rows.empty:
            continue
        label = rows.iloc[0]["floor"]
        floor = table[
            (table["workload"] == workload)
            & ((table["backend"].astype(str) + " " + table["config"].astype(str)) == label)
        ]
        batch = block.iloc[0]["batch_size"]
        sps = floor.iloc[0]["samples_per_second"] if not floor.empty else math.nan
        if _finite(sps) and sps > 0 and _finite(batch):
            out[workload] = (label, float(batch) / float(sps))
            continue
        steps = steps_per_epoch(block.iloc[0])
        if _finite(steps):
            out[workload] = (label, float(rows.iloc[0]["floor_seconds"]) / steps)
    return out


def _label(row) -> str:
    config = "" if row["config"] == "default" else " %s" % row["config"]
    return "%s · %s%s" % (naming.workload_title(row["workload"]), row["backend"], config)


def figure(frame: pd.DataFrame, floors: dict | None = None) -> go.Figure:
    """Stacked horizontal bars, milliseconds per step: the four parts of model.fit's step per
    workload, backend and configuration, with the floor's step as a dark bar beside it."""
    frame = frame.loc[_in_registry_order(frame)]
    labels = [_label(row) for _, row in frame.iterrows()]
    fig = go.Figure()
    for group in studyfiles.GROUPS:
        fig.add_trace(_part_bars(frame, labels, group))
    floor_y, floor_x = _floor_bars(fig, frame, floors or {})
    order = []
    for label in labels:  # each workload's floor bar right after its profile bars
        order.append(label)
        title = label.split(" · ")[0]
        later = [
            other for other in labels[labels.index(label) + 1 :] if other.split(" · ")[0] == title
        ]
        if not later:
            order.extend(f for f in floor_y if f.split(" · ")[0] == title)
    fig.update_layout(
        barmode="stack",
        height=140 + 28 * len(order),
        title={
            "text": "Where a training step's time goes (ms per step; model.fit "
            "as the study runs it)",
            "y": 0.98,
            "yanchor": "top",
        },
        xaxis_title="milliseconds per training step",
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
    )
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(order)), automargin=True)
    values = [v for v in [1e3 * t for t in frame["step_seconds"]] + floor_x if v > 0]
    if values and max(values) / min(values) > 30:
        fig.update_xaxes(type="log")
    return fig


def _in_registry_order(frame: pd.DataFrame) -> list:
    """The frame's index with workloads in registry order (others last), then backend, config."""
    return sorted(
        frame.index,
        key=lambda i: (
            list(registry.WORKLOADS).index(frame.at[i, "workload"])
            if frame.at[i, "workload"] in registry.WORKLOADS
            else 99,
            frame.at[i, "backend"],
            frame.at[i, "config"],
        ),
    )


def _part_bars(frame: pd.DataFrame, labels: list, group: str) -> go.Bar:
    """One part of the step (a studyfiles.GROUPS name) for every profile: its milliseconds, and
    its share where it is 8% or more."""
    ms = [1e3 * r["step_seconds"] * r[group] for _, r in frame.iterrows()]
    text = ["%.0f%%" % (100 * r[group]) if r[group] >= 0.08 else "" for _, r in frame.iterrows()]
    name = group + (
        ""
        if frame["device_measured"].all() or group != DEVICE_COMPUTE
        else " (upper bound where no profiler)"
    )
    return go.Bar(
        y=labels,
        x=ms,
        name=name,
        orientation="h",
        text=text,
        textposition="inside",
        marker_color=GROUP_COLOURS[group],
        hovertemplate="%{y}<br>" + html.escape(group) + ": %{x:.3f} ms/step<extra></extra>",
    )


def _floor_bars(fig: go.Figure, frame: pd.DataFrame, floors: dict) -> tuple[list, list]:
    """The floor's whole step (floor_per_step) as one dark bar per workload, added to fig where
    there is any; (their labels, their milliseconds)."""
    floor_y, floor_x, floor_text = [], [], []
    seen = set()
    for _, row in frame.iterrows():
        if row["workload"] in floors and row["workload"] not in seen:
            seen.add(row["workload"])
            name, seconds = floors[row["workload"]]
            floor_y.append("%s · floor (%s)" % (naming.workload_title(row["workload"]), name))
            floor_x.append(1e3 * seconds)
            floor_text.append("%.3f ms" % (1e3 * seconds))
    if floor_y:
        fig.add_trace(
            go.Bar(
                y=floor_y,
                x=floor_x,
                name="native floor (whole step)",
                orientation="h",
                marker_color=FLOOR_COLOUR,
                text=floor_text,
                textposition="outside",
                hovertemplate="%{y}: %{x:.3f} ms/step<extra></extra>",
            )
        )
    return floor_y, floor_x


def table(frame: pd.DataFrame) -> Html:
    """The numbers behind the bars: variants' ms per step and the four fractions."""
    view = pd.DataFrame(
        {
            "workload": [naming.workload_title(w) for w in frame["workload"]],
            "backend config": [
                ("%s %s" % (b, c)).strip() for b, c in zip(frame["backend"], frame["config"])
            ],
            "device": frame["device"],
            "fit ms/step": ["%.3f" % (1e3 * v) for v in frame["step_seconds"]],
        }
    )
    for name in ["t_" + variant for variant in studyfiles.VARIANTS[1:]]:  # beyond fit as run
        if name in frame:
            view[name[2:] + " ms"] = [
                "–" if not _finite(v) else "%.3f" % (1e3 * v) for v in frame[name]
            ]
    for group in studyfiles.GROUPS:
        view[group] = ["%.0f%%" % (100 * v) for v in frame[group]]
    view["device time"] = ["profiler" if m else "upper bound" for m in frame["device_measured"]]
    view["clipped (noise)"] = frame["clipped"].replace("", "–")
    if frame["lstm_kernel"].notna().any():
        view["LSTM kernel"] = frame["lstm_kernel"].fillna("–")
    return Html(STYLE + view.to_html(index=False, escape=True, classes="kb-table", border=0))


def _ratio(row) -> str:
    """'8.57× [7.9, 9.3], 3 blocks' within blocks, '10.51×, 1 block (no interval)', or
    '10.51×, across machines, not paired': what the ratio rests on, always said."""
    text = "%.2f×" % row["times_floor"]
    pairing = row.get("floor_pairing") or "across machines, not paired"
    if _finite(row["times_floor_low"]):
        return text + " [%.2f, %.2f], %s" % (
            row["times_floor_low"],
            row["times_floor_high"],
            pairing,
        )
    if pairing.startswith("across"):
        return text + ", " + pairing
    return text + ", %s (no interval)" % pairing


def _patched_ratio(patched: pd.DataFrame) -> str:
    fastest = _fastest(patched)
    if fastest is None:
        return "–"
    return "%.2f× (%s, %.3g s; %s)" % (
        fastest["times_floor"],
        fastest["backend"],
        fastest["mean_epoch_seconds"],
        fastest.get("floor_pairing") or "across machines, not paired",
    )


def _profile_of(frame, workload, backend, config):
    """The profile row of (workload, backend) in `config`, else in any configuration, else None."""
    if frame is None or frame.empty:
        return None
    match = frame[(frame["workload"] == workload) & (frame["backend"] == backend)]
    same = match[match["config"] == config]
    match = same if not same.empty else match
    return None if match.empty else match.iloc[0]


def _wall(p) -> str:
    """The largest part of a profiled step that is not device compute, with its share."""
    if p is None:
        return "no profile"
    group = max(studyfiles.GROUPS[1:], key=lambda g: p[g])
    return "%s: %.0f%% of the step (%s %s, %s)" % (
        group,
        100 * p[group],
        p["backend"],
        p["config"],
        p["device"],
    )


def _keras_rows(table, workload):
    """(Keras as shipped, patched Keras): the Keras rows of `workload` with a steady time; native
    loops are neither. The patched Keras (issue 15's `keras-patched`, a change to Keras) is shown
    beside the best as shipped, never in its place."""
    block = table[
        (table["workload"] == workload)
        & ~table["backend"].map(naming.is_native)
        & table["mean_epoch_seconds"].notna()
    ]
    patched = block["config"].map(naming.is_patched).astype(bool)
    return block[~patched], block[patched]


def _fastest(block):
    """The row the report names fastest (summary's ranking, by paired evidence: the table's
    `fastest` column) where it is in `block`, else the row with the lowest steady s/epoch; None
    where `block` is empty."""
    if block.empty:
        return None
    named = block[
        block.apply(lambda r: "%s %s" % (r["backend"], r["config"]), axis=1).eq(block["fastest"])
    ]
    if not named.empty:
        return named.iloc[0]
    return block.loc[block["mean_epoch_seconds"].astype(float).idxmin()]


def device_distance_table(summary, frame: pd.DataFrame) -> Html:
    """For the workloads without a native floor loop (fastText, the two text generators,
    CIFAR-10): the stated distance is to the device's own busy time. The best Keras configuration
    as shipped (steady s/epoch) over the device compute of one epoch of that backend's profiled
    step (the profiler's device time per step x steps per epoch): how much faster the same
    kernels would run if nothing but the device's work took time. A floor only in that sense:
    a hand-written loop could use other kernels."""
    if summary is None or frame is None or frame.empty:
        return Html("")
    table = summary.table[~summary.table["reference"].astype(bool)]
    rows = []
    for workload in sorted(set(frame["workload"]) - set(FLOOR_WORKLOADS)):
        best = _fastest(_keras_rows(table, workload)[0])
        if best is not None:
            p = _profile_of(frame, workload, best["backend"], best["config"])
            label = "%s %s" % (best["backend"], best["config"])
            runs, seconds = int(best["runs"]), float(best["mean_epoch_seconds"])
        else:  # no study run yet (CIFAR-10 on the GPU): the faster profile's own fit step
            profiled = frame[(frame["workload"] == workload) & frame["device_measured"]]
            if profiled.empty:
                continue
            p = profiled.loc[profiled["step_seconds"].astype(float).idxmin()]
            label, runs = "%s %s (profile's fit step)" % (p["backend"], p["config"]), 0
            if p.get("data_source") == "generated":
                label += ", generated data"
            seconds = float(p["step_seconds"]) * steps_per_epoch(p)
        if p is None or not p["device_measured"]:
            continue
        steps = steps_per_epoch(p)
        device_epoch = float(p["step_seconds"]) * float(p[DEVICE_COMPUTE]) * steps
        if not (_finite(device_epoch) and device_epoch > 0):
            continue
        rows.append(
            {
                "workload": naming.workload_title(workload),
                "best Keras": label,
                "runs": runs,
                "s / epoch": "%.3g" % seconds,
                "device compute / epoch": "%.3g s (%s %s profile, %d steps)"
                % (device_epoch, p["backend"], p["config"], steps),
                "× device time": "%.2f×" % (seconds / device_epoch),
                "largest part beside compute": _wall(p),
            }
        )
    if not rows:
        return Html("")
    return Html(
        "<p class='kb-caption'>Workloads without a native floor loop: the best Keras "
        "configuration as shipped against the device compute of its own step (the profiler's "
        "device busy time per step, times the steps of an epoch), the time an epoch would take if "
        "only the device's work counted. One profile per backend: no interval. Where the study "
        "has no run of a workload yet, its profile's model.fit step stands in (runs 0).</p>"
        + STYLE
        + pd.DataFrame(rows).to_html(index=False, escape=True, classes="kb-table", border=0)
    )


def distance_table(summary, frame: pd.DataFrame | None = None) -> Html:
    """For MLP, CNN and BiLSTM: the best Keras configuration (the one the verdict names fastest)
    as a multiple of the floor (the fastest native loop), within blocks with an interval from 3
    blocks on (or marked "across machines, not paired"), whether it is within the goal (3x), and
    the largest part of the profiled step that is not device compute (the wall), where a profile
    of that backend and configuration exists."""
    table = summary.table[~summary.table["reference"].astype(bool)]
    rows = []
    for workload in FLOOR_WORKLOADS:
        block, patched = (
            rows[rows["times_floor"].notna()] for rows in _keras_rows(table, workload)
        )
        best = _fastest(block)
        if best is None:
            continue
        ratio = _ratio(best)
        # A configuration that is fastest on one run has no interval: the fastest one that has
        # (3 blocks) stands beside it, so the table's claim is one the runs can carry.
        # Where the best shares no block with the floor, the fastest row that does stands beside.
        settled = block[block["times_floor_low"].map(_finite)]
        if settled.empty and not best.get("floor_pairs", 0):
            settled = block[block["floor_pairs"].fillna(0) > 0]
        if not _finite(best["times_floor_low"]) and not settled.empty:
            other = settled.loc[settled["times_floor"].astype(float).idxmin()]
            if other.name != best.name:
                ratio += "; %s %s: %s" % (other["backend"], other["config"], _ratio(other))
        wall = _wall(_profile_of(frame, workload, best["backend"], best["config"]))
        rows.append(
            {
                "workload": naming.workload_title(workload),
                "best Keras": "%s %s" % (best["backend"], best["config"]),
                "runs": int(best["runs"]),
                "s / epoch": "%.3g" % best["mean_epoch_seconds"],
                "floor": "%s: %.3g s" % (best["floor"], best["floor_seconds"]),
                "× floor [95% CI], blocks": ratio,
                "within %g×" % GOAL: "yes" if round(best["times_floor"], 2) <= GOAL else "no",
                "largest part beside compute": wall,
                "with the Keras patch": _patched_ratio(patched),
            }
        )
    if not rows:
        return Html("<p><em>No native floor loops ran beside these runs.</em></p>")
    return Html(
        STYLE + pd.DataFrame(rows).to_html(index=False, escape=True, classes="kb-table", border=0)
    )


def section(folder, summary=None) -> list:
    """What the report shows: the distance table, then the bars and their numbers, or a line
    saying how to get a profile where `folder` has none."""
    frame = load(folder)
    parts = []
    if summary is not None:
        parts.append(distance_table(summary, frame))
    if frame.empty:
        parts.append(
            Html(
                "<p class='kb-muted'>No profile in %s: run <code>kerasbench profile "
                "--workload W --backend B --out %s/W/B</code>.</p>"
                % ((html.escape(rundata.shown_path(folder)),) * 2)
            )
        )
        return parts
    devices = sorted(set(frame["device"]))
    measured = frame["device_measured"].all()
    parts.append(
        Html(
            "<p class='kb-caption'>Measured on %s. Each part is a difference between ablation "
            "variants timed in one process (kerasbench profile), each variant taking one thing "
            "away from the one before: fit as run; without callbacks (the difference: callbacks); "
            "without metrics beyond the loss (metrics); with the arrays already on the device "
            "(input feeding); the faster of one call per epoch and the bare compiled step in a loop "
            "(host dispatch and Python overhead, the rest of Keras' loop); down to the profiler's "
            "device time (the step's own dispatch). Device compute = %s. A difference measured "
            "below 0 (noise) counts 0 and is listed.</p>"
            % (
                html.escape(", ".join(devices)),
                "the profiler's device busy time per step"
                if measured
                else "the profiler's device busy time where a GPU profile ran, else the fastest variant "
                "(an upper bound: on a CPU there is no separate device)",
            )
        )
    )
    parts.append(device_distance_table(summary, frame))
    parts.append(figure(frame, floor_per_step(summary, frame)))
    parts.append(table(frame))
    return parts
