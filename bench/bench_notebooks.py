"""Wall time and peak memory of every course notebook, in quick and/or default mode.

Each notebook runs top to bottom in a fresh Jupyter kernel (nbclient) inside its own child
process; the peak resident memory of that process tree (the kernel dominates it) comes from
``getrusage(RUSAGE_CHILDREN)``. Prints one row per notebook and mode.

    python bench/bench_notebooks.py                # both modes, every notebook
    python bench/bench_notebooks.py --mode quick   # only quick mode (what CI runs)
    python bench/bench_notebooks.py --mode default 02_three_class_cnn
    python bench/bench_notebooks.py --save bench/out/executed   # also keep the executed copies
    python bench/bench_notebooks.py --cores 1      # pin each kernel to one CPU, as on Binder
    taskset -c 1 python bench/bench_notebooks.py --cores 1 05   # ... to CPU 1: two benches at once
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

_CHILD = """
import json, os, resource, sys, time
import nbformat
from nbclient import NotebookClient
if sys.argv[4]:  # the kernel, started below, inherits this process's CPU set
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: int(sys.argv[4])])
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
start = time.perf_counter()
error = None
try:
    NotebookClient(nb, timeout=3600, kernel_name="python3",
                   resources={"metadata": {"path": sys.argv[2]}}).execute()
except Exception as exc:  # report, don't hide: the row shows the failure
    error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
seconds = time.perf_counter() - start
if sys.argv[3]:  # keep the executed notebook, outputs and all, for reading
    nbformat.write(nb, sys.argv[3])
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024, "error": error}))
"""


def run_notebook(
    path: Path, quick: bool, save: Path | None = None, cores: int | None = None
) -> dict:
    """Execute one notebook in a child process; return seconds, peak MiB and any error.

    With ``save``, the executed notebook is written there (outside the tracked notebooks);
    with ``cores``, the kernel may run on the first ``cores`` of the CPUs this process may use."""
    env = dict(os.environ, MPLBACKEND="Agg")
    env["GALAXYLAB_QUICK"] = "1" if quick else "0"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            str(path),
            str(path.parent),
            str(save or ""),
            str(cores or ""),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {
            "seconds": float("nan"),
            "peak_mib": float("nan"),
            "error": (done.stderr.strip().splitlines() or ["no output"])[-1],
        }
    return json.loads(lines[-1])


def main() -> int:
    """Parse arguments, run the chosen notebooks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["quick", "default", "both"], default="both")
    parser.add_argument("names", nargs="*", help="notebook name prefixes (default: all)")
    parser.add_argument(
        "--save",
        type=Path,
        default=None,
        help="write each executed notebook to SAVE/<mode>/<name>.ipynb",
    )
    parser.add_argument(
        "--cores",
        type=int,
        default=None,
        help="pin each notebook's kernel to this many CPUs (Binder gives one)",
    )
    args = parser.parse_args()
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.names:
        paths = [p for p in paths if any(p.name.startswith(n) for n in args.names)]
    modes = ["quick", "default"] if args.mode == "both" else [args.mode]
    print(f"CPUs per kernel: {args.cores or os.cpu_count()}")
    print(f"{'notebook':34s} {'mode':8s} {'seconds':>9s} {'peak MiB':>9s}  status")
    totals = dict.fromkeys(modes, 0.0)
    for mode in modes:
        for path in paths:
            start = time.perf_counter()
            save = None
            if args.save is not None:
                (args.save / mode).mkdir(parents=True, exist_ok=True)
                save = args.save / mode / path.name
            row = run_notebook(path, quick=mode == "quick", save=save, cores=args.cores)
            totals[mode] += time.perf_counter() - start
            status = "ok" if row["error"] is None else f"FAILED {row['error']}"
            print(
                f"{path.stem:34s} {mode:8s} {row['seconds']:9.1f} {row['peak_mib']:9.0f}  {status}",
                flush=True,
            )
    for mode, seconds in totals.items():
        print(f"total {mode}: {seconds:.1f} s (including kernel start-up)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
