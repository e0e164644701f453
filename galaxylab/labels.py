"""Derived targets: the three-class label (elliptical / spiral / unsure) and Galaxy10 names.

The three-class label follows the Galaxy Zoo 1 "clean sample" convention (Lintott et al. 2008,
MNRAS 389, 1179): a galaxy is called elliptical when at least 80% of volunteers said *smooth*
(Kaggle ``Class1.1``), spiral when at least 80% said *features or disk* (``Class1.2``), and
everything in between is "unsure". Class folders carry the label in their folder name, and
Galaxy10 DECaLS classes map onto the three classes through :data:`GALAXY10_TO_THREE_CLASS`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from galaxylab.errors import GalaxyLabError

#: The three classes in alphabetical order, which is also the order Keras'
#: ``image_dataset_from_directory`` gives class folders and the confusion-matrix order.
THREE_CLASSES: tuple[str, ...] = ("elliptical", "spiral", "unsure")

#: The GZ1 clean-sample vote threshold.
DEFAULT_THRESHOLD = 0.8

#: Galaxy10 DECaLS class names by class number (the ``ans`` field of the .h5 file).
GALAXY10_NAMES: tuple[str, ...] = (
    "Disturbed",
    "Merging",
    "Round Smooth",
    "In-between Round Smooth",
    "Cigar Shaped Smooth",
    "Barred Spiral",
    "Unbarred Tight Spiral",
    "Unbarred Loose Spiral",
    "Edge-on without Bulge",
    "Edge-on with Bulge",
)

#: Galaxy10 class → three-class label. The smooth classes (2, 3, 4) are what GZ volunteers call
#: *smooth*, i.e. ellipticals. The spirals (5, 6, 7) and the edge-on disks (8, 9) answered
#: *features or disk*; GZ1's combined spiral likelihood also counts edge-on disks as spirals.
#: Disturbed (0) and merging (1) galaxies fit neither clean class, so they are "unsure".
GALAXY10_TO_THREE_CLASS: dict[int, str] = {
    0: "unsure",
    1: "unsure",
    2: "elliptical",
    3: "elliptical",
    4: "elliptical",
    5: "spiral",
    6: "spiral",
    7: "spiral",
    8: "spiral",
    9: "spiral",
}


def _categorical(values: Iterable[object], index: pd.Index) -> pd.Series:
    return pd.Series(pd.Categorical(list(values), categories=THREE_CLASSES), index=index)


def three_class(catalog: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD) -> pd.Series:
    """The three-class label of every catalog row, as a categorical in THREE_CLASSES order.

    From vote fractions: elliptical if Class1.1 ≥ threshold, spiral if Class1.2 ≥ threshold,
    else unsure (NaN where either fraction is unknown). Class-folder catalogs use the folder
    name when it is one of the three classes, Galaxy10 catalogs use GALAXY10_TO_THREE_CLASS;
    anything else is NaN. ``threshold`` must lie in (0.5, 1] so the two classes cannot overlap.
    """
    if not 0.5 < threshold <= 1.0:
        raise GalaxyLabError(f"three-class threshold must be in (0.5, 1], got {threshold}")
    if "galaxy10_class" in catalog.columns:
        mapped = catalog["galaxy10_class"].map(GALAXY10_TO_THREE_CLASS)
        return _categorical(mapped, catalog.index)
    if "class_name" in catalog.columns:
        names = catalog["class_name"]
        return _categorical((n if n in THREE_CLASSES else None for n in names), catalog.index)
    if "Class1.1" not in catalog.columns or "Class1.2" not in catalog.columns:
        return _categorical([None] * len(catalog), catalog.index)
    smooth = catalog["Class1.1"].to_numpy(dtype=np.float64)
    disk = catalog["Class1.2"].to_numpy(dtype=np.float64)
    known = ~(np.isnan(smooth) | np.isnan(disk))
    out = np.where(smooth >= threshold, "elliptical",
                   np.where(disk >= threshold, "spiral", "unsure"))
    return _categorical(np.where(known, out, None), catalog.index)


def three_class_counts(catalog: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD
                       ) -> dict[str, int] | None:
    """How many rows fall in each of the three classes (plain ints), or None if none is known."""
    classes = three_class(catalog, threshold)
    if classes.isna().all():
        return None
    counts = classes.value_counts()
    return {name: int(counts.get(name, 0)) for name in THREE_CLASSES}


def encode(classes: Iterable[str], names: Iterable[str] = THREE_CLASSES) -> np.ndarray:
    """Class names → integer indices in ``names`` order (THREE_CLASSES by default).

    Raises GalaxyLabError naming the first value that is not a known class (NaN included),
    because a silently mis-encoded label would poison training.
    """
    lookup = {name: i for i, name in enumerate(names)}
    out = []
    for value in classes:
        if value not in lookup:
            raise GalaxyLabError(f"unknown class {value!r}; expected one of {sorted(lookup)}")
        out.append(lookup[value])
    return np.asarray(out, dtype=np.int64)


def decode(indices: Iterable[int], names: Iterable[str] = THREE_CLASSES) -> list[str]:
    """Integer indices → class names in ``names`` order (the inverse of :func:`encode`)."""
    names = tuple(names)
    out = []
    for i in indices:
        if not 0 <= int(i) < len(names):
            raise GalaxyLabError(f"class index {i} is outside 0..{len(names) - 1}")
        out.append(names[int(i)])
    return out
