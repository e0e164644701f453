"""Custom Keras layers of the course's models, registered so saved models load with safe_mode.

``DecisionTreeOutput`` turns 37 raw scores into Galaxy Zoo vote fractions that obey the
decision tree (the output layer of Dieleman et al. 2015); ``ImagenetPreprocess`` applies a
``keras.applications`` backbone's own input scaling inside the model; ``FusedBatchNormalization``
is Keras' BatchNormalization computed by TensorFlow's fused kernel, for speed on CPUs.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from galaxylab import tree
from galaxylab.errors import GalaxyLabError

_ACTIVATIONS = ("relu", "softplus")


def _tree_plan() -> list[tuple[int, int, int, int | None, int | None]]:
    """Per question in evaluation order: (number, start, stop, parent question, parent offset)."""
    slices = dict(tree.question_slices())
    plan: list[tuple[int, int, int, int | None, int | None]] = []
    for number in tree.EVALUATION_ORDER:
        cols = slices[number]
        parent = tree.parent_index(number)
        if parent is None:
            plan.append((number, cols.start, cols.stop, None, None))
        else:
            parent_q = tree.QUESTION_OF_COLUMN[tree.COLUMNS[parent]]
            plan.append((number, cols.start, cols.stop, parent_q, parent - slices[parent_q].start))
    return plan


@keras.saving.register_keras_serializable(package="galaxylab")
class DecisionTreeOutput(keras.layers.Layer):
    """Map 37 raw scores to cumulative vote fractions that obey the Galaxy Zoo decision tree.

    Per question the scores pass a non-negative activation (ReLU as in Dieleman et al. 2015, or
    softplus), are normalised to sum to one, and are multiplied by the value of the answer that
    leads to the question (Q1 and Q6 sum to one). The normalisation adds ``epsilon`` to every
    answer, ``(x + eps) / (sum x + k eps)``: sums stay exactly one, a question whose scores are
    all zero is split evenly (as :func:`galaxylab.tree.normalise` does) and gradients stay
    finite. Computed in float32 by default, also under a mixed-precision policy.
    """

    def __init__(self, activation: str = "relu", epsilon: float = 1e-9, **kwargs: Any) -> None:
        if activation not in _ACTIVATIONS:
            raise GalaxyLabError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
        if not epsilon > 0:
            raise GalaxyLabError(f"epsilon must be positive, got {epsilon!r}")
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.activation = activation
        self.epsilon = float(epsilon)
        self._plan = _tree_plan()

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Check that the input has the 37 answers of the tree on its last axis."""
        if input_shape[-1] != len(tree.COLUMNS):
            raise GalaxyLabError(
                f"DecisionTreeOutput needs {len(tree.COLUMNS)} inputs, got shape {input_shape}"
            )
        super().build(input_shape)

    def call(self, inputs: Any) -> Any:
        """Non-negative scores → per-question fractions → cumulative fractions in column order."""
        scores = ops.relu(inputs) if self.activation == "relu" else ops.softplus(inputs)
        blocks: dict[int, Any] = {}
        for number, start, stop, parent_q, offset in self._plan:
            block = scores[:, start:stop] + self.epsilon
            block = block / ops.sum(block, axis=-1, keepdims=True)
            if parent_q is not None:
                block = block * blocks[parent_q][:, offset : offset + 1]  # type: ignore[operator]
            blocks[number] = block
        return ops.concatenate([blocks[q.number] for q in tree.QUESTIONS], axis=-1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Same shape as the input: 37 answers per galaxy."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """The layer's arguments, so ``keras.models.load_model`` can rebuild it."""
        return {**super().get_config(), "activation": self.activation, "epsilon": self.epsilon}


#: keras.applications preprocess_input modes: "caffe" = RGB→BGR minus the ImageNet mean
#: (VGG16, ResNet50), "tf" = scale to [-1, 1] (InceptionV3, Xception).
_PREPROCESS = {
    "VGG16": keras.applications.vgg16.preprocess_input,
    "ResNet50": keras.applications.resnet50.preprocess_input,
    "InceptionV3": keras.applications.inception_v3.preprocess_input,
    "Xception": keras.applications.xception.preprocess_input,
}


@keras.saving.register_keras_serializable(package="galaxylab")
class ImagenetPreprocess(keras.layers.Layer):
    """Scale [0, 1] images to [0, 255] and apply ``backbone``'s own ``preprocess_input``.

    A layer rather than a Lambda so a saved transfer model reloads with ``safe_mode=True``.
    """

    def __init__(self, backbone: str, **kwargs: Any) -> None:
        if backbone not in _PREPROCESS:
            raise GalaxyLabError(f"backbone must be one of {sorted(_PREPROCESS)}, got {backbone!r}")
        super().__init__(**kwargs)
        self.backbone = backbone

    def call(self, inputs: Any) -> Any:
        """[0, 1] RGB → the range and channel order the backbone was trained on."""
        return _PREPROCESS[self.backbone](inputs * 255.0)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Same shape as the input."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """The backbone name, so ``keras.models.load_model`` can rebuild the layer."""
        return {**super().get_config(), "backbone": self.backbone}


@keras.saving.register_keras_serializable(package="galaxylab")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras' BatchNormalization with the same weights and arithmetic, run as one fused TF op.

    Keras 3 normalises with separate element-wise ops in float32; TensorFlow's fused kernel
    does the same in one pass, also on bfloat16 inputs, and trains the course's networks
    1.6-2.2x faster on a CPU (``bench/bench_models.py``). Moving statistics follow Keras'
    rule (population variance, ``momentum``). Other backends, masks, renorm or an axis other
    than the last of a 4-D input fall back to Keras' own code. Saved models name plain
    BatchNormalization (:func:`galaxylab.models.saving.portable_copy`).
    """

    def _fusable(self, inputs: Any, mask: Any) -> bool:
        """Whether TensorFlow's fused kernel computes exactly what Keras' own code would."""
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.renorm
            and not self.synchronized
            and self.center
            and self.scale
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
        )

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        """Normalise with the batch's statistics in training (updating the moving ones), else
        with the moving statistics."""
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf  # the backend is TensorFlow here, so this is already loaded

        scale = tf.cast(self.gamma, "float32")
        offset = tf.cast(self.beta, "float32")
        if training and self.trainable:
            outputs, mean, unbiased, *_ = tf.compat.v1.nn.fused_batch_norm(
                inputs, scale, offset, epsilon=self.epsilon, is_training=True
            )
            # the kernel reports the batch variance with Bessel's correction; Keras keeps the
            # population variance, which the kernel also normalised with
            n = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], "float32")
            variance = unbiased * (n - 1.0) / n
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1 - self.momentum)
            )
        else:
            outputs, *_ = tf.compat.v1.nn.fused_batch_norm(
                inputs,
                scale,
                offset,
                mean=tf.cast(self.moving_mean, "float32"),
                variance=tf.cast(self.moving_variance, "float32"),
                epsilon=self.epsilon,
                is_training=False,
            )
        return tf.cast(outputs, self.compute_dtype)
