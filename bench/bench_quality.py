"""Model quality for a fixed seed: the three-class CNN and the decision-tree regressor on the
offline synthetic universe, and the regressor on the 300 real challenge images, each beside
its dummy baseline (majority class / training mean).

    .venv/bin/python bench/bench_quality.py            # 4000 galaxies, default epochs (~40 min)
    .venv/bin/python bench/bench_quality.py --quick    # 600 galaxies, 3 epochs (a few minutes)

Figures on the synthetic universe measure how well the networks recover simulated volunteers'
votes; they are not comparable with the challenge's leaderboard, whose reference figures are
printed for orientation only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: The Kaggle "Galaxy Zoo - The Galaxy Challenge" private leaderboard, 37 columns, real images.
CHALLENGE = {"all zeros": 0.2716, "central-pixel benchmark": 0.16194, "winning ensemble": 0.0749}


def _line(label: str, value: float, baseline: float | None = None, lower_is_better=False) -> str:
    text = f"  {label:34s} {value:.4f}"
    if baseline is not None:
        better = value < baseline if lower_is_better else value > baseline
        text += f"   baseline {baseline:.4f}   ({'better' if better else 'NOT better'})"
    return text


def _train(task: str, data: Path, out: Path, *, image_size: int, **options) -> tuple[dict, float]:
    from galaxylab.preprocessing import Preprocessing
    from galaxylab.train import TrainConfig, train

    config = TrainConfig(task=task, preprocessing=Preprocessing(image_size=image_size), **options)
    start = time.perf_counter()
    result = train(config, data, out, overwrite=True, progress=True)
    return result, time.perf_counter() - start


def universe_quality(
    data: Path,
    runs: Path,
    epochs: int | None,
    image_size: int,
    seed: int,
    architecture: str,
    balances: Sequence[str] = ("upsample",),
) -> None:
    """Both tasks on the universe: validation and held-out test figures beside the baselines."""
    from galaxylab import evaluate

    print(f"\nSynthetic universe {data} (seed {seed}, {image_size} px)")
    for balance in balances:
        out = runs / f"three-class-{balance}"
        result, seconds = _train(
            "three-class",
            data,
            out,
            epochs=epochs,
            image_size=image_size,
            seed=seed,
            balance=balance,
        )
        test = evaluate.evaluate(out / "model.keras", data)
        print(
            f"three-class CNN, balance={balance}: {result['epochs_run']} epochs (best "
            f"{result['best_epoch']}), {seconds / 60:.1f} min, {result['n_train']} training "
            f"galaxies ({result['n_train_balanced']} fitted per epoch)"
        )
        for name, scores in (("validation", result), (f"test ({test['n']})", test)):
            print(_line(f"{name} accuracy", scores["accuracy"], scores["baseline_accuracy"]))
            print(_line(f"{name} macro-F1", scores["macro_f1"], scores["baseline_macro_f1"]))
        print(
            f"  test confusion matrix (rows = true {test['labels']}): {test['confusion_matrix']}",
            flush=True,
        )

    result, seconds = _train(
        "decision-tree",
        data,
        runs / "decision-tree",
        epochs=epochs,
        image_size=image_size,
        seed=seed,
        architecture=architecture,
    )
    test = evaluate.evaluate(runs / "decision-tree" / "model.keras", data)
    tta = evaluate.evaluate(runs / "decision-tree" / "model.keras", data, tta=True)
    print(
        f"decision-tree regressor ({architecture}): {result['epochs_run']} epochs (best "
        f"{result['best_epoch']}), {seconds / 60:.1f} min, {len(result['columns_scored'])} "
        "columns scored"
    )
    print(_line("validation RMSE", result["rmse"], result["baseline_rmse"], True))
    print(_line(f"test RMSE ({test['n']})", test["rmse"], test["baseline_rmse"], True))
    print(_line("test RMSE, 8-view dihedral TTA", tta["rmse"], tta["baseline_rmse"], True))
    worst = max(test["rmse_per_question"], key=test["rmse_per_question"].get)
    print(
        "  per question (test): "
        + ", ".join(f"{q} {v:.3f}" for q, v in test["rmse_per_question"].items())
        + f"; worst {worst}"
    )


def real_sample_quality(
    runs: Path, epochs: int | None, image_size: int, seed: int, pretrained: Path | None = None
) -> None:
    """Train on 240 of the 300 real images (216 fitted, 24 for early stopping), score the
    other 60: the regressor's RMSE over the sample's 17 columns beside the training mean;
    from scratch, and fine-tuned from the universe's regressor (``pretrained``) if given."""
    from galaxylab import datasets, evaluate, pipeline

    real_sample = datasets.resolve_source("kaggle-sample")  # the built-in sample
    catalog = datasets.load(real_sample)
    table = pd.read_csv(real_sample / "training_solutions_rev1.csv")
    train_part, held_out, _ = pipeline.split(catalog, seed=seed, fractions=(0.8, 0.2, 0.0))
    folders = {}
    for name, part in (("train240", train_part), ("test60", held_out)):
        root = runs / name
        (root / "images_training_rev1").mkdir(parents=True, exist_ok=True)
        ids = part["id"].astype(int)
        table[table["GalaxyID"].isin(ids)].to_csv(root / "training_solutions_rev1.csv", index=False)
        for galaxy_id in ids:
            link = root / "images_training_rev1" / f"{galaxy_id}.jpg"
            if not link.exists():
                link.symlink_to(real_sample / "images_training_rev1" / f"{galaxy_id}.jpg")
        # the images are the sample's central crops: keep its frame_fraction (no checksums)
        frame = {"frame_fraction": float(catalog["frame_fraction"].iloc[0])}
        (root / "SAMPLE.json").write_text(json.dumps(frame))
        folders[name] = root
    print(
        f"\nReal sample ({real_sample.name}): decision-tree regressor trained on 240 real "
        "galaxies (216 fitted, 24 for early stopping), scored on the other 60"
    )
    starts = [("from scratch", None)]
    if pretrained is not None:
        starts.append(("fine-tuned from the universe model", pretrained))
    for label, init_from in starts:
        out = runs / ("real-tuned" if init_from else "real")
        result, seconds = _train(
            "decision-tree",
            folders["train240"],
            out,
            epochs=epochs,
            image_size=image_size,
            seed=seed,
            fractions=(0.9, 0.1, 0.0),
            init_from=init_from,
        )
        test = evaluate.evaluate(out / "model.keras", folders["test60"])
        print(
            f"  {label}: {result['epochs_run']} epochs, {seconds / 60:.1f} min, "
            f"{len(test['columns_scored'])} columns scored"
        )
        print(
            _line(
                f"held-out RMSE ({test['n']} real galaxies)",
                test["rmse"],
                test["baseline_rmse"],
                True,
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="600 galaxies and 3 epochs instead of 4000 and the default epochs",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs per training (default: galaxylab's, 3 with --quick)",
    )
    parser.add_argument("--architecture", default="small", choices=("small", "alexnet"))
    parser.add_argument(
        "--balance",
        nargs="+",
        default=["upsample"],
        choices=("upsample", "weights", "none"),
        help="three-class balancing recipes to train (default upsample)",
    )
    parser.add_argument(
        "--runs",
        type=Path,
        default=None,
        help="keep the run folders here (default: a temporary folder)",
    )
    parser.add_argument("--skip-universe", action="store_true")
    parser.add_argument("--skip-real", action="store_true")
    args = parser.parse_args()
    from galaxylab import datasets

    epochs = args.epochs if args.epochs is not None else (3 if args.quick else None)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="galaxylab-bench-") as tmp:
        runs = args.runs or Path(tmp)
        runs.mkdir(parents=True, exist_ok=True)
        pretrained = None
        if not args.skip_universe:
            data = datasets.universe_folder(n=600 if args.quick else 4000, seed=args.seed)
            universe_quality(
                data, runs, epochs, args.image_size, args.seed, args.architecture, args.balance
            )
            if args.architecture == "small":
                pretrained = runs / "decision-tree" / "model.keras"
        if not args.skip_real:
            real_sample_quality(runs, epochs, args.image_size, args.seed, pretrained)
    print(
        "\nFor orientation only, the real challenge (37 columns, 79,975 test images; "
        "not comparable with the figures above): "
        + ", ".join(f"{name} {value}" for name, value in CHALLENGE.items())
    )
    print(f"total {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
