"""Grade handed-in notebooks by their self-checks: run each one and report every exercise.

An instructor collects the students' notebooks (the student edition, filled in) and runs::

    python -m galaxylab.checks.grade submissions/*/02_three_class_cnn.ipynb --csv grades.csv

Each notebook runs top to bottom in a fresh kernel (in quick mode unless ``--default``), with
errors allowed so one broken cell does not hide the rest. Every cell tagged ``check`` counts:
"passed" when it printed a ✓ line, "not yet" when the check said what is still wrong, "error"
when the cell failed otherwise (for example a name the student never defined), and "not run"
when the notebook stopped before it. The notebooks themselves are never modified.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from galaxylab.errors import GalaxyLabError

EXERCISE_PREFIX = "### Your turn"


@dataclass(frozen=True)
class Outcome:
    """One exercise of one notebook: its title and what its check cell reported."""

    notebook: str
    exercise: str
    result: str  # "passed", "not yet", "error" or "not run"
    message: str


def _text(outputs: list) -> str:
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif output.get("output_type") == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}")
    return "".join(parts)


def outcomes(notebook: dict, name: str) -> list[Outcome]:
    """What each check cell of an executed notebook reported, under its exercise's title."""
    found = []
    title = "(before the first exercise)"
    for cell in notebook.get("cells", []):
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "markdown" and source.lstrip().startswith(EXERCISE_PREFIX):
            title = source.strip().splitlines()[0].lstrip("#").strip()
        if cell.get("cell_type") != "code" or "check" not in cell.get("metadata", {}).get(
            "tags", []
        ):
            continue
        outputs = cell.get("outputs", [])
        errors = [o for o in outputs if o.get("output_type") == "error"]
        text = _text(outputs).strip()
        if errors:
            result = "not yet" if errors[0].get("ename") == "NotYet" else "error"
        elif "✓" in text:
            result = "passed"
        else:
            result = "not run"
        found.append(Outcome(name, title, result, text.splitlines()[-1] if text else ""))
    return found


def run_notebook(path: Path, *, quick: bool = True, timeout: int = 1800) -> dict:
    """``path`` executed top to bottom in a fresh kernel, errors allowed; the file is unchanged."""
    import nbformat
    from nbclient import NotebookClient

    try:
        notebook = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as error:
        raise GalaxyLabError(f"{path}: cannot be read as a notebook ({error})") from error
    client = NotebookClient(
        notebook,
        timeout=timeout,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    before = os.environ.get("GALAXYLAB_QUICK")
    os.environ["GALAXYLAB_QUICK"] = "1" if quick else "0"  # the kernel inherits it
    try:
        client.execute()
    finally:
        if before is None:
            del os.environ["GALAXYLAB_QUICK"]
        else:
            os.environ["GALAXYLAB_QUICK"] = before
    return notebook


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m galaxylab.checks.grade NOTEBOOK ... [--csv FILE] [--default]``."""
    parser = argparse.ArgumentParser(
        prog="python -m galaxylab.checks.grade",
        description="Run handed-in notebooks and report each exercise's self-check.",
    )
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--csv", type=Path, help="also write one row per exercise to this file")
    parser.add_argument("--default", action="store_true", help="run in default mode, not quick")
    args = parser.parse_args(argv)
    rows: list[Outcome] = []
    for path in args.notebooks:
        try:
            executed = run_notebook(path, quick=not args.default)
        except GalaxyLabError as error:
            print(f"grade: error: {error}", file=sys.stderr)
            return 2
        found = outcomes(executed, str(path))
        passed = sum(o.result == "passed" for o in found)
        print(f"{path}: {passed} of {len(found)} checks passed")
        for outcome in found:
            print(f"  {outcome.result:8s} {outcome.exercise}  {outcome.message}")
        rows.extend(found)
    if args.csv:
        tmp = args.csv.with_name(f".{args.csv.name}.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["notebook", "exercise", "result", "message"])
            writer.writerows((o.notebook, o.exercise, o.result, o.message) for o in rows)
        os.replace(tmp, args.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
