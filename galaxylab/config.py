"""Where data lives and whether the course runs in quick mode (both set by environment)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "GALAXYLAB_DATA"
QUICK_ENV = "GALAXYLAB_QUICK"


def data_dir() -> Path:
    """The data cache: $GALAXYLAB_DATA, else the checkout's data/, else ~/.cache/galaxylab."""
    if os.environ.get(DATA_ENV):
        path = Path(os.environ[DATA_ENV]).expanduser()
    else:
        checkout = Path(__file__).resolve().parents[1]
        if (checkout / "pyproject.toml").exists() and (checkout / "data").is_dir():
            path = checkout / "data"
        else:
            path = Path.home() / ".cache" / "galaxylab"
    path.mkdir(parents=True, exist_ok=True)
    return path


def quick_mode() -> bool:
    """True when ``GALAXYLAB_QUICK`` is set to a true value: small data and few epochs, for CI."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
