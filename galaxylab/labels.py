"""Derived targets: the three-class label (elliptical / spiral / unsure), Galaxy10 names, and the
targets each learning task takes from a catalog.

The three-class label follows the Galaxy Zoo 1 "clean sample" convention (Lintott et al. 2008,
MNRAS 389, 1179): a galaxy is called elliptical when at least 80% of volunteers said *smooth*
(Kaggle ``Class1.1``), spiral when at least 80% said *features or disk* (``Class1.2``), and
everything in between is "unsure". Class folders carry the label in their folder name,
Galaxy10 DECaLS classes map onto the three classes through :data:`GALAXY10_TO_THREE_CLASS`, and
a Galaxy Zoo 1 catalog gives them by its clean-sample flags or by its raw or debiased fractions
(``gz1_labels``, one of :data:`galaxylab.choices.GZ1_LABELS`).

:func:`targets` gives a task its rows and targets: class indices for ``three-class``, the 37
vote-fraction columns for ``decision-tree`` (NaN where the source does not know a column; the
masked loss and metrics skip those). Rows without a usable target are dropped with a warning; a
source with no usable target at all is an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from galaxylab import tree
from galaxylab.choices import GZ1_LABELS, TASKS
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


#: A Galaxy Zoo 1 catalog's flag column for each class (the gz1_* columns of datasets.gz1).
GZ1_FLAG_COLUMNS: dict[str, str] = {
    "spiral": "gz1_spiral",
    "elliptical": "gz1_elliptical",
    "unsure": "gz1_uncertain",
}
#: The (elliptical, spiral) fractions a GZ1 catalog's "raw" and "debiased" labels threshold.
GZ1_FRACTION_COLUMNS: dict[str, tuple[str, str]] = {
    "raw": ("gz1_p_el", "gz1_p_cs"),
    "debiased": ("gz1_p_el_debiased", "gz1_p_cs_debiased"),
}


def _categorical(values: Iterable[object], index: pd.Index) -> pd.Series:
    return pd.Series(pd.Categorical(list(values), categories=THREE_CLASSES), index=index)


def check_gz1_labels(gz1_labels: str) -> str:
    """Return ``gz1_labels`` if it is one of GZ1_LABELS, else raise GalaxyLabError."""
    if gz1_labels not in GZ1_LABELS:
        raise GalaxyLabError(
            f"unknown gz1_labels {gz1_labels!r}; choose one of {', '.join(GZ1_LABELS)}"
        )
    return gz1_labels


def _thresholded(
    catalog: pd.DataFrame, smooth_column: str, disk_column: str, threshold: float
) -> pd.Series:
    """Elliptical if the smooth fraction ≥ threshold, spiral if the disk one is, else unsure."""
    smooth = catalog[smooth_column].to_numpy(dtype=np.float64)
    disk = catalog[disk_column].to_numpy(dtype=np.float64)
    known = ~(np.isnan(smooth) | np.isnan(disk))
    out = np.where(
        smooth >= threshold, "elliptical", np.where(disk >= threshold, "spiral", "unsure")
    )
    return _categorical(np.where(known, out, None), catalog.index)  # type: ignore[call-overload]


def _gz1_flags(catalog: pd.DataFrame) -> pd.Series:
    """The class whose GZ1 flag is 1 (NaN unless exactly one flag is 1 and the others 0)."""
    flags = catalog[list(GZ1_FLAG_COLUMNS.values())].to_numpy(dtype=np.float64)
    valid = np.isin(flags, (0.0, 1.0)).all(axis=1) & (flags.sum(axis=1) == 1)
    names = np.asarray(list(GZ1_FLAG_COLUMNS), dtype=object)[flags.argmax(axis=1)]
    return _categorical(np.where(valid, names, None), catalog.index)


def three_class(
    catalog: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD, gz1_labels: str = "flags"
) -> pd.Series:
    """The three-class label of every catalog row, as a categorical in THREE_CLASSES order.

    From vote fractions: elliptical if Class1.1 ≥ threshold, spiral if Class1.2 ≥ threshold,
    else unsure (NaN where either fraction is unknown). Class-folder catalogs use the folder
    name when it is one of the three classes, Galaxy10 catalogs use GALAXY10_TO_THREE_CLASS;
    anything else is NaN. ``threshold`` must lie in (0.5, 1] so the two classes cannot overlap.
    A Galaxy Zoo 1 catalog follows ``gz1_labels``: "flags" (SPIRAL → spiral, ELLIPTICAL →
    elliptical, UNCERTAIN → unsure; ``threshold`` unused), "raw" (P_EL / P_CS ≥ threshold) or
    "debiased" (P_EL_DEBIASED / P_CS_DEBIASED ≥ threshold); other catalogs ignore it.
    """
    if not 0.5 < threshold <= 1.0:
        raise GalaxyLabError(f"three-class threshold must be in (0.5, 1], got {threshold}")
    check_gz1_labels(gz1_labels)
    if all(c in catalog.columns for c in GZ1_FLAG_COLUMNS.values()):
        if gz1_labels == "flags":
            return _gz1_flags(catalog)
        return _thresholded(catalog, *GZ1_FRACTION_COLUMNS[gz1_labels], threshold)
    if "galaxy10_class" in catalog.columns:
        mapped = catalog["galaxy10_class"].map(GALAXY10_TO_THREE_CLASS)
        return _categorical(mapped, catalog.index)
    if "class_name" in catalog.columns:
        names = catalog["class_name"]
        return _categorical((n if n in THREE_CLASSES else None for n in names), catalog.index)
    if "Class1.1" not in catalog.columns or "Class1.2" not in catalog.columns:
        return _categorical([None] * len(catalog), catalog.index)
    return _thresholded(catalog, "Class1.1", "Class1.2", threshold)


def three_class_counts(
    catalog: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD, gz1_labels: str = "flags"
) -> dict[str, int] | None:
    """How many rows fall in each of the three classes (plain ints), or None if none is known."""
    classes = three_class(catalog, threshold, gz1_labels)
    if classes.isna().all():
        return None
    counts = classes.value_counts()
    return {name: int(counts.get(name, 0)) for name in THREE_CLASSES}


def class_indices(classes: Iterable[str], names: Iterable[str] = THREE_CLASSES) -> np.ndarray:
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


def class_names(indices: Iterable[int], names: Iterable[str] = THREE_CLASSES) -> list[str]:
    """Integer indices → class names in ``names`` order (the inverse of :func:`class_indices`)."""
    names = tuple(names)
    out = []
    for i in indices:
        if not 0 <= int(i) < len(names):
            raise GalaxyLabError(f"class index {i} is outside 0..{len(names) - 1}")
        out.append(names[int(i)])
    return out


# --------------------------------------------------------------------------- task targets


def check_task(task: str) -> str:
    """Return ``task`` if it is one of TASKS, else raise GalaxyLabError."""
    if task not in TASKS:
        raise GalaxyLabError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return task


def _where(catalog: pd.DataFrame) -> str:
    return str(catalog.attrs.get("root", "the data source"))


def three_class_targets(
    catalog: pd.DataFrame, gz1_labels: str = "flags"
) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows with a known three-class label and their class indices (int32)."""
    classes = three_class(catalog, gz1_labels=gz1_labels)
    known = classes.notna().to_numpy()
    if not known.any():
        if catalog.attrs.get("source") == "folders":
            names = sorted(set(catalog.get("class_name", pd.Series(dtype=str)).astype(str)))
            raise GalaxyLabError(
                f"{_where(catalog)}: the three-class task needs class folders named "
                f"{', '.join(THREE_CLASSES)}; found {', '.join(names) or 'none'}"
            )
        raise GalaxyLabError(
            f"{_where(catalog)}: no three-class labels: the three-class task needs the "
            "Class1.1 and Class1.2 vote fractions (Kaggle layout), class folders named "
            f"{', '.join(THREE_CLASSES)}, or a Galaxy10 file"
        )
    kept = _keep(catalog, known, "without a three-class label")
    return kept, class_indices(classes[known].astype(str)).astype(np.int32)


def known_label_columns(catalog: pd.DataFrame) -> list[str]:
    """Label columns the source provides and knows for at least one row, in tree order."""
    present = catalog.attrs.get("label_columns") or [c for c in tree.COLUMNS if c in catalog]
    return [c for c in tree.COLUMNS if c in present and c in catalog and catalog[c].notna().any()]


def tree_targets(catalog: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows with a known vote fraction and their (N, 37) float32 targets (NaN = unknown)."""
    columns = known_label_columns(catalog)
    if not columns and GZ1_FLAG_COLUMNS["spiral"] in catalog.columns:
        raise GalaxyLabError(
            f"{_where(catalog)}: the decision-tree task needs the 37 Galaxy Zoo 2 vote "
            "fractions (Class1.1 ... Class11.6), but a Galaxy Zoo 1 table has none (its P_EL, "
            "P_CS, ... answer other questions); train the three-class task on it instead"
        )
    if not columns:
        kind = (
            "class folders carry no vote fractions"
            if catalog.attrs.get("source") in ("folders", "galaxy10")
            else "it has no Class1.1 ... Class11.6 vote-fraction columns"
        )
        raise GalaxyLabError(
            f"{_where(catalog)}: the decision-tree task needs Galaxy Zoo vote fractions "
            f"(Kaggle or GZ2 layout), but {kind}"
        )
    known = catalog[columns].notna().any(axis=1).to_numpy()
    kept = _keep(catalog, known, "without any known vote fraction")
    values = np.full((len(kept), len(tree.COLUMNS)), np.nan, dtype=np.float32)
    for column in columns:
        values[:, tree.COLUMN_INDEX[column]] = kept[column].to_numpy(dtype=np.float32)
    return kept, values


def targets(
    task: str, catalog: pd.DataFrame, gz1_labels: str = "flags"
) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows usable for ``task`` (index reset, attrs kept) and their targets; a Galaxy Zoo 1
    catalog's three classes follow ``gz1_labels`` (see :func:`three_class`)."""
    check_task(task)
    check_gz1_labels(gz1_labels)
    if len(catalog) == 0:
        raise GalaxyLabError(f"{_where(catalog)}: holds no galaxies")
    if task == "three-class":
        return three_class_targets(catalog, gz1_labels)
    return tree_targets(catalog)


def _keep(catalog: pd.DataFrame, mask: np.ndarray, why: str) -> pd.DataFrame:
    if not mask.all():
        dropped = catalog.loc[~mask, "id"].astype(str)
        warnings.warn(
            f"{_where(catalog)}: ignoring {len(dropped)} galaxies {why} (first: {dropped.iloc[0]})",
            stacklevel=3,
        )
    kept = catalog.loc[mask].reset_index(drop=True)
    kept.attrs = dict(catalog.attrs)
    return kept
