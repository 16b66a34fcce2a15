"""The tolerances of `kerasbench parity` (study.tolerance) against hand-computed values, their
premise against float32 rounding itself, and the class checks on known arrays."""

import math

import numpy as np
import pytest

from kerasbench.study import tolerance


def test_tolerances_follow_the_documented_formula():
    u = 2.0**-24
    # mnist_mlp: K = 784 (the first Dense's fan-in), D = 3 Dense layers, RMSprop (c = 2), and
    # M = 10^6 numbers compared: lambda = sqrt(2 ln(2 x 10^6 / 10^-3)) = 6.5447.
    tol = tolerance.tolerances(784, 3, "RMSprop", steps=10, compared=1e6)
    lam = math.sqrt(2 * math.log(2e9))
    assert tol["lambda"] == pytest.approx(lam) == pytest.approx(6.5447, abs=1e-4)
    assert tol["eps_fwd"] == pytest.approx(lam * u * math.sqrt(2 * 3 * 784))
    assert tol["eps_step"] == pytest.approx(2 * lam * u * math.sqrt(2 * 9 * 784))
    assert tol["weights"] == pytest.approx(10 * tol["eps_step"])
    assert tol["probabilities"] == pytest.approx(tol["eps_fwd"] + 10 * tol["eps_step"])
    assert tolerance.loss_tolerance(tol, 0) == pytest.approx(tol["eps_fwd"])
    assert tolerance.loss_tolerance(tol, 4) == pytest.approx(tol["eps_fwd"] + 4 * tol["eps_step"])
    # c: 1 for SGD, 2 for RMS-divided updates, 3 for Adadelta and anything not listed.
    step = lam * u * math.sqrt(2 * 9 * 784)
    assert tolerance.tolerances(784, 3, "SGD", 10, 1e6)["eps_step"] == pytest.approx(step)
    assert tolerance.tolerances(784, 3, "Adam", 10, 1e6)["eps_step"] == pytest.approx(2 * step)
    assert tolerance.tolerances(784, 3, "Adadelta", 10, 1e6)["eps_step"] == pytest.approx(3 * step)
    assert tolerance.tolerances(784, 3, "Mystery", 10, 1e6)["eps_step"] == pytest.approx(3 * step)
    # evaluate()'s loss: the forward pass's D K terms and n more, in quadrature.
    assert tolerance.eval_tolerance(tol, 100) == pytest.approx(
        lam * u * math.sqrt(2 * (3 * 784 + 100))
    )
    assert tolerance.mean_tolerance(tol, 100) == pytest.approx(lam * u * math.sqrt(200))
    # No count recorded (an older result.json): 10^8 numbers, lambda 7.214.
    assert tolerance.tolerances(784, 3, "SGD", 10)["lambda"] == pytest.approx(7.2141, abs=1e-4)
    # TF32 (10 mantissa bits): u = 2^-11, 8,192 times float32's.
    tf32 = tolerance.tolerances(784, 3, "SGD", 10, 1e6, precision="tf32")
    assert tf32["eps_fwd"] / tolerance.tolerances(784, 3, "SGD", 10, 1e6)["eps_fwd"] == 8192


def test_the_new_tolerances_are_tighter_than_the_old_by_the_documented_factors():
    """The docstring's comparison with the derivation before (lambda 8, linear in D, 2 D sums a
    step, c = 3 for every adaptive optimizer, one backend's error)."""
    u = 2.0**-24

    def old_step(k, d, c):
        return c * 2 * d * 8 * math.sqrt(k) * u

    # The MNIST MLP (K 784, D 3, RMSprop, 669,706 weights) and CNN (K 86,528, D 4, Adadelta,
    # 1,199,882 weights); M counts the weights twice, 10,000 probabilities twice and 10 losses.
    mlp = tolerance.tolerances(784, 3, "RMSprop", 10, 2 * 669706 + 2 * 10000 + 10)
    cnn = tolerance.tolerances(86528, 4, "Adadelta", 10, 2 * 1199882 + 2 * 10000 + 10)
    assert old_step(784, 3, 3) / mlp["eps_step"] == pytest.approx(2.6, abs=0.05)
    assert old_step(86528, 4, 3) / cnn["eps_step"] == pytest.approx(2.0, abs=0.05)


def test_headroom_is_tolerance_over_value():
    assert tolerance.headroom(1e-7, 1e-4) == pytest.approx(1000)
    assert tolerance.headroom(2e-4, 1e-4) == pytest.approx(0.5)
    assert tolerance.headroom(0.0, 1e-4) == float("inf")  # the same to the last bit
    assert tolerance.headroom(0.0, 0.0) is None  # an exact copy: passes or fails, no margin
    assert tolerance.headroom(0.3, "") is None  # no numeric tolerance
    assert tolerance.headroom(float("inf"), 1e-4) == 0.0
    assert tolerance.verdict(True) == "pass"
    assert tolerance.verdict(False, informative=False) == "fail"  # a failure is always one
    assert tolerance.verdict(True, informative=False) == "not informative"


def test_a_class_check_is_not_informative_with_fewer_than_29_decidable_samples():
    # 0.9^28 = 0.052 > 5%, 0.9^29 = 0.047: the smallest n that catches 10% flips 95% of the time.
    assert 0.9**28 > 0.05 > 0.9**29 and tolerance.MIN_DECIDABLE == 29
    # 100 samples of 3 classes whose two best are 0.01 apart (near-ties for tol 0.01: width
    # 0.02), and 29 samples clearly decided (0.8 against 0.1).
    ties = np.tile([0.40, 0.39, 0.21], (100, 1))
    clear = np.tile([0.8, 0.1, 0.1], (29, 1))
    ref = [np.vstack([ties, clear])]
    other = [np.vstack([ties[:, [1, 0, 2]], clear])]  # every near-tie flips its class
    agreement, passed, room, informative, note = tolerance.class_check(ref, [ref[0]], 0.01)
    assert (agreement, passed, room, informative) == (1.0, True, float("inf"), True)
    assert "29 of 129 samples decidable" in note
    # The ties flip: allowed (margin 0.01 <= width 0.02), headroom = 0.02 / 0.01.
    agreement, passed, room, informative, _ = tolerance.class_check(ref, other, 0.01)
    assert agreement == pytest.approx(29 / 129) and passed and informative
    assert room == pytest.approx(2.0)
    # One decided sample fewer: 28, and the check could not have failed: not informative.
    agreement, passed, room, informative, note = tolerance.class_check(
        [ref[0][:-1]], [other[0][:-1]], 0.01
    )
    assert passed and not informative and "28 of 128" in note
    # All near-ties (text_generator_keras): agreement 0 and still no failure possible.
    agreement, passed, room, informative, note = tolerance.class_check(
        [ties], [ties[:, [1, 0, 2]]], 0.01
    )
    assert (agreement, passed, informative) == (0.0, True, False)
    assert "0 of 100 samples decidable (fewer than 29: the check cannot fail)" in note
    # A decided sample that flips fails, however few were decided: headroom 0.02 / 0.7.
    flipped = clear[:1, [1, 0, 2]]
    agreement, passed, room, informative, _ = tolerance.class_check(
        [np.vstack([ties, clear[:1]])], [np.vstack([ties, flipped])], 0.01
    )
    assert not passed and not informative and room == pytest.approx(0.02 / 0.7)
    assert tolerance.verdict(passed, informative) == "fail"


def test_predictions_may_differ_in_class_only_at_near_ties():
    ref = [np.array([[0.70, 0.30], [0.5004, 0.4996], [0.2, 0.8]])]
    # Sample 1 flips, but its two classes are 0.0008 apart: a near-tie for tol 0.001.
    got = [np.array([[0.70, 0.30], [0.4996, 0.5004], [0.2, 0.8]])]
    worst, agreement, hard = tolerance.compare_predictions(ref, got, tol_p=0.001)
    assert worst == pytest.approx(0.0008)
    assert agreement == pytest.approx(2 / 3.0)
    assert hard == 0
    # With a tighter tolerance the same flip is a real disagreement.
    assert tolerance.compare_predictions(ref, got, tol_p=0.0001)[2] == 1
    # One sigmoid output: class p > 0.5, margin |2p - 1|.
    classes, margins = tolerance.classes_and_margins(np.array([[0.9], [0.2], [0.5]]))
    assert list(classes) == [1, 0, 0]
    assert margins == pytest.approx([0.8, 0.6, 0.0])
    assert tolerance.near_tie_fraction(ref, 0.001) == pytest.approx(1 / 3.0)


def test_lambda_and_the_logit_scale_on_known_answers():
    # 2 M / alpha = e^8: lambda = sqrt(2 ln e^8) = 4 exactly.
    assert tolerance.confidence_lambda(tolerance.ALPHA * math.exp(8) / 2) == pytest.approx(4.0)
    # The docstring's figure for the MNIST CNN: 1,199,882 weights twice, 10,000 probabilities
    # twice and 10 losses: lambda 6.7.
    assert tolerance.confidence_lambda(2 * 1199882 + 2 * 10000 + 10) == pytest.approx(6.7, abs=0.05)
    # Softmax of logits (2, 0, -1): log(p_max / p_min) = 3; a sigmoid of logit -5: |logit| = 5.
    softmax = np.exp([2.0, 0.0, -1.0]) / np.exp([2.0, 0.0, -1.0]).sum()
    assert tolerance.logit_scale([softmax[None, :]]) == pytest.approx(3.0)
    sigmoid = 1 / (1 + np.exp(5.0))
    assert tolerance.logit_scale([np.array([[sigmoid], [0.5]])]) == pytest.approx(5.0, rel=1e-6)
    assert tolerance.logit_scale([np.array([[0.5, 0.5]])]) == 1.0  # at least 1


def test_the_bound_holds_for_float32_sums_in_any_order():
    """The premise, against float32 itself: two summation orders of the same K positive terms
    (the worst case: every partial sum as large as it gets) differ by at most
    sqrt(2) lambda u sqrt(K) S, S the sum of magnitudes, for every one of M trials at once;
    and the bound is not vacuous (the worst trial reaches more than 1% of it)."""
    rng = np.random.default_rng(0)
    trials, k = 200, 4096
    lam = tolerance.confidence_lambda(trials)
    worst = 0.0
    for _ in range(trials):
        terms = rng.uniform(0, 1, k).astype("float32")
        one = np.cumsum(terms[rng.permutation(k)], dtype="float32")[-1]
        two = np.cumsum(terms[rng.permutation(k)], dtype="float32")[-1]
        bound = math.sqrt(2) * lam * tolerance.U * math.sqrt(k) * float(np.abs(terms).sum())
        worst = max(worst, abs(float(one) - float(two)) / bound)
    assert 0.01 < worst <= 1.0
