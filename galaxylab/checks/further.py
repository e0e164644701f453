"""Self-checks for notebook 05 (going further): one function per "Your turn" exercise.

from galaxylab.checks import further as check
check.noise_advantage(half_sigma, all_sigma, curve, baseline)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from galaxylab.checks import close, passed, require


def _crossing(curve: pd.DataFrame, threshold: float) -> float:
    """The first level whose score is at or below ``threshold`` (inf when none is)."""
    below = curve.loc[curve["score"] <= threshold, "level"]
    return float(below.min()) if len(below) else math.inf


def _same_level(value: Any, expected: float) -> bool:
    if math.isinf(expected):
        try:
            return math.isinf(float(value)) or value is None
        except (TypeError, ValueError):
            return value is None
    return close(value, expected, 1e-9)


def noise_advantage(half_sigma: Any, all_sigma: Any, curve: pd.DataFrame, baseline: float) -> bool:
    """Your turn 1: the noise levels where the classifier has lost half of, and all of, its
    advantage over the majority baseline, read from the student's own noise curve.

    ``curve`` has columns ``level`` and ``score`` (macro-F1, from ``explain.robustness_curve``)
    and starts at the clean images (level 0); a level never reached is ``math.inf``.
    """
    require(
        isinstance(curve, pd.DataFrame) and {"level", "score"} <= set(curve.columns),
        "curve should be the frame explain.robustness_curve returns (columns level and score).",
    )
    curve = curve.sort_values("level")
    require(
        len(curve) >= 6 and float(curve["level"].iloc[0]) == 0.0,
        "Measure the curve at the clean images (σ = 0) and at least five noise levels.",
    )
    clean = float(curve["score"].iloc[0])
    require(
        clean > baseline,
        "The clean score should beat the majority baseline: is the baseline the macro-F1 of "
        "always answering the commonest training class?",
    )
    half = _crossing(curve, clean - (clean - baseline) / 2)
    gone = _crossing(curve, baseline)
    require(
        _same_level(half_sigma, half),
        "half_sigma is not the first level on your curve whose macro-F1 has fallen at least "
        "halfway from the clean score to the baseline.",
    )
    require(
        _same_level(all_sigma, gone),
        "all_sigma is not the first level on your curve whose macro-F1 is at or below the "
        "baseline (use math.inf if no level gets there).",
    )
    return passed(
        "Right: you read both levels off your own measurement, so whatever you write about "
        "them is what the curve shows."
    )


def frozen_backbone(
    model: Any, predictions: Sequence[int] | np.ndarray, score: Any, y_true: np.ndarray
) -> bool:
    """Your turn 2: a copy of the universe network with everything but the last Dense layer
    frozen, trained on real labels; ``predictions`` are its classes for the held-out galaxies
    and ``score`` their macro-F1."""
    from galaxylab import metrics

    layers = list(getattr(model, "layers", []))
    require(bool(layers), "model should be the Keras model you trained.")
    trainable = [layer for layer in layers if layer.trainable_weights]
    require(
        len(trainable) >= 1,
        "Nothing in the model can learn: leave the last Dense layer (the head) trainable.",
    )
    convs = [layer for layer in layers if "conv" in type(layer).__name__.lower()]
    require(
        bool(convs) and not any(layer.trainable for layer in convs),
        "Some convolution layers are still trainable: freeze the whole backbone.",
    )
    n_trained = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    require(
        0 < n_trained < model.count_params() / 10,
        "Too many weights are still trainable: only the small head should learn.",
    )
    predictions = np.asarray(predictions)
    require(
        len(predictions) == len(y_true),
        f"predictions should hold one class per held-out galaxy ({len(y_true)}).",
    )
    expected = metrics.classification_summary(y_true, predictions)["macro_f1"]
    require(
        close(score, expected, 1e-6),
        "score is not the macro-F1 of your predictions against the held-out labels.",
    )
    return passed(
        f"Right: with only {n_trained:,} weights learning, the frozen network scores "
        f"macro-F1 {float(score):.3f}."
    )


__all__ = ["frozen_backbone", "noise_advantage"]
