"""The three-class target (GZ1 clean-sample thresholds), Galaxy10 names, class encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxylab import labels
from galaxylab.datasets import make_catalog
from galaxylab.errors import GalaxyLabError


def vote_catalog(smooth: list[float], disk: list[float]) -> pd.DataFrame:
    votes = pd.DataFrame({"Class1.1": smooth, "Class1.2": disk})
    return make_catalog(
        range(len(smooth)), ["x.jpg"] * len(smooth), votes, source="kaggle", root="."
    )


def as_list(series: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in series]


def test_three_classes_are_in_keras_folder_order() -> None:
    assert labels.THREE_CLASSES == tuple(sorted(labels.THREE_CLASSES))
    assert labels.THREE_CLASSES == ("elliptical", "spiral", "unsure")


def test_three_class_from_vote_fractions() -> None:
    catalog = vote_catalog(
        [0.9, 0.1, 0.5, 0.8, 0.7, np.nan, 0.2], [0.05, 0.85, 0.4, 0.1, 0.25, 0.9, np.nan]
    )
    result = labels.three_class(catalog)
    assert list(result.cat.categories) == list(labels.THREE_CLASSES)
    assert as_list(result) == ["elliptical", "spiral", "unsure", "elliptical", "unsure", None, None]
    looser = labels.three_class(catalog, threshold=0.65)
    assert as_list(looser)[4] == "elliptical"
    assert as_list(looser)[2] == "unsure"


@pytest.mark.parametrize("threshold", [0.5, 0.3, 1.2])
def test_threshold_must_keep_the_classes_apart(threshold: float) -> None:
    with pytest.raises(GalaxyLabError, match="threshold"):
        labels.three_class(vote_catalog([0.6], [0.4]), threshold=threshold)


def test_three_class_unknown_without_question_one() -> None:
    catalog = make_catalog(
        ["1"], ["x.jpg"], pd.DataFrame({"Class7.1": [0.3]}), source="kaggle", root="."
    )
    assert labels.three_class(catalog).isna().all()
    assert labels.three_class_counts(catalog) is None


def test_three_class_from_class_folders() -> None:
    catalog = make_catalog(
        ["a", "b", "c"],
        ["a.jpg", "b.jpg", "c.jpg"],
        None,
        source="folders",
        root=".",
        extra={"class_name": ["spiral", "elliptical", "barred"]},
    )
    assert as_list(labels.three_class(catalog)) == ["spiral", "elliptical", None]
    assert labels.three_class_counts(catalog) == {"elliptical": 1, "spiral": 1, "unsure": 0}


def test_galaxy10_names_and_mapping() -> None:
    assert len(labels.GALAXY10_NAMES) == 10
    assert labels.GALAXY10_NAMES[3] == "In-between Round Smooth"
    assert labels.GALAXY10_NAMES[9] == "Edge-on with Bulge"
    assert set(labels.GALAXY10_TO_THREE_CLASS) == set(range(10))
    catalog = make_catalog(
        [str(i) for i in range(10)],
        ["g.h5"] * 10,
        None,
        source="galaxy10",
        root="g.h5",
        extra={"galaxy10_class": range(10)},
    )
    assert as_list(labels.three_class(catalog)) == (
        ["unsure"] * 2 + ["elliptical"] * 3 + ["spiral"] * 5
    )
    counts = labels.three_class_counts(catalog)
    assert counts == {"elliptical": 3, "spiral": 5, "unsure": 2}
    assert all(type(v) is int for v in counts.values())


def test_encode_decode_round_trip() -> None:
    names = ["unsure", "elliptical", "spiral", "spiral"]
    codes = labels.class_indices(names)
    assert codes.tolist() == [2, 0, 1, 1]
    assert labels.class_names(codes) == names
    assert labels.class_indices(
        labels.three_class(vote_catalog([0.9], [0.1])).astype(str)
    ).tolist() == [0]


def test_encode_rejects_unknown_and_missing_classes() -> None:
    with pytest.raises(GalaxyLabError, match="unknown class 'barred'"):
        labels.class_indices(["spiral", "barred"])
    with pytest.raises(GalaxyLabError, match="unknown class"):
        labels.class_indices(["spiral", None])
    with pytest.raises(GalaxyLabError, match="outside 0..2"):
        labels.class_names([0, 3])
