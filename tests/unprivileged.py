"""Permission faults that root cannot provoke: run the faulty step as an ordinary user.

Root reads and writes any folder, so a test of "permission denied" would have to skip when the
suite runs as root (as in CI containers). Instead, as root, :func:`call_unprivileged` runs the
step in a forked child that first drops to the ``nobody`` user, and hands back its result or
its exception (with the exception's cause). Anyone else runs the step directly.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

NOBODY = 65534


@contextmanager
def open_folder() -> Iterator[Path]:
    """A fresh folder that any user may enter (pytest's own tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="galaxylab-perm-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for folder in [path, *path.rglob("*")]:
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o755)
        shutil.rmtree(path, ignore_errors=True)


def call_unprivileged(step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``step(*args, **kwargs)``, run as ``nobody`` when this process is root."""
    if os.geteuid() != 0:
        return step(*args, **kwargs)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, run the step, report, exit without cleanup
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            outcome: tuple = ("returned", step(*args, **kwargs), None)
        except BaseException as error:  # noqa: BLE001 - handed to the parent as it is
            outcome = ("raised", error, error.__cause__)
        try:
            payload = pickle.dumps(outcome)
        except Exception as error:  # noqa: BLE001 - an unpicklable result is a test bug
            payload = pickle.dumps(("raised", RuntimeError(f"unpicklable: {error}"), None))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    os.waitpid(pid, 0)
    kind, value, cause = pickle.loads(payload)
    if kind == "raised":
        value.__cause__ = cause
        raise value
    return value
