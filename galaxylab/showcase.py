"""The course's showcase models: trained properly with ``galaxylab train``'s defaults, shipped in
the package with their metrics, and rebuilt with one command.

The lesson notebooks train small models for a few minutes to show the mechanics; these show
what the same code reaches with its full training budget:

- ``gz1-three-class``: spiral / elliptical / unsure on the built-in real sample ``gz1-desi``;
- ``universe-regressor``: the 37-output decision-tree regressor on the default synthetic universe;
- ``universe-three-class``: the three-class CNN on the universe, the start for transfer to
  real galaxies.

Each lives in ``galaxylab/showcase_models/<name>/`` as a RUN folder (model.keras, history.csv,
config.json, metrics.json) plus ``test_metrics.json``: what ``galaxylab evaluate --tta``
reported on the run's held-out test galaxies (and, under ``single_view``, plain ``evaluate``).
Rebuild them all (about an hour on two cores) with::

    python -m galaxylab.showcase            # or: --only gz1-three-class
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from galaxylab.errors import GalaxyLabError
from galaxylab.train.runs import RUN_FILES, Run, read_json, read_run, write_json

FOLDER = Path(__file__).resolve().parent / "showcase_models"
TEST_METRICS = "test_metrics.json"
#: Test scores are averaged over the 8 dihedral views (test-time augmentation, as the Kaggle
#: winners scored); ``single_view`` keeps the scores of one plain view beside them.
SCORE_KEYS = ("accuracy", "macro_f1", "rmse")
#: The synthetic universe the universe models train on: the default (full-mode) one.
UNIVERSE_N, UNIVERSE_SEED = 4000, 0


@dataclass(frozen=True)
class Showcase:
    """One shipped model: its task, the source it trains on, and what it is for."""

    name: str
    task: str
    source: str  # a built-in sample's name, or "universe"
    description: str


SHOWCASES: dict[str, Showcase] = {
    s.name: s
    for s in (
        Showcase(
            "gz1-three-class",
            "three-class",
            "gz1-desi",
            "spiral / elliptical / unsure on 1199 real Galaxy Zoo 1 galaxies (DESI images)",
        ),
        Showcase(
            "universe-regressor",
            "decision-tree",
            "universe",
            "the 37 vote fractions of the decision tree on the synthetic universe",
        ),
        Showcase(
            "universe-three-class",
            "three-class",
            "universe",
            "three classes on the synthetic universe: the start for transfer to real data",
        ),
    )
}


def _showcase(name: str) -> Showcase:
    if name not in SHOWCASES:
        raise GalaxyLabError(f"no showcase model {name!r}; choose one of {', '.join(SHOWCASES)}")
    return SHOWCASES[name]


def source(name: str) -> str:
    """The data source a showcase model was trained on (built on first use for the universe)."""
    show = _showcase(name)
    if show.source != "universe":
        return show.source
    from galaxylab import datasets

    return str(datasets.universe_folder(n=UNIVERSE_N, seed=UNIVERSE_SEED))


def run(name: str) -> Run:
    """The shipped RUN folder of a showcase model (model, history, config, validation metrics)."""
    return read_run(FOLDER / _showcase(name).name)


def test_metrics(name: str) -> dict:
    """What ``galaxylab evaluate`` reported for a showcase model on its held-out test galaxies."""
    return read_json(FOLDER / _showcase(name).name / TEST_METRICS)


def _record_source_by_name(work: Path, show: Showcase) -> None:
    """Name the training data in config.json portably (a built-in name, or the universe's size
    and seed) instead of by this machine's path; the fingerprint of its ids stays beside it."""
    config = read_json(work / "config.json")
    if show.source == "universe":
        config["data"] = f"universe: datasets.universe_folder(n={UNIVERSE_N}, seed={UNIVERSE_SEED})"
    else:
        config["data"] = show.source
    write_json(work / "config.json", config)


def rebuild(name: str, *, progress: bool = True) -> dict:
    """Train one showcase model with the trainer's defaults, score its test galaxies and replace
    the shipped folder (only once everything is written)."""
    from galaxylab import evaluate
    from galaxylab.train import TrainConfig, train

    show = _showcase(name)
    data = source(name)
    FOLDER.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=FOLDER) as tmp:
        work = Path(tmp) / name
        train(TrainConfig(task=show.task), data, work, progress=progress)
        _record_source_by_name(work, show)
        scores = evaluate.evaluate(work / "model.keras", data, split="test", tta=True)
        single = evaluate.evaluate(work / "model.keras", data, split="test")
        scores["single_view"] = {k: single[k] for k in SCORE_KEYS if k in single}
        write_json(work / TEST_METRICS, scores)
        final = FOLDER / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(work, final)
    return scores


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m galaxylab.showcase [--only NAME ...]``: rebuild the showcase models."""
    parser = argparse.ArgumentParser(
        prog="python -m galaxylab.showcase", description="Rebuild the course's showcase models."
    )
    parser.add_argument("--only", nargs="+", choices=list(SHOWCASES), default=list(SHOWCASES))
    args = parser.parse_args(argv)
    for name in args.only:
        try:
            scores = rebuild(name)
        except GalaxyLabError as error:
            print(f"showcase {name}: error: {error}", file=sys.stderr)
            return 2
        print(json.dumps({"showcase": name, **scores}, indent=2))
    return 0


__all__ = [
    "FOLDER",
    "RUN_FILES",
    "SHOWCASES",
    "Showcase",
    "rebuild",
    "run",
    "source",
    "test_metrics",
]

if __name__ == "__main__":
    raise SystemExit(main())
