"""FusedBatchNormalization: Keras' BatchNormalization computed by TensorFlow's fused kernel."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from galaxylab import backend
from galaxylab.models import three_class_cnn, tree_regressor
from galaxylab.models.layers import FusedBatchNormalization

SHAPE = (6, 5, 4)


def _pair(momentum: float = 0.9) -> tuple[keras.layers.Layer, keras.layers.Layer]:
    """A fused and a Keras BatchNorm with the same non-trivial weights and moving statistics."""
    rng = np.random.default_rng(0)
    weights = [
        rng.normal(1.0, 0.3, 4),  # gamma
        rng.normal(0.0, 0.5, 4),  # beta
        rng.normal(0.2, 0.5, 4),  # moving mean
        rng.uniform(0.5, 2.0, 4),  # moving variance
    ]
    layers = (
        FusedBatchNormalization(momentum=momentum),
        keras.layers.BatchNormalization(momentum=momentum),
    )
    for layer in layers:
        layer.build((None, *SHAPE))
        layer.set_weights([w.astype(np.float32) for w in weights])
    return layers


def _batch(n: int = 8, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.5, 2.0, (n, *SHAPE)).astype(np.float32)


def test_inference_matches_keras_batchnorm() -> None:
    fused, plain = _pair()
    x = _batch()
    np.testing.assert_allclose(fused(x, training=False), plain(x, training=False), atol=1e-5)


def test_a_training_step_normalises_and_updates_moving_statistics_as_keras_does() -> None:
    fused, plain = _pair(momentum=0.7)
    x = _batch()
    np.testing.assert_allclose(fused(x, training=True), plain(x, training=True), atol=1e-4)
    before = _pair(momentum=0.7)[1].get_weights()
    for ours, theirs in zip(fused.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    # the moving statistics did move, towards the batch's population mean and variance
    assert not np.allclose(fused.get_weights()[2], before[2])
    expected = 0.7 * before[3] + 0.3 * x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(fused.get_weights()[3], expected, rtol=1e-5)


def test_gradients_match_keras_batchnorm() -> None:
    fused, plain = _pair()
    x = tf.constant(_batch())
    grads = []
    for layer in (fused, plain):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x, training=True)) * tf.range(4.0))
        grads.append(tape.gradient(loss, [x, *layer.trainable_weights]))
    for ours, theirs in zip(*grads, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_a_frozen_layer_keeps_its_moving_statistics() -> None:
    fused, plain = _pair()
    fused.trainable = False
    kept = fused.get_weights()
    x = _batch()
    np.testing.assert_allclose(fused(x, training=True), plain(x, training=False), atol=1e-5)
    for now, then in zip(fused.get_weights(), kept, strict=True):
        np.testing.assert_array_equal(now, then)


def test_bfloat16_inputs_are_normalised_in_bfloat16_like_keras() -> None:
    with backend.policy_kept():
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        fused, plain = _pair()
    x = _batch()
    ours, theirs = fused(x, training=True), plain(x, training=True)
    assert ours.dtype == theirs.dtype == tf.bfloat16
    np.testing.assert_allclose(
        tf.cast(ours, tf.float32), tf.cast(theirs, tf.float32), atol=0.05, rtol=0.02
    )


def test_what_the_fused_kernel_cannot_do_falls_back_to_keras(monkeypatch) -> None:
    """A 2-D input (dense features) and a masked call take Keras' own code, with the same result."""
    flat = np.random.default_rng(2).normal(size=(8, 4)).astype(np.float32)
    fused, plain = FusedBatchNormalization(), keras.layers.BatchNormalization()
    np.testing.assert_allclose(fused(flat, training=True), plain(flat, training=True), atol=1e-6)
    fused, plain = _pair()
    x, mask = _batch(), np.random.default_rng(3).random((8, 6, 5)) > 0.3
    np.testing.assert_allclose(
        fused(x, training=True, mask=mask), plain(x, training=True, mask=mask), atol=1e-5
    )
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    fused, plain = _pair()
    assert not fused._fusable(x, None)


@pytest.mark.parametrize("build", [three_class_cnn, tree_regressor])
def test_course_networks_use_it_and_save_plain_keras_batchnorm(tmp_path, build) -> None:
    from galaxylab.models.saving import load_model, save_for_use

    model = build((32, 32, 3))
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "FusedBatchNormalization" in kinds and "BatchNormalization" not in kinds
    save_for_use(model, tmp_path / "use.keras")
    used = load_model(tmp_path / "use.keras")
    assert [type(layer) for layer in used.layers if "bn" in layer.name] == [
        keras.layers.BatchNormalization
    ] * 4
    x = np.random.default_rng(4).random((4, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(used.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
