"""The tf.data input pipeline: decode, crop, resize, augment, balance and split a catalog.

Images stream from disk (or lazily from a Galaxy10 .h5 file) in parallel; only the catalog (paths
and labels) is ever held in memory. Every image leaves the pipeline as float32 in [0, 1], shaped
by a :class:`~galaxylab.preprocessing.Preprocessing`. Standardisation to zero mean and unit
variance is done in ONE place, the first layer of the trained model (see
:func:`normalization_layer`), so a saved model takes the same [0, 1] images the pipeline gives
and needs no separate statistics file.

Randomness (shuffling, augmentation) is drawn from the seed with stateless ops, so the same seed
gives the same batches, and each pass over a dataset (each epoch) gets a fresh draw.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from galaxylab.errors import GalaxyLabError
from galaxylab.preprocessing import Preprocessing

#: Augmentation beyond the dihedral group: shifts up to this fraction of the image width and
#: zooms log-uniform in [1 / (1 + ZOOM), 1 + ZOOM].
SHIFT = 0.05
ZOOM = 0.1
# The augmented path crops this much more than crop_fraction, so shifts and zooms see real sky.
_MARGIN = (1 + ZOOM) * (1 + 2 * SHIFT)

#: tf.data autotuning stays off: with TF 2.21 / Keras 3.15 it made ``fit`` stall for seconds at
#: epoch starts (bench/bench_pipeline.py measures it). Off = fixed parallelism (one map call per
#: core, two batches prefetched).
AUTOTUNE_ENABLED = False
#: Resampling filter of the downsizing resize (antialiased, so small stars do not alias).
RESIZE_METHOD = "bilinear"


def _chosen(preprocessing: Preprocessing | None) -> Preprocessing:
    return Preprocessing() if preprocessing is None else preprocessing


# --------------------------------------------------------------------------- decoding


def _window(height: tf.Tensor, width: tf.Tensor, fraction: float) -> tf.Tensor:
    """[top, left, side, side] of the central square, side = ``fraction`` of the shorter side."""
    shorter = tf.minimum(height, width)
    side = tf.cast(tf.math.round(tf.cast(shorter, tf.float32) * fraction), tf.int32)
    side = tf.clip_by_value(side, 1, shorter)
    return tf.stack([(height - side) // 2, (width - side) // 2, side, side])


def _square_crop(image: tf.Tensor, fraction: float) -> tf.Tensor:
    """The central square whose side is ``fraction`` of the image's shorter side."""
    shape = tf.shape(image)
    window = _window(shape[0], shape[1], fraction)
    return tf.image.crop_to_bounding_box(image, window[0], window[1], window[2], window[3])


def decode_and_crop(contents: tf.Tensor, crop_fraction: float = 1.0) -> tf.Tensor:
    """Encoded JPEG/PNG/BMP/GIF bytes → the central square crop, uint8 RGB (side, side, 3).

    JPEGs are decoded only inside the crop window (``tf.io.decode_and_crop_jpeg``), which
    roughly halves the decoding time of a 424 px challenge image; greyscale files get 3
    channels.
    """

    def jpeg() -> tf.Tensor:
        shape = tf.io.extract_jpeg_shape(contents)
        return tf.io.decode_and_crop_jpeg(
            contents, _window(shape[0], shape[1], crop_fraction), channels=3
        )

    def other() -> tf.Tensor:
        image = tf.io.decode_image(contents, channels=3, expand_animations=False)
        return _square_crop(image, crop_fraction)

    image = tf.cond(tf.io.is_jpeg(contents), jpeg, other)
    image.set_shape([None, None, 3])
    return image


def _sizes(image_size: int, crop_fraction: float, margin: float) -> tuple[float, int]:
    """The crop fraction to cut and the side to resize it to, for an augmentation margin."""
    if margin == 1.0:
        return crop_fraction, image_size
    fraction = min(1.0, crop_fraction * margin)
    return fraction, math.ceil(image_size * fraction / crop_fraction)


def _finish(square: tf.Tensor, size: int, greyscale: bool) -> tf.Tensor:
    """uint8 square crop → antialiased resize to ``size``, float32 in [0, 1], optional grey."""
    image = tf.image.resize(square, (size, size), method=RESIZE_METHOD, antialias=True)
    image = tf.clip_by_value(image / 255.0, 0.0, 1.0)
    if greyscale:
        image = tf.image.rgb_to_grayscale(image)
    return image


def preprocess(
    image: tf.Tensor, preprocessing: Preprocessing | None = None, *, margin: float = 1.0
) -> tf.Tensor:
    """uint8 (H, W, 3) pixels → central square crop, antialiased resize, float32 in [0, 1].

    With ``margin`` > 1 the crop (and output) is that much larger, leaving room for the
    shifts and zooms of :func:`random_transform`, which brings it back to ``image_size``.
    """
    prep = _chosen(preprocessing)
    fraction, size = _sizes(prep.image_size, prep.crop_fraction, margin)
    return _finish(_square_crop(image, fraction), size, prep.greyscale)


def model_input(
    path: str | os.PathLike | tf.Tensor, preprocessing: Preprocessing | None = None
) -> tf.Tensor:
    """One image file → float32 (size, size, channels) in [0, 1], as the models see it."""
    prep = _chosen(preprocessing)
    contents = tf.io.read_file(path if tf.is_tensor(path) else str(path))
    square = decode_and_crop(contents, prep.crop_fraction)
    return _finish(square, prep.image_size, prep.greyscale)


_H5_FILES: dict[tuple[int, str, int], Any] = {}


def _h5_image(path: bytes, index: np.int64) -> np.ndarray:
    """Row ``index`` of a Galaxy10 .h5 file's ``images``; the file is opened once per process."""
    import h5py

    name = path.decode()
    key = (os.getpid(), name, os.stat(name).st_mtime_ns)  # a rewritten file is opened afresh
    handle = _H5_FILES.get(key)
    if handle is None:
        handle = _H5_FILES[key] = h5py.File(name, "r")
    image = np.asarray(handle["images"][int(index)], dtype=np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


def _read_h5(path: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    image = tf.numpy_function(_h5_image, [path, index], tf.uint8, stateful=False)
    image.set_shape([None, None, 3])
    return image


# --------------------------------------------------------------------------- augmentation


def random_transform(
    images: tf.Tensor,
    seed: tf.Tensor,
    *,
    image_size: int,
    shift: float = SHIFT,
    zoom: float = ZOOM,
) -> tf.Tensor:
    """Per image, a random element of the dihedral group (k·90° rotation, optional mirror), a
    zoom log-uniform in [1/(1+zoom), 1+zoom] and a shift up to ``shift`` of the width, applied
    in one bilinear resampling to ``image_size``; ``seed`` is a stateless seed pair.

    ``images`` is a batch (B, S, S, C) of the margin-enlarged squares from :func:`preprocess`
    (``margin=_MARGIN``), whose central ``image_size`` pixels are the un-augmented crop, so
    shifted and zoomed views see real sky rather than padding. The affine map sends pixel
    centres to pixel centres, so with shift = zoom = 0 the rotations and mirrors are exact.
    This is the projective-transform op Keras' RandomRotation/RandomZoom layers use.
    """
    batch = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    k = tf.random.stateless_uniform([batch], seeds[0], minval=0, maxval=4, dtype=tf.int32)
    mirror = tf.where(tf.random.stateless_uniform([batch], seeds[1]) < 0.5, -1.0, 1.0)
    inverse = tf.exp(
        tf.random.stateless_uniform(
            [batch], seeds[2], minval=-math.log1p(zoom), maxval=math.log1p(zoom)
        )
    )
    offset = tf.random.stateless_uniform([batch, 2], seeds[3], minval=-shift, maxval=shift)
    offset = offset * image_size * inverse[:, None]
    angle = tf.cast(k, tf.float32) * (math.pi / 2)
    cos, sin = tf.round(tf.cos(angle)), tf.round(tf.sin(angle))
    # Output pixel (x, y) samples the input at A (x, y) + b: A = zoom⁻¹ · rotation · mirror.
    a0, a1 = inverse * cos * mirror, -inverse * sin
    b0, b1 = inverse * sin * mirror, inverse * cos
    out_centre = (image_size - 1) / 2
    in_centre = (tf.cast(tf.shape(images)[2], tf.float32) - 1) / 2
    a2 = in_centre + offset[:, 0] - (a0 + a1) * out_centre
    b2 = in_centre + offset[:, 1] - (b0 + b1) * out_centre
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=[image_size, image_size],
        interpolation="BILINEAR",
        fill_mode="REFLECT",
        fill_value=0.0,
    )
    return tf.clip_by_value(out, 0.0, 1.0)


# --------------------------------------------------------------------------- datasets


def _is_h5(catalog: pd.DataFrame) -> bool:
    """True for Galaxy10 catalogs, whose rows are images inside one .h5 file."""
    return "h5_index" in catalog.columns and bool(catalog["h5_index"].notna().all())


def make_dataset(
    catalog: pd.DataFrame,
    targets: np.ndarray | Sequence | None = None,
    *,
    preprocessing: Preprocessing | None = None,
    batch_size: int = 32,
    augment: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    repeat: bool = False,
    autotune: bool | None = None,
) -> tf.data.Dataset:
    """A batched tf.data.Dataset of the catalog's images (and targets), streamed from disk.

    Yields float32 images ``(batch, *preprocessing.input_shape)`` in [0, 1], paired with
    ``targets`` when given: integer class indices stay int32, vote fractions become float32 with
    NaN kept for unknown columns (the masked loss ignores them). A ``rotation`` column (from
    :func:`rotation_upsample`) rotates each row by k·90° before augmentation. ``augment`` adds
    the random dihedral transformation plus small shifts/zooms; ``shuffle`` reshuffles every
    pass; both are repeatable for a given ``seed``.
    """
    if len(catalog) == 0:
        raise GalaxyLabError("cannot make a dataset from an empty catalog")
    prep = _chosen(preprocessing)
    image_size, greyscale = prep.image_size, prep.greyscale
    paths = catalog["image"].astype(str).to_numpy()
    h5 = _is_h5(catalog)
    index = (
        catalog["h5_index"].to_numpy(dtype=np.int64)
        if h5
        else np.full(len(catalog), -1, dtype=np.int64)
    )
    rotation = (
        catalog["rotation"].fillna(0).to_numpy(dtype=np.int32)
        if "rotation" in catalog.columns
        else np.zeros(len(catalog), np.int32)
    )
    features = {"path": paths, "index": index, "rotation": rotation}
    if targets is not None:
        targets = np.asarray(targets)
        if len(targets) != len(catalog):
            raise GalaxyLabError(f"{len(targets)} targets for {len(catalog)} catalog rows")
        if np.issubdtype(targets.dtype, np.integer):
            targets = targets.astype(np.int32)
        else:
            targets = targets.astype(np.float32)
        features["target"] = targets

    ds = tf.data.Dataset.from_tensor_slices(features)
    if shuffle:
        ds = ds.shuffle(len(catalog), seed=seed, reshuffle_each_iteration=True)
    fraction, size = _sizes(image_size, prep.crop_fraction, _MARGIN if augment else 1.0)

    def load(row: dict):
        if h5:
            square = _square_crop(_read_h5(row["path"], row["index"]), fraction)
        else:
            square = decode_and_crop(tf.io.read_file(row["path"]), fraction)
        image = tf.image.rot90(_finish(square, size, greyscale), row["rotation"])
        image = tf.ensure_shape(image, (size, size, prep.channels))
        return (image, row["target"]) if "target" in row else image

    def transform(batch, noise: tf.Tensor):
        images = batch[0] if isinstance(batch, tuple) else batch
        pair = tf.stack([noise, tf.constant(seed, tf.int64)])
        images = random_transform(images, pair, image_size=image_size)
        return (images, batch[1]) if isinstance(batch, tuple) else images

    tuned = _autotune(autotune)
    parallel = tf.data.AUTOTUNE if tuned else max(1, os.cpu_count() or 1)
    ds = ds.map(load, num_parallel_calls=parallel, deterministic=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size)
    if augment:
        noise = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, noise).map(
            transform, num_parallel_calls=parallel, deterministic=True
        )
    ds = ds.prefetch(tf.data.AUTOTUNE if tuned else 2)
    return ds.with_options(dataset_options(autotune))


def _autotune(autotune: bool | None) -> bool:
    return AUTOTUNE_ENABLED if autotune is None else bool(autotune)


def dataset_options(autotune: bool | None = None) -> tf.data.Options:
    """tf.data options for every dataset here: deterministic order; autotune on or off."""
    options = tf.data.Options()
    options.deterministic = True
    options.autotune.enabled = _autotune(autotune)
    return options


def normalization_layer(
    catalog: pd.DataFrame,
    preprocessing: Preprocessing | None = None,
    *,
    sample: int = 512,
    seed: int = 0,
) -> Any:
    """A keras Normalization layer (per-channel mean and variance) adapted on a sample of images.

    This is the single place where images are standardised: the trainer puts the layer first
    in the model, so the saved model takes the pipeline's [0, 1] images directly.
    """
    import keras

    rows = catalog.sample(n=min(sample, len(catalog)), random_state=seed)
    images = make_dataset(rows, preprocessing=preprocessing, batch_size=64)
    layer = keras.layers.Normalization(axis=-1, name="normalization")
    layer.adapt(images)
    return layer


def load_array(
    catalog: pd.DataFrame, preprocessing: Preprocessing | None = None, *, batch_size: int = 64
) -> np.ndarray:
    """The catalog's images as one float32 array (N, size, size, channels) in [0, 1].

    For the few hundred images an analysis looks at; training streams with tf.data instead.
    """
    dataset = make_dataset(catalog, preprocessing=preprocessing, batch_size=batch_size)
    return np.concatenate([batch.numpy() for batch in dataset], axis=0)


# --------------------------------------------------------------------------- balance and split


def rotation_upsample(
    catalog: pd.DataFrame, labels: Sequence | pd.Series | np.ndarray, seed: int = 0
) -> pd.DataFrame:
    """Balance classes by adding copies of minority-class rows rotated by k·90°, k in 1..3.

    Every class reaches the majority class's count. Copies cycle through a class's members in a
    seeded random order, first with k = 1, then 2, then 3 (then again, if a class is more than
    four times smaller). Returns the catalog plus the copies (index reset), with a ``rotation``
    column (0 for originals) and a ``label`` column holding each row's label.
    """
    labels = np.asarray(labels, dtype=object)
    if len(labels) != len(catalog):
        raise GalaxyLabError(f"{len(labels)} labels for {len(catalog)} catalog rows")
    base = catalog.reset_index(drop=True).copy()
    base["rotation"] = 0
    base["label"] = labels
    counts = pd.Series(labels).value_counts()
    target = int(counts.max()) if len(counts) else 0
    rng = np.random.default_rng(seed)
    copies = []
    for label in sorted(counts.index, key=str):
        members = np.flatnonzero(labels == label)
        deficit = target - len(members)
        if deficit <= 0:
            continue
        order = rng.permutation(members)
        j = np.arange(deficit)
        rows = base.iloc[order[j % len(order)]].copy()
        rows["rotation"] = 1 + (j // len(order)) % 3
        copies.append(rows)
    return pd.concat([base, *copies], ignore_index=True) if copies else base


def class_weights(labels: Sequence | np.ndarray) -> dict:
    """Per-class loss weights inversely proportional to class frequency (scikit-learn "balanced").

    Keys are the labels as given (use integer class indices to pass the result to ``fit``).
    """
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(labels)
    classes = np.unique(labels)
    weights = compute_class_weight("balanced", classes=classes, y=labels)
    return {
        c.item() if hasattr(c, "item") else c: float(w)
        for c, w in zip(classes, weights, strict=True)
    }


def default_strata(catalog: pd.DataFrame) -> np.ndarray | None:
    """Labels to stratify a split by: the three-class label where it can be derived, else None."""
    from galaxylab import labels

    classes = labels.three_class(catalog)
    strata = classes.astype(object).where(classes.notna(), "unknown")
    if strata.nunique() <= 1:
        return None
    return strata.astype(str).to_numpy()


def split(
    catalog: pd.DataFrame,
    *,
    seed: int = 0,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    stratify: Sequence | np.ndarray | str | None = "auto",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train / validation / test parts of a catalog, deterministic for a seed (scikit-learn).

    ``stratify="auto"`` keeps the three-class proportions in every part where those labels can
    be derived (Kaggle Q1 columns, class folders, Galaxy10); pass labels to stratify by them, or
    None for a plain random split. A stratum too small to appear in every part falls back to a
    plain random split, with a warning. A fraction of 0 gives an empty part.
    """
    from sklearn.model_selection import train_test_split

    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1):
        raise GalaxyLabError(
            f"fractions must be three non-negative numbers summing to 1: {fractions}"
        )
    strata = default_strata(catalog) if isinstance(stratify, str) else stratify
    if isinstance(stratify, str) and stratify != "auto":
        raise GalaxyLabError(f"stratify must be 'auto', None or labels, not {stratify!r}")
    table = catalog.reset_index(drop=True)
    strata = None if strata is None else np.asarray(strata)

    def cut(frame: pd.DataFrame, by: np.ndarray | None, second: float):
        """(first, second part) of ``frame``, ``second`` being the second part's share."""
        if second in (0.0, 1.0):
            return (frame, frame.iloc[:0]) if second == 0 else (frame.iloc[:0], frame)
        if by is not None:
            counts = pd.Series(by).value_counts()
            n_second = math.ceil(second * len(frame))
            if counts.min() < 2 or min(n_second, len(frame) - n_second) < len(counts):
                warnings.warn(
                    "a class is too rare to stratify this split; splitting at random", stacklevel=3
                )
                by = None
        first, other = train_test_split(
            np.arange(len(frame)), test_size=second, random_state=seed, stratify=by
        )
        return frame.iloc[np.sort(first)], frame.iloc[np.sort(other)]

    holdout = fractions[1] + fractions[2]
    train, rest = cut(table, strata, holdout)
    rest_strata = None if strata is None else strata[rest.index.to_numpy()]
    val, test = cut(rest, rest_strata, fractions[2] / holdout if holdout else 0.0)
    return tuple(part.reset_index(drop=True) for part in (train, val, test))
