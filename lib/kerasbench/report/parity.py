"""The parity section of the report: does each workload learn the same on every backend?

Host side (pandas, plotly). Reads a folder `kerasbench parity` wrote (`parity.csv`,
`parity_losses.csv`): `verdicts` (one line per workload and backend, with its tightest headroom
and the checks that could not fail there), `table` (one line per check, weight checks folded to
their worst layer, with the headroom: tolerance / observed), `loss_figure` (relative loss
difference per step on a log axis, with the tolerance), `provenance` (where it ran and with
which session settings: precision, TF32 switches, deterministic kernels). `section` is what
notebooks/analysis.ipynb displays; `write_html` the standalone `parity.html` that `kerasbench
parity` leaves beside its CSVs. A parity.csv written before the `headroom` and `verdict`
columns existed gets them from `value`, `tolerance` and `passed`.
"""

import glob
import html
import json
import math
import os

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from kerasbench import runfiles, studyfiles
from kerasbench.report.naming import joined
from kerasbench.report.machines import machine_id
from kerasbench.report.rundata import shown_path

NOT_INFORMATIVE = studyfiles.NOT_INFORMATIVE


def _old_headroom(row):
    value, tolerance = _num(row["value"]), _num(row["tolerance"])
    if math.isnan(value) or not tolerance > 0:
        return ""
    return float("inf") if value <= 0 else tolerance / value


def _old_verdict(row):
    if row["check"] == "run":
        return str(row["value"])
    return "pass" if _passed(row["passed"]) else "fail"


def load(folder):
    """(parity rows, per-step loss rows) as DataFrames, or None where `folder` has no parity.csv."""
    path = os.path.join(folder, studyfiles.PARITY_CSV)
    if not os.path.exists(path):
        return None
    rows = pd.read_csv(path, keep_default_na=False)
    if len(rows) and "headroom" not in rows.columns:
        rows["headroom"] = rows.apply(_old_headroom, axis=1)
    if len(rows) and "verdict" not in rows.columns:
        rows["verdict"] = rows.apply(_old_verdict, axis=1)
    losses_path = os.path.join(folder, studyfiles.PARITY_LOSSES_CSV)
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


def _headroom(value):
    """Headroom as the tables show it: 3 significant digits, inf where the backends agree
    exactly, "-" where the check has none (an exact copy)."""
    v = _num(value)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf"
    return "%.3g" % v


def table(rows):
    """One line per (workload, backend, check): weight checks folded to their worst layer (the
    smallest headroom), with each check's headroom and result (ok, FAIL, not informative)."""
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
                    "headroom": _headroom(worst["headroom"]),
                    "result": verdict,
                    "note": worst["note"],
                }
            )
            continue
        row = group.iloc[0]
        status = row["passed"]
        if check == "run":
            verdict = "cannot join" if status == "" else "FAIL"
        elif not _passed(status):
            verdict = "FAIL"
        else:
            verdict = NOT_INFORMATIVE if row["verdict"] == NOT_INFORMATIVE else "ok"
        out.append(
            {
                "workload": workload,
                "backend": backend,
                "check": check,
                "value": _fmt(row["value"]),
                "tolerance": _fmt(row["tolerance"]),
                "headroom": _headroom(row["headroom"]),
                "result": verdict,
                "note": row["note"],
            }
        )
    return pd.DataFrame(
        out,
        columns=[
            "workload",
            "backend",
            "check",
            "value",
            "tolerance",
            "headroom",
            "result",
            "note",
        ],
    )


def verdicts(rows):
    """One line per (workload, backend): passes, fails (with the failing checks) or cannot join,
    for a verdict table beside the speed results; the tightest headroom of its informative
    checks (and which), and the checks that could not fail on this workload."""
    out = []
    for (workload, backend), group in rows.groupby(["workload", "backend"], sort=False):
        run = group[group["check"] == "run"]
        tightest, not_informative = "", ""
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
            informative = group[group["verdict"] != NOT_INFORMATIVE]
            room = informative["headroom"].map(_num)
            if room.notna().any():
                at = informative.loc[room.idxmin()]
                tightest = "%s (%s%s)" % (
                    _headroom(at["headroom"]),
                    at["check"],
                    " " + at["layer"] if at["layer"] else "",
                )
            not_informative = ", ".join(
                dict.fromkeys(group[group["verdict"] == NOT_INFORMATIVE]["check"])
            )
        out.append(
            {
                "workload": workload,
                "backend": backend,
                "reference": group.iloc[0]["reference"],
                "parity": verdict,
                "headroom (tightest check)": tightest,
                "not informative": not_informative,
                "detail": detail,
            }
        )
    return pd.DataFrame(
        out,
        columns=[
            "workload",
            "backend",
            "reference",
            "parity",
            "headroom (tightest check)",
            "not informative",
            "detail",
        ],
    )


def _layers(detail):
    """'embedding, dense' from a verdict's detail ('final_weights (embedding, dense); loss')."""
    for part in str(detail).split("; "):
        if part.startswith("final_weights (") and part.endswith(")"):
            return part[len("final_weights (") : -1]
    return ""


def learning_groups(rows) -> dict:
    """{workload: {"groups": [[backend, ...], ...], "largest": i, "layers": [text, ...],
    "outside": {backend: verdict}}} from the parity verdicts (`verdicts`). Backends fall into
    groups that agree: the reference (first) with every backend that passed against it, and a
    backend that failed against it joins another that failed where the two agree with each other.
    `largest`: the index of the largest group (the first of equals); `layers`: for each other
    group, the layers whose weights differ most from the largest ("" where none is named);
    `outside`: the backends in no group (failed to run, cannot join)."""
    out = {}
    for workload, block in verdicts(rows).groupby("workload", sort=False):
        reference = block["reference"].iloc[0]
        groups = {reference: [reference]}
        leader, outside = {}, {}
        for _, row in block.iterrows():
            head, *more = str(row["parity"]).split("; ")
            backend = row["backend"]
            if head == "same":
                groups[reference].append(backend)
                continue
            if head != "differs":
                leader[backend] = None  # failed to run, or cannot join: not in any group
                outside[backend] = head
                continue
            agreed = [m[len("same as ") :] for m in more if m.startswith("same as ")]
            home = next((leader[a] for a in agreed if leader.get(a)), backend)
            leader[backend] = home
            groups.setdefault(home, []).append(backend)
        groups = list(groups.values())
        largest = groups.index(max(groups, key=len))
        layers = []
        for i, group in enumerate(groups):
            # The layers of the rows compared against the odd group: the group's own rows, or,
            # where the odd one is the reference, the rows of the backends compared with it.
            named = groups[largest] if reference in group else group
            detail = block[block["backend"].isin(named)]["detail"]
            found = next((_layers(d) for d in detail if _layers(d)), "")
            layers.append("" if i == largest else found)
        out[workload] = {"groups": groups, "largest": largest, "layers": layers, "outside": outside}
    return out


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


def session_switches(backend, settings):
    """What a parity process's kernel.json says it trained with, beyond the precision's name:
    'TF32 off in matmul and cuDNN, cuDNN deterministic, ...'; "" where it says nothing."""
    settings = settings or {}
    determinism = settings.get("determinism") or {}
    parts = []
    if backend == "tensorflow" and "tf32" in settings:
        parts.append("TF32 %s" % ("on" if settings["tf32"] else "off"))
    if backend == "jax" and settings.get("jax_default_matmul_precision"):
        parts.append("matmul precision %s" % settings["jax_default_matmul_precision"])
    if backend == "torch" and "torch_matmul_allow_tf32" in settings:
        on = [
            name
            for name, key in (
                ("matmul", "torch_matmul_allow_tf32"),
                ("cuDNN", "torch_cudnn_allow_tf32"),
            )
            if settings.get(key)
        ]
        parts.append("TF32 on in " + " and ".join(on) if on else "TF32 off in matmul and cuDNN")
    if determinism.get("op_determinism") is True:
        parts.append("op determinism")
    if "--xla_gpu_deterministic_ops=true" in str(determinism.get("XLA_FLAGS", "")):
        parts.append("XLA --xla_gpu_deterministic_ops")
    if determinism.get("cudnn_deterministic"):
        parts.append("cuDNN deterministic")
    if determinism.get("cudnn_benchmark") is False:
        parts.append("cuDNN benchmark off")
    if determinism.get("deterministic_algorithms"):
        parts.append(
            "deterministic algorithms%s"
            % (" (warn only)" if determinism.get("deterministic_algorithms_warn_only") else "")
        )
    if determinism.get("force_deterministic_algorithms") is True:
        parts.append("deterministic algorithms")
    return ", ".join(parts)


def provenance(folder):
    """Where the check ran, from each backend process's kernel.json: 'NVIDIA H200 GPU-...;
    jax 0.9.0, torch 2.11.0+cu130; Keras 3.15.1; precision float32 (jax: matmul precision
    highest, XLA --xla_gpu_deterministic_ops; torch: TF32 off in matmul and cuDNN, ...)', and the
    workloads that ran on generated data. "" where none was kept."""
    machines, frameworks, keras, precision, generated = [], [], [], [], []
    switches = {}
    for path in sorted(glob.glob(os.path.join(folder, "*", "*", runfiles.KERNEL_JSON))):
        with open(path) as f:
            info = json.load(f)
        if (info.get("data") or {}).get("source") == "generated":
            generated.append(info.get("workload"))
        versions = info.get("versions") or {}
        settings = info.get("backend_settings") or {}
        backend = info.get("backend") or os.path.basename(os.path.dirname(path))
        machines.append(machine_id(info.get("device") or {}))
        frameworks.append(versions.get("backend_framework"))
        keras.append(versions.get("keras") and "Keras %s" % versions["keras"])
        precision.append(settings.get("precision"))
        said = session_switches(backend, settings)
        if said:
            switches.setdefault(backend, []).append(said)
    settings_text = "; ".join(
        "%s: %s" % (backend, " / ".join(dict.fromkeys(said)))
        for backend, said in sorted(switches.items())
    )
    parts = [
        joined(machines),
        ", ".join(dict.fromkeys(f for f in frameworks if f)),
        joined(keras),
        joined(precision)
        and "precision %s%s"
        % (joined(precision), " (%s)" % settings_text if settings_text else ""),
        generated
        and "generated data for %s (the same on every backend)"
        % ", ".join(dict.fromkeys(generated)),
    ]
    return "; ".join(p for p in parts if p)


def _ran_on(folder):
    where = provenance(folder)
    return "<p class='kb-caption'>Ran on %s.</p>" % html.escape(where) if where else ""


HEADROOM_CAPTION = (
    "<p class='kb-caption'>Headroom: tolerance / observed difference (below 1 fails; inf: "
    "the same to the last bit). A check that could not have failed on a workload (fewer than "
    "29 samples outside the near-ties, or a tolerance beyond what can differ) is <em>not "
    "informative</em>, not a pass.</p>"
)


def section(folder):
    """What the report shows: a heading's worth of HTML and one figure per workload; a line
    saying how to get parity results where the folder has none."""
    from kerasbench.report.style import Html

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
            + HEADROOM_CAPTION
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
        "<p>Same initial weights, same batches in the same order, dropout off, the session "
        "settings of a timed run (precision, compile options) with deterministic kernels; "
        "tolerances derived from float32 reduction order (<code>kerasbench.parity</code>).</p>",
        _ran_on(folder),
        HEADROOM_CAPTION,
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
