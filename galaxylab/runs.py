"""The RUN folder that ``galaxylab train`` writes, and how it stays honest about being complete.

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
from pathlib import Path
from typing import Any

from galaxylab.errors import GalaxyLabError

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
        raise GalaxyLabError(f"{path}: cannot be read as JSON ({error})") from None


def is_complete(root: str | os.PathLike) -> bool:
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
        raise GalaxyLabError(f"{root}: is not a galaxylab run folder (it holds {shown}); "
                             "choose a new or empty --out")
    if is_complete(root) and not overwrite:
        raise GalaxyLabError(f"{root}: already holds a complete run ({METRICS}); pass "
                             "--overwrite to replace it or choose another --out")


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
                "the same arguments to resume it, or pass --overwrite to start again")
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
        raise ValueError(f"cannot publish a run without {', '.join(missing)}")
    for name in RUN_FILES:
        os.replace(staged[name], root / name)
    shutil.rmtree(root / WORK, ignore_errors=True)


def config_for_model(model_path: str | os.PathLike) -> dict | None:
    """The config.json beside a saved model, or None when there is none."""
    path = Path(model_path).parent / CONFIG
    return read_json(path) if path.is_file() else None
