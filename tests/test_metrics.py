"""Kaggle RMSE, per-question RMSE, baselines and classification scores against hand-computed
values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxylab import metrics, tree
from galaxylab.errors import GalaxyLabError
from galaxylab.labels import THREE_CLASSES

nan = np.nan
Q1 = ["Class1.1", "Class1.2", "Class1.3"]

# Known entries: errors 0.2, -0.2 and 0.3 → squared 0.04 + 0.04 + 0.09 = 0.17 over 3 entries.
TRUE_A = np.array([[0.5, nan, 1.0], [nan, nan, 0.0]], np.float32)
PRED_A = np.array([[0.7, 0.3, 0.8], [0.1, 0.2, 0.3]], np.float32)
# One known entry: error 0.4 → 0.16.
TRUE_B = np.array([[nan, 0.5, nan]], np.float32)
PRED_B = np.array([[0.0, 0.9, 0.0]], np.float32)


def _wide(rows: np.ndarray, columns: list[str]) -> np.ndarray:
    """Embed a narrow table in a 37-column one, NaN elsewhere."""
    out = np.full((len(rows), len(tree.COLUMNS)), nan)
    out[:, [tree.COLUMN_INDEX[c] for c in columns]] = rows
    return out


def test_kaggle_rmse_by_hand() -> None:
    y_true, y_pred = np.vstack([TRUE_A, TRUE_B]), np.vstack([PRED_A, PRED_B])
    expected = np.sqrt(0.33 / 4)
    assert metrics.kaggle_rmse(y_true, y_pred, Q1) == pytest.approx(expected, rel=1e-5)
    wide_true, wide_pred = _wide(y_true, Q1), np.nan_to_num(_wide(y_pred, Q1))
    assert metrics.kaggle_rmse(wide_true, wide_pred) == pytest.approx(expected, rel=1e-5)
    # only Class1.1 scored: the single known entry 0.5 vs 0.7
    assert metrics.kaggle_rmse(wide_true, wide_pred, ["Class1.1"]) == pytest.approx(0.2, rel=1e-5)
    frame_true = pd.DataFrame(y_true, columns=Q1)
    frame_pred = pd.DataFrame(y_pred[:, ::-1], columns=Q1[::-1])  # matched by name, not position
    assert metrics.kaggle_rmse(frame_true, frame_pred) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        (TRUE_A, PRED_A[:1], "shape"),
        (TRUE_A, np.full_like(PRED_A, nan), "NaN"),
        (np.full_like(TRUE_A, nan), PRED_A, "unknown"),
        (TRUE_A[:, :2], PRED_A[:, :2], "expected 37"),
    ],
)
def test_kaggle_rmse_refuses_what_it_cannot_score(y_true, y_pred, message) -> None:
    with pytest.raises(GalaxyLabError, match=message):
        metrics.kaggle_rmse(y_true, y_pred, Q1)


def test_kaggle_rmse_rejects_unknown_column_names() -> None:
    with pytest.raises(GalaxyLabError, match="Class12.1"):
        metrics.kaggle_rmse(TRUE_A, PRED_A, ["Class1.1", "Class1.2", "Class12.1"])


def test_rmse_per_question_by_hand() -> None:
    columns = ["Class1.1", "Class1.2", "Class7.1", "Class7.2", "Class9.1"]
    y_true = np.array([[1.0, 0.0, 0.5, nan, nan], [nan, nan, nan, nan, nan]])
    y_pred = np.array([[0.9, 0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.5, 0.5, 0.5]])
    result = metrics.rmse_per_question(y_true, y_pred, columns)
    assert list(result) == ["Q1", "Q7"]  # Q9 has no known entry
    assert result["Q1"] == pytest.approx(0.1)  # (0.01 + 0.01) / 2
    assert result["Q7"] == pytest.approx(0.3)


def test_scored_columns_are_the_known_ones_in_kaggle_order() -> None:
    table = pd.DataFrame(
        {"Class7.1": [0.2, nan], "Class1.1": [nan, 0.4], "Class2.1": [nan, nan], "GalaxyID": [1, 2]}
    )
    assert metrics.scored_columns(table) == ["Class1.1", "Class7.1"]
    assert metrics.scored_columns(TRUE_A, Q1) == ["Class1.1", "Class1.3"]
    assert metrics.scored_columns(np.vstack([TRUE_A, TRUE_B]), Q1) == Q1
    assert metrics.scored_columns(TRUE_B, Q1) == ["Class1.2"]


def test_mean_baseline_is_nan_aware() -> None:
    y_train = np.array([[0.2, nan], [0.4, nan], [nan, nan]])
    y_eval = np.zeros((2, 2))
    baseline = metrics.mean_baseline(y_train, y_eval, ["Class1.1", "Class1.2"])
    np.testing.assert_allclose(baseline, [[0.3, 0.0], [0.3, 0.0]])


def test_majority_baseline_breaks_ties_by_the_smallest_label() -> None:
    labels = ["spiral", "elliptical", "spiral", "unsure", "elliptical"]
    assert metrics.majority_baseline(labels, 3).tolist() == ["elliptical"] * 3
    assert metrics.majority_baseline([2, 1, 2], 2).tolist() == [2, 2]
    with pytest.raises(GalaxyLabError):
        metrics.majority_baseline([], 2)


def test_classification_summary_by_hand() -> None:
    e, s, u = THREE_CLASSES
    y_true = [e, e, e, s, s, u]
    y_pred = [e, s, e, s, s, e]
    summary = metrics.classification_summary(y_true, y_pred)
    assert summary["labels"] == [e, s, u]
    assert summary["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert summary["accuracy"] == pytest.approx(4 / 6)
    assert summary["per_class"][s] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2}
    )
    assert summary["per_class"][u]["f1"] == 0.0
    assert summary["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0.0) / 3)
    by_index = metrics.classification_summary([0, 0, 0, 1, 1, 2], [0, 1, 0, 1, 1, 0])
    assert by_index == summary


def test_classification_summary_macro_f1_skips_absent_classes_and_rejects_strangers() -> None:
    summary = metrics.classification_summary(["spiral", "elliptical"], ["spiral", "elliptical"])
    assert summary["macro_f1"] == 1.0
    assert summary["confusion_matrix"][2] == [0, 0, 0]
    with pytest.raises(GalaxyLabError, match="lenticular"):
        metrics.classification_summary(["spiral"], ["lenticular"])


def test_bootstrap_interval_brackets_the_score_and_narrows_with_more_galaxies() -> None:
    rng = np.random.default_rng(3)

    def accuracy(t, p):
        return float(np.mean(t == p))

    intervals = []
    for n in (50, 2000):
        truth = rng.integers(0, 3, n)
        pred = np.where(rng.random(n) < 0.8, truth, (truth + 1) % 3)
        low, high = metrics.bootstrap_interval(accuracy, truth, pred, seed=1)
        assert low <= accuracy(truth, pred) <= high
        intervals.append(high - low)
    assert intervals[1] < intervals[0] / 3  # about sqrt(40) narrower
    with pytest.raises(GalaxyLabError, match="matching"):
        metrics.bootstrap_interval(accuracy, [1, 2], [1])
