"""Notebook 04's self-checks accept a right answer and reject the typical wrong ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxylab import labels
from galaxylab.checks import NotYet
from galaxylab.checks import confusion as check

MATRIX = np.array([[30, 1, 9], [2, 150, 8], [12, 6, 40]])


def test_precision_recall_accepts_the_right_answer_and_rejects_a_swap(capsys):
    precision = np.diag(MATRIX) / MATRIX.sum(axis=0)
    recall = np.diag(MATRIX) / MATRIX.sum(axis=1)
    assert check.precision_recall(precision, recall, MATRIX)
    assert capsys.readouterr().out.startswith("✓")
    with pytest.raises(NotYet, match="swapped"):
        check.precision_recall(recall, precision, MATRIX)
    with pytest.raises(NotYet, match="precisions"):
        check.precision_recall(np.diag(MATRIX) / MATRIX.sum(), recall, MATRIX)
    with pytest.raises(NotYet, match="3 numbers"):
        check.precision_recall(precision[:2], recall, MATRIX)


def _probabilities(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[y]
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True), y


def _f1(y, guess):
    return check._macro_f1(y, guess)


def test_elliptical_threshold_wants_the_validation_choice():
    val_p, y_val = _probabilities(300, 1)
    test_p, y_test = _probabilities(200, 2)
    val = {t: _f1(y_val, check.elliptical_rule(val_p, t)) for t in check.RULE_THRESHOLDS}
    best = max(val, key=val.get)
    test_f1 = _f1(y_test, check.elliptical_rule(test_p, best))
    assert check.elliptical_threshold(best, test_f1, val_p, y_val, test_p, y_test)
    on_test = {t: _f1(y_test, check.elliptical_rule(test_p, t)) for t in check.RULE_THRESHOLDS}
    worst = min(val, key=val.get)
    with pytest.raises(NotYet, match="validation"):
        check.elliptical_threshold(worst, on_test[worst], val_p, y_val, test_p, y_test)
    with pytest.raises(NotYet, match="test macro-F1"):
        check.elliptical_threshold(best, val[best] + 0.1, val_p, y_val, test_p, y_test)
    with pytest.raises(NotYet, match="between 0 and 1"):
        check.elliptical_threshold("high", test_f1, val_p, y_val, test_p, y_test)


def test_elliptical_rule_falls_back_to_the_likelier_other_class():
    p = np.array([[0.5, 0.3, 0.2], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3]])
    assert check.elliptical_rule(p, 0.45).tolist() == [0, 2, 1]
    assert check.elliptical_rule(p, 0.25).tolist() == [0, 0, 1]


def test_noise_ceiling_recomputes_each_threshold():
    rng = np.random.default_rng(4)
    crowd = rng.uniform(0, 1, 200)
    votes = np.clip(crowd + rng.normal(0, 0.08, 200), 0, 1)
    vote_frame, crowd_frame = _fractions(votes), _fractions(crowd)

    def agreement(t):
        a = labels.three_class(vote_frame, threshold=t).astype(str).to_numpy()
        b = labels.three_class(crowd_frame, threshold=t).astype(str).to_numpy()
        return float(np.mean(a == b))

    right = {t: agreement(t) for t in (0.6, 0.7, 0.8, 0.9)}
    assert check.noise_ceiling(right, vote_frame, crowd_frame)
    with pytest.raises(NotYet, match="differ"):
        check.noise_ceiling({t: 1 - v for t, v in right.items()}, vote_frame, crowd_frame)
    with pytest.raises(NotYet, match="0.8"):
        check.noise_ceiling({0.6: 1, 0.65: 1, 0.7: 1, 0.9: 1}, vote_frame, crowd_frame)
    fixed = {t: right[0.8] for t in right}  # the 0.8 labels scored at every threshold
    with pytest.raises(NotYet, match="not right yet"):
        check.noise_ceiling(fixed, vote_frame, crowd_frame)


def _fractions(smooth: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"Class1.1": smooth, "Class1.2": 0.95 - smooth})


def test_regressor_threshold_wants_the_validation_choice():
    rng = np.random.default_rng(3)
    truth_val = rng.uniform(0, 1, 300)
    truth_test = rng.uniform(0, 1, 200)
    y_val = labels.class_indices(labels.three_class(_fractions(truth_val)).astype(str))
    y_test = labels.class_indices(labels.three_class(_fractions(truth_test)).astype(str))
    val_frame = _fractions(0.5 + 0.6 * (truth_val - 0.5))  # shrunk towards the middle
    test_frame = _fractions(0.5 + 0.6 * (truth_test - 0.5))

    def f1(frame, y, t):
        guess = labels.class_indices(labels.three_class(frame, threshold=t).astype(str))
        return _f1(y, guess)

    val = {t: f1(val_frame, y_val, t) for t in check.REGRESSOR_THRESHOLDS}
    best, worst = max(val, key=val.get), min(val, key=val.get)
    assert best < 0.8
    test_f1 = f1(test_frame, y_test, best)
    assert check.regressor_threshold(best, test_f1, val_frame, y_val, test_frame, y_test)
    with pytest.raises(NotYet, match="validation"):
        check.regressor_threshold(worst, test_f1, val_frame, y_val, test_frame, y_test)
    with pytest.raises(NotYet, match="test macro-F1"):
        check.regressor_threshold(best, test_f1 + 0.05, val_frame, y_val, test_frame, y_test)
