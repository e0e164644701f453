"""What decides a training run: a :class:`TrainConfig` of the user's choices, checked when it is
made, and the default epoch budget.

The config is stored in the RUN's ``config.json`` together with a fingerprint of the data; a
run started again with the same config and data resumes, one with another config is refused.
This module needs no TensorFlow, so bad arguments fail before the slow import.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from galaxylab import labels
from galaxylab.choices import ARCHITECTURES, BALANCE_METHODS, default_balance
from galaxylab.errors import GalaxyLabError
from galaxylab.preprocessing import Preprocessing

#: Without ``epochs``, training gets a budget of images seen (epochs × training images, after
#: balancing) worth about 15 minutes on the 2-core course machine at 64 px, per network; see
#: :func:`default_epochs` and bench/README.md for the measured rates. Early stopping usually
#: ends sooner.
IMAGE_BUDGET: dict[str, int] = {"three-class": 280_000, "small": 290_000, "alexnet": 115_000}
EPOCH_RANGE = (5, 200)
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def default_epochs(task: str, n_fit: int, architecture: str = "small") -> int:
    """Epochs when none are asked for: the task's image budget spread over ``n_fit`` training
    images, within EPOCH_RANGE, so small data sets get enough steps and large ones stay near
    15 minutes (for the 4000-galaxy universe)."""
    budget = IMAGE_BUDGET["three-class" if task == "three-class" else architecture]
    low, high = EPOCH_RANGE
    return int(min(high, max(low, round(budget / max(n_fit, 1)))))


@dataclass(frozen=True)
class TrainConfig:
    """The choices of one training run.

    ``balance`` (three-class only; None = the task's default): "oversample" (the rarer classes'
    galaxies are repeated until every class is as large as the largest), "weights"
    (class-weighted loss) or "none".
    ``architecture`` picks the decision-tree regressor's body. ``epochs`` None = the default
    budget (:func:`default_epochs`). ``fractions`` are the train / validation / test shares.
    ``init_from`` starts from a saved model of the same task and input shape (fine-tuning).
    ``gz1_labels`` says where a Galaxy Zoo 1 source's three classes come from (one of
    GZ1_LABELS: the catalogue's flags, or the raw or debiased fractions at 0.8); other sources
    ignore it.
    """

    task: str
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    epochs: int | None = None
    seed: int = 0
    batch_size: int = 32
    architecture: str = "small"
    balance: str | None = None
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    init_from: str | None = None
    gz1_labels: str = "flags"

    def __post_init__(self) -> None:
        labels.check_task(self.task)
        if self.epochs is not None and self.epochs < 1:
            raise GalaxyLabError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise GalaxyLabError(f"batch size must be at least 1, got {self.batch_size}")
        if self.architecture not in ARCHITECTURES:
            raise GalaxyLabError(
                f"unknown architecture {self.architecture!r}; choose one of "
                f"{', '.join(ARCHITECTURES)}"
            )
        balance = default_balance(self.task) if self.balance is None else self.balance
        if balance not in BALANCE_METHODS:
            raise GalaxyLabError(
                f"unknown balance {balance!r}; choose one of {', '.join(BALANCE_METHODS)}"
            )
        if self.task != "three-class" and balance != "none":
            raise GalaxyLabError("class balancing applies to the three-class task only")
        fractions = tuple(float(f) for f in self.fractions)
        if (
            len(fractions) != 3
            or any(f < 0 for f in fractions)
            or not math.isclose(sum(fractions), 1)
        ):
            raise GalaxyLabError(
                f"fractions must be three non-negative numbers summing to 1: {fractions}"
            )
        object.__setattr__(self, "balance", balance)
        object.__setattr__(self, "fractions", fractions)
        if self.init_from is not None:
            object.__setattr__(self, "init_from", os.path.realpath(self.init_from))
        labels.check_gz1_labels(self.gz1_labels)

    def check_init_from(self) -> None:
        """Refuse a missing model to start from (before any data is loaded)."""
        if self.init_from is not None and not Path(self.init_from).is_file():
            raise GalaxyLabError(f"{self.init_from}: model to start from not found")

    @property
    def regressor_architecture(self) -> str | None:
        """The regressor body for the decision-tree task, None for three classes."""
        return self.architecture if self.task == "decision-tree" else None

    def with_epochs(self, epochs: int) -> TrainConfig:
        """The same config with the number of epochs fixed."""
        return replace(self, epochs=int(epochs))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (preprocessing flattened, as config.json records them)."""
        out = asdict(self)
        out.update(out.pop("preprocessing"))
        out["architecture"] = self.regressor_architecture
        out["fractions"] = list(self.fractions)
        return out

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> TrainConfig:
        """The config recorded in a RUN's config.json (the inverse of :meth:`to_dict`)."""
        return cls(
            task=str(settings["task"]),
            preprocessing=Preprocessing.from_dict(settings),
            epochs=settings.get("epochs"),
            seed=int(settings.get("seed", 0)),
            batch_size=int(settings.get("batch_size", 32)),
            architecture=settings.get("architecture") or "small",
            balance=settings.get("balance"),
            fractions=tuple(settings.get("fractions", DEFAULT_FRACTIONS)),
            init_from=settings.get("init_from"),
            gz1_labels=settings.get("gz1_labels") or "flags",
        )


def fit_size(config: TrainConfig, n_train: int, class_counts: Sequence[int] | None) -> int:
    """How many images one epoch shows: the training set, or after oversampling every class to
    the largest one's count."""
    if config.balance == "oversample" and class_counts is not None:
        present = [c for c in class_counts if c > 0]
        return int(len(present) * max(present))
    return int(n_train)
