"""How images are prepared for a network: which part of the sky, at what size, in which colours.

A :class:`Preprocessing` travels with every trained model (it is stored in the RUN's
``config.json``) so evaluation prepares images exactly as training did; :mod:`galaxylab.pipeline`
applies it with tf.data. This module needs no TensorFlow, so the command line can check the
settings before the slow import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from galaxylab.errors import GalaxyLabError

#: Pixels per side fed to the networks unless asked otherwise.
DEFAULT_IMAGE_SIZE = 64
#: Dieleman's winning challenge solution cropped the central 207 of 424 pixels; as a fraction it
#: also suits other image sizes (e.g. Galaxy10's 256 x 256).
DEFAULT_CROP_FRACTION = 207 / 424
#: The smallest image the course's networks accept: four poolings must leave a pixel.
MIN_IMAGE_SIZE = 16
#: The largest: the challenge cutouts are 424 px and the course crops their central 207 px, so
#: anything larger only upsamples (and a mistyped size would ask for gigabytes per image).
MAX_IMAGE_SIZE = 424


@dataclass(frozen=True)
class Preprocessing:
    """The central square ``crop_fraction`` of each image, resized to ``image_size`` pixels per
    side, as RGB or (``greyscale``) one luminance channel; pixel values float32 in [0, 1]."""

    image_size: int = DEFAULT_IMAGE_SIZE
    crop_fraction: float = DEFAULT_CROP_FRACTION
    greyscale: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int):
            raise GalaxyLabError(
                f"image size must be a whole number of pixels, got {self.image_size!r}"
            )
        if self.image_size < MIN_IMAGE_SIZE:
            raise GalaxyLabError(
                f"image size must be at least {MIN_IMAGE_SIZE} px, got {self.image_size}"
            )
        if self.image_size > MAX_IMAGE_SIZE:
            raise GalaxyLabError(
                f"image size must be at most {MAX_IMAGE_SIZE} px (the challenge images' full "
                f"size; larger only upsamples), got {self.image_size}"
            )
        if not 0 < self.crop_fraction <= 1:
            raise GalaxyLabError(f"crop fraction must lie in (0, 1], got {self.crop_fraction}")

    @property
    def channels(self) -> int:
        """1 for greyscale (luminance only), else 3 (RGB)."""
        return 1 if self.greyscale else 3

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The shape a model must accept for these images: (size, size, channels)."""
        return (self.image_size, self.image_size, self.channels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings, as stored in a RUN's config.json."""
        return asdict(self)

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> Preprocessing:
        """The preprocessing recorded in ``settings`` (a RUN's config.json or :meth:`to_dict`)."""
        try:
            return cls(
                image_size=int(settings["image_size"]),
                crop_fraction=float(settings["crop_fraction"]),
                greyscale=bool(settings["greyscale"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise GalaxyLabError(
                f"preprocessing settings are incomplete or invalid ({error!r})"
            ) from error
