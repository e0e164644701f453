"""Training: catalog → split → tf.data → model → RUN folder with model, history and metrics.

:func:`train` is what ``galaxylab train`` runs. It fits with early stopping on the validation
loss, keeps the best epoch's weights, logs a CSV history and shows Keras' progress bar.
Checkpoints in ``RUN/.work`` let an interrupted run (Ctrl-C, a crash, a closed laptop) resume
where it stopped when it is started again with the same arguments. Where GPUs are visible the
model is built under :func:`galaxylab.hardware.strategy` (all GPUs, mixed precision); on a CPU
nothing changes. The arguments and the data are checked before TensorFlow is imported, so bad
input fails in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from galaxylab import __version__, labels, runs, tasks, tree
from galaxylab._quiet import import_tensorflow_quietly
from galaxylab.errors import GalaxyLabError

#: Without --epochs, training gets a budget of images seen (epochs × training images, after
#: upsampling) worth about 15 minutes on the 2-core course machine at 64 px; see
#: :func:`default_epochs`. Measured on the 4000-galaxy universe with oneDNN on, one epoch takes
#: about 17 s for the three-class CNN (5625 upsampled training images + 400 validation), 9.5 s
#: for the small regressor and 24 s for the AlexNet-style one (3200 + 400), i.e. about 330, 340
#: and 133 training images/s. Early stopping usually ends sooner.
IMAGE_BUDGET: dict[str, int] = {"three-class": 280_000, "small": 290_000, "alexnet": 115_000}
EPOCH_RANGE = (5, 200)
ARCHITECTURES = ("small", "alexnet")
BALANCE = ("upsample", "weights", "none")
MIN_IMAGE_SIZE = 16
DEFAULT_IMAGE_SIZE = 64
#: Dieleman's crop, 207 of 424 pixels (the same value as pipeline.DEFAULT_CROP_FRACTION).
DEFAULT_CROP_FRACTION = 207 / 424


@contextlib.contextmanager
def console(command: str) -> Iterator[None]:
    """For the command line: Keras' progress output goes to stderr (stdout carries only the
    JSON result) and each warning becomes one line, ``galaxylab <command>: warning: ...``."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"galaxylab {command}: warning: {message}", file=sys.stderr, flush=True)

    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.showwarning = show
        yield


def _fingerprint(catalog: pd.DataFrame) -> str:
    digest = hashlib.sha1("\n".join(catalog["id"].astype(str)).encode())
    return digest.hexdigest()[:16]


def _settings(task: str, catalog: pd.DataFrame, **options: Any) -> dict:
    """Everything that decides the result; a resumed run must match it exactly."""
    return {
        "task": task,
        "data": str(catalog.attrs.get("root", "")),
        "source": catalog.attrs.get("source"),
        "n_galaxies": int(len(catalog)),
        "ids_sha1": _fingerprint(catalog),
        **options,
        "galaxylab": __version__,
    }


def default_epochs(task: str, n_fit: int, architecture: str = "small") -> int:
    """Epochs when none are asked for: the task's image budget spread over ``n_fit`` training
    images, within EPOCH_RANGE, so small data sets get enough steps and large ones stay near
    15 minutes (for the 4000-galaxy universe: measured in bench/bench_quality.py)."""
    budget = IMAGE_BUDGET["three-class" if task == "three-class" else architecture]
    low, high = EPOCH_RANGE
    return int(min(high, max(low, round(budget / max(n_fit, 1)))))


def _check_options(task: str, epochs: int | None, image_size: int, architecture: str,
                   balance: str | None) -> tuple[int | None, str]:
    tasks.check_task(task)
    if epochs is not None and epochs < 1:
        raise GalaxyLabError(f"epochs must be at least 1, got {epochs}")
    if image_size < MIN_IMAGE_SIZE:
        raise GalaxyLabError(f"image size must be at least {MIN_IMAGE_SIZE} px, got {image_size}")
    if architecture not in ARCHITECTURES:
        raise GalaxyLabError(f"unknown architecture {architecture!r}; choose one of "
                             f"{', '.join(ARCHITECTURES)}")
    if balance is None:
        balance = "upsample" if task == "three-class" else "none"
    if balance not in BALANCE:
        raise GalaxyLabError(f"unknown balance {balance!r}; choose one of {', '.join(BALANCE)}")
    if task != "three-class" and balance != "none":
        raise GalaxyLabError("class balancing applies to the three-class task only")
    return epochs, balance


def _log(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def split_targets(catalog: pd.DataFrame, targets: np.ndarray, *, seed: int,
                  fractions: Sequence[float]) -> list[tuple[pd.DataFrame, np.ndarray]]:
    """The seeded, stratified train / validation / test split, each part with its targets."""
    from galaxylab import pipeline

    indexed = catalog.assign(_row=np.arange(len(catalog)))
    indexed.attrs = dict(catalog.attrs)
    try:
        parts = pipeline.split(indexed, seed=seed, fractions=fractions)
    except ValueError as error:
        raise GalaxyLabError(f"cannot split {len(catalog)} galaxies: {error}") from None
    out = []
    for part in parts:
        rows = part["_row"].to_numpy()
        out.append((part.drop(columns="_row"), targets[rows]))
    return out


def train(
    task: str,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    epochs: int | None = None,
    image_size: int = DEFAULT_IMAGE_SIZE,
    seed: int = 0,
    batch_size: int = 32,
    architecture: str = "small",
    balance: str | None = None,
    greyscale: bool = False,
    crop_fraction: float = DEFAULT_CROP_FRACTION,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    overwrite: bool = False,
    drop_bad: bool = False,
    init_from: str | os.PathLike | None = None,
    progress: bool = True,
    callbacks: Sequence[Any] = (),
) -> dict:
    """Train a model for ``task`` on the source ``data`` and write the RUN folder ``out``.

    ``balance`` (three-class only): "upsample" (default; minority classes get copies rotated
    by 90°, 180°, 270°), "weights" (class-weighted loss) or "none". ``architecture`` ("small"
    or "alexnet") picks the decision-tree regressor. ``fractions`` are the train / validation /
    test shares. Without ``epochs``, :func:`default_epochs` sets them from the data size.
    ``init_from`` starts from a saved model of the same task and input shape instead of fresh
    weights (fine-tuning: e.g. a model trained on the synthetic universe, then on real
    images); its Normalization layer is kept as it was adapted.
    Returns the validation metrics also written to RUN/metrics.json. Re-running
    with the same arguments resumes an interrupted run; a complete run is refused unless
    ``overwrite``. ``callbacks`` are extra Keras callbacks (the tests use them).
    """
    epochs, balance = _check_options(task, epochs, image_size, architecture, balance)
    runs.check_out(out, overwrite=overwrite)
    if init_from is not None and not Path(init_from).is_file():
        raise GalaxyLabError(f"{init_from}: model to start from not found")
    catalog, targets = tasks.targets(task, tasks.load_catalog(data, drop_bad=drop_bad))
    import_tensorflow_quietly()  # the data are sound: now the slow import, minus its noise
    (train_cat, train_y), (val_cat, val_y), (test_cat, _) = split_targets(
        catalog, targets, seed=seed, fractions=fractions)
    if len(train_cat) == 0 or len(val_cat) == 0:
        raise GalaxyLabError(f"{data}: {len(catalog)} galaxies are too few to split into "
                             "training and validation sets")
    counts = np.bincount(train_y) if task == "three-class" else None
    n_fit = (int((counts > 0).sum() * counts.max()) if balance == "upsample"
             else len(train_cat))
    if epochs is None:
        epochs = default_epochs(task, n_fit, architecture)
    settings = _settings(
        task, catalog, image_size=int(image_size), crop_fraction=float(crop_fraction),
        greyscale=bool(greyscale), seed=int(seed), batch_size=int(batch_size),
        epochs=epochs, architecture=architecture if task == "decision-tree" else None,
        balance=balance, fractions=[float(f) for f in fractions],
        init_from=None if init_from is None else os.path.realpath(init_from),
    )
    shape = (image_size, image_size, 1 if greyscale else 3)
    if init_from is not None:
        _starting_model(init_from, task, shape)  # a misfit fails before the RUN is started
    work, resuming = runs.start(out, settings, overwrite=overwrite)
    started = time.perf_counter()
    _log(progress, f"{'resuming' if resuming else 'training'} {task} on {len(train_cat)} "
                   f"galaxies, validating on {len(val_cat)}; run folder {out}")

    import keras

    from galaxylab import evaluate, fitting, hardware, models, pipeline

    fit_cat, fit_y, class_weight = train_cat, train_y, None
    if balance == "upsample":
        fit_cat = pipeline.rotation_upsample(train_cat, train_y, seed=seed)
        fit_y = fit_cat["label"].to_numpy(dtype=np.int32)
    elif balance == "weights":
        class_weight = pipeline.class_weights(train_y)
    image_opts = dict(image_size=image_size, crop_fraction=crop_fraction, greyscale=greyscale)

    fitted = work / "fitted.keras"
    if fitted.is_file():  # a finished fit whose scoring or publishing was interrupted
        model = evaluate.load_model(fitted)
        history = fitting.read_history(work / fitting.HISTORY)
    else:
        train_ds = pipeline.make_dataset(fit_cat, fit_y, batch_size=batch_size, augment=True,
                                         shuffle=True, seed=seed, **image_opts)
        val_ds = pipeline.make_dataset(val_cat, val_y, batch_size=batch_size, **image_opts)
        keras.utils.set_random_seed(seed)
        with hardware.strategy().scope():
            if init_from is not None:
                model = _starting_model(init_from, task, shape)
            else:
                norm = pipeline.normalization_layer(train_cat, seed=seed, **image_opts)
                kwargs = {"architecture": architecture} if task == "decision-tree" else {}
                model = models.build(task, shape, normalization=norm, **kwargs)
            fitting.compile_for(model, task)
        history = fitting.fit_resumable(model, train_ds, val_ds, work=work, epochs=epochs,
                                        class_weight=class_weight, progress=progress,
                                        callbacks=callbacks)
        model.save(fitted)
    if history is None:
        raise GalaxyLabError(f"{out}: training recorded no epochs")

    result = evaluate.score(task, model, val_cat, val_y, train_targets=train_y, **image_opts)
    result.update({
        "split": "validation",  # evaluate scores the test galaxies; these steered training
        "n_train": int(len(train_cat)), "n_train_balanced": int(len(fit_cat)),
        "n_val": int(len(val_cat)), "n_test": int(len(test_cat)),
        "image_size": int(image_size), "seed": int(seed), "epochs": epochs,
        "epochs_run": int(len(history)),
        "best_epoch": int(history.loc[history["val_loss"].idxmin(), "epoch"]) + 1,
        "balance": balance, "architecture": settings["architecture"],
        "seconds": round(time.perf_counter() - started, 1),
    })
    config = {
        **settings,
        "normalization": "keras Normalization layer inside the model, adapted on up to 512 "
                         "training images; the model takes float32 images in [0, 1]",
        "channels": shape[2],
        "labels": list(labels.THREE_CLASSES) if task == "three-class" else list(tree.COLUMNS),
        "label_columns": tasks.scored_columns(catalog) if task == "decision-tree" else None,
        "train_baseline": evaluate.baseline(task, train_y),
        "split": {"train": train_cat["id"].tolist(), "val": val_cat["id"].tolist(),
                  "test": test_cat["id"].tolist()},
    }
    _publish(out, work, model, history, config, result)
    _log(progress, f"wrote {Path(out) / runs.MODEL}, {runs.HISTORY}, {runs.CONFIG}, "
                   f"{runs.METRICS}")
    return result


def _starting_model(path: str | os.PathLike, task: str, shape: tuple) -> Any:
    """A saved model to fine-tune, checked to fit the task and the input shape."""
    from galaxylab import evaluate

    model = evaluate.load_model(path)
    trained_for, _ = evaluate.model_settings(model, runs.config_for_model(path))
    if trained_for != task:
        raise GalaxyLabError(f"{path}: is a {trained_for} model; it cannot start {task} training")
    if tuple(model.input_shape[1:]) != tuple(shape):
        raise GalaxyLabError(f"{path}: takes images of shape {tuple(model.input_shape[1:])}, "
                             f"not {tuple(shape)}; train with the same --image-size (and "
                             "--greyscale setting)")
    return model


def _publish(out: str | os.PathLike, work: Path, model: Any, history: pd.DataFrame,
             config: dict, result: dict) -> None:
    """Stage the run's four files in the work folder and move them into place, metrics last."""
    staged = {name: work / f"final-{name}" for name in runs.RUN_FILES}
    model.save(staged[runs.MODEL])
    history.to_csv(staged[runs.HISTORY], index=False)
    runs.write_json(staged[runs.CONFIG], config)
    runs.write_json(staged[runs.METRICS], result)
    runs.publish(out, staged)
