"""One backend's files against the reference's, for `kerasbench parity`: the parity.csv rows.

What the processes of `kerasbench.kernel.parity` wrote (result.json, the layers before and after
training, losses.csv, the predictions, the cross-load's) read back, and each check made against
its tolerance (`study.tolerance`): initial weights, the loss at every step, the weights after
training, the probabilities and classes, the cross-load. Host side (NumPy, no Keras).
"""

import json
import math
import os
import csv

import numpy as np

from kerasbench import studyfiles
from kerasbench.study import tolerance


def layer_differences(reference, other):
    """[(layer name, largest |difference| / largest |reference weight|)] for layers with weights.

    Both are studyfiles.read_layers lists from the same model; a layer whose shapes differ
    gets inf."""
    rows = []
    for (name, _, ref), (_, _, got) in zip(reference, other):
        if not ref:
            continue
        if [a.shape for a in ref] != [a.shape for a in got]:
            rows.append((name, float("inf")))
            continue
        scale = max(float(np.max(np.abs(a))) if a.size else 0.0 for a in ref) or 1.0
        diff = max(
            float(np.max(np.abs(a.astype("float64") - b.astype("float64")))) if a.size else 0.0
            for a, b in zip(ref, got)
        )
        rows.append((name, diff / scale if math.isfinite(diff) else float("inf")))
    return rows


# The kernel's files (kerasbench.kernel.parity writes them; studyfiles names them)
RESULT_JSON = studyfiles.PARITY_RESULT_JSON
KERNEL_LOSSES = studyfiles.PARITY_KERNEL_LOSSES


def _layers(folder, stem):
    return studyfiles.read_layers(os.path.join(folder, studyfiles.layers_file(stem)))


def _read_npz(path):
    with np.load(path) as f:
        return [f["output_%d" % i] for i in range(len(f.files))]


def _read_losses(path):
    with open(path) as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def row(
    workload,
    backend,
    reference,
    check,
    value,
    tolerance_,
    passed,
    layer="",
    note="",
    room=None,
    informative=True,
):
    """One parity.csv row; headroom from value and tolerance unless given, the verdict from
    passed and informative (a `run` row's verdict is its status: cannot_join, failed...)."""
    if room is None:
        room = tolerance.headroom(value, tolerance_)
    return {
        "workload": workload,
        "backend": backend,
        "reference": reference,
        "check": check,
        "layer": layer,
        "value": value,
        "tolerance": tolerance_,
        "passed": passed,
        "headroom": "" if room is None else room,
        "verdict": str(value) if check == "run" else tolerance.verdict(passed, informative),
        "note": note,
    }


def _rel(a, b):
    if not (math.isfinite(a) and math.isfinite(b)):
        return float("inf")
    return abs(a - b) / max(abs(b), 1e-12)


class Checks(object):
    """The parity.csv rows of one backend against the reference, as they are added."""

    def __init__(self, workload, backend, reference):
        self.key = (workload, backend, reference)
        self.rows = []

    def row(self, check, value, tolerance_, passed, **details):
        self.rows.append(row(*(self.key + (check, value, tolerance_, passed)), **details))

    def within(self, check, value, tolerance_, layer="", note="", informative=True):
        """A check that passes where the value is within its tolerance."""
        passed = bool(value <= tolerance_)
        self.row(check, value, tolerance_, passed, layer=layer, note=note, informative=informative)


def compare(workload, reference_dir, other_dir, steps):
    """The parity.csv rows and per-step loss rows of one backend against the reference."""
    ref = read_json(os.path.join(reference_dir, RESULT_JSON))
    got = read_json(os.path.join(other_dir, RESULT_JSON))
    preds_ref = _read_npz(os.path.join(reference_dir, studyfiles.PREDICTIONS_NPZ))
    preds_got = _read_npz(os.path.join(other_dir, studyfiles.PREDICTIONS_NPZ))
    tol = tolerance.model_tolerances(ref, steps, sum(int(np.size(p)) for p in preds_ref))
    checks = Checks(workload, got["backend"], ref["backend"])
    for name, value in layer_differences(
        _layers(reference_dir, studyfiles.WEIGHTS_STEP0),
        _layers(other_dir, studyfiles.WEIGHTS_STEP0),
    ):
        checks.within("initial_weights", value, 0.0, name, got.get("initial_weights", ""))
    loss_rows = loss_check(
        checks,
        _read_losses(os.path.join(reference_dir, KERNEL_LOSSES)),
        _read_losses(os.path.join(other_dir, KERNEL_LOSSES)),
        tol,
    )
    for name, value in layer_differences(
        _layers(reference_dir, studyfiles.WEIGHTS_FINAL),
        _layers(other_dir, studyfiles.WEIGHTS_FINAL),
    ):
        checks.within("final_weights", value, tol["weights"], name, "after %d steps" % steps)
    z = tolerance.logit_scale(preds_ref)
    tol_p = tol["probabilities"] * z / 2
    note = "on %s (%d samples); logit scale %.3g%s" % (
        got.get("evaluated_on"),
        got.get("eval_samples", 0),
        z,
        "; a tolerance of 1 or more: probabilities cannot differ by more" if tol_p >= 1 else "",
    )
    prediction_checks(checks, "predictions", preds_ref, preds_got, tol_p, note)
    cross = _read_npz(os.path.join(other_dir, studyfiles.CROSSLOAD_PREDICTIONS_NPZ))
    tol_x = tol["eps_fwd"] * z / 2
    note = got.get("crossload_weights", "")
    informative = prediction_checks(checks, "crossload", preds_ref, cross, tol_x, note)
    crossload_metrics(
        checks, ref, got, tol, tolerance.near_tie_fraction(preds_ref, tol_x), informative
    )
    return checks.rows, loss_rows


def loss_check(checks, ref_losses, got_losses, tol):
    """The loss row (the step worst against its tolerance, and the first outside it) and the
    per-step rows of parity_losses.csv."""
    workload, backend, reference = checks.key
    loss_rows = []
    worst = None  # (difference / tolerance, difference, tolerance, step)
    for step, (a, b) in enumerate(zip(got_losses, ref_losses)):
        diff, t = _rel(a, b), tolerance.loss_tolerance(tol, step)
        loss_rows.append(
            {
                "workload": workload,
                "backend": backend,
                "reference": reference,
                "step": step,
                "loss": a,
                "reference_loss": b,
                "relative_difference": diff,
                "tolerance": t,
            }
        )
        if worst is None or diff / t > worst[0]:
            worst = (diff / t, diff, t, step)
    first_bad = next(
        (r["step"] for r in loss_rows if not r["relative_difference"] <= r["tolerance"]), None
    )
    note = "worst at step %d of %d%s" % (
        worst[3],
        len(loss_rows),
        "" if first_bad is None else "; first outside tolerance at step %d" % first_bad,
    )
    checks.within("loss", worst[1], worst[2], note=note)
    return loss_rows


def prediction_checks(checks, name, reference, other, tol_p, note):
    """`name`_max_abs_diff (probabilities within tol_p; not informative at 1 or more) and
    `name`_argmax_agreement (tolerance.class_check); returns whether the class check is
    informative."""
    diff, _, _ = tolerance.compare_predictions(reference, other, tol_p)
    checks.within(name + "_max_abs_diff", diff, tol_p, note=note, informative=tol_p < 1)
    agreement, passed, room, informative, why = tolerance.class_check(reference, other, tol_p)
    checks.row(
        name + "_argmax_agreement",
        agreement,
        "",
        passed,
        note=why,
        room=room,
        informative=informative,
    )
    return informative


def crossload_metrics(checks, ref, got, tol, ties, informative):
    """evaluate()'s metrics of the reference's trained weights on this backend against the
    reference's own: a loss within eval_tolerance (relative), an accuracy-like metric within the
    near-tie fraction `ties` plus a float32 mean's rounding (as informative as the class check)."""
    samples = got.get("eval_samples", 1)
    reference = ref["backend"]
    for metric, value in sorted((got.get("crossload") or {}).items()):
        expected = (ref.get("evaluate") or {}).get(metric)
        if expected is None:
            continue
        if "loss" in metric:
            checks.within(
                "crossload_" + metric,
                _rel(value, expected),
                tolerance.eval_tolerance(tol, samples),
                note="%s %.6g here, %.6g on %s" % (metric, value, expected, reference),
            )
        else:
            # A predicted class may flip at a near-tie; the metric is itself a float32 mean.
            checks.within(
                "crossload_" + metric,
                abs(value - expected),
                ties + tolerance.mean_tolerance(tol, samples),
                note="%s %.6g here, %.6g on %s; near-ties %.3g"
                % (metric, value, expected, reference, ties),
                informative=informative,
            )


def read_json(path):
    with open(path) as f:
        return json.load(f)


def followers_agree(workload, reference, first_dir, other_dir, steps):
    """A row saying whether two non-reference backends trained alike (loss at every step and
    every layer's weights after training, with the same tolerances): where all of them differ
    from the reference but agree with each other, it is the reference that differs."""
    first = read_json(os.path.join(first_dir, RESULT_JSON))
    tol = tolerance.model_tolerances(first, steps)
    a = _read_losses(os.path.join(first_dir, KERNEL_LOSSES))
    b = _read_losses(os.path.join(other_dir, KERNEL_LOSSES))
    ratio = max(
        [_rel(x, y) / tolerance.loss_tolerance(tol, t) for t, (x, y) in enumerate(zip(b, a))] or [0]
    )
    layers = layer_differences(
        _layers(first_dir, studyfiles.WEIGHTS_FINAL),
        _layers(other_dir, studyfiles.WEIGHTS_FINAL),
    )
    ratio = max([ratio] + [d / tol["weights"] for _, d in layers])
    other = read_json(os.path.join(other_dir, RESULT_JSON))["backend"]
    return row(
        workload,
        other,
        reference,
        "agrees_with_" + first["backend"],
        ratio,
        1.0,
        bool(ratio <= 1.0),
        note="largest difference / tolerance over losses and "
        "final weights, %s vs %s" % (other, first["backend"]),
    )
