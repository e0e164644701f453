"""The tf.data input pipeline: decode, crop, resize, cache, augment, balance and split a catalog.

Each image is decoded, cropped and resized once, in one antialiased resampling, to a square a
little larger than the network's input (room for the shifts of augmentation); that square is
cached as uint8, in memory or, when it would not fit, on disk. Every pass after the first
reads the cache. Shuffling, augmentation and scaling to float32 run after the cache:
training takes a random shift, rotation by a multiple of 90° and mirror image of the square
(all exact pixel moves, no second resampling), evaluation takes its centre, so training and
evaluation see galaxies at exactly the same scale. Every image leaves the pipeline as float32
in [0, 1], shaped by a :class:`~galaxylab.preprocessing.Preprocessing`.

Standardisation to zero mean and unit variance is done in ONE place, the first layer of the
trained model (see :func:`normalization_layer`), so a saved model takes the same [0, 1] images
the pipeline gives and needs no separate statistics file. Randomness (shuffling, augmentation)
is drawn from the seed with stateless ops, so the same seed gives the same batches, and each
pass over a dataset (each epoch) gets a fresh draw.
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from galaxylab.backend import cpu_budget
from galaxylab.errors import GalaxyLabError
from galaxylab.preprocessing import Preprocessing

#: Augmentation shifts an image by up to this fraction of its width in each direction.
SHIFT = 0.05
#: A cache larger than this many bytes goes to a temporary file under the data folder
#: instead of memory (Binder gives a student about 2 GB in all).
CACHE_MEMORY_LIMIT = 512 * 2**20
#: tf.data autotuning stays off: with TF 2.21 / Keras 3.15 it made ``fit`` stall for seconds at
#: epoch starts (bench/bench_pipeline.py measures it). Off = fixed parallelism (one map call per
#: usable CPU, two batches prefetched).
AUTOTUNE_ENABLED = False
#: Resampling filter of the downsizing resize (antialiased, so small stars do not alias).
RESIZE_METHOD = "bilinear"


def _chosen(preprocessing: Preprocessing | None) -> Preprocessing:
    return Preprocessing() if preprocessing is None else preprocessing


@dataclass(frozen=True)
class Layout:
    """The cached square for a preprocessing: ``image_size`` plus ``pad`` pixels on each side
    (the largest augmentation shift), so its side is ``image_size + 2 * pad``."""

    image_size: int
    pad: int

    @classmethod
    def of(cls, preprocessing: Preprocessing) -> Layout:
        """The layout the pipeline caches for ``preprocessing``."""
        return cls(preprocessing.image_size, math.ceil(SHIFT * preprocessing.image_size))

    @property
    def side(self) -> int:
        """Pixels per side of the cached square."""
        return self.image_size + 2 * self.pad


# --------------------------------------------------------------------------- decoding


def _window(height: tf.Tensor, width: tf.Tensor, fraction: tf.Tensor) -> tf.Tensor:
    """[top, left, side, side] of the central square, side = ``fraction`` of the shorter side."""
    shorter = tf.minimum(height, width)
    side = tf.cast(tf.math.round(tf.cast(shorter, tf.float32) * fraction), tf.int32)
    side = tf.clip_by_value(side, 1, shorter)
    return tf.stack([(height - side) // 2, (width - side) // 2, side, side])


def _square_crop(image: tf.Tensor, fraction: tf.Tensor) -> tf.Tensor:
    """The central square whose side is ``fraction`` of the image's shorter side."""
    shape = tf.shape(image)
    window = _window(shape[0], shape[1], fraction)
    return tf.image.crop_to_bounding_box(image, window[0], window[1], window[2], window[3])


def decode_and_crop(contents: tf.Tensor, crop_fraction: float | tf.Tensor = 1.0) -> tf.Tensor:
    """Encoded JPEG/PNG/BMP/GIF bytes → the central square crop, uint8 RGB (side, side, 3).

    JPEGs are decoded only inside the crop window (``tf.io.decode_and_crop_jpeg``), which
    roughly halves the decoding time of a 424 px challenge image; greyscale files get 3
    channels.
    """
    fraction = tf.cast(crop_fraction, tf.float32)

    def jpeg() -> tf.Tensor:
        shape = tf.io.extract_jpeg_shape(contents)
        return tf.io.decode_and_crop_jpeg(
            contents, _window(shape[0], shape[1], fraction), channels=3
        )

    def other() -> tf.Tensor:
        image = tf.io.decode_image(contents, channels=3, expand_animations=False)
        return _square_crop(image, fraction)

    image = tf.cond(tf.io.is_jpeg(contents), jpeg, other)
    image.set_shape([None, None, 3])
    return image


def _resize(square: tf.Tensor, size: int) -> tf.Tensor:
    """A square of pixels, resized with antialiasing to ``size``, as uint8."""
    image = tf.image.resize(square, (size, size), method=RESIZE_METHOD, antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def _fractions(crop: tf.Tensor, layout: Layout) -> tuple[tf.Tensor, tf.Tensor]:
    """(fraction of the image to cut for the padded square, whether the image has that much).

    ``crop`` is the crop fraction relative to the stored image; the padded square needs
    ``side / image_size`` times as much sky around it.
    """
    wanted = crop * layout.side / layout.image_size
    return tf.minimum(wanted, 1.0), wanted <= 1.0


def _padded_square(image: tf.Tensor, crop: tf.Tensor, layout: Layout) -> tf.Tensor:
    """uint8 (H, W, 3) pixels → the cached square: the crop plus its margin, resized once.

    An image with too little sky around the crop (a crop fraction near 1) is resized to the
    network's size and mirrored outwards for the margin instead.
    """
    fraction, room = _fractions(crop, layout)
    return tf.cond(
        room,
        lambda: _resize(_square_crop(image, fraction), layout.side),
        lambda: tf.pad(
            _resize(_square_crop(image, crop), layout.image_size),
            [[layout.pad, layout.pad], [layout.pad, layout.pad], [0, 0]],
            mode="REFLECT",
        ),
    )


def _file_square(path: tf.Tensor, crop: tf.Tensor, layout: Layout) -> tf.Tensor:
    """An image file → the cached square, decoding a JPEG only inside the window it needs."""
    contents = tf.io.read_file(path)
    fraction, room = _fractions(crop, layout)
    return tf.cond(
        room,
        lambda: _resize(decode_and_crop(contents, fraction), layout.side),
        lambda: _padded_square(decode_and_crop(contents, 1.0), crop, layout),
    )


def _centre(square: tf.Tensor, layout: Layout) -> tf.Tensor:
    """The un-augmented view: the central ``image_size`` pixels of the cached square."""
    return square[
        layout.pad : layout.pad + layout.image_size, layout.pad : layout.pad + layout.image_size
    ]


def _to_float(image: tf.Tensor, greyscale: bool) -> tf.Tensor:
    """uint8 pixels → float32 in [0, 1], or one luminance channel for greyscale."""
    image = tf.cast(image, tf.float32) / 255.0
    return tf.image.rgb_to_grayscale(image) if greyscale else image


def preprocess(image: tf.Tensor, preprocessing: Preprocessing | None = None) -> tf.Tensor:
    """uint8 (H, W, 3) pixels → float32 (size, size, channels) in [0, 1], as a model sees it."""
    prep = _chosen(preprocessing)
    layout = Layout.of(prep)
    square = _padded_square(image, tf.constant(prep.crop_fraction, tf.float32), layout)
    return _to_float(_centre(square, layout), prep.greyscale)


def model_input(
    path: str | os.PathLike | tf.Tensor, preprocessing: Preprocessing | None = None
) -> tf.Tensor:
    """One image file → float32 (size, size, channels) in [0, 1], as the models see it."""
    prep = _chosen(preprocessing)
    layout = Layout.of(prep)
    path = path if tf.is_tensor(path) else tf.constant(str(path))
    square = _file_square(path, tf.constant(prep.crop_fraction, tf.float32), layout)
    return _to_float(_centre(square, layout), prep.greyscale)


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


def random_view(square: tf.Tensor, seed: tf.Tensor, layout: Layout) -> tf.Tensor:
    """A random view of a cached square: a shift of up to ``layout.pad`` pixels each way, then a
    random element of the dihedral group (k·90° rotation, optional mirror); ``seed`` is a
    stateless seed pair. Every step moves whole pixels, so nothing is resampled."""
    seeds = tf.random.experimental.stateless_split(seed, num=3)
    offset = tf.random.stateless_uniform(
        [2], seeds[0], minval=0, maxval=2 * layout.pad + 1, dtype=tf.int32
    )
    view = square[
        offset[0] : offset[0] + layout.image_size, offset[1] : offset[1] + layout.image_size
    ]
    view = tf.image.stateless_random_flip_left_right(view, seeds[1])
    k = tf.random.stateless_uniform([], seeds[2], minval=0, maxval=4, dtype=tf.int32)
    return tf.image.rot90(view, k)


# --------------------------------------------------------------------------- datasets


def _is_h5(catalog: pd.DataFrame) -> bool:
    """True for Galaxy10 catalogs, whose rows are images inside one .h5 file."""
    return "h5_index" in catalog.columns and bool(catalog["h5_index"].notna().all())


def _crop_fractions(catalog: pd.DataFrame, crop_fraction: float) -> np.ndarray:
    """Per row, the crop fraction relative to the stored image: images that show only the
    central ``frame_fraction`` of a cutout (the built-in samples) need a larger one."""
    frame = np.ones(len(catalog))
    if "frame_fraction" in catalog.columns:
        frame = catalog["frame_fraction"].fillna(1.0).to_numpy(dtype=np.float64)
    if np.any(frame <= 0) or np.any(frame > 1):
        raise GalaxyLabError("catalog column frame_fraction must lie in (0, 1]")
    return (crop_fraction / frame).astype(np.float32)


_CACHE_DIRS: list[str] = []


def _remove_cache_dirs() -> None:
    for folder in _CACHE_DIRS:
        shutil.rmtree(folder, ignore_errors=True)


def _cached(ds: tf.data.Dataset, n_bytes: int) -> tf.data.Dataset:
    """``ds`` cached in memory, or in a temporary file when it is larger than the limit."""
    if n_bytes <= CACHE_MEMORY_LIMIT:
        return ds.cache()
    from galaxylab import course

    parent = course.data_dir() / "cache"
    parent.mkdir(parents=True, exist_ok=True)
    if not _CACHE_DIRS:
        atexit.register(_remove_cache_dirs)
    folder = tempfile.mkdtemp(prefix=f"tfdata-{os.getpid()}-", dir=parent)
    _CACHE_DIRS.append(folder)
    return ds.cache(str(Path(folder) / "images"))


def make_dataset(
    catalog: pd.DataFrame,
    targets: np.ndarray | Sequence | None = None,
    *,
    preprocessing: Preprocessing | None = None,
    batch_size: int = 32,
    augment: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    cache: bool = True,
    autotune: bool | None = None,
) -> tf.data.Dataset:
    """A batched tf.data.Dataset of the catalog's images (and targets).

    Yields float32 images ``(batch, *preprocessing.input_shape)`` in [0, 1], paired with
    ``targets`` when given: integer class indices stay int32, vote fractions become float32 with
    NaN kept for unknown columns (the masked loss ignores them). ``augment`` takes a random
    shift, rotation and mirror image of every image; ``shuffle`` reshuffles every pass; both are
    repeatable for a given ``seed``. ``cache`` keeps the decoded images after the first pass
    (for a dataset read once, such as a prediction, pass False).
    """
    if len(catalog) == 0:
        raise GalaxyLabError("cannot make a dataset from an empty catalog")
    prep = _chosen(preprocessing)
    layout = Layout.of(prep)
    h5 = _is_h5(catalog)
    features: dict[str, Any] = {
        "path": catalog["image"].astype(str).to_numpy(),
        "index": (
            catalog["h5_index"].to_numpy(dtype=np.int64)
            if h5
            else np.full(len(catalog), -1, dtype=np.int64)
        ),
        "crop": _crop_fractions(catalog, prep.crop_fraction),
    }
    if targets is not None:
        targets = np.asarray(targets)
        if len(targets) != len(catalog):
            raise GalaxyLabError(f"{len(targets)} targets for {len(catalog)} catalog rows")
        integer = np.issubdtype(targets.dtype, np.integer)
        features["target"] = targets.astype(np.int32 if integer else np.float32)

    def load(row: dict) -> Any:
        if h5:
            square = _padded_square(_read_h5(row["path"], row["index"]), row["crop"], layout)
        else:
            square = _file_square(row["path"], row["crop"], layout)
        square = tf.ensure_shape(square, (layout.side, layout.side, 3))
        return (square, row["target"]) if "target" in row else square

    def finish(image: tf.Tensor, *target: tf.Tensor) -> Any:
        image = tf.ensure_shape(_to_float(image, prep.greyscale), prep.input_shape)
        return (image, *target) if target else image

    def view(noise: tf.Tensor, item: Any) -> Any:
        square, *target = item if isinstance(item, tuple) else (item,)
        seed_pair = tf.stack([noise, tf.constant(seed, tf.int64)])
        return finish(random_view(square, seed_pair, layout), *target)

    def centre(square: tf.Tensor, *target: tf.Tensor) -> Any:
        return finish(_centre(square, layout), *target)

    tuned = _autotune(autotune)
    parallel = tf.data.AUTOTUNE if tuned else cpu_budget()
    ds = tf.data.Dataset.from_tensor_slices(features)
    ds = ds.map(load, num_parallel_calls=parallel, deterministic=True)
    if cache:
        ds = _cached(ds, len(catalog) * layout.side**2 * 3)
    if shuffle:
        ds = ds.shuffle(len(catalog), seed=seed, reshuffle_each_iteration=True)
    if augment:
        noise = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(noise, ds).map(
            view, num_parallel_calls=parallel, deterministic=True
        )
    else:
        ds = ds.map(centre, num_parallel_calls=parallel, deterministic=True)
    ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE if tuned else 2)
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
    images = make_dataset(rows, preprocessing=preprocessing, batch_size=64, cache=False)
    # float32 whatever the global dtype policy: adapting under a mixed policy fails in Keras,
    # and the statistics need the precision.
    layer = keras.layers.Normalization(axis=-1, name="normalization", dtype="float32")
    layer.adapt(images)
    return layer


def load_array(
    catalog: pd.DataFrame, preprocessing: Preprocessing | None = None, *, batch_size: int = 64
) -> np.ndarray:
    """The catalog's images as one float32 array (N, size, size, channels) in [0, 1].

    For the few hundred images an analysis looks at; training streams with tf.data instead.
    """
    dataset = make_dataset(catalog, preprocessing=preprocessing, batch_size=batch_size, cache=False)
    return np.concatenate([batch.numpy() for batch in dataset], axis=0)


# --------------------------------------------------------------------------- balance and split


def oversample(
    catalog: pd.DataFrame, labels: Sequence | pd.Series | np.ndarray, seed: int = 0
) -> pd.DataFrame:
    """Balance classes by repeating rows of the rarer classes until each has as many rows as
    the largest class.

    Copies cycle through a class's members in a seeded random order, so no galaxy is repeated
    twice before every other one of its class has been repeated once. Training augments every
    image with a random shift, rotation and mirror image, so a repeated galaxy is seen in a new
    view; rotating the copies as well would add nothing. Returns the catalog plus the copies
    (index reset) with a ``label`` column holding each row's label.
    """
    labels = np.asarray(labels, dtype=object)
    if len(labels) != len(catalog):
        raise GalaxyLabError(f"{len(labels)} labels for {len(catalog)} catalog rows")
    base = catalog.reset_index(drop=True).copy()
    base["label"] = labels
    counts = pd.Series(labels).value_counts()
    target = int(counts.max()) if len(counts) else 0
    rng = np.random.default_rng(seed)
    copies = []
    for label in sorted(counts.index, key=str):
        members = np.flatnonzero(labels == label)
        deficit = target - len(members)
        if deficit > 0:
            order = rng.permutation(members)
            copies.append(base.iloc[order[np.arange(deficit) % len(order)]].copy())
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
