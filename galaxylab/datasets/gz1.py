"""Galaxy Zoo 1: a data-release table of vote fractions and clean-sample flags, with images.

A GZ1 folder holds one CSV table (plain or .gz) with the columns of the GZ1 data release
(Lintott et al. 2011, MNRAS 410, 166): ``OBJID``, ``RA``, ``DEC``, ``NVOTE``, the raw vote
fractions ``P_EL`` (elliptical), ``P_CW`` / ``P_ACW`` (clockwise / anticlockwise spiral),
``P_EDGE`` (edge-on disk), ``P_DK`` (don't know), ``P_MG`` (merger), ``P_CS`` (combined
spiral), the debiased ``P_EL_DEBIASED`` and ``P_CS_DEBIASED`` (Bamford et al. 2009), the flags
``SPIRAL``, ``ELLIPTICAL``, ``UNCERTAIN``, and a column naming each galaxy's image (the first of
:data:`IMAGE_COLUMNS` present). Images are ``images/<name>.jpg``, or ``images/<name>`` when the
name has an image extension. The built-in sample ``gz1-desi`` is such a folder.

GZ1 asked other questions than the GZ2 decision tree, so the 37 label columns stay all NaN
(``label_columns`` is empty). ``id`` is OBJID; RA and DEC (sexagesimal ``hh:mm:ss.s`` /
``±dd:mm:ss.s``, or degrees) become degrees in ``ra`` and ``dec``; the other GZ1 values are kept
as float64 columns ``gz1_<name in lower case>`` (:data:`CATALOG_COLUMNS`; NaN where a cell is
bad). :func:`galaxylab.labels.three_class` reads the three classes from the flags, or from the
raw or debiased fractions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from galaxylab.datasets import catalog as cat
from galaxylab.errors import GalaxyLabError
from galaxylab.images import IMAGE_EXTENSIONS, list_folder, plain_name_problem

IMAGES_DIR = "images"
ID_COLUMN = "OBJID"
#: Columns that name each galaxy's image, in order of preference.
IMAGE_COLUMNS: tuple[str, ...] = ("dr8_id", "image", "IMAGE", "filename", "file")
#: The six raw fractions: every volunteer picked exactly one of these answers.
ANSWERS: tuple[str, ...] = ("P_EL", "P_CW", "P_ACW", "P_EDGE", "P_DK", "P_MG")
FRACTIONS: tuple[str, ...] = (*ANSWERS, "P_CS", "P_EL_DEBIASED", "P_CS_DEBIASED")
FLAGS: tuple[str, ...] = ("SPIRAL", "ELLIPTICAL", "UNCERTAIN")
REQUIRED: tuple[str, ...] = (ID_COLUMN, "RA", "DEC", "NVOTE", *FRACTIONS, *FLAGS)
#: A CSV whose header has these columns is taken for a GZ1 table (the scan names any other
#: column it lacks).
SIGNATURE: frozenset[str] = frozenset({ID_COLUMN, "P_EL"})
#: GZ1 table column → catalog column.
CATALOG_COLUMNS: dict[str, str] = {c: f"gz1_{c.lower()}" for c in ("NVOTE", *FRACTIONS, *FLAGS)}
#: How far the six raw fractions may sum from 1. The release rounds each to 3 decimals, so
#: their sum can be off by up to 6 x 0.0005 = 0.003; 0.005 allows that (and float error) and
#: still catches a lost vote for any galaxy with fewer than 200 votes.
SUM_TOLERANCE = 0.005

_SEXAGESIMAL = r"^\s*([+-]?)(\d{1,3})[:\s]+(\d{1,2})[:\s]+(\d{1,2}(?:\.\d*)?)\s*$"


def _is_gz1_header(header: Sequence[str]) -> bool:
    return SIGNATURE <= set(header)


def table_path(root: Path) -> Path | None:
    """The GZ1 table inside ``root`` (a .csv or .csv.gz whose header has OBJID and P_EL), or
    None. Raises GalaxyLabError when more than one file qualifies."""
    candidates = sorted(
        p
        for p in root.iterdir()
        if not p.name.startswith(".")
        and p.name.lower().endswith((".csv", ".csv.gz"))
        and p.is_file()
    )
    found = []
    for path in candidates:
        try:
            header = cat.read_header(path)
        except GalaxyLabError:
            continue
        if _is_gz1_header(header):
            found.append(path)
    if len(found) > 1:
        raise GalaxyLabError(
            f"{root}: holds more than one Galaxy Zoo 1 table ({', '.join(p.name for p in found)})"
        )
    return found[0] if found else None


def image_name(name: str) -> str:
    """The file name inside images/ of a table's image name: as given when it has an image
    extension, else with .jpg added."""
    return name if Path(name).suffix.lower() in IMAGE_EXTENSIONS else f"{name}.jpg"


def _degrees(text: pd.Series, name: str, hours: bool) -> tuple[np.ndarray, pd.Series]:
    """RA (hours) or DEC (degrees) cells, sexagesimal or decimal degrees, as degrees (NaN where
    bad); and per row what is wrong with the cell (None when it is sound)."""
    cells = text.fillna("").astype(str).str.strip()
    parts = cells.str.extract(_SEXAGESIMAL)
    whole, minutes, seconds = (pd.to_numeric(parts[i], errors="coerce") for i in (1, 2, 3))
    sign = np.where(parts[0] == "-", -1.0, 1.0)
    angle = sign * (whole + minutes / 60 + seconds / 3600).to_numpy(dtype=np.float64)
    sexagesimal = parts[1].notna().to_numpy()
    decimal = pd.to_numeric(cells.where(~sexagesimal), errors="coerce").to_numpy(np.float64)
    values = np.where(sexagesimal, angle * (15.0 if hours else 1.0), decimal)
    low, high = (0.0, 360.0) if hours else (-90.0, 90.0)
    empty = (cells == "").to_numpy()
    bad_parts = sexagesimal & ((minutes >= 60) | (seconds >= 60)).to_numpy(dtype=bool)
    unparsed = ~empty & (np.isnan(values) | bad_parts)
    with np.errstate(invalid="ignore"):
        outside = (
            ~empty & ~unparsed & ((values < low) | (values > high) | (hours & (values == high)))
        )
    problems = pd.Series(None, index=cells.index, dtype=object)
    problems[empty] = f"{name} is empty"
    problems[unparsed] = [
        f"{name} {c!r} is not an angle (sexagesimal or degrees)" for c in cells[unparsed]
    ]
    problems[outside] = [
        f"{name} {c!r} is outside {low:g}..{high:g} degrees" for c in cells[outside]
    ]
    return np.where(problems.isna().to_numpy(), values, np.nan), problems


def _vote_counts(text: pd.Series, refs: cat.RowRefs) -> tuple[np.ndarray, list[cat.Problem]]:
    """NVOTE as float64 (NaN where bad) and one problem per row whose NVOTE is not a positive
    integer."""
    cells = text.fillna("").astype(str).str.strip()
    number = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    with np.errstate(invalid="ignore"):
        bad = np.isnan(number) | (number < 1) | (number != np.floor(number))
    problems = []
    for i in np.flatnonzero(bad):
        cell = cells.iat[i]
        if not cell:
            detail = "NVOTE is empty"
        elif np.isnan(number[i]):
            detail = f"NVOTE is not a number ({cell!r})"
        else:
            detail = f"NVOTE = {number[i]:g} is not a positive integer"
        problems.append(
            cat.Problem("bad_vote_count", int(i), refs.where(i), refs.names[int(i)], detail)
        )
    number[bad] = np.nan
    return number, problems


def _sum_problems(values: pd.DataFrame, refs: cat.RowRefs) -> list[cat.Problem]:
    total = values[list(ANSWERS)].sum(axis=1, skipna=False).to_numpy()
    with np.errstate(invalid="ignore"):
        off = np.abs(total - 1) > SUM_TOLERANCE
    return [
        cat.Problem(
            "fraction_sum",
            int(i),
            refs.where(i),
            refs.names[int(i)],
            f"{' + '.join(ANSWERS)} = {total[i]:.3f}, not 1 (tolerance {SUM_TOLERANCE})",
        )
        for i in np.flatnonzero(off)
    ]


def _flag_problems(values: pd.DataFrame, refs: cat.RowRefs) -> list[cat.Problem]:
    flags = values[list(FLAGS)].to_numpy()
    known = ~np.isnan(flags).any(axis=1)
    one = np.isin(flags, (0.0, 1.0)).all(axis=1) & (flags.sum(axis=1) == 1)
    return [
        cat.Problem(
            "flag_count",
            int(i),
            refs.where(i),
            refs.names[int(i)],
            f"{', '.join(FLAGS)} are {', '.join(f'{v:g}' for v in flags[i])}; "
            "exactly one must be 1 and the others 0",
        )
        for i in np.flatnonzero(known & ~one)
    ]


def _merged(problems: list[cat.Problem]) -> list[cat.Problem]:
    """One problem per row and kind (details joined), so counts stay counts of rows."""
    grouped: dict[tuple[str, int], cat.Problem] = {}
    for p in problems:
        key = (p.kind, p.index)
        if key in grouped:
            old = grouped[key]
            p = cat.Problem(p.kind, p.index, old.where, old.row, f"{old.detail}; {p.detail}")
        grouped[key] = p
    return list(grouped.values())


def _read(path: Path) -> tuple[pd.DataFrame, str]:
    """The table's columns the catalog needs, as text, and the name of its image column."""
    header = cat.read_header(path)
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise GalaxyLabError(f"{path}: column(s) appear more than once: {', '.join(repeated)}")
    image_column = next((c for c in IMAGE_COLUMNS if c in header), None)
    missing = [c for c in REQUIRED if c not in header]
    if missing or image_column is None:
        named = ", ".join(missing + ([] if image_column else [" or ".join(IMAGE_COLUMNS)]))
        raise GalaxyLabError(
            f"{path}: missing column(s) {named}; a Galaxy Zoo 1 table needs "
            f"{', '.join(REQUIRED)} and a column naming each image"
        )
    return cat.read_table(path, usecols=[*REQUIRED, image_column]), image_column


def _required_text(raw: pd.DataFrame, column: str, path: Path, lines: np.ndarray) -> list[str]:
    """A column that names rows or files, stripped; an empty cell is a structural problem."""
    values = raw[column].fillna("").astype(str).str.strip()
    blank = np.flatnonzero((values == "").to_numpy())
    if blank.size:
        raise GalaxyLabError(f"{path} line {lines[blank[0]]}: empty {column}")
    return values.tolist()


def scan(root: Path, *, check_images: bool = True) -> cat.Scan:
    """Read and check a GZ1 folder; structural problems raise GalaxyLabError."""
    path = table_path(root)
    if path is None:
        raise GalaxyLabError(f"{root}: no Galaxy Zoo 1 table (a .csv with OBJID, P_EL, ...)")
    images_dir = root / IMAGES_DIR
    if not images_dir.is_dir():
        raise GalaxyLabError(f"{root}: no {IMAGES_DIR}/ folder beside {path.name}")
    raw, image_column = _read(path)
    lines = np.arange(len(raw)) + 2  # line 1 is the header
    ids = _required_text(raw, ID_COLUMN, path, lines)
    cat.check_unique_ids(ids, path, lines, ID_COLUMN)
    names = [image_name(n) for n in _required_text(raw, image_column, path, lines)]
    cat.check_unique_ids(names, path, lines, f"image {image_column}")
    for line, name in zip(lines, names, strict=True):
        problem = plain_name_problem(name)
        if problem is not None:
            raise GalaxyLabError(
                f"{path} line {line}: image name {name!r} is not a plain file name ({problem})"
            )
    refs = cat.RowRefs(path, lines, [f"{ID_COLUMN} {i}" for i in ids])

    values, problems = cat.value_problems(raw[[*FRACTIONS, *FLAGS]], refs)
    problems += _sum_problems(values, refs) + _flag_problems(values, refs)
    nvote, vote_problems = _vote_counts(raw["NVOTE"].reset_index(drop=True), refs)
    problems += vote_problems
    position = {}
    for column, hours in (("RA", True), ("DEC", False)):
        degrees, bad = _degrees(raw[column].reset_index(drop=True), column, hours)
        position[column.lower()] = degrees
        problems += [
            cat.Problem("invalid_value", int(i), refs.where(i), refs.names[int(i)], bad.iat[i])
            for i in np.flatnonzero(bad.notna().to_numpy())
        ]
    extra: dict[str, np.ndarray] = {**position, CATALOG_COLUMNS["NVOTE"]: nvote}
    extra.update({CATALOG_COLUMNS[c]: values[c].to_numpy() for c in (*FRACTIONS, *FLAGS)})
    catalog = cat.make_catalog(
        ids,
        [images_dir / n for n in names],
        None,
        source="gz1",
        root=root,
        extra=extra,
    )
    image_problems, greyscale = cat.image_problems(catalog, refs, check_images=check_images)
    known = set(names)
    extra_images = sorted(
        str(images_dir / name)
        for name in list_folder(images_dir)
        if Path(name).suffix.lower() in IMAGE_EXTENSIONS and name not in known
    )
    return cat.Scan(
        catalog, image_problems + _merged(problems), greyscale, extra_images, str(images_dir)
    )
