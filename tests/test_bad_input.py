"""Bad input, through the Python API and the command line.

Every case is built in tmp_path from a tiny Kaggle-layout folder (6 generated galaxies whose
labels obey the tree) or from a copy of a few real-sample files. Row problems must make
``datasets.load`` raise one GalaxyLabError naming the file, the row and the problem, while
``galaxylab inspect`` still succeeds and reports them. Structural problems must end the
command with exit status 2 and exactly one line on stderr, no traceback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from galaxylab import datasets, tree
from galaxylab.datasets.kaggle import IMAGES_DIR, LABELS_CSV
from galaxylab.errors import GalaxyLabError

#: The 17 columns of the real sample: questions 1, 2, 6, 7 and 8.
SAMPLE_COLUMNS = [c for c in tree.COLUMNS if tree.QUESTION_OF_COLUMN[c] in (1, 2, 6, 7, 8)]
N = 6
FIRST_ID = 100001


def write_jpeg(path: Path, rng: np.random.Generator) -> Path:
    """A small noisy RGB JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG", quality=90)
    return path


def make_kaggle(root: Path, seed: int = 0) -> Path:
    """A 6-galaxy Kaggle-layout folder with the real sample's 17 columns, obeying the tree."""
    rng = np.random.default_rng(seed)
    values = tree.normalise(rng.random((N, len(tree.COLUMNS))))
    table = pd.DataFrame(values, columns=list(tree.COLUMNS))[SAMPLE_COLUMNS]
    table.insert(0, "GalaxyID", range(FIRST_ID, FIRST_ID + N))
    root.mkdir(parents=True)
    table.to_csv(root / LABELS_CSV, index=False, float_format="%.6f")
    for galaxy in table["GalaxyID"]:
        write_jpeg(root / IMAGES_DIR / f"{galaxy}.jpg", rng)
    return root


def image(root: Path, galaxy: int = FIRST_ID + 1) -> Path:
    return root / IMAGES_DIR / f"{galaxy}.jpg"


def edit_table(root: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    table = pd.read_csv(root / LABELS_CSV, dtype=str)
    change(table).to_csv(root / LABELS_CSV, index=False)
    return root


def set_cell(root: Path, row: int, column: str, value: str) -> Path:
    def change(table: pd.DataFrame) -> pd.DataFrame:
        table.loc[row, column] = value
        return table

    return edit_table(root, change)


# --- the cases: each builds a bad source from a fresh good folder and returns the source ---


def truncated_jpeg(root: Path) -> Path:
    data = image(root).read_bytes()
    image(root).write_bytes(data[: len(data) // 2])
    return root


def empty_file(root: Path) -> Path:
    image(root).write_bytes(b"")
    return root


def png_named_jpg(root: Path) -> Path:
    Image.open(image(root)).save(image(root), format="PNG")
    return root


def text_named_jpg(root: Path) -> Path:
    image(root).write_text("this is not a galaxy\n")
    return root


def id_without_image(root: Path) -> Path:
    image(root).unlink()
    return root


def nan_value(root: Path) -> Path:
    return set_cell(root, 1, "Class1.2", "")


def non_numeric_value(root: Path) -> Path:
    return set_cell(root, 1, "Class7.2", "lots")


def value_too_big(root: Path) -> Path:
    return set_cell(root, 1, "Class8.3", "1.5")


def tree_violation(root: Path) -> Path:
    table = pd.read_csv(root / LABELS_CSV)
    return set_cell(root, 1, "Class1.3", str(table.loc[1, "Class1.3"] + 0.2 + 1e-3))


def missing_id_column(root: Path) -> Path:
    return edit_table(root, lambda t: t.rename(columns={"GalaxyID": "galaxy_id"}))


def unknown_column(root: Path) -> Path:
    return edit_table(root, lambda t: t.assign(foo="0.1"))


def misnamed_column(root: Path) -> Path:
    return edit_table(root, lambda t: t.rename(columns={"Class1.1": "Clas1.1"}))


def wrong_answer_column(root: Path) -> Path:
    return edit_table(root, lambda t: t.assign(**{"Class1.9": "0.0"}))


def duplicate_id(root: Path) -> Path:
    return set_cell(root, 2, "GalaxyID", str(FIRST_ID + 1))


def unparsable_csv(root: Path) -> Path:
    with open(root / LABELS_CSV, "a") as handle:
        handle.write(
            "100999,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,"
            "0.9,0.1,0.2\n"
        )
    return root


def header_only_csv(root: Path) -> Path:
    header = (root / LABELS_CSV).read_text().splitlines()[0]
    (root / LABELS_CSV).write_text(header + "\n")
    return root


def empty_folder(root: Path) -> Path:
    shutil.rmtree(root)
    root.mkdir()
    return root


def text_file_source(root: Path) -> Path:
    path = root.parent / "notes.txt"
    path.write_text("GalaxyID,Class1.1\n1,0.5\n")
    return path


def random_files(root: Path) -> Path:
    empty_folder(root)
    (root / "a.txt").write_text("a")
    (root / "b.dat").write_bytes(b"\x00\x01")
    return root


def nonexistent(root: Path) -> Path:
    return root.parent / "no-such-folder"


def labels_without_images_folder(root: Path) -> Path:
    shutil.rmtree(root / IMAGES_DIR)
    return root


def h5_without_ans(root: Path) -> Path:
    path = root.parent / "galaxy10.h5"
    with h5py.File(path, "w") as h5:
        h5["images"] = np.zeros((3, 8, 8, 3), np.uint8)
    return path


def h5_not_hdf5(root: Path) -> Path:
    path = root.parent / "galaxy10.h5"
    path.write_text("not hdf5")
    return path


def class_folder_truncated(root: Path) -> Path:
    rng = np.random.default_rng(1)
    folder_root = root.parent / "classes"
    for name in ("elliptical", "spiral"):
        for i in range(2):
            write_jpeg(folder_root / name / f"{i}.jpg", rng)
    bad = folder_root / "spiral" / "1.jpg"
    bad.write_bytes(bad.read_bytes()[:200])
    return folder_root


#: Row problems: (case, words the API error must contain, inspect key that counts the row).
ROW_CASES = [
    (truncated_jpeg, ["100002.jpg", "GalaxyID 100002", "truncated JPEG"], "unreadable_images"),
    (empty_file, ["100002.jpg", "GalaxyID 100002", "empty file"], "unreadable_images"),
    (png_named_jpg, ["100002.jpg", "GalaxyID 100002", "PNG file named .jpg"], "unreadable_images"),
    (text_named_jpg, ["100002.jpg", "GalaxyID 100002", "not an image"], "unreadable_images"),
    (id_without_image, ["100002.jpg", "GalaxyID 100002", "image not found"], "missing_images"),
    (nan_value, [LABELS_CSV, "line 3", "GalaxyID 100002", "Class1.2 is empty"], "invalid_values"),
    (
        non_numeric_value,
        [LABELS_CSV, "line 3", "GalaxyID 100002", "Class7.2 is not a number"],
        "invalid_values",
    ),
    (
        value_too_big,
        [LABELS_CSV, "line 3", "GalaxyID 100002", "Class8.3 = 1.5 is outside"],
        "out_of_range_values",
    ),
    (tree_violation, [LABELS_CSV, "line 3", "GalaxyID 100002", "Q1 (smooth?)"], "tree_violations"),
    (
        class_folder_truncated,
        ["spiral/1.jpg", "class spiral", "truncated JPEG"],
        "unreadable_images",
    ),
]

#: Structural problems: (case, words the one-line error must contain).
STRUCTURAL_CASES = [
    (missing_id_column, [LABELS_CSV, "no GalaxyID column"]),
    (unknown_column, [LABELS_CSV, "unknown label column", "'foo'"]),
    (misnamed_column, [LABELS_CSV, "'Clas1.1' (did you mean Class1.1?)"]),
    (wrong_answer_column, [LABELS_CSV, "'Class1.9' (Q1 has answers Class1.1..Class1.3)"]),
    (duplicate_id, [LABELS_CSV, "duplicate GalaxyID 100002 on lines 3, 4"]),
    (unparsable_csv, [LABELS_CSV, "cannot be parsed as CSV"]),
    (header_only_csv, [LABELS_CSV, "no data rows"]),
    (labels_without_images_folder, [f"no {IMAGES_DIR}/ folder"]),
    (empty_folder, ["good", "the folder is empty"]),
    (text_file_source, ["notes.txt", "unknown data source"]),
    (random_files, ["good", "unknown data source"]),
    (nonexistent, ["no-such-folder", "no such file or folder"]),
    (h5_without_ans, ["galaxy10.h5", "no ans dataset"]),
    (h5_not_hdf5, ["galaxy10.h5", "cannot be opened as an HDF5 file"]),
]


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return make_kaggle(tmp_path / "good")


def run_inspect(src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "galaxylab", "inspect", "--data", str(src)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_good_folder_is_clean(good: Path) -> None:
    catalog = datasets.load(good)
    assert len(catalog) == N
    assert catalog.attrs["label_columns"] == SAMPLE_COLUMNS


@pytest.mark.parametrize(
    ("case", "words", "key"), ROW_CASES, ids=[c[0].__name__ for c in ROW_CASES]
)
def test_row_problem_api(good: Path, case: Callable, words: list[str], key: str) -> None:
    src = case(good)
    with pytest.raises(GalaxyLabError) as caught:
        datasets.load(src)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("case", "words", "key"), ROW_CASES, ids=[c[0].__name__ for c in ROW_CASES]
)
def test_row_problem_cli_reports(good: Path, case: Callable, words: list[str], key: str) -> None:
    result = run_inspect(case(good))
    assert result.returncode == 0, result.stderr
    health = json.loads(result.stdout)
    assert health[key] == 1
    assert health["rows_with_problems"] == 1
    assert any(words[0] in line for line in health["problems"])


@pytest.mark.parametrize(
    ("case", "words"), STRUCTURAL_CASES, ids=[c[0].__name__ for c in STRUCTURAL_CASES]
)
def test_structural_problem_api(good: Path, case: Callable, words: list[str]) -> None:
    src = case(good)
    for on_bad in ("error", "drop"):
        with pytest.raises(GalaxyLabError) as caught:
            datasets.load(src, on_bad=on_bad)
        message = str(caught.value)
        assert "\n" not in message
        for word in words:
            assert word in message


@pytest.mark.parametrize(
    ("case", "words"), STRUCTURAL_CASES, ids=[c[0].__name__ for c in STRUCTURAL_CASES]
)
def test_structural_problem_cli(good: Path, case: Callable, words: list[str]) -> None:
    result = run_inspect(case(good))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("galaxylab inspect: error: ")
    assert words[-1] in lines[0]


def test_greyscale_image_is_accepted_with_a_warning(good: Path) -> None:
    grey = image(good)
    Image.fromarray(np.full((32, 32), 90, np.uint8)).save(grey, format="JPEG")
    with pytest.warns(datasets.DataWarning, match=r"1 greyscale image.*100002\.jpg"):
        catalog = datasets.load(good)
    assert len(catalog) == N
    pixels = datasets.row_pixels(catalog.iloc[1])
    assert pixels.shape == (32, 32, 3)
    assert np.array_equal(pixels[..., 0], pixels[..., 2])
    health = json.loads(run_inspect(good).stdout)
    assert health["greyscale_images"] == 1
    assert health["rows_with_problems"] == 0


def test_image_without_row_is_a_warning(good: Path) -> None:
    write_jpeg(good / IMAGES_DIR / "999999.jpg", np.random.default_rng(5))
    with pytest.warns(datasets.DataWarning, match=r"1 image\(s\) .* no label row.*999999\.jpg"):
        catalog = datasets.load(good)
    assert "999999" not in set(catalog["id"])
    result = run_inspect(good)
    assert result.returncode == 0
    assert json.loads(result.stdout)["extra_images"] == 1


def test_drop_removes_bad_rows_with_one_warning(good: Path) -> None:
    truncated_jpeg(good)
    set_cell(good, 4, "Class6.1", "1.5")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        catalog = datasets.load(good, on_bad="drop")
    messages = [str(w.message) for w in caught if issubclass(w.category, datasets.DataWarning)]
    assert len(messages) == 1
    assert "dropped 2 of 6 rows" in messages[0]
    assert "100002.jpg" in messages[0]  # the first offender, by row
    assert list(catalog["id"]) == ["100001", "100003", "100004", "100006"]
    assert catalog.index.tolist() == list(range(4))
    assert catalog.attrs["source"] == "kaggle"


def test_error_names_the_count_of_further_problems(good: Path) -> None:
    for galaxy in (FIRST_ID + 1, FIRST_ID + 3, FIRST_ID + 4):
        image(good, galaxy).write_bytes(b"")
    value_too_big(good)
    with pytest.raises(
        GalaxyLabError,
        match=r"100002\.jpg.*and 2 more unreadable images.*"
        r"also 1 row with a value outside",
    ):
        datasets.load(good)


def test_drop_with_every_row_bad_is_an_error(good: Path) -> None:
    for galaxy in range(FIRST_ID, FIRST_ID + N):
        image(good, galaxy).unlink()
    with pytest.raises(GalaxyLabError, match="every row has a problem"):
        datasets.load(good, on_bad="drop")


def test_unknown_on_bad_is_rejected(good: Path) -> None:
    with pytest.raises(GalaxyLabError, match="on_bad must be one of"):
        datasets.load(good, on_bad="ignore")


def test_truncated_real_image(real_sample: Path, tmp_path: Path) -> None:
    table = pd.read_csv(real_sample / LABELS_CSV, dtype=str).head(4)
    root = tmp_path / "real"
    (root / IMAGES_DIR).mkdir(parents=True)
    table.to_csv(root / LABELS_CSV, index=False)
    for galaxy in table["GalaxyID"]:
        shutil.copy(real_sample / IMAGES_DIR / f"{galaxy}.jpg", root / IMAGES_DIR)
    assert len(datasets.load(root)) == 4
    victim = root / IMAGES_DIR / f"{table['GalaxyID'][2]}.jpg"
    victim.write_bytes(victim.read_bytes()[:5000])
    with pytest.raises(GalaxyLabError, match=rf"{victim.name} \(GalaxyID .*truncated JPEG"):
        datasets.load(root)
    assert len(datasets.load(root, check_images=False)) == 4


def test_table_with_only_ids_loads_with_unknown_labels(good: Path) -> None:
    edit_table(good, lambda t: t[["GalaxyID"]])
    catalog = datasets.load(good)
    assert len(catalog) == N and catalog.attrs["label_columns"] == []
    assert catalog[list(tree.COLUMNS)].isna().all().all()
    assert datasets.inspect(good)["three_class_counts"] is None
