"""Scoring a trained model: ``galaxylab evaluate`` and the challenge submission file.

:func:`evaluate` loads a RUN's model and reads the preprocessing from the ``config.json``
beside it (falling back to the model's input shape), so images are prepared exactly as in
training. When the data is the run's own training source, only the held-out test galaxies are
scored (``"split": "test"``): scoring images the model trained on would flatter it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from galaxylab import labels, runs, tasks, tree
from galaxylab._quiet import import_tensorflow_quietly
from galaxylab.errors import GalaxyLabError

if TYPE_CHECKING:
    import keras

# TensorFlow (keras, galaxylab.metrics, galaxylab.pipeline) is imported inside the functions
# that need it, so a bad --model or --data path fails before the slow import.

SPLITS = ("auto", "test", "all")


def predict(model: keras.Model, catalog: pd.DataFrame, *, tta: bool = False,
            batch_size: int = 64, **image_opts: Any) -> np.ndarray:
    """The model's outputs for every catalog row, streamed; ``tta`` averages the 8 dihedral
    views of each image (read from disk once: the views of a batch go through the model
    together)."""
    import tensorflow as tf

    from galaxylab import metrics, pipeline

    dataset = pipeline.make_dataset(catalog, batch_size=batch_size, **image_opts)
    if not tta:
        return model.predict(dataset, verbose=0)
    out = []
    for images in dataset:
        views = tf.concat(metrics.dihedral_views(images), axis=0)
        prediction = np.asarray(model.predict_on_batch(views))
        out.append(prediction.reshape(len(metrics.DIHEDRAL), len(images), -1).mean(axis=0))
    return np.concatenate(out)


def baseline(task: str, train_targets: np.ndarray) -> dict:
    """What the dummy predictor learns from the training targets (JSON-ready).

    three-class: the majority class; decision-tree: each column's training mean (None where
    no training galaxy knows the column).
    """
    from galaxylab import metrics

    if task == "three-class":
        majority = int(metrics.majority_baseline(np.asarray(train_targets), 1)[0])
        return {"majority_class": labels.THREE_CLASSES[majority]}
    y = np.asarray(train_targets, dtype=np.float64)
    means = metrics.mean_baseline(y, y[:1])[0]
    known = ~np.isnan(y).all(axis=0)
    return {"mean": {c: float(means[i]) if known[i] else None
                     for i, c in enumerate(tree.COLUMNS)}}


def _baseline_scores(task: str, y_true: np.ndarray, base: dict | None) -> dict:
    from galaxylab import metrics

    if not base:
        return {}
    if task == "three-class":
        majority = labels.THREE_CLASSES.index(base["majority_class"])
        summary = metrics.classification_summary(
            y_true, np.full(len(y_true), majority), labels.THREE_CLASSES)
        return {"baseline_accuracy": summary["accuracy"], "baseline_macro_f1": summary["macro_f1"]}
    means = np.array([np.nan if base["mean"].get(c) is None else base["mean"][c]
                      for c in tree.COLUMNS])
    columns = metrics.scored_columns(y_true)
    if any(np.isnan(means[tree.COLUMN_INDEX[c]]) for c in columns):
        return {}  # the training set never saw some scored column: no fair baseline
    prediction = np.tile(means, (len(y_true), 1))
    return {"baseline_rmse": metrics.kaggle_rmse(y_true, prediction, columns)}


def score(task: str, model: keras.Model, catalog: pd.DataFrame, y_true: np.ndarray, *,
          train_targets: np.ndarray | None = None, baseline_of: dict | None = None,
          tta: bool = False, **image_opts: Any) -> dict:
    """The task's metrics for ``model`` on ``catalog`` (targets ``y_true``), JSON-ready.

    three-class: labels, accuracy, macro_f1, per_class, confusion_matrix (rows = true, in
    labels order); decision-tree: rmse, columns_scored, rmse_per_question. Beside them the
    dummy baseline, from ``train_targets`` or an already computed ``baseline_of``.
    """
    from galaxylab import metrics

    prediction = predict(model, catalog, tta=tta, **image_opts)
    base = baseline(task, train_targets) if train_targets is not None else baseline_of
    out: dict[str, Any] = {"task": task, "n": int(len(catalog))}
    if task == "three-class":
        if prediction.ndim != 2 or prediction.shape[1] != len(labels.THREE_CLASSES):
            raise GalaxyLabError(f"the model gives {prediction.shape[1:]} outputs, not the "
                                 f"{len(labels.THREE_CLASSES)} of the three-class task")
        summary = metrics.classification_summary(y_true, prediction.argmax(axis=1),
                                                 labels.THREE_CLASSES)
        out.update({key: summary[key] for key in
                    ("labels", "accuracy", "macro_f1", "confusion_matrix", "per_class")})
    else:
        if prediction.ndim != 2 or prediction.shape[1] != len(tree.COLUMNS):
            raise GalaxyLabError(f"the model gives {prediction.shape[1:]} outputs, not the "
                                 f"{len(tree.COLUMNS)} of the decision-tree task")
        columns = metrics.scored_columns(y_true)
        out.update({
            "rmse": metrics.kaggle_rmse(y_true, prediction, columns),
            "columns_scored": columns,
            "rmse_per_question": metrics.rmse_per_question(y_true, prediction, columns),
        })
    out.update(_baseline_scores(task, y_true, base))
    if tta:
        out["tta"] = "mean over the 8 dihedral views"
    return out


def load_model(model_path: str | os.PathLike) -> keras.Model:
    """Load a saved ``.keras`` model (custom galaxylab layers included) or raise GalaxyLabError."""
    path = Path(model_path)
    if not path.is_file():
        hint = f" (is {path.parent} a complete run?)" if path.name == runs.MODEL else ""
        raise GalaxyLabError(f"{path}: model file not found{hint}")
    import_tensorflow_quietly()
    import keras

    import galaxylab.metrics  # noqa: F401 - registers the masked loss and metric
    import galaxylab.models  # noqa: F401 - registers the custom layers for safe loading

    try:
        return keras.saving.load_model(path)
    except Exception as error:  # noqa: BLE001 - any failure here means an unusable file
        first = " ".join(str(error).split())[:200]
        raise GalaxyLabError(f"{path}: cannot be loaded as a Keras model ({first})") from None


def model_settings(model: keras.Model, config: dict | None) -> tuple[str, dict]:
    """The task and preprocessing of a model: from its run's config, else from its shapes."""
    if config:
        opts = {"image_size": int(config["image_size"]),
                "crop_fraction": float(config["crop_fraction"]),
                "greyscale": bool(config["greyscale"])}
        return config["task"], opts
    from galaxylab import pipeline

    _, height, width, depth = model.input_shape
    outputs = model.output_shape[-1]
    task = {len(labels.THREE_CLASSES): "three-class", len(tree.COLUMNS): "decision-tree"}.get(
        outputs)
    if task is None or height != width or depth not in (1, 3):
        raise GalaxyLabError(f"the model (input {model.input_shape}, {outputs} outputs) is not a "
                             "galaxylab three-class or decision-tree model")
    return task, {"image_size": int(height), "greyscale": depth == 1,
                  "crop_fraction": pipeline.DEFAULT_CROP_FRACTION}


def _same_path(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and os.path.realpath(a) == os.path.realpath(b)


def evaluate(model_path: str | os.PathLike, data: str | os.PathLike, *, split: str = "auto",
             tta: bool = False, drop_bad: bool = False) -> dict:
    """Score a trained model on a data source; returns the dict ``galaxylab evaluate`` prints.

    Keys: task, n, split, and for three-class labels, accuracy, macro_f1, confusion_matrix
    (rows = true, in labels order), per_class; for decision-tree rmse, columns_scored,
    rmse_per_question; plus the dummy baseline of the run's training set when known.
    ``split="auto"`` scores only the run's test galaxies when ``data`` is its training
    source, "test" insists on that, "all" scores every galaxy.
    """
    if split not in SPLITS:
        raise GalaxyLabError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if not Path(model_path).is_file():
        load_model(model_path)  # raises the clear "not found" error before any slow import
    config = runs.config_for_model(model_path)
    catalog = tasks.load_catalog(data, drop_bad=drop_bad)
    if config:
        tasks.targets(config["task"], catalog)  # a source unfit for the task fails early
    model = load_model(model_path)
    task, image_opts = model_settings(model, config)
    catalog, y_true = tasks.targets(task, catalog)
    chosen = "all"
    same_source = bool(config) and _same_path(catalog.attrs.get("root"), config.get("data"))
    if split == "test" and not same_source:
        raise GalaxyLabError(f"{data}: is not the training source of {model_path}, so it has "
                             "no test split; use --split all")
    if split != "all" and same_source and config["split"]["test"]:
        keep = catalog["id"].astype(str).isin(set(config["split"]["test"])).to_numpy()
        if not keep.any():
            raise GalaxyLabError(f"{data}: none of the run's test galaxies are in it any more")
        catalog, y_true, chosen = catalog.loc[keep].reset_index(drop=True), y_true[keep], "test"
    base = config.get("train_baseline") if config else None
    result = score(task, model, catalog, y_true, baseline_of=base, tta=tta, **image_opts)
    result["split"] = chosen
    return result


def write_submission(model_path: str | os.PathLike, images_dir: str | os.PathLike,
                     out_csv: str | os.PathLike, *, tta: bool = True) -> Path:
    """Write a challenge submission (GalaxyID + the 37 columns) for a folder of images.

    Predictions are averaged over the 8 dihedral views (``tta``), as the winning entries did;
    the CSV is written to a temporary sibling and renamed, so it is never half-written.
    """
    from galaxylab.images import IMAGE_EXTENSIONS, check_image

    images_dir, out_csv = Path(images_dir), Path(out_csv)
    if not images_dir.is_dir():
        raise GalaxyLabError(f"{images_dir}: no such folder")
    files = sorted(p for p in images_dir.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise GalaxyLabError(f"{images_dir}: holds no .jpg or .png images")
    for path in files:
        result = check_image(path)
        if not result.ok:
            raise GalaxyLabError(f"{path}: {result.problem}")
    model = load_model(model_path)
    task, image_opts = model_settings(model, runs.config_for_model(model_path))
    if task != "decision-tree":
        raise GalaxyLabError(f"{model_path}: a submission needs a decision-tree model, "
                             f"not a {task} model")
    catalog = pd.DataFrame({"id": [p.stem for p in files], "image": [str(p) for p in files]})
    prediction = predict(model, catalog, tta=tta, **image_opts)
    table = pd.DataFrame(prediction, columns=list(tree.COLUMNS))
    table.insert(0, tree.ID_COLUMN, catalog["id"])
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = runs.temporary_sibling(out_csv)
    try:
        table.to_csv(tmp, index=False, float_format="%.6f")
        os.replace(tmp, out_csv)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_csv
