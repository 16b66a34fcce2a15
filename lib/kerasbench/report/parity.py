"""The parity section of the report: does each workload learn the same on every backend?

Host side (pandas, plotly). Reads a folder `kerasbench parity` wrote (`parity.csv`,
`parity_losses.csv`): `verdicts` (one line per workload and backend), `table` (one line per
check, weight checks folded to their worst layer), `loss_figure` (relative loss difference per
step on a log axis, with the tolerance). `section` is what notebooks/analysis.ipynb displays;
`write_html` the standalone `parity.html` that `kerasbench parity` leaves beside its CSVs.
"""

import glob
import html
import json
import math
import os

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from kerasbench.report.rundata import joined, machine_id, shown_path

PARITY_CSV = "parity.csv"
LOSSES_CSV = "parity_losses.csv"


def load(folder):
    """(parity rows, per-step loss rows) as DataFrames, or None where `folder` has no parity.csv."""
    path = os.path.join(folder, PARITY_CSV)
    if not os.path.exists(path):
        return None
    rows = pd.read_csv(path, keep_default_na=False)
    losses_path = os.path.join(folder, LOSSES_CSV)
    losses = pd.read_csv(losses_path) if os.path.exists(losses_path) else pd.DataFrame()
    return rows, losses


def _num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _fmt(value):
    v = _num(value)
    if math.isnan(v):
        return str(value)
    if v == 0:
        return "0"
    return "%.3g" % v


def _passed(value):
    return str(value) in ("True", "true", "1")


def table(rows):
    """One line per (workload, backend, check): weight checks folded to their worst layer."""
    out = []
    for (workload, backend, check), group in rows.groupby(
        ["workload", "backend", "check"], sort=False
    ):
        bad = group[~group["passed"].map(_passed)]
        if check in ("initial_weights", "final_weights"):
            ratio = group["value"].map(_num) / group["tolerance"].map(_num).where(
                group["tolerance"].map(_num) > 0, other=float("nan")
            )
            worst = (
                group.loc[group["value"].map(_num).idxmax()]
                if not len(bad)
                else bad.loc[(ratio[bad.index].fillna(float("inf"))).idxmax()]
            )
            verdict = "ok" if not len(bad) else "FAIL: " + ", ".join(bad["layer"])
            out.append(
                {
                    "workload": workload,
                    "backend": backend,
                    "check": check,
                    "value": "%s (layer %s)" % (_fmt(worst["value"]), worst["layer"]),
                    "tolerance": _fmt(worst["tolerance"]),
                    "result": verdict,
                    "note": worst["note"],
                }
            )
            continue
        row = group.iloc[0]
        status = row["passed"]
        verdict = (
            "ok"
            if _passed(status)
            else ("cannot join" if status == "" and check == "run" else "FAIL")
        )
        out.append(
            {
                "workload": workload,
                "backend": backend,
                "check": check,
                "value": _fmt(row["value"]),
                "tolerance": _fmt(row["tolerance"]),
                "result": verdict,
                "note": row["note"],
            }
        )
    return pd.DataFrame(
        out, columns=["workload", "backend", "check", "value", "tolerance", "result", "note"]
    )


def verdicts(rows):
    """One line per (workload, backend): passes, fails (with the failing checks) or cannot join,
    for a verdict table beside the speed results."""
    out = []
    for (workload, backend), group in rows.groupby(["workload", "backend"], sort=False):
        run = group[group["check"] == "run"]
        if len(run):
            verdict = "cannot join" if run.iloc[0]["passed"] == "" else "failed to run"
            detail = run.iloc[0]["note"]
        else:
            agrees = group[group["check"].str.startswith("agrees_with_")]
            group = group[~group["check"].str.startswith("agrees_with_")]
            bad = group[~group["passed"].map(_passed)]
            verdict = "same" if not len(bad) else "differs"
            for _, a in agrees.iterrows():
                verdict += "; %s %s" % (
                    "same as" if _passed(a["passed"]) else "differs from",
                    a["check"][len("agrees_with_") :],
                )
            detail = "; ".join(
                sorted(
                    set(
                        "%s%s"
                        % (
                            c,
                            " (" + ", ".join(name for name in b["layer"] if name) + ")"
                            if any(b["layer"])
                            else "",
                        )
                        for c, b in bad.groupby("check")
                    )
                )
            )
        out.append(
            {
                "workload": workload,
                "backend": backend,
                "reference": group.iloc[0]["reference"],
                "parity": verdict,
                "detail": detail,
            }
        )
    return pd.DataFrame(out, columns=["workload", "backend", "reference", "parity", "detail"])


def loss_figure(losses, workload):
    """|loss - reference loss| / reference loss per step, log axis, with each tolerance dashed."""
    fig = go.Figure()
    data = losses[losses["workload"] == workload] if len(losses) else losses
    for backend, group in data.groupby("backend", sort=False) if len(data) else []:
        diff = group["relative_difference"].astype(float)
        # A difference of exactly 0 has no place on a log axis: shown at float32's unit roundoff.
        fig.add_trace(
            go.Scatter(
                x=group["step"],
                y=diff.where(diff > 0, 2.0**-24),
                mode="lines+markers",
                name="%s vs %s" % (backend, group["reference"].iloc[0]),
            )
        )
        fig.add_trace(
            go.Scatter(
                x=group["step"],
                y=group["tolerance"],
                mode="lines",
                line={"dash": "dash"},
                name="tolerance (%s)" % backend,
            )
        )
    fig.update_layout(
        title="%s: relative loss difference per step" % workload,
        xaxis_title="training step",
        yaxis_title="|loss - reference| / reference",
        yaxis_type="log",
        template="plotly_white",
        height=380,
    )
    return fig


def provenance(folder):
    """Where the check ran, from each backend process's kernel.json: 'NVIDIA H200 GPU-...;
    jax 0.9.0, torch 2.11.0+cu130; Keras 3.15.1; precision float32', and the workloads that ran
    on generated data. "" where none was kept."""
    machines, frameworks, keras, precision, generated = [], [], [], [], []
    for path in sorted(glob.glob(os.path.join(folder, "*", "*", "kernel.json"))):
        with open(path) as f:
            info = json.load(f)
        if (info.get("data") or {}).get("source") == "generated":
            generated.append(info.get("workload"))
        versions = info.get("versions") or {}
        machines.append(machine_id(info.get("device") or {}))
        frameworks.append(versions.get("backend_framework"))
        keras.append(versions.get("keras") and "Keras %s" % versions["keras"])
        precision.append((info.get("backend_settings") or {}).get("precision"))
    parts = [
        joined(machines),
        ", ".join(dict.fromkeys(f for f in frameworks if f)),
        joined(keras),
        joined(precision) and "precision %s" % joined(precision),
        generated
        and "generated data for %s (the same on every backend)"
        % ", ".join(dict.fromkeys(generated)),
    ]
    return "; ".join(p for p in parts if p)


def _ran_on(folder):
    where = provenance(folder)
    return "<p class='kb-caption'>Ran on %s.</p>" % html.escape(where) if where else ""


def section(folder):
    """What the report shows: a heading's worth of HTML and one figure per workload; a line
    saying how to get parity results where the folder has none."""
    from kerasbench.report.plots import Html

    loaded = load(folder)
    if loaded is None:
        return [
            Html(
                "<p><em>No parity results in %s: <code>kerasbench parity --out %s</code> "
                "puts them there.</em></p>" % ((html.escape(shown_path(folder)),) * 2)
            )
        ]
    rows, losses = loaded
    blocks = [
        Html(
            _ran_on(folder)
            + verdicts(rows).to_html(index=False, escape=True, classes="kb-table", border=0)
        ),
        Html(table(rows).to_html(index=False, escape=True, classes="kb-table", border=0)),
    ]
    return blocks + [loss_figure(losses, w) for w in dict.fromkeys(rows["workload"])]


def html_section(folder, include_plotlyjs=False):
    """The section as an HTML fragment (tables, then one figure per workload), or "" if none."""
    loaded = load(folder)
    if loaded is None:
        return ""
    rows, losses = loaded
    parts = [
        "<h2>Does it learn the same? Parity across backends</h2>",
        "<p>Same initial weights, same batches in the same order, dropout off; tolerances "
        "derived from float32 reduction order (<code>kerasbench.parity</code>).</p>",
        _ran_on(folder),
        verdicts(rows).to_html(index=False, escape=True),
        table(rows).to_html(index=False, escape=True),
    ]
    first = True
    for workload in dict.fromkeys(rows["workload"]):
        fig = loss_figure(losses, workload)
        parts.append(
            pio.to_html(fig, full_html=False, include_plotlyjs=include_plotlyjs if first else False)
        )
        first = False
    return "\n".join(parts)


def write_html(folder, path):
    body = html_section(folder, include_plotlyjs=True)
    with open(path, "w") as f:
        f.write(
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>%s</title></head>"
            "<body>%s</body></html>" % (html.escape("kerasbench parity"), body)
        )
    return path
