"""The masked Keras loss and streaming RMSE (galaxylab.models.losses) against hand-computed
values: unknown (NaN) targets count for nothing."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from galaxylab.models import losses

nan = np.nan

# Known entries: errors 0.2, -0.2 and 0.3 → squared 0.04 + 0.04 + 0.09 = 0.17 over 3 entries.
TRUE_A = np.array([[0.5, nan, 1.0], [nan, nan, 0.0]], np.float32)
PRED_A = np.array([[0.7, 0.3, 0.8], [0.1, 0.2, 0.3]], np.float32)
# One known entry: error 0.4 → 0.16.
TRUE_B = np.array([[nan, 0.5, nan]], np.float32)
PRED_B = np.array([[0.0, 0.9, 0.0]], np.float32)


def test_masked_mse_pools_the_known_entries_of_the_batch() -> None:
    # 0.17 / 3, not the mean of per-galaxy means ((0.08/2 + 0.09/1) / 2 = 0.065)
    assert float(losses.masked_mse(TRUE_A, PRED_A)) == pytest.approx(0.17 / 3, rel=1e-5)
    assert float(losses.masked_mse(TRUE_B, PRED_B)) == pytest.approx(0.16, rel=1e-5)


def test_masked_mse_gradient_is_finite_and_ignores_unknown_targets() -> None:
    pred = tf.Variable(PRED_A)
    with tf.GradientTape() as tape:
        loss = losses.masked_mse(TRUE_A, pred)
    grad = tape.gradient(loss, pred).numpy()
    expected = np.array([[0.4, 0.0, -0.4], [0.0, 0.0, 0.6]]) / 3  # 2 (pred - true) / 3 known
    np.testing.assert_allclose(grad, expected, atol=1e-6)


def test_masked_mse_of_a_batch_with_no_known_target_is_zero() -> None:
    pred = tf.Variable(PRED_A)
    with tf.GradientTape() as tape:
        loss = losses.masked_mse(np.full_like(TRUE_A, nan), pred)
    assert float(loss) == 0.0
    assert not tape.gradient(loss, pred).numpy().any()


def test_masked_mse_survives_serialisation() -> None:
    config = keras.losses.serialize(losses.masked_mse)
    loss = keras.losses.deserialize(config)
    assert isinstance(loss, losses.MaskedMSE)
    assert float(loss(TRUE_A, PRED_A)) == pytest.approx(0.17 / 3, rel=1e-5)


def test_masked_rmse_metric_streams_the_pooled_error() -> None:
    metric = losses.MaskedRMSE()
    metric.update_state(TRUE_A, PRED_A)
    assert float(metric.result()) == pytest.approx(np.sqrt(0.17 / 3), rel=1e-5)
    metric.update_state(TRUE_B, PRED_B)
    assert float(metric.result()) == pytest.approx(np.sqrt(0.33 / 4), rel=1e-5)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    clone = losses.MaskedRMSE.from_config(metric.get_config())
    assert clone.name == metric.name
