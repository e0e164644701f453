"""Notebook 05's self-checks accept right answers and reject typical wrong ones (no training)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from galaxylab.checks import NotYet
from galaxylab.checks import further as check

LEVELS = [0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2]


def _curve(scores):
    return pd.DataFrame({"level": LEVELS, "score": scores})


def test_noise_advantage_reads_both_levels_off_the_curve(capsys):
    curve = _curve([0.8, 0.78, 0.7, 0.5, 0.35, 0.3, 0.29])  # baseline 0.3: half-way is 0.55
    assert check.noise_advantage(0.05, 0.15, curve, 0.3)
    assert capsys.readouterr().out.startswith("✓")
    never = _curve([0.8, 0.78, 0.7, 0.6, 0.5, 0.45, 0.4])
    assert check.noise_advantage(0.1, math.inf, never, 0.3)


@pytest.mark.parametrize(
    ("half", "gone", "hint"),
    [
        (0.02, 0.15, "half_sigma"),  # the last level still above the half-way mark
        (0.05, 0.1, "all_sigma"),  # a level where it is still above the baseline
        (0.05, 0.2, "all_sigma"),  # not the first such level
    ],
)
def test_noise_advantage_rejects_misread_levels(half, gone, hint):
    curve = _curve([0.8, 0.78, 0.7, 0.5, 0.35, 0.3, 0.29])
    with pytest.raises(NotYet, match=hint):
        check.noise_advantage(half, gone, curve, 0.3)


def test_noise_advantage_rejects_a_coarse_curve_or_a_wrong_baseline():
    coarse = pd.DataFrame({"level": [0.0, 0.1, 0.2], "score": [0.8, 0.5, 0.3]})
    with pytest.raises(NotYet, match="five noise levels"):
        check.noise_advantage(0.1, 0.2, coarse, 0.3)
    with pytest.raises(NotYet, match="baseline"):  # e.g. the baseline's accuracy, not macro-F1
        check.noise_advantage(0.05, 0.15, _curve([0.8, 0.78, 0.7, 0.5, 0.35, 0.3, 0.29]), 0.85)
    with pytest.raises(NotYet, match="robustness_curve"):
        check.noise_advantage(0.05, 0.15, [0.8, 0.5], 0.3)


@pytest.fixture(scope="module")
def universe_like():
    import keras

    from galaxylab import models

    keras.utils.set_random_seed(0)
    return models.three_class_cnn((16, 16, 3))


def _y_and_pred():
    y = np.array([0, 1, 2, 1, 1, 0, 2, 1])
    pred = np.array([0, 1, 1, 1, 1, 0, 2, 1])
    return y, pred


def test_frozen_backbone_accepts_a_frozen_network(universe_like, capsys):
    from galaxylab import metrics

    for layer in universe_like.layers[:-1]:
        layer.trainable = False
    y, pred = _y_and_pred()
    score = metrics.classification_summary(y, pred)["macro_f1"]
    assert check.frozen_backbone(universe_like, pred, score, y)
    assert capsys.readouterr().out.startswith("✓")


def test_frozen_backbone_rejects_a_trainable_backbone_or_a_wrong_score(universe_like):
    from galaxylab import metrics

    y, pred = _y_and_pred()
    score = metrics.classification_summary(y, pred)["macro_f1"]
    for layer in universe_like.layers:
        layer.trainable = True
    with pytest.raises(NotYet, match="still trainable"):
        check.frozen_backbone(universe_like, pred, score, y)
    for layer in universe_like.layers:
        layer.trainable = False
    with pytest.raises(NotYet, match="Nothing in the model can learn"):
        check.frozen_backbone(universe_like, pred, score, y)
    universe_like.layers[-1].trainable = True
    accuracy = float(np.mean(pred == y))  # a typical slip: the accuracy instead of macro-F1
    assert abs(accuracy - score) > 0.01
    with pytest.raises(NotYet, match="macro-F1"):
        check.frozen_backbone(universe_like, pred, accuracy, y)
    with pytest.raises(NotYet, match="one class per held-out galaxy"):
        check.frozen_backbone(universe_like, pred[:3], score, y)
