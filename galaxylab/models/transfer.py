"""Transfer learning: a small head on a ``keras.applications`` backbone (VGG16, ResNet50, ...).

The backbone sees images the way it was trained: [0, 1] inputs are scaled to [0, 255] and
passed through the backbone's own ``preprocess_input`` inside the model, grey images are
repeated to three channels, and images smaller than the backbone's minimum are upsampled.
``weights=None`` builds offline with random weights; ``weights="imagenet"`` uses the Keras
cache (``$KERAS_HOME/models`` or ``~/.keras/models``) and downloads there when it can.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import keras

from galaxylab.choices import TASKS
from galaxylab.errors import GalaxyLabError
from galaxylab.models.cnn import DEFAULT_SHAPE, check_input_shape, class_head, tree_head
from galaxylab.models.layers import ImagenetPreprocess

_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class Backbone:
    """A keras.applications network: its constructor, minimum input size and no-top weights."""

    build: Callable[..., keras.Model]
    min_size: int
    weights_file: str
    weights_url: str
    md5: str


#: The backbones the course offers; file names, URLs and hashes are those keras.applications uses.
BACKBONES: dict[str, Backbone] = {
    "VGG16": Backbone(
        keras.applications.VGG16,
        32,
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _WEIGHTS_URL + "vgg16/",
        "6d6bbae143d832006294945121d1f1fc",
    ),
    "ResNet50": Backbone(
        keras.applications.ResNet50,
        32,
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _WEIGHTS_URL + "resnet/",
        "4d473c1dd8becc155b73f8504c6f6626",
    ),
    "InceptionV3": Backbone(
        keras.applications.InceptionV3,
        75,
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _WEIGHTS_URL + "inception_v3/",
        "bcbd6486424b2319ff4ef7d526e38f63",
    ),
    "Xception": Backbone(
        keras.applications.Xception,
        71,
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _WEIGHTS_URL + "xception/",
        "b0042744bf5b25fce3cb969f33bebb97",
    ),
}

#: Seconds a stalled weights download may wait on the network before it fails.
DOWNLOAD_TIMEOUT = 60.0


def keras_cache_dir() -> Path:
    """Where Keras caches downloads: ``$KERAS_HOME``, else ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def imagenet_weights_path(backbone: str) -> Path:
    """The cached no-top ImageNet weights file of ``backbone`` (it may not exist yet)."""
    return keras_cache_dir() / "models" / BACKBONES[backbone_name(backbone)].weights_file


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Give sockets a default timeout for the duration, so a dead network cannot hang a download."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds if previous is None else previous)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def backbone_name(name: str) -> str:
    """The canonical spelling of a backbone name (case-insensitive), or a GalaxyLabError."""
    for known in BACKBONES:
        if known.lower() == str(name).lower():
            return known
    raise GalaxyLabError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")


def fetch_imagenet_weights(backbone: str) -> Path:
    """The path of ``backbone``'s ImageNet weights, downloading them into the Keras cache if needed.

    Raises one GalaxyLabError naming the backbone, the cache path and the manual route when
    the file is neither cached nor downloadable (offline, timeout, bad checksum).
    """
    backbone = backbone_name(backbone)
    spec = BACKBONES[backbone]
    target = imagenet_weights_path(backbone)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # else get_file falls back to /tmp
        with _socket_timeout(DOWNLOAD_TIMEOUT):
            path = keras.utils.get_file(
                spec.weights_file,
                spec.weights_url + spec.weights_file,
                cache_subdir="models",
                cache_dir=str(keras_cache_dir()),
                file_hash=spec.md5,
            )
    except Exception as err:  # get_file raises bare Exception/ValueError for network and hash
        raise GalaxyLabError(
            f"could not get the ImageNet weights of {backbone} ({err}); they are looked for in "
            f"{target}: on a machine with internet download {spec.weights_url}{spec.weights_file} "
            f"(md5 {spec.md5}) and copy it there, or use weights=None"
        ) from err
    return Path(path)


def transfer_model(
    backbone: str,
    input_shape: Sequence[int] = DEFAULT_SHAPE,
    *,
    task: str = "three-class",
    weights: str | None = None,
    trainable: bool = False,
    n_classes: int = 3,
    head: str = "tree",
    dropout: float = 0.3,
) -> keras.Model:
    """A keras.applications backbone (global average pooled) under a three-class or tree head.

    ``weights``: None (random, offline), ``"imagenet"`` (cache or download, else one clear
    GalaxyLabError) or the path of a weights file for the backbone. ``trainable=False``
    freezes the backbone; it always runs with BatchNorm in inference mode, as Keras'
    fine-tuning guide advises. Inputs: float32 images in [0, 1], 1 or 3 channels.
    """
    backbone = backbone_name(backbone)
    spec = BACKBONES[backbone]
    if task not in TASKS:
        raise GalaxyLabError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    height, width, channels = check_input_shape(input_shape)
    weights_path: Path | None = None
    if weights == "imagenet":
        weights_path = fetch_imagenet_weights(backbone)
    elif weights is not None:
        weights_path = Path(weights)
        if not weights_path.is_file():
            raise GalaxyLabError(f"{weights_path}: weights file for {backbone} not found")

    size = (max(height, spec.min_size), max(width, spec.min_size))
    base = spec.build(include_top=False, weights=None, input_shape=(*size, 3), pooling="avg")
    if weights_path is not None:
        try:
            base.load_weights(str(weights_path))
        except Exception as err:  # h5py/Keras raise many types for a wrong or damaged file
            raise GalaxyLabError(f"{weights_path}: not {backbone} weights ({err})") from err
    base.trainable = trainable

    inputs = keras.Input(shape=(height, width, channels), name="image")
    x = inputs
    if channels == 1:
        x = keras.layers.Concatenate(name="grey_to_rgb")([x, x, x])
    if size != (height, width):
        x = keras.layers.Resizing(*size, name="upsample")(x)
    x = ImagenetPreprocess(backbone, name="preprocess")(x)
    x = base(x, training=False)
    if task == "three-class":
        outputs = class_head(x, n_classes, dropout)
    else:
        outputs = tree_head(x, head, dropout)
    return keras.Model(inputs, outputs, name=f"{backbone.lower()}_{task.replace('-', '_')}")
