"""What every course notebook shares: where its catalog comes from and what it runs on.

One setting switches the whole course to real data: the environment variable
``GALAXYLAB_SOURCE`` (a Kaggle-layout folder, a class-folder layout, a GZ2 folder or a
Galaxy10 .h5 file). Unset, every notebook uses the offline synthetic universe. Quick mode
(``GALAXYLAB_QUICK=1``) keeps real catalogs small too, so CI never trains on 60,000 galaxies.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pandas as pd

from galaxylab import config
from galaxylab.errors import GalaxyLabError

SOURCE_ENV = "GALAXYLAB_SOURCE"

#: Galaxies kept from a real source in quick mode (the synthetic universe is already small).
QUICK_REAL_LIMIT = 600


def source() -> Path | None:
    """The real data source named by ``$GALAXYLAB_SOURCE``, or None for the synthetic universe."""
    value = os.environ.get(SOURCE_ENV, "").strip()
    return Path(value).expanduser() if value else None


def catalog(src: str | os.PathLike[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """The course catalog: ``src`` if given, else $GALAXYLAB_SOURCE, else the synthetic universe.

    In quick mode a real catalog larger than QUICK_REAL_LIMIT is cut to a random sample of that
    size (fixed by ``seed``), keeping its ``attrs``.
    """
    from galaxylab import datasets

    chosen = Path(src).expanduser() if src is not None else source()
    if chosen is None:
        return datasets.load_default()
    table = datasets.load(chosen)
    if config.quick_mode() and len(table) > QUICK_REAL_LIMIT:
        attrs = dict(table.attrs)
        table = table.sample(n=QUICK_REAL_LIMIT, random_state=seed).sort_index()
        table.attrs.update(attrs)
    return table


def truth(catalog: pd.DataFrame) -> pd.DataFrame | None:
    """The synthetic universe's truth.csv aligned row by row to ``catalog`` (an ``id`` column
    first), or None when the catalog does not come from a folder with a truth table.

    Columns: the true parameters, ``true_<column>`` (a perfect observer's answers) and
    ``expected_<column>`` (an infinite crowd's vote fractions).
    """
    root = catalog.attrs.get("root")
    path = Path(root) / "truth.csv" if root else None
    if path is None or not path.is_file():
        return None
    table = pd.read_csv(path, dtype={"GalaxyID": str})
    if "GalaxyID" not in table.columns:
        raise GalaxyLabError(f"{path}: no GalaxyID column")
    table = table.rename(columns={"GalaxyID": "id"})
    aligned = table.set_index("id", drop=False).reindex(catalog["id"].astype(str))
    missing = aligned["id"].isna().to_numpy()
    if missing.any():
        raise GalaxyLabError(f"{path}: no row for galaxy {catalog['id'].iloc[missing.argmax()]}")
    return aligned.set_index(catalog.index)


def environment() -> dict[str, object]:
    """Versions, devices and settings a student (or an instructor helping one) needs to see.

    Imports TensorFlow, so it takes a few seconds the first time.
    """
    import keras
    import matplotlib
    import numpy
    import tensorflow as tf

    from galaxylab import hardware
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "matplotlib": matplotlib.__version__,
        "cpu_cores": os.cpu_count(),
        "gpus": [gpu.name for gpu in hardware.gpus()],
        "data_dir": str(config.data_dir()),
        "quick_mode": config.quick_mode(),
        "source": str(source()) if source() else "synthetic universe (offline default)",
    }
