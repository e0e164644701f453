"""The course's networks: the decision-tree output layer, the builders, transfer backbones."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from galaxylab import backend, tree
from galaxylab.errors import GalaxyLabError
from galaxylab.models import (
    BACKBONES,
    DecisionTreeOutput,
    ImagenetPreprocess,
    build,
    imagenet_weights_path,
    three_class_cnn,
    transfer_model,
    tree_regressor,
)
from galaxylab.models.losses import MaskedMSE, MaskedRMSE, masked_mse

SHAPE = (32, 32, 3)
N = len(tree.COLUMNS)


def _images(n: int = 4, shape: tuple[int, ...] = SHAPE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


def _as_table(values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(values, columns=list(tree.COLUMNS))


# --- DecisionTreeOutput -----------------------------------------------------------------------

scores = arrays(np.float32, (5, N), elements=st.floats(-20, 20, width=32))


@settings(max_examples=40, deadline=None)
@given(raw=scores, activation=st.sampled_from(["relu", "softplus"]))
def test_tree_layer_outputs_obey_the_tree(raw: np.ndarray, activation: str) -> None:
    out = DecisionTreeOutput(activation=activation)(raw).numpy()
    assert out.shape == raw.shape
    assert (out >= 0).all() and (out <= 1 + 1e-6).all()
    assert tree.check(_as_table(out), tolerance=1e-5).empty


# Scores are either clipped to zero by the ReLU or comfortably positive, where the layer's
# epsilon is negligible; a question with only zeros is split evenly by both.
clear_scores = arrays(
    np.float32,
    (5, N),
    elements=st.one_of(st.floats(-5, 0, width=32), st.floats(0.015625, 5, width=32)),
)


@settings(max_examples=40, deadline=None)
@given(raw=clear_scores)
def test_tree_layer_agrees_with_numpy_normalise(raw: np.ndarray) -> None:
    out = DecisionTreeOutput()(raw).numpy()
    np.testing.assert_allclose(out, tree.normalise(np.maximum(raw, 0)), atol=1e-5)


def test_tree_layer_gradient_is_finite_when_a_question_is_all_zero() -> None:
    raw = tf.Variable(np.full((2, N), -1.0, np.float32))  # every ReLU output zero
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(DecisionTreeOutput()(raw) ** 2)
    grad = tape.gradient(loss, raw).numpy()
    assert np.isfinite(grad).all()


def test_tree_layer_rejects_wrong_width_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match="37"):
        DecisionTreeOutput()(np.zeros((1, 36), np.float32))
    with pytest.raises(ValueError, match="activation"):
        DecisionTreeOutput(activation="tanh")


def test_output_layers_stay_float32_under_mixed_precision() -> None:
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        regressor, classifier = tree_regressor(SHAPE), three_class_cnn(SHAPE)
        answers, classes = regressor(_images(2)), classifier(_images(2))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert regressor.get_layer("block1_conv").compute_dtype == "float16"
    assert answers.dtype == tf.float32 and classes.dtype == tf.float32
    assert tree.check(_as_table(answers.numpy()), tolerance=1e-5).empty


# --- save / load ------------------------------------------------------------------------------


def _round_trip(model: keras.Model, path) -> keras.Model:
    model.save(path)
    return keras.models.load_model(path, safe_mode=True)


def test_tree_regressor_round_trips_with_masked_loss(tmp_path) -> None:
    model = tree_regressor(SHAPE)
    model.compile(optimizer="adam", loss=masked_mse, metrics=[MaskedRMSE()])
    x = _images(8)
    y = np.full((8, N), np.nan, np.float32)
    y[:, :3] = tree.normalise(np.random.default_rng(1).random((8, N)))[:, :3]
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)  # NaN targets must not spoil training
    assert all(np.isfinite(w).all() for w in model.get_weights())

    loaded = _round_trip(model, tmp_path / "tree.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert isinstance(loaded.loss, MaskedMSE)
    assert isinstance(loaded.get_layer("answers"), DecisionTreeOutput)
    assert np.isclose(loaded.evaluate(x, y, verbose=0)[0], model.evaluate(x, y, verbose=0)[0])


def test_three_class_cnn_round_trips_with_normalization(tmp_path) -> None:
    x = _images(8)
    norm = keras.layers.Normalization(axis=-1)
    norm.adapt(x)
    model = three_class_cnn(SHAPE, normalization=norm)
    loaded = _round_trip(model, tmp_path / "three.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# --- builders ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "shape", "outputs"),
    [
        (lambda: three_class_cnn(SHAPE), SHAPE, 3),
        (lambda: three_class_cnn((32, 32, 1), n_classes=5), (32, 32, 1), 5),
        (lambda: tree_regressor(SHAPE), SHAPE, N),
        (lambda: tree_regressor((40, 40, 1), architecture="alexnet"), (40, 40, 1), N),
        (lambda: build("three-class", SHAPE, dropout=0.1), SHAPE, 3),
        (lambda: build("decision-tree", SHAPE, head="sigmoid"), SHAPE, N),
    ],
)
def test_builders_give_the_expected_shapes(make, shape, outputs) -> None:
    model = make()
    assert model.input_shape == (None, *shape)
    assert model.output_shape == (None, outputs)
    assert model.predict(_images(2, shape), verbose=0).shape == (2, outputs)


def test_three_class_outputs_are_probabilities() -> None:
    probs = three_class_cnn(SHAPE).predict(_images(3), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_sigmoid_head_stays_in_unit_interval_but_ignores_the_tree() -> None:
    model = tree_regressor(SHAPE, head="sigmoid")
    out = model.predict(_images(4) * 50 - 25, verbose=0)
    assert (out >= 0).all() and (out <= 1).all()
    assert not any(isinstance(layer, DecisionTreeOutput) for layer in model.layers)
    # independent sigmoids sum to about 1.5 over Q1, not 1: the contrast the course shows
    assert not tree.check(_as_table(out), tolerance=1e-3).empty


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: build("four-class", SHAPE), "task"),
        (lambda: tree_regressor(SHAPE, head="softmax"), "head"),
        (lambda: tree_regressor(SHAPE, architecture="vgg"), "architecture"),
        (lambda: tree_regressor((16, 16, 3), architecture="alexnet"), "too small"),
        (lambda: three_class_cnn((32, 32)), "height, width, channels"),
        (lambda: three_class_cnn((32, 32, 4)), "channels"),
        (lambda: three_class_cnn(SHAPE, n_classes=1), "n_classes"),
        (lambda: transfer_model("AlexNet", SHAPE), "unknown backbone"),
        (lambda: transfer_model("VGG16", SHAPE, task="segmentation"), "task"),
        (lambda: transfer_model("VGG16", SHAPE, weights="/nonexistent/w.h5"), "not found"),
    ],
)
def test_bad_arguments_raise_one_clear_error(call, message) -> None:
    with pytest.raises(GalaxyLabError, match=message):
        call()


# --- transfer learning ------------------------------------------------------------------------


def test_transfer_model_offline_frozen_backbone() -> None:
    model = build("decision-tree", SHAPE, backbone="vgg16")
    assert model.output_shape == (None, N)
    assert len(model.trainable_weights) == 2  # only the head's kernel and bias
    out = model.predict(_images(2), verbose=0)
    assert tree.check(_as_table(out), tolerance=1e-5).empty


def test_transfer_model_upsamples_grey_images_for_inception() -> None:
    model = transfer_model("InceptionV3", (32, 32, 1), task="three-class", trainable=True)
    assert model.get_layer("upsample").output.shape[1:3] == (75, 75)
    assert model.get_layer("grey_to_rgb").output.shape[-1] == 3
    assert len(model.trainable_weights) > 2
    assert model.predict(_images(2, (32, 32, 1)), verbose=0).shape == (2, 3)


def test_imagenet_preprocess_matches_each_backbones_convention(tmp_path) -> None:
    x = _images(2, (4, 4, 3))
    caffe = ImagenetPreprocess("ResNet50")(x).numpy()  # RGB → BGR, minus the ImageNet mean
    np.testing.assert_allclose(caffe[..., 0], x[..., 2] * 255 - 103.939, atol=1e-3)
    np.testing.assert_allclose(caffe[..., 2], x[..., 0] * 255 - 123.68, atol=1e-3)
    scaled = ImagenetPreprocess("Xception")(x).numpy()  # [-1, 1]
    np.testing.assert_allclose(scaled, x * 2 - 1, atol=1e-5)

    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, ImagenetPreprocess("VGG16")(inputs))
    loaded = _round_trip(model, tmp_path / "pre.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_imagenet_weights_offline_fail_with_one_clear_error(tmp_path, monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(GalaxyLabError) as info:
        transfer_model("resnet50", SHAPE, weights="imagenet")
    message = str(info.value)
    expected = imagenet_weights_path("ResNet50")
    assert expected == tmp_path / "models" / BACKBONES["ResNet50"].weights_file
    assert "ResNet50" in message and str(expected) in message
    assert BACKBONES["ResNet50"].weights_url in message and "weights=None" in message
    assert "\n" not in message


def test_damaged_weights_file_is_named(tmp_path) -> None:
    bad = tmp_path / "vgg16.h5"
    bad.write_text("not an HDF5 file")
    with pytest.raises(GalaxyLabError, match=f"{bad}: not VGG16 weights"):
        transfer_model("VGG16", SHAPE, weights=str(bad))


# --- backend ----------------------------------------------------------------------------------


def _assert_gpu_strategy(strategy: tf.distribute.Strategy) -> None:
    """All GPUs mirrored, mixed precision inside, and float32 outputs for softmax and the tree."""
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert keras.mixed_precision.global_policy().name == "mixed_float16"
    with strategy.scope():
        classifier, regressor = three_class_cnn(SHAPE), tree_regressor(SHAPE)
    assert classifier.get_layer("block1_conv").compute_dtype == "float16"
    assert classifier(_images(2)).dtype == tf.float32
    assert regressor(_images(2)).dtype == tf.float32


def test_strategy_fits_the_machine() -> None:
    """On GPUs a MirroredStrategy with mixed precision; on a CPU the default strategy, with
    bfloat16 arithmetic only where the CPU has bfloat16 units."""
    try:
        strategy = backend.strategy()
        if backend.gpus():
            _assert_gpu_strategy(strategy)
        else:
            assert strategy is tf.distribute.get_strategy()
            assert keras.mixed_precision.global_policy().name == backend.cpu_precision()
            with strategy.scope():
                assert three_class_cnn(SHAPE).output_shape == (None, 3)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_strategy_with_gpus_mirrors_them_in_mixed_precision(monkeypatch) -> None:
    """The GPU branch, also on a CPU-only machine: a MirroredStrategy over what is there."""
    monkeypatch.setattr(backend, "gpus", lambda: ["a GPU"])
    try:
        _assert_gpu_strategy(backend.strategy())
        keras.mixed_precision.set_global_policy("float32")
        assert backend.strategy(mixed_precision=False) is not None
        assert keras.mixed_precision.global_policy().name == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_imagenet_weights_found_by_get_file_are_loaded(tmp_path, monkeypatch) -> None:
    donor = keras.applications.VGG16(include_top=False, weights=None, input_shape=(*SHAPE[:2], 3))
    path = tmp_path / "vgg16.weights.h5"
    donor.save_weights(path)
    asked = {}

    def cached(fname, origin, **kwargs):
        asked.update(fname=fname, origin=origin, **kwargs)
        return str(path)

    monkeypatch.setattr(keras.utils, "get_file", cached)
    model = transfer_model("VGG16", SHAPE, weights="imagenet")
    assert asked["fname"] == BACKBONES["VGG16"].weights_file
    assert asked["file_hash"] == BACKBONES["VGG16"].md5
    loaded = model.get_layer("vgg16").get_layer("block1_conv1").kernel.numpy()
    np.testing.assert_array_equal(loaded, donor.get_layer("block1_conv1").kernel.numpy())


def test_a_backbone_ignores_the_dataset_normalization() -> None:
    norm = keras.layers.Normalization(mean=[0.1, 0.1, 0.1], variance=[0.04, 0.04, 0.04])
    model = build("three-class", SHAPE, backbone="VGG16", normalization=norm)
    assert model.output_shape == (None, 3)
    assert not any(isinstance(layer, keras.layers.Normalization) for layer in model.layers)


def test_tree_regressor_uses_softplus_unless_relu_is_asked_for() -> None:
    default = tree_regressor(SHAPE)
    dieleman = tree_regressor(SHAPE, tree_activation="relu")
    assert default.get_layer("answers").activation == "softplus"
    assert dieleman.get_layer("answers").activation == "relu"
    with pytest.raises(ValueError, match="activation"):
        tree_regressor(SHAPE, tree_activation="tanh")


def test_a_model_saved_for_use_drops_the_optimizer_and_predicts_the_same(tmp_path) -> None:
    from galaxylab.models.saving import load_model, save_for_use
    from galaxylab.train.fit import compile_for

    model = compile_for(tree_regressor(SHAPE), "decision-tree")
    x = _images(8)
    model.fit(x, np.full((8, N), 0.5, np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "full.keras")
    save_for_use(model, tmp_path / "use.keras")
    used = load_model(tmp_path / "use.keras")
    assert (tmp_path / "use.keras").stat().st_size < 0.5 * (tmp_path / "full.keras").stat().st_size
    for kept, trained in zip(used.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, trained)
    # the saved copy normalises with Keras' BatchNorm, the trained model with the fused kernel:
    # the same arithmetic in another order, so equal to float32 rounding
    np.testing.assert_allclose(used.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: a CPU\nflags\t\t: fpu sse2 {flags}\n\n")
    return path


@pytest.mark.parametrize(
    "flags, native",
    [("avx2 avx512f", False), ("avx512f amx_bf16 amx_tile", True), ("avx512_bf16", True)],
)
def test_bfloat16_units_are_read_from_the_cpu_flags(tmp_path, flags: str, native: bool) -> None:
    assert backend.cpu_has_bfloat16(_cpuinfo(tmp_path, flags)) is native
    assert backend.cpu_has_bfloat16(tmp_path / "absent") is False  # not Linux: cannot tell


@pytest.mark.parametrize("native", [True, False])
def test_precision_auto_follows_the_cpu_and_the_variable_overrides_it(monkeypatch, native) -> None:
    monkeypatch.setattr(backend, "cpu_has_bfloat16", lambda: native)
    monkeypatch.delenv(backend.PRECISION_ENV, raising=False)
    assert backend.cpu_precision() == ("mixed_bfloat16" if native else "float32")
    monkeypatch.setenv(backend.PRECISION_ENV, "auto")
    assert backend.cpu_precision() == ("mixed_bfloat16" if native else "float32")
    for forced in ("float32", "mixed_bfloat16"):
        monkeypatch.setenv(backend.PRECISION_ENV, forced)
        assert backend.cpu_precision() == forced
    monkeypatch.setenv(backend.PRECISION_ENV, "float16")
    with pytest.raises(GalaxyLabError, match="GALAXYLAB_PRECISION='float16': choose one of auto"):
        backend.cpu_precision()


def test_policy_kept_restores_the_global_policy_after_a_mixed_build() -> None:
    keras.mixed_precision.set_global_policy("float32")
    with backend.policy_kept():
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        inside = three_class_cnn(SHAPE)
    assert inside.get_layer("block1_conv").compute_dtype == "bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"
    assert three_class_cnn(SHAPE).get_layer("block1_conv").compute_dtype == "float32"


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_a_mixed_precision_model_is_saved_for_use_in_float32(tmp_path, policy: str) -> None:
    """Same weights, every layer float32, predictions within the half-precision rounding."""
    from galaxylab.models.saving import load_model, save_for_use

    with backend.policy_kept():
        keras.mixed_precision.set_global_policy(policy)
        model = tree_regressor(SHAPE)
    save_for_use(model, tmp_path / "use.keras")
    used = load_model(tmp_path / "use.keras")
    assert {layer.dtype_policy.name for layer in used.layers} == {"float32"}
    for kept, trained in zip(used.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, trained)
    x = _images(4)
    np.testing.assert_allclose(used.predict(x, verbose=0), model.predict(x, verbose=0), atol=0.03)
