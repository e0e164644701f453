"""The loaders: one catalog type from the Kaggle layout, class folders, Galaxy10 and GZ2."""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import galaxylab
from galaxylab import datasets, labels, tree
from galaxylab.datasets import gz2
from galaxylab.datasets.default import COMPLETE_MARKERS, UNIVERSE_VERSION
from galaxylab.errors import GalaxyLabError

REAL_COLUMNS = [c for c in tree.COLUMNS if tree.QUESTION_OF_COLUMN[c] in (1, 2, 6, 7, 8)]


def jpeg(path: Path, rng: np.random.Generator, size: int = 24, fmt: str = "JPEG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path, format=fmt)
    return path


def expected_columns(*extra: str) -> list[str]:
    return ["id", "image", *tree.COLUMNS, *extra, "frame_fraction"]


# --- Kaggle layout, on the real sample ---


def test_real_sample_loads(real_sample: Path) -> None:
    catalog = datasets.load(real_sample)
    assert len(catalog) == 300
    assert list(catalog.columns) == expected_columns()
    assert catalog.attrs == {
        "source": "kaggle",
        "root": str(real_sample.absolute()),
        "label_columns": REAL_COLUMNS,
    }
    filled = [c for c in tree.COLUMNS if catalog[c].notna().all()]
    empty = [c for c in tree.COLUMNS if catalog[c].isna().all()]
    assert filled == REAL_COLUMNS and len(filled) == 17
    assert len(empty) == 20
    assert all(catalog[c].dtype == np.float64 for c in tree.COLUMNS)
    first = catalog.iloc[0]
    assert Path(first["image"]).is_absolute()
    assert Path(first["image"]).name == f"{first['id']}.jpg"
    table = pd.read_csv(real_sample / "training_solutions_rev1.csv")
    assert np.allclose(catalog[REAL_COLUMNS].to_numpy(), table[REAL_COLUMNS].to_numpy())
    # the built-in sample keeps the central 256 px of each 424 px cutout
    assert datasets.row_pixels(first).shape == (256, 256, 3)
    assert np.allclose(catalog["frame_fraction"], 256 / 424)


def test_real_sample_inspect_is_clean_json(real_sample: Path) -> None:
    health = datasets.inspect(real_sample)
    assert json.loads(json.dumps(health)) == health
    assert list(health)[:7] == [
        "source",
        "n",
        "label_columns",
        "missing_images",
        "unreadable_images",
        "tree_violations",
        "three_class_counts",
    ]
    assert health["source"] == "kaggle" and health["n"] == 300
    assert health["label_columns"] == REAL_COLUMNS
    for key in (
        "missing_images",
        "unreadable_images",
        "tree_violations",
        "invalid_values",
        "out_of_range_values",
        "greyscale_images",
        "extra_images",
    ):
        assert health[key] == 0, key
    table = pd.read_csv(real_sample / "training_solutions_rev1.csv")
    counts = health["three_class_counts"]
    assert counts["elliptical"] == int((table["Class1.1"] >= 0.8).sum())
    assert counts["spiral"] == int((table["Class1.2"] >= 0.8).sum())
    assert sum(counts.values()) == 300


# --- class folders ---


@pytest.fixture
def class_folders(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "classes"
    jpeg(root / "spiral" / "b.jpg", rng)
    jpeg(root / "spiral" / "deeper" / "a.PNG", rng, fmt="PNG")
    jpeg(root / "elliptical" / "z.jpeg", rng)
    jpeg(root / "elliptical" / "y.jpg", rng)
    jpeg(root / "unsure" / "x.jpg", rng)
    jpeg(root / ".ipynb_checkpoints" / "ignored.jpg", rng)
    (root / "spiral" / "notes.txt").write_text("not an image")
    return root


def test_class_folders(class_folders: Path) -> None:
    assert datasets.detect_source(class_folders) == "folders"
    catalog = datasets.load(class_folders)
    assert list(catalog.columns) == expected_columns("class_name")
    assert list(catalog["id"]) == [
        "elliptical/y.jpg",
        "elliptical/z.jpeg",
        "spiral/b.jpg",
        "spiral/deeper/a.PNG",
        "unsure/x.jpg",
    ]
    assert list(catalog["class_name"]) == ["elliptical"] * 2 + ["spiral"] * 2 + ["unsure"]
    assert catalog[list(tree.COLUMNS)].isna().all().all()
    assert catalog.attrs["source"] == "folders" and catalog.attrs["label_columns"] == []
    health = datasets.inspect(class_folders)
    assert health["three_class_counts"] == {"elliptical": 2, "spiral": 2, "unsure": 1}
    assert datasets.row_pixels(catalog.iloc[3]).shape == (24, 24, 3)


def test_class_folders_with_other_names_have_no_three_class_counts(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    jpeg(tmp_path / "barred" / "1.jpg", rng)
    jpeg(tmp_path / "unbarred" / "2.jpg", rng)
    assert datasets.inspect(tmp_path)["three_class_counts"] is None


# --- Galaxy10 DECaLS ---

G10_ANSWERS = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 5], dtype=np.uint8)


@pytest.fixture
def galaxy10_file(tmp_path: Path) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (12, 64, 64, 3), dtype=np.uint8)
    path = tmp_path / "Galaxy10_small.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("images", data=pixels, chunks=(1, 64, 64, 3), compression="gzip")
        h5["ans"] = G10_ANSWERS
        h5["ra"] = np.linspace(10, 20, 12)
        h5["dec"] = np.linspace(-5, 5, 12)
        h5["redshift"] = np.linspace(0.01, 0.1, 12)
        h5["pxscale"] = np.full(12, 0.262)
    return path, pixels


def test_galaxy10(galaxy10_file: tuple[Path, np.ndarray]) -> None:
    path, pixels = galaxy10_file
    assert datasets.detect_source(path) == "galaxy10"
    catalog = datasets.load(path)
    assert list(catalog.columns) == expected_columns(
        "h5_index", "class_name", "galaxy10_class", "ra", "dec", "redshift"
    )
    assert list(catalog["h5_index"]) == list(range(12))
    assert list(catalog["galaxy10_class"]) == G10_ANSWERS.tolist()
    assert catalog["class_name"][3] == "In-between Round Smooth"
    assert catalog["redshift"][11] == pytest.approx(0.1)
    assert set(catalog["image"]) == {str(path.absolute())}
    assert catalog[list(tree.COLUMNS)].isna().all().all()
    assert catalog.attrs["source"] == "galaxy10"
    assert np.array_equal(datasets.row_pixels(catalog.iloc[7]), pixels[7])
    assert np.array_equal(datasets.galaxy10.read_images(path, [9, 2, 9]), pixels[[9, 2, 9]])
    health = datasets.inspect(path)
    assert health["three_class_counts"] == {"elliptical": 4, "spiral": 6, "unsure": 2}


def test_galaxy10_is_read_lazily(tmp_path: Path) -> None:
    """A file whose images would need ~4 GB of memory still catalogs at once."""
    path = tmp_path / "huge.h5"
    n = 20_000
    with h5py.File(path, "w") as h5:
        h5.create_dataset("images", shape=(n, 256, 256, 3), dtype=np.uint8, chunks=(1, 256, 256, 3))
        h5["ans"] = np.arange(n) % 10
    start = time.perf_counter()
    catalog = datasets.load(path)
    assert time.perf_counter() - start < 5
    assert len(catalog) == n


def test_galaxy10_bad_class_is_a_row_problem(tmp_path: Path) -> None:
    path = tmp_path / "g.h5"
    with h5py.File(path, "w") as h5:
        h5["images"] = np.zeros((3, 8, 8, 3), np.uint8)
        h5["ans"] = np.array([1, 12, 4])
    with pytest.raises(GalaxyLabError, match=r"g\.h5 ans\[1\] \(index 1\): class 12"):
        datasets.load(path)
    with pytest.warns(datasets.DataWarning, match="dropped 1 of 3"):
        assert list(datasets.load(path, on_bad="drop")["galaxy10_class"]) == [1, 4]


# --- GZ2: the Hart et al. 2016 table + the Zenodo mapping + images ---

HART_SUFFIXES = ("count", "weight", "fraction", "weighted_fraction", "debiased", "flag")
OBJIDS = [587722981736120347 + k for k in range(5)]


def hart_table(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Rows in the published column schema; also the exact per-question vote fractions."""
    rows, exact = [], {c: [] for c in tree.COLUMNS}
    for k, objid in enumerate(OBJIDS):
        row: dict[str, object] = {
            "dr7objid": objid,
            "ra": 150.0 + k,
            "dec": 2.0 - k,
            "rastring": "10:00:00.00",
            "decstring": "+02:00:00.0",
            "sample": "original",
            "gz2_class": "Sc2t",
            "total_classifications": 45,
            "total_votes": 300,
        }
        for _, cols in tree.question_slices():
            columns = tree.COLUMNS[cols]
            counts = rng.integers(1, 30, len(columns))
            fractions = counts / counts.sum()
            for column, count, fraction in zip(columns, counts, fractions, strict=True):
                stem = gz2.HART_ANSWERS[column]
                values = (
                    count,
                    float(count),
                    round(fraction, 3),
                    round(fraction, 3),
                    round(min(1.0, fraction * 1.1), 3),
                    0,
                )
                row.update({f"{stem}_{s}": v for s, v in zip(HART_SUFFIXES, values, strict=True)})
                exact[column].append(fraction)
        rows.append(row)
    return pd.DataFrame(rows), {c: np.array(v) for c, v in exact.items()}


@pytest.fixture
def gz2_folder(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(4)
    root = tmp_path / "gz2"
    table, exact = hart_table(rng)
    root.mkdir()
    table.to_csv(root / "gz2_hart16.csv.gz", index=False, compression="gzip")
    mapping = pd.DataFrame(
        {
            "objid": [OBJIDS[0], OBJIDS[1], OBJIDS[1], OBJIDS[2], OBJIDS[3], OBJIDS[4]],
            "sample": ["original", "stripe82", "original", "original", "original", "original"],
            "asset_id": [16, 900, 17, 18, 19, 20],
        }
    )
    mapping.to_csv(root / "gz2_filename_mapping.csv", index=False)
    for asset in (16, 17, 18, 19, 20):
        jpeg(root / "images" / f"{asset}.jpg", rng)
    return root, exact


def test_hart_column_names_are_the_published_ones() -> None:
    assert tuple(gz2.HART_ANSWERS) == tree.COLUMNS
    assert gz2.HART_ANSWERS["Class1.1"] == "t01_smooth_or_features_a01_smooth"
    assert gz2.HART_ANSWERS["Class8.7"] == "t08_odd_feature_a38_dust_lane"
    assert gz2.HART_ANSWERS["Class11.5"] == "t11_arms_number_a36_more_than_4"
    assert gz2.HART_ANSWERS["Class11.6"] == "t11_arms_number_a37_cant_tell"


def test_gz2_converts_fractions_to_cumulative_columns(gz2_folder) -> None:
    root, exact = gz2_folder
    assert datasets.detect_source(root) == "gz2"
    catalog = datasets.load(root)
    assert list(catalog.columns) == expected_columns("ra", "dec")
    assert list(catalog["id"]) == [str(o) for o in OBJIDS]
    assert catalog.attrs["label_columns"] == list(tree.COLUMNS)
    assert [Path(p).name for p in catalog["image"]] == [
        "16.jpg",
        "17.jpg",
        "18.jpg",
        "19.jpg",
        "20.jpg",
    ]
    f = exact  # the unrounded vote fractions; the table rounds to 3 decimals
    expected = {
        "Class1.1": f["Class1.1"],
        "Class2.2": f["Class1.2"] * f["Class2.2"],
        "Class5.3": f["Class1.2"] * f["Class2.2"] * f["Class5.3"],
        "Class7.3": f["Class1.1"] * f["Class7.3"],
        "Class8.7": f["Class6.1"] * f["Class8.7"],
        "Class9.2": f["Class1.2"] * f["Class2.1"] * f["Class9.2"],
        "Class10.2": f["Class1.2"] * f["Class2.2"] * f["Class4.1"] * f["Class10.2"],
        "Class11.6": f["Class1.2"] * f["Class2.2"] * f["Class4.1"] * f["Class11.6"],
    }
    for column, values in expected.items():
        assert np.allclose(catalog[column], values, atol=3e-3), column
    assert tree.check(catalog[list(tree.COLUMNS)], tolerance=1e-9).empty
    assert catalog["ra"][2] == pytest.approx(152.0)


def test_gz2_debiased_option_reads_debiased_columns(gz2_folder) -> None:
    root, exact = gz2_folder
    votes = gz2.scan(root).catalog
    debiased = gz2.scan(root, kind="debiased").catalog
    assert not np.allclose(votes["Class1.1"], debiased["Class1.1"])
    assert tree.check(debiased[list(tree.COLUMNS)], tolerance=1e-9).empty
    with pytest.raises(GalaxyLabError, match="must be one of"):
        gz2.scan(root, kind="weighted")


def test_gz2_row_without_image(gz2_folder) -> None:
    root, _ = gz2_folder
    (root / "images" / "19.jpg").unlink()
    mapping = pd.read_csv(root / "gz2_filename_mapping.csv")
    mapping[mapping["objid"] != OBJIDS[4]].to_csv(root / "gz2_filename_mapping.csv", index=False)
    jpeg(root / "images" / "555.jpg", np.random.default_rng(9))
    with (
        pytest.warns(datasets.DataWarning, match=r"2 image\(s\) .* have no label row"),
        pytest.raises(
            GalaxyLabError,
            match=rf"19\.jpg \(dr7objid {OBJIDS[3]}\): image not "
            rf"found; and 1 more missing images",
        ),
    ):
        datasets.load(root)
    health = datasets.inspect(root)
    assert health["missing_images"] == 2 and health["extra_images"] == 2  # 555 and 20
    assert any(
        f"dr7objid {OBJIDS[4]}): no entry in gz2_filename_mapping.csv" in p
        for p in health["problems"]
    )
    with pytest.warns(datasets.DataWarning):
        assert len(datasets.load(root, on_bad="drop")) == 3


def test_gz2_missing_columns_are_structural(gz2_folder) -> None:
    root, _ = gz2_folder
    table = pd.read_csv(root / "gz2_hart16.csv.gz")
    table.drop(columns=["t03_bar_a06_bar_fraction"]).to_csv(root / "gz2_hart16.csv", index=False)
    (root / "gz2_hart16.csv.gz").unlink()
    with pytest.raises(GalaxyLabError, match="gz2_hart16.csv: missing column.*t03_bar_a06_bar"):
        datasets.load(root)


# --- source detection and the default universe ---


def test_detect_source(tmp_path: Path, real_sample: Path) -> None:
    assert datasets.detect_source(real_sample) == "kaggle"
    with pytest.raises(GalaxyLabError, match="pass the folder that holds it"):
        datasets.detect_source(real_sample / "training_solutions_rev1.csv")
    jpeg(tmp_path / "loose.jpg", np.random.default_rng(0))
    with pytest.raises(GalaxyLabError, match="holds images but no class folders"):
        datasets.detect_source(tmp_path)


@pytest.fixture
def fake_simulate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict]:
    """Stand in for galaxylab.simulate: record calls and write the two marker files."""
    calls: list[dict] = []

    def write_universe(n, out, seed=0, overwrite=False, workers=None, progress=True):
        calls.append({"n": n, "out": Path(out), "seed": seed, "overwrite": overwrite})
        Path(out).mkdir(parents=True, exist_ok=True)
        for name in COMPLETE_MARKERS:
            (Path(out) / name).write_text("GalaxyID\n")
        return Path(out)

    fake = types.ModuleType("galaxylab.simulate")
    fake.write_universe = write_universe
    monkeypatch.setitem(sys.modules, "galaxylab.simulate", fake)
    monkeypatch.setattr(galaxylab, "simulate", fake, raising=False)
    monkeypatch.setenv("GALAXYLAB_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("GALAXYLAB_QUICK", raising=False)
    return calls


def test_default_builds_once_then_reuses(fake_simulate: list[dict], tmp_path: Path) -> None:
    path = datasets.universe_folder(n=50, seed=7)
    assert path == tmp_path / "data" / f"universe-v{UNIVERSE_VERSION}-n50-seed7"
    assert fake_simulate == [{"n": 50, "out": path, "seed": 7, "overwrite": False}]
    assert datasets.universe_folder(n=50, seed=7) == path
    assert len(fake_simulate) == 1
    datasets.universe_folder(n=50, seed=8)
    assert len(fake_simulate) == 2


def test_default_size_and_leftovers(
    fake_simulate: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert datasets.universe_folder().name == f"universe-v{UNIVERSE_VERSION}-n4000-seed0"
    monkeypatch.setenv("GALAXYLAB_QUICK", "1")
    leftover = tmp_path / "data" / f"universe-v{UNIVERSE_VERSION}-n600-seed0"
    leftover.mkdir(parents=True)
    (leftover / "half-written.jpg").write_bytes(b"")
    assert datasets.universe_folder() == leftover
    assert fake_simulate[-1]["n"] == 600 and fake_simulate[-1]["overwrite"] is True


def test_default_universe_is_a_clean_kaggle_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GALAXYLAB_DATA", str(tmp_path))
    catalog = datasets.load_default(n=12, seed=1)
    assert len(catalog) == 12 and catalog.attrs["source"] == "kaggle"
    assert catalog.attrs["label_columns"] == list(tree.COLUMNS)
    assert tree.check(catalog[list(tree.COLUMNS)], tolerance=1e-6).empty
    assert labels.three_class(catalog).notna().all()
