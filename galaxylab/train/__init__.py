"""Training a model into a RUN folder, and reading RUN folders back.

- :mod:`~galaxylab.train.config`: :class:`TrainConfig`, the choices of a run, and the epoch budget;
- :mod:`~galaxylab.train.trainer`: :func:`train`, what ``galaxylab train`` runs;
- :mod:`~galaxylab.train.data_checks`: enough classes, images large enough (no TensorFlow);
- :mod:`~galaxylab.train.fit`: compiling for a task and a ``fit`` that survives interruption;
- :mod:`~galaxylab.train.runs`: the RUN folder's files and lock, and :class:`Run` to read one back;
- :mod:`~galaxylab.train.course_runs`: the course's cached runs, trained once and reused.

Importing this package does not import TensorFlow; :func:`train` does, after checking its input.
"""

from galaxylab.train.config import TrainConfig, default_epochs
from galaxylab.train.runs import Run, read_run
from galaxylab.train.trainer import split_targets, train

__all__ = ["Run", "TrainConfig", "default_epochs", "read_run", "split_targets", "train"]
