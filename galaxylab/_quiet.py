"""Import TensorFlow without its C++ start-up lines (CUDA probing, oneDNN notice) on stderr.

TensorFlow 2.21 writes them through absl before its logging is initialised, so
``TF_CPP_MIN_LOG_LEVEL`` does not hold them back; in a notebook they would show up as red
text under the first import cell. Python-level errors are not affected: they are raised.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


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


def quiet_notebook_logging() -> None:
    """Keep TensorFlow's Python warnings (e.g. "triggered tf.function retracing" when a lesson
    predicts with several models) out of notebook cells; errors still show."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and probe its devices (where CUDA complains) with stderr muted, once."""
    if "tensorflow" in sys.modules:
        return
    with stderr_muted():
        import tensorflow as tf

        tf.config.list_physical_devices()
