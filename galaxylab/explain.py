"""Explaining trained models: saliency and Grad-CAM maps, and robustness to noise and blur
(notebook 05).

:func:`saliency_maps` and :func:`grad_cam` show where in an image a model found the evidence
for an output; :func:`robustness_curve` scores a model on images with added Gaussian noise
(:func:`add_noise`) or a wider point-spread function (:func:`blur`). The array functions take
float32 images in [0, 1] shaped ``(N, height, width, channels)``, which is what
:mod:`galaxylab.pipeline` gives; the figure functions return a matplotlib Figure with a title,
axis labels and units, as :mod:`galaxylab.plots` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from galaxylab.analysis import image_grid
from galaxylab.errors import GalaxyLabError

if TYPE_CHECKING:
    import keras

# --------------------------------------------------------------------------- saliency


def _output_index(predictions: np.ndarray, index: int | Sequence[int] | None) -> np.ndarray:
    if index is None:
        return np.argmax(predictions, axis=1)
    return np.broadcast_to(np.asarray(index, dtype=np.int64), (len(predictions),))


def saliency_maps(model: keras.Model, images: np.ndarray,
                  index: int | Sequence[int] | None = None) -> np.ndarray:
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


def grad_cam(model: keras.Model, images: np.ndarray, index: int | Sequence[int] | None = None,
             layer: str | None = None) -> np.ndarray:
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


def saliency_figure(images: np.ndarray, maps: Mapping[str, np.ndarray],
                    titles: Sequence[str] | None = None,
                    title: str = "Where the network looks") -> Figure:
    """One column per image: the image, then each map (e.g. saliency, Grad-CAM) over it."""
    images = np.asarray(images)
    n = len(images)
    if any(len(m) != n for m in maps.values()):
        raise GalaxyLabError("every map needs one entry per image")
    rows = 1 + len(maps)
    fig, axes = plt.subplots(rows, n, figsize=(1.9 * n + 0.8, 1.9 * rows + 0.6), squeeze=False,
                             layout="constrained")
    grey = images.mean(axis=-1)
    size = images.shape[1]
    for j in range(n):
        axes[0, j].imshow(np.clip(images[j], 0, 1).squeeze())
        if titles is not None:
            axes[0, j].set_title(titles[j], fontsize=8)
        for r, (name, stack) in enumerate(maps.items(), 1):
            axes[r, j].imshow(grey[j], cmap="gray")
            shown = axes[r, j].imshow(stack[j], cmap="inferno", alpha=0.6, vmin=0, vmax=1)
            if j == 0:
                axes[r, j].set_ylabel(name)
        axes[0, 0].set_ylabel("image")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=axes[1:, :].ravel().tolist(), shrink=0.8,
                 label="relevance (0–1, per image)")
    fig.suptitle(f"{title} ({size}×{size} px inputs)")
    return fig


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
    return gaussian_filter(np.asarray(images, dtype=np.float32), sigma=(0, sigma, sigma, 0),
                           mode="nearest")


PERTURBATIONS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "noise": add_noise,
    "blur": blur,
}


def robustness_curve(model: keras.Model, images: np.ndarray, y_true: np.ndarray,
                     score: Callable[[np.ndarray, np.ndarray], float], *,
                     kind: str = "noise", levels: Sequence[float] = (0, 0.02, 0.05, 0.1, 0.2),
                     batch_size: int = 64) -> pd.DataFrame:
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


def robustness_figure(curves: Mapping[str, pd.DataFrame], *, xlabel: str, ylabel: str,
                      title: str, baseline: float | None = None,
                      baseline_label: str = "baseline", ax: Axes | None = None) -> Figure:
    """Score against perturbation level, one line per curve (from :func:`robustness_curve`).

    Draws into ``ax`` when given (e.g. one panel per perturbation), else a new figure.
    """
    if not curves:
        raise GalaxyLabError("robustness_figure needs at least one curve")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    else:
        fig = ax.figure
    for name, curve in curves.items():
        ax.plot(curve["level"], curve["score"], marker="o", label=name)
    if baseline is not None:
        ax.axhline(baseline, color="0.4", linestyle="--", linewidth=1,
                   label=f"{baseline_label}: {baseline:.3f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def perturbation_gallery(image: np.ndarray, kind: str, levels: Sequence[float],
                         unit: str) -> Figure:
    """One image at each perturbation level σ (in ``unit``), so the numbers on a robustness
    curve have a look."""
    if kind not in PERTURBATIONS:
        raise GalaxyLabError(f"kind must be one of {', '.join(PERTURBATIONS)}, not {kind!r}")
    shown = np.stack([PERTURBATIONS[kind](np.asarray(image)[None], float(level))[0]
                      for level in levels])
    return image_grid(shown, [f"σ = {level:g}" for level in levels], ncols=len(levels),
                      title=f"One galaxy with added {kind} (σ in {unit}), as the network sees it")
