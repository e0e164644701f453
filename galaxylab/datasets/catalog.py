"""The catalog: one DataFrame type for every data source, and the checks every loader shares.

A catalog has the columns ``id`` (str), ``image`` (absolute path of the image file; for
Galaxy10 the .h5 file), the 37 label columns of :data:`galaxylab.tree.COLUMNS` in order
(float64, NaN where unknown: a column the source lacks is all NaN, never zero), then the
source-specific columns among :data:`EXTRA_COLUMNS`, and last ``frame_fraction`` (float64,
every row): the side of the stored image as a fraction of the side of the cutout it was cut
from, 1.0 for every ordinary source and SAMPLE.json's value for a built-in sample (whose images
keep only the central part), so the pipeline can crop the same part of the sky from both.
A GZ1 catalog carries its table's values in the ``gz1_*`` columns (:mod:`.gz1`).
``df.attrs`` holds ``source``, ``root`` and ``label_columns`` (the label columns the source
provides, in tree order).

Loaders turn a source into a :class:`Scan`: the full catalog plus the row problems found
(missing or unreadable images, bad values, tree violations) and harmless oddities (greyscale
images, images without a label row). Structural problems (a missing file, bad columns,
duplicate ids, a CSV that cannot be parsed) raise GalaxyLabError at once. :func:`resolve`
then raises for row problems or drops those rows, and :func:`report` summarises a scan for
``galaxylab inspect``.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import hashlib
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from galaxylab import images as image_files
from galaxylab import tree
from galaxylab.errors import GalaxyLabError

ID = "id"
IMAGE = "image"
LABEL_COLUMNS: tuple[str, ...] = tree.COLUMNS
#: Source-specific columns, in the order they follow the label columns when present.
EXTRA_COLUMNS: dict[str, str] = {
    "h5_index": "int64",
    "class_name": "str",
    "galaxy10_class": "int64",
    "ra": "float64",
    "dec": "float64",
    "redshift": "float64",
    **{
        f"gz1_{name}": "float64"
        for name in (
            "nvote",
            "p_el",
            "p_cw",
            "p_acw",
            "p_edge",
            "p_dk",
            "p_mg",
            "p_cs",
            "p_el_debiased",
            "p_cs_debiased",
            "spiral",
            "elliptical",
            "uncertain",
        )
    },
    "frame_fraction": "float64",
}
#: The frame_fraction of a source whose images are whole cutouts.
FULL_FRAME = 1.0
SOURCES: tuple[str, ...] = ("kaggle", "folders", "galaxy10", "gz2", "gz1")
ON_BAD: tuple[str, ...] = ("error", "drop")

#: Values may exceed [0, 1] by this much (float round-off in tables written by programs).
RANGE_SLACK = 1e-6
#: How many problem messages ``report`` lists.
MAX_LISTED = 20


class DataWarning(UserWarning):
    """Something odd but harmless in a data source (greyscale images, unlabelled images, drops)."""


@dataclass(frozen=True)
class Kind:
    """A kind of row problem: how to name one and many, and its key in the inspect report."""

    one: str
    many: str
    report_key: str


#: Row problems in the order an error message mentions them (the first kind found wins).
KINDS: dict[str, Kind] = {
    "missing_image": Kind("missing image", "missing images", "missing_images"),
    "unreadable_image": Kind("unreadable image", "unreadable images", "unreadable_images"),
    "invalid_value": Kind(
        "row with a missing or non-numeric value",
        "rows with missing or non-numeric values",
        "invalid_values",
    ),
    "out_of_range": Kind(
        "row with a value outside [0, 1]", "rows with values outside [0, 1]", "out_of_range_values"
    ),
    "tree_violation": Kind(
        "row that breaks the decision tree", "rows that break the decision tree", "tree_violations"
    ),
    "fraction_sum": Kind(
        "row whose six GZ1 vote fractions do not sum to 1",
        "rows whose six GZ1 vote fractions do not sum to 1",
        "fraction_sum_errors",
    ),
    "flag_count": Kind(
        "row without exactly one of the SPIRAL, ELLIPTICAL, UNCERTAIN flags",
        "rows without exactly one of the SPIRAL, ELLIPTICAL, UNCERTAIN flags",
        "flag_errors",
    ),
    "bad_vote_count": Kind(
        "row whose NVOTE is not a positive integer",
        "rows whose NVOTE is not a positive integer",
        "bad_vote_counts",
    ),
}


@dataclass(frozen=True)
class Problem:
    """One problem with one catalog row: ``index`` is its position in the catalog."""

    kind: str
    index: int
    where: str
    row: str
    detail: str

    @property
    def message(self) -> str:
        """One line naming the file (and line), the row and the problem."""
        return f"{self.where} ({self.row}): {self.detail}"


@dataclass(frozen=True)
class RowRefs:
    """How to name catalog rows in messages: the label table, its line numbers and row names."""

    table: Path | None
    lines: Sequence[int] | np.ndarray | None
    names: Sequence[str]

    def where(self, i: int | np.integer) -> str:
        """The table file and line of row ``i``."""
        if self.lines is None:
            return str(self.table)
        return f"{self.table} line {self.lines[int(i)]}"


@dataclass
class Scan:
    """A loader's full findings: the catalog before any row is dropped, and what is wrong."""

    catalog: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    greyscale: list[str] = field(default_factory=list)
    extra_images: list[str] = field(default_factory=list)
    extra_where: str = ""


def make_catalog(
    ids: Iterable[object],
    images: Iterable[str | os.PathLike[str]],
    labels: pd.DataFrame | None,
    *,
    source: str,
    root: str | os.PathLike[str],
    extra: Mapping[str, Iterable[object]] | None = None,
) -> pd.DataFrame:
    """Assemble a catalog in the exact column order and dtypes, with its ``attrs`` set.

    ``labels`` holds any subset of the 37 label columns (the rest become all-NaN columns);
    ``extra`` holds source-specific columns named in EXTRA_COLUMNS; ``frame_fraction`` is
    FULL_FRAME unless given.
    """
    if source not in SOURCES:
        raise GalaxyLabError(f"unknown source {source!r}")
    ids = [str(i) for i in ids]
    n = len(ids)
    data: dict[str, object] = {
        ID: pd.Series(ids, dtype=str),
        IMAGE: pd.Series([str(Path(p).absolute()) if str(p) else "" for p in images], dtype=str),
    }
    present = [c for c in LABEL_COLUMNS if labels is not None and c in labels.columns]
    for column in LABEL_COLUMNS:
        if column in present:
            data[column] = np.asarray(labels[column], dtype=np.float64)  # type: ignore[index]
        else:
            data[column] = np.full(n, np.nan)
    extra = {"frame_fraction": [FULL_FRAME] * n, **(extra or {})}
    unknown = set(extra) - set(EXTRA_COLUMNS)
    if unknown:
        raise GalaxyLabError(f"not catalog columns: {sorted(unknown)}")
    for column, dtype in EXTRA_COLUMNS.items():
        if column in extra:
            data[column] = pd.Series(list(extra[column]), dtype=dtype)
    catalog = pd.DataFrame(data)
    if len(catalog) != n:
        raise GalaxyLabError("catalog columns have different lengths")
    catalog.attrs = {"source": source, "root": str(Path(root).absolute()), "label_columns": present}
    return catalog


def _flat(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _require_file(path: Path) -> None:
    """Raise unless ``path`` is a regular file (reading a FIFO would block forever)."""
    if path.is_file():
        return
    kind = image_files.file_kind(path.stat().st_mode) if path.exists() else None
    problem = f"is {kind}, not a regular file" if kind else "file not found"
    raise GalaxyLabError(f"{path}: {problem}")


#: Separators a CSV written with the wrong settings uses instead of commas, as messages name them.
_OTHER_SEPARATORS = {";": "';'", "\t": "tabs", "|": "'|'"}


def _check_header_names(header: Sequence[str], path: Path) -> None:
    """Raise for a header that shows the file is not a comma-separated table as expected."""
    if len(header) == 1:
        try:
            found = csv.Sniffer().sniff(header[0], delimiters="".join(_OTHER_SEPARATORS))
        except csv.Error:
            found = None
        if found is not None:
            raise GalaxyLabError(
                f"{path}: the file seems to use {_OTHER_SEPARATORS[found.delimiter]} instead of "
                f"',' between columns (its header is one column: {header[0][:60]!r})"
            )
    if len(header) > 1 and header[-1] == "":
        raise GalaxyLabError(
            f"{path}: the header ends with an empty column name (a trailing comma?)"
        )
    if "" in header:
        number = header.index("") + 1
        hint = " (an index column? write the CSV with index=False)" if number == 1 else ""
        raise GalaxyLabError(f"{path}: column {number} of the header has no name{hint}")


def read_header(path: Path) -> list[str]:
    """The first line of a CSV file as column names, exactly as written (no de-duplication).

    Raises GalaxyLabError for a file that is not a regular file, cannot be parsed, seems to
    use another separator than ',', or has an empty column name (such as a trailing comma).
    """
    _require_file(path)
    try:
        first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as error:
        raise GalaxyLabError(f"{path}: the file is empty") from error
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, ValueError) as error:
        raise GalaxyLabError(f"{path}: cannot be parsed as CSV ({_flat(error)})") from error
    header = [str(c) for c in first.iloc[0].tolist()]
    _check_header_names(header, path)
    return header


def ragged_line(path: Path, width: int) -> str | None:
    """The first data line whose number of fields is not ``width``, described, or None.

    Counted with the csv module (quotes respected, blank lines skipped); one empty field after
    the last (a trailing comma on a row) is not counted, as pandas drops it too.
    """
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            count = len(row) - 1 if len(row) == width + 1 and row[-1] == "" else len(row)
            if row and count != width:
                return f"line {reader.line_num} has {len(row)} fields where the header has {width}"
    return None


def read_table(path: Path, usecols: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a CSV (plain or .gz) with every cell as text, so bad cells can be named later.

    No column is ever taken as an index (``index_col=False``: pandas would otherwise shift every
    column when the first row has one field too many). When pandas sees rows of another width,
    or the last column has empty cells (a row may be short), the fields of every line are
    counted and a line whose count differs from the header's raises GalaxyLabError naming it.
    """
    header = read_header(path)
    wanted = None if usecols is None else list(dict.fromkeys([*usecols, header[-1]]))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            table = pd.read_csv(path, dtype=str, usecols=wanted, index_col=False)
    except pd.errors.EmptyDataError as error:
        raise GalaxyLabError(f"{path}: the file is empty") from error
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, ValueError) as error:
        ragged = isinstance(error, pd.errors.ParserError) and ragged_line(path, len(header))
        detail = ragged or _flat(error)
        raise GalaxyLabError(f"{path}: cannot be parsed as CSV ({detail})") from error
    if table.empty:
        raise GalaxyLabError(f"{path}: has a header but no data rows")
    suspect = any(issubclass(w.category, pd.errors.ParserWarning) for w in caught)
    if suspect or table.iloc[:, -1].isna().any():
        ragged = ragged_line(path, len(header))
        if ragged is not None:
            raise GalaxyLabError(f"{path}: {ragged}")
    return table if usecols is None else table[list(dict.fromkeys(usecols))]


def _describe_unknown(column: str) -> str:
    match = re.fullmatch(r"Class(\d+)\.(\d+)", column)
    if match and int(match.group(1)) in tree.QUESTION_BY_NUMBER:
        q = tree.QUESTION_BY_NUMBER[int(match.group(1))]
        return f"'{column}' (Q{q.number} has answers {q.columns[0]}..{q.columns[-1]})"
    if column.startswith("Unnamed:"):
        return f"'{column}' (an index column? write the CSV with index=False)"
    close = difflib.get_close_matches(column, LABEL_COLUMNS, n=1, cutoff=0.75)
    if close:
        return f"'{column}' (did you mean {close[0]}?)"
    return f"'{column}'"


def check_label_header(header: Sequence[str], path: Path, id_column: str) -> list[str]:
    """Check a label table's header; return its label columns in tree order.

    Raises GalaxyLabError for a missing id column, a repeated column, or any column that is
    not one of the 37 Kaggle label columns (naming each, with a hint for near misses).
    """
    if id_column not in header:
        shown = ", ".join(header[:5]) + (", ..." if len(header) > 5 else "")
        raise GalaxyLabError(f"{path}: no {id_column} column (the header has: {shown})")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise GalaxyLabError(f"{path}: column(s) appear more than once: {', '.join(repeated)}")
    unknown = [c for c in header if c != id_column and c not in tree.COLUMN_INDEX]
    if unknown:
        described = ", ".join(_describe_unknown(c) for c in unknown)
        raise GalaxyLabError(
            f"{path}: unknown label column(s) {described}; expected {id_column} and any of "
            f"the 37 columns Class1.1 ... Class11.6"
        )
    return [c for c in LABEL_COLUMNS if c in header]


def check_unique_ids(
    ids: Sequence[str], path: Path, lines: Sequence[int] | np.ndarray, id_label: str
) -> None:
    """Raise GalaxyLabError naming the first duplicated id and its lines (a structural problem)."""
    series = pd.Series(list(ids))
    duplicated = series[series.duplicated(keep=False)]
    if duplicated.empty:
        return
    first = duplicated.iloc[0]
    where = [int(lines[i]) for i in duplicated.index[duplicated == first][:3]]
    others = duplicated.nunique() - 1
    more = f"; and {others} more duplicated ids" if others else ""
    raise GalaxyLabError(
        f"{path}: duplicate {id_label} {first} on lines {', '.join(map(str, where))}{more}"
    )


def value_problems(raw: pd.DataFrame, refs: RowRefs) -> tuple[pd.DataFrame, list[Problem]]:
    """Parse text label cells to float64; report empty/non-numeric cells and values off [0, 1].

    ``raw`` holds label columns as text (NaN = empty cell). Returns the numeric table (bad
    cells NaN) with a positional index, and one problem per bad row and kind.
    """
    raw = raw.reset_index(drop=True)
    values = raw.apply(pd.to_numeric, errors="coerce").astype(np.float64)
    empty = raw.isna().to_numpy(dtype=bool)
    text = values.isna().to_numpy(dtype=bool) & ~empty
    array = values.to_numpy()
    with np.errstate(invalid="ignore"):
        off = (array < -RANGE_SLACK) | (array > 1 + RANGE_SLACK)
    columns = list(raw.columns)
    problems: list[Problem] = []
    for i in np.flatnonzero((empty | text).any(axis=1)):
        cells = [
            f"{columns[j]} is not a number ({raw.iat[i, j]!r})"
            if text[i, j]
            else f"{columns[j]} is empty (NaN)"
            for j in np.flatnonzero(empty[i] | text[i])
        ]
        problems.append(
            Problem(
                "invalid_value",
                int(i),
                refs.where(i),
                refs.names[int(i)],
                _first_and_more(cells, "cells"),
            )
        )
    for i in np.flatnonzero(off.any(axis=1)):
        cells = [
            f"{columns[j]} = {array[i, j]:g} is outside [0, 1]" for j in np.flatnonzero(off[i])
        ]
        problems.append(
            Problem(
                "out_of_range",
                int(i),
                refs.where(i),
                refs.names[int(i)],
                _first_and_more(cells, "cells"),
            )
        )
    return values, problems


def _first_and_more(items: Sequence[str], noun: str) -> str:
    if len(items) == 1:
        return items[0]
    return f"{items[0]} (and {len(items) - 1} more {noun})"


def _breach_text(question: int, expected: float, actual: float) -> str:
    q = tree.QUESTION_BY_NUMBER[question]
    target = "1" if q.parent is None else f"{q.parent} = {expected:.6f}"
    return (
        f"breaks the decision tree: Q{q.number} ({q.short}) answers "
        f"{q.columns[0]}..{q.columns[-1]} sum to {actual:.6f}, not {target}"
    )


def tree_problems(
    values: pd.DataFrame, refs: RowRefs, tolerance: float = tree.DEFAULT_TOLERANCE
) -> list[Problem]:
    """One problem per row of ``values`` (positional index) that breaks the tree's sums."""
    breaches = tree.check(values.reset_index(drop=True), tolerance=tolerance)
    problems = []
    for i, group in breaches.groupby("row", sort=True):
        texts = [_breach_text(int(r.question), r.expected, r.actual) for r in group.itertuples()]
        problems.append(
            Problem(
                "tree_violation",
                int(i),
                refs.where(int(i)),
                refs.names[int(i)],
                _first_and_more(texts, "questions"),
            )
        )
    return problems


def image_problems(
    catalog: pd.DataFrame, refs: RowRefs, *, check_images: bool
) -> tuple[list[Problem], list[str]]:
    """Missing and unreadable image files, and the greyscale ones.

    ``check_images`` decodes every image completely (in threads, cached on disk: see
    :func:`galaxylab.images.check_images`); without it, only that each is a regular file.
    """
    problems: list[Problem] = []
    greyscale: list[str] = []
    # A row without a known image file is skipped: its loader reports why.
    rows = [(i, path) for i, path in enumerate(catalog[IMAGE]) if path]
    paths = [path for _, path in rows]
    if check_images:
        results = image_files.check_images(paths)
    else:
        results = [image_files.locate_image(p) for p in paths]
    for (i, path), result in zip(rows, results, strict=True):
        if result.status == "missing":
            problems.append(Problem("missing_image", i, path, refs.names[i], "image not found"))
        elif not result.ok:
            problems.append(
                Problem("unreadable_image", i, path, refs.names[i], str(result.problem))
            )
        elif result.greyscale:
            greyscale.append(path)
    return problems, greyscale


def _ordered(problems: Iterable[Problem]) -> list[Problem]:
    rank = {kind: r for r, kind in enumerate(KINDS)}
    return sorted(problems, key=lambda p: (rank[p.kind], p.index))


#: How a row-problem error says to drop the bad rows, in the Python API's words. The command
#: line replaces this exact phrase with its ``--drop-bad`` flag (galaxylab.cli.in_cli_words).
DROP_HINT = "load with on_bad='drop' to drop the bad rows"


def error_message(problems: Sequence[Problem], src: str) -> str:
    """The one-line error for row problems: the first problem, how many more, and the way out."""
    ordered = _ordered(problems)
    first = ordered[0]
    same = [p for p in ordered if p.kind == first.kind]
    text = first.message
    if len(same) > 1:
        text += f"; and {len(same) - 1} more {KINDS[first.kind].many}"
    others = [k for k in KINDS if k != first.kind and any(p.kind == k for p in ordered)]
    if others:
        counts = [_count(sum(p.kind == k for p in ordered), k) for k in others]
        text += f" (also {', '.join(counts)})"
    return f"{text}. `galaxylab inspect --data {src}` lists every problem; {DROP_HINT}"


def _count(number: int, kind: str) -> str:
    return f"{number} {KINDS[kind].one if number == 1 else KINDS[kind].many}"


def _warn_oddities(scan: Scan, src: str) -> None:
    if scan.greyscale:
        warnings.warn(
            f"{len(scan.greyscale)} greyscale image(s) in {src} (first: {scan.greyscale[0]}); "
            "they are read as RGB with three equal channels",
            DataWarning,
            stacklevel=4,
        )
    if scan.extra_images:
        warnings.warn(
            f"{len(scan.extra_images)} image(s) in {scan.extra_where or src} have no label row "
            f"and are ignored (first: {scan.extra_images[0]})",
            DataWarning,
            stacklevel=4,
        )


def resolve(scan: Scan, on_bad: str, src: str) -> pd.DataFrame:
    """Apply ``on_bad`` to a scan: raise for row problems, or drop their rows with one warning."""
    if on_bad not in ON_BAD:
        raise GalaxyLabError(f"on_bad must be one of {', '.join(ON_BAD)}, got {on_bad!r}")
    _warn_oddities(scan, src)
    catalog = scan.catalog
    if not scan.problems:
        return catalog
    if on_bad == "error":
        raise GalaxyLabError(error_message(scan.problems, src))
    bad = sorted({p.index for p in scan.problems})
    first = min(scan.problems, key=lambda p: p.index)
    if len(bad) == len(catalog):
        raise GalaxyLabError(
            f"{src}: every row has a problem, none left to load; first: {first.message}"
        )
    counts = ", ".join(
        _count(len({p.index for p in scan.problems if p.kind == k}), k)
        for k in KINDS
        if any(p.kind == k for p in scan.problems)
    )
    warnings.warn(
        f"dropped {len(bad)} of {len(catalog)} rows of {src} ({counts}); first: {first.message}",
        DataWarning,
        stacklevel=3,
    )
    kept = catalog.drop(index=catalog.index[bad]).reset_index(drop=True)
    kept.attrs = dict(catalog.attrs)
    return kept


def report(scan: Scan) -> dict[str, object]:
    """A source's health as plain JSON-ready values: row counts per problem kind and examples."""
    catalog = scan.catalog
    out: dict[str, object] = {
        "n": int(len(catalog)),
        "label_columns": list(catalog.attrs.get("label_columns", [])),
    }
    for kind, info in KINDS.items():
        out[info.report_key] = len({p.index for p in scan.problems if p.kind == kind})
    out["greyscale_images"] = len(scan.greyscale)
    out["extra_images"] = len(scan.extra_images)
    out["rows_with_problems"] = len({p.index for p in scan.problems})
    out["problems"] = [p.message for p in _ordered(scan.problems)[:MAX_LISTED]]
    return out


def fingerprint(catalog: pd.DataFrame) -> str:
    """A short hash of the catalog's galaxy ids, in order: the same galaxies give the same
    fingerprint on any machine, wherever the source folder lies."""
    return hashlib.sha1("\n".join(catalog[ID].astype(str)).encode()).hexdigest()[:16]
