"""Galaxy10 DECaLS: one HDF5 file with ``images`` (N, 256, 256, 3) uint8 and ``ans`` (N,).

The real file is 2.5 GB, so the catalog is built lazily: only the images' shape, the class
numbers and the small metadata arrays (``ra``, ``dec``, ``redshift``) are read. Each row's
``image`` is the .h5 path and ``h5_index`` its position; :func:`read_images` fetches pixels
for a handful of rows when they are needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from galaxylab.datasets import catalog as cat
from galaxylab.errors import GalaxyLabError
from galaxylab.labels import GALAXY10_NAMES

SUFFIXES: tuple[str, ...] = (".h5", ".hdf5")
METADATA: tuple[str, ...] = ("ra", "dec", "redshift")


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as error:
        raise GalaxyLabError(f"{path}: cannot be opened as an HDF5 file ({error})") from error


def scan(path: Path, *, check_images: bool = True) -> cat.Scan:
    """Build the catalog of a Galaxy10 .h5 file from its labels and metadata, never its pixels.

    Structural problems (no ``images``/``ans``, wrong shapes) raise GalaxyLabError; class
    numbers outside 0-9 are row problems. ``check_images`` has nothing cheap to check here:
    the pixels live in one typed array.
    """
    del check_images
    with _open(path) as h5:
        missing = [key for key in ("images", "ans") if key not in h5]
        if missing:
            raise GalaxyLabError(
                f"{path}: no {' or '.join(missing)} dataset (it has: "
                f"{', '.join(sorted(h5.keys())) or 'nothing'})"
            )
        shape, dtype = h5["images"].shape, h5["images"].dtype
        if len(shape) != 4 or shape[-1] != 3 or dtype != np.uint8:
            raise GalaxyLabError(
                f"{path}: images has shape {shape} and dtype {dtype}; "
                "expected (N, height, width, 3) uint8"
            )
        n = shape[0]
        if n == 0:
            raise GalaxyLabError(f"{path}: holds no images")
        answers = np.asarray(h5["ans"][()]).reshape(-1)
        metadata = {
            key: np.asarray(h5[key][()], dtype=np.float64).reshape(-1)
            for key in METADATA
            if key in h5
        }
    for key, array in {"ans": answers, **metadata}.items():
        if len(array) != n:
            raise GalaxyLabError(f"{path}: {key} has {len(array)} entries for {n} images")

    numbers = np.asarray(answers, dtype=np.float64)
    valid = (
        np.isfinite(numbers)
        & (numbers == np.round(numbers))
        & (numbers >= 0)
        & (numbers < len(GALAXY10_NAMES))
    )
    classes = np.where(valid, numbers, -1).astype(np.int64)
    last = len(GALAXY10_NAMES) - 1
    problems = [
        cat.Problem(
            "invalid_value",
            int(i),
            f"{path} ans[{i}]",
            f"index {i}",
            f"class {answers[i].item()!r} is not a Galaxy10 class (0-{last})",
        )
        for i in np.flatnonzero(~valid)
    ]
    extra: dict[str, Any] = {
        "h5_index": np.arange(n),
        "class_name": [GALAXY10_NAMES[c] if c >= 0 else "" for c in classes],
        "galaxy10_class": classes,
        **metadata,
    }
    catalog = cat.make_catalog(
        [str(i) for i in range(n)], [path] * n, None, source="galaxy10", root=path, extra=extra
    )
    return cat.Scan(catalog, problems)


def read_images(path: str | Path, indices: Sequence[int]) -> np.ndarray:
    """The images at ``indices`` of a Galaxy10 file, as uint8 (len(indices), H, W, 3).

    Reads only those rows (HDF5 needs increasing indices, so they are sorted and put back).
    """
    wanted = np.asarray(indices, dtype=np.int64).reshape(-1)
    order = np.argsort(wanted, kind="stable")
    unique, inverse = np.unique(wanted[order], return_inverse=True)
    with _open(Path(path)) as h5:
        n = h5["images"].shape[0]
        if unique.size and (unique[0] < 0 or unique[-1] >= n):
            raise GalaxyLabError(f"{path}: image index out of range 0..{n - 1}")
        block = h5["images"][unique.tolist()] if unique.size else np.empty((0, 0, 0, 3), np.uint8)
    out = np.empty((len(wanted),) + block.shape[1:], dtype=np.uint8)
    out[order] = block[inverse]
    return out
