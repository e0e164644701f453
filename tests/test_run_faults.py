"""Faults a hostile user provokes in training, evaluation and the command line.

Each test reproduces one finding of a review: two trainers on one RUN, an unwritable --out, an
absurd image size, a model scored on columns it never learned, a single class, torn
checkpoints, a model and config that disagree, a corrupt model file, the Python wording of a
hint on the command line, images smaller than the crop, and images that fail to decode only
inside TensorFlow. Bad input ends in one line (exit status 2 on the command line, a
GalaxyLabError in Python), a doubtful one in one warning; never a traceback, and never a RUN
that looks complete but is not. Data are a few dozen generated 48 px galaxies, trained for an
epoch or two at 16 px.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from galaxylab import cli, datasets, evaluate, tree
from galaxylab.errors import GalaxyLabError
from galaxylab.models import load_model
from galaxylab.preprocessing import Preprocessing
from galaxylab.train import TrainConfig, data_checks, fit, read_run, runs, train

ROOT = Path(__file__).resolve().parents[1]
#: TensorFlow's C++ start-up notices, which are not the package's output.
NOISE = ("WARNING: All log messages before absl", "I0000", "E0000", "W0000")
#: The 17 columns of the real challenge sample: questions 1, 2, 6, 7 and 8.
COLUMNS_17 = [c for c in tree.COLUMNS if tree.QUESTION_OF_COLUMN[c] in (1, 2, 6, 7, 8)]
KINDS = ["elliptical"] * 20 + ["spiral"] * 12 + ["unsure"] * 8
Q1 = {
    "elliptical": [0.9, 0.08, 0.02],
    "spiral": [0.05, 0.93, 0.02],
    "unsure": [0.5, 0.45, 0.05],
}
FIRST_ID = 200000


# --------------------------------------------------------------------------- helpers


def galaxylab(*args: str | Path, subprocess_: bool = True) -> subprocess.CompletedProcess:
    """The command line in a fresh process, or through ``cli.main`` in this one (faster once
    TensorFlow is imported) with stdout and stderr captured."""
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


def stderr_lines(result: subprocess.CompletedProcess) -> list[str]:
    """stderr without TensorFlow's C++ start-up notices."""
    return [line for line in result.stderr.splitlines() if not line.startswith(NOISE)]


def one_error(result: subprocess.CompletedProcess, command: str, *words: str) -> str:
    """Assert the contract for bad input: status 2, one stderr line, no traceback."""
    lines = stderr_lines(result)
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith(f"galaxylab {command}: error: "), lines
    assert "Traceback" not in result.stderr and result.stdout == ""
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def warning_lines(result: subprocess.CompletedProcess, command: str) -> list[str]:
    """The package's warning lines of a finished command."""
    assert result.returncode == 0, result.stderr
    return [line for line in stderr_lines(result) if line.startswith(f"galaxylab {command}: warn")]


def galaxy(rng: np.random.Generator, kind: str, size: int = 48) -> np.ndarray:
    """A crude galaxy: a smooth blob, plus two arms unless it is elliptical."""
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    r, theta = np.hypot(x, y), np.arctan2(y, x)
    light = np.exp(-((r / rng.uniform(4, 7)) ** 1.5))
    if kind != "elliptical":
        light += 0.6 * np.exp(-r / 10) * (np.cos(2 * theta - r / 3) > 0.3)
    image = np.clip(light[:, :, None] * [230, 210, 170] + rng.normal(0, 6, (size, size, 3)), 0, 255)
    return image.astype(np.uint8)


def write_kaggle(
    root: Path, kinds: Sequence[str] = KINDS, *, columns: Sequence[str] | None = None
) -> Path:
    """A Kaggle-layout folder: one 48 px JPEG per galaxy, vote fractions obeying the tree
    (question 1 decided by ``kinds``), all 37 columns or only ``columns``."""
    rng = np.random.default_rng(len(kinds))
    (root / "images_training_rev1").mkdir(parents=True)
    fractions = rng.random((len(kinds), len(tree.COLUMNS)))
    for _, cols in tree.question_slices():
        fractions[:, cols] /= fractions[:, cols].sum(axis=1, keepdims=True)
    fractions[:, 0:3] = [Q1[k] for k in kinds]
    table = pd.DataFrame(tree.to_cumulative(fractions), columns=list(tree.COLUMNS))
    if columns is not None:
        table = table[list(columns)]
    table.insert(0, "GalaxyID", FIRST_ID + np.arange(len(kinds)))
    for galaxy_id, kind in zip(table["GalaxyID"], kinds, strict=True):
        Image.fromarray(galaxy(rng, kind)).save(root / "images_training_rev1" / f"{galaxy_id}.jpg")
    table.to_csv(root / "training_solutions_rev1.csv", index=False)
    return root


def write_folders(root: Path, kinds: Sequence[str] = KINDS) -> Path:
    """Class folders ``elliptical/``, ``spiral/``, ``unsure/`` of 48 px PNG galaxies."""
    rng = np.random.default_rng(7)
    for i, kind in enumerate(kinds):
        (root / kind).mkdir(parents=True, exist_ok=True)
        Image.fromarray(galaxy(rng, kind)).save(root / kind / f"g{i:03d}.png")
    return root


def undecodable_png(path: Path) -> None:
    """Overwrite ``path`` with a PNG whose header and IEND chunk are intact (so the cheap
    check passes) but whose pixel data are garbage: it fails only when decoded."""
    data = path.read_bytes()
    path.write_bytes(data[:60] + b"\x11" * (len(data) - 80) + data[-20:])


def fit_run(
    task: str,
    data: Path,
    out: Path,
    *,
    epochs: int = 1,
    image_size: int = 16,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    **choices,
) -> dict:
    """train() through the Python API with a small config."""
    config = TrainConfig(
        task=task, epochs=epochs, preprocessing=Preprocessing(image_size=image_size), **choices
    )
    return train(config, data, out, progress=False, callbacks=callbacks)


class Interrupt(keras.callbacks.Callback):
    """Stops training with an exception after a given epoch, like a crash or Ctrl-C."""

    def __init__(self, after_epoch: int) -> None:
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.after_epoch:
            raise RuntimeError("simulated interruption")


class Epochs(keras.callbacks.Callback):
    """Records which epochs ran."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def assert_sane_run(out: Path, epochs: int) -> None:
    """A complete RUN whose history has one header and one row per epoch, as metrics say."""
    assert runs.is_complete_run(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(runs.RUN_FILES)
    lines = (out / runs.HISTORY).read_text().splitlines()
    assert sum(line.startswith("epoch") for line in lines) == 1
    assert pd.read_csv(out / runs.HISTORY)["epoch"].tolist() == list(range(epochs))
    metrics = json.loads((out / runs.METRICS).read_text())
    assert metrics["epochs_run"] == epochs == metrics["epochs"]


@contextlib.contextmanager
def recorded_warnings() -> Iterator[list[str]]:
    """Every warning raised inside, as a list of message strings (TensorFlow's left out)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages: list[str] = []
        yield messages
    messages.extend(
        str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)
    )


# --------------------------------------------------------------------------- data and runs


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 galaxies with all 37 label columns."""
    return write_kaggle(tmp_path_factory.mktemp("kaggle") / "k37")


@pytest.fixture(scope="module")
def kaggle17(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same kind of source with only the real sample's 17 label columns."""
    return write_kaggle(tmp_path_factory.mktemp("kaggle17") / "k17", columns=COLUMNS_17)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 galaxies in three class folders, as PNG files."""
    return write_folders(tmp_path_factory.mktemp("folders") / "classes")


@pytest.fixture(scope="module")
def tree17_run(kaggle17: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A decision-tree RUN trained for one epoch on the 17-column source."""
    out = tmp_path_factory.mktemp("runs") / "tree17"
    fit_run("decision-tree", kaggle17, out)
    return out


@pytest.fixture(scope="module")
def three_run(folders: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-class RUN trained for one epoch on the class folders."""
    out = tmp_path_factory.mktemp("runs") / "three"
    fit_run("three-class", folders, out)
    return out


# --------------------------------------------------------------------------- 3: one trainer per RUN

GATED_TRAINING = textwrap.dedent(
    '''
    import sys, time
    from pathlib import Path

    import keras

    from galaxylab.preprocessing import Preprocessing
    from galaxylab.train import TrainConfig, train

    data, out, gate = sys.argv[1:4]


    class Gate(keras.callbacks.Callback):
        """After the first epoch, say so and wait until the test opens the gate."""

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                Path(gate + ".waiting").touch()
                deadline = time.monotonic() + 300
                while not Path(gate).exists() and time.monotonic() < deadline:
                    time.sleep(0.05)


    config = TrainConfig(
        task="decision-tree", epochs=2, preprocessing=Preprocessing(image_size=16)
    )
    train(config, data, out, progress=False, callbacks=[Gate()])
    '''
)


def start_gated_training(data: Path, out: Path, gate: Path) -> subprocess.Popen:
    """A trainer in another process that stops after its first epoch until ``gate`` exists;
    returns once it is waiting there (holding the RUN's lock)."""
    process = subprocess.Popen(
        [sys.executable, "-c", GATED_TRAINING, str(data), str(out), str(gate)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    waiting = Path(f"{gate}.waiting")
    deadline = time.monotonic() + 300
    while not waiting.exists():
        if process.poll() is not None:
            raise AssertionError(f"the gated trainer ended early: {process.communicate()[1]}")
        assert time.monotonic() < deadline, "the gated trainer never reached its first epoch"
        time.sleep(0.1)
    assert (out / runs.LOCK).is_file()
    return process


def test_a_second_trainer_on_the_same_run_is_refused_at_once(kaggle: Path, tmp_path: Path):
    out, gate = tmp_path / "run", tmp_path / "gate"
    first = start_gated_training(kaggle, out, gate)
    try:
        args = ("--task", "decision-tree", "--data", kaggle, "--out", out)
        second = galaxylab("train", *args, "--epochs", "2", "--image-size", "16")
        one_error(second, "train", str(out), "being trained by another process", f"pid {first.pid}")
        with pytest.raises(GalaxyLabError, match=f"another process \\(pid {first.pid}\\)"):
            fit_run("decision-tree", kaggle, out, epochs=2)
        # A reader never sees the half-written RUN as a run.
        with pytest.raises(GalaxyLabError, match="not a complete run"):
            read_run(out)
        with pytest.raises(GalaxyLabError, match="model file not found"):
            evaluate.evaluate(out / runs.MODEL, kaggle)
    finally:
        gate.touch()
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert_sane_run(out, epochs=2)


def test_a_killed_trainer_leaves_no_stale_lock(kaggle: Path, tmp_path: Path):
    out, gate = tmp_path / "run", tmp_path / "gate"
    first = start_gated_training(kaggle, out, gate)
    os.kill(first.pid, signal.SIGKILL)  # no chance to clean up: the kernel drops its lock
    first.communicate(timeout=60)
    seen = Epochs()
    fit_run("decision-tree", kaggle, out, epochs=2, callbacks=[seen])
    assert seen.seen == [1]  # resumed after the killed trainer's first epoch
    assert_sane_run(out, epochs=2)


def test_a_model_in_an_unfinished_run_is_not_evaluated(tree17_run: Path, kaggle: Path, tmp_path):
    out = tmp_path / "run"
    (out / runs.WORK).mkdir(parents=True)  # caught between publishing model.keras and metrics
    shutil.copy(tree17_run / runs.MODEL, out / runs.MODEL)
    shutil.copy(tree17_run / runs.HISTORY, out / runs.HISTORY)
    with pytest.raises(GalaxyLabError, match="unfinished run"):
        evaluate.evaluate(out / runs.MODEL, kaggle)


# --------------------------------------------------------------------------- 5: unwritable --out


def test_an_unwritable_out_is_refused_before_the_data_are_read(tmp_path: Path):
    nowhere = tmp_path / "no-such-source"
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    bad_outs = [Path("/proc/galaxylab-test"), tmp_path / "notes.txt" / "run"]
    if os.geteuid() != 0:  # root may write into a read-only folder
        (tmp_path / "locked").mkdir(mode=0o555)
        bad_outs.append(tmp_path / "locked" / "run")
    for out in bad_outs:
        with pytest.raises(GalaxyLabError, match="choose another --out") as info:
            fit_run("decision-tree", nowhere, out)
        assert str(out) in str(info.value) and "no-such-source" not in str(info.value)
    result = galaxylab("train", "--task", "three-class", "--data", nowhere, "--out", bad_outs[0])
    line = one_error(result, "train", str(bad_outs[0]), "cannot be written")
    assert "no-such-source" not in line
    assert not (tmp_path / "notes.txt" / "run").exists()


# --------------------------------------------------------------------------- 6: image size bound


def test_image_size_has_an_upper_bound(kaggle: Path, tmp_path: Path):
    result = galaxylab(
        "train",
        "--task",
        "decision-tree",
        "--data",
        kaggle,
        "--out",
        tmp_path / "run",
        "--image-size",
        "100000",
    )
    one_error(result, "train", "100000", "424")
    assert Preprocessing(image_size=424).image_size == 424  # the challenge's full cutout
    with pytest.raises(GalaxyLabError, match="at most 424"):
        Preprocessing(image_size=425)
    with pytest.raises(GalaxyLabError, match="at most 424"):
        Preprocessing.from_dict({"image_size": 100000, "crop_fraction": 0.5, "greyscale": False})
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- 10: columns learned


def test_evaluate_scores_only_the_columns_the_model_learned(
    tree17_run: Path, kaggle: Path, tmp_path: Path
):
    assert json.loads((tree17_run / runs.CONFIG).read_text())["label_columns"] == COLUMNS_17
    result = galaxylab(
        "evaluate", "--model", tree17_run / runs.MODEL, "--data", kaggle, subprocess_=False
    )
    (warning,) = warning_lines(result, "evaluate")
    scores = json.loads(result.stdout)
    ignored = [c for c in tree.COLUMNS if c not in COLUMNS_17]
    assert scores["columns_scored"] == COLUMNS_17 and scores["columns_ignored"] == ignored
    assert set(scores["rmse_per_question"]) == {"Q1", "Q2", "Q6", "Q7", "Q8"}
    assert "20" in warning and "17" in warning and ignored[0] in warning
    # A model copied away from its RUN has no config: it is scored on every column it is given.
    (tmp_path / "alone").mkdir()
    shutil.copy(tree17_run / runs.MODEL, tmp_path / "alone" / "m.keras")
    with recorded_warnings() as messages:
        alone = evaluate.evaluate(tmp_path / "alone" / "m.keras", kaggle)
    assert alone["columns_scored"] == list(tree.COLUMNS) and alone["columns_ignored"] == []
    assert not [m for m in messages if "ignor" in m]


# --------------------------------------------------------------------------- 11: a single class


def test_a_single_class_is_refused_for_training_and_flagged_in_evaluation(
    three_run: Path, tmp_path: Path
):
    single = write_kaggle(tmp_path / "single", ["elliptical"] * 24)
    out = tmp_path / "run"
    args = ("--task", "three-class", "--data", single, "--out", out, "--image-size", "16")
    result = galaxylab("train", *args, "--epochs", "1")
    one_error(result, "train", str(single), "elliptical", "two classes")
    with pytest.raises(GalaxyLabError, match="all 24 galaxies are elliptical"):
        fit_run("three-class", single, out)
    assert not out.exists()
    # The decision-tree task does not need classes.
    assert fit_run("decision-tree", single, out)["epochs_run"] == 1

    scored = galaxylab(
        "evaluate", "--model", three_run / runs.MODEL, "--data", single, subprocess_=False
    )
    (warning,) = warning_lines(scored, "evaluate")
    assert "elliptical" in warning and "single class" in warning
    assert json.loads(scored.stdout)["n"] == 24


# --------------------------------------------------------------------------- 13: torn checkpoints


@pytest.fixture(scope="module")
def interrupted(kaggle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-epoch run stopped after its second epoch: two backups, two history rows."""
    out = tmp_path_factory.mktemp("interrupted") / "run"
    with pytest.raises(RuntimeError, match="simulated"):
        fit_run("decision-tree", kaggle, out, epochs=3, callbacks=[Interrupt(after_epoch=1)])
    backup = out / runs.WORK / fit.BACKUP
    assert (backup / "training_metadata.json").is_file()
    assert (backup / "training_metadata.json.bkp").is_file()
    return out


def _cut(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _torn_last_line(history: Path) -> None:
    text = history.read_text()
    history.write_text(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1])


def _second_header(history: Path) -> None:
    header, *rows = history.read_text().splitlines(keepends=True)
    history.write_text("".join([header, rows[0], header, *rows[1:]]))


def _both_backups(work: Path) -> None:
    _cut(work / fit.BACKUP / "training_metadata.json")
    _cut(work / fit.BACKUP / "latest.weights.h5.bkp")


def _garbage_fitted(work: Path) -> None:
    (work / "fitted.keras").write_bytes(b"PK\x03\x04 half a zip archive")


#: damage to the interrupted run's work folder → the epochs the resumed run must train.
TORN: dict[str, tuple[Callable[[Path], None], list[int]]] = {
    "metadata": (lambda w: _cut(w / fit.BACKUP / "training_metadata.json"), [1, 2]),
    "weights": (lambda w: _cut(w / fit.BACKUP / "latest.weights.h5"), [1, 2]),
    "both backups": (_both_backups, [0, 1, 2]),
    "history last line": (lambda w: _torn_last_line(w / runs.HISTORY), [1, 2]),
    "history header": (lambda w: _second_header(w / runs.HISTORY), [2]),
    "history unreadable": (lambda w: (w / runs.HISTORY).write_bytes(b"\x00\xff" * 40), [0, 1, 2]),
    "settings": (lambda w: _cut(w / runs.CONFIG), [0, 1, 2]),
    "fitted model": (_garbage_fitted, [2]),
}


@pytest.mark.parametrize("damage", list(TORN))
def test_a_torn_checkpoint_is_repaired_on_resume(
    damage: str, interrupted: Path, kaggle: Path, tmp_path: Path
):
    out = tmp_path / "run"
    shutil.copytree(interrupted, out)
    tear, expected_epochs = TORN[damage]
    tear(out / runs.WORK)
    seen = Epochs()
    with recorded_warnings() as messages:
        fit_run("decision-tree", kaggle, out, epochs=3, callbacks=[seen])
    assert seen.seen == expected_epochs
    assert_sane_run(out, epochs=3)
    repaired = [m for m in messages if str(out) in m]
    assert len(repaired) == 1 and "discard" in repaired[0], messages


def test_a_model_and_config_that_disagree_are_one_error(
    tree17_run: Path, kaggle17: Path, tmp_path: Path
):
    out = tmp_path / "run"
    shutil.copytree(tree17_run, out)
    config = json.loads((out / runs.CONFIG).read_text())
    runs.write_json(out / runs.CONFIG, {**config, "image_size": 64})  # the model takes 16 px
    result = galaxylab("evaluate", "--model", out / runs.MODEL, "--data", kaggle17)
    one_error(result, "evaluate", str(out / runs.MODEL), str(out / runs.CONFIG), "64")
    runs.write_json(out / runs.CONFIG, {**config, "task": "three-class"})
    with pytest.raises(GalaxyLabError, match="config.json") as info:
        evaluate.evaluate(out / runs.MODEL, kaggle17)
    assert str(out / runs.MODEL) in str(info.value) and "three-class" in str(info.value)


# --------------------------------------------------------------------------- 17d: corrupt model


def test_a_corrupt_model_file_is_not_called_missing(tree17_run: Path, kaggle17: Path, tmp_path):
    truncated, garbage = tmp_path / "truncated.keras", tmp_path / "garbage.keras"
    truncated.write_bytes((tree17_run / runs.MODEL).read_bytes()[:3000])
    garbage.write_text("these are not the weights you are looking for")
    for path in (truncated, garbage):
        with pytest.raises(GalaxyLabError) as info:
            load_model(path)
        message = str(info.value)
        assert message.startswith(f"{path}: cannot be read as a Keras model"), message
        assert "not a zip archive" in message and "not found" not in message
    result = galaxylab("evaluate", "--model", truncated, "--data", kaggle17)
    one_error(result, "evaluate", str(truncated), "cannot be read as a Keras model")


# --------------------------------------------------------------------------- 17e: the CLI's hint


def test_the_command_line_suggests_drop_bad(tree17_run: Path, tmp_path: Path):
    src = write_kaggle(tmp_path / "src", KINDS[:12])
    victim = src / "images_training_rev1" / f"{FIRST_ID + 3}.jpg"
    victim.write_bytes(victim.read_bytes()[:300])  # a truncated download
    result = galaxylab("train", "--task", "decision-tree", "--data", src, "--out", tmp_path / "r")
    line = one_error(result, "train", victim.name, "--drop-bad")
    assert "on_bad" not in line
    result = galaxylab("evaluate", "--model", tree17_run / runs.MODEL, "--data", src)
    assert "on_bad" not in one_error(result, "evaluate", victim.name, "--drop-bad")
    with pytest.raises(GalaxyLabError, match="on_bad='drop'") as info:
        datasets.load(src)
    assert "--drop-bad" not in str(info.value)  # the Python API keeps its own wording


# --------------------------------------------------------------------------- 17f: small images


def test_images_smaller_than_the_crop_are_flagged_once(tmp_path: Path):
    src = write_kaggle(tmp_path / "src")
    tiny = src / "images_training_rev1" / f"{FIRST_ID + 5}.jpg"
    Image.fromarray(galaxy(np.random.default_rng(1), "spiral", 10)).save(tiny)
    args = ("train", "--quiet", "--task", "decision-tree", "--data", src, "--epochs", "1")
    result = galaxylab(*args, "--out", tmp_path / "r16", "--image-size", "16", subprocess_=False)
    (warning,) = warning_lines(result, "train")
    assert warning.count(str(tiny)) == 1 and "1 image of 40 " in warning and "16 px" in warning
    with recorded_warnings() as messages:  # a 48 px image's central half is 23 px
        data_checks.warn_small_images(datasets.load(src), Preprocessing(image_size=32), src)
    (warning,) = messages
    assert "40 images of 40 " in warning and "32 px" in warning and f"{FIRST_ID}.jpg" in warning


# --------------------------------------------------------------------------- 1c: tf.data decoding


def _tiny_model() -> keras.Model:
    inputs = keras.Input((16, 16, 3))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _images_of(paths: list[Path]) -> tf.data.Dataset:
    def load(path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return tf.image.resize(image, (16, 16)) / 255.0, tf.constant(0)

    return tf.data.Dataset.from_tensor_slices([str(p) for p in paths]).map(load).batch(2)


def test_fit_names_the_image_tensorflow_could_not_read(folders: Path, tmp_path: Path):
    good = sorted(folders.glob("*/*.png"))[:3]
    gone = tmp_path / "gone.png"
    with pytest.raises(GalaxyLabError) as info:
        data = _images_of([*good, gone])
        fit.fit_resumable(
            _tiny_model(),
            data,
            data,
            work=tmp_path / "w1",
            epochs=1,
            progress=False,
            source="my-source",
        )
    message = str(info.value)
    assert message.startswith("training stopped: ") and str(gone) in message
    assert "\n" not in message and "Graph execution" not in message
    garbled = tmp_path / "garbled.png"
    shutil.copy(good[0], garbled)
    undecodable_png(garbled)
    with pytest.raises(GalaxyLabError) as info:
        data = _images_of([*good, garbled])
        fit.fit_resumable(
            _tiny_model(),
            data,
            data,
            work=tmp_path / "w2",
            epochs=1,
            progress=False,
            source="my-source",
        )
    message = str(info.value)
    assert "my-source" in message and "galaxylab inspect" in message and "\n" not in message


def test_an_image_replaced_after_its_check_is_one_line(
    three_run: Path, folders: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    load = datasets.load

    def load_then_replace(*args, **kwargs) -> pd.DataFrame:
        """Load (checking every image), then garble every fourth image behind the check's back."""
        catalog = load(*args, **kwargs)
        for path in catalog["image"].iloc[::4]:
            undecodable_png(Path(path))
        return catalog

    monkeypatch.setattr(datasets, "load", load_then_replace)

    def fresh_copy(name: str) -> Path:
        return Path(shutil.copytree(folders, tmp_path / name))

    out = tmp_path / "run"
    bad = fresh_copy("cli-train")
    args = ("--task", "three-class", "--data", bad, "--out", out, "--epochs", "1", "--quiet")
    result = galaxylab("train", *args, "--image-size", "16", subprocess_=False)
    one_error(result, "train", str(bad), "galaxylab inspect")
    assert not runs.is_complete_run(out)
    with pytest.raises(GalaxyLabError, match="galaxylab inspect"):
        fit_run("three-class", fresh_copy("api-train"), tmp_path / "api")
    bad = fresh_copy("cli-evaluate")
    result = galaxylab(
        "evaluate", "--model", three_run / runs.MODEL, "--data", bad, subprocess_=False
    )
    one_error(result, "evaluate", str(bad), "galaxylab inspect")
