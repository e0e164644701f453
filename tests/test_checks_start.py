"""The self-checks of notebook 00 accept a right answer and reject typical wrong ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from gz1_fakes import flag_columns

from galaxylab.checks import NotYet
from galaxylab.checks import start as check


@pytest.fixture
def real() -> pd.DataFrame:
    """A tiny GZ1-like catalog: flags and raw elliptical fractions."""
    rng = np.random.default_rng(1)
    n = 200
    kind = rng.choice(3, size=n, p=[0.2, 0.6, 0.2])
    p_el = np.where(kind == 1, rng.uniform(0, 0.2, n), rng.uniform(0.75, 0.95, n))
    return pd.DataFrame(
        {
            "id": [str(i) for i in range(n)],
            "gz1_p_el": p_el,
            **flag_columns(kind),
        }
    )


@pytest.fixture
def universe() -> pd.DataFrame:
    smooth = np.array([0.9, 0.85, 0.1, 0.05, 0.5, 0.6, 0.8, 0.3])
    return pd.DataFrame(
        {"id": [str(i) for i in range(8)], "Class1.1": smooth, "Class1.2": 1 - smooth - 0.01}
    )


@pytest.fixture
def kaggle() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    smooth = rng.uniform(0, 1, 30)
    return pd.DataFrame(
        {"id": [str(i) for i in range(30)], "Class1.1": smooth, "Class1.2": 1 - smooth}
    )


def _counts(real: pd.DataFrame, universe: pd.DataFrame) -> tuple[dict, dict]:
    real_counts = {
        "elliptical": int(real["gz1_elliptical"].sum()),
        "spiral": int(real["gz1_spiral"].sum()),
        "unsure": int(real["gz1_uncertain"].sum()),
    }
    e = int((universe["Class1.1"] >= 0.8).sum())
    s = int((universe["Class1.2"] >= 0.8).sum())
    return real_counts, {"elliptical": e, "spiral": s, "unsure": len(universe) - e - s}


def test_clean_counts_accepts_the_right_counts(real, universe) -> None:
    assert check.clean_counts(*_counts(real, universe), real, universe)


def test_clean_counts_rejects_unsure_that_forgets_the_spirals(real, universe) -> None:
    real_counts, universe_counts = _counts(real, universe)
    universe_counts["unsure"] = len(universe) - universe_counts["elliptical"]
    with pytest.raises(NotYet, match="add up"):
        check.clean_counts(real_counts, universe_counts, real, universe)


def test_clean_counts_rejects_a_strict_threshold(real, universe) -> None:
    real_counts, _ = _counts(real, universe)
    e, s = int((universe["Class1.1"] > 0.8).sum()), int((universe["Class1.2"] > 0.8).sum())
    wrong = {"elliptical": e, "spiral": s, "unsure": len(universe) - e - s}
    with pytest.raises(NotYet, match="0.8"):
        check.clean_counts(real_counts, wrong, real, universe)


def test_clean_counts_rejects_swapped_flags_and_missing_keys(real, universe) -> None:
    real_counts, universe_counts = _counts(real, universe)
    swapped = {**real_counts, "spiral": real_counts["unsure"], "unsure": real_counts["spiral"]}
    with pytest.raises(NotYet, match="flags"):
        check.clean_counts(swapped, universe_counts, real, universe)
    with pytest.raises(NotYet, match="keys"):
        check.clean_counts({"spiral": 1}, universe_counts, real, universe)


def test_extremes_accepts_the_top_eight(kaggle) -> None:
    assert check.extremes(kaggle.nlargest(8, "Class1.2"), kaggle.nlargest(8, "Class1.1"), kaggle)


def test_extremes_rejects_the_lowest_and_wrong_sizes(kaggle) -> None:
    with pytest.raises(NotYet, match="HIGHEST"):
        check.extremes(kaggle.nsmallest(8, "Class1.2"), kaggle.nlargest(8, "Class1.1"), kaggle)
    with pytest.raises(NotYet, match="8 galaxies"):
        check.extremes(kaggle.nlargest(5, "Class1.2"), kaggle.nlargest(8, "Class1.1"), kaggle)
    with pytest.raises(NotYet, match="DataFrame"):
        check.extremes(list(range(8)), kaggle.nlargest(8, "Class1.1"), kaggle)


def _flipped(real: pd.DataFrame, n: int, divide: bool = True) -> float:
    p = real["gz1_p_el"].to_numpy()
    count = np.random.default_rng(0).binomial(n, p)
    few = count / n if divide else count
    return float(np.mean((few >= 0.8) != (p >= 0.8)))


def test_few_votes_accepts_a_simulated_share(real) -> None:
    assert check.few_votes(_flipped(real, 10), real, n_votes=10)
    assert check.few_votes(_flipped(real, 40), real, n_votes=40)


def test_few_votes_rejects_counts_not_divided_and_counts_for_shares(real) -> None:
    with pytest.raises(NotYet, match="far from"):
        check.few_votes(_flipped(real, 10, divide=False), real, n_votes=10)
    with pytest.raises(NotYet, match="between 0 and 1"):
        check.few_votes(17, real, n_votes=10)
    with pytest.raises(NotYet, match="one number"):
        check.few_votes([0.1], real, n_votes=10)
