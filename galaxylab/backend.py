"""TensorFlow as the package runs it: imported without start-up noise, on all GPUs when there
are any, else on the CPU unchanged.

TensorFlow 2.21 writes CUDA-probing and oneDNN lines through absl before its logging is set up,
so ``TF_CPP_MIN_LOG_LEVEL`` alone does not hold them back; in a notebook they would show as red
text under the first import cell, and on the command line they would bury the one line that
matters. Python-level errors are not affected: they are raised.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf


def quiet_environment() -> None:
    """Ask TensorFlow's C++ side for errors only, unless the user chose otherwise."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextmanager
def stderr_muted() -> Iterator[None]:
    """Point file descriptor 2 at the null device for the duration, then restore it."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and probe its devices (where CUDA complains) with stderr muted, once."""
    quiet_environment()
    if "tensorflow" in sys.modules:
        return
    with stderr_muted():
        import tensorflow as tf

        tf.config.list_physical_devices()


def quiet_python_warnings() -> None:
    """Keep TensorFlow's Python warnings (e.g. "triggered tf.function retracing" when a lesson
    predicts with several models) out of notebook cells; errors still show."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


def gpus() -> list[tf.config.PhysicalDevice]:
    """The GPUs TensorFlow can see (empty on a CPU-only machine)."""
    import_tensorflow_quietly()
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def strategy(mixed_precision: bool = True) -> tf.distribute.Strategy:
    """A MirroredStrategy over all GPUs (and the "mixed_float16" policy), else the default.

    On GPUs this sets Keras' global dtype policy, so call it before building the model; the
    models' output layers stay float32 so softmax and the decision-tree layer are exact
    enough. On a CPU-only machine nothing changes and the default strategy is returned.
    """
    import keras
    import tensorflow as tf

    if not gpus():
        return tf.distribute.get_strategy()
    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    return tf.distribute.MirroredStrategy()
