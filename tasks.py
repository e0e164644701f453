"""The course's single entry point; needs only Python 3.10-3.12 with pip.

    python3 tasks.py lab [ARGS...]    set up .venv, open the course in JupyterLab (ARGS go to it)
    python3 tasks.py test [ARGS...]   set up .venv, run every check, test and notebook (quick mode;
                                      ARGS go to pytest)
    python3 tasks.py student OUT      write the student edition of the notebooks (no solutions)
    python3 tasks.py lock             remake requirements.lock in a fresh temporary venv

Setting up creates ``.venv`` beside this file and installs galaxylab with its ``[dev]`` extras,
pinned by requirements.lock; it installs again only when pyproject.toml or the lock changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".galaxylab-installed"
LOCK = ROOT / "requirements.lock"
NOTEBOOKS = ROOT / "notebooks"
PACKAGE = ROOT / "galaxylab"
FIRST_NOTEBOOK = "00_start_here.ipynb"
SUPPORTED = {(3, 10), (3, 11), (3, 12)}


def _say(message: str) -> None:
    """One progress line, flushed at once so it shows before a long step's own output."""
    print(message, flush=True)


def _run(*command: str | Path, env: dict[str, str] | None = None) -> int:
    """Run a command from the project folder, echoing it first; its exit status."""
    _say("+ " + " ".join(str(c) for c in command))
    return subprocess.call([str(c) for c in command], cwd=ROOT, env=env)


def _venv_python(venv_dir: Path) -> Path:
    """The interpreter of the virtual environment in ``venv_dir``."""
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


# --- the locked environment ------------------------------------------------------------------


def lock_python(text: str) -> str | None:
    """The ``major.minor`` Python version a lock file's header says it was made with."""
    match = re.search(r"^# made with Python (\d+\.\d+)", text, re.MULTILINE)
    return match.group(1) if match else None


def lock_applies() -> bool:
    """True when requirements.lock exists and was made with this Python's major.minor.

    Its pins are one consistent set for that Python; another version may need other releases
    (numpy, for one, drops old Pythons), so there the version ranges of pyproject.toml decide.
    """
    if not LOCK.is_file():
        return False
    return lock_python(LOCK.read_text(encoding="utf-8")) == "{}.{}".format(*sys.version_info)


def install_stamp() -> str:
    """A hash of what an install depends on: pyproject.toml, the lock, and whether it applies."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    if LOCK.is_file():
        digest.update(LOCK.read_bytes())
    digest.update(b"locked" if lock_applies() else b"ranges")
    return digest.hexdigest()


def install_steps(python: Path) -> list[tuple[str, list[str | Path]]]:
    """The pip commands that install galaxylab and its dev extras, each with a progress line."""
    constraints: list[str | Path] = ["-c", LOCK.name] if lock_applies() else []
    source = "requirements.lock" if constraints else "pyproject.toml's version ranges"
    pip = [python, "-m", "pip", "install"]
    return [
        ("updating pip…", [*pip, "--quiet", *constraints, "--upgrade", "pip"]),
        (
            f"installing galaxylab and its dependencies from {source} "
            "(first time: several minutes)…",
            [*pip, *constraints, "-e", ".[dev]"],
        ),
    ]


def setup() -> None:
    """Create .venv and install the package with its dev extras unless already up to date."""
    if sys.version_info[:2] not in SUPPORTED:
        sys.exit(f"galaxylab needs Python 3.10-3.12 (3.11 recommended); this is {sys.version}")
    python = _venv_python(VENV)
    if not python.exists():
        _say(f"creating .venv… (a virtual environment in {VENV})")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = install_stamp()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if LOCK.is_file() and not lock_applies():
        _say(
            f"requirements.lock was made with Python {lock_python(LOCK.read_text())}, this is "
            f"{platform.python_version()}: installing from pyproject.toml's ranges instead"
        )
    for message, command in install_steps(python):
        _say(message)
        if _run(*command) != 0:
            sys.exit("installing galaxylab failed; see the pip messages above")
    STAMP.write_text(wanted)
    _say("galaxylab is installed in .venv")


def lock_header(python_version: str, system: str) -> str:
    """The comment block at the top of requirements.lock: what it is and how it was made."""
    return (
        "# requirements.lock: the exact version of every package the course, Binder and CI\n"
        "# install (galaxylab's dependencies with its dev extras), as pip constraints.\n"
        "# Used by: python3 tasks.py (pip install -c requirements.lock -e .[dev]) and\n"
        "# environment.yml (Binder). pyproject.toml keeps the version ranges.\n"
        "# Remade by: python3 tasks.py lock (a fresh venv, the newest pip, setuptools and wheel,\n"
        "# pip install -e .[dev] without constraints, then pip freeze --all --exclude-editable).\n"
        f"# made with Python {python_version} on {system}\n"
    )


def lock_lines(freeze: str) -> list[str]:
    """The ``name==version`` lines of ``pip freeze`` output, sorted by name, without galaxylab."""
    pins = [line.strip() for line in freeze.splitlines() if "==" in line]
    pins = [line for line in pins if not line.lower().startswith("galaxylab==")]
    return sorted(pins, key=lambda line: line.split("==")[0].lower().replace("_", "-"))


def lock() -> int:
    """Remake requirements.lock: resolve ``-e .[dev]`` afresh in a temporary venv and freeze it."""
    with tempfile.TemporaryDirectory(prefix="galaxylab-lock-") as tmp:
        _say(f"creating a fresh virtual environment in {tmp}…")
        venv.EnvBuilder(with_pip=True).create(tmp)
        python = _venv_python(Path(tmp))
        _say("installing the newest pip, setuptools and wheel…")
        if _run(
            python, "-m", "pip", "install", "--quiet", "--upgrade", "pip", "setuptools", "wheel"
        ):
            return 1
        _say("installing galaxylab with its dev extras, without constraints (several minutes)…")
        if _run(python, "-m", "pip", "install", "-e", ".[dev]"):
            return 1
        freeze = subprocess.run(
            [python, "-m", "pip", "freeze", "--all", "--exclude-editable"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        version = subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    pins = lock_lines(freeze)
    system = f"{platform.system()} {platform.machine()}"
    staged = LOCK.with_suffix(".lock.tmp")
    staged.write_text(lock_header(version, system) + "\n".join(pins) + "\n", encoding="utf-8")
    staged.replace(LOCK)
    _say(f"wrote {LOCK.name}: {len(pins)} packages, Python {version} on {system}")
    return 0


# --- the commands ------------------------------------------------------------------------------


def lab_command(extra: Sequence[str], is_root: bool) -> list[str]:
    """The JupyterLab command line: serving notebooks/, at the first notebook (also the address
    it prints, for ``--no-browser``), --allow-root for root, then ``extra`` (later options win)."""
    command = [
        str(BIN / "jupyter"),
        "lab",
        f"--ServerApp.root_dir={NOTEBOOKS}",
        f"--LabApp.default_url=/lab/tree/{FIRST_NOTEBOOK}",
    ]
    if is_root and "--allow-root" not in extra:
        command.append("--allow-root")
    return [*command, *extra]


def _is_root() -> bool:
    """True when running as root (POSIX), where JupyterLab refuses to start without a flag."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


#: Seconds JupyterLab gets to exit after a SIGTERM before it is killed: its own shutdown is
#: done by then, but idle AnyIO worker threads can keep its interpreter from ever exiting.
STOP_GRACE = 15


def serve(command: Sequence[str]) -> int:
    """Run JupyterLab as a child and return its exit status.

    Ctrl+C reaches it straight from the terminal (so this process ignores SIGINT); SIGTERM and
    SIGHUP are passed on, and a child still alive STOP_GRACE seconds later is killed.
    """
    child = subprocess.Popen(list(command), cwd=ROOT)
    asked_to_stop: list[float] = []

    def pass_on(signum: int, _frame: object) -> None:
        asked_to_stop.append(time.monotonic())
        child.send_signal(signum)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), pass_on)
    while True:
        try:
            return child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            if asked_to_stop and time.monotonic() - asked_to_stop[0] > STOP_GRACE:
                _say(f"JupyterLab had not exited {STOP_GRACE} s after it stopped: ending it")
                child.kill()
                child.wait()
                return 0


def lab(extra: Sequence[str]) -> int:
    """Open the course in JupyterLab at the first notebook; ``extra`` goes to JupyterLab."""
    setup()
    if _is_root() and "--allow-root" not in extra:
        _say("running as root: adding --allow-root (JupyterLab refuses root without it)")
    command = lab_command(extra, _is_root())
    _say("+ " + " ".join(command))
    return serve(command)


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


#: Most pytest workers ``test`` starts: each holds its own TensorFlow (about 1-2.5 GB).
MAX_TEST_WORKERS = 4


def test_workers(extra: Sequence[str]) -> list[str]:
    """pytest-xdist options: one worker per usable CPU (at most MAX_TEST_WORKERS), grouped by
    file (conftest.py), unless ARGS choose the workers themselves (``-n``, ``-p no:xdist``)."""
    chosen = any(a.startswith(("-n", "--numprocesses", "--dist")) for a in extra)
    if chosen or "no:xdist" in extra:
        return []
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(cpus or 1, MAX_TEST_WORKERS)
    return ["-n", str(workers), "--dist", "loadfile"] if workers > 1 else []


def test(extra: Sequence[str]) -> int:
    """Run the style checks, the unit tests and every notebook (nbval, quick mode)."""
    setup()
    if check() != 0:
        return 1
    env = dict(os.environ, GALAXYLAB_QUICK="1", MPLBACKEND="Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parallel = test_workers(extra)
    return _run(
        BIN / "python",
        "-m",
        "pytest",
        *parallel,
        "--nbval-lax",
        "tests",
        "notebooks",
        *extra,
        env=env,
    )


# --- the student edition ---------------------------------------------------------------------


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def student_notebook(notebook: dict) -> dict:
    """A notebook without its "solution" cells and outputs; "check" cells get "nbval-skip".

    A self-check cell tests the student's answer, which is missing until they write it, so
    nbval skips it while the student edition is tested; every other cell is kept as it is.
    """
    cells = []
    for cell in notebook["cells"]:
        tags = _tags(cell)
        if "solution" in tags:
            continue
        cell = json.loads(json.dumps(cell))  # a deep copy
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            if "check" in tags and "nbval-skip" not in tags:
                cell.setdefault("metadata", {})["tags"] = [*tags, "nbval-skip"]
        cells.append(cell)
    metadata = {k: v for k, v in notebook.get("metadata", {}).items() if k != "widgets"}
    return {**notebook, "cells": cells, "metadata": metadata}


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def write_student_edition(out: Path) -> list[Path]:
    """Write the student edition of every course notebook into ``out``; the files written.

    Refuses an ``out`` inside notebooks/ or the package, so the course's own notebooks (and
    their solutions) can never be overwritten.
    """
    target = out.expanduser().resolve()
    for folder in (NOTEBOOKS.resolve(), PACKAGE.resolve()):
        if _inside(target, folder):
            raise ValueError(f"{out}: the student edition must go outside {folder}")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(NOTEBOOKS.glob("*.ipynb")):
        destination = target / source.name
        if destination.exists() and destination.samefile(source):
            raise ValueError(f"{destination} is the course notebook itself; choose another OUT")
        notebook = student_notebook(json.loads(source.read_text(encoding="utf-8")))
        # the layout nbformat writes, so a student notebook diffs cleanly against the course's
        text = json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
        destination.write_text(text, encoding="utf-8")
        written.append(destination)
    return written


def student(args: Sequence[str]) -> int:
    """``student OUT``: write the student edition; 2 on a bad or missing OUT."""
    if len(args) != 1:
        print("usage: python3 tasks.py student OUT", file=sys.stderr)
        return 2
    try:
        written = write_student_edition(Path(args[0]))
    except (ValueError, OSError) as error:
        print(f"tasks.py student: {error}", file=sys.stderr)
        return 2
    _say(f"wrote {len(written)} student notebooks (solutions removed) to {Path(args[0])}")
    return 0


def main(argv: Sequence[str]) -> int:
    """Dispatch ``lab``, ``test``, ``student`` or ``lock`` with the arguments that follow."""
    if not argv or argv[0] not in {"lab", "test", "student", "lock"}:
        print(__doc__.strip())
        return 2
    name, rest = argv[0], argv[1:]
    if name == "lab":
        return lab(rest)
    if name == "test":
        return test(rest)
    if name == "student":
        return student(rest)
    return lock()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
