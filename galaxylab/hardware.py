"""Where training runs: all visible GPUs with mixed precision, or the CPU unchanged.

The trainer builds and fits its model inside ``with strategy().scope():`` so the same code
moves from a laptop to a multi-GPU machine.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def gpus() -> list[tf.config.PhysicalDevice]:
    """The GPUs TensorFlow can see (empty on a CPU-only machine)."""
    return tf.config.list_physical_devices("GPU")


def strategy(mixed_precision: bool = True) -> tf.distribute.Strategy:
    """A MirroredStrategy over all GPUs (and the "mixed_float16" policy), else the default.

    On GPUs this sets Keras' global dtype policy, so call it before building the model; the
    models' output layers stay float32 so softmax and the decision-tree layer are exact
    enough. On a CPU-only machine nothing changes and the default strategy is returned.
    """
    if not gpus():
        return tf.distribute.get_strategy()
    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    return tf.distribute.MirroredStrategy()
