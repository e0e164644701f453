"""Which backend, compiler, thread, batch and dtype settings train the course's small nets fastest.

Compares, side by side in one run, on the same two models (``three_class_cnn`` and the small
``tree_regressor``, 64x64x3 px) and the same synthetic data, the settings a course could choose:
today's (TensorFlow, oneDNN on, compiled-graph ``fit``, batch 32, BatchNorm by TensorFlow's
fused kernel), Keras' own unfused BatchNorm (the course's setting before the fused one),
``jit_compile=True`` (XLA), the JAX backend, TensorFlow's intra-/inter-op thread counts, batch
sizes 32/64/128, the ``mixed_bfloat16`` policy (fast where the CPU has bfloat16 units, such as
AMX-BF16), and combinations of these.

Each setting runs in a process of its own, because the backend (``KERAS_BACKEND``) and the
thread counts must be chosen before Keras / TensorFlow start. The process first trains each
model by a fixed recipe: the same in-memory tf.data pipeline (fixed seeds; smooth blobs whose
class depends on size and shape, and 37 targets in [0, 1] derived from the blob's parameters),
the same initial weights, a fixed number of epochs; so the final validation losses show whether
a setting changes the result. Today's setting is run four times (seeds 0, 1, 2 and 0 again):
the spread of its validation losses is the noise that "same result" is judged against.

The machine is shared, so the processes then wait, idle, and the parent times them one at a
time in interleaved rounds; each process holds 1-2 GB, so only a group of a few is alive at
once, and each group starts with one of today's runs, which its speeds are compared with.
Training images/s is an epoch's steps without its validation pass (the epochs of the recipe
after the first, which compiles, and one epoch per round); inference images/s is ``predict``
after a warm-up call; best and median of those. The share of the machine's peak counts 2 x the
multiply-adds of every convolution and dense layer (training = 3 x forward) against the best
4096x4096 float32 matmul, measured once per round.

The first run of today's setting also measures what limits the speed: the tf.data pipeline on
its own, ``fit`` on one constant batch (no input work), step time at batch 1 (fixed
per-step overhead vs work per image; also for XLA, JAX and bf16), the convolutions and
poolings alone against the whole forward pass, and memory-copy bandwidth. Prints figures; it
is not a test.

    python bench/bench_models.py                 # every default setting
    python bench/bench_models.py --quick         # fewer images and settings, a few minutes
    python bench/bench_models.py --only today jax bf16
    python bench/bench_models.py --list          # the settings and what they set
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace

# The parent process only starts children and prints; NumPy is all it imports at the top.
import numpy as np


@dataclass(frozen=True)
class Setting:
    """One configuration, run in its own child process."""

    backend: str = "tensorflow"
    jit: bool = False
    batch: int = 32
    bf16: bool = False
    threads: tuple[int, int] | None = None  # (intra-op, inter-op); None = TensorFlow's default
    keras_bn: bool = False  # Keras' own BatchNormalization instead of the fused one
    seed: int = 0
    analyse: bool = False  # also measure input pipeline, step overhead, conv share, bandwidth
    overhead: bool = False  # also measure step time at tiny batches
    note: str = ""


TODAY = Setting(analyse=True, overhead=True, note="today's setting: the reference")

#: Every setting by name, in the order a default run measures them; OPTIONAL ones run only
#: when named with --only.
SETTINGS: dict[str, Setting] = {
    "today": TODAY,
    "keras-bn": Setting(
        keras_bn=True, overhead=True, note="Keras' own BatchNorm (unfused): before"
    ),
    "bf16+keras-bn": Setting(bf16=True, keras_bn=True, note="bf16 policy, Keras' own BatchNorm"),
    "jit": Setting(jit=True, overhead=True, note="jit_compile=True (XLA on CPU)"),
    "jax": Setting(backend="jax", overhead=True, note="KERAS_BACKEND=jax (XLA), same tf.data"),
    "bf16": Setting(bf16=True, overhead=True, note='set_global_policy("mixed_bfloat16")'),
    "today-seed1": replace(TODAY, seed=1, analyse=False, overhead=False, note="noise: seed 1"),
    "threads-2-1": Setting(threads=(2, 1), note="intra-op 2, inter-op 1"),
    "threads-1-1": Setting(threads=(1, 1), note="intra-op 1, inter-op 1"),
    "threads-2-2": Setting(threads=(2, 2), note="intra-op 2, inter-op 2"),
    "today-seed2": replace(TODAY, seed=2, analyse=False, overhead=False, note="noise: seed 2"),
    "batch64": Setting(batch=64, note="batch 64"),
    "batch128": Setting(batch=128, note="batch 128"),
    "bf16+batch128": Setting(bf16=True, batch=128, note="bf16 policy, batch 128"),
    "today-again": replace(TODAY, analyse=False, overhead=False, note="seed 0 again: drift"),
    "bf16+jit": Setting(bf16=True, jit=True, note="bf16 policy and XLA"),
    # optional
    "jit+batch128": Setting(jit=True, batch=128, note="XLA, batch 128"),
    "jax+batch128": Setting(backend="jax", batch=128, note="JAX, batch 128"),
    "jax+bf16": Setting(backend="jax", bf16=True, note="JAX with the bf16 policy"),
    "bf16+batch64": Setting(bf16=True, batch=64, note="bf16 policy, batch 64"),
    "bf16+threads-2-1": Setting(bf16=True, threads=(2, 1), note="bf16, intra 2, inter 1"),
}
OPTIONAL = ("jit+batch128", "jax+batch128", "jax+bf16", "bf16+batch64", "bf16+threads-2-1")
QUICK = ("today", "keras-bn", "bf16+keras-bn", "jit", "jax", "bf16", "today-seed1")
#: The course's setting before BatchNorm was fused: what the speed-ups are measured against.
BEFORE = "keras-bn"
#: Runs of today's setting. Each starts a group of settings that are alive at the same time
#: (a few, as each process holds 1-2 GB) and timed in interleaved rounds; the group's speeds
#: are compared with its own run of today's setting.
NOISE = ("today", "today-seed1", "today-seed2", "today-again")


def groups(names: list[str]) -> list[list[str]]:
    """``names`` cut before each run of today's setting (the first group may have none)."""
    out: list[list[str]] = []
    for name in names:
        if name in NOISE or not out:
            out.append([])
        out[-1].append(name)
    return out


@dataclass
class Sizes:
    """How much work each setting does per model."""

    n_train: int = 1024
    n_val: int = 512
    epochs: int = 3  # of the fixed training; the first compiles, the others are timed
    sample_images: int = 512  # per interleaved timing sample (one training epoch)
    rounds: int = 2  # interleaved timing samples per setting, after the fixed training
    overhead_steps: int = 12
    overhead: bool = True  # tiny-batch step times for the settings that ask (else today only)


QUICK_SIZES = Sizes(
    n_train=256,
    n_val=256,
    epochs=2,
    sample_images=256,
    rounds=1,
    overhead_steps=8,
    overhead=False,
)
MODEL_NAMES = ("three-class CNN", "small regressor")
#: Adam's learning rate: at 1e-3 the inference-mode validation loss of these BatchNorm nets
#: jumps from epoch to epoch after so few steps, which would hide any real difference.
LEARNING_RATE = 1e-4
SIZE = 64


# --------------------------------------------------------------------------- synthetic data


def synthetic_data(n: int, seed: int = 1234) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth 64 px blobs in [0, 1]: images, class labels and 37 targets in [0, 1].

    Class 0 is a compact round blob, 1 an extended round one, 2 an elongated one at a random
    angle, each at a random position, brightness and colour over a little noise; so the class
    can only be read from size and shape. The 37 regression targets are fixed random sigmoid
    mixtures of the blob's parameters (size, axis ratio, orientation, brightness, class).
    """
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 3, n)
    small, large = rng.uniform(2.5, 5.0, n), rng.uniform(6.0, 9.0, n)
    major = np.where(label == 0, small, large)
    minor = np.where(label == 2, major * rng.uniform(0.35, 0.6, n), major)
    angle = rng.uniform(0, np.pi, n)
    amp = rng.uniform(0.4, 0.9, n)
    centre = SIZE / 2 + rng.uniform(-6, 6, (n, 2))
    colour = rng.uniform(0.7, 1.0, (n, 3))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    dx = xx[None] - centre[:, 0, None, None]
    dy = yy[None] - centre[:, 1, None, None]
    c, s = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u, v = c * dx + s * dy, -s * dx + c * dy
    blob = amp[:, None, None] * np.exp(
        -0.5 * ((u / major[:, None, None]) ** 2 + (v / minor[:, None, None]) ** 2)
    )
    images = blob[..., None] * colour[:, None, None, :]
    images += rng.normal(0, 0.07, images.shape)
    images = np.clip(images, 0, 1).astype(np.float32)
    ratio = minor / major
    features = np.stack(
        [
            np.log(major),
            ratio,
            (1 - ratio) * np.cos(2 * angle),
            (1 - ratio) * np.sin(2 * angle),
            amp,
            label == 0,
            label == 1,
        ],
        axis=1,
    ).astype(np.float64)
    features = (features - features.mean(0)) / features.std(0)
    weights = np.random.default_rng(seed + 1).normal(0, 1, (features.shape[1], 37))
    targets = 1 / (1 + np.exp(-(features @ weights)))
    return images, label.astype(np.int32), targets.astype(np.float32)


# --------------------------------------------------------------------------- the child


class _Worker:
    """One setting in its own process: both models built from the shared initial weights,
    trained once by the fixed recipe, then timed on request (see :func:`_child_main`)."""

    def __init__(self, setting: Setting, sizes: Sizes, weights_dir: str) -> None:
        os.environ["KERAS_BACKEND"] = setting.backend
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        if setting.threads is not None:  # must precede TensorFlow's first op
            tf.config.threading.set_intra_op_parallelism_threads(setting.threads[0])
            tf.config.threading.set_inter_op_parallelism_threads(setting.threads[1])
        import keras

        from galaxylab.models.cnn import three_class_cnn, tree_regressor
        from galaxylab.models.saving import with_keras_batchnorm

        assert keras.backend.backend() == setting.backend
        self.tf, self.keras, self.setting, self.sizes = tf, keras, setting, sizes
        keras.utils.set_random_seed(setting.seed)  # also seeds tf.data's shuffle
        if setting.bf16:  # a global policy: after any clear_session, before the models
            keras.mixed_precision.set_global_policy("mixed_bfloat16")
        n = sizes.n_train + sizes.n_val
        self.images, labels, targets = synthetic_data(n)
        self.info = {
            "versions": f"TensorFlow {tf.__version__}, Keras {keras.__version__}"
            + (f", JAX {__import__('jax').__version__}" if setting.backend == "jax" else ""),
            "threads": [
                tf.config.threading.get_intra_op_parallelism_threads(),
                tf.config.threading.get_inter_op_parallelism_threads(),
            ],
            "policy": keras.config.dtype_policy().name,
        }
        self.models = {}
        for name, make, y, loss in (
            ("three-class CNN", three_class_cnn, labels, "sparse_categorical_crossentropy"),
            ("small regressor", tree_regressor, targets, "mse"),
        ):
            model = make((SIZE, SIZE, 3))
            if setting.keras_bn:
                model = with_keras_batchnorm(model)
            _shared_initial_weights(model, os.path.join(weights_dir, f"{model.name}.npz"))
            extra = {"jit_compile": True} if setting.jit else {}
            if loss != "mse":
                extra["metrics"] = ["accuracy"]
            model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss=loss, **extra)
            self.models[name] = {
                "model": model,
                "y": y,
                "train": self._pipeline(y, 0, sizes.n_train, shuffle=True),
                "val": self._pipeline(y, sizes.n_train, n),
                "sample": self._pipeline(y, 0, sizes.sample_images, shuffle=True),
                "infer": self._pipeline(None, 0, sizes.n_train),
            }

    def _pipeline(self, y, start: int, stop: int, shuffle: bool = False, batch: int = 0):
        """A tf.data pipeline over in-memory arrays, as a course would write it."""
        tf = self.tf
        data = self.images[start:stop] if y is None else (self.images[start:stop], y[start:stop])
        ds = tf.data.Dataset.from_tensor_slices(data)
        if shuffle:
            ds = ds.shuffle(stop - start, seed=7, reshuffle_each_iteration=True)
        return ds.batch(batch or self.setting.batch).prefetch(tf.data.AUTOTUNE)

    def quality(self) -> dict:
        """Train each model by the fixed recipe; final losses, epoch times, then a warm-up
        predict so that later predict timings exclude compilation."""
        out = {}
        for name, m in self.models.items():
            model, timer = m["model"], _EpochTimer(self.keras)
            start = time.perf_counter()
            history = model.fit(
                m["train"],
                validation_data=m["val"],
                epochs=self.sizes.epochs,
                callbacks=[timer],
                verbose=0,
            )
            fit_s = time.perf_counter() - start
            model.predict(m["infer"], verbose=0)  # compiles
            start = time.perf_counter()
            model.predict(m["infer"], verbose=0)
            predict_s = time.perf_counter() - start
            out[name] = {
                "params": model.count_params(),
                "mflop": forward_flops(model) / 1e6,
                "act_mb": activation_bytes(model) / 1e6,
                "train_ips": [self.sizes.n_train / t for t in timer.times[1:]],
                "infer_ips": [self.sizes.n_train / predict_s],
                "first_epoch_s": timer.times[0],
                "fit_s": fit_s,
                "val_loss": [float(v) for v in history.history["val_loss"]],
                "val_accuracy": [float(v) for v in history.history.get("val_accuracy", [])],
                "train_loss": [float(v) for v in history.history["loss"]],
            }
        return out

    def sample(self) -> dict:
        """One timed training epoch over ``sample_images`` and one timed predict, per model."""
        out = {}
        for name, m in self.models.items():
            timer = _EpochTimer(self.keras)
            m["model"].fit(m["sample"], epochs=1, callbacks=[timer], verbose=0)
            start = time.perf_counter()
            m["model"].predict(m["infer"], verbose=0)
            predict_s = time.perf_counter() - start
            out[name] = {
                "train_ips": self.sizes.sample_images / timer.times[0],
                "infer_ips": self.sizes.n_train / predict_s,
            }
        return out

    def peak(self) -> float:
        """Best float32 4096^2 matmul GFLOP/s now (asked for in every round: the machine is
        shared, so the peak is the best of several moments)."""
        return _matmul_gflops(self.tf, "float32", 3)

    def overhead(self) -> dict:
        """Train and predict ms per step at batch 1 (that shape compiled first)."""
        out = {}
        steps, tf = self.sizes.overhead_steps, self.tf
        for name, m in self.models.items():
            train, infer = {}, {}
            for b in (1,):
                x_b, y_b = self.images[: b * steps], m["y"][: b * steps]
                ds = tf.data.Dataset.from_tensor_slices((x_b, y_b)).batch(b)
                ds = ds.prefetch(tf.data.AUTOTUNE)
                times = _timed(lambda ds=ds, m=m: m["model"].fit(ds, epochs=1, verbose=0), 2)
                train[b] = 1000 * min(times) / steps
                ds_x = tf.data.Dataset.from_tensor_slices(x_b).batch(b)
                times = _timed(lambda ds=ds_x, m=m: m["model"].predict(ds, verbose=0), 2)
                infer[b] = 1000 * min(times) / steps
            out[name] = {"train_ms": train, "infer_ms": infer}
        return out

    def analysis(self) -> dict:
        """Machine limits, input-pipeline cost and the convolutions' share (today only)."""
        out = {"machine": _machine(self.tf), "models": {}}
        batch, steps = self.setting.batch, self.sizes.overhead_steps
        for name, m in self.models.items():
            r = {
                "input": _input_cost(
                    m["model"], m["train"], self.images, m["y"], batch, steps, self.tf
                )
            }
            if name == "three-class CNN":
                r["conv"] = _conv_share(m["model"], self.images[:batch], self.tf)
            out["models"][name] = r
        return out


def _child_main(payload: dict, weights_dir: str) -> None:
    """Serve one setting: build it, train it by the recipe, then answer timing commands.

    Commands arrive one JSON line at a time on stdin and each answer is one JSON line on the
    original stdout; everything the libraries print goes to stderr instead. While it waits
    for a command the process uses no CPU, so the parent can time one setting at a time and
    interleave the settings' repeats.
    """
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    s = payload["setting"]
    s["threads"] = tuple(s["threads"]) if s["threads"] else None
    worker = _Worker(Setting(**s), Sizes(**payload["sizes"]), weights_dir)
    answers.write(json.dumps({"info": worker.info, "quality": worker.quality()}) + "\n")
    answers.flush()
    for line in sys.stdin:
        op = line.strip()
        if op == "exit":
            break
        start = time.perf_counter()
        result = getattr(worker, op)()
        answers.write(json.dumps({op: result, "seconds": time.perf_counter() - start}) + "\n")
        answers.flush()


def _EpochTimer(keras):  # noqa: N802  (a class factory: keras is imported in the child only)
    """A callback timing each epoch's training steps, up to (not including) validation.

    It defines no batch hooks, so Keras keeps dispatching steps asynchronously (JAX); at the
    end of the steps it reads one weight, which waits for the last step to finish.
    """

    class Timer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []
            self._start: float | None = None

        def on_epoch_begin(self, epoch, logs=None) -> None:
            self._start = time.perf_counter()

        def on_test_begin(self, logs=None) -> None:
            if self._start is None:
                return
            keras.ops.convert_to_numpy(self.model.trainable_variables[0])
            self.times.append(time.perf_counter() - self._start)
            self._start = None

        def on_epoch_end(self, epoch, logs=None) -> None:
            self.on_test_begin()  # an epoch without validation

    return Timer()


def _shared_initial_weights(model, path: str) -> None:
    """Give every child the same initial weights: the first saves its own, the rest load them."""
    if os.path.exists(path):
        with np.load(path) as saved:
            model.set_weights([saved[f"arr_{i}"] for i in range(len(saved.files))])
    else:
        np.savez(path, *model.get_weights())


def _spatial(shape: tuple) -> int:
    return int(np.prod(shape[1:-1]))


def forward_flops(model) -> int:
    """FLOPs of one image's forward pass: 2 x multiply-adds of conv and dense layers."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            kh, kw, c_in, c_out = layer.kernel.shape
            total += 2 * _spatial(layer.output.shape) * kh * kw * c_in * c_out
        elif kind == "Dense":
            total += 2 * int(np.prod(layer.kernel.shape))
    return total


def activation_bytes(model) -> int:
    """Bytes of one image's layer outputs in float32 (each is written once and read again)."""
    return 4 * sum(int(np.prod(layer.output.shape[1:])) for layer in model.layers[1:])


def _timed(fn, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _matmul_gflops(tf, dtype: str, repeats: int) -> float:
    """Best GFLOP/s of a 4096x4096 matrix product in ``dtype`` (the practical FLOP limit)."""
    n = 4096
    a = tf.cast(tf.random.normal((n, n), seed=1), dtype)
    b = tf.cast(tf.random.normal((n, n), seed=2), dtype)
    product = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.linalg.matmul(a, b), "float32")))
    return 2 * n**3 / min(_timed(lambda: product(a, b).numpy(), repeats)) / 1e9


def _machine(tf) -> dict:
    """Best matmul GFLOP/s in float32 and bfloat16, and NumPy copy bandwidth."""
    out = {f"matmul_{d}": _matmul_gflops(tf, d, 6) for d in ("float32", "bfloat16")}
    src = np.ones(64 * 2**20, np.float32)  # 256 MB, far beyond the caches
    dst = np.empty_like(src)
    out["copy_gbs"] = 2 * src.nbytes / min(_timed(lambda: np.copyto(dst, src), 5)) / 1e9
    return out


def _input_cost(model, train, images, y, batch: int, steps: int, tf) -> dict:
    """Images/s of the training pipeline alone, and of ``steps`` fit steps on it vs on one
    constant batch (no input work at all)."""
    n = steps * batch
    part = train.take(steps)
    tensors_s = min(_timed(lambda: [None for _ in part], 3))
    numpy_s = min(_timed(lambda: [None for _ in part.as_numpy_iterator()], 3))
    constant = tf.data.Dataset.from_tensors((images[:batch], y[:batch])).repeat(steps)
    model.fit(constant, epochs=1, verbose=0)
    fit_part = min(_timed(lambda: model.fit(part, epochs=1, verbose=0), 2))
    fit_constant = min(_timed(lambda: model.fit(constant, epochs=1, verbose=0), 2))
    return {
        "pipeline_ips": n / tensors_s,
        "numpy_ips": n / numpy_s,
        "fit_constant_ips": n / fit_constant,
        "fit_pipeline_ips": n / fit_part,
    }


def _conv_share(model, x, tf) -> dict:
    """Forward images/s of the model vs its convolutions and poolings alone, float32 and bf16."""
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    out = {}
    for dtype in ("float32", "bfloat16"):
        kernels = [tf.cast(layer.kernel, dtype) for layer in convs]
        xs = tf.cast(tf.constant(x), dtype)

        @tf.function
        def chain(h, kernels=kernels):
            for k in kernels:
                h = tf.nn.max_pool2d(tf.nn.conv2d(h, k, 1, "SAME"), 2, 2, "VALID")
            return tf.reduce_sum(tf.cast(h, "float32"))

        best = min(_timed(lambda c=chain, xs=xs: c(xs).numpy(), 10))
        out[f"convs_{dtype}_ips"] = len(x) / best
    whole = tf.function(lambda h: tf.reduce_sum(model(h, training=False)))
    xs = tf.constant(x)
    out["model_ips"] = len(x) / min(_timed(lambda: whole(xs).numpy(), 10))
    conv_flops = sum(
        2 * _spatial(layer.output.shape) * int(np.prod(layer.kernel.shape)) for layer in convs
    )
    out["conv_mflop"] = conv_flops / 1e6
    return out


# --------------------------------------------------------------------------- the parent


class _Child:
    """A running setting: its process, waiting for commands once its fixed training is done."""

    def __init__(self, name: str, setting: Setting, sizes: Sizes, weights_dir: str) -> None:
        self.name = name
        self.log = tempfile.TemporaryFile("w+")
        payload = json.dumps({"setting": asdict(setting), "sizes": asdict(sizes)})
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": setting.backend}
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--child", payload, weights_dir],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        first = self._answer()
        self.info, self.quality = first["info"], first["quality"]

    def _answer(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.log.seek(0)
            raise RuntimeError(f"{self.name} failed:\n{self.log.read()[-3000:]}")
        return json.loads(line)

    def ask(self, op: str) -> dict:
        """Run one command in the child and return its answer."""
        self.proc.stdin.write(op + "\n")
        self.proc.stdin.flush()
        return self._answer()[op]

    def close(self) -> None:
        """Tell the child to finish (or end it if it does not), and drop its log."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("exit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.log.close()


def measure(names: list[str], sizes: Sizes, weights_dir: str) -> dict[str, dict]:
    """Measure each group of settings in turn; results per setting."""
    results: dict[str, dict] = {}
    for group in groups(names):
        print(f"group: {', '.join(group)}", flush=True)
        results.update(_measure_group(group, sizes, weights_dir))
        for name in group:
            if name in results:
                results[name]["group"] = group
    return results


def _measure_group(names: list[str], sizes: Sizes, weights_dir: str) -> dict[str, dict]:
    """Start each setting in turn (it runs the fixed training), then time the settings in
    interleaved rounds, one at a time, then the extra measurements."""
    children: dict[str, _Child] = {}
    results: dict[str, dict] = {}
    try:
        for name in names:
            start = time.perf_counter()
            try:
                child = _Child(name, SETTINGS[name], sizes, weights_dir)
            except RuntimeError as error:
                print(f"  {error}", flush=True)
                continue
            children[name] = child
            results[name] = {"info": child.info, "models": child.quality}
            summary = ", ".join(
                f"{m}: val loss {q['val_loss'][-1]:.4f}, {max(q['train_ips']):.0f} img/s"
                for m, q in child.quality.items()
            )
            print(
                f"  {name:<16} trained in {time.perf_counter() - start:4.0f} s  {summary}",
                flush=True,
            )
        for i in range(sizes.rounds):
            start = time.perf_counter()
            for name, child in children.items():
                if name in NOISE:
                    results[name].setdefault("peaks", []).append(child.ask("peak"))
                for model, sample in child.ask("sample").items():
                    r = results[name]["models"][model]
                    r["train_ips"].append(sample["train_ips"])
                    r["infer_ips"].append(sample["infer_ips"])
            print(f"  timing round {i + 1}: {time.perf_counter() - start:.0f} s", flush=True)
        start = time.perf_counter()
        for name, child in children.items():
            setting = SETTINGS[name]
            if setting.analyse or (setting.overhead and sizes.overhead):
                results[name]["overhead"] = child.ask("overhead")
            if setting.analyse:
                results[name]["analysis"] = child.ask("analysis")
        print(f"  overhead and analysis: {time.perf_counter() - start:.0f} s", flush=True)
    finally:
        for child in children.values():
            child.close()
    return results


def _med(values: list[float]) -> float:
    return statistics.median(values)


def report(results: dict[str, dict], sizes: Sizes) -> None:
    """Print the comparison table and the analysis of what limits the speed."""
    ref = results.get("today")
    machine = ref["analysis"]["machine"] if ref and "analysis" in ref else None
    peaks = [p for r in results.values() for p in r.get("peaks", [])]
    peak = (
        max(peaks + ([machine["matmul_float32"]] if machine else [])) if peaks or machine else None
    )
    noise_runs = [results[k] for k in NOISE if k in results]

    def ref_speed(name: str, model: str, key: str) -> float | None:
        """Best speed of the today-setting run in ``name``'s group (for those runs: the first)."""
        base = (
            [n for n in results[name]["group"] if n in NOISE and n != name]
            if name not in NOISE
            else []
        )
        base = base or (["today"] if ref else [])
        return max(results[base[0]]["models"][model][key]) if base else None

    # noise: spread of today's final validation loss over its seeds and repeats
    noise = {}
    for model in MODEL_NAMES:
        losses = [r["models"][model]["val_loss"][-1] for r in noise_runs]
        noise[model] = (min(losses), max(losses)) if len(losses) >= 2 else None

    print()
    print(
        f"{len(results)} settings; each: {sizes.n_train} training + {sizes.n_val} validation "
        f"images of {SIZE}x{SIZE}x3, {sizes.epochs} epochs from shared initial weights, "
        f"Adam {LEARNING_RATE:g}.\nSpeeds: best (median) of the {sizes.epochs - 1} epochs after "
        f"the first, plus {sizes.rounds} epoch(s) of {sizes.sample_images} images timed in "
        f"rounds interleaving all settings; inference: {sizes.rounds + 1} predict calls over "
        f"{sizes.n_train} images. x = best / best of the run of today's setting in the same group "
        f"(for those runs: / the first); %pk = share of the "
        f"float32 matmul peak (training counted as 3 x forward FLOPs)."
    )
    if machine:
        print(
            f"machine: {os.cpu_count()} CPUs; best 4096^2 matmul {peak:.0f} GFLOP/s float32 "
            f"(the %peak reference; best of {len(peaks) + 1} moments: "
            f"{', '.join(f'{p:.0f}' for p in [machine['matmul_float32'], *peaks])}), "
            f"{machine['matmul_bfloat16']:.0f} GFLOP/s "
            f"bfloat16; NumPy copy {machine['copy_gbs']:.1f} GB/s"
        )
    header = (
        f"{'setting':<16} {'model':<15} {'batch':>5} {'train img/s':>15} {'infer img/s':>15} "
        f"{'step ms':>7} {'%pk tr':>6} {'%pk inf':>7} {'x train':>7} {'x infer':>7} "
        f"{'val loss':>8} {'acc':>4}  same?"
    )
    print(header)
    print("-" * len(header))
    for model in MODEL_NAMES:
        for name, result in results.items():
            ref_train = ref_speed(name, model, "train_ips")
            ref_infer = ref_speed(name, model, "infer_ips")
            r = result["models"][model]
            setting = SETTINGS[name]
            tr, inf = r["train_ips"], r["infer_ips"]
            flops = r["mflop"] * 1e6
            pk_tr = f"{100 * 3 * flops * max(tr) / 1e9 / peak:6.1f}" if peak else f"{'':>6}"
            pk_inf = f"{100 * flops * max(inf) / 1e9 / peak:7.1f}" if peak else f"{'':>7}"
            x_tr = f"{max(tr) / ref_train:7.2f}" if ref_train else f"{'':>7}"
            x_inf = f"{max(inf) / ref_infer:7.2f}" if ref_infer else f"{'':>7}"
            loss = r["val_loss"][-1]
            acc = f"{100 * r['val_accuracy'][-1]:3.0f}%" if r["val_accuracy"] else f"{'':>4}"
            print(
                f"{name:<16} {model:<15} {setting.batch:>5} "
                f"{max(tr):>6.0f} ({_med(tr):>6.0f}) {max(inf):>6.0f} ({_med(inf):>6.0f}) "
                f"{1000 * setting.batch / max(tr):>7.1f} {pk_tr} {pk_inf} {x_tr} {x_inf} "
                f"{loss:>8.4f} {acc}  {_same(name, loss, noise[model])}"
            )
        print()
    _print_against_before(results)
    _print_noise(results, noise)
    _print_analysis(results)


def _print_against_before(results: dict[str, dict]) -> None:
    """Training and inference speed of each setting over the course's setting before the fused
    BatchNorm, both taken from the same group."""
    if BEFORE not in results:
        return
    group = results[BEFORE]["group"]
    print(f"against {BEFORE} ({SETTINGS[BEFORE].note}), best / best, same group:")
    for model in MODEL_NAMES:
        before = results[BEFORE]["models"][model]
        cells = [
            f"{name} {max(r['train_ips']) / max(before['train_ips']):.2f}x train, "
            f"{max(r['infer_ips']) / max(before['infer_ips']):.2f}x infer"
            for name, r in results.items()
            if name != BEFORE and name in group
            for r in [r["models"][model]]
        ]
        print(f"  {model}: " + "; ".join(cells))
    print()


def _same(name: str, loss: float, band: tuple[float, float] | None) -> str:
    """Whether a final validation loss lies within today's spread widened by that spread."""
    if name in NOISE:
        return "(noise run)"
    if band is None:
        return "?"
    low, high = band
    width = high - low
    verdict = "yes" if low - width <= loss <= high + width else "NO"
    if SETTINGS[name].batch != 32:
        verdict += " (other batch: other recipe)"
    return verdict


def _print_noise(results: dict[str, dict], noise: dict) -> None:
    print(
        "same result: a setting's final validation loss counts as the same when it lies within "
        "today's range over its noise runs, widened by that range on each side"
    )
    for model in MODEL_NAMES:
        runs = {k: results[k]["models"][model]["val_loss"][-1] for k in NOISE if k in results}
        if noise[model]:
            low, high = noise[model]
            values = ", ".join(f"{k} {v:.4f}" for k, v in runs.items())
            print(f"  {model}: today {values}; range {high - low:.4f}")
        first = results[NOISE[0]]["models"][model] if NOISE[0] in results else None
        if first:
            print(
                f"  {model}: validation loss by epoch (today): "
                + " ".join(f"{v:.4f}" for v in first["val_loss"])
                + "; training loss "
                + " ".join(f"{v:.4f}" for v in first["train_loss"])
            )
    if "today" in results and "today-again" in results:
        for model in MODEL_NAMES:
            a, b = (results[k]["models"][model] for k in ("today", "today-again"))
            print(
                f"  {model}: same seed twice: val loss {a['val_loss'][-1]:.6f} vs "
                f"{b['val_loss'][-1]:.6f}; best train img/s at start {max(a['train_ips']):.0f}, "
                f"at end {max(b['train_ips']):.0f} (drift of the shared machine)"
            )
    print()


def _print_analysis(results: dict[str, dict]) -> None:
    print("what limits the speed")
    print(
        "  ms per step at batch 1 and 32; a batch-1 step bounds the fixed per-step cost from "
        "above, so its share of a batch-32 step bounds the overhead there:"
    )
    for name, result in results.items():
        for model, r in result.get("overhead", {}).items():
            batch, speeds = SETTINGS[name].batch, result["models"][model]
            for kind in ("train", "infer"):
                pts = {int(k): v for k, v in r[f"{kind}_ms"].items()}
                pts[batch] = 1000 * batch / max(speeds[f"{kind}_ips"])
                pts = dict(sorted(pts.items()))
                cells = "  ".join(f"b{b}: {t:6.1f}" for b, t in pts.items())
                big = max(pts)
                per_image = (pts[big] - pts[1]) / (big - 1)
                print(
                    f"    {name:<6} {model:<15} {kind:<5} {cells}   "
                    f"{per_image:5.2f} ms per extra image; overhead <= "
                    f"{100 * pts[1] / pts[big]:3.0f}% of a batch-{big} step"
                )
    ref = results.get("today")
    if not ref or "analysis" not in ref:
        return
    for model, r in ref["analysis"]["models"].items():
        i = r.get("input")
        if i:
            print(
                f"  input, {model}: tf.data pipeline alone {i['pipeline_ips']:.0f} img/s "
                f"(as NumPy, as JAX reads it, {i['numpy_ips']:.0f}); fit on it "
                f"{i['fit_pipeline_ips']:.0f} img/s vs on one constant batch "
                f"{i['fit_constant_ips']:.0f} img/s"
            )
    for model, r in ref["analysis"]["models"].items():
        c = r.get("conv")
        if c:
            gf = {k: c[f"convs_{k}_ips"] * c["conv_mflop"] / 1e3 for k in ("float32", "bfloat16")}
            print(
                f"  forward at batch 32, {model}: whole model {c['model_ips']:.0f} img/s; its "
                f"convolutions + poolings alone {c['convs_float32_ips']:.0f} img/s float32 "
                f"({gf['float32']:.0f} GFLOP/s), {c['convs_bfloat16_ips']:.0f} img/s bfloat16 "
                f"({gf['bfloat16']:.0f} GFLOP/s)"
            )
    machine = ref["analysis"]["machine"]
    if machine:
        for model, r in ref["models"].items():
            traffic = 2 * r["act_mb"] * max(r["infer_ips"]) / 1e3
            print(
                f"  memory, {model}: {r['act_mb']:.1f} MB of float32 layer outputs per image; "
                f"inference writes and reads at least {traffic:.1f} GB/s of them "
                f"(NumPy copy reaches {machine['copy_gbs']:.1f} GB/s); {r['mflop']:.0f} MFLOP "
                f"per image = {r['mflop'] / r['act_mb']:.0f} FLOP per byte of outputs"
            )
    print()


def main() -> None:
    """Parse arguments; run the chosen settings, one child process each, and print the table."""
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child_main(json.loads(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and settings")
    parser.add_argument("--only", nargs="+", metavar="SETTING", choices=list(SETTINGS))
    parser.add_argument("--list", action="store_true", help="list the settings and exit")
    args = parser.parse_args()
    if args.list:
        for name, s in SETTINGS.items():
            flag = " (optional)" if name in OPTIONAL else ""
            print(f"{name:<18} {s.note}{flag}")
        return
    sizes = QUICK_SIZES if args.quick else Sizes()
    if args.only:
        names = [n for n in SETTINGS if n in args.only]
    else:
        names = list(QUICK) if args.quick else [n for n in SETTINGS if n not in OPTIONAL]
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"settings: {', '.join(names)}",
        flush=True,
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_models_") as weights_dir:
        results = measure(names, sizes, weights_dir)
    if not results:
        sys.exit("every setting failed")
    versions = {r["info"]["versions"] for r in results.values()}
    print(f"\n{'; '.join(sorted(versions))}")
    for name, r in results.items():
        info = r["info"]
        if SETTINGS[name].threads or SETTINGS[name].bf16 or name == "today":
            print(
                f"  {name}: TensorFlow threads (intra, inter) = {tuple(info['threads'])} "
                f"(0 = TensorFlow chooses), dtype policy {info['policy']}"
            )
    report(results, sizes)
    print(
        f"total {time.perf_counter() - start:.0f} s; load average at the end "
        f"{os.getloadavg()[0]:.2f} (the machine is shared)"
    )


if __name__ == "__main__":
    main()
