"""The built-in samples shipped inside the package (``galaxylab/samples/``): their names, where
the installed package keeps them, the SAMPLE.json describing each, and their checksums.

A bare built-in name (a ``str`` key of :data:`BUILTIN_SOURCES`) always means the built-in
sample; a folder of the same name in the working directory is written ``./gz1-desi``. Any
folder holding a SAMPLE.json with a ``files`` map (a built-in sample, or a copy of one) is
verified when it is loaded: every listed file must be there with its recorded sha256. A file is
hashed once per process and hashed again only when its size or modification time changes.
:mod:`galaxylab.datasets.builtin` writes the samples (maintainers only).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

from galaxylab.errors import GalaxyLabError

#: Where the installed package keeps its samples.
SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
#: The description of a sample folder: name, sizes, JPEG quality, frame_fraction and checksums.
SAMPLE_JSON = "SAMPLE.json"

#: The built-in sources: name → what it holds.
BUILTIN_SOURCES: dict[str, str] = {
    "gz1-desi": (
        "1199 real galaxies: DESI Legacy Surveys images with Galaxy Zoo 1 vote fractions and "
        "spiral / elliptical / uncertain flags (a GZ1 folder)"
    ),
    "kaggle-sample": (
        "300 real galaxies of the Kaggle Galaxy Zoo challenge (SDSS images) with 17 of the 37 "
        "vote-fraction columns (a Kaggle-layout folder)"
    ),
}

# path -> (size, mtime_ns, sha256 the file had then): what this process has already verified.
_VERIFIED: dict[str, tuple[int, int, str]] = {}


def builtin_folder(name: str) -> Path:
    """The folder of the built-in sample ``name`` inside the installed package."""
    if name not in BUILTIN_SOURCES:
        raise GalaxyLabError(
            f"unknown built-in sample {name!r}; choose one of {', '.join(BUILTIN_SOURCES)}"
        )
    folder = SAMPLES_DIR / name
    if not (folder / SAMPLE_JSON).is_file():
        raise GalaxyLabError(
            f"the built-in sample {name} is missing from the installed galaxylab "
            f"({folder / SAMPLE_JSON} not found); reinstall galaxylab"
        )
    return folder


def resolve_source(src: str | os.PathLike[str]) -> Path:
    """The path a source argument names: a built-in sample's folder for a bare built-in name
    (a ``str``), else ``src`` itself as a Path. An empty string is refused: as a Path it
    would silently mean the current folder."""
    if isinstance(src, str) and not src.strip():
        raise GalaxyLabError("no data source given (the path is empty)")
    if isinstance(src, str) and src in BUILTIN_SOURCES:
        return builtin_folder(src)
    return Path(src)


def read_meta(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The parsed SAMPLE.json of ``folder``, or None when it has none."""
    path = Path(folder) / SAMPLE_JSON
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GalaxyLabError(f"{path}: cannot be read as JSON ({error})") from error
    if not isinstance(meta, dict):
        raise GalaxyLabError(f"{path}: holds no JSON object")
    return meta


def frame_fraction(folder: str | os.PathLike[str]) -> float:
    """The side of a stored image as a fraction of the original cutout's side: SAMPLE.json's
    ``frame_fraction``, or 1.0 for a folder without one (images as the survey cut them)."""
    meta = read_meta(folder)
    if meta is None or "frame_fraction" not in meta:
        return 1.0
    value = meta["frame_fraction"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise GalaxyLabError(
            f"{Path(folder) / SAMPLE_JSON}: frame_fraction must be a number in (0, 1], "
            f"got {value!r}"
        )
    return float(value)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _listed_files(folder: Path, meta: dict[str, Any]) -> dict[str, str]:
    files = meta.get("files", {})
    where = folder / SAMPLE_JSON
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise GalaxyLabError(f"{where}: 'files' must map relative paths to sha256 strings")
    for name in files:
        parts = PurePosixPath(name).parts
        if PurePosixPath(name).is_absolute() or ".." in parts or not parts:
            raise GalaxyLabError(f"{where}: {name!r} is not a path inside the sample folder")
    return files


def _damage(path: Path, expected: str) -> str | None:
    """What is wrong with one listed file (None when it matches its checksum)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return f"{path} is missing"
    except OSError as error:
        return f"{path} cannot be read ({error.strerror or error})"
    signature = (stat.st_size, stat.st_mtime_ns, expected)
    if _VERIFIED.get(str(path)) == signature:
        return None
    try:
        actual = file_sha256(path)
    except OSError as error:
        return f"{path} cannot be read ({error.strerror or error})"
    if actual != expected:
        return f"{path} does not match its sha256 in {SAMPLE_JSON}"
    _VERIFIED[str(path)] = signature
    return None


def verify(folder: str | os.PathLike[str]) -> None:
    """Check every file SAMPLE.json lists against its sha256 (nothing to do without one).

    Raises one GalaxyLabError naming the first missing or changed file and how many more.
    """
    folder = Path(folder)
    meta = read_meta(folder)
    if meta is None:
        return
    files = _listed_files(folder, meta)
    damaged = [
        problem
        for name, expected in sorted(files.items())
        if (problem := _damage(folder / name, expected)) is not None
    ]
    if damaged:
        more = f" (and {len(damaged) - 1} more files)" if len(damaged) > 1 else ""
        raise GalaxyLabError(
            f"the built-in sample is damaged: {damaged[0]}{more}; reinstall galaxylab"
        )
