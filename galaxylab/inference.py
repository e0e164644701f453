"""A model's outputs for a catalog, an image array or a tf.data dataset, optionally averaged over
the 8 dihedral views (test-time augmentation).

Galaxies have no preferred orientation, so averaging the predictions for the 4 rotations and
their mirror images removes some of a model's noise, as the winning challenge solution did.
The 8 views of each batch go through the model together, in one pass over the data, so a
dataset that reshuffles between passes cannot pair the views of different galaxies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import tensorflow as tf

from galaxylab.preprocessing import Preprocessing

if TYPE_CHECKING:
    import keras

#: The 8 elements of the dihedral group as (quarter turns, mirror first).
DIHEDRAL: tuple[tuple[int, bool], ...] = tuple(
    (k, flip) for flip in (False, True) for k in range(4)
)


def dihedral_transform(images: Any, k: int, flip: bool) -> tf.Tensor:
    """Mirror left-right (if ``flip``), then rotate by ``k`` quarter turns (batch or one image)."""
    images = tf.convert_to_tensor(images)
    return tf.image.rot90(tf.image.flip_left_right(images) if flip else images, k)


def dihedral_views(images: Any) -> list[tf.Tensor]:
    """The 8 views of square images under the dihedral group: 4 rotations × mirror."""
    return [dihedral_transform(images, k, flip) for k, flip in DIHEDRAL]


def _batches(
    data: pd.DataFrame | np.ndarray | tf.data.Dataset,
    batch_size: int,
    preprocessing: Preprocessing | None,
) -> tf.data.Dataset:
    """``data`` as a dataset of image batches (targets, if any, dropped)."""
    if isinstance(data, pd.DataFrame):
        from galaxylab import pipeline

        return pipeline.make_dataset(
            data, preprocessing=preprocessing, batch_size=batch_size, cache=False
        )
    if isinstance(data, tf.data.Dataset):
        return data.map(lambda x, *_: x)
    return tf.data.Dataset.from_tensor_slices(np.asarray(data, dtype=np.float32)).batch(batch_size)


def predict(
    model: keras.Model,
    data: pd.DataFrame | np.ndarray | tf.data.Dataset,
    *,
    tta: bool = False,
    batch_size: int = 64,
    preprocessing: Preprocessing | None = None,
) -> np.ndarray:
    """The model's outputs for every image of ``data``, in order, as one numpy array.

    ``data`` is a catalog (its images prepared with ``preprocessing``), an array of images
    (N, H, W, C) in [0, 1], or a batched ``tf.data.Dataset`` of images or (images, targets).
    ``tta`` averages each image's prediction over its 8 dihedral views.
    """
    dataset = _batches(data, batch_size, preprocessing)
    if not tta:
        return np.asarray(model.predict(dataset, verbose=0))
    out = []
    for images in dataset:
        views = tf.concat(dihedral_views(images), axis=0)
        prediction = np.asarray(model.predict_on_batch(views))
        out.append(prediction.reshape(len(DIHEDRAL), len(images), -1).mean(axis=0))
    return np.concatenate(out)
