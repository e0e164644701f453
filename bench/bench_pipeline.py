"""Input pipeline speed: galaxylab's tf.data pipeline against a plain PIL + numpy loop, and the
epoch-start stall of Keras ``fit`` with tf.data autotune on and off.

Both loaders do the same work per image: decode the JPEG, crop the central square (with the
augmentation margin), resize with antialiasing, rotate by a random multiple of 90°, flip at
random, resample a randomly shifted and zoomed box to the output size, scale to float32 in
[0, 1]. tf.data runs it on all cores; the PIL loop is the single-threaded way one would write
it by hand.

    .venv/bin/python bench/bench_pipeline.py                      # the real 300-image sample
    .venv/bin/python bench/bench_pipeline.py --data DIR           # any Kaggle-layout folder
    .venv/bin/python bench/bench_pipeline.py --stall-epochs 0     # throughput only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL_SAMPLE = ROOT.parent / "shared" / "data" / "gz-kaggle-sample"
sys.path.insert(0, str(ROOT))


def _catalog(data: Path):
    from galaxylab import datasets

    return datasets.load(data, check_images=False)


def pil_loop(paths: list[str], image_size: int, seed: int) -> int:
    """The same preparation as the augmented tf.data pipeline, one image at a time with PIL."""
    from PIL import Image

    from galaxylab import pipeline
    from galaxylab.preprocessing import Preprocessing

    rng = np.random.default_rng(seed)
    crop = Preprocessing().crop_fraction
    fraction = min(1.0, crop * pipeline._MARGIN)
    size = math.ceil(image_size * fraction / crop)
    checksum = 0.0
    for path in paths:
        with Image.open(path) as image:
            image = image.convert("RGB")
            side = round(min(image.size) * fraction)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side))
            image = image.resize((size, size), Image.BILINEAR)  # PIL antialiases when shrinking
        array = np.rot90(np.asarray(image), rng.integers(4))
        if rng.random() < 0.5:
            array = array[:, ::-1]
        scale = math.exp(rng.uniform(-math.log1p(pipeline.ZOOM), math.log1p(pipeline.ZOOM)))
        half = 0.5 * image_size / scale
        cx, cy = size / 2 + rng.uniform(-1, 1, 2) * pipeline.SHIFT * 2 * half
        box = (cx - half, cy - half, cx + half, cy + half)
        out = Image.fromarray(np.ascontiguousarray(array)).resize(
            (image_size, image_size), Image.BILINEAR, box=box
        )
        checksum += float((np.asarray(out, dtype=np.float32) / 255.0).mean())
    return len(paths)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def tf_pipeline(catalog, image_size: int, passes: int, autotune: bool) -> tuple[int, float, float]:
    """Images, wall seconds and CPU seconds of pipeline.make_dataset (augmented, shuffled)."""
    from galaxylab import pipeline
    from galaxylab.preprocessing import Preprocessing

    ds = pipeline.make_dataset(
        catalog,
        preprocessing=Preprocessing(image_size=image_size),
        batch_size=32,
        augment=True,
        shuffle=True,
        seed=0,
        autotune=autotune,
    )
    for _ in ds.take(1):  # build the graph outside the timing
        pass
    start, cpu, n = time.perf_counter(), _cpu(), 0
    for _ in range(passes):
        for batch in ds:
            n += int(batch.shape[0])
    return n, time.perf_counter() - start, _cpu() - cpu


def stall_worker(data: Path, epochs: int, autotune: bool, image_size: int) -> dict:
    """Fit the three-class CNN; per epoch, the wait before the first batch and the epoch's time."""
    import keras

    from galaxylab import labels, models, pipeline
    from galaxylab.preprocessing import Preprocessing
    from galaxylab.train import fit

    catalog, y = labels.targets("three-class", _catalog(data))
    n_val = max(32, len(catalog) // 10)
    train, val = catalog.iloc[n_val:], catalog.iloc[:n_val]
    prep = Preprocessing(image_size=image_size)
    opts = dict(preprocessing=prep, batch_size=32, autotune=autotune)
    train_ds = pipeline.make_dataset(train, y[n_val:], augment=True, shuffle=True, **opts)
    val_ds = pipeline.make_dataset(val, y[:n_val], **opts)

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
    model = fit.compile_for(models.build("three-class", prep.input_shape), "three-class")
    timer = Timer()
    start = time.perf_counter()
    model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, verbose=0, shuffle=False, callbacks=[timer]
    )
    total = time.perf_counter() - start
    later = timer.rows[1:] or timer.rows
    return {
        "autotune": autotune,
        "n_train": len(train),
        "epochs": epochs,
        "total_s": total,
        "first_batch_s": [round(r["first_batch_s"], 2) for r in timer.rows],
        "epoch_s": [round(r["epoch_s"], 2) for r in timer.rows],
        "mean_first_batch_after_epoch1_s": float(np.mean([r["first_batch_s"] for r in later])),
        "images_per_s_after_epoch1": len(train) * len(later) / sum(r["epoch_s"] for r in later),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="Kaggle-layout folder (default: the real sample, else a 600-galaxy "
        "synthetic universe in the data cache)",
    )
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--passes", type=int, default=3, help="passes over the data (tf.data)")
    parser.add_argument(
        "--stall-epochs",
        type=int,
        default=6,
        help="epochs of the fit-stall measurement per setting (0 = skip)",
    )
    parser.add_argument("--stall-worker", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = args.data
    if data is None:
        if (REAL_SAMPLE / "training_solutions_rev1.csv").exists():
            data = REAL_SAMPLE
        else:
            from galaxylab import datasets

            data = datasets.universe_folder(n=600, seed=0)
    if args.stall_worker:
        print(
            json.dumps(
                stall_worker(data, args.stall_epochs, args.stall_worker == "on", args.image_size)
            )
        )
        return

    catalog = _catalog(data)
    paths = catalog["image"].tolist()
    print(
        f"data: {data} ({len(paths)} images), output {args.image_size} px, {os.cpu_count()} cores"
    )
    pil_loop(paths[:8], args.image_size, 0)  # warm the file cache
    start, cpu = time.perf_counter(), _cpu()
    n = pil_loop(paths * args.passes, args.image_size, 0)
    pil_rate, pil_cpu = n / (time.perf_counter() - start), n / (_cpu() - cpu)
    print("(images per CPU-second: the work per image, independent of other load on the machine)")
    print(
        f"PIL + numpy loop (1 thread)      : {pil_rate:6.0f} images/s, "
        f"{pil_cpu:6.0f} images per CPU-second"
    )
    for autotune in (False, True):
        n, seconds, cpu_seconds = tf_pipeline(catalog, args.image_size, args.passes, autotune)
        print(
            f"tf.data pipeline, autotune {'on ' if autotune else 'off'}  : "
            f"{n / seconds:6.0f} images/s, {n / cpu_seconds:6.0f} images per CPU-second  "
            f"({n / seconds / pil_rate:.1f}x PIL's images/s)"
        )

    if args.stall_epochs <= 0:
        return
    print(
        f"\nKeras fit of the three-class CNN, {args.stall_epochs} epochs, "
        "wait from epoch start to the first finished batch:"
    )
    for setting in ("on", "off"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--data",
                str(data),
                "--image-size",
                str(args.image_size),
                "--stall-epochs",
                str(args.stall_epochs),
                "--stall-worker",
                setting,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"  autotune {setting:3}: first batch per epoch {result['first_batch_s']} s; "
            f"epoch times {result['epoch_s']} s; epochs 2+: "
            f"{result['images_per_s_after_epoch1']:.0f} images/s, mean wait "
            f"{result['mean_first_batch_after_epoch1_s']:.2f} s; total {result['total_s']:.1f} s"
        )


if __name__ == "__main__":
    main()
