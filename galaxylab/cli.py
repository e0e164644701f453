"""The ``galaxylab`` command line: simulate, inspect, train and evaluate (see DESIGN.md).

Each subcommand imports its module only when it runs, so ``simulate`` and ``inspect`` never
pay for importing TensorFlow. Bad input ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from galaxylab.errors import GalaxyLabError

EXIT_BAD_INPUT = 2


def _cmd_simulate(args: argparse.Namespace) -> int:
    from galaxylab import simulate

    simulate.write_universe(
        n=args.n, out=Path(args.out), seed=args.seed, overwrite=args.overwrite,
        workers=args.workers, progress=not args.quiet,
    )
    print(f"wrote {args.n} synthetic galaxies to {args.out}", file=sys.stderr)
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from galaxylab import datasets

    print(json.dumps(datasets.inspect(args.data), indent=2))
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand (also used by tests and the docs)."""
    parser = argparse.ArgumentParser(
        prog="galaxylab", description="Galaxy Zoo morphology with convolutional networks."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write a synthetic universe in the Kaggle layout")
    sim.add_argument("--n", type=_positive_int, required=True, help="number of galaxies")
    sim.add_argument("--out", required=True, help="output folder (must not hold a universe)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument("--workers", type=_positive_int, default=None,
                     help="processes to render with (default: all cores)")
    sim.add_argument("--overwrite", action="store_true", help="replace an existing universe")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(func=_cmd_simulate)

    ins = sub.add_parser("inspect", help="print a data source's health as JSON")
    ins.add_argument("--data", required=True, help="Kaggle folder, class folders or Galaxy10 .h5")
    ins.set_defaults(func=_cmd_inspect)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GalaxyLabError as error:
        print(f"galaxylab {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"galaxylab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
