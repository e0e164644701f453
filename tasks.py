"""The course's single entry point: ``python3 tasks.py lab`` or ``python3 tasks.py test``.

Needs only Python 3.10–3.12 and pip. Both commands create ``.venv`` beside this file, install
galaxylab with its ``[dev]`` extras (again only when pyproject.toml changed), then open the course
in JupyterLab or run every test and notebook in quick mode.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".galaxylab-installed"


def _run(*command: str | Path, env: dict[str, str] | None = None) -> int:
    print("+", " ".join(str(c) for c in command), flush=True)
    return subprocess.call([str(c) for c in command], cwd=ROOT, env=env)


def setup() -> None:
    """Create .venv and install the package with its dev extras unless already up to date."""
    if sys.version_info[:2] not in {(3, 10), (3, 11), (3, 12)}:
        sys.exit(f"galaxylab needs Python 3.10-3.12 (3.11 recommended); this is {sys.version}")
    if not (BIN / "python").exists() and not (BIN / "python.exe").exists():
        print(f"creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    python = BIN / "python"
    steps = [
        (python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"),
        (python, "-m", "pip", "install", "--quiet", "-e", ".[dev]"),
    ]
    for step in steps:
        if _run(*step) != 0:
            sys.exit("installing galaxylab failed; see the pip messages above")
    STAMP.write_text(wanted)


def lab() -> int:
    """Open the course in JupyterLab at the first notebook."""
    setup()
    return _run(BIN / "jupyter", "lab", "notebooks/00_start_here.ipynb")


#: Style and type checks the test command runs first; any failure stops it.
CHECKED = ("galaxylab", "tests", "bench", "notebooks", "tasks.py")
CHECKS: tuple[tuple[str, ...], ...] = (
    ("ruff", "check", *CHECKED),
    ("ruff", "format", "--check", *CHECKED),
    ("mypy",),
)


def check() -> int:
    """Lint, formatting and type checks (ruff, mypy); 0 when all pass."""
    failed = [" ".join(command) for command in CHECKS if _run(BIN / command[0], *command[1:])]
    if failed:
        print(f"style checks failed: {'; '.join(failed)} (ruff format fixes formatting)")
        return 1
    return 0


def test(extra: list[str]) -> int:
    """Run the style checks, the unit tests and every notebook (nbval, quick mode)."""
    setup()
    if check() != 0:
        return 1
    env = dict(os.environ, GALAXYLAB_QUICK="1", MPLBACKEND="Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return _run(BIN / "python", "-m", "pytest", "--nbval-lax", "tests", "notebooks", *extra,
                env=env)


def main() -> int:
    """Dispatch ``lab`` or ``test`` (extra arguments after ``test`` go to pytest)."""
    if len(sys.argv) < 2 or sys.argv[1] not in {"lab", "test"}:
        print(__doc__.strip())
        return 2
    return lab() if sys.argv[1] == "lab" else test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
