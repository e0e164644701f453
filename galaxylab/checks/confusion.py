"""Self-checks for notebook 04 (confusion matrices, precision and recall, decision rules on a
model's probabilities, and how much of a confusion is label noise).

    from galaxylab.checks import confusion as check
    check.precision_recall(precision, recall, matrix)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from galaxylab import labels, metrics
from galaxylab.checks import close, passed, require

#: The thresholds the decision-rule exercise asks for: 0.05, 0.10, ..., 0.95.
RULE_THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.05, 0.951, 0.05), 2))
#: The thresholds the regressor exercise asks for: 0.55, 0.60, ..., 0.95.
REGRESSOR_THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.55, 0.951, 0.05), 2))
ELLIPTICAL, SPIRAL, UNSURE = (
    labels.THREE_CLASSES.index(c) for c in ("elliptical", "spiral", "unsure")
)


def _per_class(values: Any, n: int, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        array = np.array([])
    require(
        array.shape == (n,),
        f"`{what}` should hold {n} numbers, one per class in the order of labels.THREE_CLASSES.",
    )
    return array


def precision_recall(precision: Any, recall: Any, matrix: Any) -> bool:
    """Precision and recall of every class, computed from the confusion matrix (rows = true
    class, columns = predicted)."""
    counts = np.asarray(matrix, dtype=float)
    n = counts.shape[0]
    p, r = _per_class(precision, n, "precision"), _per_class(recall, n, "recall")
    hits = np.diag(counts)
    predicted, actual = counts.sum(axis=0), counts.sum(axis=1)
    want_p = np.divide(hits, predicted, out=np.zeros(n), where=predicted > 0)
    want_r = np.divide(hits, actual, out=np.zeros(n), where=actual > 0)
    swapped = np.allclose(p, want_r, atol=1e-6) and np.allclose(r, want_p, atol=1e-6)
    require(
        not swapped or np.allclose(want_p, want_r, atol=1e-6),
        "Precision and recall are swapped: which of them looks at what the model *predicted*?",
    )
    require(
        np.allclose(p, want_p, atol=1e-6),
        "Not all precisions are right yet: of the galaxies predicted as a class, what share are "
        "really that class? (Which sum of the matrix counts them?)",
    )
    require(
        np.allclose(r, want_r, atol=1e-6),
        "Not all recalls are right yet: of the galaxies that really are a class, what share did "
        "the model find?",
    )
    return passed(
        "Right: precision divides the diagonal by the column sums, recall by the row sums."
    )


def elliptical_rule(probabilities: Any, threshold: float) -> np.ndarray:
    """The exercise's decision rule: elliptical when P(elliptical) ≥ ``threshold``, else the
    more probable of spiral and unsure (class indices in labels.THREE_CLASSES order)."""
    p = np.asarray(probabilities, dtype=float)
    others = np.where(p[:, UNSURE] > p[:, SPIRAL], UNSURE, SPIRAL)
    return np.where(p[:, ELLIPTICAL] >= threshold, ELLIPTICAL, others)


def _macro_f1(y_true: Any, y_pred: Any) -> float:
    return float(metrics.classification_summary(np.asarray(y_true), np.asarray(y_pred))["macro_f1"])


def elliptical_threshold(
    threshold: Any,
    test_macro_f1: Any,
    val_probabilities: Any,
    y_val: Sequence[int],
    test_probabilities: Any,
    y_test: Sequence[int],
) -> bool:
    """The threshold on P(elliptical) chosen on the validation galaxies, and the test macro-F1
    it gives."""
    require(
        close(threshold, 0.5, 0.5),
        "`threshold` should be one number between 0 and 1 (a probability).",
    )
    t = float(threshold)
    scores = {u: _macro_f1(y_val, elliptical_rule(val_probabilities, u)) for u in RULE_THRESHOLDS}
    mine = _macro_f1(y_val, elliptical_rule(val_probabilities, t))
    require(
        mine >= max(scores.values()) - 1e-9,
        f"Another threshold gives a higher macro-F1 on the validation galaxies than {t:g}: "
        "did you score the thresholds on the validation set?",
    )
    test = _macro_f1(y_test, elliptical_rule(test_probabilities, t))
    require(
        close(test_macro_f1, test, 1e-6),
        f"`test_macro_f1` is not the test macro-F1 of the rule at t = {t:g}: apply that "
        "threshold once to the test probabilities.",
    )
    return passed(
        f"Right: t = {t:g} is the best on the validation galaxies, and it gives test macro-F1 "
        f"{test:.3f}."
    )


def noise_ceiling(ceiling_by_t: Any, votes: Any, crowd: Any) -> bool:
    """``ceiling_by_t``: threshold → accuracy of the volunteers' classes against the infinite
    crowd's, both drawn with that threshold (the label-noise ceiling at each threshold)."""
    require(
        isinstance(ceiling_by_t, dict) and len(ceiling_by_t) >= 4,
        "`ceiling_by_t` should be a dict with one entry per threshold (0.60, 0.65, ..., 0.90).",
    )
    require(
        any(close(t, 0.8, 1e-9) for t in ceiling_by_t),
        "Include the GZ1 threshold 0.8 among the thresholds, so you can compare with it.",
    )
    for t, value in ceiling_by_t.items():
        require(
            close(t, 0.75, 0.25) and float(t) > 0.5,
            f"The threshold {t!r} is not between 0.5 and 1.",
        )
        vol = labels.three_class(votes, threshold=float(t)).astype(str).to_numpy()
        ref = labels.three_class(crowd, threshold=float(t)).astype(str).to_numpy()
        want = float(np.mean(vol == ref))
        require(
            not close(value, 1 - want, 1e-6) or close(want, 0.5, 1e-6),
            f"At t = {float(t):g} you have the share of galaxies whose classes *differ*; the "
            "ceiling is the share that agree.",
        )
        require(
            close(value, want, 1e-6),
            f"At t = {float(t):g} the accuracy is not right yet: label both the volunteers' "
            "and the infinite crowd's fractions with that same threshold and compare.",
        )
    best = max(ceiling_by_t, key=ceiling_by_t.get)
    at_gz1 = next(v for t, v in ceiling_by_t.items() if close(t, 0.8, 1e-9))
    return passed(
        f"Right: the labels agree best with the infinite crowd at t = {float(best):g} "
        f"({ceiling_by_t[best]:.3f}), against {at_gz1:.3f} at 0.8."
    )


def regressor_threshold(
    threshold: Any,
    test_macro_f1: Any,
    val_fractions: Any,
    y_val: Sequence[int],
    test_fractions: Any,
    y_test: Sequence[int],
) -> bool:
    """The vote threshold for the regressor's predicted fractions chosen on the validation
    galaxies, and the test macro-F1 it gives."""
    require(
        close(threshold, 0.75, 0.25) and float(threshold) > 0.5,
        "`threshold` should be one number between 0.5 and 1, like the GZ1 0.8.",
    )
    t = float(threshold)

    def score(frame: Any, y: Sequence[int], u: float) -> float:
        guess = labels.class_indices(labels.three_class(frame, threshold=u).astype(str))
        return _macro_f1(y, guess)

    scores = {u: score(val_fractions, y_val, u) for u in REGRESSOR_THRESHOLDS}
    require(
        score(val_fractions, y_val, t) >= max(scores.values()) - 1e-9,
        f"Another threshold gives a higher validation macro-F1 than {t:g}: did you choose it on "
        "the validation galaxies?",
    )
    test = score(test_fractions, y_test, t)
    require(
        close(test_macro_f1, test, 1e-6),
        f"`test_macro_f1` is not the test macro-F1 at t = {t:g}: apply it once to the test "
        "predictions.",
    )
    return passed(f"Right: t = {t:g} is best on the validation galaxies; test macro-F1 {test:.3f}.")
