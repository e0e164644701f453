"""Training and inference speed of the course's models on this machine, against its FLOP limit.

For each model: images/s for a few training steps (``fit`` on random data, after a warm-up)
and for inference (``predict``), the multiply-add FLOPs per image counted from the layers
(2 × multiply-adds of every convolution and dense layer; training ≈ 3 × forward), the
GFLOP/s those rates imply, and that as a share of the best rate a large float32 matrix
product reaches here. Prints figures; it is not a test.

    python bench/bench_models.py [--sizes 64 69] [--batch 32] [--steps 12] [--repeats 3]
    python bench/bench_models.py --compare-onednn   # the same, with oneDNN off and on
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable

import galaxylab  # noqa: F401  (sets the TensorFlow environment before TensorFlow loads)

# isort: split
import keras
import numpy as np
import tensorflow as tf

from galaxylab import metrics, models


def _spatial(shape: tuple) -> int:
    return int(np.prod(shape[1:-1]))


def _layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer, descending into nested models (a transfer model's backbone)."""
    out = []
    for layer in model.layers:
        out.extend(_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return out


def forward_flops(model: keras.Model) -> int:
    """FLOPs of one image's forward pass: 2 × multiply-adds of conv and dense layers."""
    total = 0
    for layer in _layers(model):
        if isinstance(layer, keras.layers.SeparableConv2D):
            k = int(np.prod(layer.kernel_size))
            c_in = layer.depthwise_kernel.shape[2]
            total += 2 * _spatial(layer.output.shape) * c_in * (
                k * layer.depth_multiplier + layer.depth_multiplier * layer.filters
            )
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            k = int(np.prod(layer.kernel_size))
            total += 2 * _spatial(layer.output.shape) * layer.output.shape[-1] * k
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, c_in, c_out = layer.kernel.shape
            total += 2 * _spatial(layer.output.shape) * kh * kw * c_in * c_out
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * int(np.prod(layer.kernel.shape))
    return total


def matmul_gflops(n: int = 4096, repeats: int = 8) -> float:
    """Best GFLOP/s of an n×n float32 matrix product (the machine's practical limit)."""
    a = tf.random.normal((n, n), seed=1)
    b = tf.random.normal((n, n), seed=2)
    product = tf.function(lambda a, b: tf.reduce_sum(tf.linalg.matmul(a, b)))
    product(a, b).numpy()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def _best_rate(work: Callable[[], object], n_images: int, repeats: int) -> float:
    """Images/s of the fastest of ``repeats`` runs (the machine is shared: the best is the least
    disturbed)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return n_images / best


def images_per_second(
    model: keras.Model, batch: int, steps: int, warmup: int, repeats: int
) -> tuple[float, float]:
    """(training, inference) images/s on random data, each timed after a warm-up."""
    rng = np.random.default_rng(0)
    x = rng.random((batch * steps, *model.input_shape[1:]), dtype=np.float32)
    if model.output_shape[-1] == 3:
        y = rng.integers(0, 3, len(x))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    else:
        y = rng.random((len(x), model.output_shape[-1]), dtype=np.float32)
        model.compile(optimizer="adam", loss=metrics.masked_mse)
    model.fit(x[: batch * warmup], y[: batch * warmup], batch_size=batch, verbose=0)
    train = _best_rate(lambda: model.fit(x, y, batch_size=batch, verbose=0), len(x), repeats)
    model.predict(x[: batch * warmup], batch_size=batch, verbose=0)
    infer = _best_rate(lambda: model.predict(x, batch_size=batch, verbose=0), len(x), repeats)
    return train, infer


MODELS = {
    "three-class CNN": lambda shape: models.three_class_cnn(shape),
    "small regressor": lambda shape: models.tree_regressor(shape),
    "alexnet regressor": lambda shape: models.tree_regressor(shape, architecture="alexnet"),
}


def run(sizes: list[int], batch: int, steps: int, warmup: int, repeats: int) -> None:
    """Measure every model at every size and print one table."""
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '(unset)')}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    peak = matmul_gflops()
    print(f"best 4096x4096 float32 matmul: {peak:.1f} GFLOP/s")
    header = (
        f"{'model':<18} {'px':>3} {'params':>9} {'MFLOP/img':>9} {'train img/s':>11} "
        f"{'GFLOP/s':>7} {'%peak':>5} {'infer img/s':>11} {'GFLOP/s':>7} {'%peak':>5}"
    )
    print(f"batch {batch}, best of {repeats} runs of {steps} steps, after {warmup} warm-up steps")
    print(header)
    print("-" * len(header))
    for size in sizes:
        for name, make in MODELS.items():
            keras.backend.clear_session()
            keras.utils.set_random_seed(0)
            model = make((size, size, 3))
            flops = forward_flops(model)
            train, infer = images_per_second(model, batch, steps, warmup, repeats)
            train_rate, infer_rate = 3 * flops * train / 1e9, flops * infer / 1e9
            print(
                f"{name:<18} {size:>3} {model.count_params():>9,} {flops / 1e6:>9.1f} "
                f"{train:>11.1f} {train_rate:>7.1f} {100 * train_rate / peak:>5.1f} "
                f"{infer:>11.1f} {infer_rate:>7.1f} {100 * infer_rate / peak:>5.1f}"
            )
    print(f"load average at the end {os.getloadavg()[0]:.2f} (the machine is shared)")


def main() -> None:
    """Parse arguments; with --compare-onednn run the benchmark once per oneDNN setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare-onednn", action="store_true")
    args = parser.parse_args()
    if not args.compare_onednn:
        run(args.sizes, args.batch, args.steps, args.warmup, args.repeats)
        return
    rest = [a for a in sys.argv[1:] if a != "--compare-onednn"]
    for setting in ("0", "1"):
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": setting, "TF_CPP_MIN_LOG_LEVEL": "2"}
        done = subprocess.run(
            [sys.executable, __file__, *rest], env=env, stderr=subprocess.PIPE, text=True
        )
        if done.returncode:
            sys.exit(done.stderr)
        print()


if __name__ == "__main__":
    main()
