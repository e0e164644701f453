"""``galaxylab train`` and ``galaxylab evaluate`` as a user runs them (subprocesses).

Good input: one JSON object on stdout, a complete RUN. Bad input: exit status 2, one line on
stderr naming the problem, no traceback, and never a RUN folder that looks complete.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from galaxylab import cli, tree

ROOT = Path(__file__).resolve().parents[1]
#: What the command-line contract (docs/DESIGN.md) promises evaluate prints, per task.
EVALUATE_KEYS = {
    "three-class": {"task", "n", "labels", "accuracy", "macro_f1", "confusion_matrix"},
    "decision-tree": {"task", "n", "rmse", "columns_scored", "rmse_per_question"},
}
REAL_COLUMNS = [
    "Class1.1",
    "Class1.2",
    "Class1.3",
    "Class2.1",
    "Class2.2",
    "Class6.1",
    "Class6.2",
    "Class7.1",
    "Class7.2",
    "Class7.3",
    "Class8.1",
    "Class8.2",
    "Class8.3",
    "Class8.4",
    "Class8.5",
    "Class8.6",
    "Class8.7",
]


def galaxylab(*args: str | Path, subprocess_: bool = True) -> subprocess.CompletedProcess:
    """Run the command line in a fresh process, or (faster: TensorFlow is imported once per
    test session) through ``cli.main`` in this one with stdout and stderr captured."""
    argv = [str(a) for a in args]
    if subprocess_:
        return subprocess.run(
            [sys.executable, "-m", "galaxylab", *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def _errors(result: subprocess.CompletedProcess) -> list[str]:
    """stderr without TensorFlow's C++ start-up notices."""
    noise = ("WARNING: All log messages before absl", "I0000", "E0000", "W0000")
    return [line for line in result.stderr.splitlines() if not line.startswith(noise)]


def assert_bad_input(result: subprocess.CompletedProcess, command: str, *words: str) -> str:
    lines = _errors(result)
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith(f"galaxylab {command}: error: "), lines
    assert "Traceback" not in result.stderr and result.stdout == ""
    for word in words:
        assert word in lines[0]
    return lines[0]


def train_ok(*args: str | Path, subprocess_: bool = False) -> dict:
    result = galaxylab("train", "--quiet", *args, subprocess_=subprocess_)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # stdout holds the JSON object and nothing else


def evaluate_ok(*args: str | Path, subprocess_: bool = False) -> dict:
    result = galaxylab("evaluate", *args, subprocess_=subprocess_)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture()
def small_kaggle(real_sample: Path, tmp_path: Path) -> Path:
    """Twenty real galaxies copied into a fresh Kaggle-layout folder we may break."""
    root = tmp_path / "kaggle"
    (root / "images_training_rev1").mkdir(parents=True)
    table = pd.read_csv(real_sample / "training_solutions_rev1.csv").iloc[:20]
    table.to_csv(root / "training_solutions_rev1.csv", index=False)
    for galaxy_id in table["GalaxyID"]:
        name = f"{galaxy_id}.jpg"
        shutil.copy(real_sample / "images_training_rev1" / name, root / "images_training_rev1")
    return root


@pytest.mark.parametrize("task", ["three-class", "decision-tree"])
def test_train_and_evaluate_on_the_synthetic_universe(
    task: str, small_universe: Path, tmp_path: Path
):
    run = tmp_path / "run"
    separate = task == "three-class"  # one task runs in real processes, the other in this one
    metrics = train_ok(
        "--task",
        task,
        "--data",
        small_universe,
        "--out",
        run,
        "--epochs",
        "2",
        "--image-size",
        "32",
        subprocess_=separate,
    )
    assert json.loads((run / "metrics.json").read_text()) == metrics
    assert (run / "model.keras").is_file() and len(pd.read_csv(run / "history.csv")) == 2
    result = evaluate_ok(
        "--model", run / "model.keras", "--data", small_universe, subprocess_=separate
    )
    assert set(result) >= EVALUATE_KEYS[task] and result["task"] == task
    assert metrics["split"] == "validation" and metrics["n"] == metrics["n_val"]
    assert result["split"] == "test" and result["n"] == metrics["n_test"] == 16
    if task == "three-class":
        assert result["labels"] == ["elliptical", "spiral", "unsure"]
        assert sum(map(sum, result["confusion_matrix"])) == result["n"]
    else:
        assert result["columns_scored"] == list(tree.COLUMNS)
        assert 0 < result["rmse"] < 0.5
    again = galaxylab("train", "--task", task, "--data", small_universe, "--out", run)
    assert_bad_input(again, "train", str(run), "--overwrite")


def test_real_sample_scores_exactly_its_17_columns(real_sample: Path, tmp_path: Path):
    run = tmp_path / "real"
    metrics = train_ok(
        "--task",
        "decision-tree",
        "--data",
        real_sample,
        "--out",
        run,
        "--epochs",
        "2",
        "--image-size",
        "32",
    )
    assert metrics["columns_scored"] == REAL_COLUMNS
    assert set(metrics["rmse_per_question"]) == {"Q1", "Q2", "Q6", "Q7", "Q8"}
    result = evaluate_ok("--model", run / "model.keras", "--data", real_sample)
    assert result["split"] == "test" and result["n"] == metrics["n_test"] == 30
    assert result["columns_scored"] == REAL_COLUMNS and result["columns_ignored"] == []
    assert 0 < result["rmse"] and result["baseline_rmse"] > 0


@pytest.fixture()
def learnable(tmp_path: Path) -> Path:
    """80 galaxies of two kinds a network tells apart at once (small and bright, or large and
    faint), each kind with its own answers to every question: training must beat the mean."""
    root = tmp_path / "learnable"
    (root / "images_training_rev1").mkdir(parents=True)
    rng = np.random.default_rng(0)
    kinds = np.arange(80) % 2
    fractions = np.zeros((2, len(tree.COLUMNS)))
    for _, cols in tree.question_slices():
        n = len(range(*cols.indices(len(tree.COLUMNS))))
        fractions[:, cols] = np.eye(n)[[0, -1]] * 0.8 + 0.2 / n  # first or last answer
    table = pd.DataFrame(tree.to_cumulative(fractions[kinds]), columns=list(tree.COLUMNS))
    table.insert(0, "GalaxyID", 300000 + np.arange(len(kinds)))
    r = np.hypot(*(np.mgrid[:48, :48] - 23.5))
    for galaxy_id, kind in zip(table["GalaxyID"], kinds, strict=True):
        scale, peak = (rng.uniform(3, 5), 250) if kind == 0 else (rng.uniform(9, 12), 120)
        light = np.exp(-((r / scale) ** 2))[:, :, None] * peak * np.array([1, 0.9, 0.8])
        pixels = np.clip(light + rng.normal(0, 5, (48, 48, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / "images_training_rev1" / f"{galaxy_id}.jpg")
    table.to_csv(root / "training_solutions_rev1.csv", index=False)
    return root


def test_a_trained_model_beats_the_mean_on_held_out_galaxies(learnable: Path, tmp_path: Path):
    run = tmp_path / "run"
    args = ("--task", "decision-tree", "--data", learnable, "--out", run, "--epochs", "5")
    train_ok(*args, "--image-size", "16")
    result = evaluate_ok("--model", run / "model.keras", "--data", learnable)
    assert result["split"] == "test" and result["n"] == 8  # galaxies it never trained on
    assert result["rmse"] < 0.75 * result["baseline_rmse"]


def test_bad_sources_end_in_one_line(tmp_path: Path, small_kaggle: Path):
    run = tmp_path / "run"
    train = ("train", "--task", "decision-tree", "--out", run, "--data")
    assert_bad_input(galaxylab(*train, tmp_path / "nowhere"), "train", "nowhere")
    (tmp_path / "empty").mkdir()
    assert_bad_input(galaxylab(*train, tmp_path / "empty"), "train", "empty")
    (tmp_path / "notes.txt").write_text("hello")
    assert_bad_input(galaxylab(*train, tmp_path / "notes.txt"), "train", "notes.txt")

    table = pd.read_csv(small_kaggle / "training_solutions_rev1.csv")
    table.rename(columns={"Class1.3": "Class1.9"}).to_csv(
        small_kaggle / "training_solutions_rev1.csv", index=False
    )
    assert_bad_input(galaxylab(*train, small_kaggle), "train", "Class1.9")
    assert_bad_input(
        galaxylab("evaluate", "--model", run / "model.keras", "--data", small_kaggle),
        "evaluate",
        "model.keras",
    )
    assert not run.exists()


def test_corrupt_image_is_refused_or_dropped_with_a_warning(small_kaggle: Path, tmp_path: Path):
    victim = sorted((small_kaggle / "images_training_rev1").glob("*.jpg"))[3]
    victim.write_bytes(victim.read_bytes()[:500])  # a truncated download
    run = tmp_path / "run"
    args = (
        "--task",
        "decision-tree",
        "--data",
        small_kaggle,
        "--out",
        run,
        "--epochs",
        "1",
        "--image-size",
        "16",
    )
    assert_bad_input(galaxylab("train", *args), "train", victim.name)
    assert not run.exists()
    dropped = galaxylab("train", "--quiet", *args, "--drop-bad", subprocess_=False)
    assert dropped.returncode == 0, dropped.stderr
    warnings = [line for line in _errors(dropped) if "warning" in line]
    assert len(warnings) == 1 and victim.name in warnings[0] and "dropped 1 of 20" in warnings[0]
    metrics = json.loads(dropped.stdout)
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 19
    bad_eval = galaxylab("evaluate", "--model", run / "model.keras", "--data", small_kaggle)
    assert_bad_input(bad_eval, "evaluate", victim.name)


def test_class_folders_suit_three_class_only(small_kaggle: Path, tmp_path: Path):
    folders = tmp_path / "folders"
    images = sorted((small_kaggle / "images_training_rev1").glob("*.jpg"))
    for i, name in enumerate(("elliptical", "spiral", "unsure")):
        (folders / name).mkdir(parents=True)
        for path in images[i::3]:
            shutil.copy(path, folders / name)
    bad = galaxylab(
        "train", "--task", "decision-tree", "--data", folders, "--out", tmp_path / "run"
    )
    assert_bad_input(bad, "train", "vote fractions")
    assert not (tmp_path / "run").exists()
