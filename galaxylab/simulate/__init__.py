"""The offline default data: a synthetic universe of galaxies with known truth.

Galaxies are sampled from a Galaxy Zoo-like type mix (morphology), their light modelled
component by component (light), rendered like SDSS gri composites (render), labelled by
simulated volunteers walking the decision tree (volunteers) and written in the Kaggle
challenge layout (writer)::

    from galaxylab import simulate
    simulate.write_universe(n=4000, out="data/universe", seed=0)
    g = simulate.make_galaxy(7, seed=0, n=4000)  # the same galaxy 100007, in memory
"""

from __future__ import annotations

from galaxylab.simulate.morphology import TYPE_MIX, GalaxyParams, sample_params
from galaxylab.simulate.render import IMAGE_SIZE, SkyBank, render_galaxy
from galaxylab.simulate.volunteers import (
    answer_probabilities,
    expected_labels,
    true_labels,
    vote,
)
from galaxylab.simulate.writer import (
    FIRST_ID,
    IMAGES_DIR,
    LABELS_FILE,
    TRUTH_FILE,
    Galaxy,
    galaxy_params,
    make_galaxy,
    write_universe,
)

__all__ = [
    "FIRST_ID",
    "IMAGES_DIR",
    "IMAGE_SIZE",
    "LABELS_FILE",
    "TRUTH_FILE",
    "TYPE_MIX",
    "Galaxy",
    "GalaxyParams",
    "SkyBank",
    "answer_probabilities",
    "expected_labels",
    "galaxy_params",
    "make_galaxy",
    "render_galaxy",
    "sample_params",
    "true_labels",
    "vote",
    "write_universe",
]
