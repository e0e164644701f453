"""How good predictions are: Kaggle RMSE, per-question RMSE, dummy baselines, classification
scores and the share of error that is label noise, on numpy and scikit-learn only.

A label table may carry only some of the 37 columns and NaN where a value is unknown; every
regression score here counts known entries only ("scored" entries), pooled the way the
Kaggle challenge pooled its RMSE over all columns of all galaxies. The Keras side (the masked
loss and streaming RMSE used while training) is :mod:`galaxylab.models.losses`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from galaxylab import tree
from galaxylab.errors import GalaxyLabError
from galaxylab.labels import THREE_CLASSES

# --- numpy scores for the 37 columns ----------------------------------------------------------


def _table(y: Any, columns: Sequence[str] | None, what: str) -> tuple[np.ndarray, list[str]]:
    """``y`` as an (N, K) float array and the names of its K columns.

    A DataFrame is taken by name (``columns`` selects, default: its tree columns). An array
    has either the 37 columns in Kaggle order (``columns`` selects, default all) or exactly
    ``len(columns)`` columns named by ``columns``.
    """
    if columns is not None:
        columns = list(columns)
        unknown = [c for c in columns if c not in tree.COLUMN_INDEX]
        if unknown:
            raise GalaxyLabError(f"{what}: unknown label columns {unknown}")
    if isinstance(y, pd.DataFrame):
        names = columns if columns is not None else [c for c in y.columns if c in tree.COLUMN_INDEX]
        missing = [c for c in names if c not in y.columns]
        if missing:
            raise GalaxyLabError(f"{what}: columns {missing} are missing")
        return y[names].to_numpy(dtype=np.float64), names
    array = np.asarray(y, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise GalaxyLabError(f"{what}: expected a 2-D table, got shape {array.shape}")
    if columns is None:
        columns = list(tree.COLUMNS)
    if array.shape[1] == len(columns):
        return array, columns
    if array.shape[1] == len(tree.COLUMNS):
        return array[:, [tree.COLUMN_INDEX[c] for c in columns]], columns
    raise GalaxyLabError(
        f"{what}: {array.shape[1]} columns, expected 37 or the {len(columns)} named columns"
    )


def _pair(y_true: Any, y_pred: Any, columns: Sequence[str] | None) -> tuple[np.ndarray, ...]:
    """Targets, predictions and the known-entry mask, checked to agree in shape."""
    truth, names = _table(y_true, columns, "y_true")
    pred, _ = _table(y_pred, names, "y_pred")
    if truth.shape != pred.shape:
        raise GalaxyLabError(f"y_true has shape {truth.shape} but y_pred has {pred.shape}")
    known = ~np.isnan(truth)
    if np.isnan(pred[known]).any():
        raise GalaxyLabError("y_pred has NaN where y_true is known")
    return truth, pred, known, np.asarray(names)


def scored_columns(y_true: Any, columns: Sequence[str] | None = None) -> list[str]:
    """The columns of ``y_true`` with at least one known (non-NaN) entry, in Kaggle order."""
    truth, names = _table(y_true, columns, "y_true")
    scored = {
        n for n, any_known in zip(names, (~np.isnan(truth)).any(axis=0), strict=True) if any_known
    }
    return [c for c in tree.COLUMNS if c in scored]


def kaggle_rmse(y_true: Any, y_pred: Any, columns: Sequence[str] | None = None) -> float:
    """The challenge metric: RMSE pooled over all known entries of all scored columns."""
    truth, pred, known, _ = _pair(y_true, y_pred, columns)
    if not known.any():
        raise GalaxyLabError("nothing to score: every target is unknown (NaN)")
    return float(np.sqrt(np.mean((pred[known] - truth[known]) ** 2)))


def rmse_per_question(
    y_true: Any, y_pred: Any, columns: Sequence[str] | None = None
) -> dict[str, float]:
    """Pooled RMSE of each question with known entries, keyed "Q1" … "Q11" in question order."""
    truth, pred, known, names = _pair(y_true, y_pred, columns)
    questions = np.array([tree.QUESTION_OF_COLUMN[c] for c in names])
    out = {}
    for number in sorted(set(questions.tolist())):
        mask = known & (questions == number)[None, :]
        if mask.any():
            out[f"Q{number}"] = float(np.sqrt(np.mean((pred[mask] - truth[mask]) ** 2)))
    return out


def mean_baseline(y_train: Any, y_eval: Any, columns: Sequence[str] | None = None) -> np.ndarray:
    """The dummy regressor: each column's training mean (NaN-aware) for every row of ``y_eval``.

    A column with no known training value is predicted as 0. Returns an array shaped like
    ``y_eval``'s selected columns.
    """
    train, names = _table(y_train, columns, "y_train")
    evaluation, _ = _table(y_eval, names, "y_eval")
    known = ~np.isnan(train)
    counts = known.sum(axis=0)
    means = np.where(counts > 0, np.where(known, train, 0.0).sum(axis=0) / np.maximum(counts, 1), 0)
    return np.tile(means, (len(evaluation), 1))


def majority_baseline(labels_train: Sequence[Any] | np.ndarray, n_eval: int) -> np.ndarray:
    """The dummy classifier: the most common training label, ``n_eval`` times (ties: smallest)."""
    labels = np.asarray(labels_train)
    if labels.size == 0:
        raise GalaxyLabError("majority baseline needs at least one training label")
    values, counts = np.unique(labels, return_counts=True)
    return np.full(n_eval, values[np.argmax(counts)], dtype=values.dtype)


# --- classification ---------------------------------------------------------------------------


def _as_names(y: Any, labels: Sequence[str]) -> np.ndarray:
    """Class names, given names or integer indices into ``labels``."""
    array = np.asarray(y)
    if array.dtype.kind in "iu":
        if array.size and (array.min() < 0 or array.max() >= len(labels)):
            raise GalaxyLabError(f"class indices must lie in 0..{len(labels) - 1}")
        return np.asarray(labels, dtype=object)[array]
    return array.astype(object)


def classification_summary(
    y_true: Any, y_pred: Any, labels: Sequence[str] = THREE_CLASSES
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    ``y_true`` and ``y_pred`` hold class names or indices into ``labels``. The confusion matrix
    is a list of lists, rows = true class, columns = predicted, both in ``labels`` order.
    Macro-F1 averages the classes that occur in ``y_true`` or ``y_pred`` (scikit-learn's
    default), so a class absent from a small test set does not count as a zero.
    """
    labels = list(labels)
    truth, pred = _as_names(y_true, labels), _as_names(y_pred, labels)
    if len(truth) != len(pred):
        raise GalaxyLabError(f"{len(truth)} true labels but {len(pred)} predictions")
    if len(truth) == 0:
        raise GalaxyLabError("nothing to score: no labels")
    strangers = sorted((set(truth) | set(pred)) - set(labels), key=str)
    if strangers:
        raise GalaxyLabError(f"labels {strangers} are not among {labels}")
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, pred, labels=labels, zero_division=0
    )
    present = [i for i, name in enumerate(labels) if name in set(truth) | set(pred)]
    return {
        "labels": labels,
        "n": int(len(truth)),
        "accuracy": float(accuracy_score(truth, pred)),
        "macro_f1": float(np.mean(f1[present])),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(labels)
        },
        "confusion_matrix": confusion_matrix(truth, pred, labels=labels).tolist(),
    }


# --- label noise ------------------------------------------------------------------------------


def label_noise(
    votes: pd.DataFrame, reference: pd.DataFrame, predictions: np.ndarray | pd.DataFrame
) -> pd.DataFrame:
    """RMSE per question of three comparisons, and pooled over all columns ("all").

    ``votes`` are the volunteers' vote fractions, ``reference`` noise-free labels of the same
    galaxies (e.g. :func:`galaxylab.course.truth_labels`), ``predictions`` the model's. Columns:
    "model vs volunteers" (what the challenge scores), "model vs noise-free" and "volunteers vs
    noise-free" (the label noise itself). When the model's errors and the volunteers' noise
    are independent, (model vs volunteers)² ≈ (model vs noise-free)² + (volunteers vs
    noise-free)².
    """
    if isinstance(predictions, np.ndarray):
        predictions = tree.as_frame(predictions)
    lengths = {len(votes), len(reference), len(predictions)}
    if len(lengths) != 1:
        raise GalaxyLabError(f"votes, reference and predictions differ in length: {lengths}")
    columns = scored_columns(votes[[c for c in tree.COLUMNS if c in votes]])
    pairs = {
        "model vs volunteers": (votes, predictions),
        "model vs noise-free": (reference, predictions),
        "volunteers vs noise-free": (reference, votes),
    }
    table = {}
    for name, (truth, guess) in pairs.items():
        per: dict[str, float] = rmse_per_question(truth[columns], guess[columns], columns)
        per["all"] = kaggle_rmse(truth[columns], guess[columns], columns)
        table[name] = per
    return pd.DataFrame(table)


# --- uncertainty of a test score --------------------------------------------------------------


def bootstrap_interval(
    score: Callable[[np.ndarray, np.ndarray], float],
    y_true: Any,
    y_pred: Any,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """The ``level`` percentile interval of ``score(y_true, y_pred)`` over bootstrap resamples
    of the galaxies: how much a test score on a few hundred galaxies could move by chance."""
    truth, pred = np.asarray(y_true), np.asarray(y_pred)
    if len(truth) != len(pred) or len(truth) == 0:
        raise GalaxyLabError(
            f"bootstrap needs matching, non-empty y_true and y_pred ({len(truth)} and {len(pred)})"
        )
    if not 0 < level < 1:
        raise GalaxyLabError(f"level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(truth), size=(n_resamples, len(truth)))
    values = np.array([score(truth[i], pred[i]) for i in draws], dtype=float)
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)
