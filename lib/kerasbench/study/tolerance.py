"""The tolerances of `kerasbench parity`, derived from rounding alone, and what a check can say.

How far apart two backends may be, given the same float32 weights and data, on every number
parity compares (per-step loss, weights after training, predicted probabilities and classes,
the cross-load), as functions of the model's shape; a check's headroom; and when a check is
"not informative". Pure arithmetic (NumPy only): `study.parity` applies it to what the kernels
wrote, the unit tests check it against hand-computed values.

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

import math

import numpy as np

from kerasbench import studyfiles

# u of the precision a run records: TF32 and float16 (mixed) keep 10 bits of mantissa.
UNIT_ROUNDOFF = {"float32": 2.0**-24, "tf32": 2.0**-11, "mixed": 2.0**-11}
U = UNIT_ROUNDOFF["float32"]
ALPHA = 1e-3  # chance that any compared number leaves its bound by rounding alone
UNCOUNTED = 1e8  # numbers compared, where the kernel recorded no parameter count
MIN_DECIDABLE = 29  # fewest decidable samples for a class check to mean anything (docstring)
NOT_INFORMATIVE = studyfiles.NOT_INFORMATIVE
SGD_LIKE = ("SGD",)
RMS_DIVIDED = ("Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad", "Adafactor", "Lamb")


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


# Predicted classes: near-ties, decidable samples


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
