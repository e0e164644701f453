"""Benchmark: synthetic galaxies per second, from the command line and in process.

Usage: python bench/bench_simulate.py [--n 2000] [--workers 1 2] [--seed 1]

The command-line figure runs ``python -m galaxylab simulate --n N --out TMP`` in a subprocess
and times it end to end: interpreter start-up, imports, worker processes, rendering, JPEG
writing, label tables and the final rename, which is what a student waits for. The in-process
figures time ``simulate.write_universe`` alone with each worker count (default: 1 and every
core this process may use), to separate start-up costs from rendering. Wall-clock rates depend
on what else the machine runs, so the CPU time per galaxy (this process and its children) and
the load average are printed beside each figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from galaxylab import simulate
from galaxylab.simulate.writer import available_cores

ROOT = Path(__file__).resolve().parents[1]


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have finished (their workers too)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(run: Callable[[Path], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``run(out)`` writing into a fresh temporary folder."""
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        cpu, start = _cpu_seconds(), time.perf_counter()
        run(Path(tmp) / "u")
        return time.perf_counter() - start, _cpu_seconds() - cpu


def command_line(n: int, seed: int) -> tuple[float, float]:
    """(wall, CPU) seconds of ``python -m galaxylab simulate`` in a fresh interpreter."""

    def run(out: Path) -> None:
        cmd = [
            sys.executable,
            "-m",
            "galaxylab",
            "simulate",
            "--n",
            str(n),
            "--out",
            str(out),
            "--seed",
            str(seed),
            "--quiet",
        ]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        subprocess.run(
            cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    return _timed(run)


def in_process(n: int, workers: int, seed: int) -> tuple[float, float]:
    """(wall, CPU) seconds of ``simulate.write_universe`` with ``workers`` processes."""
    return _timed(
        lambda out: simulate.write_universe(
            n=n, out=out, seed=seed, workers=workers, progress=False
        )
    )


def _report(label: str, n: int, wall: float, cpu: float) -> float:
    rate = n / wall
    print(
        f"{label}: {n} galaxies in {wall:.2f} s = {rate:.0f} galaxies/s "
        f"({1000 * cpu / n:.2f} CPU-ms per galaxy; load average now "
        f"{os.getloadavg()[0]:.2f})",
        flush=True,
    )
    return rate


def main() -> None:
    """Print the command-line rate, then the in-process rate for each worker count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="galaxies per run (default 2000)")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=None,
        help="in-process worker counts (default: 1 and all cores)",
    )
    parser.add_argument("--seed", type=int, default=1, help="universe seed (default 1)")
    args = parser.parse_args()
    cores = available_cores()
    workers = args.workers or sorted({1, cores})
    print(f"cores: {cores}, load average before: {os.getloadavg()[0]:.2f}")
    _report(
        f"command line (python -m galaxylab simulate, {cores} workers, start-up included)",
        args.n,
        *command_line(args.n, args.seed),
    )
    rates = {}
    for count in workers:
        rates[count] = _report(
            f"in process, workers={count}", args.n, *in_process(args.n, count, args.seed)
        )
    for count in workers[1:]:
        print(
            f"speed-up workers={count} vs workers={workers[0]}: "
            f"{rates[count] / rates[workers[0]]:.2f}x"
        )


if __name__ == "__main__":
    main()
