"""The decision tree drawn: the Galaxy Zoo 2 flow chart, and one volunteer's path through it
beside the crowd's vote shares.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch
from matplotlib.text import Text

from galaxylab import tree
from galaxylab.errors import GalaxyLabError
from galaxylab.plots.common import new_axes, short

#: Where each question sits in the diagram: (column, row). Chosen for legibility; the boxes,
#: answers and arrows come from :data:`galaxylab.tree.QUESTIONS`.
DIAGRAM_GRID: dict[int, tuple[float, int]] = {
    1: (1.5, 0),
    7: (0.0, 1),
    2: (2.0, 1),
    9: (1.0, 2),
    3: (3.0, 2),
    10: (2.0, 3),
    4: (3.0, 3),
    11: (2.0, 4),
    5: (3.0, 4),
    6: (1.5, 5),
    8: (1.5, 6),
}


_LINE = 0.16  # height of one text line in the diagram, in inches (= data units)


_COLUMN_WIDTH = 2.7  # inches per grid column


def _question_box_text(q: tree.Question) -> str:
    header = rf"$\mathbf{{Q{q.number}}}$  {q.short}"
    text = "\n".join(textwrap.wrap(q.text, 30))
    answers = "\n".join(f"{short(a.column)} {a.label}" for a in q.answers)
    return f"{header}\n{text}\n{answers}"


def _edges() -> list[tuple[int, int | None, list[str]]]:
    """(question, next question or None for end, answer columns taking that route)."""
    out = []
    for q in tree.QUESTIONS:
        routes: dict[int | None, list[str]] = {}
        for a in q.answers:
            routes.setdefault(a.next_question, []).append(a.column)
        out += [(q.number, nxt, cols) for nxt, cols in routes.items()]
    return out


def tree_diagram(ax: Axes | None = None) -> Figure:
    """The Galaxy Zoo 2 decision tree as a flow chart: 11 question boxes, arrows per answer route.

    An arrow is labelled with the answers that take it when the question has several routes.
    """
    missing = {q.number for q in tree.QUESTIONS} - DIAGRAM_GRID.keys()
    if missing:
        raise GalaxyLabError(f"DIAGRAM_GRID has no place for question(s) {sorted(missing)}")
    texts = {q.number: _question_box_text(q) for q in tree.QUESTIONS}
    n_rows = max(r for _, r in DIAGRAM_GRID.values()) + 1
    row_lines = [
        max(texts[n].count("\n") + 1 for n, (_, r) in DIAGRAM_GRID.items() if r == row)
        for row in range(n_rows)
    ]
    gap = 0.55
    row_height = [lines * _LINE + gap for lines in row_lines]
    row_centre = np.cumsum(row_height) - np.asarray(row_height) / 2
    total = float(sum(row_height))
    width = 4 * _COLUMN_WIDTH + 0.4
    fig, ax = new_axes(ax, (width, total + 0.6))
    ax.set_xlim(-_COLUMN_WIDTH / 2 - 0.2, 3.5 * _COLUMN_WIDTH + 0.2)
    ax.set_ylim(total, 0)
    ax.set_axis_off()

    boxes = {}
    for number, (col, row) in DIAGRAM_GRID.items():
        boxes[number] = ax.text(
            col * _COLUMN_WIDTH,
            row_centre[row],
            texts[number],
            ha="center",
            va="center",
            fontsize=8,
            family="sans-serif",
            linespacing=1.15,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "#e8f0fb", "edgecolor": "#2b5d9c"},
        )
    end_style = {"boxstyle": "round4,pad=0.3", "facecolor": "#eeeeee", "edgecolor": "#777777"}
    edges = []
    for number, nxt, cols in _edges():
        source = boxes[number]
        if nxt is None:
            x0, y0 = source.get_position()
            target = ax.text(
                x0 + 0.95 * _COLUMN_WIDTH,
                y0,
                "end",
                ha="center",
                va="center",
                fontsize=8,
                bbox=end_style,
            )
        else:
            target = boxes[nxt]
        several = len(tree.QUESTION_BY_NUMBER[number].answers) != len(cols)
        label = (
            "\n".join(f"{short(c)} {tree.ANSWER_BY_COLUMN[c].label}" for c in cols)
            if several
            else ""
        )
        edges.append((source, target, label))

    # Box sizes are known only once text is laid out: labels go halfway along the visible arrow.
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    to_data = ax.transData.inverted()

    def half_size(box: Text) -> np.ndarray:
        corners = to_data.transform(box.get_window_extent(renderer).get_points())
        return np.abs(corners[1] - corners[0]) / 2 + 0.08

    style: dict[str, Any] = {
        "arrowstyle": "-|>",
        "mutation_scale": 12,
        "color": "#333333",
        "linewidth": 1,
    }
    for source, target, label in edges:
        start, stop = np.asarray(source.get_position()), np.asarray(target.get_position())
        ax.add_patch(
            FancyArrowPatch(
                tuple(start),
                tuple(stop),
                patchA=source.get_bbox_patch(),
                patchB=target.get_bbox_patch(),
                shrinkA=2,
                shrinkB=2,
                **style,
            )
        )
        if not label:
            continue
        step = np.abs(stop - start) + 1e-9
        leave = float(np.min(half_size(source) / step))
        enter = 1 - float(np.min(half_size(target) / step))
        x, y = start + (leave + enter) / 2 * (stop - start)
        vertical = abs(stop[0] - start[0]) < 0.1
        ax.text(
            x + 0.1 if vertical else x,
            y,
            label,
            ha="left" if vertical else "center",
            va="center",
            fontsize=7,
            color="#8a2b0f",
            bbox={
                "boxstyle": "round,pad=0.15",
                "facecolor": "white",
                "edgecolor": "none",
                "alpha": 0.9,
            },
        )
    ax.set_title(
        "The Galaxy Zoo 2 decision tree: 11 questions, 37 answers "
        "(red labels: answers that take an arrow)"
    )
    return fig


def path_votes(
    galaxy: pd.Series, chosen: Sequence[str], title: str = "Your answers and the crowd's"
) -> Figure:
    """For each question on a volunteer's path, the crowd's vote shares with the chosen answer
    highlighted: share = fraction of the volunteers who reached that question (0–1).

    ``galaxy`` is one catalog row; ``chosen`` the answer columns picked, in order.
    """
    if not chosen:
        raise GalaxyLabError("path_votes needs at least one answered question")
    shares = tree.row_shares(galaxy)
    questions = [tree.QUESTION_BY_NUMBER[tree.QUESTION_OF_COLUMN[c]] for c in chosen]
    height = 0.34 * sum(len(q.answers) for q in questions) + 0.75 * len(chosen) + 0.6
    fig, axes = plt.subplots(
        len(chosen), 1, figsize=(6.4, height), squeeze=False, layout="constrained"
    )
    highlight, other = sns.color_palette("colorblind")[1], "0.7"
    for ax, column, q in zip(axes[:, 0], chosen, questions, strict=True):
        values = [shares[tree.COLUMN_INDEX[c]] for c in q.columns]
        known = np.nan_to_num(values, nan=0.0)
        colors = [highlight if c == column else other for c in q.columns]
        bars = ax.barh(range(len(values)), known, color=colors)
        ax.bar_label(
            bars, labels=["?" if np.isnan(v) else f"{v:.2f}" for v in values], padding=2, fontsize=7
        )
        ax.set_yticks(range(len(values)), [a.label for a in q.answers], fontsize=8)
        for tick, c in zip(ax.get_yticklabels(), q.columns, strict=True):
            if c == column:  # visible even when the crowd gave this answer no votes
                tick.set_fontweight("bold")
                tick.set_color(highlight)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.1)
        ax.set_title(f"Q{q.number} {q.text}", fontsize=9, loc="left")
        ax.set_xlabel("share of the crowd at this question (0–1)", fontsize=8)
        ax.set_ylabel("answer", fontsize=8)
    fig.suptitle(
        f"{title}\n(highlighted: the answer chosen; ?: votes not in this catalog)", fontsize=10
    )
    return fig
