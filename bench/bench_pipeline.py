"""Training speed with the input pipeline decoding every image in every epoch, and decoding it
once into a cache; and the epoch-start stall of Keras ``fit`` with tf.data autotune on and off.

For each source, the task's default network (three-class CNN, or the small decision-tree
regressor) is fitted for a few epochs in a fresh child process per setting, on the source's
training galaxies with augmentation and shuffling as ``galaxylab train`` does; each epoch's
wall time gives its training images per second. The first epoch fills the cache; the figure
that matters is the later epochs'.

    .venv/bin/python bench/bench_pipeline.py                    # built-in samples + a universe
    .venv/bin/python bench/bench_pipeline.py --data gz1-desi --epochs 4
    .venv/bin/python bench/bench_pipeline.py --stall            # autotune on vs off
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

#: Sources measured by default: the two built-in real samples and a synthetic universe.
DEFAULT_SOURCES = ("kaggle-sample", "gz1-desi", "universe-2000")


def _source(name: str) -> tuple[str, str]:
    """(source path or name, task) for a source argument; "universe-N" builds that universe."""
    from galaxylab import datasets, labels

    if name.startswith("universe-"):
        path = str(datasets.universe_folder(n=int(name.split("-")[1]), seed=0, progress=False))
        return path, "decision-tree"
    catalog = datasets.load(name, check_images=False)
    task = "decision-tree" if labels.known_label_columns(catalog) else "three-class"
    return name, task


def fit_worker(
    data: str, task: str, epochs: int, image_size: int, cache: bool, autotune: bool
) -> dict:
    """Fit the task's network; per epoch, its wall time and the wait before the first batch."""
    import keras

    from galaxylab import backend, datasets, labels, models, pipeline
    from galaxylab.preprocessing import Preprocessing
    from galaxylab.train import fit, split_targets

    backend.import_tensorflow_quietly()
    catalog, targets = labels.targets(task, datasets.load(data, check_images=False))
    train, val, _ = split_targets(catalog, targets, seed=0, fractions=(0.8, 0.1, 0.1))
    prep = Preprocessing(image_size=image_size)
    options = dict(preprocessing=prep, batch_size=32, cache=cache, autotune=autotune)
    train_ds = pipeline.make_dataset(
        train.catalog, train.targets, augment=True, shuffle=True, **options
    )
    val_ds = pipeline.make_dataset(val.catalog, val.targets, **options)

    class Timer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[dict] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.begin, self.first = time.perf_counter(), None

        def on_train_batch_end(self, batch, logs=None):
            if self.first is None:
                self.first = time.perf_counter() - self.begin

        def on_epoch_end(self, epoch, logs=None):
            self.rows.append(
                {"first_batch_s": self.first, "epoch_s": time.perf_counter() - self.begin}
            )

    keras.utils.set_random_seed(0)
    model = fit.compile_for(models.build(task, prep.input_shape), task)
    timer = Timer()
    model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, verbose=0, shuffle=False, callbacks=[timer]
    )
    n = len(train.catalog)
    return {
        "n_train": n,
        "epoch_s": [r["epoch_s"] for r in timer.rows],
        "first_batch_s": [r["first_batch_s"] for r in timer.rows],
        "images_per_s": [n / r["epoch_s"] for r in timer.rows],
    }


def _child(data: str, task: str, args: argparse.Namespace, cache: bool, autotune: bool) -> dict:
    """Run :func:`fit_worker` in a fresh interpreter (a fresh TensorFlow, no shared cache)."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        json.dumps(
            {
                "data": data,
                "task": task,
                "epochs": args.epochs,
                "image_size": args.image_size,
                "cache": cache,
                "autotune": autotune,
            }
        ),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"worker failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(lines[-1])


def main() -> None:
    """Print images/s per epoch for each source with the cache off and on (or the stall)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        nargs="+",
        default=list(DEFAULT_SOURCES),
        help="sources: a folder, a built-in name, or universe-N",
    )
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument(
        "--stall",
        action="store_true",
        help="compare tf.data autotune on and off (cache on) instead",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(fit_worker(**json.loads(args.worker))))
        return
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {args.epochs} epochs "
        f"at {args.image_size} px, batch 32; images/s = training images / epoch wall time"
    )
    settings = (
        [("autotune off", True, False), ("autotune on", True, True)]
        if args.stall
        else [("decode every epoch", False, False), ("decode once (cache)", True, False)]
    )
    for name in args.data:
        data, task = _source(name)
        rates = {}
        for label, cache, autotune in settings:
            row = _child(data, task, args, cache, autotune)
            later = row["images_per_s"][1:] or row["images_per_s"]
            rates[label] = float(np.median(later))
            waits = ", ".join(f"{w:.2f}" for w in row["first_batch_s"])
            print(
                f"{name:14s} {task:13s} n_train={row['n_train']:5d}  {label:20s} epoch 1: "
                f"{row['images_per_s'][0]:6.0f} img/s, later epochs (median): "
                f"{rates[label]:6.0f} img/s; first-batch waits (s): {waits}",
                flush=True,
            )
        first, second = (rates[label] for label, _, _ in settings)
        print(
            f"{name:14s} later epochs: {settings[1][0]} / {settings[0][0]} = {second / first:.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
