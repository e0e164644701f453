"""Pieces of fake Galaxy Zoo 1 catalogs shared by the notebook self-check tests."""

from __future__ import annotations

import numpy as np

from galaxylab import labels

#: The class each index of a fake catalog's ``kind`` array stands for.
KINDS = ("elliptical", "spiral", "unsure")


def flag_columns(kind: np.ndarray) -> dict[str, np.ndarray]:
    """GZ1's three clean-sample flag columns (1.0 or 0.0) for class indices into :data:`KINDS`."""
    return {
        labels.GZ1_FLAG_COLUMNS[name]: (kind == i).astype(float) for i, name in enumerate(KINDS)
    }
