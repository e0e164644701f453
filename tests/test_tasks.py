"""tasks.py, the course's entry point: the lock, ``lab`` as a student or root starts it, and the
student edition.

``lab`` is started for real (``python3 tasks.py lab --no-browser --port P``) with a temporary
Jupyter configuration and reached twice: by a plain HTTP GET of /lab and, where Debian's
Chromium is installed, by headless Chromium. The student edition is written into a temporary
folder and run with nbval in quick mode (marked slow: deselect with ``-m "not slow"``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
import requests
from browser_helpers import (
    CHROMIUM,
    NO_CHROMIUM,
    ROOT,
    SCREENSHOTS,
    free_port,
    launch_chromium,
    stop,
    wait_until_answers,
    write_lab_settings,
)
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _load_root_module(filename: str, name: str) -> ModuleType:
    """A file at the repository's root as a module (the root is not on sys.path)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tasks = _load_root_module("tasks.py", "tasks")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _locked() -> dict[str, str]:
    """requirements.lock as canonical name -> version."""
    pins = {}
    for line in tasks.LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def _requirements() -> list[Requirement]:
    """Every requirement pyproject.toml names: dependencies and all extras."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {}).values()
    lines = [*project["dependencies"], *(line for extra in extras for line in extra)]
    return [r for r in map(Requirement, lines) if canonicalize_name(r.name) != "galaxylab"]


# --- the lock ------------------------------------------------------------------------------


def test_lock_header_says_how_it_was_made_and_with_which_python():
    text = tasks.LOCK.read_text()
    assert "python3 tasks.py lock" in text.split("\n# made with")[0]
    assert tasks.lock_python(text) == "3.11", "Binder and CI run Python 3.11"
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines == tasks.lock_lines("\n".join(lines)), "pins must be name==version, sorted"


def test_lock_pins_every_requirement_within_pyproject_ranges():
    locked = _locked()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is in pyproject.toml but not in requirements.lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements.lock pins {name}=={locked[name]}, outside pyproject.toml's "
            f"{requirement.specifier}: run python3 tasks.py lock"
        )


@pytest.mark.skipif(not tasks.lock_applies(), reason="the lock is for another Python version")
def test_this_environment_was_installed_from_the_lock():
    wrong = {}
    for name, version in _locked().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # setuptools and the like: in the lock, not requested here
        if installed != version:
            wrong[name] = f"{installed} (lock: {version})"
    assert not wrong, f"installed versions differ from requirements.lock: {wrong}"


def test_lock_lines_sorts_pins_and_leaves_out_the_project():
    freeze = "Pillow==13.0.0\nabsl-py==2.5.1\ngalaxylab==0.1.0\n# comment\nkeras==3.15.1\n"
    assert tasks.lock_lines(freeze) == ["absl-py==2.5.1", "keras==3.15.1", "Pillow==13.0.0"]


def test_install_uses_the_lock_and_shows_pips_progress():
    steps = tasks.install_steps(Path("python"))
    big = steps[-1][1]
    assert [str(a) for a in big[-4:]] == ["-c", "requirements.lock", "-e", ".[dev]"]
    assert "--quiet" not in big, "the long install shows pip's own progress"
    assert "first time: several minutes" in steps[-1][0]


def test_install_stamp_follows_pyproject_and_lock(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    lock = tmp_path / "requirements.lock"
    lock.write_text("# made with Python 3.11.7 on Linux x86_64\na==1\n")
    monkeypatch.setattr(tasks, "ROOT", tmp_path)
    monkeypatch.setattr(tasks, "LOCK", lock)
    first = tasks.install_stamp()
    lock.write_text("# made with Python 3.11.7 on Linux x86_64\na==2\n")
    second = tasks.install_stamp()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert len({first, second, tasks.install_stamp()}) == 3


# --- lab -------------------------------------------------------------------------------------


def test_lab_command_passes_arguments_on_and_allows_root():
    extra = ["--no-browser", "--port", "8899"]
    as_root = tasks.lab_command(extra, is_root=True)
    assert as_root[1] == "lab" and as_root[-4:] == ["--allow-root", *extra]
    assert f"--LabApp.default_url=/lab/tree/{tasks.FIRST_NOTEBOOK}" in as_root
    assert "--allow-root" not in tasks.lab_command(extra, is_root=False)
    assert tasks.lab_command(["--allow-root"], is_root=True).count("--allow-root") == 1


@dataclass
class Lab:
    """A ``tasks.py lab`` process and how to reach it."""

    process: subprocess.Popen
    base: str
    token: str
    log: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """``python3 tasks.py lab --no-browser --port P`` as this user, with a throwaway config."""
    if not tasks.STAMP.exists() or tasks.STAMP.read_text().strip() != tasks.install_stamp():
        pytest.skip(".venv is not installed from the current pyproject.toml and lock yet")
    port, token = free_port(), secrets.token_hex(16)
    temp = tmp_path_factory.mktemp("tasks-lab")
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(temp / "config"),
        JUPYTER_RUNTIME_DIR=str(temp / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(write_lab_settings(temp / "settings")),
        JUPYTERLAB_WORKSPACES_DIR=str(temp / "workspaces"),
        GALAXYLAB_QUICK="1",
    )
    command = [sys.executable, str(ROOT / "tasks.py"), "lab", "--no-browser", "--port", str(port)]
    command += ["--ip=127.0.0.1", f"--IdentityProvider.token={token}"]
    log = temp / "lab.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        wait_until_answers(f"{base}/api/status?token={token}", process, log, timeout=120)
        yield Lab(process, base, token, log)
        stop(process)


def test_lab_says_it_allows_root(lab: Lab):
    said = lab.log.read_text()
    assert ("running as root: adding --allow-root" in said) is IS_ROOT, (
        "tasks.py says in one line that it added --allow-root, and only for root"
    )


def test_lab_prints_the_address_of_the_first_notebook(lab: Lab):
    address = re.compile(r"http://127\.0\.0\.1:\d+/lab/tree/(\S+)\?token=(\w+|\.\.\.)")
    deadline = time.monotonic() + 30  # the banner may come after the first answer
    while not (printed := address.findall(lab.log.read_text())) and time.monotonic() < deadline:
        time.sleep(0.5)
    # JupyterLab prints a token given on the command line as "..."
    assert {(tasks.FIRST_NOTEBOOK, lab.token), (tasks.FIRST_NOTEBOOK, "...")} & set(printed), (
        "--no-browser users paste this address"
    )


def test_lab_answers_a_plain_http_get(lab: Lab):
    page = requests.get(f"{lab.base}/lab", params={"token": lab.token}, timeout=30)
    assert page.status_code == 200
    assert "JupyterLab" in page.text and "jupyter-config-data" in page.text
    contents = requests.get(
        f"{lab.base}/api/contents/{tasks.FIRST_NOTEBOOK}",
        params={"token": lab.token, "content": "0"},
        timeout=30,
    )
    assert contents.status_code == 200, "the lab serves the course's notebooks"


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_a_browser_reaches_lab_and_sees_the_first_notebook(lab: Lab):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.set_default_timeout(60_000)
        try:
            page.goto(f"{lab.base}/lab/tree/{tasks.FIRST_NOTEBOOK}?token={lab.token}")
            page.locator(".jp-NotebookPanel").first.wait_for()
            tab = page.locator(".lm-TabBar-tabLabel", has_text="00_start_here.ipynb")
            tab.first.wait_for()
            page.screenshot(path=str(SCREENSHOTS / "tasks_lab.png"))
        finally:
            browser.close()


def test_lab_stops_cleanly_on_sigterm(lab: Lab):
    psutil = pytest.importorskip("psutil", reason="psutil is not installed")
    children = psutil.Process(lab.process.pid).children(recursive=True)
    assert children, "tasks.py lab runs JupyterLab as its child"
    status = stop(lab.process, timeout=tasks.STOP_GRACE + 15)
    assert status == 0, f"tasks.py lab ended with {status}; see {lab.log}"
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left running after tasks.py lab stopped: {alive}"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{lab.base}/api/status", timeout=5)


# --- the student edition -------------------------------------------------------------------


def _cell(kind: str, source: str, *tags: str) -> dict:
    cell = {"cell_type": kind, "id": source[:8] or "x", "metadata": {}, "source": source}
    if tags:
        cell["metadata"]["tags"] = list(tags)
    if kind == "code":
        cell.update(execution_count=3, outputs=[{"output_type": "stream", "text": "x"}])
    return cell


def test_student_notebook_drops_solutions_and_skips_checks():
    notebook = {
        "cells": [
            _cell("markdown", "# Title"),
            _cell("code", "answer = None  # Your code here"),
            _cell("code", "answer = 42", "solution"),
            _cell("code", "assert answer == 42", "check"),
        ],
        "metadata": {"widgets": {"state": {}}, "kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    student = tasks.student_notebook(notebook)
    assert [c["source"] for c in student["cells"]] == [
        "# Title",
        *(
            c["source"]
            for c in notebook["cells"][1:]
            if "solution" not in c["metadata"].get("tags", [])
        ),
    ]
    assert student["cells"][-1]["metadata"]["tags"] == ["check", "nbval-skip"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in student["cells"])
    assert student["metadata"] == {"kernelspec": {"name": "python3"}}
    assert notebook["cells"][1]["outputs"], "the course notebook itself is left alone"


def _solutions(notebook: dict) -> list[str]:
    return [
        "".join(c["source"])
        for c in notebook["cells"]
        if "solution" in c["metadata"].get("tags", [])
    ]


def _kept(notebook: dict) -> list[tuple[str, str]]:
    return [
        (c["cell_type"], "".join(c["source"]))
        for c in notebook["cells"]
        if "solution" not in c["metadata"].get("tags", [])
    ]


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The student edition, written by ``python3 tasks.py student OUT``."""
    out = tmp_path_factory.mktemp("student") / "edition"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tasks.py"), "student", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_student_edition_has_no_solution_and_keeps_every_other_cell(edition: Path):
    originals = sorted(tasks.NOTEBOOKS.glob("*.ipynb"))
    assert sorted(p.name for p in edition.glob("*.ipynb")) == [p.name for p in originals]
    for original in originals:
        course = json.loads(original.read_text())
        student = json.loads((edition / original.name).read_text())
        assert _solutions(course), f"{original.name} has no solution to leave out"
        assert _kept(student) == _kept(course), f"{original.name}: cells lost or reordered"
        text = "\n".join(source for _, source in _kept(student))
        for solution in _solutions(course):
            assert solution.strip() not in text, f"{original.name}: solution code left in"
        for cell in student["cells"]:
            assert "solution" not in cell["metadata"].get("tags", [])
            assert not cell.get("outputs") and cell.get("execution_count") is None


@pytest.mark.parametrize("inside", ["notebooks", "notebooks/student", "galaxylab/student"])
def test_student_refuses_to_write_into_the_course(inside: str):
    before = {p: p.read_bytes() for p in tasks.NOTEBOOKS.glob("*.ipynb")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "tasks.py"), "student", str(ROOT / inside)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "must go outside" in done.stderr
    assert {p: p.read_bytes() for p in tasks.NOTEBOOKS.glob("*.ipynb")} == before
    assert not (ROOT / inside).exists() or inside == "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize(
    "notebook",
    # conftest.py's SPREAD: parallel runs (tasks.py test) share these cases out over the workers
    [path.name for path in sorted(tasks.NOTEBOOKS.glob("*.ipynb"))],
)
def test_student_edition_passes_nbval_in_quick_mode(edition: Path, notebook: str):
    """Every student notebook runs top to bottom without its solutions (self-checks skipped)."""
    env = dict(os.environ, GALAXYLAB_QUICK="1", MPLBACKEND="Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider", notebook],
        cwd=edition,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


# --- parallel test runs ----------------------------------------------------------------------


def test_test_runs_one_worker_per_cpu_grouped_by_file(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert tasks.test_workers([]) == ["-n", "2", "--dist", "loadfile"]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert tasks.test_workers(["-k", "tree"])[:2] == ["-n", str(tasks.MAX_TEST_WORKERS)]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert tasks.test_workers([]) == [], "one CPU: no workers to start"


@pytest.mark.parametrize("extra", [["-n", "0"], ["-n3"], ["--numprocesses=1"], ["-p", "no:xdist"]])
def test_arguments_that_choose_the_workers_win(monkeypatch: pytest.MonkeyPatch, extra: list[str]):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert tasks.test_workers(extra) == []


def test_a_file_is_one_unit_of_work_unless_its_cases_are_spread():
    conftest = _load_root_module("conftest.py", "root_conftest")
    assert conftest.work_unit("notebooks/02_three_class_cnn.ipynb::Cell 3") == (
        "notebooks/02_three_class_cnn.ipynb"
    )
    assert conftest.work_unit("tests/test_tasks.py::test_lock_header[a]") == "tests/test_tasks.py"
    spread = "tests/test_tasks.py::test_student_edition_passes_nbval_in_quick_mode[00.ipynb]"
    assert conftest.work_unit(spread) == spread


def test_parallel_runs_keep_a_file_on_one_worker(tmp_path: Path):
    """Under ``-n 2 --dist loadfile`` the root conftest.py keeps a file's tests in one process."""
    (tmp_path / "conftest.py").write_text((ROOT / "conftest.py").read_text())
    for name in ("test_one.py", "test_two.py"):
        (tmp_path / name).write_text(
            "import os\n"
            + "".join(
                f"def test_{i}():\n"
                f"    with open('{name}.workers', 'a') as out:\n"
                "        out.write(os.environ['PYTEST_XDIST_WORKER'] + '\\n')\n"
                for i in range(6)
            )
        )

    def pytest_here(*args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    pytest_here("-n", "2", "--dist", "loadfile", "test_one.py", "test_two.py")
    for name in ("test_one.py", "test_two.py"):
        workers = (tmp_path / f"{name}.workers").read_text().split()
        assert len(workers) == 6 and len(set(workers)) == 1, f"{name} ran on {set(workers)}"
    # the conftest.py's xdist hook must not break a run without xdist
    alone = pytest_here(
        "-p",
        "no:xdist",
        "-k",
        "test_0",
        "test_one.py",
        env=dict(os.environ, PYTEST_XDIST_WORKER="alone"),
    )
    assert "1 passed" in alone, alone
