"""Grading by self-checks: a handed-in notebook is run and each exercise's check is reported."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat

from galaxylab.checks import grade


def _notebook(path: Path) -> Path:
    cells = [
        nbformat.v4.new_markdown_cell("# A tiny lesson"),
        nbformat.v4.new_markdown_cell("### Your turn 1: a right answer"),
        nbformat.v4.new_code_cell("answer = 3"),
        nbformat.v4.new_code_cell(
            "from galaxylab import checks\nchecks.require(answer == 3, 'look again')\n"
            "checks.passed('three it is')",
            metadata={"tags": ["check"]},
        ),
        nbformat.v4.new_markdown_cell("### Your turn 2: a wrong answer"),
        nbformat.v4.new_code_cell("other = 4"),
        nbformat.v4.new_code_cell(
            "checks.require(other == 5, 'count the arms again')", metadata={"tags": ["check"]}
        ),
        nbformat.v4.new_markdown_cell("### Your turn 3: never answered"),
        nbformat.v4.new_code_cell("# Your code here"),
        nbformat.v4.new_code_cell("checks.require(missing > 0, 'x')", metadata={"tags": ["check"]}),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)
    return path


def test_each_exercise_is_reported_and_the_notebook_is_left_alone(tmp_path, capsys):
    path = _notebook(tmp_path / "handed_in.ipynb")
    before = path.read_bytes()
    assert grade.main([str(path), "--csv", str(tmp_path / "grades.csv")]) == 0
    out = capsys.readouterr().out
    assert "1 of 3 checks passed" in out
    with (tmp_path / "grades.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["exercise"], r["result"]) for r in rows] == [
        ("Your turn 1: a right answer", "passed"),
        ("Your turn 2: a wrong answer", "not yet"),
        ("Your turn 3: never answered", "error"),
    ]
    assert "count the arms again" in rows[1]["message"]
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_notebook_is_named(tmp_path, capsys):
    bad = tmp_path / "essay.ipynb"
    bad.write_text("not json", encoding="utf-8")
    assert grade.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert "essay.ipynb" in err and "cannot be read as a notebook" in err
