"""The RUN folder that ``galaxylab train`` writes, how it stays honest about being complete, and
:class:`Run`, a finished RUN read back for a notebook.

A finished RUN holds ``model.keras``, ``history.csv``, ``config.json`` (settings, preprocessing
and the split's galaxy ids) and ``metrics.json`` (validation metrics). Everything is written in
``RUN/.work`` first and moved into place at the end, ``metrics.json`` last: its presence marks
a complete run. While training, ``RUN/.work`` holds the checkpoints that let an interrupted run
resume when it is started again with the same settings.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from galaxylab import labels, tree
from galaxylab.errors import GalaxyLabError
from galaxylab.preprocessing import Preprocessing

if TYPE_CHECKING:
    import keras

MODEL = "model.keras"
HISTORY = "history.csv"
CONFIG = "config.json"
METRICS = "metrics.json"
WORK = ".work"
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
    return sorted(p.name for p in root.iterdir() if p.name not in (*RUN_FILES, WORK))


def check_out(root: str | os.PathLike, *, overwrite: bool) -> None:
    """Refuse an output folder that must not be written (before any data is loaded).

    A complete run is kept unless ``overwrite``; a file, or a folder holding anything else
    than a run, is never touched.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise GalaxyLabError(f"{root}: exists and is not a folder; choose another --out")
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


def _differences(old: dict, new: dict) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


def start(root: str | os.PathLike, settings: dict, *, overwrite: bool) -> tuple[Path, bool]:
    """Create (or reopen) the run's work folder; returns (work folder, resuming?).

    An interrupted run with the same ``settings`` is resumed; one with other settings is an
    error unless ``overwrite``, which starts afresh (as it does for a complete run).
    """
    root = Path(root)
    check_out(root, overwrite=overwrite)
    work = root / WORK
    saved = work / CONFIG
    if overwrite or not saved.is_file():
        clear(root)
    else:
        old = read_json(saved)
        if old != settings:
            changed = "; ".join(_differences(old, settings)[:3])
            raise GalaxyLabError(
                f"{root}: holds an interrupted run with other settings ({changed}); re-run with "
                "the same arguments to resume it, or pass --overwrite to start again"
            )
        return work, True
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


def model_settings(model: keras.Model, config: dict | None) -> tuple[str, Preprocessing]:
    """The task and preprocessing of a model: from its run's config, else from its shapes."""
    if config:
        return config["task"], Preprocessing.from_dict(config)
    _, height, width, depth = model.input_shape
    outputs = model.output_shape[-1]
    task = {len(labels.THREE_CLASSES): "three-class", len(tree.COLUMNS): "decision-tree"}.get(
        outputs
    )
    if task is None or height != width or depth not in (1, 3):
        raise GalaxyLabError(
            f"the model (input {model.input_shape}, {outputs} outputs) is not a "
            "galaxylab three-class or decision-tree model"
        )
    return task, Preprocessing(image_size=int(height), greyscale=depth == 1)


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

    def part(self, catalog: pd.DataFrame, name: str = "test") -> pd.DataFrame:
        """The rows of ``catalog`` in the run's "train", "val" or "test" split, in split order.

        The catalog's ``attrs`` (source, root) are kept, so course.truth() works on the result.
        """
        from galaxylab.datasets.subset import original_ids

        if name not in self.config["split"]:
            raise GalaxyLabError(f"a run has the splits train, val and test, not {name!r}")
        ids = original_ids(self.config["data"], [str(i) for i in self.config["split"][name]])
        by_id = catalog.assign(id=catalog["id"].astype(str)).set_index("id", drop=False)
        missing = [i for i in ids if i not in by_id.index]
        if missing:
            raise GalaxyLabError(
                f"{self.path}: galaxy {missing[0]} of the {name} split is not "
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
