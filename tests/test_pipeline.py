"""The tf.data pipeline: decoding, cropping, augmentation invariants, balancing and splits."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from galaxylab import pipeline
from galaxylab.preprocessing import Preprocessing


def _write(path: Path, array: np.ndarray) -> str:
    Image.fromarray(array.astype(np.uint8)).save(path, quality=95)
    return str(path)


def _catalog(paths: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"id": [Path(p).stem for p in paths], "image": paths})


def _batches(ds: tf.data.Dataset) -> list[np.ndarray]:
    return [x.numpy() if not isinstance(x, tuple) else x[0].numpy() for x in ds]


@pytest.fixture(scope="module")
def asymmetric(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Eight 96 px PNGs whose bright blob sits off-centre, so every rotation and flip shows."""
    folder = tmp_path_factory.mktemp("asym")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(8):
        image = rng.integers(0, 40, size=(96, 96, 3))
        image[30:44, 52:60] = 250  # one bright bar right of and above centre
        image[48:52, 40:48, 0] = 200
        paths.append(str(folder / f"{i}.png"))
        Image.fromarray(image.astype(np.uint8)).save(paths[-1])
    return _catalog(paths)


def test_real_images_come_out_float32_in_unit_range_at_the_requested_size(real_sample: Path):
    files = sorted((real_sample / "images_training_rev1").glob("*.jpg"))[:10]
    catalog = _catalog([str(f) for f in files])
    for greyscale, depth in ((False, 3), (True, 1)):
        ds = pipeline.make_dataset(
            catalog, preprocessing=Preprocessing(32, greyscale=greyscale), batch_size=4
        )
        batches = _batches(ds)
        assert [len(b) for b in batches] == [4, 4, 2]
        images = np.concatenate(batches)
        assert images.shape == (10, 32, 32, depth) and images.dtype == np.float32
        assert images.min() >= 0.0 and images.max() <= 1.0
        assert images.max() > 0.3  # a galaxy, not a black frame


def test_centre_crop_keeps_the_central_fraction(tmp_path: Path):
    image = np.zeros((200, 200, 3))
    image[50:150, 50:150] = 255  # a white central square, half the side
    path = _write(tmp_path / "square.png", image)
    cropped = pipeline.model_input(path, Preprocessing(20, crop_fraction=0.5)).numpy()
    # The crop holds only the white square; its edge pixels see a little of the dark frame
    # through the antialiasing filter, as every pixel sees its neighbours.
    assert cropped[1:-1, 1:-1].min() > 0.95 and cropped.min() > 0.6
    full = pipeline.model_input(path, Preprocessing(20, crop_fraction=1.0)).numpy()
    assert full[0, 0].max() < 0.05 and full[10, 10].min() > 0.95


def test_non_square_images_are_cropped_square(tmp_path: Path):
    image = np.zeros((100, 300, 3))
    image[:, 100:200] = 255  # the central 100 x 100 square is white
    out = pipeline.model_input(
        _write(tmp_path / "wide.png", image), Preprocessing(16, crop_fraction=1.0)
    ).numpy()
    assert out.shape == (16, 16, 3) and out.min() > 0.9


def test_augmentation_leaves_a_symmetric_image_unchanged_without_shifts():
    y, x = np.mgrid[-15.5:16, -15.5:16]
    disk = np.exp(-(x**2 + y**2) / 60.0)[:, :, None].repeat(3, axis=2) * 255
    square = tf.constant(disk.astype(np.uint8))
    layout = pipeline.Layout(image_size=32, pad=0)
    for seed in range(12):
        out = pipeline.random_view(square, tf.constant([seed, 7], tf.int64), layout)
        np.testing.assert_array_equal(out.numpy(), square.numpy())


def test_augmentation_draws_all_eight_views_and_whole_pixel_shifts():
    image = np.random.default_rng(1).integers(0, 256, (20, 20, 1), dtype=np.uint8)
    layout = pipeline.Layout(image_size=16, pad=2)
    centre = image[2:18, 2:18]
    views = {tuple(np.rot90(img, k).ravel()) for img in (centre, centre[:, ::-1]) for k in range(4)}
    crops = {
        tuple(np.rot90(img, k).ravel())
        for dy in range(5)
        for dx in range(5)
        for img in (image[dy : dy + 16, dx : dx + 16], image[dy : dy + 16, dx : dx + 16][:, ::-1])
        for k in range(4)
    }
    seen = {
        tuple(
            pipeline.random_view(tf.constant(image), tf.constant([s, 0], tf.int64), layout)
            .numpy()
            .ravel()
        )
        for s in range(2500)
    }
    assert seen <= crops  # every view is an exact shifted, rotated or mirrored copy
    assert views & seen == views  # the centre in all 8 dihedral views occurs
    assert len(seen) > 50  # and shifts vary


def test_unaugmented_dataset_is_the_same_on_every_pass(asymmetric: pd.DataFrame):
    ds = pipeline.make_dataset(asymmetric, preprocessing=Preprocessing(24), batch_size=8)
    first, second = _batches(ds), _batches(ds)
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(second))


def test_same_seed_same_batches_and_each_pass_draws_afresh(asymmetric: pd.DataFrame):
    targets = np.arange(len(asymmetric), dtype=np.int32)

    def passes(seed: int, n: int = 2):
        ds = pipeline.make_dataset(
            asymmetric,
            targets,
            preprocessing=Preprocessing(24),
            batch_size=8,
            augment=True,
            shuffle=True,
            seed=seed,
        )
        return [next(iter(ds)) for _ in range(n)]

    a, b = passes(5), passes(5)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert not np.array_equal(a[0][0].numpy(), a[1][0].numpy())  # epoch 2 differs from epoch 1
    other = passes(6, 1)[0]
    assert not np.array_equal(a[0][0].numpy(), other[0].numpy())
    # Shuffling keeps each image with its own target: order changes, pairs do not.
    plain = np.concatenate(
        _batches(pipeline.make_dataset(asymmetric, preprocessing=Preprocessing(24)))
    )
    shuffled = pipeline.make_dataset(
        asymmetric, targets, preprocessing=Preprocessing(24), shuffle=True, seed=5
    )
    for x, y in shuffled.unbatch():
        np.testing.assert_array_equal(x.numpy(), plain[int(y)])


def test_unknown_targets_stay_nan_through_the_pipeline(asymmetric: pd.DataFrame):
    targets = np.random.default_rng(2).random((len(asymmetric), 37))
    targets[:, 10:30] = np.nan
    targets[3, :] = np.nan
    ds = pipeline.make_dataset(
        asymmetric, targets, preprocessing=Preprocessing(16), batch_size=3, augment=True
    )
    out = np.concatenate([y.numpy() for _, y in ds])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(out), np.isnan(targets))
    np.testing.assert_allclose(out[~np.isnan(out)], targets[~np.isnan(targets)], rtol=1e-6)


def test_galaxy10_h5_rows_are_read_lazily_and_prepared_like_files(tmp_path: Path):
    rng = np.random.default_rng(3)
    images = rng.integers(0, 255, size=(5, 40, 40, 3), dtype=np.uint8)
    path = tmp_path / "g10.h5"
    with h5py.File(path, "w") as handle:
        handle["images"] = images
        handle["ans"] = np.arange(5)
    catalog = pd.DataFrame(
        {"id": [str(i) for i in range(5)], "image": str(path), "h5_index": [4, 0, 2, 1, 3]}
    )
    prep = Preprocessing(20, crop_fraction=0.5)
    out = np.concatenate(_batches(pipeline.make_dataset(catalog, preprocessing=prep)))
    expected = [
        pipeline.preprocess(tf.constant(images[i]), prep).numpy() for i in catalog["h5_index"]
    ]
    np.testing.assert_allclose(out, np.stack(expected), atol=1e-6)


def test_oversampling_brings_every_class_to_the_majority_count():
    catalog = pd.DataFrame({"id": [f"g{i}" for i in range(15)], "image": "x.jpg"})
    labels = np.array(["a"] * 10 + ["b"] * 4 + ["c"] * 1)
    out = pipeline.oversample(catalog, labels, seed=0)
    assert out["label"].value_counts().to_dict() == {"a": 10, "b": 10, "c": 10}
    assert out["id"].iloc[:15].tolist() == catalog["id"].tolist()  # the originals come first
    copies = out.iloc[15:]
    assert "a" not in set(copies["label"])
    # 6 copies of 4 galaxies: each galaxy once before any galaxy twice.
    b = copies[copies["label"] == "b"]["id"].value_counts()
    assert sorted(b.tolist()) == [1, 1, 2, 2] and set(b.index) == {f"g{i}" for i in range(10, 14)}
    # Each copy keeps its galaxy's label.
    assert (out.groupby("id")["label"].nunique() == 1).all()
    pd.testing.assert_frame_equal(out, pipeline.oversample(catalog, labels, seed=0))


def test_class_weights_are_inverse_to_frequency():
    weights = pipeline.class_weights([0] * 6 + [1] * 3 + [2] * 1)
    # scikit-learn's "balanced": n_samples / (n_classes * count)
    assert weights == pytest.approx({0: 10 / 18, 1: 10 / 9, 2: 10 / 3})


def test_split_is_disjoint_stratified_and_deterministic():
    rng = np.random.default_rng(4)
    n = 400
    labels = rng.choice(["elliptical", "spiral", "unsure"], size=n, p=[0.2, 0.3, 0.5])
    catalog = pd.DataFrame({"id": [str(i) for i in range(n)], "image": "x.jpg"})
    train, val, test = pipeline.split(catalog, seed=1, stratify=labels)
    assert (len(train), len(val), len(test)) == (320, 40, 40)
    ids = [set(part["id"]) for part in (train, val, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set.union(*ids) == set(catalog["id"])
    overall = pd.Series(labels).value_counts(normalize=True)
    for part in (train, val, test):
        share = pd.Series(labels[part["id"].astype(int)]).value_counts(normalize=True)
        assert (share - overall).abs().max() < 0.03
    again = pipeline.split(catalog, seed=1, stratify=labels)
    for a, b in zip((train, val, test), again, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert set(pipeline.split(catalog, seed=2, stratify=labels)[1]["id"]) != ids[1]


def test_split_stratifies_by_three_class_label_by_default():
    n = 200
    smooth = np.r_[np.full(20, 0.9), np.full(180, 0.1)]  # 10% ellipticals
    catalog = pd.DataFrame(
        {
            "id": [str(i) for i in range(n)],
            "image": "x.jpg",
            "Class1.1": smooth,
            "Class1.2": 1 - smooth,
        }
    )
    for seed in range(3):
        train, val, test = pipeline.split(catalog, seed=seed)
        assert [int((p["Class1.1"] > 0.8).sum()) for p in (train, val, test)] == [16, 2, 2]


def test_split_without_a_holdout_and_bad_fractions():
    catalog = pd.DataFrame({"id": [str(i) for i in range(10)], "image": "x.jpg"})
    train, val, test = pipeline.split(catalog, seed=0, fractions=(0.8, 0.2, 0.0), stratify=None)
    assert (len(train), len(val), len(test)) == (8, 2, 0)
    with pytest.raises(ValueError, match="fractions"):
        pipeline.split(catalog, fractions=(0.5, 0.2, 0.2))


def test_normalization_layer_learns_the_images_mean(asymmetric: pd.DataFrame):
    layer = pipeline.normalization_layer(asymmetric, preprocessing=Preprocessing(24))
    images = np.concatenate(
        _batches(pipeline.make_dataset(asymmetric, preprocessing=Preprocessing(24)))
    )
    np.testing.assert_allclose(np.ravel(layer.mean), images.mean(axis=(0, 1, 2)), rtol=1e-4)
    standardised = layer(images).numpy()
    np.testing.assert_allclose(standardised.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)


def _blob(size: int = 424, sigma: float = 20.0) -> np.ndarray:
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    return (255 * np.exp(-(x**2 + y**2) / (2 * sigma**2)))[:, :, None].repeat(3, axis=2)


def _radius(image: np.ndarray) -> float:
    """The light-weighted RMS radius of a grey blob, in pixels."""
    light = image[..., 0].astype(np.float64)
    y, x = np.mgrid[: light.shape[0], : light.shape[1]]
    cy, cx = (light * y).sum() / light.sum(), (light * x).sum() / light.sum()
    return float(np.sqrt((light * ((y - cy) ** 2 + (x - cx) ** 2)).sum() / light.sum()))


def test_training_and_evaluation_see_galaxies_at_the_same_scale(tmp_path: Path):
    path = _write(tmp_path / "blob.png", _blob())
    catalog = _catalog([path] * 16)
    prep = Preprocessing(16)
    plain = np.concatenate(_batches(pipeline.make_dataset(catalog, preprocessing=prep)))
    views = np.concatenate(
        _batches(pipeline.make_dataset(catalog, preprocessing=prep, augment=True, seed=3))
    )
    expected = 20.0 * np.sqrt(2) * 16 / (424 * prep.crop_fraction)  # the blob, scaled once
    assert abs(_radius(plain[0]) / expected - 1) < 0.03
    ratios = [_radius(view) / _radius(plain[0]) for view in views]
    assert max(abs(r - 1) for r in ratios) < 0.01  # shifts and quarter turns keep the scale


def test_images_are_decoded_once_and_then_served_from_the_cache(
    asymmetric: pd.DataFrame, tmp_path: Path
):
    folder = tmp_path / "copies"
    folder.mkdir()
    paths = []
    for path in asymmetric["image"]:
        paths.append(str(folder / Path(path).name))
        Path(paths[-1]).write_bytes(Path(path).read_bytes())
    ds = pipeline.make_dataset(_catalog(paths), preprocessing=Preprocessing(24), batch_size=4)
    first = np.concatenate(_batches(ds))
    for path in paths:
        Path(path).unlink()  # a second pass can only come from the cache
    np.testing.assert_array_equal(np.concatenate(_batches(ds)), first)


def test_a_stored_central_crop_gives_the_same_input_as_the_full_cutout(tmp_path: Path):
    rng = np.random.default_rng(4)
    full = np.clip(_blob() + rng.normal(0, 20, (424, 424, 3)), 0, 255)
    crop = full[84:340, 84:340]  # the central 256 px, as the built-in samples store them
    catalog = _catalog([_write(tmp_path / "full.png", full), _write(tmp_path / "crop.png", crop)])
    catalog["frame_fraction"] = [1.0, 256 / 424]
    images = np.concatenate(
        _batches(pipeline.make_dataset(catalog, preprocessing=Preprocessing(48)))
    )
    assert np.abs(images[0] - images[1]).mean() < 0.01
