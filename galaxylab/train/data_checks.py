"""Checks of the training data that need no TensorFlow, run before the slow import: enough
classes to learn from, and images large enough for the requested size.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
from PIL import Image

from galaxylab import labels
from galaxylab.errors import GalaxyLabError
from galaxylab.preprocessing import Preprocessing


def require_two_classes(
    task: str, targets: np.ndarray, src: str | os.PathLike, part: str = "galaxies"
) -> None:
    """Refuse three-class training on fewer than two classes: it would learn nothing and
    score a perfect accuracy."""
    if task != "three-class":
        return
    present = np.unique(np.asarray(targets, dtype=np.int64))
    if len(present) < 2 and len(targets):
        name = labels.THREE_CLASSES[int(present[0])]
        raise GalaxyLabError(
            f"{src}: all {len(targets)} {part} are {name}; the three-class task needs "
            "galaxies of at least two classes to learn from"
        )


def _h5_shape(path: str) -> tuple[int, int] | None:
    """(height, width) of the images in a Galaxy10 .h5 file, or None if it cannot be read."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            shape = handle["images"].shape
        return int(shape[1]), int(shape[2])
    except (OSError, KeyError, IndexError, TypeError):
        return None


def _shorter_sides(catalog: pd.DataFrame) -> Iterator[int | None]:
    """Per row, the shorter side of its image in pixels (None if unknown), from the file's
    header only."""
    paths = catalog["image"].astype(str)
    if "h5_index" in catalog.columns and catalog["h5_index"].notna().all():
        shapes = {path: _h5_shape(path) for path in paths.unique()}
        for path in paths:
            shape = shapes[path]
            yield None if shape is None else min(shape)
        return
    for path in paths:
        try:
            with Image.open(path) as image:  # reads the header, not the pixels
                yield min(image.size)
        except (OSError, ValueError):
            yield None  # the datasets layer has already reported unreadable files


def warn_small_images(
    catalog: pd.DataFrame, preprocessing: Preprocessing, src: str | os.PathLike
) -> None:
    """One warning when the crop of some images is smaller than the image size asked for:
    those images are upsampled, so the network sees interpolated rather than real detail."""
    size, fraction = preprocessing.image_size, preprocessing.crop_fraction
    frames = (
        catalog["frame_fraction"].fillna(1.0).to_numpy(dtype=np.float64)
        if "frame_fraction" in catalog.columns
        else np.ones(len(catalog))
    )
    small = [
        path
        for path, side, frame in zip(catalog["image"], _shorter_sides(catalog), frames, strict=True)
        if side is not None and round(side * min(1.0, fraction / frame)) < size
    ]
    if small:
        what = (
            "image of {} in {} is smaller than {} px once cropped to its central {:.0%}, so it is"
            if len(small) == 1
            else "images of {} in {} are smaller than {} px once cropped to their central "
            "{:.0%}, so they are"
        ).format(len(catalog), src, size, fraction)
        warnings.warn(f"{len(small)} {what} upsampled; first: {small[0]}", stacklevel=3)
