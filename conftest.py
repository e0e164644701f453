"""Parallel runs (``pytest -n N --dist loadfile``, as ``python3 tasks.py test`` runs them).

pytest-xdist's ``loadfile`` keeps every file on one worker, in order: a notebook's cells share
one kernel, and a module's fixtures are built once. The tests named in :data:`SPREAD` are the
exception: each of their cases is scheduled on its own, so a long parametrized test (the student
edition's notebook runs) spreads over the workers instead of holding one of them for minutes.
"""

from __future__ import annotations

from typing import Any

import pytest

#: Tests (``file::name``) whose parametrized cases are independent units of work.
SPREAD = frozenset({"tests/test_tasks.py::test_student_edition_passes_nbval_in_quick_mode"})


def work_unit(nodeid: str) -> str:
    """The unit a worker takes whole: the test's file, or the case itself for :data:`SPREAD`."""
    file, _, name = nodeid.partition("::")
    return nodeid if f"{file}::{name.split('[')[0]}" in SPREAD else file


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: absent under -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` with :func:`work_unit` as its grouping; other modes are left alone."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return FileScheduling(config, log)
