"""Self-checks for the exercises of notebook 01_exploring_galaxy_zoo."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import numpy as np
import pandas as pd

from galaxylab import labels, tree
from galaxylab.checks import close, passed, require

THRESHOLDS = (0.6, 0.7, 0.8, 0.9)


def deep_question(parent: object, gap: object, catalog: pd.DataFrame, question: int = 10) -> bool:
    """Your turn 1: the parent answer of ``question`` and the largest gap between the sum of its
    answers and that parent."""
    q = tree.QUESTION_BY_NUMBER[question]
    require(
        isinstance(parent, str) and parent in tree.COLUMNS,
        "parent should be a column name such as 'Class1.2'.",
    )
    require(
        parent == q.parent,
        f"{parent} is not the answer that leads to question {question}: follow the arrows of "
        "the tree diagram back one step.",
    )
    require(
        isinstance(gap, int | float | np.number) and not isinstance(gap, bool),
        "gap should be one number: the largest difference over all galaxies.",
    )
    expected = float((catalog[list(q.columns)].sum(axis=1) - catalog[q.parent]).abs().max())
    value = float(cast(float, gap))
    require(value >= 0, "gap should be the largest ABSOLUTE difference (take .abs()).")
    require(
        close(value, expected, 1e-6),
        f"gap should compare the sum of the question {question} answers with {parent}, for "
        "every galaxy, and keep the largest difference.",
    )
    return passed(f"{parent} leads to question {question}, and its answers sum to it.")


def threshold_unsure(unsure_share: object, catalog: pd.DataFrame) -> bool:
    """Your turn 2: the share of unsure galaxies at each threshold on the debiased fractions."""
    require(
        isinstance(unsure_share, Mapping),
        "unsure_share should be a dictionary {threshold: share of unsure galaxies}.",
    )
    shares = dict(cast(Mapping, unsure_share))
    require(
        all(any(close(k, t, 1e-9) for k in shares) for t in THRESHOLDS),
        f"unsure_share should have the thresholds {', '.join(map(str, THRESHOLDS))} as keys.",
    )
    for t in THRESHOLDS:
        value = next(v for k, v in shares.items() if close(k, t, 1e-9))
        require(
            close(value, 0.5, 0.5),
            "each value should be a share between 0 and 1 (divide the count by the number "
            "of galaxies).",
        )
        classes = labels.three_class(catalog, threshold=t, gz1_labels="debiased")
        expected = float((classes == "unsure").mean())
        flags = float((labels.three_class(catalog) == "unsure").mean())
        require(
            close(value, expected, 1e-6),
            f"the share at {t} is not that of the DEBIASED fractions; use gz1_labels='debiased'"
            if close(value, flags, 1e-6) and not close(flags, expected, 1e-6)
            else f"the share at {t} should count the unsure galaxies with threshold {t} on the "
            "debiased fractions.",
        )
    return passed("right: watch how the unsure share changes as the threshold rises.")


def edge_on(edge_on: object, threshold: object, catalog: pd.DataFrame) -> bool:
    """Your turn 3: the 8 galaxies with the highest Class2.1, and the highest 0.05 step of the
    explorer's threshold that all of them still pass."""
    require(isinstance(edge_on, pd.DataFrame), "edge_on should be a DataFrame of catalog rows.")
    frame = cast(pd.DataFrame, edge_on)
    require(len(frame) == 8, f"edge_on should hold 8 galaxies, not {len(frame)}.")
    cutoff = catalog["Class2.1"].nlargest(8).min()
    require(
        "Class2.1" in frame.columns and bool((frame["Class2.1"] >= cutoff).all()),
        "edge_on should be the 8 galaxies with the HIGHEST Class2.1.",
    )
    require(
        isinstance(threshold, int | float | np.number) and not isinstance(threshold, bool),
        "threshold should be one number, a multiple of 0.05.",
    )
    value = float(cast(float, threshold))
    require(close(value * 20, round(value * 20), 1e-6), "threshold should be a multiple of 0.05.")
    require(value <= cutoff, "at that threshold not all eight galaxies pass: lower it.")
    require(value + 0.05 > cutoff, "all eight still pass at a higher threshold: raise it.")
    return passed("these are the real galaxies the crowd calls most clearly edge-on.")
