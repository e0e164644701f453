"""The installed package carries what the course needs: the built-in real samples and the
showcase models travel inside the wheel, not only in a git clone."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from galaxylab import showcase
from galaxylab.datasets import samples

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "galaxylab", src / "galaxylab", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["-q", "-w", str(out), str(src)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("galaxylab-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_the_wheel_holds_every_built_in_sample_file(wheel_names):
    shipped = [p for p in samples.SAMPLES_DIR.rglob("*") if p.is_file()]
    assert len(shipped) > 1000
    missing = [
        p
        for p in shipped
        if f"galaxylab/{p.relative_to(samples.SAMPLES_DIR.parent)}" not in wheel_names
    ]
    assert not missing, f"{len(missing)} sample files left out of the wheel, e.g. {missing[:3]}"


def test_the_wheel_holds_every_showcase_model(wheel_names):
    for name in showcase.SHOWCASES:
        for file in (*showcase.RUN_FILES, showcase.TEST_METRICS):
            assert f"galaxylab/{showcase.FOLDER.name}/{name}/{file}" in wheel_names
