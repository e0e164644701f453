"""Shared fixtures: the real Galaxy Zoo sample beside the project and a small synthetic universe."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
REAL_SAMPLE = ROOT.parent / "shared" / "data" / "gz-kaggle-sample"


@pytest.fixture(scope="session")
def real_sample() -> Path:
    """The 300 real challenge images with 17 label columns (skips when it is not beside us)."""
    if not (REAL_SAMPLE / "training_solutions_rev1.csv").exists():
        pytest.skip(f"real Galaxy Zoo sample not found at {REAL_SAMPLE}")
    return REAL_SAMPLE


@pytest.fixture(scope="session")
def small_universe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 160-galaxy synthetic universe in the Kaggle layout, built once per test session."""
    from galaxylab import simulate

    out = tmp_path_factory.mktemp("universe") / "u160"
    simulate.write_universe(n=160, out=out, seed=3, progress=False)
    return out
