"""Every data source becomes one catalog type (see :mod:`galaxylab.datasets.catalog`).

Sources: the Kaggle challenge layout (also the synthetic universe), class folders, a Galaxy10
DECaLS .h5 file, a GZ2 folder (Hart et al. 2016 table + Zenodo images), a GZ1 folder (a
Galaxy Zoo 1 table + images), and the built-in samples shipped with the package
(:data:`BUILTIN_SOURCES`, named by a bare name such as ``"gz1-desi"``). :func:`load`
detects the source, validates it and returns the catalog; :func:`inspect` reports a source's
health without raising for bad rows; :func:`default` builds the offline synthetic universe;
:func:`fetch` downloads the public real-data files (checksummed and cached).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from galaxylab import labels
from galaxylab.datasets import folders, galaxy10, gz1, gz2, kaggle, samples
from galaxylab.datasets.catalog import (
    EXTRA_COLUMNS,
    ID,
    IMAGE,
    LABEL_COLUMNS,
    SOURCES,
    DataWarning,
    Scan,
    make_catalog,
    report,
    resolve,
)
from galaxylab.datasets.default import load_default, universe_folder
from galaxylab.datasets.kaggle import KAGGLE_INSTRUCTIONS
from galaxylab.datasets.pixels import row_pixels
from galaxylab.datasets.registry import REGISTRY, RemoteFile, fetch
from galaxylab.datasets.samples import BUILTIN_SOURCES, resolve_source
from galaxylab.errors import GalaxyLabError
from galaxylab.images import IMAGE_EXTENSIONS, file_kind, list_folder

__all__ = [
    "BUILTIN_SOURCES",
    "EXTRA_COLUMNS",
    "ID",
    "IMAGE",
    "KAGGLE_INSTRUCTIONS",
    "LABEL_COLUMNS",
    "REGISTRY",
    "SOURCES",
    "DataWarning",
    "RemoteFile",
    "detect_source",
    "fetch",
    "inspect",
    "load",
    "load_default",
    "make_catalog",
    "resolve_source",
    "row_pixels",
    "universe_folder",
]

_EXPECTED = (
    "a Kaggle-layout folder (training_solutions_rev1.csv + images_training_rev1/), "
    "class folders (SRC/<class>/*.jpg), a Galaxy10 .h5 file, a GZ2 folder "
    "(gz2_hart16.csv.gz + gz2_filename_mapping.csv + images/), a GZ1 folder (a Galaxy Zoo 1 "
    f"table .csv + images/), or a built-in sample ({', '.join(BUILTIN_SOURCES)})"
)


def detect_source(src: str | os.PathLike[str]) -> str:
    """Which kind of source ``src`` is: ``"kaggle"``, ``"folders"``, ``"galaxy10"``, ``"gz2"``
    or ``"gz1"`` (a built-in name is its sample's layout).

    Raises GalaxyLabError (one line, naming the path) for a missing path, an empty folder, or
    anything that is none of the five layouts.
    """
    _require_given(src)
    path = resolve_source(src)
    if not path.exists():
        raise GalaxyLabError(f"{path}: no such file or folder")
    if not path.is_file() and not path.is_dir():  # a FIFO would block the first read forever
        raise GalaxyLabError(f"{path}: is {file_kind(path.stat().st_mode)}, not a file or folder")
    if path.is_file():
        if path.suffix.lower() in galaxy10.SUFFIXES:
            return "galaxy10"
        hint = " (pass the folder that holds it)" if path.name == kaggle.LABELS_CSV else ""
        raise GalaxyLabError(f"{path}: unknown data source{hint}; expected {_EXPECTED}")
    entries = [e for e in list_folder(path) if not e.startswith(".")]  # first: it may be locked
    if (path / kaggle.LABELS_CSV).exists():
        return "kaggle"
    if gz2.table_path(path) is not None or (path / gz2.MAPPING_CSV).exists():
        return "gz2"
    if gz1.table_path(path) is not None:
        return "gz1"
    if not entries:
        raise GalaxyLabError(f"{path}: the folder is empty")
    if (path / kaggle.IMAGES_DIR).is_dir():
        raise GalaxyLabError(f"{path}: has {kaggle.IMAGES_DIR}/ but no {kaggle.LABELS_CSV}")
    if any(folders.image_files(path / name) for name in folders.class_names(path)):
        return "folders"
    if any(Path(e).suffix.lower() in IMAGE_EXTENSIONS for e in entries):
        raise GalaxyLabError(
            f"{path}: holds images but no class folders; put them in "
            f"{path}/<class name>/ or use the Kaggle layout"
        )
    raise GalaxyLabError(f"{path}: unknown data source; expected {_EXPECTED}")


def _require_given(src: str | os.PathLike[str]) -> None:
    """An empty path would silently mean the current folder: refuse it."""
    if not str(src).strip():
        raise GalaxyLabError("no data source given (the path is empty)")


def _scan(src: str | os.PathLike[str], check_images: bool) -> tuple[str, Scan]:
    _require_given(src)
    path = resolve_source(src)
    source = detect_source(path)
    if path.is_dir():  # a built-in sample (or a copy) checks its files against SAMPLE.json
        samples.verify(path)
    scanner = {
        "kaggle": kaggle.scan,
        "folders": folders.scan,
        "galaxy10": galaxy10.scan,
        "gz2": gz2.scan,
        "gz1": gz1.scan,
    }[source]
    scan = scanner(path, check_images=check_images)
    if path.is_dir():
        scan.catalog["frame_fraction"] = samples.frame_fraction(path)
    return source, scan


def load(
    src: str | os.PathLike[str], *, on_bad: str = "error", check_images: bool = True
) -> pd.DataFrame:
    """Detect, read and validate a data source (a path, or a built-in name); return its catalog.

    Structural problems always raise GalaxyLabError. Row problems (missing or unreadable
    image, bad value, value outside [0, 1], tree violation) raise one GalaxyLabError naming
    the file, row and problem with ``on_bad="error"``, or drop those rows with one
    :class:`DataWarning` with ``on_bad="drop"``. Greyscale images and images without a label
    row only warn. ``check_images=False`` checks that images exist but not their contents.
    """
    _, scan = _scan(src, check_images)
    return resolve(scan, on_bad, str(src))


def inspect(src: str | os.PathLike[str]) -> dict[str, object]:
    """A source's health as a JSON-ready dict; reports bad rows and images instead of raising.

    Keys: source, n, label_columns, missing_images, unreadable_images, tree_violations,
    three_class_counts, then invalid_values, out_of_range_values, greyscale_images,
    extra_images (images without a label row), rows_with_problems and problems (the first
    messages). Counts are numbers of rows. Raises only when the source itself is unusable.
    """
    source, scan = _scan(src, check_images=True)
    health = report(scan)
    out: dict[str, object] = {"source": source}
    for key in ("n", "label_columns", "missing_images", "unreadable_images", "tree_violations"):
        out[key] = health.pop(key)
    out["three_class_counts"] = labels.three_class_counts(scan.catalog)
    out.update(health)
    return out
