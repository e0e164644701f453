"""Keras' side of training: compiling a model for its task and a ``fit`` that survives interruption.

Checkpoints live in a work folder: BackupAndRestore keeps the last finished epoch (weights,
optimizer, epoch number), ModelCheckpoint the best epoch's weights, CSVLogger the history.
Started again on the same work folder, :func:`fit_resumable` carries on from the last finished
epoch, with early stopping and the best-so-far value picked up from the history.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import pandas as pd
import tensorflow as tf

from galaxylab.errors import GalaxyLabError
from galaxylab.models.losses import MaskedRMSE, masked_mse
from galaxylab.train.runs import HISTORY

#: Epochs without a better validation loss before training stops. Networks often sit at the
#: mean prediction for several epochs before they start to learn, so be patient.
PATIENCE = 10
#: Epochs without improvement before the learning rate is halved (down to MIN_LEARNING_RATE).
LR_PATIENCE = 4
LEARNING_RATE = 1e-3
MIN_LEARNING_RATE = 1e-5
BEST_WEIGHTS = "best.weights.h5"
BACKUP = "backup"


def compile_for(model: keras.Model, task: str) -> keras.Model:
    """Adam with the task's loss: sparse cross-entropy + accuracy, or masked MSE + masked RMSE."""
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    if task == "three-class":
        model.compile(
            optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
    else:
        model.compile(optimizer=optimizer, loss=masked_mse, metrics=[MaskedRMSE(name="rmse")])
    return model


def read_history(path: str | Path) -> pd.DataFrame | None:
    """A CSVLogger history with one row per epoch (the last one kept if an epoch was redone)."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    history = pd.read_csv(path)
    if history.empty:
        return None
    return history.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that carries on counting from an interrupted run's history.

    BackupAndRestore brings back the weights, optimizer and epoch, but not this callback's
    best value and patience count; they are recomputed here from the CSV history.
    """

    def __init__(self, history: pd.DataFrame | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history = history

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Reset as Keras does, then restore best value, best epoch and wait from the history."""
        super().on_train_begin(logs)
        history = self.history
        if history is not None and self.monitor in history and len(history):
            best = int(history[self.monitor].idxmin())
            self.best = float(history.loc[best, self.monitor])
            self.best_epoch = int(history.loc[best, "epoch"])
            self.wait = int(history["epoch"].max()) - self.best_epoch


def verbosity(progress: bool) -> int:
    """Keras' progress bar on a terminal, one line per epoch in a log file, or nothing."""
    if not progress:
        return 0
    return 1 if sys.stderr.isatty() else 2


def fit_resumable(
    model: keras.Model,
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset,
    *,
    work: str | Path,
    epochs: int,
    class_weight: dict | None = None,
    progress: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> pd.DataFrame:
    """Fit with early stopping on val_loss; leave the model at its best epoch; return the history.

    Everything needed to resume lives in ``work``. A TensorFlow error while reading data
    becomes a GalaxyLabError (one line), leaving the checkpoints in place.
    """
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    history_path, best_path = work / HISTORY, work / BEST_WEIGHTS
    previous = read_history(history_path)
    best_so_far = (
        float(previous["val_loss"].min())
        if previous is not None and "val_loss" in previous
        else None
    )
    standard = [
        keras.callbacks.ModelCheckpoint(
            best_path,
            monitor="val_loss",
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_so_far,
        ),
        keras.callbacks.BackupAndRestore(str(work / BACKUP), double_checkpoint=True),
        keras.callbacks.CSVLogger(str(history_path), append=True),
        ResumableEarlyStopping(previous, monitor="val_loss", patience=PATIENCE),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=LR_PATIENCE, min_lr=MIN_LEARNING_RATE
        ),
    ]
    try:
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=epochs,
            class_weight=class_weight,
            verbose=verbosity(progress),
            shuffle=False,
            callbacks=[*standard, *callbacks],
        )
    except tf.errors.OpError as error:
        first = (str(error.message).strip().splitlines() or [repr(error)])[0]
        raise GalaxyLabError(f"training stopped: {first}") from error
    if best_path.is_file():  # the best epoch, also when it came before an interruption
        model.load_weights(best_path)
    history = read_history(history_path)
    if history is None:
        raise GalaxyLabError(f"{work}: training recorded no epochs")
    return history
