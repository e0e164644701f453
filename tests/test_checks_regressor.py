"""Notebook 03's self-checks accept a right answer and reject the typical wrong ones."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from galaxylab import inference, metrics, models, tree
from galaxylab.checks import NotYet
from galaxylab.checks import regressor as check


def _fractions(n: int, seed: int) -> np.ndarray:
    """Vote fractions that obey the tree, for ``n`` galaxies."""
    return tree.normalise(np.random.default_rng(seed).uniform(0.01, 1, size=(n, 37)))


@pytest.fixture
def sigmoid_case() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.uniform(0.01, 0.99, size=(20, 37)), _fractions(20, 2)


def test_repaired_sigmoid_accepts_the_right_answer(sigmoid_case, capsys):
    sigmoid, y_test = sigmoid_case
    repaired = tree.normalise(sigmoid)
    assert check.repaired_sigmoid(repaired, metrics.kaggle_rmse(y_test, repaired), sigmoid, y_test)
    assert capsys.readouterr().out.startswith("✓")


def test_repaired_sigmoid_rejects_typical_mistakes(sigmoid_case):
    sigmoid, y_test = sigmoid_case
    repaired = tree.normalise(sigmoid)
    with pytest.raises(NotYet, match="still the sigmoid"):
        check.repaired_sigmoid(sigmoid, metrics.kaggle_rmse(y_test, sigmoid), sigmoid, y_test)
    with pytest.raises(NotYet, match="breaks the tree"):
        half = sigmoid.copy()
        half[:, :3] = repaired[:, :3]  # only question 1 normalised
        check.repaired_sigmoid(half, 0.1, sigmoid, y_test)
    with pytest.raises(NotYet, match="not the RMSE"):
        before = metrics.kaggle_rmse(y_test, sigmoid)  # the score before the repair
        check.repaired_sigmoid(repaired, before, sigmoid, y_test)
    with pytest.raises(NotYet, match="shaped"):
        check.repaired_sigmoid(repaired[:5], 0.1, sigmoid, y_test)


@pytest.fixture
def views() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        f"{'mirror + ' if flip else ''}{90 * k}°": rng.uniform(0, 1, size=(10, 37))
        for k, flip in inference.DIHEDRAL
    }


def test_rotations_only_accepts_the_four_rotations(views, capsys):
    y_test = _fractions(10, 4)
    four = np.mean([views[f"{90 * k}°"] for k in range(4)], axis=0)
    assert check.rotations_only(four, metrics.kaggle_rmse(y_test, four), views, y_test)
    assert capsys.readouterr().out.startswith("✓")


def test_rotations_only_rejects_all_eight_or_the_mirrored_views(views):
    y_test = _fractions(10, 4)
    eight = np.mean(list(views.values()), axis=0)
    with pytest.raises(NotYet, match="all 8"):
        check.rotations_only(eight, metrics.kaggle_rmse(y_test, eight), views, y_test)
    mirrored = np.mean([views[f"mirror + {90 * k}°"] for k in range(4)], axis=0)
    with pytest.raises(NotYet, match="mirrored"):
        check.rotations_only(mirrored, metrics.kaggle_rmse(y_test, mirrored), views, y_test)
    four = np.mean([views[f"{90 * k}°"] for k in range(4)], axis=0)
    with pytest.raises(NotYet, match="not the RMSE"):
        check.rotations_only(four, metrics.kaggle_rmse(y_test, eight), views, y_test)


def _zero_filled(y_true, y_pred):
    y_true = keras.ops.cast(y_true, "float32")
    filled = keras.ops.where(keras.ops.isnan(y_true), 0.0, y_true)
    return keras.ops.mean(keras.ops.square(keras.ops.cast(y_pred, "float32") - filled), axis=-1)


def _real_case() -> tuple[np.ndarray, np.ndarray]:
    y_test = _fractions(12, 5)
    y_test[:, 5:13] = np.nan
    return y_test, _fractions(12, 6)


def test_zero_filled_loss_accepts_the_right_loss(capsys):
    y_test, pred = _real_case()
    assert check.zero_filled_loss(_zero_filled, metrics.kaggle_rmse(y_test, pred), pred, y_test)
    assert capsys.readouterr().out.startswith("✓")


def test_zero_filled_loss_rejects_the_masked_loss_a_nan_loss_and_a_wrong_score():
    y_test, pred = _real_case()
    score = metrics.kaggle_rmse(y_test, pred)
    with pytest.raises(NotYet, match="skips the unknown"):
        check.zero_filled_loss(models.masked_mse, score, pred, y_test)
    with pytest.raises(NotYet, match="NaN"):
        check.zero_filled_loss(keras.losses.mean_squared_error, score, pred, y_test)
    with pytest.raises(NotYet, match="not the mean squared error"):
        check.zero_filled_loss(lambda t, p: keras.ops.sqrt(_zero_filled(t, p)), score, pred, y_test)
    filled = np.nan_to_num(y_test)
    with pytest.raises(NotYet, match="not the RMSE"):
        check.zero_filled_loss(_zero_filled, metrics.kaggle_rmse(filled, pred), pred, y_test)
