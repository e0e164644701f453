"""Training and evaluation through the Python API: RUN folders, resume, refusal, submission."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from galaxylab import datasets, evaluate, inference, labels, pipeline, tree
from galaxylab.errors import GalaxyLabError
from galaxylab.models import load_model
from galaxylab.preprocessing import Preprocessing
from galaxylab.train import TrainConfig, runs, trainer
from galaxylab.train import config as train_config

N = 60


def _galaxy(rng: np.random.Generator, kind: str, size: int = 48) -> np.ndarray:
    """A crude galaxy: a smooth blob, plus two arms for spirals."""
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    r, theta = np.hypot(x, y), np.arctan2(y, x)
    light = np.exp(-((r / rng.uniform(4, 7)) ** 1.5))
    if kind != "elliptical":
        light += 0.6 * np.exp(-r / 10) * (np.cos(2 * theta - r / 3) > 0.3)
    image = np.clip(light[:, :, None] * [230, 210, 170] + rng.normal(0, 6, (size, size, 3)), 0, 255)
    return image.astype(np.uint8)


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 60-galaxy Kaggle-layout folder with all 37 columns obeying the decision tree."""
    root = tmp_path_factory.mktemp("mini")
    (root / "images_training_rev1").mkdir()
    rng = np.random.default_rng(0)
    kinds = np.array(["elliptical"] * 30 + ["spiral"] * 18 + ["unsure"] * 12)
    fractions = rng.random((N, 37))
    q1 = {
        "elliptical": [0.9, 0.08, 0.02],
        "spiral": [0.05, 0.93, 0.02],
        "unsure": [0.5, 0.45, 0.05],
    }
    for _, cols in tree.question_slices():
        block = fractions[:, cols]
        fractions[:, cols] = block / block.sum(axis=1, keepdims=True)
    fractions[:, 0:3] = [q1[k] for k in kinds]
    table = pd.DataFrame(tree.to_cumulative(fractions), columns=list(tree.COLUMNS))
    table.insert(0, "GalaxyID", 100000 + np.arange(N))
    for galaxy_id, kind in zip(table["GalaxyID"], kinds, strict=True):
        Image.fromarray(_galaxy(rng, kind)).save(root / "images_training_rev1" / f"{galaxy_id}.jpg")
    table.to_csv(root / "training_solutions_rev1.csv", index=False)
    return root


def fit(
    task: str,
    data: Path,
    out: Path,
    *,
    image_size: int = 64,
    callbacks=(),
    overwrite: bool = False,
    progress: bool = False,
    **choices,
) -> dict:
    """train() with the TrainConfig these arguments describe."""
    chosen = TrainConfig(task=task, preprocessing=Preprocessing(image_size=image_size), **choices)
    return trainer.train(
        chosen, data, out, overwrite=overwrite, progress=progress, callbacks=callbacks
    )


class Interrupt(keras.callbacks.Callback):
    """Stops training with an exception after a given epoch, like a crash or Ctrl-C."""

    def __init__(self, after_epoch: int) -> None:
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.after_epoch:
            raise RuntimeError("simulated interruption")


class StartingWeights(keras.callbacks.Callback):
    """Records the model's weights as training begins."""

    def on_train_begin(self, logs=None):
        self.weights = self.model.get_weights()


class Epochs(keras.callbacks.Callback):
    """Records which epochs ran."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def test_three_class_run_is_complete_and_evaluates_on_its_test_split(mini: Path, tmp_path: Path):
    out = tmp_path / "run"
    result = fit("three-class", mini, out, epochs=2, image_size=32, progress=False)
    assert sorted(p.name for p in out.iterdir()) == sorted(runs.RUN_FILES)
    assert json.loads((out / "metrics.json").read_text()) == result
    assert result["labels"] == ["elliptical", "spiral", "unsure"]
    assert np.array(result["confusion_matrix"]).sum() == result["n_val"] == result["n"] == 6
    assert 0 <= result["accuracy"] <= 1 and "baseline_accuracy" in result
    assert (result["n_train"], result["n_test"], result["epochs_run"]) == (48, 6, 2)
    # Oversampling: every class reaches the training majority (24 ellipticals).
    assert result["n_train_balanced"] == 3 * 24
    config = json.loads((out / "config.json").read_text())
    split = [set(config["split"][part]) for part in ("train", "val", "test")]
    assert not (split[0] & split[1] or split[0] & split[2] or split[1] & split[2])
    assert len(set.union(*split)) == N
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [0, 1]

    held_out = evaluate.evaluate(out / "model.keras", mini)
    assert held_out["split"] == "test" and held_out["n"] == 6
    everything = evaluate.evaluate(out / "model.keras", mini, split="all")
    assert everything["n"] == N and np.array(everything["confusion_matrix"]).sum() == N
    assert set(everything) >= {"task", "n", "labels", "accuracy", "macro_f1", "confusion_matrix"}
    # A model copied away from its run: task and image size come from the model itself.
    (tmp_path / "alone").mkdir()
    (tmp_path / "alone" / "m.keras").write_bytes((out / "model.keras").read_bytes())
    alone = evaluate.evaluate(tmp_path / "alone" / "m.keras", mini)
    assert alone["split"] == "all" and alone["task"] == "three-class"
    assert alone["confusion_matrix"] == everything["confusion_matrix"]

    with pytest.raises(GalaxyLabError, match="already holds a complete run"):
        fit("three-class", mini, out, epochs=2, image_size=32, progress=False)


def test_interrupted_run_resumes_where_it_stopped(mini: Path, tmp_path: Path):
    out = tmp_path / "run"
    options = dict(epochs=3, image_size=32, seed=1, progress=False)
    with pytest.raises(RuntimeError, match="simulated"):
        fit("decision-tree", mini, out, callbacks=[Interrupt(after_epoch=0)], **options)
    assert not (out / "metrics.json").exists() and not (out / "model.keras").exists()
    assert not runs.is_complete_run(out)
    # Started again with other settings, the interrupted run is not silently mixed up.
    with pytest.raises(GalaxyLabError, match="interrupted run with other settings"):
        fit("decision-tree", mini, out, **{**options, "epochs": 4})

    seen = Epochs()
    result = fit("decision-tree", mini, out, callbacks=[seen], **options)
    assert seen.seen == [1, 2]  # epoch 0 was not trained again
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [0, 1, 2]
    assert history["val_loss"].notna().all()
    assert result["epochs_run"] == 3 and runs.is_complete_run(out)
    assert not (out / runs.WORK).exists()
    assert result["columns_scored"] == list(tree.COLUMNS)
    assert result["best_epoch"] == int(history["val_loss"].idxmin()) + 1

    # The submission file: one row per image, GalaxyID + 37 columns obeying the tree.
    images = tmp_path / "test_images"
    images.mkdir()
    for path in sorted((mini / "images_training_rev1").glob("*.jpg"))[:5]:
        (images / path.name).write_bytes(path.read_bytes())
    csv = evaluate.write_submission(out / "model.keras", images, tmp_path / "sub" / "s.csv")
    table = pd.read_csv(csv)
    assert list(table.columns) == ["GalaxyID", *tree.COLUMNS] and len(table) == 5
    assert tree.check(table[list(tree.COLUMNS)], tolerance=1e-4).empty
    assert [p.name for p in csv.parent.iterdir()] == ["s.csv"]

    # Test-time averaging over the 8 dihedral views: a catalog and its image array agree.
    model = load_model(out / "model.keras")
    catalog = datasets.load(mini).iloc[:10]
    prep = Preprocessing(image_size=32)
    np.testing.assert_allclose(
        inference.predict(model, catalog, tta=True, batch_size=4, preprocessing=prep),
        inference.predict(model, pipeline.load_array(catalog, prep), tta=True),
        atol=1e-5,
    )

    # Fine-tuning starts from the trained weights: its fit begins with exactly those.
    start = StartingWeights()
    tuned = fit(
        "decision-tree",
        mini,
        tmp_path / "tuned",
        epochs=1,
        image_size=32,
        seed=1,
        init_from=out / "model.keras",
        progress=False,
        callbacks=[start],
    )
    trained = load_model(out / "model.keras").get_weights()
    assert len(start.weights) == len(trained)
    for begun, saved in zip(start.weights, trained, strict=True):
        np.testing.assert_array_equal(begun, saved)
    assert json.loads((tmp_path / "tuned" / "config.json").read_text())["init_from"] == str(
        (out / "model.keras").resolve()
    )
    assert tuned["epochs_run"] == 1
    for kwargs, message in [
        ({"image_size": 48}, "same --image-size"),
        ({"task": "three-class"}, "is a decision-tree model"),
    ]:
        options = {"task": "decision-tree", "image_size": 32, **kwargs}
        with pytest.raises(GalaxyLabError, match=message):
            fit(
                options.pop("task"),
                mini,
                tmp_path / "bad",
                epochs=1,
                init_from=out / "model.keras",
                progress=False,
                **options,
            )
    assert not (tmp_path / "bad").exists()


def test_tasks_need_matching_labels(mini: Path, tmp_path: Path):
    folders = tmp_path / "folders"
    for name in ("barred", "smooth"):
        (folders / name).mkdir(parents=True)
        for path in sorted((mini / "images_training_rev1").glob("*.jpg"))[:3]:
            (folders / name / path.name).write_bytes(path.read_bytes())
    with pytest.raises(GalaxyLabError, match="vote fractions"):
        fit("decision-tree", folders, tmp_path / "r1", epochs=1, progress=False)
    with pytest.raises(GalaxyLabError, match="class folders named elliptical"):
        fit("three-class", folders, tmp_path / "r2", epochs=1, progress=False)
    partial = tmp_path / "partial"
    (partial / "images_training_rev1").mkdir(parents=True)
    table = pd.read_csv(mini / "training_solutions_rev1.csv").iloc[:5]
    table[["GalaxyID", "Class7.1", "Class7.2", "Class7.3"]].to_csv(
        partial / "training_solutions_rev1.csv", index=False
    )
    for galaxy_id in table["GalaxyID"]:
        name = f"{galaxy_id}.jpg"
        (partial / "images_training_rev1" / name).write_bytes(
            (mini / "images_training_rev1" / name).read_bytes()
        )
    with pytest.raises(GalaxyLabError, match="Class1.1 and Class1.2"):
        fit("three-class", partial, tmp_path / "r3", epochs=1, progress=False)
    assert not any((tmp_path / r).exists() for r in ("r1", "r2", "r3"))


def test_galaxy10_file_trains_three_class_with_class_weights(mini: Path, tmp_path: Path):
    rng = np.random.default_rng(5)
    classes = np.arange(40) % 10
    images = np.stack(
        [_galaxy(rng, "elliptical" if c in (2, 3, 4) else "spiral", 64) for c in classes]
    )
    path = tmp_path / "Galaxy10_mini.h5"
    with h5py.File(path, "w") as handle:
        handle["images"], handle["ans"] = images, classes
    result = fit(
        "three-class",
        path,
        tmp_path / "run",
        epochs=1,
        image_size=16,
        balance="weights",
        progress=False,
    )
    # Galaxy10 classes 0-1 are unsure, 2-4 elliptical, 5-9 spiral: 8 + 12 + 20 galaxies.
    assert result["n_train"] + result["n_val"] + result["n_test"] == 40
    assert result["n_train_balanced"] == result["n_train"]  # weights, not copies
    everything = evaluate.evaluate(tmp_path / "run" / "model.keras", path, split="all")
    assert everything["n"] == 40
    assert [sum(row) for row in everything["confusion_matrix"]] == [12, 20, 8]


def test_bad_options_fail_before_anything_is_written(mini: Path, tmp_path: Path):
    for kwargs, message in [
        ({"epochs": 0}, "epochs"),
        ({"image_size": 8}, "image size"),
        ({"balance": "weights"}, "three-class task only"),
        ({"architecture": "vgg"}, "architecture"),
    ]:
        with pytest.raises(GalaxyLabError, match=message):
            fit("decision-tree", mini, tmp_path / "run", progress=False, **kwargs)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.tex").write_text("keep me")
    with pytest.raises(GalaxyLabError, match="not a galaxylab run folder"):
        fit("decision-tree", mini, tmp_path / "notes", overwrite=True, progress=False)
    assert (tmp_path / "notes" / "thesis.tex").read_text() == "keep me"
    assert not (tmp_path / "run").exists()


def test_split_is_the_same_for_the_same_seed(mini: Path):
    catalog, y = labels.targets("decision-tree", datasets.load(mini))
    first = trainer.split_targets(catalog, y, seed=4, fractions=(0.8, 0.1, 0.1))
    again = trainer.split_targets(catalog, y, seed=4, fractions=(0.8, 0.1, 0.1))
    other = trainer.split_targets(catalog, y, seed=5, fractions=(0.8, 0.1, 0.1))
    for (a, ya), (b, yb) in zip(first, again, strict=True):
        assert a["id"].tolist() == b["id"].tolist()
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(ya, a[list(tree.COLUMNS)].to_numpy(np.float32))
    assert first[1][0]["id"].tolist() != other[1][0]["id"].tolist()


def test_default_epochs_spend_a_fixed_image_budget_within_bounds():
    low, high = train_config.EPOCH_RANGE
    sizes = [10, 200, 1000, 3200, 10_000, 100_000, 10_000_000]
    for task, architecture in (
        ("three-class", "small"),
        ("decision-tree", "small"),
        ("decision-tree", "alexnet"),
    ):
        epochs = [train_config.default_epochs(task, n, architecture) for n in sizes]
        assert all(low <= e <= high for e in epochs)
        assert epochs == sorted(epochs, reverse=True)  # more images, fewer epochs
        assert epochs[0] == high and epochs[-1] == low
    budget = train_config.IMAGE_BUDGET["small"]
    assert abs(train_config.default_epochs("decision-tree", 3200) * 3200 - budget) <= 3200 / 2
    assert train_config.default_epochs(
        "decision-tree", 3200, "alexnet"
    ) < train_config.default_epochs("decision-tree", 3200, "small")


def test_a_moved_copy_of_the_training_source_is_still_recognised(mini: Path, tmp_path: Path):
    out = tmp_path / "run"
    fit("three-class", mini, out, epochs=1, image_size=16)
    moved = tmp_path / "elsewhere" / "mini"
    shutil.copytree(mini, moved)  # as on another machine: same galaxies, another folder
    held_out = evaluate.evaluate(out / "model.keras", moved)
    assert held_out["split"] == "test" and held_out["n"] == 6


@pytest.mark.parametrize("task", ["three-class", "decision-tree"])
def test_bfloat16_training_saves_a_float32_model_and_leaves_the_policy_alone(
    task: str, mini: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """GALAXYLAB_PRECISION=mixed_bfloat16: the convolutions compute in bfloat16 while the
    normalization statistics and the outputs stay float32; the published model computes in
    float32 (it predicts alike on CPUs without bfloat16 units), metrics.json names the fit's
    precision, and Keras' global policy is float32 again afterwards."""
    from galaxylab.backend import PRECISION_ENV

    monkeypatch.setenv(PRECISION_ENV, "mixed_bfloat16")
    seen = {}

    class Policies(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.update({layer.name: layer.dtype_policy.name for layer in self.model.layers})

    out = tmp_path / "run"
    try:
        result = fit(task, mini, out, epochs=2, image_size=32, callbacks=[Policies()])
        after = keras.mixed_precision.global_policy().name
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert after == "float32"
    assert seen["normalization"] == "float32" and seen["block1_conv"] == "mixed_bfloat16"
    assert result["epochs_run"] == 2 and result["precision"] == "mixed_bfloat16"
    model = load_model(out / "model.keras")
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    images = pipeline.load_array(datasets.load(mini).head(4), Preprocessing(image_size=32))
    predicted = np.asarray(model.predict(images, verbose=0))
    assert predicted.dtype == np.float32 and np.isfinite(predicted).all()
    if task == "three-class":
        np.testing.assert_allclose(predicted.sum(axis=1), 1.0, atol=1e-5)


def test_several_steps_per_call_train_the_same_weights_as_one(mini: Path):
    """compile_for's steps_per_execution only batches the calls into TensorFlow: 12 steps per
    epoch (one full call of 8 and a partial one of 4) give the losses of 12 single steps."""
    from galaxylab import models
    from galaxylab.train import fit as train_fit

    catalog, targets = labels.targets("three-class", datasets.load(mini))
    prep = Preprocessing(image_size=32)
    histories = []
    for steps in (1, 8):
        keras.utils.set_random_seed(0)  # the dataset's seeds combine with the global one
        data = pipeline.make_dataset(  # anew: each pass over a dataset draws new augmentations
            catalog.head(48),
            targets[:48],
            preprocessing=prep,
            batch_size=4,
            augment=True,
            shuffle=True,
        )
        model = models.build("three-class", prep.input_shape)
        train_fit.compile_for(model, "three-class", steps_per_execution=steps)
        histories.append(model.fit(data, epochs=2, verbose=0).history["loss"])
    assert len(histories[0]) == 2
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-6)


def test_the_same_config_trains_the_same_run_twice_in_one_process(mini: Path, tmp_path: Path):
    """A notebook that trains twice gets the run ``galaxylab train`` gets: the seeds of
    shuffling and augmentation do not depend on what the process drew before."""
    keras.utils.set_random_seed(123)  # as a notebook cell might, before training
    first = fit("decision-tree", mini, tmp_path / "a", epochs=2, image_size=32)
    second = fit("decision-tree", mini, tmp_path / "b", epochs=2, image_size=32)
    histories = [pd.read_csv(tmp_path / name / "history.csv") for name in ("a", "b")]
    pd.testing.assert_frame_equal(histories[0], histories[1])
    assert first["rmse"] == second["rmse"]
