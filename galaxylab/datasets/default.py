"""The offline default data: a synthetic universe in the Kaggle layout, built once per (n, seed).

Nothing in the course needs the network: the first call builds
``course.data_dir()/"universe-v{UNIVERSE_VERSION}-n{n}-seed{seed}"`` with
:func:`galaxylab.simulate.write_universe` (deterministic for a seed, written atomically), later
calls reuse it. Quick mode
(``GALAXYLAB_QUICK=1``) picks a small universe for CI.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from galaxylab import course
from galaxylab.datasets.kaggle import LABELS_CSV, TRUTH_CSV
from galaxylab.errors import GalaxyLabError

#: Raised whenever the simulator's output changes, so a universe cached by an older galaxylab
#: is built afresh rather than reused.
UNIVERSE_VERSION = 3
DEFAULT_N = 4000
QUICK_N = 600
#: Files whose presence marks a finished universe (written last by the simulator's rename).
COMPLETE_MARKERS: tuple[str, ...] = (LABELS_CSV, TRUTH_CSV)


def default_size() -> int:
    """How many galaxies the default universe holds: 4000, or 600 in quick mode."""
    return QUICK_N if course.quick_mode() else DEFAULT_N


def universe_path(n: int | None = None, seed: int = 0) -> Path:
    """Where the default universe for ``n`` galaxies and ``seed`` lives (built or not)."""
    n = default_size() if n is None else n
    if n <= 0:
        raise GalaxyLabError(f"the universe needs a positive number of galaxies, got {n}")
    return course.data_dir() / f"universe-v{UNIVERSE_VERSION}-n{n}-seed{seed}"


def universe_is_complete(path: Path) -> bool:
    """True when ``path`` holds a finished universe (labels and truth tables present)."""
    return all((path / name).is_file() for name in COMPLETE_MARKERS)


def universe_folder(n: int | None = None, seed: int = 0, *, progress: bool = True) -> Path:
    """The default universe's folder, built with the simulator on first use, then reused."""
    path = universe_path(n, seed)
    if universe_is_complete(path):
        return path
    from galaxylab import simulate

    size = default_size() if n is None else n
    # A non-empty but unfinished folder can only be debris of an older build: replace it.
    leftover = path.exists() and any(path.iterdir())
    try:
        simulate.write_universe(n=size, out=path, seed=seed, overwrite=leftover, progress=progress)
    except GalaxyLabError:
        if not universe_is_complete(path):  # another process may have finished it first
            raise
    return path


def load_default(n: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The default universe as a catalog, built on first use: ``load(universe_folder(n, seed))``."""
    from galaxylab.datasets import load

    return load(universe_folder(n, seed))
