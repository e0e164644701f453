"""The settings every training notebook shares, and the cached course runs that notebooks 04
and 05 reuse.

:func:`lesson` gives the image size, epochs, batch size and seed the notebooks train with
(:data:`QUICK_LESSON` when GALAXYLAB_QUICK is on, else :data:`FULL_LESSON`). :func:`trained_run`
gives notebooks 04 and 05 the same trained models: it trains with :func:`galaxylab.train.train`
once, into ``config.data_dir()/"runs"/<key>`` (the key names the task, the mode and a hash of
the settings), and reuses that RUN folder afterwards; a :class:`Run` is such a folder and what
it holds. In quick mode on a large real source, :func:`sample_source` writes the sample the
notebooks use as a source folder of its own, to train on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from galaxylab import __version__, config, labels, runs, tree
from galaxylab.errors import GalaxyLabError

if TYPE_CHECKING:
    import keras

# --------------------------------------------------------------------------- lesson settings


@dataclass(frozen=True)
class Lesson:
    """Image size, epochs, batch size and seed the course notebooks train with."""

    image_size: int
    epochs: int
    batch_size: int = 32
    seed: int = 0


#: Quick mode (CI): tiny images and two epochs, so every notebook runs in well under a minute.
QUICK_LESSON = Lesson(image_size=32, epochs=2)
#: Default mode: 48-pixel crops and 6 epochs keep a notebook's training to a few minutes on a
#: two-core laptop (64 px doubles the cost of every epoch).
FULL_LESSON = Lesson(image_size=48, epochs=6)


def lesson() -> Lesson:
    """The settings for the current mode: QUICK_LESSON when GALAXYLAB_QUICK is on, else FULL."""
    return QUICK_LESSON if config.quick_mode() else FULL_LESSON


# --------------------------------------------------------------------------- cached runs

RUNS_DIR = "runs"


@dataclass
class Run:
    """A complete RUN folder written by :func:`galaxylab.train.train`, and what it holds."""

    path: Path
    config: dict
    metrics: dict
    history: pd.DataFrame

    @property
    def task(self) -> str:
        """"three-class" or "decision-tree"."""
        return self.config["task"]

    @property
    def image_options(self) -> dict:
        """The preprocessing the model was trained with (for pipeline.make_dataset)."""
        return {"image_size": int(self.config["image_size"]),
                "crop_fraction": float(self.config["crop_fraction"]),
                "greyscale": bool(self.config["greyscale"])}

    def model(self) -> keras.Model:
        """Load the trained model (a fresh copy at every call)."""
        from galaxylab import evaluate

        return evaluate.load_model(self.path / runs.MODEL)

    def part(self, catalog: pd.DataFrame, name: str = "test") -> pd.DataFrame:
        """The rows of ``catalog`` in the run's "train", "val" or "test" split, in split order.

        The catalog's ``attrs`` (source, root) are kept, so course.truth() works on the result.
        """
        if name not in self.config["split"]:
            raise GalaxyLabError(f"a run has the splits train, val and test, not {name!r}")
        ids = [str(i) for i in self.config["split"][name]]
        mapping = Path(self.config["data"]) / SAMPLE_IDS
        if mapping.is_file():  # trained on a sample source: back to the catalog's ids
            table = pd.read_csv(mapping, dtype=str)
            original = dict(zip(table["id"], table["original_id"], strict=True))
            ids = [original.get(i, i) for i in ids]
        by_id = catalog.assign(id=catalog["id"].astype(str)).set_index("id", drop=False)
        missing = [i for i in ids if i not in by_id.index]
        if missing:
            raise GalaxyLabError(f"{self.path}: galaxy {missing[0]} of the {name} split is not "
                                 "in this catalog; was the run trained on another source?")
        out = by_id.loc[ids].reset_index(drop=True)
        out.attrs = dict(catalog.attrs)
        return out


def read_run(path: str | os.PathLike) -> Run:
    """A complete RUN folder as a :class:`Run`; GalaxyLabError if it is not complete."""
    path = Path(path)
    if not runs.is_complete(path):
        raise GalaxyLabError(f"{path}: not a complete run (model, history, config, metrics)")
    return Run(path=path, config=runs.read_json(path / runs.CONFIG),
               metrics=runs.read_json(path / runs.METRICS),
               history=pd.read_csv(path / runs.HISTORY))


def run_settings(task: str, data: str | os.PathLike, *, balance: str | None = None,
                 architecture: str = "small", image_size: int | None = None,
                 epochs: int | None = None, seed: int | None = None,
                 batch_size: int | None = None) -> dict:
    """Every setting that decides a course run, with the current lesson's defaults filled in."""
    chosen = lesson()
    if balance is None:
        balance = "upsample" if task == "three-class" else "none"
    return {
        "task": task,
        "data": str(Path(data).expanduser().resolve()),
        "mode": "quick" if config.quick_mode() else "full",
        "balance": balance,
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
    return config.data_dir() / RUNS_DIR / name


def _link(target: Path, link: Path) -> None:
    """Link ``link`` to the image ``target`` (a symbolic link, else a copy)."""
    try:
        link.symlink_to(Path(target).resolve())
    except OSError:  # e.g. Windows without the right to make symbolic links
        shutil.copyfile(target, link)


#: In a sample source: each galaxy's id there and its id in the catalog it was drawn from.
SAMPLE_IDS = "sample_ids.csv"


def _safe_name(galaxy_id: str) -> str:
    """An id as a plain file name: path separators and odd characters become "_"."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(galaxy_id)) or "galaxy"


def sample_source(catalog: pd.DataFrame) -> Path:
    """A data source holding exactly ``catalog``'s galaxies, for training on a sample of a source.

    Quick mode trains on course.catalog()'s random sample of a large real source, but
    :func:`galaxylab.train.train` reads a source folder; this writes one (once) under
    data_dir()/runs/samples: the Kaggle layout with the sample's vote fractions when it has any,
    else class folders named by the three-class label. Images are linked, not copied (Galaxy10
    rows, which live inside an .h5 file, are written as PNG files). SAMPLE_IDS maps the
    sample's ids back to the catalog's.
    """
    from PIL import Image

    from galaxylab import datasets

    ids = catalog["id"].astype(str).tolist()
    key = hashlib.sha1("\n".join([str(catalog.attrs.get("root")), *ids]).encode()).hexdigest()
    out = config.data_dir() / RUNS_DIR / "samples" / f"sample-{len(catalog)}-{key[:10]}"
    if (out / SAMPLE_IDS).is_file():
        return out
    columns = [c for c in tree.COLUMNS if c in catalog.columns and catalog[c].notna().any()]
    classes = labels.three_class(catalog)
    if not columns and classes.isna().all():
        raise GalaxyLabError(f"{catalog.attrs.get('root')}: the sample has neither vote "
                             "fractions nor three-class labels to train on")
    work = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    new_ids = []
    try:
        for (_, row), galaxy, label in zip(catalog.iterrows(), ids, classes, strict=True):
            if not columns and pd.isna(label):
                new_ids.append(None)
                continue
            h5 = pd.notna(row.get("h5_index", np.nan))
            suffix = ".png" if h5 else Path(str(row["image"])).suffix.lower()
            name = _safe_name(Path(galaxy).stem if not columns else galaxy)
            if columns:
                relative = Path("images_training_rev1") / f"{name}.jpg"
                new_ids.append(name)
            else:
                relative = Path(str(label)) / f"{name}{suffix}"
                new_ids.append(relative.as_posix())
            (work / relative).parent.mkdir(parents=True, exist_ok=True)
            if h5:
                Image.fromarray(datasets.load_image(row)).save(work / relative, format="PNG")
            else:
                _link(Path(str(row["image"])), work / relative)
        if columns:
            table = catalog[columns].assign(**{tree.ID_COLUMN: new_ids})
            table[[tree.ID_COLUMN, *columns]].to_csv(work / "training_solutions_rev1.csv",
                                                     index=False)
        pd.DataFrame({"id": new_ids, "original_id": ids}).dropna().to_csv(
            work / SAMPLE_IDS, index=False)
        os.replace(work, out)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        if not (out / SAMPLE_IDS).is_file():  # another process may have written it first
            raise
    return out


def training_source(catalog: pd.DataFrame) -> Path:
    """The source folder (or file) to train on for ``catalog``: its own root, or, for quick
    mode's sample of a real source ($GALAXYLAB_SOURCE), a :func:`sample_source` of it."""
    from galaxylab import course

    root = catalog.attrs.get("root")
    if not root:
        raise GalaxyLabError("the catalog does not say which source it came from (attrs root)")
    if config.quick_mode() and course.source() is not None:
        return sample_source(catalog)
    return Path(root)


def trained_run(task: str, catalog: pd.DataFrame | None = None, *,
                balance: str | None = None, architecture: str = "small",
                image_size: int | None = None, epochs: int | None = None,
                seed: int | None = None, progress: bool = True) -> Run:
    """The course's trained model for ``task``: reused from the cache, else trained now.

    ``catalog`` defaults to ``course.catalog()`` (the synthetic universe, or $GALAXYLAB_SOURCE);
    image size, epochs and seed default to :func:`lesson`. Training goes through
    :func:`galaxylab.train.train`, so an interrupted run resumes where it stopped.
    """
    from galaxylab import course, train

    if catalog is None:
        catalog = course.catalog()
    data = training_source(catalog)
    settings = run_settings(task, data, balance=balance, architecture=architecture,
                            image_size=image_size, epochs=epochs, seed=seed)
    out = run_path(settings)
    if not runs.is_complete(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        train.train(task, settings["data"], out, epochs=settings["epochs"],
                    image_size=settings["image_size"], seed=settings["seed"],
                    batch_size=settings["batch_size"], architecture=architecture,
                    balance=settings["balance"], progress=progress)
    return read_run(out)
