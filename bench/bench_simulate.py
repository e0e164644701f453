"""Benchmark: galaxies per second of ``simulate.write_universe`` with 1 and 2 worker processes.

Usage: python bench/bench_simulate.py [--n 2000] [--workers 1 2]
Measured end to end (process start-up, rendering, JPEG writing, label tables, the final
rename) into a temporary folder; the target is >= 200 galaxies/s with 2 workers. Wall-clock
rates depend on what else the machine runs, so the CPU time per galaxy (this process and its
workers) and the load average are printed too.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from galaxylab import simulate


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(n: int, workers: int, seed: int = 1) -> tuple[float, float]:
    """(wall seconds, CPU seconds) to write an ``n``-galaxy universe with ``workers``."""
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        cpu, start = _cpu_seconds(), time.perf_counter()
        simulate.write_universe(n=n, out=Path(tmp) / "u", seed=seed, workers=workers,
                                progress=False)
        return time.perf_counter() - start, _cpu_seconds() - cpu


def main() -> None:
    """Print galaxies/s for each worker count and the speed-up over the first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    rates = {}
    for workers in args.workers:
        wall, cpu = measure(args.n, workers)
        rates[workers] = args.n / wall
        print(f"workers={workers}: {args.n} galaxies in {wall:.1f} s = "
              f"{rates[workers]:.0f} galaxies/s ({1000 * cpu / args.n:.2f} CPU-ms per galaxy; "
              f"load average now {os.getloadavg()[0]:.2f})", flush=True)
    first = args.workers[0]
    for workers in args.workers[1:]:
        print(f"speed-up workers={workers} vs workers={first}: "
              f"{rates[workers] / rates[first]:.2f}x")


if __name__ == "__main__":
    main()
