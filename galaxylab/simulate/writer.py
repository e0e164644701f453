"""Write a synthetic universe in the Kaggle challenge layout, atomically and deterministically.

Galaxy ``i`` of a universe depends only on (seed, i): its random numbers come from
``SeedSequence([seed, 0, i])`` and the sky noise from a bank drawn from the seed, so any number
of worker processes writes byte-identical files, and a bigger universe starts with the
galaxies of a smaller one. Everything is written into a hidden sibling folder that replaces
``out`` only when complete.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sys
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from galaxylab import tree
from galaxylab.errors import GalaxyLabError
from galaxylab.simulate.morphology import GalaxyParams, draw_params
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


@dataclass
class Galaxy:
    """One synthetic galaxy: its truth, its image and three label sets (cumulative columns)."""

    galaxy_id: int
    params: GalaxyParams
    image: np.ndarray
    n_volunteers: int
    labels: np.ndarray     # what the finite crowd voted
    expected: np.ndarray   # what an infinite crowd would vote
    true: np.ndarray       # a perfect observer's path through the tree


def _streams(index: int, seed: int) -> list[np.random.SeedSequence]:
    """Independent random streams of one galaxy: parameters, rendering, volunteers."""
    return np.random.SeedSequence([seed, 0, index]).spawn(3)


def galaxy_params(index: int, seed: int = 0) -> GalaxyParams:
    """The true parameters of galaxy ``index`` of a universe, without rendering it."""
    return draw_params(np.random.default_rng(_streams(index, seed)[0]))


def make_galaxy(index: int, seed: int = 0) -> Galaxy:
    """Galaxy ``index`` of the universe with ``seed``, exactly as write_universe writes it."""
    params_ss, render_ss, vote_ss = _streams(index, seed)
    params = draw_params(np.random.default_rng(params_ss))
    image = render_galaxy(params, np.random.default_rng(render_ss), sky_bank(seed))
    vote_rng = np.random.default_rng(vote_ss)
    n_volunteers = int(vote_rng.integers(VOLUNTEERS[0], VOLUNTEERS[1] + 1))
    probs = answer_probabilities(params)
    return Galaxy(
        galaxy_id=FIRST_ID + index, params=params, image=image, n_volunteers=n_volunteers,
        labels=vote(params, vote_rng, n_volunteers, probs),
        expected=expected_labels(params, probs), true=true_labels(params),
    )


def _truth_record(g: Galaxy) -> dict:
    record = {"GalaxyID": g.galaxy_id}
    for key, value in g.params.as_record().items():
        if isinstance(value, bool):
            value = int(value)
        record[key] = "none" if value == "" else value
    record["n_volunteers"] = g.n_volunteers
    record["clarity"] = clarity(g.params)
    return record


def _simulate_chunk(seed: int, start: int, stop: int, image_dir: str) -> list[tuple]:
    """Render galaxies start..stop-1 into ``image_dir``; return their rows for the CSVs."""
    rows = []
    for index in range(start, stop):
        g = make_galaxy(index, seed)
        Image.fromarray(g.image).save(
            os.path.join(image_dir, f"{g.galaxy_id}.jpg"), format="JPEG", quality=JPEG_QUALITY)
        rows.append((_truth_record(g), g.labels, g.expected, g.true))
    return rows


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and cleans up


def _start_method() -> str:
    """fork where it is safe (fast, and scripts need no __main__ guard); once TensorFlow has
    started its threads in this process, a fresh forkserver/spawn process instead."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and "tensorflow" not in sys.modules:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _run_chunks(seed: int, n: int, image_dir: Path, workers: int, progress: bool
                ) -> list[tuple]:
    chunk = int(np.clip(np.ceil(n / (workers * 8)), 8, 64))
    bounds = [(s, min(s + chunk, n)) for s in range(0, n, chunk)]
    results: dict[int, list[tuple]] = {}
    bar = tqdm(total=n, unit="galaxy", desc="simulate", file=sys.stderr, disable=not progress)
    try:
        if workers == 1:
            for start, stop in bounds:
                results[start] = _simulate_chunk(seed, start, stop, str(image_dir))
                bar.update(stop - start)
        else:
            context = multiprocessing.get_context(_start_method())
            if context.get_start_method() == "forkserver":  # import the renderer once per pool
                context.set_forkserver_preload([__name__])
            pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint,
                                       mp_context=context)
            try:
                pending: dict[Future, int] = {
                    pool.submit(_simulate_chunk, seed, start, stop, str(image_dir)): start
                    for start, stop in bounds}
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
    ids = [r[0]["GalaxyID"] for r in rows]
    unit = 10.0**DECIMALS

    def table(prefix: str, values: np.ndarray) -> pd.DataFrame:
        rounded = round_tree(np.asarray(values), DECIMALS) / unit
        return pd.DataFrame(rounded, columns=[prefix + c for c in tree.COLUMNS])

    labels = table("", np.array([r[1] for r in rows]))
    labels.insert(0, tree.ID_COLUMN, ids)
    labels.to_csv(folder / LABELS_FILE, index=False, float_format=f"%.{DECIMALS}f")
    truth = pd.concat([pd.DataFrame([r[0] for r in rows]),
                       table("true_", np.array([r[3] for r in rows])),
                       table("expected_", np.array([r[2] for r in rows]))], axis=1)
    truth.to_csv(folder / TRUTH_FILE, index=False, float_format=f"%.{DECIMALS}f")


def _check_request(n: int, out: Path, seed: int, overwrite: bool, workers: int | None) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise GalaxyLabError(f"cannot simulate {n!r} galaxies into {out}: n must be a "
                             "positive integer")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GalaxyLabError(f"cannot simulate into {out}: seed must be a non-negative "
                             f"integer, got {seed!r}")
    if workers is not None and (not isinstance(workers, (int, np.integer)) or workers <= 0):
        raise GalaxyLabError(f"cannot simulate into {out}: workers must be a positive "
                             f"integer, got {workers!r}")
    if out.exists() and not out.is_dir():
        raise GalaxyLabError(f"{out} exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise GalaxyLabError(f"{out} already exists and is not empty; choose another folder "
                             "or pass overwrite=True (--overwrite) to replace it")
    return int(workers or os.cpu_count() or 1)


def write_universe(n: int, out: Path | str, seed: int = 0, overwrite: bool = False,
                   workers: int | None = None, progress: bool = True) -> Path:
    """Write ``n`` synthetic galaxies to ``out`` in the Kaggle layout, plus truth.csv.

    ``out`` gets training_solutions_rev1.csv (GalaxyID + 37 cumulative vote fractions),
    images_training_rev1/<GalaxyID>.jpg (424x424 RGB) and truth.csv (true parameters,
    ``true_<column>`` and ``expected_<column>`` labels). The folder appears only when complete;
    the same seed gives byte-identical files for any number of ``workers`` (None = all cores).
    """
    out = Path(out)
    workers = _check_request(n, out, seed, overwrite, workers)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    partial.mkdir()
    try:
        (partial / IMAGES_DIR).mkdir()
        rows = _run_chunks(int(seed), int(n), partial / IMAGES_DIR, min(workers, int(n)),
                           progress)
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
