"""The course's context: where data lives, quick mode, which catalog the notebooks read, the
lesson settings they train with, and :func:`setup`, which every notebook calls first.

Three environment variables steer the whole course: ``GALAXYLAB_DATA`` moves the data cache,
``GALAXYLAB_QUICK=1`` switches every notebook to small data and few epochs (for CI), and
``GALAXYLAB_SOURCE`` switches every notebook from the synthetic universe to a real source (a
Kaggle-layout folder, class folders, a GZ2 or GZ1 folder, a Galaxy10 .h5 file, or the name of
a built-in sample such as ``gz1-desi``).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from galaxylab.errors import GalaxyLabError

DATA_ENV = "GALAXYLAB_DATA"
QUICK_ENV = "GALAXYLAB_QUICK"
SOURCE_ENV = "GALAXYLAB_SOURCE"

#: Galaxies kept from a real source in quick mode (the synthetic universe is already small).
QUICK_REAL_LIMIT = 600


# --------------------------------------------------------------------------- environment


def data_dir() -> Path:
    """The data cache: $GALAXYLAB_DATA, else the checkout's data/, else ~/.cache/galaxylab.

    Created when missing; a path that cannot be a folder (a file, under /proc, not writable)
    raises one GalaxyLabError naming it (and GALAXYLAB_DATA when that chose it).
    """
    chosen = bool(os.environ.get(DATA_ENV))
    if chosen:
        path = Path(os.environ[DATA_ENV]).expanduser()
    else:
        checkout = Path(__file__).resolve().parents[1]
        if (checkout / "pyproject.toml").exists() and (checkout / "data").is_dir():
            path = checkout / "data"
        else:
            path = Path.home() / ".cache" / "galaxylab"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        where = f"{DATA_ENV}={path}" if chosen else f"the data folder {path}"
        fix = f"point {DATA_ENV} at a folder you can write" if chosen else f"set {DATA_ENV}"
        raise GalaxyLabError(
            f"{where} cannot be used as the data folder ({error.strerror or error}); {fix}"
        ) from error
    return path


def quick_mode() -> bool:
    """True when ``GALAXYLAB_QUICK`` is set to a true value: small data and few epochs, for CI."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def setup() -> None:
    """Prepare a notebook kernel: import TensorFlow without its start-up noise and keep its
    Python-level warnings (such as retracing notices) out of cells.

    Call it before importing keras or TensorFlow yourself; calling it again does nothing.
    """
    from galaxylab import backend

    backend.import_tensorflow_quietly()
    backend.quiet_python_warnings()


# --------------------------------------------------------------------------- lesson settings


@dataclass(frozen=True)
class Lesson:
    """Image size, epochs, batch size and seed the course notebooks train with."""

    image_size: int
    epochs: int
    batch_size: int = 32
    seed: int = 0


#: Quick mode (CI): tiny images and two epochs, so every notebook runs in well under a minute.
QUICK_LESSON = Lesson(image_size=32, epochs=2)
#: Default mode: 48-pixel crops and 6 epochs keep a notebook's training to a few minutes on a
#: two-core laptop (64 px doubles the cost of every epoch).
FULL_LESSON = Lesson(image_size=48, epochs=6)


def lesson() -> Lesson:
    """The settings for the current mode: QUICK_LESSON when GALAXYLAB_QUICK is on, else FULL."""
    return QUICK_LESSON if quick_mode() else FULL_LESSON


# --------------------------------------------------------------------------- the catalog


def _source_path(src: str | os.PathLike[str]) -> Path:
    """A source argument as a path: a built-in sample's folder for its bare name."""
    from galaxylab.datasets.samples import resolve_source

    return resolve_source(src).expanduser()


def source() -> Path | None:
    """The real data source named by ``$GALAXYLAB_SOURCE`` (a path or a built-in sample's
    name), or None for the synthetic universe."""
    value = os.environ.get(SOURCE_ENV, "").strip()
    return _source_path(value) if value else None


def catalog(src: str | os.PathLike[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """The course catalog: ``src`` if given (a path, or a built-in name such as "gz1-desi"),
    else $GALAXYLAB_SOURCE, else the synthetic universe.

    In quick mode a real catalog larger than QUICK_REAL_LIMIT is cut to a random sample of that
    size (fixed by ``seed``), keeping its ``attrs``.
    """
    from galaxylab import datasets

    if src is not None and not str(src).strip():
        raise GalaxyLabError("no data source given (the path is empty)")
    chosen = _source_path(src) if src is not None else source()
    if chosen is None:
        return datasets.load_default()
    table = datasets.load(chosen)
    if quick_mode() and len(table) > QUICK_REAL_LIMIT:
        attrs = dict(table.attrs)
        table = table.sample(n=QUICK_REAL_LIMIT, random_state=seed).sort_index()
        table.attrs.update(attrs)
    return table


#: The layouts of a user's own data that can stand in for each built-in sample in the lessons:
#: the GZ1 lessons read GZ1 columns, the Kaggle-sample lessons read the 37 tree columns.
STANDS_IN_FOR: dict[str, tuple[str, ...]] = {
    "gz1-desi": ("gz1",),
    "kaggle-sample": ("kaggle", "gz2"),
}


def real_catalog(sample: str, seed: int = 0) -> pd.DataFrame:
    """Real galaxies for a lesson: the user's own data when $GALAXYLAB_SOURCE names a source of
    the same kind (see STANDS_IN_FOR), else the built-in real sample ``sample`` ("gz1-desi" or
    "kaggle-sample"), cut in quick mode as :func:`catalog` cuts every real catalog."""
    from galaxylab.datasets.samples import BUILTIN_SOURCES

    if sample not in BUILTIN_SOURCES:
        raise GalaxyLabError(
            f"no built-in sample {sample!r}; choose one of {', '.join(BUILTIN_SOURCES)}"
        )
    own = source()
    if own is not None:
        table = catalog(own, seed=seed)
        kind = table.attrs.get("source")
        if kind in STANDS_IN_FOR[sample]:
            return table
        print(
            f"{SOURCE_ENV} is a {kind} source; this lesson needs a "
            f"{' or '.join(STANDS_IN_FOR[sample])} source, so it uses the built-in {sample}"
        )
    return catalog(sample, seed=seed)


def truth(catalog: pd.DataFrame) -> pd.DataFrame | None:
    """The synthetic universe's truth.csv aligned row by row to ``catalog`` (an ``id`` column
    first), or None when the catalog does not come from a folder with a truth table.

    Columns: the true parameters, ``true_<column>`` (a perfect observer's answers) and
    ``expected_<column>`` (an infinite crowd's vote fractions).
    """
    from galaxylab.datasets.kaggle import TRUTH_CSV

    root = catalog.attrs.get("root")
    path = Path(root) / TRUTH_CSV if root else None
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


def truth_labels(truth: pd.DataFrame, prefix: str = "expected_") -> pd.DataFrame:
    """The truth table's noise-free label columns as a catalog-like frame (``id`` + 37 columns).

    ``prefix="expected_"``: the vote fractions of an infinite crowd of the same volunteers;
    ``"true_"``: a perfect observer's answers (0 or 1 along the galaxy's true path).
    """
    from galaxylab import tree

    wanted = [f"{prefix}{c}" for c in tree.COLUMNS]
    missing = [c for c in wanted if c not in truth.columns]
    if missing:
        raise GalaxyLabError(f"truth table has no {missing[0]} column (prefix {prefix!r})")
    frame = truth[wanted].copy()
    frame.columns = list(tree.COLUMNS)
    if "id" in truth.columns:
        frame.insert(0, "id", truth["id"].astype(str).to_numpy())
    return frame.reset_index(drop=True)


def environment() -> dict[str, object]:
    """Versions, devices and settings a student (or an instructor helping one) needs to see.

    Imports TensorFlow, so it takes a few seconds the first time.
    """
    import keras
    import matplotlib
    import numpy
    import tensorflow as tf

    from galaxylab import backend

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "matplotlib": matplotlib.__version__,
        "cpu_cores": os.cpu_count(),
        "gpus": [gpu.name for gpu in backend.gpus()],
        "data_dir": str(data_dir()),
        "quick_mode": quick_mode(),
        "source": str(source()) if source() else "synthetic universe (offline default)",
    }
