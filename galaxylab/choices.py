"""The names a user picks from, defined once and free of TensorFlow.

The command line lists these choices in ``--help`` without importing TensorFlow, and the
modules that implement them (labels, models, pipeline, evaluate) import them from here.
"""

from __future__ import annotations

#: The two learning tasks: spiral / elliptical / unsure, and the 37 vote fractions.
TASKS: tuple[str, ...] = ("three-class", "decision-tree")
#: Bodies of the 37-output regressor (the three-class task has one network).
ARCHITECTURES: tuple[str, ...] = ("small", "alexnet")
#: Ways to balance the three classes in training: oversampling the rarer classes (repeating
#: their galaxies, each time in a new augmented view), a class-weighted loss, or nothing.
BALANCE_METHODS: tuple[str, ...] = ("oversample", "weights", "none")
#: Which galaxies ``evaluate`` scores: "auto" (a run's test galaxies when the data is its
#: training source, else all), "test" (insist on the test split) or "all".
SPLITS: tuple[str, ...] = ("auto", "test", "all")
#: Where a Galaxy Zoo 1 source's three classes come from: the catalogue's clean-sample flags
#: (SPIRAL / ELLIPTICAL / UNCERTAIN), or the raw or debiased vote fractions at a threshold.
GZ1_LABELS: tuple[str, ...] = ("flags", "raw", "debiased")


def default_balance(task: str) -> str:
    """Balancing when none is asked for: oversampling for three classes, nothing otherwise."""
    return "oversample" if task == "three-class" else "none"
