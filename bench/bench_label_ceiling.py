"""How much of the three-class labels an image model could possibly learn on the universe.

A gradient-boosted classifier (scikit-learn, 5-fold cross-validation) predicts the volunteers'
spiral / elliptical / unsure class from the simulator's true parameters: once from the visible
ones only (what an image can show), once with the latent ones added (ambiguity, impression),
beside the majority-class baseline. The gap between a CNN and the first row is what the
network still misses; the gap between the rows and 1.0 is label noise no model can remove.

    .venv/bin/python bench/bench_label_ceiling.py                 # the default 4000-galaxy universe
    .venv/bin/python bench/bench_label_ceiling.py --data DIR      # any universe with truth.csv
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import cross_val_predict

from galaxylab import course, datasets, labels

VISIBLE = [
    "flux",
    "inclination",
    "axis_ratio",
    "sersic_n",
    "r_eff",
    "bulge_fraction",
    "disk_scale",
    "bar",
    "bar_strength",
    "n_arms",
    "arm_strength",
    "pitch_angle",
    "ring_strength",
    "dust_lane",
    "disturbance",
    "irregular",
    "merger",
    "surface_brightness",
    "psf_sigma",
    "clarity",
]
LATENT = ["ambiguity", "impression"]


def main() -> None:
    """Print cross-validated accuracy and macro-F1 for each feature set and the baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="a universe folder (default: built-in)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    catalog = datasets.load(args.data or datasets.universe_folder(n=4000, seed=args.seed))
    truth = course.truth(catalog)
    if truth is None:
        raise SystemExit(f"{catalog.attrs.get('root')}: no truth.csv (not a synthetic universe)")
    y = labels.three_class(catalog).astype(str).to_numpy()
    shares = pd.Series(y).value_counts(normalize=True)
    print(
        f"{len(y)} galaxies from {catalog.attrs.get('root')}; class shares "
        + ", ".join(f"{k} {v:.3f}" for k, v in shares.items())
    )
    majority = np.full_like(y, shares.idxmax())
    print(
        f"{'majority class':28s} accuracy {accuracy_score(y, majority):.3f}   "
        f"macro-F1 {f1_score(y, majority, average='macro'):.3f}"
    )
    for name, columns in (
        ("visible parameters", VISIBLE),
        ("visible + latent parameters", VISIBLE + LATENT),
    ):
        features = truth[columns].apply(pd.to_numeric, errors="coerce").fillna(0.0)
        model = HistGradientBoostingClassifier(random_state=args.seed)
        predicted = cross_val_predict(model, features.to_numpy(float), y, cv=5)
        print(
            f"{name:28s} accuracy {accuracy_score(y, predicted):.3f}   "
            f"macro-F1 {f1_score(y, predicted, average='macro'):.3f}"
        )


if __name__ == "__main__":
    main()
