"""`kerasbench parity`: does a workload learn the same on every backend? Host side (no Keras).

For each workload, one fresh process per backend (the backend kernel's Python and environment,
`kerasbench.kernel.parity`) builds the model through the workload's notebook; the first backend
listed (the reference) saves its initial weights, every other backend loads them, and each trains
the same `steps` batches in the same order with dropout off and no shuffling. This module then
compares the files they wrote with the reference's: per-step loss, each layer's weights before the
first step and after the last, the predictions on the evaluation samples, and (cross-load) the
reference's trained weights loaded and evaluated on each other backend.

Tolerances: derived, not tuned
------------------------------
Two backends given the same float32 weights and data compute the same sums in a different order
(and exp/log to within a few ulps). The model of rounding is Higham and Mary's ("A new approach
to probabilistic rounding error analysis", SIAM J. Sci. Comput. 2019): every rounding error
delta is at most u in magnitude and has mean zero given the ones before it. u is the unit
roundoff of the precision the processes record (`session_settings.precision` in result.json):
2^-24 for float32, which holds only because every process pins TF32 off and reads its switches
back (`kernel.parity.check_precision`: a process that trained with TF32 on is `failed`); with
TF32 (u = 2^-11) these bounds would be 8,192 times too small, so such a difference fails loudly.

* To first order the error of any computed number is E = sum_k c_k delta_k, c_k the magnitude of
  the partial result the k-th rounding multiplies: a martingale with steps of at most c_k u, so
  |E| <= lambda u sqrt(sum_k c_k^2) with probability >= 1 - 2 exp(-lambda^2 / 2)
  (Azuma-Hoeffding; the argument of Higham and Mary's Lemma 2.1). A sum of K terms in any order
  has sqrt(sum_k c_k^2) <= sqrt(K) S, S = sum of the terms' magnitudes: the per-sum bound
  lambda sqrt(K) u S of their Theorem 3.1. Two backends round independently: their difference
  has sqrt(2) times that spread.
* lambda: every number compared (M of them: weights, losses, probabilities) must stay within its
  bound at once, with probability >= 1 - alpha, alpha = 10^-3: 2 M exp(-lambda^2 / 2) <= alpha,
  lambda = sqrt(2 ln(2 M / alpha)) (6.7 for the MNIST CNN: 1.2 million weights compared before
  and after training; 7.2 for 10^8 numbers, where no count was recorded).
* K is the longest sum of a training step: the widest fan-in of a weight matrix, or batch x
  positions for a weight gradient (the kernel computes it: `kernel.parity.reduction_length`);
  every sum is bounded as if it were that long.
* One forward pass through D layers with weights is D sums in a row (each layer's output error
  passes on with condition ~1; an ill-conditioned model is exactly what this check should flag).
  Their rounding errors are different terms of the same martingale, so they add in quadrature:
  eps_fwd = lambda u sqrt(2 D K).
* A training step is the forward pass and the backward pass (2 D more sums: each layer's input
  gradient and weight gradient), 3 D sums: lambda u sqrt(2 x 3 D K); the optimizer's update
  multiplies the gradient's relative error by c, linearly (the same error enters numerator and
  denominator): c = 1 for SGD (momentum averages gradients: the relative error stays), 2 for
  updates divided by a running RMS of the gradient (Adam, Adamax, Nadam, RMSprop, Adagrad...:
  the gradient's error, plus half the doubled error of its square), 3 for Adadelta (its RMS of
  past updates as well) and for any optimizer not listed. eps_step = c lambda u sqrt(6 D K).
* Differences from each step add up linearly over the steps (short horizons, where the growth of
  a perturbation through training is still linear; this is why parity uses tens of steps, not
  epochs). Rounding errors of different steps are independent too, which alone would allow
  sqrt(N); but each step's difference also passes through the later steps, which multiply it by
  a little more than 1 where training moves fast. The linear sum N covers a growth of up to
  1.21 per step over 10 steps (sqrt(sum_k g^(2k)) <= N), and keeps the bound where the regime
  ends (below: mnist_cnn).
  - weights after N steps, each layer's largest difference relative to its largest weight:
    tol_w(N) = N * eps_step;
  - the loss at step t (computed before update t, so after t updates), relative:
    tol_loss(t) = eps_fwd + t * eps_step;
  - predicted probabilities after N steps: the sums make logits z, so the relative bound holds
    for them: |dz| <= tol * Z, Z the largest logit magnitude, read back from the reference's
    probabilities as the largest log(p_max / p_min) of a sample (sigmoid: |log(p / (1 - p))|);
    softmax and sigmoid move a probability by at most half the change of the logit differences:
    tol_p = (eps_fwd + N * eps_step) * max(1, Z) / 2. A predicted class may differ only where
    the reference's two best classes are within 2 * tol_p of each other (a near-tie).
* Initial weights loaded from the reference's file: exact (tolerance 0): a float32 copy.
* Cross-load (the same trained weights on two backends, no training): probabilities within
  eps_fwd * max(1, Z) / 2, classes equal except near-ties (within eps_fwd * max(1, Z)),
  evaluate()'s loss within lambda u sqrt(2 (D K + n)) relative (its mean over n samples is one
  more sum, of positive terms), accuracy within the fraction of near-ties plus
  lambda u sqrt(2 n) (it is a float32 mean too).

Against the derivation before (lambda = 8, layers and the backward pass added linearly, 2 D
sums a step, c = 3 for every adaptive optimizer, one backend's error), eps_step is 2.0 (MNIST
CNN: Adadelta, D = 4) to 4.2 times (text generator: Adam, D = 8) smaller, 2.6 for the MNIST MLP,
3.6 for CIFAR-10's CNN; eps_fwd 1.3 to 2.4 times. What headroom is left is the bound's own. The
weights of the CNNs keep little (MNIST CNN 4-6 on a CPU, CIFAR-10 3.6: training amplifies their
differences, see below). The loss keeps about 10^3: its tolerance lets every weight's difference
move the loss the same way, while they mostly cancel in one number made of a million weights;
no bound on that cancellation follows from rounding alone. And every bound allows any summation
order (BLAS kernels sum in blocks, with far smaller errors, but no backend promises an order),
every sum as long as the longest, each error relative to the sum of magnitudes. Shrinking these
would need each kernel's summation order on each device: a measurement, not a derivation.

Headroom and "not informative"
------------------------------
A check's headroom is tolerance / observed value (parity.csv `headroom`; inf where the backends
agree exactly): 1 is the edge, below 1 it fails. For the class checks the observed value is the
largest reference margin among the samples whose class differs, against the near-tie width
2 * tol (inf where no class differs). Initial weights have no headroom: a copy is exact or not.

A check is "not informative" (parity.csv `verdict`) when it could not have failed on this
workload whatever the other backend did:
* a probability check whose tolerance is 1 or more (probabilities differ by at most 1);
* a class check, or an accuracy-like metric of the cross-load, that can fail only through a
  sample whose two best classes are farther apart than the near-tie width ("decidable"), when
  fewer than MIN_DECIDABLE = 29 samples are decidable: with 28 or fewer, a backend whose class
  differs on 10% of them passes with probability above 5% (0.9^28 = 0.052; 0.9^29 = 0.047).
  On text_generator_keras every evaluated sample is a near-tie (0 decidable): its class checks
  say nothing there, and a pass of them is not shown as a pass.
A failing check is always "fail": a failure found on few samples is still found.

What the bound assumes, and where it stops: linear growth. On mnist_cnn (Adadelta at lr 1.0) the
loss difference grows about x3 per step from step ~6 on (measured on a CPU: 1e-7 at step 6,
5e-3 at step 15): training amplifies rounding differences exponentially there, and no float32
argument bounds them beyond ~10 steps. So parity uses few steps (default 10); the cross-load
check and the study's accuracy curves speak for longer horizons.
"""

import collections
import csv
import glob
import json
import math
import os
import subprocess
import time

import numpy as np

from kerasbench import registry, runfiles, studyfiles
from kerasbench.errors import UserError
from kerasbench.study import kernels, params, usermodel

# u of the precision a run records: TF32 and float16 (mixed) keep 10 bits of mantissa.
UNIT_ROUNDOFF = {"float32": 2.0**-24, "tf32": 2.0**-11, "mixed": 2.0**-11}
U = UNIT_ROUNDOFF["float32"]
ALPHA = 1e-3  # chance that any compared number leaves its bound by rounding alone
UNCOUNTED = 1e8  # numbers compared, where the kernel recorded no parameter count
MIN_DECIDABLE = 29  # fewest decidable samples for a class check to mean anything (docstring)
NOT_INFORMATIVE = studyfiles.NOT_INFORMATIVE
SGD_LIKE = ("SGD",)
RMS_DIVIDED = ("Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad", "Adafactor", "Lamb")

CONFIGURATION = "default"  # the timed configuration whose settings parity trains with
DEFAULT_STEPS = 10
DEFAULT_EVAL_SAMPLES = 1000
DEFAULT_TIMEOUT = 1800.0


# Tolerances


def optimizer_factor(optimizer):
    """c: how many times the update's relative error holds the gradient's (docstring)."""
    if optimizer in SGD_LIKE:
        return 1.0
    if optimizer in RMS_DIVIDED:
        return 2.0
    return 3.0  # Adadelta, and any optimizer not listed


def confidence_lambda(compared=None):
    """lambda = sqrt(2 ln(2 M / alpha)) for M numbers compared (docstring)."""
    m = max(1.0, float(compared or UNCOUNTED))
    return math.sqrt(2 * math.log(2 * m / ALPHA))


def tolerances(reduction_length, weighted_layers, optimizer, steps, compared=None, precision=None):
    """The documented tolerances (module docstring) for one model."""
    u = UNIT_ROUNDOFF.get(precision or "float32", U)
    lam = confidence_lambda(compared)
    k = max(1, reduction_length)
    depth = max(1, weighted_layers)
    eps_fwd = lam * u * math.sqrt(2 * depth * k)
    eps_step = optimizer_factor(optimizer) * lam * u * math.sqrt(2 * 3 * depth * k)
    return {
        "u": u,
        "lambda": lam,
        "depth": depth,
        "reduction_length": k,
        "eps_fwd": eps_fwd,
        "eps_step": eps_step,
        "weights": steps * eps_step,
        "probabilities": eps_fwd + steps * eps_step,
    }


def loss_tolerance(tol, step):
    return tol["eps_fwd"] + step * tol["eps_step"]


def eval_tolerance(tol, samples):
    """evaluate()'s loss: the forward pass and one more sum, of n positive terms."""
    n = max(1, samples)
    return tol["lambda"] * tol["u"] * math.sqrt(2 * (tol["depth"] * tol["reduction_length"] + n))


def mean_tolerance(tol, samples):
    """A float32 mean of n numbers (an accuracy), relative."""
    return tol["lambda"] * tol["u"] * math.sqrt(2 * max(1, samples))


def headroom(value, tolerance):
    """tolerance / value: how many times the observed difference would fit in its tolerance
    (inf where it is 0); None where the check has no numeric tolerance, or a tolerance of 0."""
    try:
        value, tolerance = float(value), float(tolerance)
    except (TypeError, ValueError):
        return None
    if not tolerance > 0 or math.isnan(value):
        return None
    if value <= 0:
        return float("inf")
    return tolerance / value


def verdict(passed, informative=True):
    """pass, fail or not informative (a failure is always a failure)."""
    if passed is False:
        return "fail"
    return "pass" if informative else NOT_INFORMATIVE


# Comparisons


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


def logit_scale(outputs):
    """Z: the largest logit magnitude the probabilities imply (module docstring), at least 1."""
    tiny = float(np.finfo("float32").tiny)
    scale = 1.0
    for probs in outputs:
        probs = np.clip(np.asarray(probs, "float64").reshape(len(probs), -1), tiny, 1.0)
        if not probs.size:
            continue
        if probs.shape[1] == 1:
            p = np.clip(probs[:, 0], tiny, 1 - 1e-7)
            z = np.abs(np.log(p / (1 - p)))
        else:
            z = np.log(probs.max(axis=1)) - np.log(probs.min(axis=1))
        scale = max(scale, float(np.max(z)))
    return scale


def classes_and_margins(probs):
    """Predicted class per sample, and the gap between the two best (binary: |2p - 1|)."""
    probs = np.asarray(probs, dtype="float64").reshape(len(probs), -1)
    if probs.shape[1] == 1:
        p = probs[:, 0]
        return (p > 0.5).astype(int), np.abs(2 * p - 1)
    top2 = np.sort(probs, axis=1)[:, -2:]
    return np.argmax(probs, axis=1), top2[:, 1] - top2[:, 0]


def compare_predictions(reference, other, tol_p):
    """(max |prob difference|, agreement, disagreements that are not near-ties) over outputs."""
    worst, agree, total, hard = 0.0, 0, 0, 0
    for ref, got in zip(reference, other):
        ref = np.asarray(ref, "float64")
        got = np.asarray(got, "float64")
        diff = np.abs(ref - got)
        worst = max(worst, float(np.nanmax(diff)) if diff.size else 0.0)
        if not np.all(np.isfinite(got)):
            worst = float("inf")
        ref_class, margin = classes_and_margins(ref)
        got_class, _ = classes_and_margins(got)
        same = ref_class == got_class
        agree += int(same.sum())
        total += len(same)
        hard += int(np.sum(~same & (margin > 2 * tol_p)))
    return worst, (agree / total if total else 1.0), hard


def near_tie_fraction(reference, tol_p):
    fractions = [float(np.mean(classes_and_margins(r)[1] <= 2 * tol_p)) for r in reference]
    return max(fractions) if fractions else 0.0


def decidable_samples(reference, tol_p):
    """Samples whose class cannot flip by rounding (two best classes more than 2 * tol_p apart):
    the fewest over the outputs. Only these can make a class check fail."""
    counts = [int(np.sum(classes_and_margins(r)[1] > 2 * tol_p)) for r in reference]
    return min(counts) if counts else 0


def flip_margin(reference, other):
    """The largest reference margin among samples whose predicted class differs (0.0: none)."""
    worst = 0.0
    for ref, got in zip(reference, other):
        ref_class, margin = classes_and_margins(ref)
        got_class, _ = classes_and_margins(got)
        flipped = margin[ref_class != got_class]
        if flipped.size:
            worst = max(worst, float(np.max(flipped)))
    return worst


def class_check(reference, other, tol_p):
    """The class check of one set of predictions: (agreement, passed, headroom, informative,
    note). Fails on any class difference outside the near-ties; headroom = near-tie width /
    the largest margin of a sample whose class differs; informative with at least MIN_DECIDABLE
    decidable samples (module docstring)."""
    _, agreement, hard = compare_predictions(reference, other, tol_p)
    width = 2 * tol_p
    flip = flip_margin(reference, other)
    room = float("inf") if flip == 0 else width / flip
    decidable = decidable_samples(reference, tol_p)
    total = min(len(r) for r in reference) if reference else 0
    note = "%d disagreements beyond near-ties (margin <= %.2g); %d of %d samples decidable" % (
        hard,
        width,
        decidable,
        total,
    )
    if decidable < MIN_DECIDABLE:
        note += " (fewer than %d: the check cannot fail)" % MIN_DECIDABLE
    return agreement, hard == 0, room, decidable >= MIN_DECIDABLE, note


# The kernel's files (kerasbench.kernel.parity writes them; studyfiles names them)
RESULT_JSON = studyfiles.PARITY_RESULT_JSON
JOB_JSON = studyfiles.PARITY_JOB_JSON  # a backend process's job, in OUT/<workload>/<backend>
KERNEL_LOSSES = studyfiles.PARITY_KERNEL_LOSSES


def _layers(folder, stem):
    return studyfiles.read_layers(os.path.join(folder, studyfiles.layers_file(stem)))


def _read_npz(path):
    with np.load(path) as f:
        return [f["output_%d" % i] for i in range(len(f.files))]


def _read_losses(path):
    with open(path) as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def _row(
    workload,
    backend,
    reference,
    check,
    value,
    tolerance,
    passed,
    layer="",
    note="",
    room=None,
    informative=True,
):
    """One parity.csv row; headroom from value and tolerance unless given, the verdict from
    passed and informative (a `run` row's verdict is its status: cannot_join, failed...)."""
    if room is None:
        room = headroom(value, tolerance)
    return {
        "workload": workload,
        "backend": backend,
        "reference": reference,
        "check": check,
        "layer": layer,
        "value": value,
        "tolerance": tolerance,
        "passed": passed,
        "headroom": "" if room is None else room,
        "verdict": str(value) if check == "run" else verdict(passed, informative),
        "note": note,
    }


def _rel(a, b):
    if not (math.isfinite(a) and math.isfinite(b)):
        return float("inf")
    return abs(a - b) / max(abs(b), 1e-12)


def compared_numbers(result, predictions=0, steps=0):
    """M of the docstring: the weights (twice: before and after), the probabilities and the
    losses compared; None where the kernel recorded no parameter count (older results)."""
    if not result.get("parameters"):
        return None
    return 2 * int(result["parameters"]) + 2 * int(predictions) + int(steps)


def model_tolerances(result, steps, predictions=0):
    """tolerances() from one kernel's result.json (the reference's)."""
    precision = (result.get("session_settings") or {}).get("precision")
    return tolerances(
        result["reduction_length"],
        result["weighted_layers"],
        result["optimizer"],
        steps,
        compared=compared_numbers(result, predictions, steps),
        precision=precision,
    )


def compare(workload, reference_dir, other_dir, steps):
    """The parity.csv rows and per-step loss rows of one backend against the reference."""
    ref = _read_json(os.path.join(reference_dir, RESULT_JSON))
    got = _read_json(os.path.join(other_dir, RESULT_JSON))
    backend, reference = got["backend"], ref["backend"]
    preds_ref = _read_npz(os.path.join(reference_dir, studyfiles.PREDICTIONS_NPZ))
    preds_got = _read_npz(os.path.join(other_dir, studyfiles.PREDICTIONS_NPZ))
    tol = model_tolerances(ref, steps, sum(int(np.size(p)) for p in preds_ref))
    rows, loss_rows = [], []

    def add(check, value, tolerance, layer="", note="", informative=True):
        rows.append(
            _row(
                workload,
                backend,
                reference,
                check,
                value,
                tolerance,
                bool(value <= tolerance),
                layer,
                note,
                informative=informative,
            )
        )

    init_ref = _layers(reference_dir, studyfiles.WEIGHTS_STEP0)
    init_got = _layers(other_dir, studyfiles.WEIGHTS_STEP0)
    for name, value in layer_differences(init_ref, init_got):
        add("initial_weights", value, 0.0, name, got.get("initial_weights", ""))

    ref_losses = _read_losses(os.path.join(reference_dir, KERNEL_LOSSES))
    got_losses = _read_losses(os.path.join(other_dir, KERNEL_LOSSES))
    worst = None  # (difference / tolerance, difference, tolerance, step)
    for step, (a, b) in enumerate(zip(got_losses, ref_losses)):
        diff, t = _rel(a, b), loss_tolerance(tol, step)
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
    add(
        "loss",
        worst[1],
        worst[2],
        note="worst at step %d of %d%s"
        % (
            worst[3],
            len(loss_rows),
            "" if first_bad is None else "; first outside tolerance at step %d" % first_bad,
        ),
    )

    final_ref = _layers(reference_dir, studyfiles.WEIGHTS_FINAL)
    final_got = _layers(other_dir, studyfiles.WEIGHTS_FINAL)
    for name, value in layer_differences(final_ref, final_got):
        add("final_weights", value, tol["weights"], name, "after %d steps" % steps)

    z = logit_scale(preds_ref)
    tol_p = tol["probabilities"] * z / 2
    diff, _, _ = compare_predictions(preds_ref, preds_got, tol_p)
    add(
        "predictions_max_abs_diff",
        diff,
        tol_p,
        note="on %s (%d samples); logit scale %.3g%s"
        % (
            got.get("evaluated_on"),
            got.get("eval_samples", 0),
            z,
            "; a tolerance of 1 or more: probabilities cannot differ by more" if tol_p >= 1 else "",
        ),
        informative=tol_p < 1,
    )
    agreement, passed, room, informative, note = class_check(preds_ref, preds_got, tol_p)
    rows.append(
        _row(
            workload,
            backend,
            reference,
            "predictions_argmax_agreement",
            agreement,
            "",
            passed,
            note=note,
            room=room,
            informative=informative,
        )
    )

    cross = _read_npz(os.path.join(other_dir, studyfiles.CROSSLOAD_PREDICTIONS_NPZ))
    tol_x = tol["eps_fwd"] * z / 2
    diff, _, _ = compare_predictions(preds_ref, cross, tol_x)
    add(
        "crossload_max_abs_diff",
        diff,
        tol_x,
        note=got.get("crossload_weights", ""),
        informative=tol_x < 1,
    )
    agreement, passed, room, cross_informative, note = class_check(preds_ref, cross, tol_x)
    rows.append(
        _row(
            workload,
            backend,
            reference,
            "crossload_argmax_agreement",
            agreement,
            "",
            passed,
            note=note,
            room=room,
            informative=cross_informative,
        )
    )
    ties = near_tie_fraction(preds_ref, tol_x)
    samples = got.get("eval_samples", 1)
    for metric, value in sorted((got.get("crossload") or {}).items()):
        expected = (ref.get("evaluate") or {}).get(metric)
        if expected is None:
            continue
        if "loss" in metric:
            add(
                "crossload_" + metric,
                _rel(value, expected),
                eval_tolerance(tol, samples),
                note="%s %.6g here, %.6g on %s" % (metric, value, expected, reference),
            )
        else:
            # A predicted class may flip at a near-tie; the metric is itself a float32 mean.
            add(
                "crossload_" + metric,
                abs(value - expected),
                ties + mean_tolerance(tol, samples),
                note="%s %.6g here, %.6g on %s; near-ties %.3g"
                % (metric, value, expected, reference, ties),
                informative=cross_informative,
            )
    return rows, loss_rows


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def followers_agree(workload, reference, first_dir, other_dir, steps):
    """A row saying whether two non-reference backends trained alike (loss at every step and
    every layer's weights after training, with the same tolerances): where all of them differ
    from the reference but agree with each other, it is the reference that differs."""
    first = _read_json(os.path.join(first_dir, RESULT_JSON))
    tol = model_tolerances(first, steps)
    a = _read_losses(os.path.join(first_dir, KERNEL_LOSSES))
    b = _read_losses(os.path.join(other_dir, KERNEL_LOSSES))
    ratio = max([_rel(x, y) / loss_tolerance(tol, t) for t, (x, y) in enumerate(zip(b, a))] or [0])
    layers = layer_differences(
        _layers(first_dir, studyfiles.WEIGHTS_FINAL),
        _layers(other_dir, studyfiles.WEIGHTS_FINAL),
    )
    ratio = max([ratio] + [d / tol["weights"] for _, d in layers])
    other = _read_json(os.path.join(other_dir, RESULT_JSON))["backend"]
    return _row(
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


def odd_one_out(rows):
    """Lines for workloads where every backend differs from the reference but all the others
    agree with each other."""
    lines = []
    for workload in dict.fromkeys(r["workload"] for r in rows):
        mine = [r for r in rows if r["workload"] == workload]
        agree = [r for r in mine if r["check"].startswith("agrees_with_")]
        compared = {
            r["backend"]
            for r in mine
            if not r["check"].startswith("agrees_with_") and r["check"] != "run"
        }
        failing = {
            r["backend"]
            for r in mine
            if r["passed"] is False and not r["check"].startswith("agrees_with_")
        }
        if agree and all(r["passed"] is True for r in agree) and compared and failing == compared:
            lines.append(
                "%s: %s agree with each other within tolerance; the reference %s is the "
                "backend that differs"
                % (workload, " and ".join(sorted(compared)), mine[0]["reference"])
            )
    return lines


def failures(rows):
    """One line per failing (workload, backend), naming the layers where that is possible."""
    lines = []
    keys = []
    for row in rows:
        key = (row["workload"], row["backend"])
        if key not in keys:
            keys.append(key)
    for key in keys:
        bad = [
            r
            for r in rows
            if (r["workload"], r["backend"]) == key
            and r["passed"] is False
            and not r["check"].startswith("agrees_with_")
        ]
        if not bad:
            continue
        parts = []
        init = [r for r in bad if r["check"] == "initial_weights"]
        final = sorted([r for r in bad if r["check"] == "final_weights"], key=lambda r: -_ratio(r))
        if init:
            parts.append(
                "initial weights of layer %s differ (largest difference %s of the "
                "layer's largest weight; a copy should be exact)"
                % (", ".join(r["layer"] for r in init), _fmt(init[0]["value"]))
            )
        if final:
            parts.append(
                "weights after training differ most in layer %s (%s, tolerance %s)%s"
                % (
                    final[0]["layer"],
                    _fmt(final[0]["value"]),
                    _fmt(final[0]["tolerance"]),
                    "; also " + ", ".join(r["layer"] for r in final[1:]) if len(final) > 1 else "",
                )
            )
        for r in bad:
            if r["check"] in ("initial_weights", "final_weights"):
                continue
            if r["tolerance"] == "":
                parts.append("%s %s (%s)" % (r["check"], _fmt(r["value"]), r["note"]))
            else:
                parts.append(
                    "%s %s (tolerance %s%s)"
                    % (
                        r["check"],
                        _fmt(r["value"]),
                        _fmt(r["tolerance"]),
                        "; " + r["note"] if r["note"] else "",
                    )
                )
        lines.append("%s on %s vs %s: %s" % (key[0], key[1], bad[0]["reference"], "; ".join(parts)))
    return lines


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def summary(rows):
    """One dict per (workload, backend): verdict (same, differs, or the run's status), the
    tightest headroom of its informative checks and where it is, the checks not informative."""
    out = collections.OrderedDict()
    for r in rows:
        key = (r["workload"], r["backend"])
        entry = out.setdefault(
            key,
            {
                "workload": key[0],
                "backend": key[1],
                "reference": r["reference"],
                "verdict": "same",
                "headroom": None,
                "tightest": "",
                "not_informative": [],
            },
        )
        if r["check"] == "run":
            entry["verdict"] = str(r["value"]).replace("_", " ")
            continue
        if r["check"].startswith("agrees_with_"):
            continue
        if r["verdict"] == "fail":
            entry["verdict"] = "differs"
        if r["verdict"] == NOT_INFORMATIVE:
            entry["not_informative"].append(r["check"])
            continue
        room = _number(r["headroom"]) if r["headroom"] != "" else None
        if room is not None and (entry["headroom"] is None or room < entry["headroom"]):
            entry["headroom"] = room
            entry["tightest"] = r["check"] + (" " + r["layer"] if r["layer"] else "")
    return list(out.values())


def format_headroom(value):
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf (exact)"
    return "%.3g" % value


def table_lines(rows):
    """The CLI's table: one line per workload and backend, with the tightest headroom."""
    entries = summary(rows)
    if not entries:
        return []
    cells = [("workload", "backend", "vs", "verdict", "headroom (tightest check)")]
    for e in entries:
        room = format_headroom(e["headroom"])
        cells.append(
            (
                e["workload"],
                e["backend"],
                e["reference"],
                e["verdict"],
                room + (" (%s)" % e["tightest"] if e["tightest"] else ""),
            )
        )
    widths = [max(len(c[i]) for c in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(c))).rstrip() for c in cells]
    for e in entries:
        if e["not_informative"]:
            lines.append(
                "%s on %s: not informative (could not fail here): %s"
                % (e["workload"], e["backend"], ", ".join(dict.fromkeys(e["not_informative"])))
            )
    return lines


def _ratio(row):
    try:
        return (
            float(row["value"]) / float(row["tolerance"])
            if float(row["tolerance"])
            else float("inf")
        )
    except (TypeError, ValueError):
        return 0.0


def _fmt(value):
    if isinstance(value, float):
        return "%.3g" % value
    return str(value)


# Running the kernels


def _kernel_python(backend):
    spec = kernels.find(backend)
    if spec is None:
        kernels.require([backend])
    return spec


def run_backend(job, timeout):
    """One backend's process: the kernel's Python and environment, output in its kernel.log."""
    spec = _kernel_python(job["backend"])
    folder = job["folder"]
    with open(os.path.join(folder, JOB_JSON), "w") as f:
        json.dump(job, f, indent=2, sort_keys=True)
    env = kernels.process_env(spec)
    started = time.time()
    with open(os.path.join(folder, runfiles.KERNEL_LOG), "w") as log:
        try:
            done = subprocess.run(
                [spec.argv[0], "-m", "kerasbench.kernel.parity", JOB_JSON],
                cwd=folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
            code = done.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    path = os.path.join(folder, RESULT_JSON)
    result = _read_json(path) if os.path.exists(path) else None
    if result is None:
        result = {
            "backend": job["backend"],
            "workload": job["workload"],
            "status": "failed",
            "reason": "the process ended (%s) without a result; see %s"
            % (
                "timed out after %g s" % timeout if code == "timeout" else "exit code %s" % code,
                os.path.join(folder, runfiles.KERNEL_LOG),
            ),
        }
    result["wall_seconds"] = time.time() - started
    return result


def parse_perturb(text, backends):
    """Tests only: `BACKEND:LAYER_NAME[:SCALE]`: that layer's initial weights get noise of SCALE
    (default 1) times their spread on that backend, in every workload with a layer of that name."""
    if not text:
        return None
    parts = text.split(":")
    try:
        backend, layer = parts[0], parts[1]
        scale = float(parts[2]) if len(parts) > 2 else 1.0
    except (IndexError, ValueError):
        raise UserError("--perturb %s: expected BACKEND:LAYER_NAME[:SCALE]" % text)
    if not layer:
        raise UserError("--perturb %s: expected BACKEND:LAYER_NAME[:SCALE]" % text)
    if backend not in backends:
        raise UserError("--perturb %s: %s is not one of the backends compared" % (text, backend))
    return backend, layer, scale


def results_in(out):
    """What shows parity's results in a folder: its tables and page, or a backend process's
    job (the folder is one, or holds them at <workload>/<backend>). preflight.results_held."""
    found = [
        name
        for name in (
            studyfiles.PARITY_CSV,
            studyfiles.PARITY_LOSSES_CSV,
            studyfiles.PARITY_HTML,
            JOB_JSON,
        )
        if os.path.isfile(os.path.join(out, name))
    ]
    hits = sorted(glob.glob(os.path.join(glob.escape(out), "*", "*", JOB_JSON)))
    return found + [os.path.relpath(hit, out) for hit in hits[:1]]


def check_replaceable(out, workloads, backends):
    """The process folders a call replaces (OUT/<workload>/<backend>) must be parity's own
    (an earlier call's job in them) or empty; anything else there is one line, before a run."""
    for workload in workloads:
        for backend in backends:
            folder = os.path.join(out, workload, backend)
            if not os.path.lexists(folder) or (
                os.path.isdir(folder)
                and (not os.listdir(folder) or os.path.isfile(os.path.join(folder, JOB_JSON)))
            ):
                continue
            raise UserError(
                "%s was not written by kerasbench parity (it has no %s): give kerasbench "
                "parity a folder of its own (--out)" % (folder, JOB_JSON)
            )


def check(
    workloads,
    backends,
    steps,
    out,
    data_dir,
    staging,
    profile="quick",
    overrides=None,
    eval_samples=DEFAULT_EVAL_SAMPLES,
    timeout=DEFAULT_TIMEOUT,
    perturb=None,
    page=None,
    say=print,
):
    """Runs every workload on every backend and writes parity.csv, parity_losses.csv and (with
    `page`, a function of the folder: kerasbench.report.parity) parity.html. Everything is
    written into `staging` (preflight.Staging, in `out`) and moved into `out` at the end: the
    folders OUT/<workload>/<backend> of this call, then the tables and page, each replacing an
    earlier call's; an earlier parity.html this call does not write goes too (it would show
    older results). Nothing else in `out` is touched. Returns the parity.csv rows."""
    if len(backends) < 2:
        raise UserError("parity compares backends: give at least two (got %s)" % ",".join(backends))
    if steps < 1:
        raise UserError("--steps must be at least 1, got %d" % steps)
    # Built-in names, or model files (path/to/my_model.py: run under the file's name), with the
    # settings the timed `default` configuration gives each backend (params/configs.yaml).
    configs = params.read_configs()
    resolved = collections.OrderedDict()
    for token in workloads:
        name = usermodel.name(token) if usermodel.is_model_file(token) else token
        resolved[name] = {}
        for backend in backends:
            given = params.config_settings(configs, CONFIGURATION, backend)
            given.update(overrides or {})
            if usermodel.is_model_file(token):
                resolved[name][backend] = usermodel.resolve(token, profile, given)
            else:
                resolved[name][backend] = params.resolve(token, profile, overrides=given)
    workloads = list(resolved)
    check_replaceable(os.path.abspath(out), workloads, backends)
    work = staging.path
    rows, loss_rows, results = [], [], {}
    reference = backends[0]
    for workload in workloads:
        reference_dir = os.path.join(work, workload, reference)
        for backend in backends:
            folder = os.path.join(work, workload, backend)
            os.makedirs(folder)
            parameters = dict(
                resolved[workload][backend],
                backend=backend,
                run_dir=folder,
                seed=0,
                data_dir=data_dir,
            )
            job = {
                "workload": workload,
                "backend": backend,
                "configuration": CONFIGURATION + (" with --set" if overrides else ""),
                "folder": folder,
                "notebook": registry.notebook_path(workload),
                "parameters": parameters,
                "role": "reference" if backend == reference else "follower",
                "reference_folder": reference_dir,
                "steps": steps,
                "eval_samples": eval_samples,
            }
            if perturb and perturb[0] == backend:
                job["perturb_layer"], job["perturb_scale"] = perturb[1], perturb[2]
            if backend != reference and results[workload, reference]["status"] != "ok":
                result = {
                    "status": "skipped",
                    "reason": "the reference (%s) did not finish" % reference,
                }
            else:
                say("parity: %s on %s ..." % (workload, backend))
                result = run_backend(job, timeout)
            results[workload, backend] = result
            if result["status"] != "ok":
                rows.append(
                    _row(
                        workload,
                        backend,
                        reference,
                        "run",
                        result["status"],
                        "",
                        "" if result["status"] == "cannot_join" else False,
                        note=result.get("reason", ""),
                    )
                )
                say(
                    "parity: %s on %s: %s: %s"
                    % (workload, backend, result["status"], result.get("reason", ""))
                )
                continue
            if backend != reference:
                more, more_losses = compare(workload, reference_dir, folder, steps)
                rows.extend(more)
                loss_rows.extend(more_losses)
        followers = [b for b in backends[1:] if results[workload, b]["status"] == "ok"]
        for backend in followers[1:]:
            rows.append(
                followers_agree(
                    workload,
                    reference,
                    os.path.join(work, workload, followers[0]),
                    os.path.join(work, workload, backend),
                    steps,
                )
            )
    studyfiles.write_csv(os.path.join(work, studyfiles.PARITY_CSV), rows, studyfiles.PARITY_COLUMNS)
    studyfiles.write_csv(
        os.path.join(work, studyfiles.PARITY_LOSSES_CSV), loss_rows, studyfiles.PARITY_LOSS_COLUMNS
    )
    if page is not None:
        page(work)
    staging.commit(
        [os.path.join(w, b) for w in workloads for b in backends]
        # parity.csv, what the report reads, last
        + [studyfiles.PARITY_LOSSES_CSV, studyfiles.PARITY_HTML, studyfiles.PARITY_CSV],
        obsolete=[studyfiles.PARITY_HTML],
    )
    return rows
