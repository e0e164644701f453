"""What every figure module shares: axis labels with units, new axes, picking rows, PNG output.

Every plotting function of the package returns the matplotlib Figure it drew (and takes an
optional ``ax`` where one panel is enough), so notebooks can show, save or restyle it, and every
figure carries a title and axis labels with units.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from galaxylab import tree
from galaxylab.errors import GalaxyLabError

FRACTION_LABEL = "vote fraction (cumulative, 0–1)"


COUNT_LABEL = "galaxies (count)"


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new figure of ``figsize`` inches with one panel."""
    if ax is not None:
        return ax.get_figure(root=True), ax  # type: ignore[return-value]
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def label_columns(catalog: pd.DataFrame, columns: Sequence[str] | None = None) -> list[str]:
    """The requested label columns, or every one of the 37 the catalog carries."""
    if columns is None:
        columns = [c for c in tree.COLUMNS if c in catalog.columns]
    columns = list(columns)
    missing = [c for c in columns if c not in catalog.columns]
    if missing:
        raise GalaxyLabError(f"catalog has no column(s) {', '.join(missing)}")
    if not columns:
        raise GalaxyLabError("catalog carries none of the 37 Galaxy Zoo label columns")
    return columns


def short(column: str) -> str:
    """``Class4.1`` → ``4.1``: compact tick labels."""
    return column.removeprefix("Class")


def pick(catalog: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows drawn without replacement by ``seed`` (all rows, in order, if there are fewer)."""
    if len(catalog) <= n:
        return catalog
    return catalog.sample(n=n, random_state=seed)


def panel_grid(
    n: int, ncols: int, panel: tuple[float, float], extra_height: float = 0.5
) -> tuple[Figure, np.ndarray]:
    """A figure with room for ``n`` panels in rows of at most ``ncols``, each ``panel`` inches
    (width, height), plus ``extra_height`` inches for a suptitle; axes as a 2-D array."""
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        squeeze=False,
        layout="constrained",
        figsize=(panel[0] * ncols, panel[1] * nrows + extra_height),
    )
    return fig, axes


def to_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes and close it (widgets show figures as images)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def empty_panel(ax: Axes, text: str = "") -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if text:
        ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
