"""The full pixels of one catalog row, whether its image is a file or a row of a Galaxy10 .h5."""

from __future__ import annotations

import numpy as np
import pandas as pd

from galaxylab.datasets import galaxy10
from galaxylab.datasets.catalog import IMAGE
from galaxylab.images import read_rgb


def row_pixels(row: pd.Series) -> np.ndarray:
    """The pixels of one catalog row as uint8 (H, W, 3), from an image file or a Galaxy10 .h5."""
    index = row.get("h5_index")
    if index is not None and not pd.isna(index):
        return galaxy10.read_images(row[IMAGE], [int(index)])[0]
    return read_rgb(row[IMAGE])
