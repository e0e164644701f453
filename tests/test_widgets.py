"""Widgets: the volunteer's path follows the tree, comparisons use the crowd's per-question
shares, and both widgets change what they show when a control changes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from galaxylab import datasets, tree, widgets  # noqa: E402
from galaxylab.errors import GalaxyLabError  # noqa: E402


@pytest.fixture(scope="module")
def catalog(small_universe) -> pd.DataFrame:
    return datasets.load(small_universe)


def _galaxy(**values: float) -> pd.Series:
    """A catalog row with only the given columns known (the rest absent)."""
    return pd.Series({"id": "1", "image": "none.jpg", **values})


# --------------------------------------------------------------------------- pure logic


def test_path_follows_the_tree_smooth_branch():
    path = widgets.start_path()
    assert path.current == 1 and not path.finished
    path = widgets.answer(path, "Class1.1")  # smooth
    assert path.current == 7
    path = widgets.answer(path, "Class7.3")  # cigar-shaped
    assert path.current == 6
    path = widgets.answer(path, "Class6.1")  # something odd
    assert path.current == 8
    path = widgets.answer(path, "Class8.7")  # dust lane
    assert path.finished and path.current is None
    assert path.questions == [1, 7, 6, 8]


def test_path_follows_the_tree_spiral_branch_and_ends_early():
    path = widgets.start_path()
    for column in [
        "Class1.2",
        "Class2.2",
        "Class3.1",
        "Class4.1",
        "Class10.2",
        "Class11.2",
        "Class5.3",
        "Class6.2",
    ]:
        path = widgets.answer(path, column)
    assert path.finished and path.questions == [1, 2, 3, 4, 10, 11, 5, 6]
    star = widgets.answer(widgets.start_path(), "Class1.3")
    assert star.finished


def test_answer_refuses_the_wrong_question_and_answers_after_the_end():
    path = widgets.answer(widgets.start_path(), "Class1.1")
    with pytest.raises(GalaxyLabError, match="Class2.1 does not answer Q7"):
        widgets.answer(path, "Class2.1")
    done = widgets.answer(widgets.start_path(), "Class1.3")
    with pytest.raises(GalaxyLabError, match="ended"):
        widgets.answer(done, "Class6.1")


def test_compare_uses_per_question_shares():
    galaxy = _galaxy(
        **{"Class1.1": 0.2, "Class1.2": 0.7, "Class1.3": 0.1, "Class2.1": 0.14, "Class2.2": 0.56}
    )
    path = widgets.answer(widgets.answer(widgets.start_path(), "Class1.2"), "Class2.1")
    table = widgets.compare(path, galaxy)
    assert table["question"].tolist() == [1, 2]
    assert table["crowd_share"].tolist() == pytest.approx([0.7, 0.2])  # 0.14 of 0.7 reached Q2
    assert table["crowd_favourite"].tolist() == ["features or disk", "no"]
    assert table["favourite_share"].tolist() == pytest.approx([0.7, 0.8])
    assert table["agree"].tolist() == [True, False]


def test_compare_marks_unknown_votes():
    galaxy = _galaxy(**{"Class1.1": 0.9, "Class1.2": 0.05, "Class1.3": 0.05})
    path = widgets.answer(widgets.answer(widgets.start_path(), "Class1.1"), "Class7.1")
    table = widgets.compare(path, galaxy)
    assert table["agree"].tolist()[0] is True
    assert pd.isna(table["agree"].iloc[1]) and np.isnan(table["crowd_share"].iloc[1])


def test_crowd_path_takes_the_favourite_answers():
    fractions = np.full(len(tree.COLUMNS), 0.0)
    for q in tree.QUESTIONS:
        fractions[tree.COLUMN_INDEX[q.columns[-1]]] = 1.0  # last answer everywhere
    fractions[tree.COLUMN_INDEX["Class1.3"]] = 0.0
    fractions[tree.COLUMN_INDEX["Class1.1"]] = 1.0  # smooth, then Q7 cigar, Q6 no
    galaxy = pd.Series(tree.to_cumulative(fractions), index=list(tree.COLUMNS))
    assert widgets.crowd_path(galaxy).answers == ("Class1.1", "Class7.3", "Class6.2")
    partial = widgets.crowd_path(_galaxy(**{"Class1.1": 0.1, "Class1.2": 0.8, "Class1.3": 0.1}))
    assert partial.answers == ("Class1.2",) and not partial.finished


def test_matching_sorts_and_checks(catalog):
    passing = widgets.matching(catalog, "Class1.2", 0.6)
    assert (passing["Class1.2"] >= 0.6).all()
    assert len(passing) == int((catalog["Class1.2"] >= 0.6).sum())
    assert passing["Class1.2"].is_monotonic_decreasing
    with pytest.raises(GalaxyLabError, match="Class42.1"):
        widgets.matching(catalog, "Class42.1", 0.5)
    with pytest.raises(GalaxyLabError, match="threshold"):
        widgets.matching(catalog, "Class1.1", 1.5)


# --------------------------------------------------------------------------- widgets


def test_explorer_updates_when_the_threshold_changes(catalog):
    explorer = widgets.answer_explorer(catalog, column="Class1.1", threshold=0.9, n=4)
    before_count, before_image = explorer.count.value, explorer.gallery.value
    explorer.threshold.value = 0.3
    expected = int((catalog["Class1.1"] >= 0.3).sum())
    assert f"<b>{expected}</b> of {len(catalog)}" in explorer.count.value
    assert explorer.count.value != before_count
    assert explorer.gallery.value != before_image and explorer.gallery.value[:4] == b"\x89PNG"
    shown = catalog.set_index("id").loc[explorer.shown_ids, "Class1.1"]
    assert len(shown) == min(4, expected) and (shown >= 0.3).all()
    explorer.threshold.value = 1.0
    nobody = int((catalog["Class1.1"] >= 1.0).sum())
    assert f"<b>{nobody}</b>" in explorer.count.value


def test_explorer_question_switches_the_answers(catalog):
    explorer = widgets.answer_explorer(catalog, threshold=0.5)
    explorer.question.value = 8
    assert [value for _, value in explorer.answer.options] == list(
        tree.QUESTION_BY_NUMBER[8].columns
    )
    assert explorer.answer.value == "Class8.1"
    assert "Q8 odd feature ring" in explorer.count.value
    explorer.answer.value = "Class8.6"
    assert "merger" in explorer.count.value
    assert explorer.widget.children  # the box a notebook displays


def test_explorer_offers_only_questions_with_known_votes(catalog):
    partial = catalog.copy()
    for q in (3, 4, 5, 10, 11):
        partial[tree.QUESTION_BY_NUMBER[q].columns] = np.nan  # as in a 17-column table
    explorer = widgets.answer_explorer(partial, column="Class4.1")
    assert [n for _, n in explorer.question.options] == [1, 2, 6, 7, 8, 9]
    assert explorer.answer.value == "Class1.1"  # the unknown column fell back to the first
    with pytest.raises(GalaxyLabError, match="none of the 37"):
        widgets.answer_explorer(catalog[["id", "image"]])


def test_volunteer_buttons_walk_the_tree_and_compare(catalog):
    galaxy_id = str(catalog["id"].iloc[3])
    volunteer = widgets.volunteer(catalog, galaxy_id=galaxy_id)
    assert volunteer.galaxy["id"] == galaxy_id and volunteer.image.value[:4] == b"\x89PNG"

    def click(label: str) -> None:
        (button,) = [b for b in volunteer.buttons if b.description == label]
        button.click()

    assert [b.description for b in volunteer.buttons] == [
        "smooth",
        "features or disk",
        "star or artifact",
    ]
    click("smooth")
    assert "Q7" in volunteer.prompt.value
    click("in between")
    assert "Q6" in volunteer.prompt.value
    click("yes")
    assert "Q8" in volunteer.prompt.value and len(volunteer.buttons) == 7
    assert volunteer.result.value == b""
    click("merger")
    assert volunteer.path.finished and volunteer.buttons == []
    assert volunteer.path.questions == [1, 7, 6, 8]
    expected = widgets.compare(volunteer.path, volunteer.galaxy)
    pd.testing.assert_frame_equal(volunteer.comparison, expected)
    agreed = int(expected["agree"].dropna().sum())
    assert f"<b>{agreed} of 4</b>" in volunteer.summary.value
    assert volunteer.result.value[:4] == b"\x89PNG"

    volunteer.restart.click()
    assert volunteer.path.answers == () and volunteer.comparison is None
    assert volunteer.result.value == b"" and len(volunteer.buttons) == 3


def test_volunteer_another_galaxy_is_seeded(catalog):
    first = widgets.volunteer(catalog, seed=4)
    again = widgets.volunteer(catalog, seed=4)
    assert first.galaxy["id"] == again.galaxy["id"]
    first.another.click()
    again.another.click()
    assert first.galaxy["id"] == again.galaxy["id"]
    with pytest.raises(GalaxyLabError, match="no galaxy with id nope"):
        widgets.volunteer(catalog, galaxy_id="nope")
