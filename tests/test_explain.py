"""galaxylab.explain: saliency and Grad-CAM maps, noise and blur, robustness curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from galaxylab import explain, plots  # noqa: E402
from galaxylab.errors import GalaxyLabError  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------- saliency


def _pixel_model(row: int, column: int) -> keras.Model:
    """Two classes decided by one pixel of channel 0 alone: class 0 when it is above 0.5."""
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    kernel = np.zeros((8 * 8 * 3, 2), np.float32)
    kernel[(row * 8 + column) * 3, 0] = 3.0
    model.layers[-1].set_weights([kernel, np.array([0.0, 1.5], np.float32)])
    return model


def test_saliency_points_at_the_pixel_that_matters():
    images = np.random.default_rng(3).random((4, 8, 8, 3)).astype(np.float32)
    maps = explain.saliency_maps(_pixel_model(2, 5), images, index=0)
    assert maps.shape == (4, 8, 8)
    assert np.allclose(maps.max(axis=(1, 2)), 1)
    for m in maps:
        assert np.unravel_index(m.argmax(), m.shape) == (2, 5)
        assert np.count_nonzero(m) == 1


def test_grad_cam_finds_the_bright_blob():
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, name="conv")(inputs)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("conv").set_weights([np.ones((1, 1, 1, 1), np.float32)])
    model.layers[-1].set_weights([np.ones((1, 1), np.float32), np.zeros(1, np.float32)])
    assert explain.last_conv_layer(model) == "relu"
    images = np.zeros((2, 16, 16, 1), np.float32)
    images[0, 3:6, 10:13] = 1.0
    images[1, 11:14, 2:5] = 1.0
    cams = explain.grad_cam(model, images, index=0)
    assert cams.shape == (2, 16, 16) and cams.min() >= 0 and np.isclose(cams.max(), 1)
    assert cams[0, 3:6, 10:13].mean() > 5 * cams[0, 11:14, 2:5].mean()
    assert cams[1, 11:14, 2:5].mean() > 5 * cams[1, 3:6, 10:13].mean()


def test_last_conv_layer_needs_an_image_layer():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(GalaxyLabError, match="Grad-CAM"):
        explain.last_conv_layer(model)


# --------------------------------------------------------------------------- robustness


def test_noise_and_blur():
    images = np.random.default_rng(4).random((2, 12, 12, 3)).astype(np.float32)
    assert np.array_equal(explain.add_noise(images, 0.0), images)
    noisy = explain.add_noise(images, 0.3, seed=7)
    assert np.array_equal(noisy, explain.add_noise(images, 0.3, seed=7))
    assert noisy.min() >= 0 and noisy.max() <= 1 and not np.allclose(noisy, images)
    point = np.zeros((1, 21, 21, 1), np.float32)
    point[0, 10, 10] = 1.0
    blurred = explain.blur(point, 2.0)
    assert np.isclose(blurred.sum(), 1.0, atol=1e-3) and blurred.max() < 0.1
    assert np.array_equal(explain.blur(images, 0), images)
    with pytest.raises(GalaxyLabError):
        explain.blur(images, -1)
    with pytest.raises(GalaxyLabError):
        explain.add_noise(images, -0.1)


def test_robustness_curve_starts_at_the_clean_score():
    model = _pixel_model(1, 1)
    images = np.random.default_rng(5).random((20, 8, 8, 3)).astype(np.float32)
    y = model.predict(images, verbose=0).argmax(axis=1)

    def accuracy(truth, prediction):
        return float(np.mean(prediction.argmax(axis=1) == truth))

    curve = explain.robustness_curve(model, images, y, accuracy, kind="noise", levels=(0.0, 0.5))
    assert list(curve.columns) == ["level", "score"]
    assert curve["score"].iloc[0] == 1.0
    assert curve["score"].iloc[1] < 1.0
    with pytest.raises(GalaxyLabError, match="kind"):
        explain.robustness_curve(model, images, y, accuracy, kind="rotate")


# --------------------------------------------------------------------------- figures


def test_explain_figures():
    images = np.random.default_rng(6).random((3, 10, 10, 3)).astype(np.float32)
    gallery = plots.perturbation_gallery(images[0], "blur", (0, 1, 2), "input pixels")
    assert [ax.get_title() for ax in gallery.axes] == ["σ = 0", "σ = 1", "σ = 2"]
    maps = {"saliency": np.random.default_rng(7).random((3, 10, 10))}
    fig = plots.saliency_figure(images, maps, ["x", "y", "z"])
    assert fig.axes[3].get_ylabel() == "saliency"
