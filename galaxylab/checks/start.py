"""Self-checks for the exercises of notebook 00_start_here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import numpy as np
import pandas as pd
from scipy import stats

from galaxylab import labels
from galaxylab.checks import NotYet, close, passed, require

CLASSES = ("elliptical", "spiral", "unsure")


def _counts(answer: object, name: str) -> dict[str, int]:
    require(
        isinstance(answer, Mapping | pd.Series),
        f"{name} should be a dictionary {{'elliptical': …, 'spiral': …, 'unsure': …}}.",
    )
    mapping = cast(Mapping, answer)
    keys = set(mapping.keys())
    require(keys == set(CLASSES), f"{name} should have exactly the keys {', '.join(CLASSES)}.")
    try:
        return {c: int(mapping[c]) for c in CLASSES}
    except (TypeError, ValueError) as error:
        raise NotYet(f"the values of {name} should be whole numbers of galaxies.") from error


def clean_counts(
    real_counts: object, universe_counts: object, real: pd.DataFrame, universe: pd.DataFrame
) -> bool:
    """Your turn 1: the three classes counted from the GZ1 flags and from the 0.8 threshold."""
    real_c, universe_c = (
        _counts(real_counts, "real_counts"),
        _counts(universe_counts, "universe_counts"),
    )
    for name, counts, catalog in [
        ("real_counts", real_c, real),
        ("universe_counts", universe_c, universe),
    ]:
        require(
            sum(counts.values()) == len(catalog),
            f"the three counts of {name} should add up to all {len(catalog)} galaxies.",
        )
    expected = labels.three_class(real).value_counts()
    require(
        all(real_c[c] == int(expected[c]) for c in CLASSES),
        "real_counts should count the galaxies whose gz1_elliptical, gz1_spiral and "
        "gz1_uncertain flags are 1.",
    )
    expected = labels.three_class(universe, threshold=0.8).value_counts()
    require(
        all(universe_c[c] == int(expected[c]) for c in CLASSES),
        "universe_counts should use Class1.1 ≥ 0.8 for elliptical and Class1.2 ≥ 0.8 for spiral.",
    )
    return passed("both counts are right: compare which class is the largest in each.")


def _top_rows(answer: object, name: str, catalog: pd.DataFrame, column: str) -> None:
    require(isinstance(answer, pd.DataFrame), f"{name} should be a DataFrame of catalog rows.")
    frame = cast(pd.DataFrame, answer)
    require(len(frame) == 8, f"{name} should hold 8 galaxies, not {len(frame)}.")
    require(
        "id" in frame.columns and set(frame["id"]) <= set(catalog["id"]),
        f"{name} should be rows of the kaggle catalog.",
    )
    cutoff = catalog[column].nlargest(8).min()
    require(
        bool((frame[column] >= cutoff).all()),
        f"{name} should be the 8 galaxies with the HIGHEST {column}.",
    )


def extremes(featured: object, smooth: object, catalog: pd.DataFrame) -> bool:
    """Your turn 2: the 8 galaxies with the highest Class1.2 and the 8 with the highest Class1.1."""
    _top_rows(featured, "featured", catalog, "Class1.2")
    _top_rows(smooth, "smooth", catalog, "Class1.1")
    return passed("these are the most featured and the smoothest galaxies of the sample.")


def few_votes(flipped: object, catalog: pd.DataFrame, n_votes: int = 10) -> bool:
    """Your turn 3: the share of galaxies whose 'P_EL ≥ 0.8' decision changes with n_votes."""
    require(
        isinstance(flipped, int | float | np.number) and not isinstance(flipped, bool),
        "flipped should be one number: the share of galaxies whose decision changes.",
    )
    share = float(cast(float, flipped))
    require(0 <= share <= 1, "flipped should be a share between 0 and 1, not a count.")
    p = catalog["gz1_p_el"].to_numpy(float)
    above = p >= 0.8
    # The chance that n simulated volunteers give a fraction on the other side of 0.8.
    at_least = stats.binom.sf(np.ceil(0.8 * n_votes - 1e-9) - 1, n_votes, p)
    chance = np.where(above, 1 - at_least, at_least)
    expected = float(chance.mean())
    spread = float(np.sqrt(np.sum(chance * (1 - chance)))) / len(p)
    require(
        close(share, expected, 5 * spread + 0.01),
        f"flipped is far from what {n_votes} simulated volunteers give: divide each count by "
        f"{n_votes} and compare both fractions with 0.8.",
    )
    return passed(f"about {share:.0%} of the galaxies flip with {n_votes} volunteers.")
