"""Self-checks for notebook 02 (the three-class CNN on real Galaxy Zoo 1 galaxies).

from galaxylab.checks import three_class as check
check.class_weights(weights, y_train)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from galaxylab.checks import NotYet, passed, require
from galaxylab.labels import THREE_CLASSES

N_CLASSES = 3


def _as_vector(weights: Any) -> np.ndarray:
    """Class weights given as a dict {class index: weight} or a sequence, as a float vector."""
    if isinstance(weights, Mapping):
        require(
            set(weights) == set(range(N_CLASSES)),
            "the weights should have one entry for each class index 0, 1 and 2",
        )
        return np.array([float(weights[c]) for c in range(N_CLASSES)])
    try:
        vector = np.asarray(weights, dtype=float).ravel()
    except (TypeError, ValueError) as error:
        raise NotYet("the weights should be three numbers, one per class") from error
    require(vector.size == N_CLASSES, "the weights should be three numbers, one per class")
    return vector


def class_weights(weights: Any, y_train: Sequence[int] | np.ndarray) -> bool:
    """Your turn 2: w_c = N / (K n_c) computed from the training labels."""
    mine = _as_vector(weights)
    labels = np.asarray(y_train, dtype=int)
    counts = np.bincount(labels, minlength=N_CLASSES).astype(float)
    expected = len(labels) / (N_CLASSES * counts)
    require(bool(np.all(np.isfinite(mine))), "every weight should be a finite number")
    if np.allclose(mine, counts) or np.allclose(mine, counts / len(labels)):
        raise NotYet("these are the class counts (or shares); a weight is N / (K n_c)")
    if np.allclose(mine * expected.sum(), expected * mine.sum()) and not np.allclose(
        mine, expected
    ):
        raise NotYet("the ratios are right but the scale is not: check N and K in N / (K n_c)")
    require(
        bool(np.allclose(mine, expected, rtol=1e-6)),
        "the rarest class should get the largest weight: w_c = N / (K n_c)",
    )
    rarest, commonest = (
        THREE_CLASSES[int(np.argmax(expected))],
        THREE_CLASSES[int(np.argmin(expected))],
    )
    return passed(
        f"right: a mistake on {rarest} costs {expected.max() / expected.min():.1f} "
        f"times a mistake on {commonest}, the most common class"
    )


def confusion_matrix(
    matrix: Any, y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray
) -> bool:
    """Your turn 1: the 3x3 confusion matrix, rows = true class, columns = predicted class."""
    truth, guess = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    require(len(truth) == len(guess), "y_true and y_pred should describe the same galaxies")
    try:
        mine = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as error:
        raise NotYet("the matrix should be a 3x3 table of counts") from error
    require(mine.shape == (N_CLASSES, N_CLASSES), "the matrix should be a 3x3 table of counts")
    expected = np.zeros((N_CLASSES, N_CLASSES))
    np.add.at(expected, (truth, guess), 1)
    require(
        mine.sum() == len(truth),
        f"the counts should add up to the {len(truth)} galaxies, not {mine.sum():.0f}",
    )
    if not np.array_equal(mine, expected) and np.array_equal(mine, expected.T):
        raise NotYet("rows and columns are swapped: rows should be the TRUE class")
    require(
        bool(np.array_equal(mine, expected)),
        "some counts are off: cell [i, j] counts galaxies of true class i predicted as j",
    )
    return passed(
        f"right: {int(np.trace(expected))} of {len(truth)} galaxies sit on the diagonal "
        "(correct), every other cell is one kind of mistake"
    )


def changed_network(model: Any, history: Any, reference_layers: int | None = None) -> bool:
    """Your turn 3: a network without BatchNormalization, trained, with its validation loss."""
    import keras

    require(isinstance(model, keras.Model), "`model` should be the Keras model you built")
    require(
        tuple(model.output_shape) == (None, N_CLASSES),
        "the network should end in 3 softmax outputs, one per class",
    )
    kinds = [type(layer).__name__ for layer in model.layers]
    require(
        not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers),
        "the network still has a BatchNormalization layer",
    )
    require("Conv2D" in kinds, "the network should still have its convolution layers")
    logs = getattr(history, "history", history)
    require(
        isinstance(logs, Mapping) or hasattr(logs, "columns"),
        "`history` should be what fit() returned (or its .history as a DataFrame)",
    )
    require("val_loss" in logs, "train with validation_data so the history holds val_loss")
    val_loss = np.asarray(logs["val_loss"], dtype=float)
    require(val_loss.size >= 1 and bool(np.all(np.isfinite(val_loss))), "val_loss should be finite")
    if reference_layers is not None:
        require(
            len(model.layers) < reference_layers,
            "only the BatchNormalization layers should go; the rest of the network stays",
        )
    return passed(
        f"right: trained without BatchNorm for {val_loss.size} epochs, best validation loss "
        f"{val_loss.min():.3f}; compare it with the network that has BatchNorm"
    )


def far_from_threshold(
    far: Any, accuracy_far: float, accuracy_near: float, top_fraction: Any, correct: Any
) -> bool:
    """Your turn 4: galaxies whose larger debiased fraction is at least 0.1 from 0.8."""
    top = np.asarray(top_fraction, dtype=float)
    hits = np.asarray(correct, dtype=bool)
    mask = np.asarray(far)
    require(
        mask.dtype == bool and mask.shape == top.shape,
        "`far` should be a True/False mask with one entry per test galaxy",
    )
    distance = np.abs(top - 0.8)
    expected = distance >= 0.1
    clear = ~np.isclose(distance, 0.1)  # a fraction of exactly 0.7 or 0.9 may go either way
    if np.array_equal(mask[clear], ~expected[clear]):
        raise NotYet("`far` is the wrong way round: True should mean FAR from the threshold")
    require(
        bool(np.array_equal(mask[clear], expected[clear])),
        "a galaxy is far when its larger debiased fraction differs from 0.8 by at least 0.1",
    )
    require(bool(mask.any() and (~mask).any()), "both groups should hold some galaxies")
    want_far, want_near = hits[mask].mean(), hits[~mask].mean()
    if np.isclose(accuracy_far, want_near) and np.isclose(accuracy_near, want_far):
        raise NotYet("the two accuracies are swapped")
    require(
        bool(np.isclose(accuracy_far, want_far) and np.isclose(accuracy_near, want_near)),
        "each accuracy is the fraction of correct predictions within its own group",
    )
    word = "higher" if want_far > want_near else "not higher"
    return passed(
        f"right: accuracy {want_far:.2f} on {mask.sum()} galaxies far from the threshold, "
        f"{word} than {want_near:.2f} on the {(~mask).sum()} near it"
    )
