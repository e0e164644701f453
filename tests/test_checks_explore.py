"""The self-checks of notebook 01 accept a right answer and reject typical wrong ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from gz1_fakes import flag_columns

from galaxylab import labels, tree
from galaxylab.checks import NotYet
from galaxylab.checks import explore as check


@pytest.fixture
def universe() -> pd.DataFrame:
    """Random fractions that obey the tree along 1.2 → 2.2 → 4.1 → 10 (the columns needed)."""
    rng = np.random.default_rng(0)
    n = 50
    frame = pd.DataFrame(0.0, index=range(n), columns=list(tree.COLUMNS))
    frame["Class4.1"] = rng.uniform(0, 1, n)
    frame["Class4.2"] = rng.uniform(0, 1, n)
    split = rng.dirichlet([1, 1, 1], n) * frame["Class4.1"].to_numpy()[:, None]
    frame[["Class10.1", "Class10.2", "Class10.3"]] = split
    return frame


@pytest.fixture
def gz1() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 120
    p_el = rng.uniform(0, 1, n)
    p_cs = (1 - p_el) * rng.uniform(0.5, 1, n)
    kind = np.where(p_el >= 0.8, 0, np.where(p_cs >= 0.8, 1, 2))
    kind[:10] = 2  # flags that a debiased threshold does not copy
    return pd.DataFrame(
        {
            "gz1_p_el_debiased": p_el,
            "gz1_p_cs_debiased": p_cs,
            "gz1_p_el": p_el,
            "gz1_p_cs": p_cs,
            **flag_columns(kind),
        }
    )


@pytest.fixture
def kaggle() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    return pd.DataFrame({"id": [str(i) for i in range(40)], "Class2.1": rng.uniform(0, 1, 40)})


def _gap(universe: pd.DataFrame, parent: str = "Class4.1") -> float:
    columns = list(tree.QUESTION_BY_NUMBER[10].columns)
    return float((universe[columns].sum(axis=1) - universe[parent]).abs().max())


def test_deep_question_accepts_the_parent_and_its_gap(universe) -> None:
    assert check.deep_question("Class4.1", _gap(universe), universe)


def test_deep_question_rejects_a_wrong_parent_and_a_signed_gap(universe) -> None:
    with pytest.raises(NotYet, match="not the answer"):
        check.deep_question("Class4.2", _gap(universe, "Class4.2"), universe)
    with pytest.raises(NotYet, match="column name"):
        check.deep_question(4.1, _gap(universe), universe)
    signed = float((universe[["Class10.1", "Class10.2"]].sum(axis=1) - universe["Class4.1"]).min())
    with pytest.raises(NotYet, match="ABSOLUTE"):
        check.deep_question("Class4.1", signed, universe)
    with pytest.raises(NotYet, match="every galaxy"):
        check.deep_question("Class4.1", 0.3, universe)


def _shares(gz1: pd.DataFrame, gz1_labels: str = "debiased") -> dict[float, float]:
    return {
        t: float((labels.three_class(gz1, threshold=t, gz1_labels=gz1_labels) == "unsure").mean())
        for t in check.THRESHOLDS
    }


def test_threshold_unsure_accepts_the_shares(gz1) -> None:
    assert check.threshold_unsure(_shares(gz1), gz1)


def test_threshold_unsure_rejects_counts_raw_fractions_and_missing_thresholds(gz1) -> None:
    counts = {t: s * len(gz1) for t, s in _shares(gz1).items()}
    with pytest.raises(NotYet, match="between 0 and 1"):
        check.threshold_unsure(counts, gz1)
    flags = float((labels.three_class(gz1) == "unsure").mean())
    with pytest.raises(NotYet, match="DEBIASED"):
        check.threshold_unsure(dict.fromkeys(check.THRESHOLDS, flags), gz1)
    with pytest.raises(NotYet, match="keys"):
        check.threshold_unsure({0.6: 0.1, 0.9: 0.3}, gz1)
    with pytest.raises(NotYet, match="dictionary"):
        check.threshold_unsure([0.1, 0.2, 0.3, 0.4], gz1)


def test_edge_on_accepts_the_top_eight_and_the_highest_step(kaggle) -> None:
    top = kaggle.nlargest(8, "Class2.1")
    threshold = float(np.floor(top["Class2.1"].min() * 20) / 20)
    assert check.edge_on(top, threshold, kaggle)


def test_edge_on_rejects_wrong_rows_and_thresholds(kaggle) -> None:
    top = kaggle.nlargest(8, "Class2.1")
    threshold = float(np.floor(top["Class2.1"].min() * 20) / 20)
    with pytest.raises(NotYet, match="HIGHEST"):
        check.edge_on(kaggle.nsmallest(8, "Class2.1"), threshold, kaggle)
    with pytest.raises(NotYet, match="8 galaxies"):
        check.edge_on(kaggle.head(3), threshold, kaggle)
    with pytest.raises(NotYet, match="raise it"):
        check.edge_on(top, threshold - 0.1, kaggle)
    with pytest.raises(NotYet, match="lower it"):
        check.edge_on(top, threshold + 0.05, kaggle)
    with pytest.raises(NotYet, match="multiple of 0.05"):
        check.edge_on(top, threshold + 0.01, kaggle)
