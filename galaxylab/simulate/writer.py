"""Write a synthetic universe in the Kaggle challenge layout, atomically and deterministically.

Galaxy ``i`` of an ``n``-galaxy universe depends only on (seed, n, i): its random numbers come
from ``SeedSequence([seed, n, i])`` and the sky noise from a bank sampled from the seed, so any
number of worker processes writes byte-identical files, and universes of different sizes share
no galaxy (a model trained on one can be tested on another without seeing its test galaxies).
Everything is written into a hidden sibling folder, ``.<name>.partial-<host>-<pid>-<random>``,
that replaces ``out`` only when complete; one left behind by a killed run is removed by the next
run into the same folder once its process is gone.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from galaxylab import tree
from galaxylab.errors import GalaxyLabError
from galaxylab.simulate.morphology import GalaxyParams, sample_params
from galaxylab.simulate.render import render_galaxy, sky_bank
from galaxylab.simulate.volunteers import (
    VOLUNTEERS,
    answer_probabilities,
    clarity,
    expected_labels,
    round_tree,
    true_labels,
    vote,
)

LABELS_FILE = "training_solutions_rev1.csv"
IMAGES_DIR = "images_training_rev1"
TRUTH_FILE = "truth.csv"
#: GalaxyID of galaxy 0; ids are consecutive, like the challenge's six-digit ids.
FIRST_ID = 100000
DECIMALS = 6
JPEG_QUALITY = 75  # the challenge's JPEGs use the standard quality-75 tables, 4:2:0 chroma
JPEG_SUBSAMPLING = "4:2:0"


@dataclass
class Galaxy:
    """One synthetic galaxy: its truth, its image and three label sets (cumulative columns)."""

    galaxy_id: int
    params: GalaxyParams
    image: np.ndarray
    n_volunteers: int
    labels: np.ndarray  # what the finite crowd voted
    expected: np.ndarray  # what an infinite crowd would vote
    true: np.ndarray  # a perfect observer's path through the tree


def _streams(index: int, seed: int, n: int | None) -> list[np.random.SeedSequence]:
    """Independent random streams of one galaxy: parameters, rendering, volunteers.

    ``n=None`` (entropy 0, never a universe's size) is the open-ended sequence of the seed.
    """
    if n is not None and not 0 <= index < n:
        raise GalaxyLabError(f"galaxy index {index} is outside a universe of {n} galaxies")
    return np.random.SeedSequence([seed, n or 0, index]).spawn(3)


def galaxy_params(index: int, seed: int = 0, n: int | None = None) -> GalaxyParams:
    """The true parameters of galaxy ``index`` of the ``n``-galaxy universe, without rendering.

    ``n=None`` picks from the seed's open-ended sequence, which no written universe uses
    (galleries and notebooks).
    """
    return sample_params(np.random.default_rng(_streams(index, seed, n)[0]))


def make_galaxy(index: int, seed: int = 0, n: int | None = None) -> Galaxy:
    """Galaxy ``index`` of the ``n``-galaxy universe with ``seed``, exactly as write_universe
    writes it (``n=None``: the seed's open-ended sequence, as in :func:`galaxy_params`)."""
    params_ss, render_ss, vote_ss = _streams(index, seed, n)
    params = sample_params(np.random.default_rng(params_ss))
    image = render_galaxy(params, np.random.default_rng(render_ss), sky_bank(seed))
    vote_rng = np.random.default_rng(vote_ss)
    n_volunteers = int(vote_rng.integers(VOLUNTEERS[0], VOLUNTEERS[1] + 1))
    probs = answer_probabilities(params)
    return Galaxy(
        galaxy_id=FIRST_ID + index,
        params=params,
        image=image,
        n_volunteers=n_volunteers,
        labels=vote(params, vote_rng, n_volunteers, probs),
        expected=expected_labels(params, probs),
        true=true_labels(params),
    )


def _truth_record(g: Galaxy) -> dict[str, object]:
    record: dict[str, object] = {"GalaxyID": g.galaxy_id}
    for key, value in g.params.as_record().items():
        if isinstance(value, bool):
            value = int(value)
        record[key] = "none" if value == "" else value
    record["n_volunteers"] = g.n_volunteers
    record["clarity"] = clarity(g.params)
    return record


def _save_jpeg(image: np.ndarray, path: str) -> None:
    """Encode in memory, then write the file in one call (fewer system calls than PIL's)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(
        buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING
    )
    with open(path, "wb") as file:
        file.write(buffer.getbuffer())


def _simulate_chunk(seed: int, n: int, start: int, stop: int, image_dir: str) -> list[tuple]:
    """Render galaxies start..stop-1 into ``image_dir``; return their rows for the CSVs."""
    rows = []
    for index in range(start, stop):
        g = make_galaxy(index, seed, n)
        _save_jpeg(g.image, os.path.join(image_dir, f"{g.galaxy_id}.jpg"))
        rows.append((_truth_record(g), g.labels, g.expected, g.true))
    return rows


def _init_worker() -> None:
    """Leave Ctrl-C to the parent (it cleans up), and exit once the parent is gone: a killed
    parent would otherwise leave its workers waiting on the task queue forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()


def _exit_when_orphaned(parent: int, interval: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)


def _start_method() -> str:
    """fork where it is safe (fast, and scripts need no __main__ guard); once TensorFlow has
    started its threads in this process, a fresh forkserver/spawn process instead."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and "tensorflow" not in sys.modules:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def _chunk_bounds(n: int, workers: int) -> list[tuple[int, int]]:
    """Chunks that shrink towards the end, so the workers finish together."""
    bounds, start = [], 0
    while start < n:
        size = int(np.clip((n - start) // (2 * workers), 4, 32))
        bounds.append((start, min(start + size, n)))
        start += size
    return bounds


def _run_chunks(seed: int, n: int, image_dir: Path, workers: int, progress: bool) -> list[tuple]:
    bounds = _chunk_bounds(n, workers)
    results: dict[int, list[tuple]] = {}
    bar = tqdm(total=n, unit="galaxy", desc="simulate", file=sys.stderr, disable=not progress)
    try:
        if workers == 1:
            for start, stop in bounds:
                results[start] = _simulate_chunk(seed, n, start, stop, str(image_dir))
                bar.update(stop - start)
        else:
            context = multiprocessing.get_context(_start_method())
            if context.get_start_method() == "fork":
                sky_bank(seed)  # sampled once here, shared by the forked workers
            elif context.get_start_method() == "forkserver":  # import the renderer once
                context.set_forkserver_preload([__name__])
            pool = ProcessPoolExecutor(
                max_workers=workers, initializer=_init_worker, mp_context=context
            )
            try:
                pending: dict[Future, int] = {
                    pool.submit(_simulate_chunk, seed, n, start, stop, str(image_dir)): start
                    for start, stop in bounds
                }
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        start = pending.pop(future)
                        results[start] = future.result()
                        bar.update(len(results[start]))
            finally:  # on error or Ctrl-C: drop queued chunks, let running ones finish
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()
    return [row for start in sorted(results) for row in results[start]]


def _write_tables(rows: list[tuple], folder: Path) -> None:
    """labels and truth CSVs: the vote columns to DECIMALS places, parameters as they are."""
    unit = 10.0**DECIMALS

    def tree_columns(values: list[np.ndarray]) -> np.ndarray:
        return round_tree(np.asarray(values), DECIMALS) / unit

    ids = np.array([[r[0]["GalaxyID"]] for r in rows], dtype=object)
    labels = np.hstack([ids, tree_columns([r[1] for r in rows])])
    _save_csv(folder / LABELS_FILE, [tree.ID_COLUMN, *tree.COLUMNS], labels)
    records = rows[0][0].keys()
    truth = np.hstack(
        [
            np.array([list(r[0].values()) for r in rows], dtype=object),
            tree_columns([r[3] for r in rows]),
            tree_columns([r[2] for r in rows]),
        ]
    )
    _save_csv(
        folder / TRUTH_FILE,
        [*records, *("true_" + c for c in tree.COLUMNS), *("expected_" + c for c in tree.COLUMNS)],
        truth,
    )


def _save_csv(path: Path, header: list[str], table: np.ndarray) -> None:
    """A CSV with one format per column from its first row: %.6f floats, integers and text
    as they are (numpy's savetxt: the bytes pandas' to_csv wrote, without its per-value cost)."""

    def fmt(value: object) -> str:
        if isinstance(value, (float, np.floating)):
            return f"%.{DECIMALS}f"
        return "%d" if isinstance(value, (int, np.integer)) else "%s"

    np.savetxt(
        path,
        table,
        fmt=[fmt(v) for v in table[0]],
        delimiter=",",
        header=",".join(header),
        comments="",
    )


def _check_request(n: int, out: Path, seed: int, overwrite: bool, workers: int | None) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise GalaxyLabError(
            f"cannot simulate {n!r} galaxies into {out}: n must be a positive integer"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GalaxyLabError(
            f"cannot simulate into {out}: seed must be a non-negative integer, got {seed!r}"
        )
    if workers is not None and (not isinstance(workers, (int, np.integer)) or workers <= 0):
        raise GalaxyLabError(
            f"cannot simulate into {out}: workers must be a positive integer, got {workers!r}"
        )
    try:
        taken = out.is_dir() and any(out.iterdir())
        not_a_folder = out.exists() and not out.is_dir()
    except OSError as error:
        raise GalaxyLabError(
            f"cannot write a universe to {out}: {error.strerror or error}"
        ) from error
    if not_a_folder:
        raise GalaxyLabError(f"{out} exists and is not a folder; choose another --out")
    if taken and not overwrite:
        raise GalaxyLabError(
            f"{out} already exists and is not empty; choose another folder "
            "or pass overwrite=True (--overwrite) to replace it"
        )
    return int(workers or available_cores())


# ---------------------------------------------------------------- staging folders


def _host() -> str:
    """This machine's name as it appears in staging folder names (letters, digits, _)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def _staging_name(out: Path, pid: int) -> str:
    """The hidden sibling folder a writer process ``pid`` on this host stages ``out`` in."""
    return f".{out.name}.partial-{_host()}-{pid}-{uuid.uuid4().hex[:8]}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _remove_stale_staging(out: Path) -> list[Path]:
    """Delete staging folders of ``out`` left by writers on this host that no longer run.

    Folders of live processes (another run writing the same universe) and of other hosts
    (a shared file system) are left alone. Returns the folders removed.
    """
    pattern = re.compile(
        rf"\.{re.escape(out.name)}\.partial-{re.escape(_host())}-(\d+)-"
        r"[0-9a-f]{8}"
    )
    removed: list[Path] = []
    try:
        siblings = list(out.parent.iterdir())
    except OSError:
        return removed  # an unreadable or missing parent holds nothing we could clean
    for path in siblings:
        match = pattern.fullmatch(path.name)
        if match and not _process_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _make_staging(out: Path) -> Path:
    """Create the staging folder beside ``out``: the proof that ``out`` can be written."""
    partial = out.parent / _staging_name(out, os.getpid())
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        partial.mkdir()
    except (FileExistsError, NotADirectoryError) as error:
        raise GalaxyLabError(
            f"cannot write a universe to {out}: part of {out.parent} is a file, not a folder"
        ) from error
    except OSError as error:
        problem = error.strerror or str(error)
        raise GalaxyLabError(
            f"cannot write a universe to {out}: making a folder in {out.parent} failed ({problem})"
        ) from error
    return partial


def write_universe(
    n: int,
    out: Path | str,
    seed: int = 0,
    overwrite: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Write ``n`` synthetic galaxies to ``out`` in the Kaggle layout, plus truth.csv.

    ``out`` gets training_solutions_rev1.csv (GalaxyID + 37 cumulative vote fractions),
    images_training_rev1/<GalaxyID>.jpg (424x424 RGB) and truth.csv (true parameters,
    ``true_<column>`` and ``expected_<column>`` labels). The folder appears only when complete;
    the same seed gives byte-identical files for any number of ``workers`` (None = every core
    this process may use). An ``out`` that cannot be written fails before anything is rendered.
    """
    out = Path(out)
    workers = _check_request(n, out, seed, overwrite, workers)
    _remove_stale_staging(out)
    partial = _make_staging(out)
    try:
        (partial / IMAGES_DIR).mkdir()
        rows = _run_chunks(int(seed), int(n), partial / IMAGES_DIR, min(workers, int(n)), progress)
        _write_tables(rows, partial)
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
            os.replace(partial, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out
