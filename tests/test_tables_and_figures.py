"""Prediction frames, tree-sum errors and label-noise tables (tree, course, metrics), and the
figures the training notebooks draw from them (plots)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from galaxylab import course, datasets, labels, metrics, plots, tree  # noqa: E402
from galaxylab.errors import GalaxyLabError  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _has_text(fig) -> bool:
    """Every panel with data has a title or the figure has a suptitle, and axis labels."""
    axes = [ax for ax in fig.axes if ax.has_data()]
    return (
        bool(axes)
        and all(ax.get_xlabel() or not ax.get_xticks().size for ax in axes)
        and (fig._suptitle is not None or all(ax.get_title() for ax in axes))
    )


# --------------------------------------------------------------------------- tables


def test_as_frame_and_truth_labels():
    values = np.random.default_rng(0).random((4, 37))
    frame = tree.as_frame(values, ["a", "b", "c", "d"])
    assert list(frame.columns) == ["id", *tree.COLUMNS]
    assert np.allclose(frame[list(tree.COLUMNS)].to_numpy(), values)
    with pytest.raises(GalaxyLabError, match="shape"):
        tree.as_frame(values[:, :36])
    with pytest.raises(GalaxyLabError, match="ids"):
        tree.as_frame(values, ["a"])

    truth = pd.DataFrame(values, columns=[f"expected_{c}" for c in tree.COLUMNS])
    truth.insert(0, "id", [1, 2, 3, 4])
    crowd = course.truth_labels(truth)
    assert list(crowd["id"]) == ["1", "2", "3", "4"]
    assert np.allclose(crowd["Class4.1"], values[:, tree.COLUMN_INDEX["Class4.1"]])
    with pytest.raises(GalaxyLabError, match="true_Class1.1"):
        course.truth_labels(truth, "true_")


def test_tree_sum_errors_vanish_for_tree_obeying_values():
    scores = np.random.default_rng(1).random((5, 37))
    assert np.abs(tree.sum_errors(tree.normalise(scores)).to_numpy()).max() < 1e-12
    broken = tree.normalise(scores)
    broken[:, tree.COLUMN_INDEX["Class2.1"]] += 0.1
    errors = tree.sum_errors(broken)
    assert list(errors.columns) == [f"Q{q.number}" for q in tree.QUESTIONS]
    assert np.allclose(errors["Q2"], 0.1)
    assert np.allclose(errors["Q9"], -0.1)  # Q9 still sums to the old Class2.1
    assert np.abs(errors.drop(columns=["Q2", "Q9"]).to_numpy()).max() < 1e-12


def test_label_noise_matches_hand_computed_rmse():
    rng = np.random.default_rng(2)
    reference = tree.as_frame(tree.normalise(rng.random((30, 37))))
    votes = reference + rng.normal(0, 0.05, reference.shape)
    model = reference + rng.normal(0, 0.1, reference.shape)
    table = metrics.label_noise(votes, reference, model.to_numpy())
    assert list(table.columns) == [
        "model vs volunteers",
        "model vs noise-free",
        "volunteers vs noise-free",
    ]
    assert table.index[-1] == "all" and len(table) == 12

    def rmse(a, b):
        return np.sqrt(np.mean((a.to_numpy() - b.to_numpy()) ** 2))

    assert np.isclose(table.loc["all", "model vs volunteers"], rmse(votes, model))
    assert np.isclose(table.loc["all", "volunteers vs noise-free"], rmse(votes, reference))
    q1 = list(tree.QUESTION_BY_NUMBER[1].columns)
    assert np.isclose(table.loc["Q1", "model vs noise-free"], rmse(model[q1], reference[q1]))
    with pytest.raises(GalaxyLabError, match="length"):
        metrics.label_noise(votes, reference.head(5), model.to_numpy())


# --------------------------------------------------------------------------- figures


def test_score_and_history_figures():
    table = pd.DataFrame(
        {"accuracy": [0.5, 0.7], "macro-F1": [0.2, 0.6]}, index=["baseline", "CNN"]
    )
    fig = plots.score_bars(
        table, references={"published": 0.8}, label="score (0–1)", title="Scores"
    )
    ax = fig.axes[0]
    assert ax.get_title() == "Scores" and ax.get_xlabel() == "score (0–1)"
    assert len(ax.patches) == 4 and ax.get_xlim()[1] > 0.8
    single = plots.score_bars({"a": 0.1, "b": 0.2}, label="RMSE")
    assert len(single.axes[0].patches) == 2
    with pytest.raises(GalaxyLabError):
        plots.score_bars({})

    history = pd.DataFrame(
        {
            "loss": [1.0, 0.8],
            "val_loss": [1.1, 0.9],
            "accuracy": [0.5, 0.6],
            "val_accuracy": [0.4, 0.5],
        }
    )
    fig = plots.training_curves(
        {"one": history, "two": history}, ylabels={"loss": "cross-entropy (nats)"}
    )
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel() == "cross-entropy (nats)"
    assert len(fig.axes[0].lines) == 4 and _has_text(fig)
    with pytest.raises(GalaxyLabError, match="rmse"):
        plots.training_curves({"one": history}, metrics=("rmse",))


def test_catalog_figures(small_universe):
    catalog = datasets.load(small_universe)
    fig = plots.threshold_curve(catalog)
    assert len(fig.axes[0].lines) == 4 and _has_text(fig)

    y_true = labels.class_indices(labels.three_class(catalog).astype(str))
    y_pred = y_true.copy()
    y_pred[:5] = (y_pred[:5] + 1) % 3
    probabilities = np.eye(3)[y_pred] * 0.9 + 0.05
    wrong = plots.outcome_gallery(
        catalog, y_true, y_pred, which="wrong", probabilities=probabilities, n=8
    )
    titles = [ax.get_title() for ax in wrong.axes if ax.get_title()]
    assert len(titles) == 5 and all("→" in t for t in titles)
    right = plots.outcome_gallery(catalog, y_true, y_pred, which="correct", n=4)
    assert len([ax for ax in right.axes if ax.get_title()]) == 4
    with pytest.raises(GalaxyLabError, match="no wrong"):
        plots.outcome_gallery(catalog, y_true, y_true, which="wrong")

    predicted = tree.as_frame(catalog[list(tree.COLUMNS)].to_numpy() * 0.5 + 0.25)
    fig = plots.prediction_scatter(catalog, predicted, ["Class1.1", "Class1.2"], 0.8)
    assert len(fig.axes) == 2 and "RMSE" in fig.axes[0].get_title() and _has_text(fig)
    heat = plots.crosstab_heatmap(
        ["a", "a", "b"], ["x", "y", "y"], ylabel="type", xlabel="class", title="t", normalise=True
    )
    assert heat.axes[0].get_ylabel() == "type"


def test_image_figures():
    images = np.random.default_rng(6).random((3, 10, 10, 3)).astype(np.float32)
    grid = plots.gallery(images, titles=["a", "b", "c"], ncols=2)
    assert [ax.get_title() for ax in grid.axes][:3] == ["a", "b", "c"]
    with pytest.raises(GalaxyLabError, match="titles"):
        plots.gallery(images, titles=["a"])
    hist = plots.channel_histograms(images, (images - 0.5) / 0.3)
    assert _has_text(hist)
    sigmoid = np.random.default_rng(8).random((5, 37))
    errors = {"tree": tree.sum_errors(tree.normalise(sigmoid)), "sigmoid": tree.sum_errors(sigmoid)}
    assert _has_text(plots.tree_sum_figure(errors))


def test_score_bars_draw_intervals_as_error_bars():
    scores = {"baseline": 0.5, "CNN": 0.8}
    fig = plots.score_bars(scores, intervals={"baseline": (0.45, 0.55), "CNN": (0.7, 0.85)})
    ax = fig.axes[0]
    assert ax.containers and ax.get_xlim()[1] > 0.85
    with pytest.raises(GalaxyLabError, match="intervals"):
        plots.score_bars(scores, intervals={"CNN": (0.7, 0.85)})


def test_mistake_gallery_and_threshold_scatter(small_universe):
    catalog = datasets.load(small_universe)
    y_true = labels.class_indices(labels.three_class(catalog).astype(str))
    y_pred = y_true.copy()
    y_pred[:6] = (y_pred[:6] + 1) % 3
    y_pred[6:8] = (y_pred[6:8] + 2) % 3
    probabilities = np.eye(3)[y_pred] * 0.9 + 0.05
    notes = [f"note {i}" for i in range(len(catalog))]
    fig = plots.mistake_gallery(
        catalog, y_true, y_pred, probabilities=probabilities, per_kind=3, notes=notes
    )
    kinds = {(int(t), int(p)) for t, p in zip(y_true, y_pred, strict=True) if t != p}
    rows = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert len(rows) == len(kinds) and all("→" in r and "galax" in r for r in rows)
    assert sum(int(r.split("(")[1].split()[0]) for r in rows) == 8
    assert any("note" in ax.get_title() for ax in fig.axes)
    with pytest.raises(GalaxyLabError, match="no wrong"):
        plots.mistake_gallery(catalog, y_true, y_true)

    scatter = plots.threshold_scatter(
        [0.7, 0.85, 0.9],
        [0.2, 0.6, 0.9],
        ["correct", "elliptical → unsure", "correct"],
        threshold=0.8,
        band=(0.73, 0.87),
        xlabel="fraction (0–1)",
        ylabel="probability (0–1)",
        title="t",
    )
    legend = [t.get_text() for t in scatter.axes[0].get_legend().get_texts()]
    assert "correct (2)" in legend and "elliptical → unsure (1)" in legend
    with pytest.raises(GalaxyLabError, match="group"):
        plots.threshold_scatter(
            [0.1], [0.2, 0.3], ["a"], threshold=0.8, xlabel="x", ylabel="y", title="t"
        )


def test_normalised_heatmaps_name_their_row_counts():
    fig = plots.confusion_heatmaps([[8, 2, 0], [1, 6, 3], [0, 0, 4]], labels.THREE_CLASSES)
    by_title = {ax.get_title(): ax for ax in fig.axes}
    normalised = by_title["normalised by row (recall on the diagonal)"]
    ticks = [t.get_text() for t in normalised.get_yticklabels()]
    assert ticks == ["elliptical\n(n = 10)", "spiral\n(n = 10)", "unsure\n(n = 4)"]
    heat = plots.crosstab_heatmap(
        ["a", "a", "b"], ["x", "y", "y"], ylabel="type", xlabel="class", title="t", normalise=True
    )
    assert [t.get_text() for t in heat.axes[0].get_yticklabels()] == ["a (n = 2)", "b (n = 1)"]
