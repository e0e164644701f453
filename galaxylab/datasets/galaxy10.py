"""Galaxy10 DECaLS: one HDF5 file with ``images`` (N, 256, 256, 3) uint8 and ``ans`` (N,).

The real file is 2.5 GB, so the catalog is built lazily: only the images' shape, the class
numbers and the small metadata arrays (``ra``, ``dec``, ``redshift``) are read. Each row's
``image`` is the .h5 path and ``h5_index`` its position; :func:`read_images` fetches pixels
for a handful of rows when they are needed.

Validation (``check_images``) still reads every stored chunk of ``images`` once, since a
damaged compressed chunk would otherwise surface only mid-training; the rows it covers become
unreadable-image problems, and the result is cached with :mod:`galaxylab.checkcache`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from galaxylab import checkcache
from galaxylab.datasets import catalog as cat
from galaxylab.errors import GalaxyLabError
from galaxylab.labels import GALAXY10_NAMES

SUFFIXES: tuple[str, ...] = (".h5", ".hdf5")
METADATA: tuple[str, ...] = ("ra", "dec", "redshift")
#: Bump when the pixel check changes, so older cached results are not trusted.
_CACHE_KIND = "galaxy10-chunks-v1"


def _flat(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as error:
        raise GalaxyLabError(f"{path}: cannot be opened as an HDF5 file ({error})") from error


def _broken_link(link: object, error: BaseException) -> str:
    """Why a name in the file leads nowhere: the link it is, and where it points."""
    if isinstance(link, h5py.ExternalLink):
        return (
            f"is an external link to {link.filename}:{link.path}, which cannot be opened "
            f"({_flat(error)})"
        )
    if isinstance(link, h5py.SoftLink):
        return f"is a soft link to {link.path}, which does not exist"
    return f"cannot be opened ({_flat(error)})"


def dataset(h5: h5py.File, path: Path, key: str) -> h5py.Dataset | None:
    """``h5[key]`` as a dataset, or None when the file has no such name.

    A group (or named type) where a dataset should be, and a soft or external link that leads
    nowhere, raise GalaxyLabError naming the file and the dataset.
    """
    link = h5.get(key, getlink=True)
    if link is None:
        return None
    try:
        found = h5[key]
    except (KeyError, OSError, ValueError) as error:
        raise GalaxyLabError(f"{path}: {key} {_broken_link(link, error)}") from error
    if not isinstance(found, h5py.Dataset):
        kind = "group" if isinstance(found, h5py.Group) else "named type"
        raise GalaxyLabError(f"{path}: {key} is a {kind}, not a dataset")
    return found


def _describe(dtype: np.dtype) -> str:
    if dtype.kind in "SUO":
        return f"text (dtype {dtype})"
    if dtype.kind == "V":
        return f"records (dtype {dtype})"
    return f"values of dtype {dtype}"


def read_numbers(data: h5py.Dataset, path: Path, key: str) -> np.ndarray:
    """A numeric dataset's values, flattened; text or unreadable data raise GalaxyLabError."""
    if data.dtype.kind not in "biuf":
        raise GalaxyLabError(f"{path}: {key} holds {_describe(data.dtype)}, not numbers")
    try:
        return np.asarray(data[()]).reshape(-1)
    except (OSError, ValueError, TypeError) as error:
        raise GalaxyLabError(f"{path}: cannot read {key} ({_flat(error)})") from error


def _chunk_offsets(images: h5py.Dataset) -> list[tuple[int, ...]]:
    """Where each stored chunk of a chunked dataset starts (chunks never written hold no data)."""
    offsets: list[tuple[int, ...]] = []
    try:
        images.id.chunk_iter(lambda info: offsets.append(tuple(info.chunk_offset)))
    except AttributeError:  # an HDF5 older than 1.14 cannot walk its chunks: visit every one
        return [tuple(part.start for part in where) for where in images.iter_chunks()]
    return offsets


def _contiguous_problems(images: h5py.Dataset, path: Path) -> list[list[Any]]:
    """The rows of an uncompressed ``images`` that lie beyond the end of a cut-short file."""
    offset = images.id.get_offset()
    if offset is None:  # never written: reads give the fill value
        return []
    row_bytes = max(1, int(np.prod(images.shape[1:])) * images.dtype.itemsize)
    present = (os.path.getsize(path) - offset) // row_bytes
    if present >= images.shape[0]:
        return []
    return [[max(0, int(present)), int(images.shape[0]), "the file ends before these pixels"]]


def _read_chunks(images: h5py.Dataset, path: Path) -> list[list[Any]]:
    """[first row, stop row, error] for each stored chunk of ``images`` that cannot be read."""
    if images.chunks is None:
        return _contiguous_problems(images, path)
    n = int(images.shape[0])
    try:
        offsets = _chunk_offsets(images)
    except (OSError, RuntimeError, ValueError) as error:
        return [[0, n, f"its chunk index is damaged ({_flat(error)})"]]
    bad: dict[int, list[Any]] = {}
    for offset in offsets:
        where = tuple(
            slice(start, min(start + size, total))
            for start, size, total in zip(offset, images.chunks, images.shape, strict=True)
        )
        if where[0].start in bad:
            continue
        try:
            images[where]
        except (OSError, RuntimeError, ValueError) as error:
            first, stop = where[0].start, where[0].stop
            bad[first] = [first, stop, f"a stored chunk is damaged ({_flat(error)})"]
    return [bad[first] for first in sorted(bad)]


def _pixel_problems(images: h5py.Dataset, path: Path) -> list[cat.Problem]:
    """One unreadable-image problem per row whose pixels cannot be read (cached per file)."""
    key, stamp = str(path.absolute()), checkcache.stamp(path)
    known = checkcache.lookup(_CACHE_KIND, [(key, stamp)]) if stamp is not None else {}
    if key in known:
        bad = json.loads(known[key])
    else:
        bad = _read_chunks(images, path)
        if stamp is not None:
            checkcache.store(_CACHE_KIND, [(key, stamp, json.dumps(bad))])
    return [
        cat.Problem(
            "unreadable_image", i, f"{path} images[{i}]", f"index {i}", f"cannot be read: {why}"
        )
        for first, stop, why in bad
        for i in range(first, stop)
    ]


def scan(path: Path, *, check_images: bool = True) -> cat.Scan:
    """Build the catalog of a Galaxy10 .h5 file from its labels and metadata.

    Structural problems (no ``images``/``ans``, a group or dangling link in their place, text
    where numbers belong, wrong shapes) raise GalaxyLabError; class numbers outside 0-9 and
    (with ``check_images``) rows whose stored pixels cannot be read are row problems.
    """
    with _open(path) as h5:
        found = {key: dataset(h5, path, key) for key in ("images", "ans", *METADATA)}
        images, ans = found["images"], found["ans"]
        if images is None or ans is None:
            missing = [key for key in ("images", "ans") if found[key] is None]
            raise GalaxyLabError(
                f"{path}: no {' or '.join(missing)} dataset (it has: "
                f"{', '.join(sorted(h5.keys())) or 'nothing'})"
            )
        shape, dtype = images.shape, images.dtype
        if len(shape) != 4 or shape[-1] != 3 or dtype != np.uint8:
            raise GalaxyLabError(
                f"{path}: images has shape {shape} and dtype {dtype}; "
                "expected (N, height, width, 3) uint8"
            )
        n = shape[0]
        if n == 0:
            raise GalaxyLabError(f"{path}: holds no images")
        answers = read_numbers(ans, path, "ans")
        metadata = {
            key: read_numbers(data, path, key).astype(np.float64)
            for key in METADATA
            if (data := found[key]) is not None
        }
        pixel_problems = _pixel_problems(images, path) if check_images else []
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
    return cat.Scan(catalog, pixel_problems + problems)


def read_images(path: str | Path, indices: Sequence[int]) -> np.ndarray:
    """The images at ``indices`` of a Galaxy10 file, as uint8 (len(indices), H, W, 3).

    Reads only those rows (HDF5 needs increasing indices, so they are sorted and put back).
    """
    wanted = np.asarray(indices, dtype=np.int64).reshape(-1)
    order = np.argsort(wanted, kind="stable")
    unique, inverse = np.unique(wanted[order], return_inverse=True)
    with _open(Path(path)) as h5:
        images = dataset(h5, Path(path), "images")
        if images is None:
            raise GalaxyLabError(f"{path}: no images dataset")
        n = images.shape[0]
        if unique.size and (unique[0] < 0 or unique[-1] >= n):
            raise GalaxyLabError(f"{path}: image index out of range 0..{n - 1}")
        try:
            block = images[unique.tolist()] if unique.size else np.empty((0, 0, 0, 3), np.uint8)
        except (OSError, RuntimeError, ValueError) as error:
            raise GalaxyLabError(f"{path}: cannot read images ({_flat(error)})") from error
    out = np.empty((len(wanted),) + block.shape[1:], dtype=np.uint8)
    out[order] = block[inverse]
    return out
