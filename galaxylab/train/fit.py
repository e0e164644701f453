"""Keras' side of training: compiling a model for its task and a ``fit`` that survives interruption.

Checkpoints live in a work folder: BackupAndRestore keeps the last finished epoch (weights,
optimizer, epoch number), ModelCheckpoint the best epoch's weights, CSVLogger the history.
Started again on the same work folder, :func:`fit_resumable` carries on from the last finished
epoch, with early stopping and the best-so-far value picked up from the history.

A process killed while it wrote a checkpoint leaves it torn (a half-written JSON file or CSV
line, a truncated weights file). :func:`repair_checkpoint` finds the last epoch whose backup
and history both survive, discards what came after it with one warning, and lets training
carry on from there (or afresh when nothing is usable). The history is written first at an
epoch's end, so a torn history line never has a backup of its epoch behind it.

A TensorFlow error while reading images (:func:`reading`) becomes one line naming the file
when TensorFlow's message names it, else the data source.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import keras
import pandas as pd
import tensorflow as tf

from galaxylab.errors import GalaxyLabError
from galaxylab.models.losses import MaskedRMSE, masked_mse
from galaxylab.train.runs import HISTORY, temporary_sibling

#: Epochs without a better validation loss before training stops. Networks often sit at the
#: mean prediction for several epochs before they start to learn, so be patient.
PATIENCE = 10
#: Epochs without improvement before the learning rate is halved (down to MIN_LEARNING_RATE).
LR_PATIENCE = 4
LEARNING_RATE = 1e-3
MIN_LEARNING_RATE = 1e-5
BEST_WEIGHTS = "best.weights.h5"
BACKUP = "backup"
#: BackupAndRestore's files in BACKUP: the last epoch's state, and (``.bkp``) the one before.
BACKUP_WEIGHTS = "latest.weights.h5"
BACKUP_METADATA = "training_metadata.json"
PREVIOUS = ".bkp"


#: Training steps per call into TensorFlow (Keras' ``steps_per_execution``). More than one
#: pays Keras' per-step work in Python once per that many batches and trains the same weights,
#: but bench/bench_pipeline.py measured no gain for the course's networks (their step is
#: arithmetic-bound), so the default stays at one step per call.
STEPS_PER_EXECUTION = 1


def compile_for(
    model: keras.Model, task: str, *, steps_per_execution: int = STEPS_PER_EXECUTION
) -> keras.Model:
    """Adam with the task's loss: sparse cross-entropy + accuracy, or masked MSE + masked RMSE."""
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    if task == "three-class":
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    else:
        loss, metrics = masked_mse, [MaskedRMSE(name="rmse")]
    model.compile(
        optimizer=optimizer, loss=loss, metrics=metrics, steps_per_execution=steps_per_execution
    )
    return model


# --------------------------------------------------------------------------- data errors

#: A file name in a TensorFlow error message (an image, or a Galaxy10 .h5 file).
_FILE_IN_MESSAGE = re.compile(r"[^\s;'\"]+\.(?:jpe?g|png|gif|bmp|webp|h5|hdf5)\b", re.IGNORECASE)
#: Words of a TensorFlow message that point at the input pipeline rather than the model.
_READING_OPS = ("Decode", "ReadFile", "IteratorGetNext", "PyFunc", "EagerPyFunc")
#: Lines of a TensorFlow message that say where, not what.
_WHERE_LINES = ("Graph execution error", "Detected at node", "<stack traces", "[[")


def _reason(error: tf.errors.OpError) -> str:
    """The line of a TensorFlow error that says what went wrong, without graph decorations."""
    text = re.sub(r"\{\{function_node [^}]*\}\}", "", str(error.message))
    for line in text.splitlines():
        line = re.sub(r"\s*\[Op:[^\]]*\](\s*name:.*)?$", "", line).strip()
        if line and not line.startswith(_WHERE_LINES):
            return line
    return type(error).__name__


def data_error_message(error: tf.errors.OpError, source: str | None, doing: str) -> str:
    """One line for a TensorFlow error: the file it names, else the source to inspect."""
    reason = _reason(error)
    named = _FILE_IN_MESSAGE.search(reason)
    if named:
        rest = reason.replace(named.group(0), "").strip(" ;:,") or type(error).__name__
        return f"{doing}: {named.group(0)}: cannot be read ({rest})"
    if source is not None and any(op in str(error.message) for op in _READING_OPS):
        return (
            f"{doing}: an image of {source} cannot be read ({reason}); "
            f"`galaxylab inspect --data {source}` checks every image"
        )
    return f"{doing}: {reason}"


@contextlib.contextmanager
def reading(source: str | os.PathLike | None, doing: str = "training stopped") -> Iterator[None]:
    """Turn a TensorFlow error raised inside (an image tf.data could not read or decode) into
    a GalaxyLabError of one line, naming the file or the data source ``source``."""
    try:
        yield
    except tf.errors.OpError as error:
        where = None if source is None else str(source)
        raise GalaxyLabError(data_error_message(error, where, doing)) from error


# --------------------------------------------------------------------------- torn checkpoints


def _weights_readable(path: Path) -> bool:
    """True when a weights file opens as HDF5 (a truncated one does not)."""
    try:
        with h5py.File(path, "r"):
            return True
    except OSError:
        return False


def _backup_epoch(metadata: Path, weights: Path) -> int | None:
    """The epoch a backup (metadata + weights) resumes from, or None if it is torn or absent."""
    try:
        epoch = json.loads(metadata.read_text())["epoch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(epoch, int) or epoch < 0 or not _weights_readable(weights):
        return None
    return epoch


def _row_epoch(fields: list[str], header: list[str]) -> int | None:
    """The epoch of a history line, or None unless every field is a number (or empty)."""
    if len(fields) != len(header):
        return None
    try:
        [float(value) for value in fields[1:] if value != ""]
        return int(fields[0])
    except ValueError:
        return None


def _history_rows(path: Path) -> tuple[list[str], dict[int, list[str]], list[str]]:
    """(header, lines by epoch, what was torn) of a CSVLogger history. A half-written last
    line, a repeated header and unparseable lines are left out and named."""
    if not path.is_file():
        return [], {}, []
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return [], {}, [f"{path.name} is not text"]
    lines = text.splitlines(keepends=True)
    torn: list[str] = []
    if lines and not lines[-1].endswith("\n"):
        torn.append(f"{path.name} has a half-written last line")
        lines = lines[:-1]
    table = list(csv.reader(io.StringIO("".join(lines))))
    if not table:
        return [], {}, torn
    header, rows = table[0], {}
    if header[:1] != ["epoch"]:
        return [], {}, [*torn, f"{path.name} has no header"]
    for fields in table[1:]:
        epoch = _row_epoch(fields, header)
        if fields == header:
            torn.append(f"{path.name} repeats its header")
        elif epoch is None:
            torn.append(f"{path.name} has an unreadable line")
        else:
            rows[epoch] = fields  # an epoch recorded twice: its last record counts
    return header, rows, list(dict.fromkeys(torn))


def _write_history(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Rewrite a history atomically, in CSVLogger's format."""
    tmp = temporary_sibling(path)
    with open(tmp, "w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    os.replace(tmp, path)


def _resumable_epoch(backup: Path, rows: dict[int, list[str]], torn: list[str]) -> int | None:
    """The epoch to resume from: the last backup, else the one before it (restored in its
    place), whose files are intact and whose epochs all have a history line; None if neither.
    Why the last one was passed over is added to ``torn``."""
    previous = [backup / f"{name}{PREVIOUS}" for name in (BACKUP_METADATA, BACKUP_WEIGHTS)]
    for epoch, older in (
        (_backup_epoch(backup / BACKUP_METADATA, backup / BACKUP_WEIGHTS), False),
        (_backup_epoch(*previous), True),
    ):
        if epoch is None:
            if not older and backup.is_dir():
                torn.append("the last backup is torn")
            continue
        missing = [e for e in range(epoch) if e not in rows]
        if not missing:
            if older:
                for name in (BACKUP_METADATA, BACKUP_WEIGHTS):
                    shutil.copyfile(backup / f"{name}{PREVIOUS}", backup / name)
            return epoch
        torn.append(f"{HISTORY} lacks epoch {missing[0] + 1}")
    return None


def repair_checkpoint(work: str | Path) -> str | None:
    """Make the checkpoint in ``work`` consistent before resuming; returns what was discarded
    (for a warning), or None when nothing was torn.

    Resumes from the latest intact backup whose epochs all have a history line; later and
    torn history lines are dropped. Without such a backup every epoch is discarded (the
    run's settings stay) and training starts afresh.
    """
    work = Path(work)
    backup, best = work / BACKUP, work / BEST_WEIGHTS
    header, rows, torn = _history_rows(work / HISTORY)
    if not backup.is_dir() and not rows and not torn:
        return None  # nothing trained yet
    if best.is_file() and not _weights_readable(best):
        torn.append(f"{BEST_WEIGHTS} is truncated")
        best.unlink()
    epoch = _resumable_epoch(backup, rows, torn)
    if epoch is None:
        torn = torn or ["no backup of its epochs"]
        shutil.rmtree(backup, ignore_errors=True)
        for path in (work / HISTORY, best):
            path.unlink(missing_ok=True)
        return f"{work}: torn checkpoint ({'; '.join(torn)}); discarded it, training starts afresh"
    later = sorted(e for e in rows if e >= epoch)
    if later:
        torn.append(f"{HISTORY} records epoch {later[0] + 1} beyond the last backup")
    if not torn:
        return None
    if header:
        _write_history(work / HISTORY, header, [rows[e] for e in range(epoch)])
    else:
        (work / HISTORY).unlink(missing_ok=True)
    return (
        f"{work}: torn checkpoint ({'; '.join(torn)}); discarded the torn part, resuming "
        f"after epoch {epoch}"
    )


def load_fitted(path: Path) -> keras.Model | None:
    """The model a finished fit saved, or None (with a warning, the file removed) when it is
    torn, so the fit is finished again from its checkpoint."""
    from galaxylab.models import load_model

    try:
        return load_model(path)
    except GalaxyLabError as error:
        warnings.warn(f"{error}; discarded it, finishing the fit again", stacklevel=2)
        path.unlink(missing_ok=True)
        return None


def save_model(model: keras.Model, path: Path) -> None:
    """Save ``model`` to ``path`` (a .keras file) atomically: a half-written file never has
    the final name."""
    tmp = path.with_name(f".{path.stem}.partial.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
    source: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Fit with early stopping on val_loss; leave the model at its best epoch; return the history.

    Everything needed to resume lives in ``work``; a torn checkpoint there is repaired first,
    with one warning. A TensorFlow error while reading data becomes a GalaxyLabError of one
    line naming the file, or the data ``source`` (see :func:`reading`), leaving the
    checkpoints in place.
    """
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    repaired = repair_checkpoint(work)
    if repaired:
        warnings.warn(repaired, stacklevel=2)
    history_path, best_path = work / HISTORY, work / BEST_WEIGHTS
    previous = read_history(history_path)
    best_so_far = (
        float(previous["val_loss"].min())
        if previous is not None and "val_loss" in previous and best_path.is_file()
        else None
    )
    # At an epoch's end the history line comes first, then the best weights, then the backup:
    # a process killed in between leaves a history line too many (dropped on resume), never a
    # backup whose epoch has no history line.
    standard = [
        keras.callbacks.CSVLogger(str(history_path), append=True),
        keras.callbacks.ModelCheckpoint(
            best_path,
            monitor="val_loss",
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_so_far,
        ),
        keras.callbacks.BackupAndRestore(
            str(work / BACKUP), double_checkpoint=True, delete_checkpoint=False
        ),
        ResumableEarlyStopping(previous, monitor="val_loss", patience=PATIENCE),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=LR_PATIENCE, min_lr=MIN_LEARNING_RATE
        ),
    ]
    with reading(source):
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=epochs,
            class_weight=class_weight,
            verbose=verbosity(progress),
            shuffle=False,
            callbacks=[*standard, *callbacks],
        )
    if best_path.is_file():  # the best epoch, also when it came before an interruption
        model.load_weights(best_path)
    history = read_history(history_path)
    if history is None:
        raise GalaxyLabError(f"{work}: training recorded no epochs")
    return history
