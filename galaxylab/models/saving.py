"""Saving a trained model for use, and loading a saved ``.keras`` model with the package's
custom layers, loss and metric known."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import keras

import galaxylab.models.layers  # noqa: F401 - registers the custom layers for safe loading
import galaxylab.models.losses  # noqa: F401 - registers the masked loss and metric
from galaxylab.errors import GalaxyLabError


def load_model(model_path: str | os.PathLike) -> keras.Model:
    """Load a saved ``.keras`` model (custom galaxylab layers included) or raise GalaxyLabError.

    A ``.keras`` file is a zip archive; anything else (a truncated copy, another file under
    that name) is reported as such, since Keras would call it "not found".
    """
    path = Path(model_path)
    if not path.is_file():
        raise GalaxyLabError(f"{path}: model file not found (is {path.parent} a complete run?)")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise GalaxyLabError(
            f"{path}: cannot be read as a Keras model (not a zip archive / truncated, "
            f"{path.stat().st_size} bytes)"
        )
    try:
        return keras.saving.load_model(path)
    except Exception as error:  # noqa: BLE001 - any failure here means an unusable file
        first = " ".join(str(error).split())[:200]
        raise GalaxyLabError(f"{path}: cannot be read as a Keras model ({first})") from error


def _float32_policies(config: Any) -> Any:
    """``config`` with every mixed dtype policy (bfloat16 or float16 compute) set to float32."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":
            name = config.get("config", {}).get("name", "")
            if name.startswith("mixed_"):
                return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: _float32_policies(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_float32_policies(item) for item in config]
    return config


def _keras_batchnorm(config: Any) -> Any:
    """``config`` with every FusedBatchNormalization named as Keras' own BatchNormalization."""
    if isinstance(config, dict):
        if config.get("registered_name") == "galaxylab>FusedBatchNormalization":
            config = {
                **config,
                "module": "keras.layers",
                "class_name": "BatchNormalization",
                "registered_name": None,
            }
        return {key: _keras_batchnorm(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_keras_batchnorm(item) for item in config]
    return config


def with_keras_batchnorm(model: keras.Model) -> keras.Model:
    """An uncompiled copy of ``model`` with its weights and Keras' own (unfused) BatchNorm
    layers: the same network, as plain Keras builds it (and as the benchmarks compare it)."""
    copy = model.__class__.from_config(_keras_batchnorm(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def portable_copy(model: keras.Model) -> keras.Model:
    """An uncompiled copy of ``model`` with its weights, computing in float32 throughout, its
    BatchNorm layers Keras' own.

    Mixed precision keeps float32 weights and only computes in bfloat16 or float16, so the copy
    holds the same numbers; it predicts alike on every machine, where a kept bfloat16 policy
    would be emulated (and slow) on a CPU without bfloat16 units, and float16 on any CPU. The
    fused BatchNorm only trains faster, so a saved model needs no layer of the package for it.
    """
    config = _keras_batchnorm(_float32_policies(model.get_config()))
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def save_for_use(model: keras.Model, path: str | os.PathLike) -> None:
    """Save ``model``'s architecture and weights, in float32, without its optimizer's state.

    Adam keeps two numbers per weight, so a trained model saved with them is three times the
    size; predicting, evaluating and fine-tuning (which compiles afresh) need none of them.
    """
    portable_copy(model).save(path)
