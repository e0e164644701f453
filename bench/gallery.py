"""Save one PNG that puts synthetic galaxies beside real Galaxy Zoo ones, grouped by type.

Usage: python bench/gallery.py [OUT.png] [--seed S] [--real DIR]
Real examples are the sample's galaxies with the strongest votes for each type (only the 17
columns of the sample are known, so spirals and barred spirals share "face-on disk" examples);
synthetic examples are picked by their true parameters. Each tile is the central 212x212 of the
image (424 px for the universe, 256 px in the built-in kaggle-sample), at full resolution, so
anyone can judge realism by eye.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from galaxylab import simulate  # noqa: E402
from galaxylab.datasets import resolve_source  # noqa: E402
from galaxylab.simulate.morphology import GalaxyParams  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REAL = resolve_source("kaggle-sample")  # the built-in sample
PER_SIDE = 4
TILE = 212

Wanted = Callable[[GalaxyParams], bool]


def _odd(feature: str) -> Wanted:
    return lambda p: p.odd_feature == feature


#: row title, how to rank real galaxies (a score from the 17 known columns), and a synthetic
#: filter (or one filter per tile)
ROWS: list[tuple[str, Callable[[pd.DataFrame], pd.Series], Wanted | list[Wanted]]] = [
    (
        "smooth, round",
        lambda d: d["Class7.1"],
        lambda p: p.galaxy_type == "elliptical" and p.axis_ratio >= 0.8 and not p.odd_feature,
    ),
    (
        "smooth, in between",
        lambda d: d["Class7.2"],
        lambda p: p.galaxy_type == "elliptical" and 0.45 < p.axis_ratio < 0.7,
    ),
    (
        "smooth, cigar",
        lambda d: d["Class7.3"],
        lambda p: p.galaxy_type == "elliptical" and p.axis_ratio <= 0.45,
    ),
    ("edge-on disk", lambda d: d["Class2.1"], lambda p: p.edge_on),
    (
        "spiral (real: face-on disk)",
        lambda d: d["Class2.2"],
        lambda p: p.galaxy_type == "disk" and p.n_arms > 0 and not p.bar and p.inclination < 60,
    ),
    (
        "barred spiral (real: face-on disk)",
        lambda d: d["Class2.2"].rank() % 97,
        lambda p: p.galaxy_type == "disk" and p.bar and p.n_arms > 0 and p.inclination < 60,
    ),
    (
        "odd: merger / ring / disturbed / irregular",
        lambda d: d["Class6.1"],
        [_odd("merger"), _odd("ring"), _odd("disturbed"), _odd("irregular")],
    ),
    (
        "odd: lens / dust lane / other / merger",
        lambda d: d["Class6.1"].rank() % 89,
        [_odd("lens"), _odd("dust_lane"), _odd("other"), _odd("merger")],
    ),
    ("star / artifact", lambda d: d["Class1.3"], lambda p: bool(p.artifact)),
]


def pick_synthetic(seed: int, limit: int = 20000) -> list[list[int]]:
    """Indices of the first PER_SIDE galaxies of each row's kind in the universe ``seed``."""
    picks: list[list[int]] = [[] for _ in ROWS]
    for index in range(limit):
        params = simulate.galaxy_params(index, seed)
        for row, (_, _, wanted) in enumerate(ROWS):
            slot = len(picks[row])
            test = wanted[min(slot, len(wanted) - 1)] if isinstance(wanted, list) else wanted
            if slot < PER_SIDE and test(params):
                picks[row].append(index)
                break
        if all(len(p) == PER_SIDE for p in picks):
            break
    return picks


def main() -> None:
    """Draw the grid: real galaxies left, synthetic right, one row per type."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "bench" / "out" / "gallery.png"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", default=str(REAL))
    args = parser.parse_args()
    real_dir = Path(args.real)
    table = pd.read_csv(real_dir / "training_solutions_rev1.csv").set_index("GalaxyID")
    picks = pick_synthetic(args.seed)
    fig, axes = plt.subplots(
        len(ROWS), 2 * PER_SIDE, figsize=(2 * PER_SIDE * 2.0, len(ROWS) * 2.15)
    )
    for row, (title, score, _) in enumerate(ROWS):
        best = score(table).sort_values(ascending=False).index[:PER_SIDE]
        for col in range(2 * PER_SIDE):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col < PER_SIDE:
                gid = best[col]
                image = np.asarray(Image.open(real_dir / "images_training_rev1" / f"{gid}.jpg"))
                ax.set_title(f"real {gid}", fontsize=7)
            elif col - PER_SIDE < len(picks[row]):
                g = simulate.make_galaxy(picks[row][col - PER_SIDE], args.seed)
                image = g.image
                p = g.params
                shape = (
                    f"{p.n_arms} arms {p.pitch_angle:.0f}°" if p.n_arms else f"q={p.axis_ratio:.2f}"
                )
                detail = p.odd_feature or p.artifact or shape
                ax.set_title(f"sim {g.galaxy_id} {detail}", fontsize=7)
            else:
                ax.axis("off")
                continue
            top, left = (image.shape[0] - TILE) // 2, (image.shape[1] - TILE) // 2
            ax.imshow(image[top : top + TILE, left : left + TILE])
            if col == 0:
                ax.set_ylabel(title, fontsize=8)
    fig.suptitle(
        "Real Galaxy Zoo (left 4) vs galaxylab synthetic (right 4), central 212 px", fontsize=11
    )
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"saved {out}")


if __name__ == "__main__":
    main()
