"""The course's trained models, trained once and reused: the runs notebooks 04 and 05 share.

:func:`trained_run` trains with :func:`galaxylab.train.train` once, into
``course.data_dir()/"runs"/<key>`` (the key names the task, the mode and a hash of the
settings), and reuses that RUN folder afterwards. In quick mode on a large real source it
trains on the sample the notebooks use, written as a source of its own
(:func:`galaxylab.datasets.subset.write_subset`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from galaxylab import __version__, course
from galaxylab.choices import default_balance
from galaxylab.errors import GalaxyLabError
from galaxylab.preprocessing import Preprocessing
from galaxylab.train.config import TrainConfig
from galaxylab.train.runs import Run, is_complete_run, read_run

RUNS_DIR = "runs"


def run_settings(
    task: str,
    data: str | os.PathLike,
    *,
    balance: str | None = None,
    architecture: str = "small",
    image_size: int | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    batch_size: int | None = None,
) -> dict:
    """Every setting that decides a course run, with the current lesson's defaults filled in."""
    chosen = course.lesson()
    return {
        "task": task,
        "data": str(Path(data).expanduser().resolve()),
        "mode": "quick" if course.quick_mode() else "full",
        "balance": default_balance(task) if balance is None else balance,
        "architecture": architecture if task == "decision-tree" else None,
        "image_size": int(image_size or chosen.image_size),
        "epochs": int(epochs or chosen.epochs),
        "seed": int(chosen.seed if seed is None else seed),
        "batch_size": int(batch_size or chosen.batch_size),
        "galaxylab": __version__,
    }


def run_path(settings: dict) -> Path:
    """Where the run with these settings is cached: data_dir()/runs/<task>-<mode>-<hash>."""
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    name = f"{settings['task']}-{settings['mode']}-{settings['image_size']}px-{digest}"
    return course.data_dir() / RUNS_DIR / name


def training_source(catalog: pd.DataFrame) -> Path:
    """The source folder (or file) to train on for ``catalog``: its own root, or, for quick
    mode's sample of a real source ($GALAXYLAB_SOURCE), a subset source of it."""
    from galaxylab.datasets.subset import write_subset

    root = catalog.attrs.get("root")
    if not root:
        raise GalaxyLabError("the catalog does not say which source it came from (attrs root)")
    if course.quick_mode() and course.source() is not None:
        return write_subset(catalog)
    return Path(root)


def trained_run(
    task: str,
    catalog: pd.DataFrame | None = None,
    *,
    balance: str | None = None,
    architecture: str = "small",
    image_size: int | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    progress: bool = True,
) -> Run:
    """The course's trained model for ``task``: reused from the cache, else trained now.

    ``catalog`` defaults to ``course.catalog()`` (the synthetic universe, or $GALAXYLAB_SOURCE);
    image size, epochs and seed default to :func:`galaxylab.course.lesson`. Training goes
    through :func:`galaxylab.train.train`, so an interrupted run resumes where it stopped.
    """
    from galaxylab.train.trainer import train

    if catalog is None:
        catalog = course.catalog()
    data = training_source(catalog)
    settings = run_settings(
        task,
        data,
        balance=balance,
        architecture=architecture,
        image_size=image_size,
        epochs=epochs,
        seed=seed,
    )
    out = run_path(settings)
    if not is_complete_run(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        config = TrainConfig(
            task=task,
            epochs=settings["epochs"],
            seed=settings["seed"],
            preprocessing=Preprocessing(image_size=settings["image_size"]),
            batch_size=settings["batch_size"],
            architecture=architecture,
            balance=settings["balance"],
        )
        train(config, settings["data"], out, progress=progress)
    return read_run(out)
