"""galaxylab.analysis: cached runs, label-noise tables, saliency maps, robustness, figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from galaxylab import analysis, datasets, labels, runs, train, tree  # noqa: E402
from galaxylab.errors import GalaxyLabError  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _has_text(fig) -> bool:
    """Every panel with data has a title or the figure has a suptitle, and axis labels."""
    axes = [ax for ax in fig.axes if ax.has_data()]
    return bool(axes) and all(ax.get_xlabel() or not ax.get_xticks().size for ax in axes) and (
        fig._suptitle is not None or all(ax.get_title() for ax in axes))


# --------------------------------------------------------------------------- settings and runs


def test_lesson_follows_quick_mode(monkeypatch):
    monkeypatch.setenv("GALAXYLAB_QUICK", "1")
    assert analysis.lesson() == analysis.QUICK_LESSON
    monkeypatch.setenv("GALAXYLAB_QUICK", "0")
    assert analysis.lesson() == analysis.FULL_LESSON
    assert analysis.QUICK_LESSON.image_size < analysis.FULL_LESSON.image_size


def test_run_path_is_keyed_by_settings_and_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("GALAXYLAB_DATA", str(tmp_path))
    monkeypatch.setenv("GALAXYLAB_QUICK", "1")
    base = analysis.run_settings("three-class", tmp_path / "src")
    same = analysis.run_settings("three-class", tmp_path / "src")
    assert analysis.run_path(base) == analysis.run_path(same)
    assert analysis.run_path(base).parent == tmp_path / "runs"
    assert base["balance"] == "upsample" and base["image_size"] == 32
    others = [
        analysis.run_settings("three-class", tmp_path / "src", balance="weights"),
        analysis.run_settings("three-class", tmp_path / "other"),
        analysis.run_settings("three-class", tmp_path / "src", epochs=5),
        analysis.run_settings("decision-tree", tmp_path / "src"),
    ]
    monkeypatch.setenv("GALAXYLAB_QUICK", "0")
    others.append(analysis.run_settings("three-class", tmp_path / "src", image_size=32,
                                        epochs=base["epochs"]))
    paths = {analysis.run_path(s) for s in [base, *others]}
    assert len(paths) == 1 + len(others)
    assert "full" in analysis.run_path(others[-1]).name


def test_trained_run_trains_once_then_reuses(monkeypatch, tmp_path, small_universe):
    monkeypatch.setenv("GALAXYLAB_DATA", str(tmp_path))
    monkeypatch.setenv("GALAXYLAB_QUICK", "1")
    catalog = datasets.load(small_universe)
    run = analysis.trained_run("three-class", catalog, image_size=16, epochs=1, progress=False)
    assert runs.is_complete(run.path) and run.path.parent == tmp_path / "runs"
    assert run.task == "three-class" and run.image_options["image_size"] == 16
    assert len(run.history) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("a cached run must not be trained again")

    monkeypatch.setattr(train, "train", refuse)
    again = analysis.trained_run("three-class", catalog, image_size=16, epochs=1)
    assert again.path == run.path and again.config == run.config

    test = run.part(catalog, "test")
    assert list(test["id"].astype(str)) == [str(i) for i in run.config["split"]["test"]]
    assert test.attrs["root"] == catalog.attrs["root"]
    assert not set(test["id"]) & set(run.part(catalog, "train")["id"])
    model = run.model()
    assert model.output_shape == (None, 3)
    with pytest.raises(GalaxyLabError, match="splits"):
        run.part(catalog, "holdout")
    with pytest.raises(GalaxyLabError, match="not in this catalog"):
        run.part(catalog[~catalog["id"].astype(str).isin(test["id"])], "test")


def test_quick_mode_on_a_real_source_trains_on_the_sample(monkeypatch, tmp_path,
                                                          small_universe):
    monkeypatch.setenv("GALAXYLAB_DATA", str(tmp_path / "cache"))
    catalog = datasets.load(small_universe)
    monkeypatch.setenv("GALAXYLAB_QUICK", "0")
    assert analysis.training_source(catalog) == small_universe  # no GALAXYLAB_SOURCE
    monkeypatch.setenv("GALAXYLAB_SOURCE", str(small_universe))
    assert analysis.training_source(catalog) == small_universe  # full mode: the whole source
    monkeypatch.setenv("GALAXYLAB_QUICK", "1")
    sample = catalog.sample(n=40, random_state=0)
    folder = analysis.training_source(sample)
    assert folder.parent == tmp_path / "cache" / "runs" / "samples"
    assert analysis.sample_source(sample) == folder  # written once, then reused
    again = datasets.load(folder)
    assert sorted(again["id"]) == sorted(sample["id"])
    merged = again.merge(sample, on="id", suffixes=("", "_src"))
    assert np.allclose(merged["Class4.1"], merged["Class4.1_src"], atol=1e-6)
    # A run trained on the sample finds its split's galaxies in the sampled catalog.
    run = analysis.Run(path=tmp_path, config={"data": str(folder),
                                              "split": {"test": list(again["id"][:5])}},
                       metrics={}, history=pd.DataFrame())
    assert list(run.part(sample, "test")["id"]) == list(again["id"][:5])


def test_sample_source_of_class_folders(monkeypatch, tmp_path, small_universe):
    monkeypatch.setenv("GALAXYLAB_DATA", str(tmp_path / "cache"))
    universe = datasets.load(small_universe)
    names = labels.three_class(universe)
    source = tmp_path / "folders"
    for (_, row), name in list(zip(universe.iterrows(), names, strict=True))[:30]:
        (source / name).mkdir(parents=True, exist_ok=True)
        (source / name / f"g{row['id']}.jpg").write_bytes(open(row["image"], "rb").read())
    folders = datasets.load(source).head(12)
    folder = analysis.sample_source(folders)
    again = datasets.load(folder)
    mapping = pd.read_csv(folder / analysis.SAMPLE_IDS, dtype=str)
    assert len(again) == 12 and set(mapping["id"]) == set(again["id"])
    original = dict(zip(mapping["id"], mapping["original_id"], strict=True))
    new_labels = dict(zip(again["id"].map(original), labels.three_class(again), strict=True))
    old_labels = dict(zip(folders["id"], labels.three_class(folders), strict=True))
    assert new_labels == old_labels


def test_read_run_refuses_an_incomplete_folder(tmp_path):
    (tmp_path / runs.MODEL).write_bytes(b"")
    with pytest.raises(GalaxyLabError, match="not a complete run"):
        analysis.read_run(tmp_path)


# --------------------------------------------------------------------------- tables


def test_as_frame_and_truth_labels():
    values = np.random.default_rng(0).random((4, 37))
    frame = analysis.as_frame(values, ["a", "b", "c", "d"])
    assert list(frame.columns) == ["id", *tree.COLUMNS]
    assert np.allclose(frame[list(tree.COLUMNS)].to_numpy(), values)
    with pytest.raises(GalaxyLabError, match="shape"):
        analysis.as_frame(values[:, :36])
    with pytest.raises(GalaxyLabError, match="ids"):
        analysis.as_frame(values, ["a"])

    truth = pd.DataFrame(values, columns=[f"expected_{c}" for c in tree.COLUMNS])
    truth.insert(0, "id", [1, 2, 3, 4])
    crowd = analysis.truth_labels(truth)
    assert list(crowd["id"]) == ["1", "2", "3", "4"]
    assert np.allclose(crowd["Class4.1"], values[:, tree.COLUMN_INDEX["Class4.1"]])
    with pytest.raises(GalaxyLabError, match="true_Class1.1"):
        analysis.truth_labels(truth, "true_")


def test_tree_sum_errors_vanish_for_tree_obeying_values():
    scores = np.random.default_rng(1).random((5, 37))
    assert np.abs(analysis.tree_sum_errors(tree.normalise(scores)).to_numpy()).max() < 1e-12
    broken = tree.normalise(scores)
    broken[:, tree.COLUMN_INDEX["Class2.1"]] += 0.1
    errors = analysis.tree_sum_errors(broken)
    assert list(errors.columns) == [f"Q{q.number}" for q in tree.QUESTIONS]
    assert np.allclose(errors["Q2"], 0.1)
    assert np.allclose(errors["Q9"], -0.1)  # Q9 still sums to the old Class2.1
    assert np.abs(errors.drop(columns=["Q2", "Q9"]).to_numpy()).max() < 1e-12


def test_label_noise_matches_hand_computed_rmse():
    rng = np.random.default_rng(2)
    reference = analysis.as_frame(tree.normalise(rng.random((30, 37))))
    votes = reference + rng.normal(0, 0.05, reference.shape)
    model = reference + rng.normal(0, 0.1, reference.shape)
    table = analysis.label_noise(votes, reference, model.to_numpy())
    assert list(table.columns) == ["model vs volunteers", "model vs noise-free",
                                   "volunteers vs noise-free"]
    assert table.index[-1] == "all" and len(table) == 12

    def rmse(a, b):
        return np.sqrt(np.mean((a.to_numpy() - b.to_numpy()) ** 2))

    assert np.isclose(table.loc["all", "model vs volunteers"], rmse(votes, model))
    assert np.isclose(table.loc["all", "volunteers vs noise-free"], rmse(votes, reference))
    q1 = list(tree.QUESTION_BY_NUMBER[1].columns)
    assert np.isclose(table.loc["Q1", "model vs noise-free"], rmse(model[q1], reference[q1]))
    with pytest.raises(GalaxyLabError, match="length"):
        analysis.label_noise(votes, reference.head(5), model.to_numpy())


# --------------------------------------------------------------------------- saliency


def _pixel_model(row: int, column: int) -> keras.Model:
    """Two classes decided by one pixel of channel 0 alone: class 0 when it is above 0.5."""
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    kernel = np.zeros((8 * 8 * 3, 2), np.float32)
    kernel[(row * 8 + column) * 3, 0] = 3.0
    model.layers[-1].set_weights([kernel, np.array([0.0, 1.5], np.float32)])
    return model


def test_saliency_points_at_the_pixel_that_matters():
    images = np.random.default_rng(3).random((4, 8, 8, 3)).astype(np.float32)
    maps = analysis.saliency_maps(_pixel_model(2, 5), images, index=0)
    assert maps.shape == (4, 8, 8)
    assert np.allclose(maps.max(axis=(1, 2)), 1)
    for m in maps:
        assert np.unravel_index(m.argmax(), m.shape) == (2, 5)
        assert np.count_nonzero(m) == 1


def test_grad_cam_finds_the_bright_blob():
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, name="conv")(inputs)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("conv").set_weights([np.ones((1, 1, 1, 1), np.float32)])
    model.layers[-1].set_weights([np.ones((1, 1), np.float32), np.zeros(1, np.float32)])
    assert analysis.last_conv_layer(model) == "relu"
    images = np.zeros((2, 16, 16, 1), np.float32)
    images[0, 3:6, 10:13] = 1.0
    images[1, 11:14, 2:5] = 1.0
    cams = analysis.grad_cam(model, images, index=0)
    assert cams.shape == (2, 16, 16) and cams.min() >= 0 and np.isclose(cams.max(), 1)
    assert cams[0, 3:6, 10:13].mean() > 5 * cams[0, 11:14, 2:5].mean()
    assert cams[1, 11:14, 2:5].mean() > 5 * cams[1, 3:6, 10:13].mean()


def test_last_conv_layer_needs_an_image_layer():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(GalaxyLabError, match="Grad-CAM"):
        analysis.last_conv_layer(model)


# --------------------------------------------------------------------------- robustness


def test_noise_and_blur():
    images = np.random.default_rng(4).random((2, 12, 12, 3)).astype(np.float32)
    assert np.array_equal(analysis.add_noise(images, 0.0), images)
    noisy = analysis.add_noise(images, 0.3, seed=7)
    assert np.array_equal(noisy, analysis.add_noise(images, 0.3, seed=7))
    assert noisy.min() >= 0 and noisy.max() <= 1 and not np.allclose(noisy, images)
    point = np.zeros((1, 21, 21, 1), np.float32)
    point[0, 10, 10] = 1.0
    blurred = analysis.blur(point, 2.0)
    assert np.isclose(blurred.sum(), 1.0, atol=1e-3) and blurred.max() < 0.1
    assert np.array_equal(analysis.blur(images, 0), images)
    with pytest.raises(GalaxyLabError):
        analysis.blur(images, -1)
    with pytest.raises(GalaxyLabError):
        analysis.add_noise(images, -0.1)


def test_robustness_curve_starts_at_the_clean_score():
    model = _pixel_model(1, 1)
    images = np.random.default_rng(5).random((20, 8, 8, 3)).astype(np.float32)
    y = model.predict(images, verbose=0).argmax(axis=1)

    def accuracy(truth, prediction):
        return float(np.mean(prediction.argmax(axis=1) == truth))

    curve = analysis.robustness_curve(model, images, y, accuracy, kind="noise",
                                      levels=(0.0, 0.5))
    assert list(curve.columns) == ["level", "score"]
    assert curve["score"].iloc[0] == 1.0
    assert curve["score"].iloc[1] < 1.0
    with pytest.raises(GalaxyLabError, match="kind"):
        analysis.robustness_curve(model, images, y, accuracy, kind="rotate")


# --------------------------------------------------------------------------- figures


def test_score_and_history_figures():
    table = pd.DataFrame({"accuracy": [0.5, 0.7], "macro-F1": [0.2, 0.6]},
                         index=["baseline", "CNN"])
    fig = analysis.score_bars(table, references={"published": 0.8}, xlabel="score (0–1)",
                              title="Scores")
    ax = fig.axes[0]
    assert ax.get_title() == "Scores" and ax.get_xlabel() == "score (0–1)"
    assert len(ax.patches) == 4 and ax.get_xlim()[1] > 0.8
    single = analysis.score_bars({"a": 0.1, "b": 0.2}, xlabel="RMSE")
    assert len(single.axes[0].patches) == 2
    with pytest.raises(GalaxyLabError):
        analysis.score_bars({})

    history = pd.DataFrame({"loss": [1.0, 0.8], "val_loss": [1.1, 0.9],
                            "accuracy": [0.5, 0.6], "val_accuracy": [0.4, 0.5]})
    fig = analysis.compare_histories({"one": history, "two": history},
                                     ylabels={"loss": "cross-entropy (nats)"})
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel() == "cross-entropy (nats)"
    assert len(fig.axes[0].lines) == 4 and _has_text(fig)
    with pytest.raises(GalaxyLabError, match="rmse"):
        analysis.compare_histories({"one": history}, metrics=("rmse",))


def test_catalog_figures(small_universe):
    catalog = datasets.load(small_universe)
    fig = analysis.threshold_curve(catalog)
    assert len(fig.axes[0].lines) == 4 and _has_text(fig)

    y_true = labels.encode(labels.three_class(catalog).astype(str))
    y_pred = y_true.copy()
    y_pred[:5] = (y_pred[:5] + 1) % 3
    probabilities = np.eye(3)[y_pred] * 0.9 + 0.05
    wrong = analysis.outcome_gallery(catalog, y_true, y_pred, which="wrong",
                                     probabilities=probabilities, n=8)
    titles = [ax.get_title() for ax in wrong.axes if ax.get_title()]
    assert len(titles) == 5 and all("→" in t for t in titles)
    right = analysis.outcome_gallery(catalog, y_true, y_pred, which="correct", n=4)
    assert len([ax for ax in right.axes if ax.get_title()]) == 4
    with pytest.raises(GalaxyLabError, match="no wrong"):
        analysis.outcome_gallery(catalog, y_true, y_true, which="wrong")

    predicted = analysis.as_frame(catalog[list(tree.COLUMNS)].to_numpy() * 0.5 + 0.25)
    fig = analysis.prediction_scatter(catalog, predicted, ["Class1.1", "Class1.2"], 0.8)
    assert len(fig.axes) == 2 and "RMSE" in fig.axes[0].get_title() and _has_text(fig)
    heat = analysis.crosstab_heatmap(["a", "a", "b"], ["x", "y", "y"], ylabel="type",
                                     xlabel="class", title="t", normalise=True)
    assert heat.axes[0].get_ylabel() == "type"


def test_image_figures():
    images = np.random.default_rng(6).random((3, 10, 10, 3)).astype(np.float32)
    grid = analysis.image_grid(images, ["a", "b", "c"], ncols=2)
    assert [ax.get_title() for ax in grid.axes][:3] == ["a", "b", "c"]
    with pytest.raises(GalaxyLabError, match="titles"):
        analysis.image_grid(images, ["a"])
    gallery = analysis.perturbation_gallery(images[0], "blur", (0, 1, 2), "input pixels")
    assert [ax.get_title() for ax in gallery.axes] == ["σ = 0", "σ = 1", "σ = 2"]
    maps = {"saliency": np.random.default_rng(7).random((3, 10, 10))}
    fig = analysis.saliency_figure(images, maps, ["x", "y", "z"])
    assert fig.axes[3].get_ylabel() == "saliency"
    hist = analysis.channel_histograms(images, (images - 0.5) / 0.3)
    assert _has_text(hist)
    sigmoid = np.random.default_rng(8).random((5, 37))
    errors = {"tree": analysis.tree_sum_errors(tree.normalise(sigmoid)),
              "sigmoid": analysis.tree_sum_errors(sigmoid)}
    assert _has_text(analysis.tree_sum_figure(errors))
