"""Figures: what they draw matches the data, they carry titles and labels, bad input is refused."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Rectangle  # noqa: E402
from PIL import Image  # noqa: E402

from galaxylab import plots, tree  # noqa: E402
from galaxylab.errors import GalaxyLabError  # noqa: E402
from galaxylab.plots import images as image_plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """40 galaxies with tree-consistent random vote fractions and tiny JPEGs (seeded)."""
    rng = np.random.default_rng(11)
    fractions = np.empty((40, len(tree.COLUMNS)))
    for _, cols in tree.question_slices():
        fractions[:, cols] = rng.dirichlet(np.ones(cols.stop - cols.start) * 0.6, size=40)
    cumulative = tree.to_cumulative(fractions)
    folder = tmp_path_factory.mktemp("tiny")
    paths = []
    for i in range(40):
        path = folder / f"{1000 + i}.jpg"
        pixels = rng.integers(0, 255, size=(24, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    table = pd.DataFrame(cumulative, columns=list(tree.COLUMNS))
    table.insert(0, "image", paths)
    table.insert(0, "id", [str(1000 + i) for i in range(40)])
    return table


def _labelled(fig: plt.Figure) -> None:
    """Every panel that shows data has a title (or the figure a suptitle) and axis labels."""
    suptitle = fig._suptitle.get_text() if fig._suptitle else ""
    drawn = [ax for ax in fig.axes if ax.has_data() and ax.get_label() != "<colorbar>"]
    assert drawn, "figure draws nothing"
    for ax in drawn:
        assert ax.get_title() or ax.get_title(loc="left") or suptitle
        if not ax.images:  # image panels have no data axes
            assert ax.get_xlabel() and ax.get_ylabel()


def test_gallery_reads_only_the_shown_images(catalog, monkeypatch):
    calls = []
    real = image_plots.row_pixels
    monkeypatch.setattr(
        image_plots, "row_pixels", lambda row: calls.append(row["image"]) or real(row)
    )
    fig = plots.gallery(catalog, n=6, ncols=3, column="Class1.1", seed=2)
    assert len(calls) == 6
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6
    titles = [ax.get_title() for ax in shown]
    for title, path in zip(titles, calls, strict=True):
        galaxy = catalog[catalog["image"] == path].iloc[0]
        assert title.startswith(galaxy["id"])
        assert f"{galaxy['Class1.1']:.2f}" in title
    assert "32×24 px" in fig._suptitle.get_text()
    _labelled(fig)


def test_gallery_is_deterministic_and_checks_input(catalog):
    first = [ax.get_title() for ax in plots.gallery(catalog, n=4, seed=5).axes if ax.images]
    again = [ax.get_title() for ax in plots.gallery(catalog, n=4, seed=5).axes if ax.images]
    other = [ax.get_title() for ax in plots.gallery(catalog, n=4, seed=6).axes if ax.images]
    assert first == again and first != other
    with pytest.raises(GalaxyLabError, match="empty"):
        plots.gallery(catalog.iloc[:0])
    with pytest.raises(GalaxyLabError, match="2 titles for 3 galaxies"):
        plots.gallery(catalog.head(3), titles=["a", "b"])
    with pytest.raises(GalaxyLabError, match="Class99"):
        plots.gallery(catalog, column="Class99.1")


def test_answer_gallery_shows_only_passing_galaxies(catalog):
    columns = ["Class1.1", "Class1.3"]
    fig = plots.answer_gallery(catalog, columns, threshold=0.6, n=4)
    grid = np.array(fig.axes).reshape(len(columns), 4)
    for row, column in zip(grid, columns, strict=True):
        passing = int((catalog[column] >= 0.6).sum())
        assert f"({passing} galaxies)" in row[0].get_ylabel()
        shown = [ax for ax in row if ax.images]
        assert len(shown) == min(4, passing)
        for ax in shown:
            assert float(ax.get_title().split("=")[1]) >= 0.6 - 0.005
    assert "0.6" in fig._suptitle.get_text()


def test_class_balance_counts_every_class(catalog):
    labels = pd.Series(["spiral"] * 5 + ["unsure"] * 2)
    fig = plots.class_balance(labels, classes=["elliptical", "spiral", "unsure"])
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == [0, 5, 2]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["elliptical", "spiral", "unsure"]
    _labelled(fig)


def test_answer_counts_match_the_threshold(catalog):
    fig = plots.answer_counts(catalog, threshold=0.5)
    widths = [p.get_width() for p in fig.axes[0].patches]
    assert widths == [int((catalog[c] > 0.5).sum()) for c in tree.COLUMNS]
    assert len(fig.axes[0].get_yticklabels()) == 37
    _labelled(fig)


def test_vote_distributions_histograms_count_known_values(catalog):
    table = catalog.copy()
    table.loc[:4, "Class1.2"] = np.nan
    fig = plots.vote_distributions(table, ["Class1.1", "Class1.2"], bins=10)
    panels = [ax for ax in fig.axes if ax.patches]
    assert len(panels) == 2
    assert sum(p.get_height() for p in panels[1].patches) == table["Class1.2"].notna().sum()
    _labelled(fig)


def test_vote_distributions_compares_samples_and_draws_violins(catalog):
    fig = plots.vote_distributions({"a": catalog, "b": catalog.head(10)}, ["Class6.1"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    assert "density" in ax.get_ylabel()
    violin = plots.vote_distributions(catalog, ["Class1.1", "Class1.2", "Class1.3"], kind="violin")
    assert [t.get_text() for t in violin.axes[0].get_xticklabels()] == ["1.1", "1.2", "1.3"]
    _labelled(violin)
    with pytest.raises(GalaxyLabError, match="kind"):
        plots.vote_distributions(catalog, ["Class1.1"], kind="pie")


def test_tree_dependence_puts_the_sum_on_the_diagonal(catalog):
    fig = plots.tree_dependence(catalog, 2)
    ax = fig.axes[0]
    sums = ax.collections[-1].get_offsets()
    np.testing.assert_allclose(sums[:, 0], catalog["Class1.2"], atol=1e-12)
    np.testing.assert_allclose(sums[:, 1], catalog["Class1.2"], atol=1e-9)
    assert len(ax.collections) == 3  # two answers and their sum
    _labelled(fig)
    with pytest.raises(GalaxyLabError, match="sum to 1"):
        plots.tree_dependence(catalog, 1)
    with pytest.raises(GalaxyLabError, match="no question 12"):
        plots.tree_dependence(catalog, 12)


def test_correlation_heatmap_has_one_row_per_column(catalog):
    columns = ["Class1.1", "Class1.2", "Class2.1", "Class2.2"]
    fig = plots.correlation_heatmap(catalog, columns)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1.1", "1.2", "2.1", "2.2"]
    values = ax.collections[0].get_array().reshape(4, 4)
    np.testing.assert_allclose(values, catalog[columns].corr().to_numpy())
    _labelled(fig)


def test_truth_vs_votes_reports_rmse(catalog):
    truth = pd.DataFrame({"true_Class1.1": catalog["Class1.1"] + 0.1})
    fig = plots.truth_vs_votes(catalog, truth, ["Class1.1"])
    assert "RMSE 0.100" in fig.axes[0].get_title()
    _labelled(fig)
    with pytest.raises(GalaxyLabError, match="true_Class1.2"):
        plots.truth_vs_votes(catalog, truth, ["Class1.2"])
    with pytest.raises(GalaxyLabError, match="rows"):
        plots.truth_vs_votes(catalog, truth.head(3), ["Class1.1"])
    expected = pd.DataFrame({"id": catalog["id"], "expected_Class1.1": catalog["Class1.1"]})
    fig = plots.truth_vs_votes(catalog, expected, ["Class1.1"], prefix="expected_")
    assert "RMSE 0.000" in fig.axes[0].get_title()
    assert fig.axes[0].get_xlabel().startswith("infinite crowd")
    shuffled = expected.iloc[::-1].reset_index(drop=True)
    with pytest.raises(GalaxyLabError, match="align them by id"):
        plots.truth_vs_votes(catalog, shuffled, ["Class1.1"], prefix="expected_")


def test_truth_vs_votes_splits_votes_by_a_yes_no_truth(catalog):
    answer = (catalog["Class1.1"] > 0.5).astype(float)
    truth = pd.DataFrame({"true_Class1.1": answer})
    fig = plots.truth_vs_votes(catalog, truth, ["Class1.1"])
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["perfect observer: no", "perfect observer: yes"]
    heights = [p.get_height() for p in ax.patches]
    assert sum(heights[:20]) == (answer == 0).sum() and sum(heights[20:]) == (answer == 1).sum()
    rmse = np.sqrt(np.mean((answer - catalog["Class1.1"]) ** 2))
    assert f"RMSE {rmse:.3f}" in ax.get_title()
    _labelled(fig)


def test_tree_diagram_draws_every_question_and_route():
    fig = plots.tree_diagram()
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    for q in tree.QUESTIONS:
        boxes = [t for t in texts if t.startswith(f"$\\mathbf{{Q{q.number}}}$")]
        assert len(boxes) == 1, q.number
        for a in q.answers:
            assert f"{a.column.removeprefix('Class')} {a.label}" in boxes[0]
    routes = {(q.number, a.next_question) for q in tree.QUESTIONS for a in q.answers}
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == len(routes)
    assert texts.count("end") == sum(1 for _, nxt in routes if nxt is None)
    assert "decision tree" in ax.get_title()
    fig.canvas.draw()  # the arrows clip to their boxes at draw time


def test_history_curves_one_panel_per_metric():
    history = pd.DataFrame(
        {
            "epoch": [0, 1, 2],
            "loss": [1.0, 0.7, 0.5],
            "val_loss": [1.1, 0.8, 0.7],
            "accuracy": [0.4, 0.6, 0.7],
            "val_accuracy": [0.4, 0.5, 0.6],
            "learning_rate": 1e-3,
        }
    )
    fig = plots.training_curves(history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["training", "validation"]
    assert list(lines[0].get_xdata()) == [1, 2, 3]
    assert list(lines[1].get_ydata()) == [1.1, 0.8, 0.7]
    _labelled(fig)
    with pytest.raises(GalaxyLabError, match="no epochs"):
        plots.training_curves(history.iloc[:0])
    with pytest.raises(GalaxyLabError, match="rmse"):
        plots.training_curves(history, metrics=["rmse"])


def test_learning_curve_draws_intervals_and_references():
    curves = {
        "fine-tuned": pd.DataFrame(
            {"n": [50, 100], "score": [0.6, 0.7], "low": [0.5, 0.6], "high": [0.7, 0.8]}
        ),
        "from scratch": pd.DataFrame({"n": [50, 100], "score": [0.4, 0.5]}),
    }
    fig = plots.learning_curve(curves, references={"baseline": 0.27}, ylabel="macro-F1 (0-1)")
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert set(labels) == {"fine-tuned", "from scratch", "baseline: 0.270"}
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["50", "100"]
    _labelled(fig)
    with pytest.raises(GalaxyLabError, match="at least one"):
        plots.learning_curve({})
    with pytest.raises(GalaxyLabError, match="columns n and score"):
        plots.learning_curve({"bad": pd.DataFrame({"x": [1]})})


def test_confusion_heatmaps_counts_and_row_normalised():
    matrix = [[8, 2, 0], [1, 6, 3], [0, 0, 0]]
    fig = plots.confusion_heatmaps(matrix, ["elliptical", "spiral", "unsure"])
    by_title = {ax.get_title(): ax for ax in fig.axes}
    counts_ax, norm_ax = by_title["counts"], by_title["normalised by row (recall on the diagonal)"]
    counts = counts_ax.collections[0].get_array().reshape(3, 3)
    normalised = norm_ax.collections[0].get_array().reshape(3, 3)
    np.testing.assert_array_equal(counts, matrix)
    np.testing.assert_allclose(normalised[:2].sum(axis=1), 1.0)
    np.testing.assert_allclose(normalised[2], 0.0)  # an empty true class stays at zero
    assert "0.80" in [t.get_text() for t in norm_ax.texts]
    _labelled(fig)
    with pytest.raises(GalaxyLabError, match="3 labels"):
        plots.confusion_heatmaps([[1, 2], [3, 4]], ["a", "b", "c"])


def test_rmse_bars_with_references():
    fig = plots.score_bars(
        {1: 0.12, "Q6": 0.2},
        references={"all zeros": 0.2716},
        label="RMSE (vote fraction, 0–1)",
        orientation="vertical",
    )
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches if isinstance(p, Rectangle)][:2] == [0.12, 0.2]
    assert ax.get_xticklabels()[1].get_text().startswith("Q6")
    assert any(line.get_ydata()[0] == 0.2716 for line in ax.get_lines())
    _labelled(fig)
    with pytest.raises(GalaxyLabError, match="Q12"):
        plots.score_bars({"Q12": 0.1})


def test_path_votes_highlights_the_chosen_answers(catalog):
    galaxy = catalog.iloc[0]
    fig = plots.path_votes(galaxy, ["Class1.2", "Class2.2"])
    q2 = fig.axes[1]
    shares = [p.get_width() for p in q2.patches]
    np.testing.assert_allclose(sum(shares), 1.0)  # per-question shares, not cumulative
    colours = [p.get_facecolor() for p in q2.patches]
    assert colours[0] != colours[1]
    _labelled(fig)
    with pytest.raises(GalaxyLabError, match="at least one"):
        plots.path_votes(galaxy, [])


def test_to_png_renders_and_closes():
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    data = plots.to_png(fig)
    assert data.startswith(b"\x89PNG")
    assert not plt.fignum_exists(fig.number)
