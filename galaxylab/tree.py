"""The Galaxy Zoo 2 decision tree as data, and the algebra of its vote fractions.

The Kaggle challenge publishes *cumulative* vote fractions: each answer's fraction of the
volunteers who reached its question, multiplied by the weight of the answer that led there.
So the answers of a question sum to their parent answer's value (Q1 and Q6 sum to 1). This
module holds the 11 questions and 37 answers once, and converts between per-question
fractions and cumulative columns, normalises arbitrary scores so they obey the tree, and
checks label tables against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from galaxylab.errors import GalaxyLabError

if TYPE_CHECKING:  # pandas is imported where a frame is made: `galaxylab simulate` needs none
    import pandas as pd

#: Default tolerance for tree-sum checks; the published table obeys its sums to about 1e-6.
DEFAULT_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Answer:
    """One answer: its Kaggle column, a short label, and the question it leads to (None = end)."""

    column: str
    label: str
    next_question: int | None


@dataclass(frozen=True)
class Question:
    """One question of the tree and the answer whose weight its answers share (None = 1)."""

    number: int
    short: str
    text: str
    answers: tuple[Answer, ...]
    parent: str | None

    @property
    def columns(self) -> list[str]:
        """The Kaggle column names of this question's answers, in order."""
        return [a.column for a in self.answers]


def _q(
    number: int, short: str, text: str, parent: str | None, *answers: tuple[str, int | None]
) -> Question:
    return Question(
        number=number,
        short=short,
        text=text,
        parent=parent,
        answers=tuple(
            Answer(f"Class{number}.{i}", label, nxt) for i, (label, nxt) in enumerate(answers, 1)
        ),
    )


#: The 11 questions in Kaggle column order. Q6 ("anything odd?") is asked of every galaxy
#: that is not a star/artifact, and the challenge renormalised it to sum to 1.
QUESTIONS: tuple[Question, ...] = (
    _q(
        1,
        "smooth?",
        "Is the galaxy simply smooth and rounded, with no sign of a disk?",
        None,
        ("smooth", 7),
        ("features or disk", 2),
        ("star or artifact", None),
    ),
    _q(2, "edge-on?", "Could this be a disk viewed edge-on?", "Class1.2", ("yes", 9), ("no", 3)),
    _q(
        3,
        "bar?",
        "Is there a sign of a bar feature through the centre of the galaxy?",
        "Class2.2",
        ("bar", 4),
        ("no bar", 4),
    ),
    _q(
        4,
        "spiral arms?",
        "Is there any sign of a spiral arm pattern?",
        "Class2.2",
        ("spiral", 10),
        ("no spiral", 5),
    ),
    _q(
        5,
        "bulge",
        "How prominent is the central bulge, compared with the rest of the galaxy?",
        "Class2.2",
        ("no bulge", 6),
        ("just noticeable", 6),
        ("obvious", 6),
        ("dominant", 6),
    ),
    _q(6, "anything odd?", "Is there anything odd?", None, ("yes", 8), ("no", None)),
    _q(
        7,
        "roundness",
        "How rounded is it?",
        "Class1.1",
        ("completely round", 6),
        ("in between", 6),
        ("cigar-shaped", 6),
    ),
    _q(
        8,
        "odd feature",
        "Is the odd feature a ring, or is the galaxy disturbed or irregular?",
        "Class6.1",
        ("ring", None),
        ("lens or arc", None),
        ("disturbed", None),
        ("irregular", None),
        ("other", None),
        ("merger", None),
        ("dust lane", None),
    ),
    _q(
        9,
        "edge-on bulge",
        "Does the galaxy have a bulge at its centre? If so, what shape?",
        "Class2.1",
        ("rounded", 6),
        ("boxy", 6),
        ("no bulge", 6),
    ),
    _q(
        10,
        "arm winding",
        "How tightly wound do the spiral arms appear?",
        "Class4.1",
        ("tight", 11),
        ("medium", 11),
        ("loose", 11),
    ),
    _q(
        11,
        "arm count",
        "How many spiral arms are there?",
        "Class4.1",
        ("1", 5),
        ("2", 5),
        ("3", 5),
        ("4", 5),
        ("more than four", 5),
        ("can't tell", 5),
    ),
)

QUESTION_BY_NUMBER: dict[int, Question] = {q.number: q for q in QUESTIONS}

#: The 37 Kaggle label columns, Class1.1 … Class11.6, in the challenge's order.
COLUMNS: tuple[str, ...] = tuple(c for q in QUESTIONS for c in q.columns)
COLUMN_INDEX: dict[str, int] = {c: i for i, c in enumerate(COLUMNS)}
ID_COLUMN = "GalaxyID"

#: Questions in an order where every parent answer is computed before its children.
EVALUATION_ORDER: tuple[int, ...] = (1, 2, 3, 4, 5, 7, 9, 10, 11, 6, 8)

ANSWER_BY_COLUMN: dict[str, Answer] = {a.column: a for q in QUESTIONS for a in q.answers}
QUESTION_OF_COLUMN: dict[str, int] = {a.column: q.number for q in QUESTIONS for a in q.answers}


def question_slices() -> list[tuple[int, slice]]:
    """(question number, slice of its columns in the 37-vector), in column order."""
    out, start = [], 0
    for q in QUESTIONS:
        out.append((q.number, slice(start, start + len(q.answers))))
        start += len(q.answers)
    return out


def parent_index(question: int) -> int | None:
    """Column index of the answer that weights ``question``, or None where the weight is 1."""
    parent = QUESTION_BY_NUMBER[question].parent
    return None if parent is None else COLUMN_INDEX[parent]


_SLICES = dict(question_slices())


def _as_matrix(values: np.ndarray | Sequence[float]) -> tuple[np.ndarray, bool]:
    array = np.asarray(values, dtype=np.float64)
    single = array.ndim == 1
    array = np.atleast_2d(array)
    if array.shape[-1] != len(COLUMNS):
        raise GalaxyLabError(f"expected {len(COLUMNS)} columns, got {array.shape[-1]}")
    return array, single


def to_cumulative(fractions: np.ndarray | Sequence[float]) -> np.ndarray:
    """Per-question vote fractions (each question sums to 1) → the challenge's cumulative columns.

    Accepts one 37-vector or an (N, 37) array; returns the same shape. A question nobody
    reached may hold any values: its parent weight of 0 zeroes it.
    """
    frac, single = _as_matrix(fractions)
    out = np.empty_like(frac)
    for number in EVALUATION_ORDER:
        cols = _SLICES[number]
        parent = parent_index(number)
        weight = 1.0 if parent is None else out[:, parent : parent + 1]
        out[:, cols] = frac[:, cols] * weight
    return out[0] if single else out


def to_fractions(cumulative: np.ndarray | Sequence[float], eps: float = 1e-12) -> np.ndarray:
    """Cumulative columns → per-question fractions (the inverse of :func:`to_cumulative`).

    A question whose parent weight is below ``eps`` was reached by nobody: its fractions are NaN.
    """
    cum, single = _as_matrix(cumulative)
    out = np.empty_like(cum)
    for number, cols in _SLICES.items():
        parent = parent_index(number)
        if parent is None:
            out[:, cols] = cum[:, cols]
            continue
        weight = cum[:, parent : parent + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, cols] = np.where(weight > eps, cum[:, cols] / weight, np.nan)
    return out[0] if single else out


def normalise(scores: np.ndarray | Sequence[float]) -> np.ndarray:
    """Make non-negative scores obey the tree: each question sums to 1, then scaled by its parent.

    This is the numpy twin of the decision-tree output layer. A question whose scores are all
    zero is split evenly between its answers. NaN (or infinite) scores are never mistaken for
    zeros: that question's outputs, and those of the questions below it, are NaN, so a
    diverged model cannot pass for a uniform crowd.
    """
    raw, single = _as_matrix(scores)
    if np.any(raw < 0):
        raise GalaxyLabError("scores must be non-negative")
    frac = np.empty_like(raw)
    for cols in _SLICES.values():
        block = raw[:, cols]
        total = block.sum(axis=1, keepdims=True)
        width = cols.stop - cols.start
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = np.where(total > 0, block / total, 1.0 / width)
        frac[:, cols] = np.where(np.isfinite(total), shares, np.nan)
    out = to_cumulative(frac)
    return out[0] if single else out


def checkable_questions(columns: Iterable[str]) -> list[int]:
    """Questions whose answers and parent are all in ``columns``, so their sums can be checked."""
    present = set(columns)
    out = []
    for q in QUESTIONS:
        if set(q.columns) <= present and (q.parent is None or q.parent in present):
            out.append(q.number)
    return out


def check(table: pd.DataFrame, tolerance: float = DEFAULT_TOLERANCE) -> pd.DataFrame:
    """Rows of ``table`` whose answers do not sum to their parent's value, one row per breach.

    ``table`` holds any subset of the 37 columns (NaN = unknown); only questions whose answers
    and parent are all present and known are checked. Returns a DataFrame with columns
    ``row`` (the table's index label), ``question``, ``expected`` and ``actual``; empty = clean.
    """
    import pandas as pd

    records = []
    for number in checkable_questions(table.columns):
        q = QUESTION_BY_NUMBER[number]
        actual = table[q.columns].to_numpy(dtype=np.float64).sum(axis=1)
        expected = np.ones(len(table)) if q.parent is None else table[q.parent].to_numpy(np.float64)
        bad = np.abs(actual - expected) > tolerance  # NaN compares False: unknown is not a breach
        for label, exp, act in zip(table.index[bad], expected[bad], actual[bad], strict=True):
            records.append({"row": label, "question": number, "expected": exp, "actual": act})
    return pd.DataFrame(records, columns=["row", "question", "expected", "actual"])


def answer_label(column: str) -> str:
    """A readable name for a column, e.g. ``Class4.1`` → ``Q4 spiral arms? spiral``."""
    q = QUESTION_BY_NUMBER[QUESTION_OF_COLUMN[column]]
    return f"Q{q.number} {q.short} {ANSWER_BY_COLUMN[column].label}"


def as_frame(
    predictions: np.ndarray, ids: Sequence[object] | pd.Series | None = None
) -> pd.DataFrame:
    """37-column predictions as a catalog-like DataFrame (``id`` + Class1.1 … Class11.6).

    Such a frame works wherever a catalog's label columns do: labels.three_class, plots.
    """
    import pandas as pd

    predictions = np.asarray(predictions, dtype=np.float64)
    if predictions.ndim != 2 or predictions.shape[1] != len(COLUMNS):
        raise GalaxyLabError(
            f"expected predictions of shape (N, {len(COLUMNS)}), got {predictions.shape}"
        )
    frame = pd.DataFrame(predictions, columns=list(COLUMNS))
    if ids is not None:
        ids = list(ids)
        if len(ids) != len(frame):
            raise GalaxyLabError(f"{len(ids)} ids for {len(frame)} predictions")
        frame.insert(0, "id", [str(i) for i in ids])
    return frame


def sum_errors(predictions: np.ndarray | pd.DataFrame) -> pd.DataFrame:
    """How far each galaxy's answers miss the tree: per question, sum of answers − parent value.

    Returns an (N, 11) frame with columns "Q1" … "Q11" (Q1 and Q6 should sum to 1, the
    others to their parent answer). Zero everywhere means the predictions obey the tree.
    """
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        values = predictions[list(COLUMNS)].to_numpy(dtype=np.float64)
    else:
        values = as_frame(predictions)[list(COLUMNS)].to_numpy()
    out = {}
    for number, cols in question_slices():
        parent = parent_index(number)
        expected = 1.0 if parent is None else values[:, parent]
        out[f"Q{number}"] = values[:, cols].sum(axis=1) - expected
    return pd.DataFrame(out)


def row_shares(galaxy: pd.Series) -> np.ndarray:
    """One catalog row's 37 per-question shares (fraction of those who reached each question);
    NaN where a column is missing or its question was reached by nobody."""
    return to_fractions(np.array([galaxy.get(c, np.nan) for c in COLUMNS], float))
