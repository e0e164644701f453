"""Figures for the course, split by subject; import them from here (``plots.gallery``).

- :mod:`~galaxylab.plots.data`: a catalog's labels (class balance, vote fractions, label noise);
- :mod:`~galaxylab.plots.tree`: the decision tree and a volunteer's path through it;
- :mod:`~galaxylab.plots.images`: galleries of galaxies, predictions and saliency maps;
- :mod:`~galaxylab.plots.training`: training curves;
- :mod:`~galaxylab.plots.evaluation`: confusion matrices, scores and robustness;
- :mod:`~galaxylab.plots.common`: axis labels and helpers the others share.

Every function returns the matplotlib Figure it drew, with a title and axis labels with units.
"""

from galaxylab.plots.common import COUNT_LABEL, FRACTION_LABEL, pick, to_png
from galaxylab.plots.data import (
    answer_counts,
    channel_histograms,
    class_balance,
    correlation_heatmap,
    threshold_curve,
    tree_dependence,
    truth_vs_votes,
    vote_distributions,
)
from galaxylab.plots.evaluation import (
    confusion_heatmaps,
    crosstab_heatmap,
    prediction_scatter,
    robustness_figure,
    score_bars,
    threshold_scatter,
    tree_sum_figure,
)
from galaxylab.plots.images import (
    answer_gallery,
    gallery,
    mistake_gallery,
    outcome_gallery,
    perturbation_gallery,
    saliency_figure,
)
from galaxylab.plots.training import learning_curve, training_curves
from galaxylab.plots.tree import path_votes, tree_diagram

__all__ = [
    "COUNT_LABEL",
    "FRACTION_LABEL",
    "answer_counts",
    "answer_gallery",
    "channel_histograms",
    "class_balance",
    "confusion_heatmaps",
    "correlation_heatmap",
    "crosstab_heatmap",
    "gallery",
    "learning_curve",
    "mistake_gallery",
    "outcome_gallery",
    "path_votes",
    "perturbation_gallery",
    "pick",
    "prediction_scatter",
    "robustness_figure",
    "saliency_figure",
    "score_bars",
    "threshold_curve",
    "threshold_scatter",
    "to_png",
    "training_curves",
    "tree_dependence",
    "tree_diagram",
    "tree_sum_figure",
    "truth_vs_votes",
    "vote_distributions",
]
