"""The RUN folder that ``galaxylab train`` writes, how it stays honest about being complete, and
:class:`Run`, a finished RUN read back for a notebook.

A finished RUN holds ``model.keras``, ``history.csv``, ``config.json`` (settings, preprocessing
and the split's galaxy ids) and ``metrics.json`` (validation metrics). Everything is written in
``RUN/.work`` first and moved into place at the end, ``metrics.json`` last: its presence marks
a complete run. While training, ``RUN/.work`` holds the checkpoints that let an interrupted run
resume when it is started again with the same settings.

One process trains a RUN at a time: :func:`locked` holds an ``fcntl.flock`` lock on
``RUN/.lock`` for the whole run. The kernel releases it when the process ends, however it
ends, so a killed trainer never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from galaxylab import labels, tree
from galaxylab.errors import GalaxyLabError
from galaxylab.preprocessing import Preprocessing

try:
    import fcntl
except ImportError:  # Windows: no flock, so runs are not locked there
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import keras

MODEL = "model.keras"
HISTORY = "history.csv"
CONFIG = "config.json"
METRICS = "metrics.json"
WORK = ".work"
#: The lock file of a RUN being trained (it holds the trainer's pid); see :func:`locked`.
LOCK = ".lock"
#: The files of a complete run, in the order they are moved into place (metrics.json last).
RUN_FILES: tuple[str, ...] = (MODEL, HISTORY, CONFIG, METRICS)


def temporary_sibling(path: Path) -> Path:
    """An empty temporary file beside ``path`` (same folder, so os.replace is atomic), with the
    permissions a plain new file would get."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return Path(tmp)


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically: a temporary sibling, then os.replace."""
    path = Path(path)
    tmp = temporary_sibling(path)
    try:
        with open(tmp, "w") as handle:
            json.dump(obj, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """Read a JSON file written by this module; a damaged one is a GalaxyLabError naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise GalaxyLabError(f"{path}: cannot be read as JSON ({error})") from error


def is_complete_run(root: str | os.PathLike) -> bool:
    """True when ``root`` holds a finished run (all four files; metrics.json is written last)."""
    return all((Path(root) / name).is_file() for name in RUN_FILES)


def _foreign(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name not in (*RUN_FILES, WORK, LOCK))


def _check_writable(root: Path) -> None:
    """Refuse ``root`` when it (or, if it does not exist yet, its nearest existing parent)
    cannot take a new file: try to create a temporary one there."""
    parent = root
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise GalaxyLabError(
            f"{root}: cannot be created, {parent} is a file and not a folder; choose another --out"
        )
    try:
        with tempfile.TemporaryFile(prefix=".galaxylab-write-test.", dir=parent):
            pass
    except OSError as error:
        raise GalaxyLabError(
            f"{root}: cannot be written ({error.strerror or error} in {parent}); "
            "choose another --out"
        ) from error


def check_out(root: str | os.PathLike, *, overwrite: bool) -> None:
    """Refuse an output folder that must not or cannot be written (before any data is loaded).

    A complete run is kept unless ``overwrite``; a file, or a folder holding anything else
    than a run, is never touched; a run another process is training is left to it.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise GalaxyLabError(f"{root}: exists and is not a folder; choose another --out")
    _check_writable(root)
    if not root.is_dir():
        return
    _check_unlocked(root)
    _check_folder(root, overwrite=overwrite)


def _check_folder(root: Path, *, overwrite: bool) -> None:
    """Refuse a folder that holds something else than a run, or a complete run to keep."""
    if not root.is_dir():
        return
    foreign = _foreign(root)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise GalaxyLabError(
            f"{root}: is not a galaxylab run folder (it holds {shown}); choose a new or empty --out"
        )
    if is_complete_run(root) and not overwrite:
        raise GalaxyLabError(
            f"{root}: already holds a complete run ({METRICS}); pass "
            "--overwrite to replace it or choose another --out"
        )


def _busy(root: Path, fd: int) -> GalaxyLabError:
    """The error for a RUN whose lock (open as ``fd``) another process holds."""
    try:
        pid = int(os.pread(fd, 32, 0).decode().strip())
        holder = f"another process (pid {pid})"
    except (OSError, ValueError):
        holder = "another process"
    return GalaxyLabError(
        f"{root}: is being trained by {holder}; wait for it or choose another --out"
    )


def _check_unlocked(root: Path) -> None:
    """Refuse a RUN that another process is training (its lock is held), without locking it."""
    if fcntl is None:
        return
    try:
        fd = os.open(root / LOCK, os.O_RDONLY)
    except OSError:
        return  # no lock file: nobody is training here
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        raise _busy(root, fd) from error
    finally:
        os.close(fd)  # closing releases the probe's own lock at once


def _acquire(root: Path) -> int:
    """Lock ``root``'s lock file and write this process's pid in it; returns the open fd.

    A lock file that a finishing trainer unlinked between our open and our flock is not
    the RUN's lock any more, so the inode is checked and the open tried again.
    """
    path = root / LOCK
    for _ in range(5):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            busy = _busy(root, fd)
            os.close(fd)
            raise busy from error
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)
    raise GalaxyLabError(f"{root}: its lock keeps changing hands; choose another --out")


@contextlib.contextmanager
def locked(root: str | os.PathLike) -> Iterator[None]:
    """Hold the RUN's lock for the duration (creating the folder): a second trainer is refused
    at once with one line. The lock file is removed on the way out; if the process dies
    instead, the kernel drops the lock and the next trainer takes the file over."""
    root = Path(root)
    if fcntl is None:
        yield
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GalaxyLabError(
            f"{root}: cannot be created ({error.strerror or error}); choose another --out"
        ) from error
    fd = _acquire(root)
    try:
        yield
    finally:
        (root / LOCK).unlink(missing_ok=True)  # before unlocking: see _acquire
        os.close(fd)


def _differences(old: dict, new: dict) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


def _saved_settings(saved: Path) -> dict | None:
    """The settings of an interrupted run, or None (with a warning) when its file is torn."""
    try:
        old = read_json(saved)
    except GalaxyLabError as error:
        warnings.warn(
            f"{saved}: torn ({error.__cause__}); discarded the interrupted run's work "
            "folder and started afresh",
            stacklevel=3,
        )
        return None
    return old if isinstance(old, dict) else None


def start(root: str | os.PathLike, settings: dict, *, overwrite: bool) -> tuple[Path, bool]:
    """Create (or reopen) the run's work folder; returns (work folder, resuming?).

    Call it holding :func:`locked`. An interrupted run with the same ``settings`` is
    resumed; one with other settings is an error unless ``overwrite``, which starts afresh
    (as it does for a complete run, or when the saved settings are torn).
    """
    root = Path(root)
    _check_folder(root, overwrite=overwrite)
    work = root / WORK
    saved = work / CONFIG
    old = None if overwrite or not saved.is_file() else _saved_settings(saved)
    if old == settings:
        return work, True
    if old is not None:
        changed = "; ".join(_differences(old, settings)[:3])
        raise GalaxyLabError(
            f"{root}: holds an interrupted run with other settings ({changed}); re-run with "
            "the same arguments to resume it, or pass --overwrite to start again"
        )
    clear(root)
    work.mkdir(parents=True, exist_ok=True)
    write_json(saved, settings)
    return work, False


def clear(root: str | os.PathLike) -> None:
    """Remove a run's own files and work folder (never anything else in ``root``)."""
    root = Path(root)
    for name in reversed(RUN_FILES):  # metrics.json first: the run stops looking complete
        (root / name).unlink(missing_ok=True)
    shutil.rmtree(root / WORK, ignore_errors=True)


def publish(root: str | os.PathLike, staged: dict[str, Path]) -> None:
    """Move the staged files (name → path inside the work folder) into ``root``, metrics last,
    then remove the work folder."""
    root = Path(root)
    missing = [name for name in RUN_FILES if name not in staged]
    if missing:
        raise GalaxyLabError(f"cannot publish a run without {', '.join(missing)}")
    for name in RUN_FILES:
        os.replace(staged[name], root / name)
    shutil.rmtree(root / WORK, ignore_errors=True)


def config_for_model(model_path: str | os.PathLike) -> dict | None:
    """The config.json beside a saved model, or None when there is none."""
    path = Path(model_path).parent / CONFIG
    return read_json(path) if path.is_file() else None


def check_finished(model_path: str | os.PathLike) -> None:
    """Refuse a model inside a RUN that is still being written (or was interrupted while its
    files were moved into place): only a RUN with metrics.json is complete."""
    folder = Path(model_path).parent
    if (folder / METRICS).is_file() or not ((folder / WORK).is_dir() or (folder / LOCK).exists()):
        return
    raise GalaxyLabError(
        f"{folder}: is an unfinished run (no {METRICS} yet); wait for galaxylab train to "
        "finish it, or run it again to resume"
    )


def _shapes(model: keras.Model) -> tuple[tuple | None, int | None]:
    """(input shape without the batch axis, number of outputs), or (None, None) for a model
    whose shapes are not fixed (an unbuilt or subclassed one)."""
    try:
        return tuple(model.input_shape[1:]), int(model.output_shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None, None


def _shapes_task(
    shape: tuple | None, outputs: int | None
) -> tuple[str | None, Preprocessing | None]:
    """The task and preprocessing a model's input and output shapes imply (None if odd)."""
    task = {len(labels.THREE_CLASSES): "three-class", len(tree.COLUMNS): "decision-tree"}.get(
        outputs or 0
    )
    if shape is None or len(shape) != 3 or shape[0] != shape[1] or shape[2] not in (1, 3):
        return task, None
    try:
        return task, Preprocessing(image_size=int(shape[0]), greyscale=shape[2] == 1)
    except (GalaxyLabError, TypeError):  # a size no galaxylab model takes, or None
        return task, None


def model_settings(
    model: keras.Model, config: dict | None, model_path: str | os.PathLike | None = None
) -> tuple[str, Preprocessing]:
    """The task and preprocessing of a model: from its run's config, else from its shapes.

    A config that disagrees with the model's shapes (one of the two files replaced) is a
    GalaxyLabError naming ``model_path`` and the config beside it.
    """
    shape, outputs = _shapes(model)
    task, shaped = _shapes_task(shape, outputs)
    takes = f"takes {shape} images and gives {outputs} outputs"
    if not config:
        if task is None or shaped is None:
            raise GalaxyLabError(
                f"the model {takes}: it is not a galaxylab three-class or decision-tree model"
            )
        return task, shaped
    recorded_task, recorded = str(config.get("task")), Preprocessing.from_dict(config)
    known = shape is not None  # a model without fixed shapes is taken at its config's word
    if known and (recorded_task != task or shape != recorded.input_shape):
        model_file = "the model" if model_path is None else str(model_path)
        config_file = CONFIG if model_path is None else str(Path(model_path).parent / CONFIG)
        raise GalaxyLabError(
            f"{model_file}: {takes}, but {config_file} records a {recorded_task} model of "
            f"{recorded.input_shape} images; the two files do not belong together"
        )
    return recorded_task, recorded


@dataclass
class Run:
    """A complete RUN folder written by :func:`galaxylab.train.train`, and what it holds."""

    path: Path
    config: dict
    metrics: dict
    history: pd.DataFrame

    @property
    def task(self) -> str:
        """ "three-class" or "decision-tree"."""
        return self.config["task"]

    @property
    def preprocessing(self) -> Preprocessing:
        """The preprocessing the model was trained with (for pipeline.make_dataset)."""
        return Preprocessing.from_dict(self.config)

    def model(self) -> keras.Model:
        """Load the trained model (a fresh copy at every call)."""
        from galaxylab.models import load_model

        return load_model(self.path / MODEL)

    def part(
        self, catalog: pd.DataFrame, name: str = "test", *, missing: str = "raise"
    ) -> pd.DataFrame:
        """The rows of ``catalog`` in the run's "train", "val" or "test" split, in split order.

        The catalog's ``attrs`` (source, root) are kept, so course.truth() works on the result.
        A galaxy of the split that the catalog lacks raises, or with ``missing="drop"`` is left
        out (for a catalog cut in quick mode).
        """
        from galaxylab.datasets.subset import original_ids

        if name not in self.config["split"]:
            raise GalaxyLabError(f"a run has the splits train, val and test, not {name!r}")
        ids = original_ids(self.config["data"], [str(i) for i in self.config["split"][name]])
        by_id = catalog.assign(id=catalog["id"].astype(str)).set_index("id", drop=False)
        if missing not in ("raise", "drop"):
            raise GalaxyLabError(f"missing must be 'raise' or 'drop', not {missing!r}")
        absent = [i for i in ids if i not in by_id.index]
        if absent and missing == "drop":
            ids = [i for i in ids if i in by_id.index]
        elif absent:
            raise GalaxyLabError(
                f"{self.path}: galaxy {absent[0]} of the {name} split is not "
                "in this catalog; was the run trained on another source?"
            )
        out = by_id.loc[ids].reset_index(drop=True)
        out.attrs = dict(catalog.attrs)
        return out


def read_run(path: str | os.PathLike) -> Run:
    """A complete RUN folder as a :class:`Run`; GalaxyLabError if it is not complete."""
    path = Path(path)
    if not is_complete_run(path):
        raise GalaxyLabError(f"{path}: not a complete run (model, history, config, metrics)")
    return Run(
        path=path,
        config=read_json(path / CONFIG),
        metrics=read_json(path / METRICS),
        history=pd.read_csv(path / HISTORY),
    )
