"""Interactive explorers for the course notebooks (ipywidgets).

Two widgets: :func:`answer_explorer` (pick a question, an answer and a vote threshold; see how
many galaxies pass and a gallery of them) and :func:`volunteer` ("be a volunteer": classify a
galaxy by walking the decision tree with buttons, then compare your path with the crowd's
vote fractions). The state transitions are plain functions (:func:`matching`,
:func:`start_path`, :func:`answer`, :func:`compare`) so they can be tested without a browser;
the classes only wire them to widgets and keep the widgets as attributes, so a test can set
a value or click a button and read what changed.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from galaxylab import datasets, plots, tree
from galaxylab.errors import GalaxyLabError

# --------------------------------------------------------------------------- pure logic


def matching(catalog: pd.DataFrame, column: str, threshold: float) -> pd.DataFrame:
    """Galaxies whose vote fraction for ``column`` is at least ``threshold``, highest first."""
    if column not in catalog.columns:
        raise GalaxyLabError(f"catalog has no column {column}")
    if not 0.0 <= threshold <= 1.0:
        raise GalaxyLabError(f"threshold must lie in [0, 1], got {threshold}")
    passing = catalog[catalog[column] >= threshold]
    return passing.sort_values(column, ascending=False, kind="stable")


@dataclass(frozen=True)
class VolunteerPath:
    """The answers a volunteer has given so far (Kaggle columns, in order)."""

    answers: tuple[str, ...] = ()

    @property
    def current(self) -> int | None:
        """The question to ask next (1 at the start), or None when the tree has ended."""
        if not self.answers:
            return 1
        return tree.ANSWER_BY_COLUMN[self.answers[-1]].next_question

    @property
    def finished(self) -> bool:
        """True once an answer has led to the end of the tree."""
        return self.current is None

    @property
    def questions(self) -> list[int]:
        """The questions answered so far, in order."""
        return [tree.QUESTION_OF_COLUMN[c] for c in self.answers]


def start_path() -> VolunteerPath:
    """A fresh path: nothing answered, question 1 next."""
    return VolunteerPath()


def answer(path: VolunteerPath, column: str) -> VolunteerPath:
    """The path after answering the current question with ``column`` (e.g. ``"Class1.1"``).

    Follows :attr:`galaxylab.tree.Answer.next_question`; answering a question that is not the
    current one, or answering after the end, raises GalaxyLabError.
    """
    if path.finished:
        raise GalaxyLabError(f"the tree has ended; {column} cannot be answered")
    q = tree.QUESTION_BY_NUMBER[int(path.current)]  # type: ignore[arg-type]
    if column not in q.columns:
        raise GalaxyLabError(
            f"{column} does not answer Q{q.number} ({q.short}); choose one of {q.columns}"
        )
    return VolunteerPath(path.answers + (column,))


def crowd_path(galaxy: pd.Series) -> VolunteerPath:
    """The path the crowd's favourite answer takes at every question (stops where votes are
    unknown), so a student can see where their own path left the majority's."""
    shares = tree.row_shares(galaxy)
    path = start_path()
    while path.current is not None:
        q = tree.QUESTION_BY_NUMBER[path.current]
        values = np.array([shares[tree.COLUMN_INDEX[c]] for c in q.columns])
        if np.isnan(values).any():
            break
        path = answer(path, q.columns[int(np.argmax(values))])
    return path


def compare(path: VolunteerPath, galaxy: pd.Series) -> pd.DataFrame:
    """One row per answered question: your answer, the crowd's share for it and its favourite.

    Shares are per question (the fraction of volunteers who reached that question), computed
    with :func:`galaxylab.tree.to_fractions` from the galaxy's cumulative columns; unknown
    columns give NaN and ``agree`` is then NA.
    """
    shares = tree.row_shares(galaxy)
    records = []
    for column in path.answers:
        q = tree.QUESTION_BY_NUMBER[tree.QUESTION_OF_COLUMN[column]]
        values = np.array([shares[tree.COLUMN_INDEX[c]] for c in q.columns])
        known = not np.isnan(values).any()
        best = q.columns[int(np.argmax(values))] if known else None
        records.append(
            {
                "question": q.number,
                "asked": q.text,
                "your_answer": tree.ANSWER_BY_COLUMN[column].label,
                "your_column": column,
                "crowd_share": float(shares[tree.COLUMN_INDEX[column]]),
                "crowd_favourite": tree.ANSWER_BY_COLUMN[best].label if best else None,
                "favourite_share": float(values.max()) if known else np.nan,
                "agree": (best == column) if known else pd.NA,
            }
        )
    return pd.DataFrame.from_records(
        records,
        columns=[
            "question",
            "asked",
            "your_answer",
            "your_column",
            "crowd_share",
            "crowd_favourite",
            "favourite_share",
            "agree",
        ],
    )


# --------------------------------------------------------------------------- rendering helpers


def _message_png(text: str) -> bytes:
    fig, ax = plt.subplots(figsize=(6, 1.2))
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, color="0.3")
    return plots.to_png(fig)


def _galaxy_png(galaxy: pd.Series) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(datasets.row_pixels(galaxy)).save(buffer, format="PNG")
    return buffer.getvalue()


def _describe(path: VolunteerPath) -> str:
    return " → ".join(
        f"Q{tree.QUESTION_OF_COLUMN[c]} {html.escape(tree.ANSWER_BY_COLUMN[c].label)}"
        for c in path.answers
    )


def _known(catalog: pd.DataFrame, column: str) -> bool:
    """True when the catalog has the column with at least one known value."""
    return column in catalog.columns and bool(catalog[column].notna().any())


def _question_options(catalog: pd.DataFrame) -> list[tuple[str, int]]:
    return [
        (f"Q{q.number} {q.short}", q.number)
        for q in tree.QUESTIONS
        if any(_known(catalog, c) for c in q.columns)
    ]


def _answer_options(catalog: pd.DataFrame, question: int) -> list[tuple[str, str]]:
    q = tree.QUESTION_BY_NUMBER[question]
    return [
        (f"{c.removeprefix('Class')} {a.label}", c)
        for a, c in zip(q.answers, q.columns, strict=True)
        if _known(catalog, c)
    ]


# --------------------------------------------------------------------------- answer explorer


class AnswerExplorer:
    """Question and answer drop-downs, a threshold slider, the count and a gallery.

    Widgets: ``question``, ``answer``, ``threshold``, ``count`` (HTML), ``gallery`` (Image);
    ``widget`` is the whole box. ``shown_ids`` lists the galaxies in the current gallery.
    """

    def __init__(
        self,
        catalog: pd.DataFrame,
        column: str = "Class1.1",
        threshold: float = 0.8,
        n: int = 8,
        seed: int = 0,
        crop: int | None = 212,
    ) -> None:
        options = _question_options(catalog)
        if not options:
            raise GalaxyLabError("catalog carries none of the 37 Galaxy Zoo label columns")
        if not _known(catalog, column):
            column = _answer_options(catalog, options[0][1])[0][1]
        self.catalog, self.n, self.seed, self.crop = catalog, n, seed, crop
        self.shown_ids: list[str] = []
        self.question = widgets.Dropdown(
            options=options, value=tree.QUESTION_OF_COLUMN[column], description="Question"
        )
        self.answer = widgets.Dropdown(
            options=_answer_options(catalog, self.question.value),
            value=column,
            description="Answer",
        )
        self.threshold = widgets.FloatSlider(
            value=threshold,
            min=0.0,
            max=1.0,
            step=0.05,
            description="Fraction ≥",
            continuous_update=False,
            readout_format=".2f",
        )
        self.count = widgets.HTML()
        self.gallery = widgets.Image(format="png")
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.question, self.answer]),
                self.threshold,
                self.count,
                self.gallery,
            ]
        )
        self.question.observe(self._on_question, names="value")
        self.answer.observe(self.update, names="value")
        self.threshold.observe(self.update, names="value")
        self.update()

    def _on_question(self, change: dict) -> None:
        options = _answer_options(self.catalog, change["new"])
        self.answer.options = options  # ipywidgets selects the first option and fires update
        if self.answer.value != options[0][1]:
            self.answer.value = options[0][1]

    def update(self, *_: object) -> None:
        """Recount the matching galaxies and redraw the gallery for the current choices."""
        column, threshold = self.answer.value, float(self.threshold.value)
        if column is None:
            return
        passing = matching(self.catalog, column, threshold)
        share = len(passing) / max(len(self.catalog), 1)
        self.count.value = (
            f"<b>{len(passing)}</b> of {len(self.catalog)} galaxies ({100 * share:.1f}%) have "
            f"{html.escape(tree.answer_label(column))} ≥ {threshold:.2f}"
        )
        if len(passing) == 0:
            self.shown_ids = []
            self.gallery.value = _message_png(f"no galaxy reaches {threshold:.2f}")
            return
        shown = plots.pick(passing, self.n, self.seed)
        self.shown_ids = [str(i) for i in shown["id"]]
        fig = plots.gallery(
            shown,
            n=self.n,
            ncols=4,
            column=column,
            panel_size=1.8,
            crop=self.crop,
            title=f"{tree.answer_label(column)} ≥ {threshold:.2f}: {len(shown)} of {len(passing)}",
        )
        self.gallery.value = plots.to_png(fig)

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        return self.widget._repr_mimebundle_(**kwargs)


def answer_explorer(catalog: pd.DataFrame, **options: Any) -> AnswerExplorer:
    """An explorer over ``catalog``: choose an answer and a threshold, see the passing galaxies;
    ``options`` are :class:`AnswerExplorer`'s (column, threshold, n, seed, crop)."""
    return AnswerExplorer(catalog, **options)


# --------------------------------------------------------------------------- be a volunteer


class Volunteer:
    """Classify one galaxy by walking the tree with buttons, then compare with the crowd.

    Widgets: ``image`` (the galaxy), ``prompt`` (the current question), ``buttons`` (one per
    answer, rebuilt at every step), ``progress`` (your path), ``result`` (the comparison
    figure once the tree ends), ``summary`` (HTML), ``another`` and ``restart`` buttons.
    ``path`` and ``comparison`` hold the state.
    """

    def __init__(self, catalog: pd.DataFrame, galaxy_id: str | None = None, seed: int = 0) -> None:
        if len(catalog) == 0:
            raise GalaxyLabError("the volunteer widget needs at least one galaxy")
        self.catalog = catalog
        self._rng = np.random.default_rng(seed)
        self.path = start_path()
        self.comparison: pd.DataFrame | None = None
        self.image = widgets.Image(format="png", width=300, height=300)
        self.prompt = widgets.HTML()
        self.answers_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.buttons: list[widgets.Button] = []
        self.progress = widgets.HTML()
        self.summary = widgets.HTML()
        self.result = widgets.Image(format="png")
        self.another = widgets.Button(description="Another galaxy", icon="random")
        self.restart = widgets.Button(description="Start again", icon="undo")
        self.another.on_click(lambda _: self.show(None))
        self.restart.on_click(lambda _: self.reset())
        self.widget = widgets.VBox(
            [
                widgets.HBox(
                    [
                        self.image,
                        widgets.VBox(
                            [
                                self.prompt,
                                self.answers_box,
                                self.progress,
                                widgets.HBox([self.restart, self.another]),
                            ],
                            layout=widgets.Layout(padding="0 0 0 12px"),
                        ),
                    ]
                ),
                self.summary,
                self.result,
            ]
        )
        self.show(galaxy_id)

    @property
    def galaxy(self) -> pd.Series:
        """The catalog row being classified."""
        return self.catalog.iloc[self._position]

    def show(self, galaxy_id: str | None) -> None:
        """Start over on ``galaxy_id`` (None = a random galaxy)."""
        if galaxy_id is None:
            self._position = int(self._rng.integers(len(self.catalog)))
        else:
            hits = np.flatnonzero(self.catalog["id"].astype(str).to_numpy() == str(galaxy_id))
            if len(hits) == 0:
                raise GalaxyLabError(f"no galaxy with id {galaxy_id} in the catalog")
            self._position = int(hits[0])
        self.image.value = _galaxy_png(self.galaxy)
        self.reset()

    def reset(self) -> None:
        """Forget the answers given to this galaxy and ask question 1 again."""
        self.path = start_path()
        self.comparison = None
        self.summary.value = ""
        self.result.value = b""
        self._render()

    def choose(self, column: str) -> None:
        """Answer the current question with ``column`` (what each button does)."""
        self.path = answer(self.path, column)
        if self.path.finished:
            self._finish()
        self._render()

    def _render(self) -> None:
        steps = _describe(self.path)
        self.progress.value = f"<small>Galaxy {html.escape(str(self.galaxy['id']))}" + (
            f" · your path: {steps}</small>" if steps else "</small>"
        )
        if self.path.finished:
            self.prompt.value = "<b>End of the tree.</b> Compare with the crowd below."
            self.buttons = []
        else:
            q = tree.QUESTION_BY_NUMBER[int(self.path.current)]  # type: ignore[arg-type]
            self.prompt.value = f"<b>Q{q.number}</b> {html.escape(q.text)}"
            self.buttons = []
            for a in q.answers:
                button = widgets.Button(description=a.label, tooltip=a.column)
                button.on_click(lambda _, column=a.column: self.choose(column))
                self.buttons.append(button)
        self.answers_box.children = tuple(self.buttons)

    def _finish(self) -> None:
        self.comparison = compare(self.path, self.galaxy)
        known = self.comparison["agree"].dropna()
        if len(known):
            self.summary.value = (
                f"You chose the crowd's favourite answer on <b>{int(known.sum())} of "
                f"{len(known)}</b> questions whose votes this catalog knows."
            )
        else:
            self.summary.value = "This catalog has no votes for the questions you answered."
        majority = crowd_path(self.galaxy)
        if majority.answers:
            ending = "" if majority.finished else " → (votes unknown beyond here)"
            self.summary.value += f"<br>The crowd's majority path: {_describe(majority)}{ending}"
        self.result.value = plots.to_png(
            plots.path_votes(
                self.galaxy,
                list(self.path.answers),
                title=f"Galaxy {self.galaxy['id']}: your answers and the crowd's",
            )
        )

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        return self.widget._repr_mimebundle_(**kwargs)


def volunteer(catalog: pd.DataFrame, galaxy_id: str | None = None, seed: int = 0) -> Volunteer:
    """The "be a volunteer" widget on one galaxy of ``catalog`` (random by ``seed`` if no id)."""
    return Volunteer(catalog, galaxy_id=galaxy_id, seed=seed)
