"""Reading and cheaply validating galaxy image files (JPEG and PNG) with PIL.

Validation must stay fast enough for thousands of files, so :func:`check_image` never decodes
pixels: it reads the first and last bytes (format signature, JPEG end-of-image marker, PNG
``IEND`` chunk) and lets PIL parse the header (mode and size). :func:`read_rgb` is the full
decode, always to 8-bit RGB, which is what the course's pipeline feeds the networks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from galaxylab.errors import GalaxyLabError

#: File extensions read as images (lower case), and the format each one promises.
EXTENSION_FORMAT: dict[str, str] = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}
IMAGE_EXTENSIONS: frozenset[str] = frozenset(EXTENSION_FORMAT)

#: PIL modes with a single intensity channel (converted to RGB by :func:`read_rgb`).
GREYSCALE_MODES: frozenset[str] = frozenset({"1", "L", "LA", "I", "I;16", "F"})

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_JPEG_EOI = b"\xff\xd9"
_PNG_IEND = b"IEND\xaeB`\x82"
_TAIL_BYTES = 64
# Some encoders pad a finished JPEG with zero bytes or a newline after the end-of-image marker.
_JPEG_PADDING = b"\x00\r\n\t "


@dataclass(frozen=True)
class ImageCheck:
    """The outcome of :func:`check_image` for one file.

    ``status`` is ``"ok"``, ``"missing"`` or ``"unreadable"``; ``problem`` says what is wrong in
    a few words (None when ok); ``greyscale`` is True for single-channel images, which are
    readable (the pipeline decodes them to 3 channels) but worth a warning.
    """

    path: Path
    status: str
    problem: str | None = None
    greyscale: bool = False
    size: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        """True when the file is present and looks like a complete image."""
        return self.status == "ok"


def sniff_format(head: bytes) -> str | None:
    """The image format announced by a file's first bytes (``"JPEG"``, ``"PNG"``, …), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    return None


def _unreadable(path: Path, problem: str) -> ImageCheck:
    return ImageCheck(path=path, status="unreadable", problem=problem)


def check_image(path: str | os.PathLike[str]) -> ImageCheck:
    """Check that ``path`` is a complete image of the format its extension promises, cheaply.

    Detects a missing or empty file, a file that is no image at all, a PNG named ``.jpg`` (and
    the reverse), a truncated JPEG (no end-of-image marker) or PNG (no ``IEND``), and a header
    PIL cannot parse. Reads about a hundred bytes and the header, never the pixels.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                return _unreadable(path, "empty file (0 bytes)")
            head = handle.read(16)
            found = sniff_format(head)
            if found is None:
                return _unreadable(path, f"not an image file (starts with {head[:8]!r})")
            expected = EXTENSION_FORMAT.get(path.suffix.lower())
            if expected is not None and found != expected:
                return _unreadable(path, f"is a {found} file named {path.suffix}")
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read()
            if found == "JPEG" and not tail.rstrip(_JPEG_PADDING).endswith(_JPEG_EOI):
                return _unreadable(path, "truncated JPEG (no end-of-image marker)")
            if found == "PNG" and _PNG_IEND not in tail:
                return _unreadable(path, "truncated PNG (no IEND chunk)")
            handle.seek(0)
            try:
                with Image.open(handle, formats=[found]) as image:
                    mode, dims = image.mode, image.size
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
                return _unreadable(path, f"{found} header cannot be read ({error})")
    except FileNotFoundError:
        return ImageCheck(path=path, status="missing", problem="file not found")
    except IsADirectoryError:
        return _unreadable(path, "is a folder, not an image file")
    except OSError as error:
        return _unreadable(path, f"cannot be opened ({error.strerror or error})")
    return ImageCheck(path=path, status="ok", greyscale=mode in GREYSCALE_MODES, size=dims)


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file to a ``uint8`` array of shape (height, width, 3).

    Greyscale, palette and CMYK images are converted to RGB, so every caller sees three
    channels. A missing or undecodable file raises GalaxyLabError naming it.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError as error:
        raise GalaxyLabError(f"{path}: image file not found") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise GalaxyLabError(f"{path}: cannot decode image ({error})") from error
