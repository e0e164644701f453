"""Explaining trained models: saliency and Grad-CAM maps, and robustness to noise and blur
(notebook 05).

:func:`saliency_maps` and :func:`grad_cam` show where in an image a model found the evidence
for an output; :func:`robustness_curve` scores a model on images with added Gaussian noise
(:func:`add_noise`) or a wider point-spread function (:func:`blur`). Every function takes
float32 images in [0, 1] shaped ``(N, height, width, channels)``, which is what
:mod:`galaxylab.pipeline` gives; their figures are in :mod:`galaxylab.plots`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from galaxylab.errors import GalaxyLabError

if TYPE_CHECKING:
    import keras

# --------------------------------------------------------------------------- saliency


def _output_index(predictions: np.ndarray, index: int | Sequence[int] | None) -> np.ndarray:
    if index is None:
        return np.argmax(predictions, axis=1)
    return np.broadcast_to(np.asarray(index, dtype=np.int64), (len(predictions),))


def saliency_maps(
    model: keras.Model, images: np.ndarray, index: int | Sequence[int] | None = None
) -> np.ndarray:
    """Vanilla gradient saliency: |∂ output / ∂ pixel|, maximum over colour channels.

    ``index`` picks the output (class or answer column) per image; None takes each image's
    highest output. Returns (N, height, width), each map scaled to a maximum of 1.
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(images)
        outputs = model(images, training=False)
        chosen = _output_index(outputs.numpy(), index)
        picked = tf.gather(outputs, chosen, axis=1, batch_dims=1)
    grads = tape.gradient(picked, images).numpy()
    maps = np.abs(grads).max(axis=-1)
    return maps / np.maximum(maps.max(axis=(1, 2), keepdims=True), 1e-12)


def last_conv_layer(model: keras.Model) -> str:
    """The last layer with an image-like (4-D) output that is not a pooling or input layer:
    Grad-CAM's default layer (the last convolution block of the course's own networks)."""
    import keras

    skip = (keras.layers.InputLayer, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    for layer in reversed(model.layers):
        shape = getattr(getattr(layer, "output", None), "shape", None)
        if shape is not None and len(shape) == 4 and not isinstance(layer, skip):
            return layer.name
    raise GalaxyLabError(f"model {model.name} has no convolutional layer for Grad-CAM")


def grad_cam(
    model: keras.Model,
    images: np.ndarray,
    index: int | Sequence[int] | None = None,
    layer: str | None = None,
) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017): where in the image a conv layer saw evidence for the
    chosen output. Returns (N, height, width) maps in [0, 1], upsampled to the image size.
    """
    import keras
    import tensorflow as tf

    layer = layer or last_conv_layer(model)
    probe = keras.Model(model.inputs, [model.get_layer(layer).output, model.outputs[0]])
    images = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    with tf.GradientTape() as tape:
        features, outputs = probe(images, training=False)
        chosen = _output_index(outputs.numpy(), index)
        picked = tf.gather(outputs, chosen, axis=1, batch_dims=1)
    grads = tape.gradient(picked, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))[..., None]
    cam = tf.image.resize(cam, images.shape[1:3], method="bilinear")[..., 0].numpy()
    return cam / np.maximum(cam.max(axis=(1, 2), keepdims=True), 1e-12)


# --------------------------------------------------------------------------- robustness


def add_noise(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Images plus Gaussian noise of standard deviation ``sigma`` (in [0, 1] pixel units),
    clipped back to [0, 1]; repeatable for a seed."""
    if sigma < 0:
        raise GalaxyLabError(f"noise sigma must be non-negative, got {sigma}")
    rng = np.random.default_rng(seed)
    noisy = images + rng.normal(0.0, sigma, size=np.shape(images)).astype(np.float32)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Images convolved with a Gaussian of ``sigma`` pixels (each channel), like a worse PSF."""
    from scipy.ndimage import gaussian_filter

    if sigma < 0:
        raise GalaxyLabError(f"blur sigma must be non-negative, got {sigma}")
    if sigma == 0:
        return np.asarray(images, dtype=np.float32)
    return gaussian_filter(
        np.asarray(images, dtype=np.float32), sigma=(0, sigma, sigma, 0), mode="nearest"
    )


PERTURBATIONS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "noise": add_noise,
    "blur": blur,
}


def robustness_curve(
    model: keras.Model,
    images: np.ndarray,
    y_true: np.ndarray,
    score: Callable[[np.ndarray, np.ndarray], float],
    *,
    kind: str = "noise",
    levels: Sequence[float] = (0, 0.02, 0.05, 0.1, 0.2),
    batch_size: int = 64,
) -> pd.DataFrame:
    """The model's ``score(y_true, prediction)`` on images perturbed by ``kind`` at each level.

    ``kind`` is "noise" (Gaussian, sigma in [0, 1] pixel units) or "blur" (Gaussian, sigma in
    pixels). Returns a frame with columns ``level`` and ``score``.
    """
    if kind not in PERTURBATIONS:
        raise GalaxyLabError(f"kind must be one of {', '.join(PERTURBATIONS)}, not {kind!r}")
    rows = []
    for level in levels:
        perturbed = PERTURBATIONS[kind](images, float(level))
        prediction = model.predict(perturbed, batch_size=batch_size, verbose=0)
        rows.append({"level": float(level), "score": float(score(y_true, prediction))})
    return pd.DataFrame(rows)
