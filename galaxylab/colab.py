"""Google Colab support: the install cell every notebook starts with, and its "Open in Colab" badge.

On Colab a notebook opens alone, without the project around it, so its first code cell
(:data:`INSTALL_CELL`) clones the course and installs galaxylab into the running kernel. Anywhere
else that cell does nothing: no output, no network, no file. ``python -m galaxylab.colab
notebooks/*.ipynb`` puts the badge and the cell into notebooks (again) after they were edited.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

#: The course repository (the same address as the Binder badge) and the branch badges open.
REPOSITORY = "galaxylab/galaxylab"
BRANCH = "main"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
#: The tag and cell id of the install cell in every notebook.
INSTALL_TAG = "colab"
INSTALL_CELL_ID = "colab-install"

#: The first code cell of every notebook. Pure Python (no ``!`` or ``%`` lines), so it runs
#: the same under nbval, ipython and plain Python; the clone is not named ``galaxylab`` so it
#: can never pass for the package from Colab's working folder.
INSTALL_CELL = f"""\
# Google Colab only: fetch the course and install galaxylab into this runtime (about a minute,
# once per session). Anywhere else (your computer, Binder) this cell does nothing at all.
import sys

if "google.colab" in sys.modules:
    import importlib
    import importlib.util
    import os
    import subprocess

    if importlib.util.find_spec("galaxylab") is None:
        url, clone = "https://github.com/{REPOSITORY}", "/content/galaxylab-course"
        if not os.path.isdir(clone):
            subprocess.run(["git", "clone", "--quiet", "--depth=1", url, clone], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", clone], check=True)
        importlib.invalidate_caches()
        print("galaxylab is installed: run the rest of the notebook")"""


def notebook_url(name: str) -> str:
    """The address that opens the course notebook ``name`` (``00_start_here.ipynb``) in Colab."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/notebooks/{name}"


def badge(name: str) -> str:
    """The Markdown "Open in Colab" badge for the course notebook ``name``."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({notebook_url(name)})"


def _text(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _like(original: str | list[str], text: str) -> str | list[str]:
    """``text`` in the form ``original`` had: one string (nbformat) or a list of lines (JSON)."""
    return text if isinstance(original, str) else text.splitlines(keepends=True)


def with_badge(title: str, name: str) -> str:
    """The title cell's Markdown with the notebook's Colab badge on its own line after the title
    (an older Colab badge is dropped first)."""
    first, *rest = [line for line in title.split("\n") if BADGE_IMAGE not in line]
    while rest and not rest[0].strip():
        rest.pop(0)
    return "\n".join([first, "", badge(name), *(["", *rest] if rest else [])])


def install_cell(json_form: bool = True) -> dict[str, Any]:
    """The install cell as a notebook cell (source as a list of lines when ``json_form``)."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": INSTALL_CELL_ID,
        "metadata": {"tags": [INSTALL_TAG]},
        "outputs": [],
        "source": INSTALL_CELL.splitlines(keepends=True) if json_form else INSTALL_CELL,
    }


def add_to_notebook(notebook: dict[str, Any], name: str) -> None:
    """Give ``notebook`` (JSON or nbformat form) its badge and, after the title, the install cell.

    Any older install cell (tagged ``colab``) is replaced; no other cell is touched.
    """
    cells = notebook["cells"]
    title = cells[0]
    title["source"] = _like(title["source"], with_badge(_text(title["source"]), name))
    cells[:] = [cells[0], *(c for c in cells[1:] if INSTALL_TAG not in _tags(c))]
    cells.insert(1, install_cell(json_form=not isinstance(title["source"], str)))


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def main(paths: list[str]) -> int:
    """Add the badge and install cell to each notebook file named, in nbformat's JSON layout."""
    for path in map(Path, paths):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        add_to_notebook(notebook, path.name)
        text = json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")
        print(f"{path}: Colab badge and install cell in place")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
