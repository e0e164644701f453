"""Training: catalog → split → tf.data → model → RUN folder with model, history and metrics.

:func:`train` is what ``galaxylab train`` runs. It fits with early stopping on the validation
loss, keeps the best epoch's weights, logs a CSV history and shows Keras' progress bar.
Checkpoints in ``RUN/.work`` let an interrupted run (Ctrl-C, a crash, a closed laptop) resume
where it stopped when it is started again with the same config. Where GPUs are visible the
model is built under :func:`galaxylab.backend.strategy` (all GPUs, mixed precision; on a CPU
with bfloat16 units, bfloat16 arithmetic) and scored and saved as a float32 copy, so it
predicts alike everywhere. The config and the data are checked before TensorFlow is imported, so bad
input fails in a fraction of a second.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from galaxylab import __version__, datasets, labels, tree
from galaxylab.backend import import_tensorflow_quietly
from galaxylab.datasets.catalog import fingerprint
from galaxylab.errors import GalaxyLabError
from galaxylab.train import data_checks, runs
from galaxylab.train.config import TrainConfig, default_epochs, fit_size


class Split(NamedTuple):
    """One part of the split: its catalog rows and their targets."""

    catalog: pd.DataFrame
    targets: np.ndarray


def recorded_settings(config: TrainConfig, catalog: pd.DataFrame) -> dict:
    """Everything that decides the result, as stored in the RUN; a resumed run must match it."""
    return {
        **config.to_dict(),
        "data": str(catalog.attrs.get("root", "")),
        "source": catalog.attrs.get("source"),
        "n_galaxies": int(len(catalog)),
        "ids_sha1": fingerprint(catalog),
        "galaxylab": __version__,
    }


def _log(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def split_targets(
    catalog: pd.DataFrame, targets: np.ndarray, *, seed: int, fractions: Sequence[float]
) -> list[Split]:
    """The seeded, stratified train / validation / test split, each part with its targets."""
    from galaxylab import pipeline

    indexed = catalog.assign(_row=np.arange(len(catalog)))
    indexed.attrs = dict(catalog.attrs)
    try:
        parts = pipeline.split(indexed, seed=seed, fractions=fractions)
    except ValueError as error:
        raise GalaxyLabError(f"cannot split {len(catalog)} galaxies: {error}") from error
    return [Split(part.drop(columns="_row"), targets[part["_row"].to_numpy()]) for part in parts]


def _starting_model(path: str | os.PathLike, task: str, shape: tuple) -> Any:
    """A saved model to fine-tune, checked to fit the task and the input shape."""
    from galaxylab.models import load_model

    model = load_model(path)
    trained_for, _ = runs.model_settings(model, runs.config_for_model(path), path)
    if trained_for != task:
        raise GalaxyLabError(f"{path}: is a {trained_for} model; it cannot start {task} training")
    if tuple(model.input_shape[1:]) != tuple(shape):
        raise GalaxyLabError(
            f"{path}: takes images of shape {tuple(model.input_shape[1:])}, "
            f"not {tuple(shape)}; train with the same --image-size (and "
            "--greyscale setting)"
        )
    return model


def _balanced(config: TrainConfig, train: Split) -> tuple[pd.DataFrame, np.ndarray, dict | None]:
    """The rows one epoch shows, their targets, and class weights for the loss (or None)."""
    from galaxylab import pipeline

    if config.balance == "oversample":
        rows = pipeline.oversample(train.catalog, train.targets, seed=config.seed)
        return rows, rows["label"].to_numpy(dtype=np.int32), None
    if config.balance == "weights":
        return train.catalog, train.targets, pipeline.class_weights(train.targets)
    return train.catalog, train.targets, None


def fit_split(
    config: TrainConfig,
    work: Path,
    train: Split,
    val: Split,
    *,
    progress: bool,
    callbacks: Sequence[Any],
    source: str | None = None,
) -> tuple[Any, pd.DataFrame | None]:
    """Build (or start from ``init_from``) and fit the model on a split, checkpointing in
    ``work`` so the fit survives interruption; what ``train`` does between its checks and
    its scoring (bench/bench_pipeline.py times it)."""
    import keras

    from galaxylab import backend, models, pipeline
    from galaxylab.train import fit

    fitted = work / "fitted.keras"
    finished = fit.load_fitted(fitted) if fitted.is_file() else None
    if finished is not None:  # a finished fit whose scoring or publishing was interrupted
        return finished, fit.read_history(work / fit.HISTORY)
    prep = config.preprocessing
    fit_rows, fit_targets, class_weight = _balanced(config, train)
    # First: tf.data's seeded shuffle and augmentation combine their seed with TensorFlow's
    # global one, so a second run in one process (a notebook) would otherwise differ.
    keras.utils.set_random_seed(config.seed)
    train_ds = pipeline.make_dataset(
        fit_rows,
        fit_targets,
        preprocessing=prep,
        batch_size=config.batch_size,
        augment=True,
        shuffle=True,
        seed=config.seed,
    )
    val_ds = pipeline.make_dataset(
        val.catalog, val.targets, preprocessing=prep, batch_size=config.batch_size
    )
    with backend.policy_kept(), backend.strategy().scope():
        if config.init_from is not None:
            model = _starting_model(config.init_from, config.task, prep.input_shape)
        else:
            norm = pipeline.normalization_layer(train.catalog, prep, seed=config.seed)
            kwargs = {"architecture": config.architecture} if config.task == "decision-tree" else {}
            model = models.build(config.task, prep.input_shape, normalization=norm, **kwargs)
        fit.compile_for(model, config.task)
    if model.dtype_policy.name != "float32":
        _log(
            progress,
            f"computing in {model.dtype_policy.compute_dtype} with float32 weights "
            f"({backend.PRECISION_ENV}=float32 computes in float32 on a CPU)",
        )
    history = fit.fit_resumable(
        model,
        train_ds,
        val_ds,
        work=work,
        epochs=config.epochs or 1,
        class_weight=class_weight,
        progress=progress,
        callbacks=callbacks,
        source=source,
    )
    fit.save_model(model, fitted)
    return model, history


def train(
    config: TrainConfig,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    overwrite: bool = False,
    drop_bad: bool = False,
    progress: bool = True,
    callbacks: Sequence[Any] = (),
) -> dict:
    """Train the model ``config`` describes on the source ``data``; write the RUN folder ``out``.

    Returns the validation metrics also written to RUN/metrics.json. Re-running with the same
    config resumes an interrupted run; a complete run is refused unless ``overwrite``. Bad rows
    of the source raise, or are dropped with a warning when ``drop_bad``. ``callbacks`` are
    extra Keras callbacks (the tests use them).
    """
    runs.check_out(out, overwrite=overwrite)
    config.check_init_from()
    catalog = datasets.load(data, on_bad="drop" if drop_bad else "error", check_images=True)
    catalog, targets = labels.targets(config.task, catalog, gz1_labels=config.gz1_labels)
    data_checks.require_two_classes(config.task, targets, data)
    data_checks.warn_small_images(catalog, config.preprocessing, data)
    import_tensorflow_quietly()  # the data are sound: now the slow import, minus its noise
    train_part, val_part, test_part = split_targets(
        catalog, targets, seed=config.seed, fractions=config.fractions
    )
    if len(train_part.catalog) == 0 or len(val_part.catalog) == 0:
        raise GalaxyLabError(
            f"{data}: {len(catalog)} galaxies are too few to split into "
            "training and validation sets"
        )
    data_checks.require_two_classes(config.task, train_part.targets, data, "training galaxies")
    counts = np.bincount(train_part.targets).tolist() if config.task == "three-class" else None
    n_fit = fit_size(config, len(train_part.catalog), counts)
    if config.epochs is None:
        config = config.with_epochs(default_epochs(config.task, n_fit, config.architecture))
    if config.init_from is not None:  # a misfit fails before the RUN is started
        _starting_model(config.init_from, config.task, config.preprocessing.input_shape)
    settings = recorded_settings(config, catalog)
    from galaxylab.train.fit import reading

    with runs.locked(out), reading(data):  # one trainer per RUN; unreadable images: one line
        return _train_locked(
            config,
            data,
            out,
            settings,
            catalog,
            (train_part, val_part, test_part),
            n_fit=n_fit,
            overwrite=overwrite,
            progress=progress,
            callbacks=callbacks,
        )


def _train_locked(
    config: TrainConfig,
    data: str | os.PathLike,
    out: str | os.PathLike,
    settings: dict,
    catalog: pd.DataFrame,
    parts: tuple[Split, Split, Split],
    *,
    n_fit: int,
    overwrite: bool,
    progress: bool,
    callbacks: Sequence[Any],
) -> dict:
    """Start (or resume) the RUN, fit, score and publish it; the caller holds the RUN's lock."""
    train_part, val_part, test_part = parts
    work, resuming = runs.start(out, settings, overwrite=overwrite)
    started = time.perf_counter()
    _log(
        progress,
        f"{'resuming' if resuming else 'training'} {config.task} on "
        f"{len(train_part.catalog)} galaxies, validating on {len(val_part.catalog)}; "
        f"run folder {out}",
    )
    model, history = fit_split(
        config,
        work,
        train_part,
        val_part,
        progress=progress,
        callbacks=callbacks,
        source=str(data),
    )
    if history is None:
        raise GalaxyLabError(f"{out}: training recorded no epochs")
    from galaxylab import evaluate
    from galaxylab.models.saving import portable_copy

    precision = model.dtype_policy.name  # what the fit computed in, before the float32 copy
    model = portable_copy(model)  # scored as it is published: in float32

    result = _validation_metrics(
        config,
        model,
        history,
        train_part,
        val_part,
        test_part,
        n_fit=n_fit,
        seconds=time.perf_counter() - started,
        precision=precision,
    )
    record = {
        **settings,
        "normalization": "keras Normalization layer inside the model, adapted on up to 512 "
        "training images; the model takes float32 images in [0, 1]",
        "channels": config.preprocessing.channels,
        "labels": (
            list(labels.THREE_CLASSES) if config.task == "three-class" else list(tree.COLUMNS)
        ),
        "label_columns": (
            labels.known_label_columns(catalog) if config.task == "decision-tree" else None
        ),
        "train_baseline": evaluate.baseline(config.task, train_part.targets),
        "split": {
            "train": train_part.catalog["id"].tolist(),
            "val": val_part.catalog["id"].tolist(),
            "test": test_part.catalog["id"].tolist(),
        },
    }
    _publish(out, work, model, history, record, result)
    _log(progress, f"wrote {Path(out) / runs.MODEL}, {runs.HISTORY}, {runs.CONFIG}, {runs.METRICS}")
    return result


def _validation_metrics(
    config: TrainConfig,
    model: Any,
    history: pd.DataFrame,
    train: Split,
    val: Split,
    test: Split,
    *,
    n_fit: int,
    seconds: float,
    precision: str,
) -> dict:
    """The validation scores and what the run did, as metrics.json records them."""
    from galaxylab import evaluate

    result = evaluate.score(
        config.task,
        model,
        val.catalog,
        val.targets,
        train_targets=train.targets,
        preprocessing=config.preprocessing,
    )
    result.update(
        {
            "split": "validation",  # evaluate scores the test galaxies; these steered training
            "n_train": int(len(train.catalog)),
            "n_train_balanced": int(n_fit),
            "n_val": int(len(val.catalog)),
            "n_test": int(len(test.catalog)),
            "image_size": int(config.preprocessing.image_size),
            "seed": int(config.seed),
            "epochs": config.epochs,
            "epochs_run": int(len(history)),
            "best_epoch": int(history.loc[history["val_loss"].idxmin(), "epoch"]) + 1,
            "balance": config.balance,
            "architecture": config.regressor_architecture,
            "seconds": round(seconds, 1),
            "precision": precision,
        }
    )
    return result


def _publish(
    out: str | os.PathLike,
    work: Path,
    model: Any,
    history: pd.DataFrame,
    config: dict,
    result: dict,
) -> None:
    """Stage the run's four files in the work folder and move them into place, metrics last."""
    from galaxylab.models.saving import save_for_use

    staged = {name: work / f"final-{name}" for name in runs.RUN_FILES}
    save_for_use(model, staged[runs.MODEL])
    history.to_csv(staged[runs.HISTORY], index=False)
    runs.write_json(staged[runs.CONFIG], config)
    runs.write_json(staged[runs.METRICS], result)
    runs.publish(out, staged)
