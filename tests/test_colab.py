"""Google Colab: every notebook opens there from its badge and installs the course itself.

The install cell (galaxylab.colab.INSTALL_CELL) must be every notebook's first code cell; run
anywhere but Colab it does nothing (checked in a real kernel, with an audit hook watching for
processes, sockets and written files); on Colab it clones and installs (checked with Colab and
its commands stood in for). Installed from a copy without the checkout around it, as on Colab,
the package still finds its samples and keeps its data in ~/.cache/galaxylab.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import types
from datetime import datetime
from pathlib import Path

import nbclient
import nbformat
import pytest

from galaxylab import colab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _ids(path: Path) -> str:
    return path.stem


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_starts_with_the_badge_and_the_install_cell(path: Path):
    cells = nbformat.read(path, as_version=4).cells
    code = [cell for cell in cells if cell.cell_type == "code"]
    hint = "python -m galaxylab.colab notebooks/*.ipynb puts them back"
    assert code[0].source == colab.INSTALL_CELL, f"{path.name}: first code cell; {hint}"
    assert cells[1] is code[0] and "colab" in code[0].metadata.get("tags", []), hint
    assert colab.badge(path.name) in cells[0].source, f"{path.name}: no Colab badge; {hint}"
    links = re.findall(r"https://colab\.research\.google\.com/github/\S+?\.ipynb", cells[0].source)
    assert links == [colab.notebook_url(path.name)], "the badge opens this very notebook"


def test_readme_badges_open_the_first_notebook_of_the_same_repository():
    readme = (ROOT / "README.md").read_text()
    assert colab.badge("00_start_here.ipynb") in readme
    binder = f"https://mybinder.org/v2/gh/{colab.REPOSITORY}/HEAD?urlpath=lab/tree/notebooks/"
    assert binder + "00_start_here.ipynb" in readme


#: Run before the install cell in the kernel: record every audit event that starts a process,
#: opens a socket or writes a file while the install cell (and only it) runs.
WATCH = """
import os, sys, threading
WATCHED = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
           "socket.connect", "socket.getaddrinfo", "os.mkdir", "os.rename", "os.remove", "shutil")
SEEN, ACTIVE = [], [False]

def _hook(event, args):
    if not ACTIVE[0] or threading.current_thread() is not threading.main_thread():
        return
    if event == "open":
        mode, flags = args[1], args[2]
        if mode is None:  # os.open: the flags tell
            writes = bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        else:
            writes = any(m in str(mode) for m in "wax+")
    else:
        writes = False
    if writes or event.startswith(WATCHED):
        SEEN.append((event, repr(args)[:200]))

def _before(info):
    ACTIVE[0] = info.raw_cell == INSTALL

def _after(result):
    ACTIVE[0] = False

sys.addaudithook(_hook)
get_ipython().events.register("pre_run_cell", _before)
get_ipython().events.register("post_run_cell", _after)
"""


def _run_watched(cell: str, cwd: Path) -> tuple[nbformat.NotebookNode, list, float]:
    """Run ``cell`` in a fresh kernel in ``cwd``: the executed cell, what the audit hook saw
    while it ran, and how many seconds it took."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"INSTALL = {cell!r}\n{WATCH}"),
        nbformat.v4.new_code_cell(cell),
        nbformat.v4.new_code_cell("import json; print(json.dumps(SEEN))"),
    ]
    nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": cwd}}
    ).execute()
    ran, report = notebook.cells[1], notebook.cells[2]
    timing = {
        k: datetime.fromisoformat(v.replace("Z", "+00:00"))
        for k, v in ran.metadata["execution"].items()
    }
    took = timing["shell.execute_reply"] - timing["iopub.execute_input"]
    return ran, json.loads(report.outputs[0]["text"]), took.total_seconds()


def test_the_watch_sees_processes_and_written_files(tmp_path: Path):
    noisy = "import subprocess\nopen('made.txt', 'w').close()\nsubprocess.run(['true'])"
    _, seen, _ = _run_watched(noisy, tmp_path)
    events = {event for event, _ in seen}
    assert "open" in events and "subprocess.Popen" in events, seen


def test_install_cell_does_nothing_outside_colab(tmp_path: Path):
    before = sorted(p.name for p in tmp_path.iterdir())
    install, seen, took = _run_watched(colab.INSTALL_CELL, tmp_path)
    assert install.outputs == [], "no output outside Colab"
    assert seen == [], "no process, socket or written file"
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing new in the cwd"
    assert took < 2, f"the install cell took {took:.1f} s outside Colab"


def test_install_cell_on_colab_clones_and_installs_non_editably(monkeypatch: pytest.MonkeyPatch):
    """Colab stood in for: a google.colab module, and the commands recorded instead of run."""
    commands: list[list[str]] = []
    invalidated: list[bool] = []
    real_find_spec = importlib.util.find_spec
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda command, **_: commands.append(command))
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "galaxylab" else real_find_spec(name, *a),
    )
    monkeypatch.setattr(importlib, "invalidate_caches", lambda: invalidated.append(True))
    monkeypatch.setattr(os.path, "isdir", lambda path: False)
    exec(compile(colab.INSTALL_CELL, "install-cell", "exec"), {})
    clone, install = commands
    assert clone[:2] == ["git", "clone"] and f"https://github.com/{colab.REPOSITORY}" in clone
    assert install[:4] == [sys.executable, "-m", "pip", "install"]
    assert install[-1] == clone[-1] and "-e" not in install and "--editable" not in install
    assert invalidated, "the running kernel must see the new package at once"


def test_package_installed_without_the_checkout_finds_samples_and_a_data_folder(tmp_path):
    """As on Colab: a non-editable install, no checkout, no GALAXYLAB_DATA."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(
        ROOT / "galaxylab", source / "galaxylab", ignore=shutil.ignore_patterns("__pycache__")
    )
    target, home = tmp_path / "site", tmp_path / "home"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            target,
            source,
        ],
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "GALAXYLAB_DATA"}
    env.update(HOME=str(home), PYTHONPATH=str(target))
    probe = (
        "from galaxylab import course; from galaxylab.datasets import samples\n"
        "for name in samples.BUILTIN_SOURCES: samples.verify(samples.builtin_folder(name))\n"
        "print(course.data_dir()); print(samples.SAMPLES_DIR)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    data, samples_dir = done.stdout.split()
    assert Path(data) == home / ".cache" / "galaxylab"
    assert Path(samples_dir).is_relative_to(target)
