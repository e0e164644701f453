"""Validation results remembered on disk, so a second look at the same files is fast.

Checking a source decodes every image once (and reads every stored chunk of a Galaxy10 file);
the results are kept in ``course.data_dir()/cache/checks.sqlite3``, keyed by what was checked
(``kind``) and the file's absolute path, and trusted only while the file's :func:`stamp` (size,
modification and change times in nanoseconds) is the one it had when it was checked. A file
modified less than :data:`RACY_SECONDS` before it is stored is not remembered: a same-size
rewrite within a timestamp's granularity would keep its stamp (git's index has the same rule).

SQLite commits each batch of results as one transaction, so a crash or two processes at once
never leave half-written results. The cache is only a speed-up: when it cannot be opened, read
or written (no usable data folder, a read-only disk, a damaged database), checks simply run
again, and a damaged database is removed so the next run starts a fresh one.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from galaxylab import course
from galaxylab.errors import GalaxyLabError

#: A file modified this recently is checked but not remembered (see the module docstring).
RACY_SECONDS = 2.0
DATABASE = "checks.sqlite3"
#: Paths per SQL query (SQLite's default limit on query parameters is 999).
_BATCH = 500

#: A file's identity for the cache: (size, st_mtime_ns, st_ctime_ns).
Stamp = tuple[int, int, int]


def stamp(path: str | os.PathLike[str]) -> Stamp | None:
    """The cache stamp of ``path``, or None when it cannot be stat'ed (nothing is cached)."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _text(value: Stamp) -> str:
    return ":".join(map(str, value))


def _database_path() -> Path | None:
    try:
        folder = course.data_dir() / "cache"
        folder.mkdir(exist_ok=True)
    except (GalaxyLabError, OSError):
        return None
    return folder / DATABASE


def _connect() -> sqlite3.Connection | None:
    """The cache database, created when missing; None when it cannot be used."""
    path = _database_path()
    if path is None:
        return None
    try:
        db = sqlite3.connect(path, timeout=10)
    except sqlite3.Error:
        return None
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS results (kind TEXT, path TEXT, stamp TEXT, "
            "payload TEXT, PRIMARY KEY (kind, path))"
        )
    except sqlite3.Error as error:
        db.close()
        _discard_if_damaged(path, error)
        return None
    return db


def _discard_if_damaged(path: Path, error: sqlite3.Error) -> None:
    """Remove a database SQLite says is damaged (not merely busy or read-only)."""
    if isinstance(error, sqlite3.OperationalError) or not isinstance(error, sqlite3.DatabaseError):
        return
    for damaged in (path, path.with_name(path.name + "-journal")):
        try:
            damaged.unlink(missing_ok=True)
        except OSError:
            return


def _batches(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


def lookup(kind: str, wanted: Sequence[tuple[str, Stamp]]) -> dict[str, str]:
    """The remembered payloads of ``kind`` for (absolute path, stamp) pairs still unchanged."""
    if not wanted:
        return {}
    db = _connect()
    if db is None:
        return {}
    expected = {path: _text(value) for path, value in wanted}
    found: dict[str, str] = {}
    try:
        for batch in _batches(list(expected)):
            marks = ",".join("?" * len(batch))
            rows = db.execute(
                f"SELECT path, stamp, payload FROM results WHERE kind = ? AND path IN ({marks})",
                [kind, *batch],
            )
            found.update({path: payload for path, st, payload in rows if st == expected[path]})
    except sqlite3.Error:
        return {}
    finally:
        db.close()
    return found


def store(kind: str, results: Sequence[tuple[str, Stamp, str]]) -> None:
    """Remember (absolute path, stamp, payload) results of ``kind``, skipping racy files."""
    newest = time.time_ns() - int(RACY_SECONDS * 1e9)
    settled = [
        (kind, path, _text(value), payload) for path, value, payload in results if value[1] < newest
    ]
    if not settled:
        return
    db = _connect()
    if db is None:
        return
    try:
        with db:
            db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?)", settled)
    except sqlite3.Error:
        pass  # a busy or read-only cache only costs the speed-up
    finally:
        db.close()
