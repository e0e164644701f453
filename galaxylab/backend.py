"""TensorFlow as the package runs it: imported without start-up noise, on all GPUs when there
are any, else on the CPU unchanged.

TensorFlow 2.21 writes CUDA-probing and oneDNN lines through absl before its logging is set up,
so ``TF_CPP_MIN_LOG_LEVEL`` alone does not hold them back; in a notebook they would show as red
text under the first import cell, and on the command line they would bury the one line that
matters. Python-level errors are not affected: they are raised.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf


def cpu_budget() -> int:
    """How many CPUs this process may really use: the CPUs it is pinned to, capped by a
    container's CPU quota (Binder and JupyterHub limit a student to one or two CPUs of a big
    machine with a cgroup quota that os.cpu_count() does not see)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cores, quota) if quota else cores)


def _cgroup_quota() -> int | None:
    """The CPU quota of this process's cgroup, rounded up to whole CPUs, if one is set."""
    try:
        limit, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]  # cgroup v2
        if limit == "max":
            return None
        return math.ceil(int(limit) / int(period))
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        length = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return math.ceil(quota / length) if quota > 0 and length > 0 else None


def quiet_environment() -> None:
    """Silence TensorFlow's C++ log, unless the user chose otherwise: what it logs at "error"
    level in the course is advice (e.g. oneDNN falling back to Eigen for uint8 resizing), and
    a real failure still reaches Python as an exception."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


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
    """Import TensorFlow and probe its devices (where CUDA complains) with stderr muted, once.

    Where a container gives this process fewer CPUs than the machine has (Binder), TensorFlow's
    thread pools are sized to the CPUs it may use, not to the machine's.
    """
    quiet_environment()
    if "tensorflow" in sys.modules:
        return
    with stderr_muted():
        import tensorflow as tf

        if cpu_budget() < (os.cpu_count() or 1):
            tf.config.threading.set_intra_op_parallelism_threads(cpu_budget())
            tf.config.threading.set_inter_op_parallelism_threads(cpu_budget())
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


#: ``GALAXYLAB_PRECISION`` chooses the dtype policy of training on a CPU. ``auto`` (the default)
#: trains with bfloat16 arithmetic and float32 weights ("mixed_bfloat16") where the CPU has
#: bfloat16 units (Intel AMX or AVX512-BF16), about 1.2-1.35x the images per second with
#: validation losses inside seed noise, and in float32 elsewhere, where bfloat16 is emulated
#: and much slower. ``float32`` and ``mixed_bfloat16`` force one. Saved models compute in
#: float32 whatever trained them (:func:`galaxylab.models.saving.portable_copy`).
PRECISION_ENV = "GALAXYLAB_PRECISION"
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
#: /proc/cpuinfo flags of CPU units that compute bfloat16 matrix products natively.
BFLOAT16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
CPUINFO = Path("/proc/cpuinfo")


def cpu_has_bfloat16(cpuinfo: Path = CPUINFO) -> bool:
    """Whether this CPU reports native bfloat16 units (Linux; False where it cannot tell)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return not BFLOAT16_FLAGS.isdisjoint(line.partition(":")[2].split())
    return False


def cpu_precision() -> str:
    """The dtype policy training uses on a CPU: :data:`PRECISION_ENV`'s choice, ``auto``
    resolved by :func:`cpu_has_bfloat16`."""
    precision = os.environ.get(PRECISION_ENV, "auto").strip() or "auto"
    if precision not in PRECISIONS:
        from galaxylab.errors import GalaxyLabError

        raise GalaxyLabError(
            f"{PRECISION_ENV}={precision!r}: choose one of {', '.join(PRECISIONS)}"
        )
    if precision == "auto":
        return "mixed_bfloat16" if cpu_has_bfloat16() else "float32"
    return precision


def strategy(mixed_precision: bool = True) -> tf.distribute.Strategy:
    """A MirroredStrategy over all GPUs (and the "mixed_float16" policy), else the default.

    This sets Keras' global dtype policy, so call it before building the model (and see
    :func:`policy_kept` to undo it); the models' output layers stay float32 so softmax and the
    decision-tree layer are exact enough. On a CPU-only machine the default strategy is
    returned, with the policy of :func:`cpu_precision`.
    """
    import keras
    import tensorflow as tf

    if not gpus():
        keras.mixed_precision.set_global_policy(cpu_precision())
        return tf.distribute.get_strategy()
    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    return tf.distribute.MirroredStrategy()


@contextmanager
def policy_kept() -> Iterator[None]:
    """Restore Keras' global dtype policy on leaving: a model trained in mixed precision from a
    notebook leaves the lesson's own networks in float32."""
    import keras

    before = keras.mixed_precision.global_policy()
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)
