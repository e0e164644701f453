"""Galaxy Zoo 2: the Hart et al. (2016) table joined with the Zenodo image release.

A GZ2 folder holds ``gz2_hart16.csv.gz`` (or ``.csv``; "GZ2 - Table 1 - Normal-depth sample
with new debiasing method" from data.galaxyzoo.org), ``gz2_filename_mapping.csv`` (Zenodo
record 3565489: columns ``objid``, ``sample``, ``asset_id``) and ``images/<asset_id>.jpg``.

The Hart table gives, per answer, columns ``<task>_<answer>_count``, ``_weight``,
``_fraction``, ``_weighted_fraction``, ``_debiased`` and ``_flag``, with the task/answer names
in :data:`HART_ANSWERS` (the same mapping the Kaggle challenge was built with). The catalog
uses the per-question vote fractions (``_fraction``) by default, or Hart's debiased fractions
(``_debiased``) on request. Each question's fractions are renormalised to sum to 1 (the table
rounds them, and debiased fractions need not sum to 1), then converted to the challenge's
cumulative columns with :func:`galaxylab.tree.to_cumulative`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from galaxylab import tree
from galaxylab.datasets import catalog as cat
from galaxylab.errors import GalaxyLabError
from galaxylab.images import IMAGE_EXTENSIONS, SUSPECT_NAME, list_folder, plain_name_problem

TABLE_NAMES: tuple[str, ...] = ("gz2_hart16.csv.gz", "gz2_hart16.csv")
MAPPING_CSV = "gz2_filename_mapping.csv"
IMAGES_DIR = "images"
ID_COLUMN = "dr7objid"
KINDS: tuple[str, ...] = ("fraction", "debiased")

#: Hart et al. (2016) task/answer column stems, in Kaggle column order (Class1.1 … Class11.6).
HART_ANSWERS: dict[str, str] = {
    "Class1.1": "t01_smooth_or_features_a01_smooth",
    "Class1.2": "t01_smooth_or_features_a02_features_or_disk",
    "Class1.3": "t01_smooth_or_features_a03_star_or_artifact",
    "Class2.1": "t02_edgeon_a04_yes",
    "Class2.2": "t02_edgeon_a05_no",
    "Class3.1": "t03_bar_a06_bar",
    "Class3.2": "t03_bar_a07_no_bar",
    "Class4.1": "t04_spiral_a08_spiral",
    "Class4.2": "t04_spiral_a09_no_spiral",
    "Class5.1": "t05_bulge_prominence_a10_no_bulge",
    "Class5.2": "t05_bulge_prominence_a11_just_noticeable",
    "Class5.3": "t05_bulge_prominence_a12_obvious",
    "Class5.4": "t05_bulge_prominence_a13_dominant",
    "Class6.1": "t06_odd_a14_yes",
    "Class6.2": "t06_odd_a15_no",
    "Class7.1": "t07_rounded_a16_completely_round",
    "Class7.2": "t07_rounded_a17_in_between",
    "Class7.3": "t07_rounded_a18_cigar_shaped",
    "Class8.1": "t08_odd_feature_a19_ring",
    "Class8.2": "t08_odd_feature_a20_lens_or_arc",
    "Class8.3": "t08_odd_feature_a21_disturbed",
    "Class8.4": "t08_odd_feature_a22_irregular",
    "Class8.5": "t08_odd_feature_a23_other",
    "Class8.6": "t08_odd_feature_a24_merger",
    "Class8.7": "t08_odd_feature_a38_dust_lane",
    "Class9.1": "t09_bulge_shape_a25_rounded",
    "Class9.2": "t09_bulge_shape_a26_boxy",
    "Class9.3": "t09_bulge_shape_a27_no_bulge",
    "Class10.1": "t10_arms_winding_a28_tight",
    "Class10.2": "t10_arms_winding_a29_medium",
    "Class10.3": "t10_arms_winding_a30_loose",
    "Class11.1": "t11_arms_number_a31_1",
    "Class11.2": "t11_arms_number_a32_2",
    "Class11.3": "t11_arms_number_a33_3",
    "Class11.4": "t11_arms_number_a34_4",
    "Class11.5": "t11_arms_number_a36_more_than_4",
    "Class11.6": "t11_arms_number_a37_cant_tell",
}


def table_path(root: Path) -> Path | None:
    """The Hart table inside a GZ2 folder (compressed or not), or None."""
    for name in TABLE_NAMES:
        if (root / name).is_file():
            return root / name
    return None


def per_question(fractions: np.ndarray) -> np.ndarray:
    """Renormalise each question's answers to sum to 1 (0 where the question got no votes)."""
    out = np.empty_like(fractions)
    for _, cols in tree.question_slices():
        block = fractions[:, cols]
        total = block.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, cols] = np.where(total > 0, block / total, 0.0)
    return out


def _check_asset_names(assets: pd.Series, mapping_path: Path) -> None:
    """Raise for the first asset_id that is no plain file name (it names ``images/<id>.jpg``)."""
    suspects = assets[assets.str.contains(SUSPECT_NAME)]
    for index, asset in suspects.items():
        problem = plain_name_problem(asset)
        if problem is not None:
            line = int(index) + 2  # type: ignore[call-overload]  # line 1 is the header
            raise GalaxyLabError(
                f"{mapping_path} line {line}: asset_id {asset!r} is not a plain file name "
                f"({problem})"
            )


def _image_lookup(mapping_path: Path, images_dir: Path) -> tuple[pd.Series, set[str]]:
    """objid → asset_id, preferring an asset whose image exists and the "original" sample."""
    header = cat.read_header(mapping_path)
    missing = [c for c in ("objid", "asset_id") if c not in header]
    if missing:
        raise GalaxyLabError(
            f"{mapping_path}: no {' or '.join(missing)} column "
            f"(the header has: {', '.join(header[:5])})"
        )
    usecols = [c for c in ("objid", "sample", "asset_id") if c in header]
    mapping = cat.read_table(mapping_path, usecols=usecols).dropna(subset=["objid", "asset_id"])
    mapping["objid"] = mapping["objid"].str.strip()
    mapping["asset_id"] = mapping["asset_id"].str.strip()
    _check_asset_names(mapping["asset_id"], mapping_path)
    on_disk = {
        Path(name).stem
        for name in list_folder(images_dir)
        if Path(name).suffix.lower() in IMAGE_EXTENSIONS
    }
    mapping["_absent"] = ~mapping["asset_id"].isin(on_disk)
    sample = mapping["sample"] if "sample" in mapping else pd.Series("original", mapping.index)
    mapping["_other"] = sample != "original"
    best = mapping.sort_values(["_absent", "_other"], kind="stable").drop_duplicates("objid")
    return best.set_index("objid")["asset_id"], on_disk


def scan(root: Path, *, check_images: bool = True, kind: str = "fraction") -> cat.Scan:
    """Read and check a GZ2 folder; ``kind`` picks ``"fraction"`` (votes) or ``"debiased"``."""
    if kind not in KINDS:
        raise GalaxyLabError(f"GZ2 label kind must be one of {', '.join(KINDS)}, got {kind!r}")
    path = table_path(root)
    if path is None:
        raise GalaxyLabError(f"{root}: no {' or '.join(TABLE_NAMES)} (the Hart et al. 2016 table)")
    mapping_path = root / MAPPING_CSV
    images_dir = root / IMAGES_DIR
    if not images_dir.is_dir():
        raise GalaxyLabError(f"{root}: no {IMAGES_DIR}/ folder of GZ2 images")

    header = cat.read_header(path)
    wanted = {column: f"{stem}_{kind}" for column, stem in HART_ANSWERS.items()}
    missing = [c for c in [ID_COLUMN, *wanted.values()] if c not in header]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise GalaxyLabError(
            f"{path}: missing column(s) {', '.join(missing[:3])}{more}; "
            "is this the Hart et al. (2016) GZ2 table?"
        )
    position = [c for c in ("ra", "dec") if c in header]
    raw = cat.read_table(path, usecols=[ID_COLUMN, *position, *wanted.values()])
    ids = raw[ID_COLUMN].fillna("").str.strip().tolist()
    lines = np.arange(len(raw)) + 2
    cat.check_unique_ids(ids, path, lines, ID_COLUMN)
    refs = cat.RowRefs(path, lines, [f"{ID_COLUMN} {i}" for i in ids])

    fractions, problems = cat.value_problems(raw[list(wanted.values())], refs)
    fractions.columns = list(wanted)  # Hart names in messages, Kaggle names from here on
    cumulative = tree.to_cumulative(per_question(np.nan_to_num(fractions.to_numpy())))
    labels = pd.DataFrame(cumulative, columns=list(tree.COLUMNS))
    # A row with an empty or non-numeric fraction is reported, never guessed: all NaN.
    labels.loc[fractions.isna().any(axis=1).to_numpy()] = np.nan
    problems += cat.tree_problems(labels, refs)

    asset_of, on_disk = _image_lookup(mapping_path, images_dir)
    assets = pd.Series(ids).map(asset_of)
    images = [images_dir / f"{a}.jpg" if isinstance(a, str) else "" for a in assets]
    extra: dict[str, Any] = {c: pd.to_numeric(raw[c], errors="coerce") for c in position}
    catalog = cat.make_catalog(ids, images, labels, source="gz2", root=root, extra=extra)
    image_problems, greyscale = cat.image_problems(catalog, refs, check_images=check_images)
    image_problems += [
        cat.Problem(
            "missing_image",
            int(i),
            str(mapping_path),
            refs.names[int(i)],
            f"no entry in {MAPPING_CSV}, so no image",
        )
        for i in np.flatnonzero(assets.isna().to_numpy())
    ]
    used = set(assets.dropna())
    extra_images = sorted(str(images_dir / f"{a}.jpg") for a in on_disk - used)
    return cat.Scan(catalog, image_problems + problems, greyscale, extra_images, str(images_dir))
