"""A catalog's galaxies written as a data source of their own (images linked, not copied).

Quick mode trains on a random sample of a large real source, but the trainer reads a source
folder; :func:`write_subset` writes one (once) under ``data_dir()/runs/samples``: the Kaggle
layout with the sample's vote fractions when it has any, else class folders named by the
three-class label. Its ``sample_ids.csv`` maps the subset's ids back to the original ones, and
a SAMPLE.json carries the catalog's ``frame_fraction`` when its images are not whole cutouts
(a built-in sample's), so the pipeline crops the subset as it crops the original.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from galaxylab import course, labels, tree
from galaxylab.datasets import kaggle
from galaxylab.datasets.pixels import row_pixels
from galaxylab.datasets.samples import SAMPLE_JSON
from galaxylab.errors import GalaxyLabError

#: In a subset source: each galaxy's id there and its id in the catalog it was drawn from.
SAMPLE_IDS = "sample_ids.csv"
SUBSETS_DIR = Path("runs") / "samples"


def _link(target: Path, link: Path) -> None:
    """Link ``link`` to the image ``target`` (a symbolic link, else a copy)."""
    try:
        link.symlink_to(Path(target).resolve())
    except OSError:  # e.g. Windows without the right to make symbolic links
        shutil.copyfile(target, link)


def _safe_name(galaxy_id: str) -> str:
    """An id as a plain file name: path separators and odd characters become "_"."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(galaxy_id)) or "galaxy"


def original_ids(source: str | os.PathLike, ids: Sequence[str]) -> list[str]:
    """The ids a subset source's galaxies have in the catalog it was drawn from (ids of any
    other source are returned unchanged)."""
    mapping = Path(source) / SAMPLE_IDS
    if not mapping.is_file():
        return list(ids)
    table = pd.read_csv(mapping, dtype=str)
    original = dict(zip(table["id"], table["original_id"], strict=True))
    return [original.get(i, i) for i in ids]


def _write_frame_fraction(catalog: pd.DataFrame, folder: Path) -> None:
    """Record a catalog's frame_fraction in ``folder``/SAMPLE.json unless it is 1."""
    if "frame_fraction" not in catalog.columns:
        return
    fractions = sorted(set(catalog["frame_fraction"].astype(float)))
    if fractions == [1.0]:
        return
    if len(fractions) != 1:
        raise GalaxyLabError(
            f"{catalog.attrs.get('root')}: the sample mixes frame fractions {fractions}"
        )
    meta = {"name": folder.name, "frame_fraction": fractions[0]}
    (folder / SAMPLE_JSON).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def write_subset(catalog: pd.DataFrame) -> Path:
    """A data source holding exactly ``catalog``'s galaxies, written once and then reused.

    Galaxy10 rows, which live inside an .h5 file, are written as PNG files; other images are
    linked.
    """
    from PIL import Image

    ids = catalog["id"].astype(str).tolist()
    key = hashlib.sha1("\n".join([str(catalog.attrs.get("root")), *ids]).encode()).hexdigest()
    out = course.data_dir() / SUBSETS_DIR / f"sample-{len(catalog)}-{key[:10]}"
    if (out / SAMPLE_IDS).is_file():
        return out
    columns = [c for c in tree.COLUMNS if c in catalog.columns and catalog[c].notna().any()]
    classes = labels.three_class(catalog)
    if not columns and classes.isna().all():
        raise GalaxyLabError(
            f"{catalog.attrs.get('root')}: the sample has neither vote "
            "fractions nor three-class labels to train on"
        )
    work = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    new_ids: list[str | None] = []
    try:
        for (_, row), galaxy, label in zip(catalog.iterrows(), ids, classes, strict=True):
            if not columns and pd.isna(label):
                new_ids.append(None)
                continue
            h5 = pd.notna(row.get("h5_index", np.nan))
            suffix = ".png" if h5 else Path(str(row["image"])).suffix.lower()
            name = _safe_name(Path(galaxy).stem if not columns else galaxy)
            if columns:
                relative = Path(kaggle.IMAGES_DIR) / f"{name}.jpg"
                new_ids.append(name)
            else:
                relative = Path(str(label)) / f"{name}{suffix}"
                new_ids.append(relative.as_posix())
            (work / relative).parent.mkdir(parents=True, exist_ok=True)
            if h5:
                Image.fromarray(row_pixels(row)).save(work / relative, format="PNG")
            else:
                _link(Path(str(row["image"])), work / relative)
        if columns:
            table = catalog[columns].assign(**{tree.ID_COLUMN: new_ids})
            table[[tree.ID_COLUMN, *columns]].to_csv(work / kaggle.LABELS_CSV, index=False)
        _write_frame_fraction(catalog, work)
        pd.DataFrame({"id": new_ids, "original_id": ids}).dropna().to_csv(
            work / SAMPLE_IDS, index=False
        )
        os.replace(work, out)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        if not (out / SAMPLE_IDS).is_file():  # another process may have written it first
            raise
    return out
