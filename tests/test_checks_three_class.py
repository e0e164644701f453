"""Notebook 02's self-checks accept right answers and reject typical wrong ones (no training)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxylab.checks import NotYet
from galaxylab.checks import three_class as check

Y_TRAIN = np.array([0] * 10 + [1] * 60 + [2] * 20)


def right_weights() -> np.ndarray:
    return len(Y_TRAIN) / (3 * np.bincount(Y_TRAIN, minlength=3))


def test_class_weights_accepts_array_and_dict(capsys):
    assert check.class_weights(right_weights(), Y_TRAIN)
    assert check.class_weights(dict(enumerate(right_weights())), Y_TRAIN)
    assert capsys.readouterr().out.startswith("✓")


@pytest.mark.parametrize(
    "wrong",
    [
        np.bincount(Y_TRAIN, minlength=3),  # the counts
        1 / np.bincount(Y_TRAIN, minlength=3),  # right ratios, wrong scale
        np.ones(3),
        [1.0, 2.0],  # too few
        {0: 1.0, 1: 1.0},
    ],
)
def test_class_weights_rejects(wrong):
    with pytest.raises(NotYet):
        check.class_weights(wrong, Y_TRAIN)


Y_TRUE = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
Y_PRED = np.array([0, 2, 1, 1, 0, 2, 2, 1, 2])


def right_matrix() -> np.ndarray:
    matrix = np.zeros((3, 3), dtype=int)
    for t, p in zip(Y_TRUE, Y_PRED, strict=True):
        matrix[t, p] += 1
    return matrix


def test_confusion_matrix_accepts(capsys):
    assert check.confusion_matrix(right_matrix(), Y_TRUE, Y_PRED)
    assert check.confusion_matrix(pd.DataFrame(right_matrix()), Y_TRUE, Y_PRED)
    assert "6 of 9" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong",
    [right_matrix().T, np.eye(3), right_matrix()[:2], right_matrix() + np.eye(3, dtype=int)],
)
def test_confusion_matrix_rejects(wrong):
    with pytest.raises(NotYet):
        check.confusion_matrix(wrong, Y_TRUE, Y_PRED)


def test_confusion_matrix_names_swapped_axes():
    with pytest.raises(NotYet, match="swapped"):
        check.confusion_matrix(right_matrix().T, Y_TRUE, Y_PRED)


def tiny_network(batchnorm: bool, layer: str = "keras"):
    """A one-block network, with Keras' BatchNorm or the package's fused one (``layer``)."""
    import keras

    from galaxylab.models.layers import FusedBatchNormalization

    inputs = keras.Input(shape=(8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=not batchnorm)(inputs)
    if batchnorm:
        kind = keras.layers.BatchNormalization if layer == "keras" else FusedBatchNormalization
        x = kind()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


HISTORY = {"loss": [1.0, 0.8], "val_loss": [1.1, 0.9]}


def test_changed_network_accepts(capsys):
    reference = len(tiny_network(True).layers)
    assert check.changed_network(tiny_network(False), HISTORY, reference_layers=reference)
    assert check.changed_network(tiny_network(False), pd.DataFrame(HISTORY))
    assert "0.900" in capsys.readouterr().out


def test_changed_network_rejects():
    with pytest.raises(NotYet, match="BatchNormalization"):
        check.changed_network(tiny_network(True), HISTORY)
    with pytest.raises(NotYet, match="BatchNormalization"):  # as models.conv_block builds it
        check.changed_network(tiny_network(True, layer="fused"), HISTORY)
    with pytest.raises(NotYet, match="val_loss"):
        check.changed_network(tiny_network(False), {"loss": [1.0]})
    with pytest.raises(NotYet):
        check.changed_network("a model", HISTORY)
    with pytest.raises(NotYet):  # more than the BatchNorm layers removed
        check.changed_network(tiny_network(False), HISTORY, reference_layers=3)


TOP = np.array([0.95, 0.85, 0.75, 0.5, 1.0, 0.79, 0.62])
CORRECT = np.array([True, True, False, False, True, True, True])


def test_far_from_threshold_accepts(capsys):
    far = np.abs(TOP - 0.8) >= 0.1
    assert check.far_from_threshold(far, CORRECT[far].mean(), CORRECT[~far].mean(), TOP, CORRECT)
    assert capsys.readouterr().out.startswith("✓")


def test_far_from_threshold_rejects():
    far = np.abs(TOP - 0.8) >= 0.1
    good, bad = CORRECT[far].mean(), CORRECT[~far].mean()
    with pytest.raises(NotYet, match="wrong way round"):
        check.far_from_threshold(~far, bad, good, TOP, CORRECT)
    with pytest.raises(NotYet, match="swapped"):
        check.far_from_threshold(far, bad, good, TOP, CORRECT)
    with pytest.raises(NotYet):  # a strict inequality at another margin
        check.far_from_threshold(np.abs(TOP - 0.8) > 0.2, good, bad, TOP, CORRECT)
    with pytest.raises(NotYet):  # a mask of indices instead of True/False
        check.far_from_threshold(np.flatnonzero(far), good, bad, TOP, CORRECT)
