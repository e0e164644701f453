"""The two learning tasks and the targets each one takes from a catalog.

``three-class``: spiral / elliptical / unsure as integer indices into
:data:`galaxylab.labels.THREE_CLASSES`, from Kaggle-layout vote fractions (Class1.1, Class1.2),
class folders, or Galaxy10 classes. ``decision-tree``: the 37 vote-fraction columns, NaN where
the source does not know a column (the masked loss and metrics skip those). Rows without a
usable target are dropped with a warning; a source with no usable target at all is an error.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd

from galaxylab import labels, tree
from galaxylab.errors import GalaxyLabError

TASKS: tuple[str, ...] = ("three-class", "decision-tree")


def load_catalog(data: str | os.PathLike, *, drop_bad: bool = False) -> pd.DataFrame:
    """Load any supported source, images checked; bad rows raise, or are dropped with a warning."""
    from galaxylab import datasets

    return datasets.load(data, on_bad="drop" if drop_bad else "error", check_images=True)


def check_task(task: str) -> str:
    """Return ``task`` if it is one of TASKS, else raise GalaxyLabError."""
    if task not in TASKS:
        raise GalaxyLabError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return task


def _where(catalog: pd.DataFrame) -> str:
    return str(catalog.attrs.get("root", "the data source"))


def three_class_targets(catalog: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows with a known three-class label and their class indices (int32)."""
    classes = labels.three_class(catalog)
    known = classes.notna().to_numpy()
    if not known.any():
        if catalog.attrs.get("source") == "folders":
            names = sorted(set(catalog.get("class_name", pd.Series(dtype=str)).astype(str)))
            raise GalaxyLabError(
                f"{_where(catalog)}: the three-class task needs class folders named "
                f"{', '.join(labels.THREE_CLASSES)}; found {', '.join(names) or 'none'}"
            )
        raise GalaxyLabError(
            f"{_where(catalog)}: no three-class labels: the three-class task needs the "
            "Class1.1 and Class1.2 vote fractions (Kaggle layout), class folders named "
            f"{', '.join(labels.THREE_CLASSES)}, or a Galaxy10 file"
        )
    kept = _keep(catalog, known, "without a three-class label")
    return kept, labels.encode(classes[known].astype(str)).astype(np.int32)


def scored_columns(catalog: pd.DataFrame) -> list[str]:
    """Label columns the source provides and knows for at least one row, in tree order."""
    present = catalog.attrs.get("label_columns") or [c for c in tree.COLUMNS if c in catalog]
    return [c for c in tree.COLUMNS
            if c in present and c in catalog and catalog[c].notna().any()]


def tree_targets(catalog: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows with a known vote fraction and their (N, 37) float32 targets (NaN = unknown)."""
    columns = scored_columns(catalog)
    if not columns:
        kind = ("class folders carry no vote fractions"
                if catalog.attrs.get("source") in ("folders", "galaxy10")
                else "it has no Class1.1 ... Class11.6 vote-fraction columns")
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


def targets(task: str, catalog: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows usable for ``task`` (index reset, attrs kept) and their targets."""
    check_task(task)
    if len(catalog) == 0:
        raise GalaxyLabError(f"{_where(catalog)}: holds no galaxies")
    return three_class_targets(catalog) if task == "three-class" else tree_targets(catalog)


def _keep(catalog: pd.DataFrame, mask: np.ndarray, why: str) -> pd.DataFrame:
    if not mask.all():
        dropped = catalog.loc[~mask, "id"].astype(str)
        warnings.warn(f"{_where(catalog)}: ignoring {len(dropped)} galaxies {why} "
                      f"(first: {dropped.iloc[0]})", stacklevel=3)
    kept = catalog.loc[mask].reset_index(drop=True)
    kept.attrs = dict(catalog.attrs)
    return kept
