"""The course's own convolutional networks: a compact three-class CNN and the 37-output regressor.

Every model takes float32 images in [0, 1] (what :mod:`galaxylab.pipeline` feeds) of shape
``(height, width, channels)``; per-channel standardisation, if wanted, is a
``keras.layers.Normalization`` adapted by the trainer and passed in as ``normalization``.
Augmentation is the pipeline's job, so the models hold none. Output layers are float32, so
they stay exact under a mixed-precision policy (see :func:`galaxylab.backend.strategy`).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from galaxylab import tree
from galaxylab.choices import ARCHITECTURES
from galaxylab.errors import GalaxyLabError
from galaxylab.models.layers import DecisionTreeOutput, FusedBatchNormalization
from galaxylab.preprocessing import DEFAULT_IMAGE_SIZE, MIN_IMAGE_SIZE

HEADS = ("tree", "sigmoid")

#: Smallest height/width each network accepts (its poolings must leave at least 1 pixel).
MIN_SIZE = {"three-class": MIN_IMAGE_SIZE, "small": MIN_IMAGE_SIZE, "alexnet": 32}
#: The input shape a network is built for unless told otherwise.
DEFAULT_SHAPE = (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE, 3)


def check_input_shape(input_shape: Sequence[int], min_size: int = 1) -> tuple[int, int, int]:
    """``(height, width, channels)`` as ints, or a GalaxyLabError naming what is wrong."""
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise GalaxyLabError(f"input_shape must be (height, width, channels), got {shape!r}")
    if shape[2] not in (1, 3):
        raise GalaxyLabError(f"images must have 1 (grey) or 3 (RGB) channels, got {shape[2]}")
    if min(shape[:2]) < min_size:
        raise GalaxyLabError(
            f"images of {shape[0]}x{shape[1]} px are too small for this network "
            f"(at least {min_size}x{min_size} px)"
        )
    return shape  # type: ignore[return-value]


def model_input(
    input_shape: Sequence[int],
    normalization: keras.layers.Normalization | None = None,
    min_size: int = 1,
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The model's Input and the tensor after the optional Normalization layer."""
    inputs = keras.Input(shape=check_input_shape(input_shape, min_size), name="image")
    return inputs, (normalization(inputs) if normalization is not None else inputs)


def conv_block(
    x: keras.KerasTensor,
    filters: int,
    kernel: int = 3,
    *,
    strides: int = 1,
    pool: int | None = 2,
    name: str,
) -> keras.KerasTensor:
    """Conv (no bias) → BatchNorm → ReLU → optional max-pooling: the unit of every network here.

    BatchNorm uses momentum 0.9 rather than Keras' 0.99 so its moving statistics keep up when
    a course-sized data set gives only a few hundred steps: with 0.99 the inference-mode error
    on 240 real galaxies rose while the training loss fell. Without BatchNorm the AlexNet-style
    net did not move off the mean prediction in 20 epochs there. The BatchNorm is Keras' own
    computed by TensorFlow's fused kernel, which trains these networks about twice as fast.
    """
    x = keras.layers.Conv2D(
        filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = FusedBatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    if pool:
        x = keras.layers.MaxPooling2D(pool, name=f"{name}_pool")(x)
    return x


def dense_block(
    x: keras.KerasTensor, units: int, dropout: float, *, name: str
) -> keras.KerasTensor:
    """Dropout → Dense → ReLU, as in the fully connected part of AlexNet."""
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return keras.layers.Dense(units, activation="relu", name=name)(x)


def tree_head(
    x: keras.KerasTensor,
    head: str = "tree",
    dropout: float = 0.0,
    tree_activation: str = "softplus",
) -> keras.KerasTensor:
    """37 outputs in float32: the decision-tree layer, or independent sigmoids for comparison.

    ``tree_activation`` makes the tree layer's scores non-negative: softplus by default rather
    than Dieleman's ReLU, because a ReLU answer whose score turns negative for every galaxy
    never gets a gradient again and its column is stuck at zero.
    """
    if head not in HEADS:
        raise GalaxyLabError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    n = len(tree.COLUMNS)
    if head == "sigmoid":
        return keras.layers.Dense(n, activation="sigmoid", dtype="float32", name="answers")(x)
    x = keras.layers.Dense(n, dtype="float32", name="scores")(x)
    return DecisionTreeOutput(activation=tree_activation, name="answers")(x)


def class_head(x: keras.KerasTensor, n_classes: int, dropout: float = 0.0) -> keras.KerasTensor:
    """Softmax over ``n_classes`` in float32."""
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return keras.layers.Dense(n_classes, activation="softmax", dtype="float32", name="classes")(x)


def _small_body(x: keras.KerasTensor) -> keras.KerasTensor:
    """Four conv blocks, 32-64-128-128 filters, each halving the image: 64 px → 4x4x128."""
    for i, filters in enumerate((32, 64, 128, 128), 1):
        x = conv_block(x, filters, name=f"block{i}")
    return x


def three_class_cnn(
    input_shape: Sequence[int] = DEFAULT_SHAPE,
    n_classes: int = 3,
    *,
    dropout: float = 0.3,
    normalization: keras.layers.Normalization | None = None,
) -> keras.Model:
    """A compact CNN for spiral / elliptical / unsure: four conv blocks, global pooling, softmax.

    Global average pooling keeps it small (about 0.24 M parameters) and indifferent to where
    a feature sits, which suits galaxies at any orientation. Inputs: float32 in [0, 1].
    """
    if n_classes < 2:
        raise GalaxyLabError(f"n_classes must be at least 2, got {n_classes}")
    inputs, x = model_input(input_shape, normalization, MIN_SIZE["three-class"])
    x = _small_body(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = class_head(x, n_classes, dropout)
    return keras.Model(inputs, outputs, name="three_class_cnn")


def tree_regressor(
    input_shape: Sequence[int] = DEFAULT_SHAPE,
    *,
    head: str = "tree",
    architecture: str = "small",
    dropout: float = 0.5,
    normalization: keras.layers.Normalization | None = None,
    tree_activation: str = "softplus",
) -> keras.Model:
    """The 37-output Galaxy Zoo regressor; predictions obey the decision tree when head="tree".

    ``architecture="small"``: the three-class body, flattened into a 256-unit dense layer
    (about 0.8 M parameters). ``"alexnet"``: five conv layers with 96/256/384/384/256
    filters as in AlexNet, with an early stride and poolings so a 64 px image ends at
    2x2x256, then two 1024-unit dense layers with dropout (about 5.5 M parameters).
    ``head="sigmoid"`` gives 37 independent sigmoids instead, for the course's comparison;
    ``tree_activation="relu"`` gives the tree layer of Dieleman et al. (2015) exactly.
    """
    if architecture not in ARCHITECTURES:
        raise GalaxyLabError(
            f"architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}"
        )
    if head not in HEADS:
        raise GalaxyLabError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    inputs, x = model_input(input_shape, normalization, MIN_SIZE[architecture])
    if architecture == "small":
        x = _small_body(x)
        x = keras.layers.Flatten(name="flatten")(x)
        x = dense_block(x, 256, 0.0, name="dense1")
    else:
        x = conv_block(x, 96, 5, strides=2, name="conv1")  # 64 → 32 → 16 px
        x = conv_block(x, 256, 3, name="conv2")  # → 8 px
        x = conv_block(x, 384, 3, pool=None, name="conv3")
        x = conv_block(x, 384, 3, pool=None, name="conv4")
        x = conv_block(x, 256, 3, name="conv5")  # → 4 px
        x = keras.layers.MaxPooling2D(2, name="pool")(x)  # → 2 px
        x = keras.layers.Flatten(name="flatten")(x)
        x = dense_block(x, 1024, dropout, name="dense1")
        x = dense_block(x, 1024, dropout, name="dense2")
    outputs = tree_head(x, head, dropout, tree_activation)
    return keras.Model(inputs, outputs, name=f"tree_regressor_{architecture}_{head}")
