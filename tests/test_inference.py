"""Test-time augmentation (galaxylab.inference): the 8 dihedral views, averaged in one pass, for
arrays and datasets alike."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from galaxylab import inference


def _numpy_views(images: np.ndarray) -> list[np.ndarray]:
    return [np.rot90(im, k, axes=(1, 2)) for im in (images, images[:, :, ::-1]) for k in range(4)]


def test_dihedral_views_are_the_eight_distinct_symmetries() -> None:
    image = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)  # no symmetry at all
    views = [v.numpy() for v in inference.dihedral_views(image)]
    assert len({v.tobytes() for v in views}) == 8
    assert {v.tobytes() for v in views} == {v.tobytes() for v in _numpy_views(image)}
    np.testing.assert_array_equal(views[0], image)


def _model(pooling: keras.layers.Layer) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 1), pooling, keras.layers.Dense(2)]
    )


def test_tta_of_a_rotation_invariant_model_is_the_model() -> None:
    x = np.random.default_rng(0).random((5, 8, 8, 3), dtype=np.float32)
    model = _model(keras.layers.GlobalAveragePooling2D())
    np.testing.assert_allclose(
        inference.predict(model, x, tta=True, batch_size=2), model.predict(x, verbose=0), atol=1e-5
    )


def test_tta_averages_the_views_from_arrays_and_datasets() -> None:
    x = np.random.default_rng(1).random((5, 8, 8, 3), dtype=np.float32)
    model = _model(keras.layers.Flatten())  # position-sensitive
    expected = np.mean([model.predict(v.copy(), verbose=0) for v in _numpy_views(x)], axis=0)
    tta = inference.predict(model, x, tta=True)
    np.testing.assert_allclose(tta, expected, atol=1e-5)
    assert not np.allclose(tta, model.predict(x, verbose=0), atol=1e-3)
    data = tf.data.Dataset.from_tensor_slices((x, np.zeros(5))).batch(2)
    np.testing.assert_allclose(inference.predict(model, data, tta=True), tta, atol=1e-5)
