"""The built-in samples shipped in the package: named sources, checksums, frame_fraction, and
the maintainers' deterministic rebuild."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from galaxylab import cli, course, datasets, labels, tree
from galaxylab.datasets import builtin, samples
from galaxylab.errors import GalaxyLabError

FRAME = 256 / 424
MAX_FILE = 1 << 20  # 1 MiB
MAX_TOTAL = 25_000_000


def sample_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# --- names and folders ---


def test_builtin_names_resolve_to_folders_inside_the_package() -> None:
    assert set(datasets.BUILTIN_SOURCES) == {"gz1-desi", "kaggle-sample"}
    package = Path(datasets.__file__).resolve().parents[1]
    for name in datasets.BUILTIN_SOURCES:
        folder = datasets.resolve_source(name)
        assert folder == package / "samples" / name
        assert (folder / samples.SAMPLE_JSON).is_file()
    assert datasets.resolve_source(Path("gz1-desi")) == Path("gz1-desi")  # a Path is a path
    assert datasets.resolve_source("./gz1-desi") == Path("./gz1-desi")
    with pytest.raises(GalaxyLabError, match="unknown built-in sample 'gz2-desi'"):
        samples.builtin_folder("gz2-desi")


def test_a_folder_named_like_a_builtin_is_reached_with_dot_slash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "gz1-desi" / "spiral"
    own.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(own / "a.png")
    monkeypatch.chdir(tmp_path)
    assert datasets.detect_source("./gz1-desi") == "folders"
    assert len(datasets.load("./gz1-desi")) == 1
    assert datasets.detect_source("gz1-desi") == "gz1"  # the bare name is the built-in sample


# --- the samples themselves ---


def test_gz1_desi_loads_with_its_flags_classes(gz1_sample: Path) -> None:
    catalog = datasets.load("gz1-desi")
    assert len(catalog) == 1199
    assert catalog.attrs == {"source": "gz1", "root": str(gz1_sample), "label_columns": []}
    assert catalog[list(tree.COLUMNS)].isna().all().all()
    assert labels.three_class_counts(catalog) == {"elliptical": 166, "spiral": 806, "unsure": 227}
    assert np.allclose(catalog["frame_fraction"], FRAME)
    assert datasets.row_pixels(catalog.iloc[0]).shape == (256, 256, 3)


def test_kaggle_sample_loads_with_17_filled_columns(real_sample: Path) -> None:
    catalog = datasets.load("kaggle-sample")
    assert len(catalog) == 300 and catalog.attrs["source"] == "kaggle"
    assert catalog.attrs["root"] == str(real_sample)
    filled = [c for c in tree.COLUMNS if catalog[c].notna().all()]
    assert len(filled) == 17 and filled == catalog.attrs["label_columns"]
    assert np.allclose(catalog["frame_fraction"], FRAME)
    table = pd.read_csv(real_sample / "training_solutions_rev1.csv")
    assert np.allclose(catalog[filled].to_numpy(), table[filled].to_numpy())


@pytest.mark.parametrize("name", ["gz1-desi", "kaggle-sample"])
def test_sample_json_lists_every_file_with_its_checksum(name: str) -> None:
    folder = datasets.resolve_source(name)
    meta = json.loads((folder / samples.SAMPLE_JSON).read_text())
    assert meta["name"] == name and meta["description"] == datasets.BUILTIN_SOURCES[name]
    assert meta["frame_fraction"] == FRAME
    assert meta["original_size"] == [424, 424] and meta["stored_size"] == [256, 256]
    assert meta["jpeg_quality"] == builtin.DEFAULT_QUALITY
    assert set(meta["files"]) == sample_files(folder) - {samples.SAMPLE_JSON}
    for relative in sorted(meta["files"])[:5]:
        assert samples.file_sha256(folder / relative) == meta["files"][relative]
    first_image = next(f for f in sorted(meta["files"]) if f.endswith(".jpg"))
    with Image.open(folder / first_image) as image:
        assert image.size == (256, 256) and image.format == "JPEG"


def test_the_samples_stay_compact() -> None:
    sizes = [
        p.stat().st_size for p in samples.SAMPLES_DIR.rglob("*") if p.is_file()
    ]  # every shipped file
    assert max(sizes) <= MAX_FILE
    assert sum(sizes) <= MAX_TOTAL
    assert (samples.SAMPLES_DIR / "CREDITS.md").is_file()


# --- named sources everywhere a source is taken ---


def test_named_sources_work_in_inspect_detect_and_course(monkeypatch: pytest.MonkeyPatch) -> None:
    assert datasets.detect_source("gz1-desi") == "gz1"
    assert datasets.detect_source("kaggle-sample") == "kaggle"
    health = datasets.inspect("gz1-desi")
    assert health["source"] == "gz1" and health["n"] == 1199
    assert health["three_class_counts"] == {"elliptical": 166, "spiral": 806, "unsure": 227}
    assert health["rows_with_problems"] == 0 and health["label_columns"] == []
    monkeypatch.delenv(course.SOURCE_ENV, raising=False)
    expected = min(1199, course.QUICK_REAL_LIMIT) if course.quick_mode() else 1199
    assert len(course.catalog("gz1-desi")) == expected
    monkeypatch.setenv(course.SOURCE_ENV, "kaggle-sample")
    assert course.source() == datasets.resolve_source("kaggle-sample")
    assert course.catalog().attrs["source"] == "kaggle"


def test_cli_inspects_a_builtin_sample() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "galaxylab", "inspect", "--data", "gz1-desi"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    health = json.loads(done.stdout)
    assert health["source"] == "gz1" and health["n"] == 1199


@pytest.mark.parametrize("command", ["inspect", "train", "evaluate"])
def test_cli_help_lists_the_builtin_names(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in datasets.BUILTIN_SOURCES:
        assert name in text


# --- checksums ---


@pytest.fixture
def sample_copy(real_sample: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "kaggle-copy"
    shutil.copytree(real_sample, copy)
    return copy


def test_an_intact_copy_loads_with_the_samples_frame_fraction(sample_copy: Path) -> None:
    catalog = datasets.load(sample_copy)
    assert len(catalog) == 300 and np.allclose(catalog["frame_fraction"], FRAME)


def test_a_tampered_copy_fails_naming_the_file(sample_copy: Path) -> None:
    victim = sorted((sample_copy / "images_training_rev1").glob("*.jpg"))[7]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(GalaxyLabError) as caught:
        datasets.load(sample_copy)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("the built-in sample is damaged: ")
    assert f"{victim} does not match its sha256" in message
    assert message.endswith("reinstall galaxylab")
    with pytest.raises(GalaxyLabError, match="damaged"):
        datasets.inspect(sample_copy)


def test_a_missing_file_or_changed_table_fails(sample_copy: Path) -> None:
    table = sample_copy / "training_solutions_rev1.csv"
    table.write_text(table.read_text().replace("0.", "0,", 1))
    victim = sorted((sample_copy / "images_training_rev1").glob("*.jpg"))[0]
    victim.unlink()
    with pytest.raises(GalaxyLabError) as caught:
        datasets.load(sample_copy)
    message = str(caught.value)
    assert f"{victim} is missing (and 1 more files)" in message and "\n" not in message


def test_checksums_are_computed_once_per_process(
    sample_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    original = samples.file_sha256

    def counting(path: str | os.PathLike[str]) -> str:
        hashed.append(str(path))
        return original(path)

    monkeypatch.setattr(samples, "file_sha256", counting)
    datasets.load(sample_copy, check_images=False)
    assert len(hashed) == 301  # the table and 300 images
    datasets.load(sample_copy, check_images=False)
    assert len(hashed) == 301
    touched = sample_copy / "training_solutions_rev1.csv"
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    datasets.load(sample_copy, check_images=False)
    assert hashed[301:] == [str(touched)]


def test_a_broken_sample_json_is_named(sample_copy: Path) -> None:
    (sample_copy / samples.SAMPLE_JSON).write_text("{not json")
    with pytest.raises(GalaxyLabError, match=r"SAMPLE\.json: cannot be read as JSON"):
        datasets.load(sample_copy)


# --- frame_fraction ---


def test_ordinary_sources_have_frame_fraction_one(sample_copy: Path) -> None:
    (sample_copy / samples.SAMPLE_JSON).unlink()
    catalog = datasets.load(sample_copy)
    assert catalog["frame_fraction"].dtype == np.float64
    assert (catalog["frame_fraction"] == 1.0).all()


def test_a_quick_mode_subset_keeps_the_frame_fraction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from galaxylab.datasets.subset import write_subset

    monkeypatch.setenv(course.DATA_ENV, str(tmp_path / "data"))
    catalog = datasets.load("gz1-desi", check_images=False).iloc[:40]
    catalog.attrs = dict(datasets.load("gz1-desi", check_images=False).attrs)
    subset = write_subset(catalog)
    again = datasets.load(subset)
    assert len(again) == 40 and np.allclose(again["frame_fraction"], FRAME)
    assert labels.three_class_counts(again) == labels.three_class_counts(catalog)


# --- the maintainers' rebuild ---


@pytest.fixture
def originals(tmp_path: Path) -> Path:
    """A tiny Kaggle-layout folder of 424 px cutouts, as the originals are."""
    root = tmp_path / "originals"
    (root / "images_training_rev1").mkdir(parents=True)
    rng = np.random.default_rng(5)
    ids = [100001, 100002, 100003]
    for galaxy in ids:
        pixels = rng.integers(0, 60, (424, 424, 3), dtype=np.uint8)
        pixels[180:244, 180:244] = 220  # a bright core in the centre
        Image.fromarray(pixels).save(root / "images_training_rev1" / f"{galaxy}.jpg", quality=95)
    pd.DataFrame(
        {"GalaxyID": ids, "Class1.1": [0.9, 0.1, 0.5], "Class1.2": [0.1, 0.9, 0.5]}
    ).assign(**{"Class1.3": 0.0}).to_csv(root / "training_solutions_rev1.csv", index=False)
    return root


def test_the_rebuild_is_deterministic_and_loadable(originals: Path, tmp_path: Path) -> None:
    first = builtin.write_compact_sample(originals, tmp_path / "a", "kaggle-sample", 85)
    second = builtin.write_compact_sample(originals, tmp_path / "b", "kaggle-sample", 85)
    assert sample_files(first) == sample_files(second)
    for relative in sample_files(first):
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative
    table = "training_solutions_rev1.csv"
    assert (first / table).read_bytes() == (originals / table).read_bytes()
    meta = json.loads((first / samples.SAMPLE_JSON).read_text())
    assert meta["frame_fraction"] == FRAME and meta["jpeg_quality"] == 85
    catalog = datasets.load(first)
    assert len(catalog) == 3 and np.allclose(catalog["frame_fraction"], FRAME)
    stored = datasets.row_pixels(catalog.iloc[0]).astype(int)
    assert stored.shape == (256, 256, 3)
    assert stored[96:160, 96:160].mean() > 200 and stored[:60, :60].mean() < 60  # centred
    rebuilt = builtin.write_compact_sample(originals, first, "kaggle-sample", 85)  # replaces
    assert sample_files(rebuilt) == sample_files(second)


def test_the_rebuild_refuses_a_foreign_folder_and_odd_sizes(originals: Path, tmp_path: Path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    with pytest.raises(GalaxyLabError, match="refusing to replace it"):
        builtin.write_compact_sample(originals, foreign, "kaggle-sample", 85)
    odd = originals / "images_training_rev1" / "100002.jpg"
    Image.new("RGB", (300, 300)).save(odd)
    with pytest.raises(GalaxyLabError, match="square and of one size"):
        builtin.write_compact_sample(originals, tmp_path / "c", "kaggle-sample", 85)
    assert not (tmp_path / "c").exists() and not list(tmp_path.glob(".c.*"))


def test_the_rebuild_command_runs_without_warnings(originals: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "galaxylab.datasets.builtin"]
        + ["--kaggle", str(originals), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "kaggle-sample" / samples.SAMPLE_JSON).is_file()
