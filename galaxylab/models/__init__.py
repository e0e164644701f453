"""The course's networks: three-class CNN, 37-output regressor, decision-tree layer, transfer,
the masked loss for vote fractions, and loading saved models.

Import from here (``from galaxylab.models import build, DecisionTreeOutput``); importing the
package also registers the custom layers, loss and metric, so saved models load with
``safe_mode=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from galaxylab.choices import TASKS
from galaxylab.errors import GalaxyLabError
from galaxylab.models.cnn import DEFAULT_SHAPE, three_class_cnn, tree_regressor
from galaxylab.models.layers import DecisionTreeOutput, ImagenetPreprocess
from galaxylab.models.losses import MaskedMSE, MaskedRMSE, masked_mse
from galaxylab.models.saving import load_model
from galaxylab.models.transfer import (
    BACKBONES,
    fetch_imagenet_weights,
    imagenet_weights_path,
    transfer_model,
)

__all__ = [
    "BACKBONES",
    "DecisionTreeOutput",
    "ImagenetPreprocess",
    "MaskedMSE",
    "MaskedRMSE",
    "build",
    "fetch_imagenet_weights",
    "imagenet_weights_path",
    "load_model",
    "masked_mse",
    "three_class_cnn",
    "transfer_model",
    "tree_regressor",
]


def build(task: str, input_shape: Sequence[int] = DEFAULT_SHAPE, **kwargs: Any) -> keras.Model:
    """The model for ``task`` ("three-class" or "decision-tree"): the one place the trainer calls.

    With ``backbone=...`` in ``kwargs`` it is :func:`transfer_model`; otherwise
    :func:`three_class_cnn` or :func:`tree_regressor`, which receive the remaining ``kwargs``.
    A backbone brings its own input scaling, so ``normalization`` and ``architecture`` are
    ignored there.
    """
    if task not in TASKS:
        raise GalaxyLabError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    backbone = kwargs.pop("backbone", None)
    if backbone is not None:
        # a backbone scales its inputs the way it was trained (ImagenetPreprocess), so the
        # dataset-statistics Normalization the course's own networks take does not apply
        kwargs.pop("normalization", None)
        kwargs.pop("architecture", None)
        return transfer_model(backbone, input_shape, task=task, **kwargs)
    if task == "three-class":
        return three_class_cnn(input_shape, **kwargs)
    return tree_regressor(input_shape, **kwargs)
