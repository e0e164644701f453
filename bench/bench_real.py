"""Three classes on real galaxies: the built-in Galaxy Zoo 1 sample with a fixed split.

Every model is scored on the same held-out test galaxies of ``gz1-desi`` (the test split of
``galaxylab train``'s defaults, seed 0), beside the majority baseline:

- the default three-class CNN, trained with ``galaxylab train``'s defaults (``--seeds`` runs);
- the universe-pretrained showcase model, fine-tuned on the sample with the same defaults;
- the universe-only showcase model, never shown a real galaxy (synthetic to real);
- with ``--originals DIR`` (a folder holding the original 424 px cutouts and table of the
  sample), the default CNN trained on the originals, to check that the compact built-in form
  (the central 256 px, re-encoded) scores the same within the run-to-run noise.

    .venv/bin/python bench/bench_real.py                       # about 15 minutes on 2 cores
    .venv/bin/python bench/bench_real.py --seeds 0 1 2 --originals /path/to/gz1-desi-sample
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SAMPLE = "gz1-desi"


def _scores(model_path: Path, data: str, test_ids: Sequence[str]) -> dict:
    """Accuracy, macro-F1 and recall per class of a model on the fixed test galaxies."""
    from galaxylab import datasets, inference, labels, metrics
    from galaxylab.models import load_model
    from galaxylab.train import runs

    catalog, y = labels.targets("three-class", datasets.load(data))
    keep = catalog["id"].astype(str).isin(set(test_ids)).to_numpy()
    model = load_model(model_path)
    _, prep = runs.model_settings(model, runs.config_for_model(model_path), model_path)
    probabilities = inference.predict(model, catalog.loc[keep], preprocessing=prep)
    summary = metrics.classification_summary(y[keep], probabilities.argmax(axis=1))
    recall = {name: row["recall"] for name, row in summary["per_class"].items()}
    return {
        "accuracy": summary["accuracy"],
        "macro_f1": summary["macro_f1"],
        "recall": recall,
        "n": int(keep.sum()),
    }


def _train(data: str, out: Path, seed: int, init_from: str | None = None) -> float:
    """Train with the defaults (only the seed and the starting model chosen); minutes taken."""
    from galaxylab.train import TrainConfig, train

    start = time.perf_counter()
    train(
        TrainConfig(task="three-class", seed=seed, init_from=init_from), data, out, progress=False
    )
    return (time.perf_counter() - start) / 60


def _line(name: str, rows: list[dict], minutes: list[float] | None = None) -> str:
    acc = np.array([r["accuracy"] for r in rows])
    f1 = np.array([r["macro_f1"] for r in rows])
    recall = {c: np.mean([r["recall"][c] for r in rows]) for c in rows[0]["recall"]}
    spread = f" ± {acc.std():.3f}" if len(rows) > 1 else ""
    spread_f1 = f" ± {f1.std():.3f}" if len(rows) > 1 else ""
    text = (
        f"{name:44s} accuracy {acc.mean():.3f}{spread:8s} macro-F1 {f1.mean():.3f}"
        f"{spread_f1:8s} recall " + " ".join(f"{c} {v:.2f}" for c, v in recall.items())
    )
    if minutes:
        text += f"   ({np.mean(minutes):.1f} min per run, {len(rows)} run(s))"
    return text


def main() -> None:
    """Train, fine-tune and score; print one line per model on the fixed test split."""
    from galaxylab import datasets, labels, metrics, showcase
    from galaxylab.train import split_targets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--originals",
        type=Path,
        default=None,
        help="folder of the original gz1-desi cutouts, for the compact check",
    )
    args = parser.parse_args()

    catalog, y = labels.targets("three-class", datasets.load(SAMPLE))
    train_part, _, test_part = split_targets(catalog, y, seed=0, fractions=(0.8, 0.1, 0.1))
    test_ids = test_part.catalog["id"].astype(str).tolist()
    majority = metrics.majority_baseline(train_part.targets, len(test_part.targets))
    base = metrics.classification_summary(test_part.targets, majority)
    print(f"{SAMPLE}: {len(catalog)} galaxies, fixed test split of {len(test_ids)} (seed 0)")
    print(
        f"{'majority baseline':44s} accuracy {base['accuracy']:.3f}         macro-F1 "
        f"{base['macro_f1']:.3f}"
    )

    pretrained = showcase.run("universe-three-class").path / "model.keras"
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
        rows: dict[str, list[dict]] = {"default": [], "tuned": [], "originals": []}
        minutes: dict[str, list[float]] = {"default": [], "tuned": [], "originals": []}
        for seed in args.seeds:
            for key, data, init in (
                ("default", SAMPLE, None),
                ("tuned", SAMPLE, str(pretrained)),
                ("originals", str(args.originals or ""), None),
            ):
                if key == "originals" and args.originals is None:
                    continue
                out = Path(tmp) / f"{key}-{seed}"
                minutes[key].append(_train(data, out, seed, init))
                rows[key].append(_scores(out / "model.keras", data, test_ids))
        print(
            _line("default three-class CNN (compact sample)", rows["default"], minutes["default"])
        )
        print(_line("universe-pretrained, fine-tuned", rows["tuned"], minutes["tuned"]))
        print(
            _line(
                "universe only (never saw a real galaxy)", [_scores(pretrained, SAMPLE, test_ids)]
            )
        )
        if rows["originals"]:
            print(
                _line(
                    "default CNN on the original 424 px files",
                    rows["originals"],
                    minutes["originals"],
                )
            )
            crossed = [
                _scores(
                    Path(tmp) / f"default-{seed}" / "model.keras", str(args.originals), test_ids
                )
                for seed in args.seeds
            ]
            print(_line("compact-trained CNN scored on the originals", crossed))
            gap = np.mean([r["accuracy"] for r in rows["default"]]) - np.mean(
                [r["accuracy"] for r in rows["originals"]]
            )
            print(f"compact − original accuracy: {gap:+.3f}")


if __name__ == "__main__":
    main()
