"""Training speed of ``galaxylab train``'s fit, per epoch: decoding every image in every epoch
(the old pipeline) and decoding once into a cache, both in float32; the cache with the
trainer's default precision (bfloat16 arithmetic where the CPU has bfloat16 units), and with
several training steps per call into TensorFlow (an option); or the epoch-start stall of
tf.data autotune.

For each source, the task's default network (three-class CNN, or the small decision-tree
regressor) is fitted for a few epochs by the trainer's own fit (``trainer.fit_split``: the
same datasets, augmentation, shuffling, checkpoints and callbacks as ``galaxylab train``),
in a fresh child process per setting. Each epoch's wall time, validation and callbacks
included, gives its training images per second. The first epoch fills the cache and builds
the graph; the figure that matters is the later epochs'. ``--repeat K`` trains on K copies of
every galaxy under new ids, so a 300-galaxy sample gives epochs of the size of the full
challenge data (``--repeat 12``: 2880 training galaxies, 90 steps of 32).

    .venv/bin/python bench/bench_pipeline.py                    # built-in samples + a universe
    .venv/bin/python bench/bench_pipeline.py --data kaggle-sample --repeat 12 --epochs 3
    .venv/bin/python bench/bench_pipeline.py --stall            # autotune on vs off
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

#: Steps per call into TensorFlow of the third setting (the trainer's default is one).
MANY_STEPS = 8
#: Sources measured by default: the two built-in real samples and a synthetic universe.
DEFAULT_SOURCES = ("kaggle-sample", "gz1-desi", "universe-2000")


@dataclass(frozen=True)
class Setting:
    """One way of feeding the fit: cache or not, steps per call, tf.data autotune, and the
    ``GALAXYLAB_PRECISION`` the child trains under (``auto``: the trainer's default)."""

    label: str
    cache: bool
    steps_per_execution: int
    autotune: bool = False
    precision: str = "auto"


def _settings(stall: bool) -> list[Setting]:
    if stall:
        return [
            Setting("autotune off", True, 1),
            Setting("autotune on", True, 1, autotune=True),
        ]
    return [
        Setting("decode every epoch, f32", False, 1, precision="float32"),
        Setting("decode once, f32", True, 1, precision="float32"),
        Setting("decode once, default", True, 1),
        Setting(f"default + {MANY_STEPS} steps/call", True, MANY_STEPS),
    ]


def _source(name: str) -> tuple[str, str]:
    """(source path or name, task) for a source argument; "universe-N" builds that universe."""
    from galaxylab import datasets, labels

    if name.startswith("universe-"):
        path = str(datasets.universe_folder(n=int(name.split("-")[1]), seed=0, progress=False))
        return path, "decision-tree"
    catalog = datasets.load(name, check_images=False)
    task = "decision-tree" if labels.known_label_columns(catalog) else "three-class"
    return name, task


def _repeated(catalog, targets, times: int):
    """``times`` copies of every galaxy (same image file, new id), as one larger catalog."""
    import pandas as pd

    if times == 1:
        return catalog, targets
    copies = []
    for k in range(times):
        copy = catalog.copy()
        copy["id"] = copy["id"].astype(str) + (f"-copy{k}" if k else "")
        copies.append(copy)
    repeated = pd.concat(copies, ignore_index=True)
    repeated.attrs = dict(catalog.attrs)
    return repeated, np.concatenate([targets] * times)


def fit_worker(
    data: str, task: str, epochs: int, image_size: int, repeat: int, setting: dict
) -> dict:
    """Fit as ``galaxylab train`` does under one setting; per epoch, its phases' wall times."""
    import keras

    from galaxylab import backend, datasets, labels, pipeline
    from galaxylab.preprocessing import Preprocessing
    from galaxylab.train import TrainConfig, fit, split_targets, trainer
    from galaxylab.train.config import fit_size

    chosen = Setting(**setting)
    backend.import_tensorflow_quietly()
    # This child process measures one setting, so it swaps the two knobs module-wide.
    pipeline.make_dataset = functools.partial(
        pipeline.make_dataset, cache=chosen.cache, autotune=chosen.autotune
    )
    fit.compile_for = functools.partial(
        fit.compile_for, steps_per_execution=chosen.steps_per_execution
    )
    catalog, targets = labels.targets(task, datasets.load(data, check_images=False))
    catalog, targets = _repeated(catalog, targets, repeat)
    config = TrainConfig(
        task=task, epochs=epochs, preprocessing=Preprocessing(image_size=image_size)
    )
    train, val, _ = split_targets(catalog, targets, seed=0, fractions=config.fractions)

    class Timer(keras.callbacks.Callback):
        """Wall time of each epoch and of its validation pass."""

        def __init__(self) -> None:
            super().__init__()
            self.rows: list[dict] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.begin = time.perf_counter()

        def on_test_begin(self, logs=None):
            self.validation = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            self.rows.append({"epoch_s": now - self.begin, "validation_s": now - self.validation})

    timer = Timer()
    with tempfile.TemporaryDirectory() as work:
        trainer.fit_split(config, Path(work), train, val, progress=False, callbacks=[timer])
    n = fit_size(config, len(train.catalog), _class_counts(task, train.targets))
    return {
        "n_train": n,
        "epoch_s": [r["epoch_s"] for r in timer.rows],
        "validation_s": [r["validation_s"] for r in timer.rows],
        "images_per_s": [n / r["epoch_s"] for r in timer.rows],
    }


def _class_counts(task: str, targets: np.ndarray) -> list[int] | None:
    return np.bincount(targets).tolist() if task == "three-class" else None


def _child(data: str, task: str, args: argparse.Namespace, setting: Setting) -> dict:
    """Run :func:`fit_worker` in a fresh interpreter (a fresh TensorFlow, no shared cache)."""
    payload = {
        "data": data,
        "task": task,
        "epochs": args.epochs,
        "image_size": args.image_size,
        "repeat": args.repeat,
        "setting": asdict(setting),
    }
    command = [sys.executable, __file__, "--worker", json.dumps(payload)]
    env = {**os.environ, "GALAXYLAB_PRECISION": setting.precision}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"worker failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(lines[-1])


def main() -> None:
    """Print images/s per epoch for each source under each setting, and their ratios."""
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
        "--repeat", type=int, default=1, help="train on this many copies of every galaxy"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="measure every setting this many times, in turn"
    )
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
        f"at {args.image_size} px, batch 32, x{args.repeat} copies; images/s = training "
        "images / epoch wall time (validation and callbacks included)"
    )
    settings = _settings(args.stall)
    for name in args.data:
        data, task = _source(name)
        later: dict[str, list[float]] = {s.label: [] for s in settings}
        for _ in range(args.rounds):
            for setting in settings:
                row = _child(data, task, args, setting)
                rates = row["images_per_s"][1:] or row["images_per_s"]
                later[setting.label].append(float(np.median(rates)))
                share = np.median(
                    [v / e for v, e in zip(row["validation_s"], row["epoch_s"], strict=True)]
                )
                print(
                    f"{name:14s} {task:13s} n_train={row['n_train']:5d}  {setting.label:24s} "
                    f"epoch 1: {row['images_per_s'][0]:6.0f} img/s, later epochs (median): "
                    f"{later[setting.label][-1]:6.0f} img/s; validation {share:.0%} of an epoch; "
                    f"load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
        base = float(np.median(later[settings[0].label]))
        ratios = ", ".join(
            f"{s.label} {float(np.median(later[s.label])) / base:.2f}x" for s in settings[1:]
        )
        print(f"{name:14s} later epochs against {settings[0].label}: {ratios}", flush=True)


if __name__ == "__main__":
    main()
