"""The decision tree as data and its vote algebra, with property-based tests (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from galaxylab import tree

N = len(tree.COLUMNS)


def test_tree_shape_matches_the_challenge() -> None:
    assert len(tree.QUESTIONS) == 11
    assert N == 37
    assert tree.COLUMNS[0] == "Class1.1" and tree.COLUMNS[-1] == "Class11.6"
    sizes = [len(q.answers) for q in tree.QUESTIONS]
    assert sizes == [3, 2, 2, 2, 4, 2, 3, 7, 3, 3, 6]


@pytest.mark.parametrize(
    ("question", "parent"),
    [
        (1, None),
        (2, "Class1.2"),
        (3, "Class2.2"),
        (4, "Class2.2"),
        (5, "Class2.2"),
        (6, None),
        (7, "Class1.1"),
        (8, "Class6.1"),
        (9, "Class2.1"),
        (10, "Class4.1"),
        (11, "Class4.1"),
    ],
)
def test_parents_follow_the_published_tree(question: int, parent: str | None) -> None:
    assert tree.QUESTION_BY_NUMBER[question].parent == parent


def test_next_questions_follow_the_published_tree() -> None:
    nxt = {a.column: a.next_question for q in tree.QUESTIONS for a in q.answers}
    assert nxt["Class1.1"] == 7 and nxt["Class1.2"] == 2 and nxt["Class1.3"] is None
    assert nxt["Class2.1"] == 9 and nxt["Class2.2"] == 3
    assert nxt["Class4.1"] == 10 and nxt["Class4.2"] == 5
    assert nxt["Class10.2"] == 11 and nxt["Class11.6"] == 5
    assert nxt["Class6.1"] == 8 and nxt["Class6.2"] is None
    assert all(nxt[c] is None for c in tree.QUESTION_BY_NUMBER[8].columns)


def test_every_question_but_the_first_and_odd_is_reached_from_its_parent() -> None:
    """A question's parent answer must be one whose path leads to that question."""
    for q in tree.QUESTIONS:
        if q.parent is None:
            continue
        # walk forward from the parent answer: the question must be reachable
        frontier, seen = [tree.ANSWER_BY_COLUMN[q.parent].next_question], set()
        while frontier:
            number = frontier.pop()
            if number is None or number in seen:
                continue
            seen.add(number)
            frontier.extend(a.next_question for a in tree.QUESTION_BY_NUMBER[number].answers)
        assert q.number in seen, f"Q{q.number} not reachable from {q.parent}"


def test_evaluation_order_puts_parents_first() -> None:
    position = {number: i for i, number in enumerate(tree.EVALUATION_ORDER)}
    assert sorted(position) == list(range(1, 12))
    for q in tree.QUESTIONS:
        if q.parent is not None:
            assert position[tree.QUESTION_OF_COLUMN[q.parent]] < position[q.number]


unit_scores = arrays(np.float64, (4, N), elements=st.floats(0, 1, allow_nan=False))


def _per_question_fractions(raw: np.ndarray) -> np.ndarray:
    out = np.empty_like(raw)
    for _, cols in tree.question_slices():
        block = raw[:, cols] + 1e-3
        out[:, cols] = block / block.sum(axis=1, keepdims=True)
    return out


@settings(max_examples=60, deadline=None)
@given(unit_scores)
def test_cumulative_columns_obey_the_tree(raw: np.ndarray) -> None:
    cumulative = tree.to_cumulative(_per_question_fractions(raw))
    assert tree.check(pd.DataFrame(cumulative, columns=tree.COLUMNS), tolerance=1e-9).empty
    assert np.all((cumulative >= 0) & (cumulative <= 1 + 1e-12))


@settings(max_examples=60, deadline=None)
@given(unit_scores)
def test_fractions_round_trip(raw: np.ndarray) -> None:
    fractions = _per_question_fractions(raw)
    back = tree.to_fractions(tree.to_cumulative(fractions))
    # every question is reached with positive weight here, so the inverse is exact
    np.testing.assert_allclose(back, fractions, rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(unit_scores)
def test_normalise_obeys_the_tree_and_is_idempotent(raw: np.ndarray) -> None:
    once = tree.normalise(raw)
    assert tree.check(pd.DataFrame(once, columns=tree.COLUMNS), tolerance=1e-9).empty
    np.testing.assert_allclose(tree.normalise(once), once, atol=1e-12)


def test_normalise_sends_all_zero_question_to_even_split() -> None:
    raw = np.zeros(N)
    out = tree.normalise(raw)
    np.testing.assert_allclose(out[:3], 1 / 3)
    np.testing.assert_allclose(out[tree.COLUMN_INDEX["Class6.1"]], 0.5)
    # Q2 shares Class1.2's third, split in two
    np.testing.assert_allclose(out[tree.COLUMN_INDEX["Class2.1"]], 1 / 6)


def test_normalise_rejects_negative_scores() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        tree.normalise(-np.ones(N))


def test_to_fractions_marks_unreached_questions_nan() -> None:
    fractions = _per_question_fractions(np.ones((1, N)))
    fractions[0, :3] = [1.0, 0.0, 0.0]  # everybody says smooth: Q2 and below unreached
    back = tree.to_fractions(tree.to_cumulative(fractions))
    assert np.isnan(back[0, tree.COLUMN_INDEX["Class2.1"]])
    assert not np.isnan(back[0, tree.COLUMN_INDEX["Class7.1"]])


def test_check_reports_row_question_and_sums() -> None:
    good = tree.normalise(np.ones((3, N)))
    table = pd.DataFrame(good, columns=tree.COLUMNS, index=[101, 102, 103])
    table.loc[102, "Class7.1"] += 0.2  # Q7 no longer sums to Class1.1
    report = tree.check(table)
    assert list(report["row"]) == [102]
    assert list(report["question"]) == [7]
    assert report["actual"].iloc[0] == pytest.approx(report["expected"].iloc[0] + 0.2)


def test_check_skips_questions_it_cannot_see() -> None:
    """Missing columns are unknown, not zero: only fully present questions are checked."""
    good = tree.normalise(np.ones((2, N)))
    table = pd.DataFrame(good, columns=tree.COLUMNS)[
        ["Class1.1", "Class1.2", "Class1.3", "Class7.1", "Class7.2"]
    ]
    assert tree.checkable_questions(table.columns) == [1]
    assert tree.check(table).empty
    table.loc[0, "Class1.1"] = np.nan  # unknown values are not breaches either
    assert tree.check(table).empty


def test_real_sample_obeys_the_tree(real_sample) -> None:
    table = pd.read_csv(real_sample / "training_solutions_rev1.csv").set_index("GalaxyID")
    assert tree.checkable_questions(table.columns) == [1, 2, 6, 7, 8]
    assert tree.check(table, tolerance=1e-5).empty


def test_answer_label_is_readable() -> None:
    assert tree.answer_label("Class4.1") == "Q4 spiral arms? spiral"
    assert tree.answer_label("Class8.7") == "Q8 odd feature dust lane"
