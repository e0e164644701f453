"""Course notebooks are committed clean and follow the course template (docs/DESIGN.md).

Clean: no outputs, no execution counts, a Python 3 kernel. Template: a title, the Colab install
cell (tagged "colab", tests/test_colab.py checks its text), Overview, Prerequisites, Imports (one
code cell right after it, the only one that imports besides solutions and the Colab cell),
Summary, What's next and References sections, at least two "Your turn" exercises each followed
by a hidden, tagged solution cell, and a read of the quick-mode switch. These are static
checks; nbval runs the notebooks.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
SECTIONS = ("Overview", "Prerequisites", "Imports", "Summary", "What's next", "References")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _ids(path: Path) -> str:
    return path.stem


def _read(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(notebook)
    return notebook


def _headings(cell: nbformat.NotebookNode) -> list[str]:
    """Markdown headings of a cell, ignoring ``#`` comments inside fenced code blocks."""
    if cell.cell_type != "markdown":
        return []
    prose = FENCE.sub("", cell.source)
    return [m.group(2) for m in HEADING.finditer(prose)]


def _is_solution(cell: nbformat.NotebookNode) -> bool:
    return (
        cell.cell_type == "code"
        and "solution" in cell.metadata.get("tags", [])
        and cell.metadata.get("jupyter", {}).get("source_hidden") is True
        and bool(cell.source.strip())
    )


def _exercises(cells: list) -> list[tuple[int, int]]:
    """(start, stop) cell indices of each "Your turn" exercise: it runs until the next heading."""
    starts = [
        i
        for i, cell in enumerate(cells)
        if any(re.search(r"your turn", h, re.IGNORECASE) for h in _headings(cell))
    ]
    return [
        (start, next((i for i in range(start + 1, len(cells)) if _headings(cells[i])), len(cells)))
        for start in starts
    ]


def _is_colab(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and "colab" in cell.metadata.get("tags", [])


def test_the_course_starts_with_the_first_two_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert "00_start_here.ipynb" in names and "01_exploring_galaxy_zoo.ipynb" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_is_stripped(path: Path):
    notebook = _read(path)
    assert notebook.nbformat == 4
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"
    dirty = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts (nbstripout)"
    assert "widgets" not in notebook.metadata, f"{path.name}: saved widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_follows_the_template(path: Path):
    cells = _read(path).cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), "title first"
    assert _is_colab(cells[1]), f"{path.name}: the Colab install cell must follow the title"
    headings = [(i, h) for i, cell in enumerate(cells) for h in _headings(cell)]
    for section in SECTIONS:
        assert any(h.startswith(section) for _, h in headings), f"{path.name}: no {section}"
    order = [next(i for i, h in headings if h.startswith(s)) for s in SECTIONS]
    assert order == sorted(order), f"{path.name}: sections out of template order"
    imports_at = order[SECTIONS.index("Imports")]
    after = cells[imports_at + 1]
    assert after.cell_type == "code" and "import" in after.source, "imports follow 'Imports'"
    stray_imports = [
        i
        for i, cell in enumerate(cells)
        if cell.cell_type == "code"
        and i != imports_at + 1
        and not _is_solution(cell)
        and not _is_colab(cell)
        and re.search(r"^(import|from \S+ import) ", cell.source, re.MULTILINE)
    ]
    assert not stray_imports, f"{path.name}: imports outside the Imports cell at {stray_imports}"
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert "quick_mode()" in code, f"{path.name}: never reads the quick-mode switch"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_every_exercise_has_a_hidden_solution(path: Path):
    cells = _read(path).cells
    spans = _exercises(cells)
    assert len(spans) >= 2, f"{path.name}: {len(spans)} 'Your turn' exercises, need 2"
    for start, stop in spans:
        solutions = [c for c in cells[start + 1 : stop] if _is_solution(c)]
        assert solutions, f"{path.name}: exercise in cell {start} has no hidden solution cell"
    hidden_unlabelled = [
        i
        for i, cell in enumerate(cells)
        if cell.cell_type == "code"
        and cell.metadata.get("jupyter", {}).get("source_hidden")
        and not _is_solution(cell)
    ]
    assert not hidden_unlabelled, f"{path.name}: hidden cells not tagged 'solution'"


def _is_check(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and "check" in cell.metadata.get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_every_exercise_keeps_an_empty_cell_and_ends_with_a_self_check(path: Path):
    cells = _read(path).cells
    for start, stop in _exercises(cells):
        exercise = cells[start + 1 : stop]
        kinds = [
            "solution" if _is_solution(c) else "check" if _is_check(c) else "" for c in exercise
        ]
        assert any(
            c.cell_type == "code" and c.source.strip().startswith("# Your code here")
            for c in exercise
        ), f"{path.name}: exercise in cell {start} has no empty cell for the student"
        assert "check" in kinds and kinds.index("check") > kinds.index("solution"), (
            f"{path.name}: exercise in cell {start} has no self-check after its solution"
        )
        check = exercise[kinds.index("check")]
        assert re.search(r"\bcheck\w*\.\w+\(", check.source), (
            f"{path.name}: the check cell of the exercise in cell {start} calls no self-check"
        )
