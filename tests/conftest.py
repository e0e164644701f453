"""Shared fixtures: the built-in real Galaxy Zoo samples and a small synthetic universe."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def real_sample() -> Path:
    """The built-in kaggle-sample folder: 300 real challenge galaxies with 17 label columns,
    each image the central 256 px of its 424 px cutout (frame_fraction 256/424)."""
    from galaxylab.datasets import resolve_source

    return resolve_source("kaggle-sample")


@pytest.fixture(scope="session")
def gz1_sample() -> Path:
    """The built-in gz1-desi folder: 1199 DESI Legacy Surveys galaxies with Galaxy Zoo 1 votes."""
    from galaxylab.datasets import resolve_source

    return resolve_source("gz1-desi")


@pytest.fixture(scope="session")
def small_universe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 160-galaxy synthetic universe in the Kaggle layout, built once per test session."""
    from galaxylab import simulate

    out = tmp_path_factory.mktemp("universe") / "u160"
    simulate.write_universe(n=160, out=out, seed=3, progress=False)
    return out
