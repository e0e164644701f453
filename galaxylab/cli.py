"""The ``galaxylab`` command line: simulate, inspect, train and evaluate (docs/DESIGN.md).

Each subcommand imports its module only when it runs, so ``simulate`` and ``inspect`` never
pay for importing TensorFlow. Bad input ends in one line on stderr and exit status 2; while
``train`` and ``evaluate`` run, Keras' progress goes to stderr so stdout carries only the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from galaxylab.backend import quiet_environment
from galaxylab.choices import ARCHITECTURES, BALANCE_METHODS, GZ1_LABELS, SPLITS, TASKS
from galaxylab.errors import GalaxyLabError
from galaxylab.preprocessing import DEFAULT_IMAGE_SIZE, MAX_IMAGE_SIZE

EXIT_BAD_INPUT = 2
#: Stands for the built-in sample names in help text until the help is printed.
BUILTIN_NAMES = "{built-in names}"
#: What --data takes, for every subcommand's help.
DATA_HELP = (
    "data source: a Kaggle-layout folder, class folders, a Galaxy10 .h5 file, a GZ2 or GZ1 "
    f"folder, or a built-in sample: {BUILTIN_NAMES} (write ./NAME for a folder of that name)"
)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help with the built-in sample names filled in only when help is printed:
    importing them loads the datasets package, a few tenths of a second at every start."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        if text is not None and BUILTIN_NAMES in text:
            from galaxylab.datasets.samples import BUILTIN_SOURCES

            text = text.replace(BUILTIN_NAMES, ", ".join(BUILTIN_SOURCES))
        return text


@contextlib.contextmanager
def console(command: str) -> Iterator[None]:
    """Keras' progress output goes to stderr (stdout carries only the JSON result) and each
    warning becomes one line, ``galaxylab <command>: warning: ...``."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        print(f"galaxylab {command}: warning: {message}", file=sys.stderr, flush=True)

    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.showwarning = show
        yield


def _cmd_simulate(args: argparse.Namespace) -> int:
    from galaxylab import simulate

    simulate.write_universe(
        n=args.n,
        out=Path(args.out),
        seed=args.seed,
        overwrite=args.overwrite,
        workers=args.workers,
        progress=not args.quiet,
    )
    print(f"wrote {args.n} synthetic galaxies to {args.out}", file=sys.stderr)
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from galaxylab import datasets

    print(json.dumps(datasets.inspect(args.data), indent=2))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from galaxylab.preprocessing import Preprocessing
    from galaxylab.train import TrainConfig, train

    config = TrainConfig(
        task=args.task,
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        preprocessing=Preprocessing(image_size=args.image_size, greyscale=args.greyscale),
        architecture=args.architecture,
        balance=args.balance,
        init_from=args.init_from,
        gz1_labels=args.gz1_labels,
    )
    with console(args.command):
        result = train(
            config,
            args.data,
            args.out,
            overwrite=args.overwrite,
            drop_bad=args.drop_bad,
            progress=not args.quiet,
        )
    print(json.dumps(result, indent=2))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from galaxylab import evaluate

    with console(args.command):
        result = evaluate.evaluate(
            args.model, args.data, split=args.split, tta=args.tta, drop_bad=args.drop_bad
        )
    print(json.dumps(result, indent=2))
    return 0


def in_cli_words(message: str) -> str:
    """An error message with the Python API's advice (``on_bad='drop'``, the phrase
    ``datasets.catalog.DROP_HINT``) in the command line's words (``--drop-bad``)."""
    from galaxylab.datasets.catalog import DROP_HINT

    return message.replace(DROP_HINT, "pass --drop-bad to drop the bad rows")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand (also used by tests and the docs)."""
    parser = argparse.ArgumentParser(
        prog="galaxylab",
        description="Galaxy Zoo morphology with convolutional networks.",
        formatter_class=HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write a synthetic universe in the Kaggle layout")
    sim.add_argument("--n", type=_positive_int, required=True, help="number of galaxies")
    sim.add_argument("--out", required=True, help="output folder (must not hold a universe)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="processes to render with (default: all cores)",
    )
    sim.add_argument("--overwrite", action="store_true", help="replace an existing universe")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(func=_cmd_simulate)

    ins = sub.add_parser(
        "inspect", help="print a data source's health as JSON", formatter_class=HelpFormatter
    )
    ins.add_argument("--data", required=True, help=DATA_HELP)
    ins.set_defaults(func=_cmd_inspect)

    trn = sub.add_parser(
        "train",
        help="train a model; writes RUN/model.keras, history, metrics",
        formatter_class=HelpFormatter,
    )
    trn.add_argument("--task", required=True, choices=TASKS)
    trn.add_argument("--data", required=True, help=DATA_HELP)
    trn.add_argument("--out", required=True, help="run folder (an interrupted run resumes)")
    trn.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="maximum epochs (default: a budget of about 15 minutes on 2 cores "
        "for 4000 galaxies, more epochs for fewer galaxies)",
    )
    trn.add_argument(
        "--image-size",
        type=_positive_int,
        default=DEFAULT_IMAGE_SIZE,
        help=f"pixels per side fed to the network (default {DEFAULT_IMAGE_SIZE}, at most "
        f"{MAX_IMAGE_SIZE})",
    )
    trn.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    trn.add_argument("--batch-size", type=_positive_int, default=32, help="default 32")
    trn.add_argument(
        "--architecture",
        choices=ARCHITECTURES,
        default=ARCHITECTURES[0],
        help="decision-tree network (default small)",
    )
    trn.add_argument(
        "--balance",
        choices=BALANCE_METHODS,
        default=None,
        help="three-class balancing (default oversample: repeat the rarer classes)",
    )
    trn.add_argument("--greyscale", action="store_true", help="train on one luminance channel")
    trn.add_argument(
        "--gz1-labels",
        choices=GZ1_LABELS,
        default=GZ1_LABELS[0],
        help="three classes of a Galaxy Zoo 1 source: the catalogue's flags (default), or the "
        "raw or debiased vote fractions at 0.8",
    )
    trn.add_argument(
        "--init-from",
        metavar="MODEL",
        default=None,
        help="start from this saved model (same task and image size), e.g. one "
        "trained on the synthetic universe, to fine-tune it",
    )
    trn.add_argument("--overwrite", action="store_true", help="replace a complete run")
    trn.add_argument(
        "--drop-bad",
        action="store_true",
        help="drop bad rows (missing/unreadable images, bad labels) with a warning",
    )
    trn.add_argument("--quiet", action="store_true", help="no progress bar")
    trn.set_defaults(func=_cmd_train)

    ev = sub.add_parser(
        "evaluate",
        help="score a trained model on a data source as JSON",
        formatter_class=HelpFormatter,
    )
    ev.add_argument("--model", required=True, help="RUN/model.keras")
    ev.add_argument("--data", required=True, help=DATA_HELP)
    ev.add_argument(
        "--split",
        choices=SPLITS,
        default=SPLITS[0],
        help="auto (default): only the run's test galaxies when --data is its "
        "training source, else all",
    )
    ev.add_argument("--tta", action="store_true", help="average over the 8 dihedral views")
    ev.add_argument("--drop-bad", action="store_true", help="drop bad rows with a warning")
    ev.set_defaults(func=_cmd_evaluate)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    quiet_environment()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader that went away shows up here rather than at exit
        return status
    except GalaxyLabError as error:
        print(f"galaxylab {args.command}: error: {in_cli_words(str(error))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"galaxylab {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away, e.g. ``galaxylab inspect ... | head -1``
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
