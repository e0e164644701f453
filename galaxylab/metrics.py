"""How good a model is: the masked loss, Kaggle RMSE, baselines, classification scores, TTA.

A label table may carry only some of the 37 columns and NaN where a value is unknown; every
regression score here counts known entries only ("scored" entries), pooled the way the
Kaggle challenge pooled its RMSE over all columns of all galaxies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import ops
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from galaxylab import tree
from galaxylab.errors import GalaxyLabError
from galaxylab.labels import THREE_CLASSES

# --- Keras loss and metric (NaN in y_true = unknown) -------------------------------------------


def _masked_squared_errors(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    """Squared errors with unknown entries zeroed, and the 0/1 mask of known entries.

    NaN targets are replaced before subtracting, so the gradient stays finite.
    """
    y_pred = ops.cast(y_pred, "float32")
    y_true = ops.cast(y_true, "float32")
    known = ops.logical_not(ops.isnan(y_true))
    diff = ops.where(known, y_pred - ops.where(known, y_true, 0.0), 0.0)
    return ops.square(diff), ops.cast(known, "float32")


@keras.saving.register_keras_serializable(package="galaxylab")
class MaskedMSE(keras.losses.Loss):
    """Mean squared error over the known (non-NaN) targets of the batch, pooled over columns.

    ``call`` returns per-galaxy values scaled so Keras' default "sum_over_batch_size"
    reduction yields sum of squared errors / number of known entries (0 for a batch with none);
    that keeps Keras' scaling for tf.distribute and its sample weights.
    """

    def __init__(self, name: str = "masked_mse", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Per-galaxy squared error × batch size / known entries in the batch."""
        squared, known = _masked_squared_errors(y_true, y_pred)
        batch = ops.cast(ops.shape(squared)[0], "float32")
        return ops.sum(squared, axis=-1) * batch / ops.maximum(ops.sum(known), 1.0)


#: A ready instance: ``model.compile(loss=masked_mse)``; ``masked_mse(y_true, y_pred)`` → scalar.
masked_mse = MaskedMSE()


@keras.saving.register_keras_serializable(package="galaxylab")
class MaskedRMSE(keras.metrics.Metric):
    """Streaming RMSE over known targets: sqrt(pooled squared error / pooled known count).

    Over a whole epoch this equals :func:`kaggle_rmse` of the epoch's targets and predictions.
    """

    def __init__(self, name: str = "rmse", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add the batch's squared errors and known-entry count (weighted per galaxy if given)."""
        squared, known = _masked_squared_errors(y_true, y_pred)
        sse, n = ops.sum(squared, axis=-1), ops.sum(known, axis=-1)
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
            sse, n = sse * weight, n * weight
        self.total.assign_add(ops.sum(sse))
        self.count.assign_add(ops.sum(n))

    def result(self) -> Any:
        """The RMSE so far (0 before any known entry)."""
        return ops.sqrt(ops.divide_no_nan(self.total, self.count))

    def reset_state(self) -> None:
        """Start a new epoch."""
        self.total.assign(0.0)
        self.count.assign(0.0)


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
    scored = {n for n, any_known in zip(names, (~np.isnan(truth)).any(axis=0), strict=True)
              if any_known}
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


# --- test-time augmentation -------------------------------------------------------------------


#: The 8 elements of the dihedral group as (quarter turns, mirror first).
DIHEDRAL: tuple[tuple[int, bool], ...] = tuple(
    (k, flip) for flip in (False, True) for k in range(4)
)


def dihedral_transform(images: Any, k: int, flip: bool) -> tf.Tensor:
    """Mirror left-right (if ``flip``), then rotate by ``k`` quarter turns (batch or one image)."""
    images = tf.convert_to_tensor(images)
    return tf.image.rot90(tf.image.flip_left_right(images) if flip else images, k)


def dihedral_views(images: Any) -> list[tf.Tensor]:
    """The 8 views of square images under the dihedral group: 4 rotations × mirror."""
    return [dihedral_transform(images, k, flip) for k, flip in DIHEDRAL]


def dihedral_tta(model: keras.Model, images: Any, batch_size: int = 64) -> np.ndarray:
    """The model's prediction averaged over the 8 dihedral views of each (square) image.

    Galaxies have no preferred orientation, so averaging rotated and mirrored views removes
    some of the model's noise (as in the winning challenge solution). ``images`` is an array
    or tensor (N, H, W, C), or a batched ``tf.data.Dataset`` of images or (images, targets),
    which is streamed once per view rather than held in memory.
    """
    predictions = []
    for k, flip in DIHEDRAL:
        if isinstance(images, tf.data.Dataset):
            view = images.map(lambda x, *_, k=k, flip=flip: dihedral_transform(x, k, flip))
            predictions.append(model.predict(view, verbose=0))
        else:
            view = dihedral_transform(images, k, flip)
            predictions.append(model.predict(view, batch_size=batch_size, verbose=0))
    return np.mean(np.stack(predictions), axis=0)
