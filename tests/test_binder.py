"""Binder, as repo2docker (the tool mybinder.org builds with) sees this repository.

``jupyter-repo2docker --no-build --debug`` writes out the Dockerfile it would build without
needing Docker. It runs on a fresh ``git clone`` of HEAD, so it sees only committed files, and
the test checks what a student's Binder image gets: Python 3.11 as pinned, the repository
copied in before environment.yml (with its ``-e .`` and requirements.lock) is installed, and
postBuild (which builds the default universe) run after that.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("repo2docker", reason="jupyter-repo2docker is not installed (dev extra)")
pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(),
    reason="needs git and a git checkout to clone",
)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of HEAD: what Binder would fetch."""
    target = tmp_path_factory.mktemp("binder") / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    return target


@pytest.fixture(scope="module")
def dockerfile(clone: Path) -> str:
    """The Dockerfile repo2docker generates for the clone, as Binder's user (uid 1000)."""
    done = subprocess.run(
        [sys.executable, "-m", "repo2docker", "--no-build", "--debug"]
        + ["--user-id", "1000", "--user-name", "jovyan", str(clone)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def _line(text: str, pattern: str) -> int:
    """The index of the first line of ``text`` that matches ``pattern``."""
    for number, line in enumerate(text.splitlines()):
        if re.search(pattern, line):
            return number
    raise AssertionError(f"no line matches {pattern!r} in repo2docker's output")


def test_binder_uses_the_conda_buildpack_with_python_311(dockerfile: str, clone: Path):
    assert "Building conda environment for python=3.11" in dockerfile
    # its base environment for 3.11 (the path escaped: "." is -2e, "-" is -2d)
    assert re.search(r"environment(\.|-2e)py(-|-2d)3(\.|-2e)11(-|-2d)linux", dockerfile)
    lock = (clone / "requirements.lock").read_text()
    assert re.search(r"^# made with Python 3\.11\.", lock, re.MULTILINE), "lock and Binder agree"


def test_repository_is_copied_before_the_environment_is_installed(dockerfile: str):
    copy = _line(dockerfile, r"^COPY --chown=1000:1000 src/ \$\{REPO_DIR\}/$")
    install = _line(dockerfile, r'env update -p \$\{NB_PYTHON_PREFIX\} --file "environment\.yml"')
    assert copy < install, "-e . and -c requirements.lock need the repository in place"


def test_environment_installs_the_package_pinned_by_the_lock(clone: Path):
    from ruamel.yaml import YAML  # repo2docker's own YAML reader

    environment = YAML(typ="safe").load((clone / "environment.yml").read_text())
    dependencies = environment["dependencies"]
    assert "python=3.11" in dependencies
    pip = next(d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d)
    assert "-c requirements.lock" in pip and "-e ." in pip
    assert (clone / "requirements.lock").is_file(), "requirements.lock is committed"


def test_postbuild_runs_after_the_environment_and_builds_the_universe(dockerfile: str, clone):
    install = _line(dockerfile, r'env update -p \$\{NB_PYTHON_PREFIX\} --file "environment\.yml"')
    assert install < _line(dockerfile, r"^RUN \./postBuild$")
    script = (clone / "postBuild").read_text()
    assert script.startswith("#!") and "datasets.universe_folder()" in script
    assert "samples.verify" in script


def test_binder_badge_opens_the_first_notebook(clone: Path):
    readme = (clone / "README.md").read_text()
    badge = re.search(r"https://mybinder\.org/v2/gh/\S+?urlpath=lab/tree/(\S+?\.ipynb)", readme)
    assert badge and badge.group(1) == "notebooks/00_start_here.ipynb"
    assert (clone / badge.group(1)).is_file()
