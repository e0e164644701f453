"""The shipped showcase models: each loads with safe_mode, was trained with the trainer's defaults
on the data it records, reproduces its recorded test score, and beats its baseline clearly."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import galaxylab.models  # noqa: F401 - registers the custom layers, as any user's import does
from galaxylab import datasets, evaluate, labels, showcase
from galaxylab.datasets.catalog import fingerprint
from galaxylab.train import TrainConfig

#: How far a re-evaluation may stray from the recorded test score: the same model on the same
#: images gives the same numbers up to float round-off in a different CPU's kernels.
TOLERANCE = {"accuracy": 0.01, "macro_f1": 0.01, "rmse": 0.001}
NAMES = list(showcase.SHOWCASES)


@pytest.mark.parametrize("name", NAMES)
def test_a_showcase_model_loads_safely_and_matches_its_record(name: str) -> None:
    show = showcase.SHOWCASES[name]
    run = showcase.run(name)
    model = keras.saving.load_model(run.path / "model.keras", safe_mode=True)
    recorded = TrainConfig.from_dict(run.config)
    assert recorded == TrainConfig(task=show.task).with_epochs(int(recorded.epochs or 0))
    assert tuple(model.input_shape[1:]) == recorded.preprocessing.input_shape
    catalog, _ = labels.targets(show.task, datasets.load(showcase.source(name)))
    assert run.config["ids_sha1"] == fingerprint(catalog)
    assert run.config["n_galaxies"] == len(catalog)


@pytest.mark.parametrize("name", NAMES)
def test_a_showcase_model_reproduces_its_test_score(name: str) -> None:
    run = showcase.run(name)
    recorded = showcase.test_metrics(name)
    scores = evaluate.evaluate(
        run.path / "model.keras", showcase.source(name), split="test", tta="tta" in recorded
    )
    assert scores["split"] == "test" and scores["n"] == recorded["n"]
    for key, tolerance in TOLERANCE.items():
        if key in recorded:
            assert abs(scores[key] - recorded[key]) <= tolerance, key


def test_the_real_three_class_model_beats_the_majority_baseline_clearly() -> None:
    scores = showcase.test_metrics("gz1-three-class")
    assert scores["macro_f1"] >= scores["baseline_macro_f1"] + 0.3
    assert scores["accuracy"] > scores["baseline_accuracy"]


def test_the_universe_regressor_reaches_the_target_rmse() -> None:
    scores = showcase.test_metrics("universe-regressor")
    assert scores["rmse"] <= 0.09 < scores["baseline_rmse"]
    assert np.isfinite(list(scores["rmse_per_question"].values())).all()


def test_an_unknown_showcase_is_named() -> None:
    with pytest.raises(showcase.GalaxyLabError, match="no showcase model 'vgg'"):
        showcase.run("vgg")
