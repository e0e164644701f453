"""Reading and validating galaxy image files (JPEG and PNG) with PIL.

A sound header says nothing about the pixels behind it, so :func:`check_image` decodes every
file completely. libjpeg also recovers silently from damaged compressed data (PIL never shows
its "Corrupt JPEG data" warnings), so a JPEG is decoded twice more, with its compressed data
followed by filler and cut one byte short: a sound scan ignores the filler and cannot finish
without its last byte (see :func:`_jpeg_data_problem`). Only regular files are opened (a FIFO
named ``x.jpg`` would block forever), and a header that claims more than :data:`MAX_PIXELS`
is refused before anything is decoded.

:func:`check_images` checks many files in threads (PIL releases the GIL while it decodes) and
remembers each result in the on-disk cache of :mod:`galaxylab.checkcache`. :func:`read_rgb`
is the decode to 8-bit RGB that the course's pipeline feeds the networks.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

import numpy as np
from PIL import Image, ImageFile

from galaxylab import checkcache
from galaxylab.errors import GalaxyLabError

#: File extensions read as images (lower case), and the format each one promises.
EXTENSION_FORMAT: dict[str, str] = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}
IMAGE_EXTENSIONS: frozenset[str] = frozenset(EXTENSION_FORMAT)

#: PIL modes with a single intensity channel (converted to RGB by :func:`read_rgb`).
GREYSCALE_MODES: frozenset[str] = frozenset({"1", "L", "LA", "I", "I;16", "F"})

#: The most pixels galaxylab decodes in one image (4096 x 4096). Galaxy cutouts are a few
#: hundred pixels on a side (424 in the Kaggle challenge, 256 in Galaxy10), so a header that
#: claims more is a mistake or a decompression bomb, refused before it costs any memory.
MAX_PIXELS = 4096 * 4096
#: The largest image file galaxylab reads: a 4096 x 4096 RGB image is 48 MiB even uncompressed.
MAX_FILE_BYTES = 64 * 2**20

#: Bump when the checks change, so results cached by an older galaxylab are not trusted.
CHECK_VERSION = 2
_CACHE_KIND = f"image-check-v{CHECK_VERSION}"

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

# JPEG markers (the byte after 0xFF) with no length field: TEM and the restart markers RST0-7.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_RESTARTS = frozenset(range(0xD0, 0xD8))
# Frames coded arithmetically: their decoder may read past a scan's end, so no probes.
_ARITHMETIC_FRAMES = frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# A marker inside compressed data: 0xFF (after optional 0xFF fill) not followed by a stuffed 0.
_NEXT_MARKER = re.compile(rb"\xff+[^\x00\xff]")
# Inserted where compressed data ends: no 0xFF, so it can never look like a marker.
_FILLER = b"\x5a\xa5" * 32

#: A quick test for names that may not be plain file names (:func:`plain_name_problem` decides).
SUSPECT_NAME = re.compile(r"[/\\\x00:]|^\.{1,2}$")


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
        """True when the file is present and decodes completely."""
        return self.status == "ok"


class _Refused(Exception):
    """Why a file is not a readable image (the text of ImageCheck.problem)."""


def sniff_format(head: bytes) -> str | None:
    """The image format announced by a file's first bytes (``"JPEG"``, ``"PNG"``, …), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    return None


def plain_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a file name inside a folder (a path, '..', a NUL), or None.

    Ids from a table become file names, so ``../../x`` or ``/etc/passwd`` would read files
    outside the data folder.
    """
    if "\x00" in name:
        return "contains a NUL character"
    if name in (".", ".."):
        return f"is {name!r}"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if ":" in name and PureWindowsPath(name).drive:
        return "starts with a drive (an absolute path)"
    return None


def list_folder(folder: str | os.PathLike[str]) -> list[str]:
    """The names in ``folder``; a folder that cannot be listed raises one GalaxyLabError."""
    try:
        return os.listdir(folder)
    except OSError as error:
        raise GalaxyLabError(f"{folder}: cannot be read ({error.strerror or error})") from error


def file_kind(mode: int) -> str | None:
    """What a file of this ``st_mode`` is when it is not a regular file ("a FIFO …"), or None."""
    if stat.S_ISREG(mode):
        return None
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _require_regular(mode: int) -> None:
    kind = file_kind(mode)
    if kind == "a folder":
        raise _Refused("is a folder, not an image file")
    if kind is not None:
        raise _Refused(f"is {kind}, not a regular file")


def _unreadable(path: Path, problem: str) -> ImageCheck:
    return ImageCheck(path=path, status="unreadable", problem=problem)


def _failure(path: Path, error: OSError | ValueError | _Refused) -> ImageCheck:
    """The check of a file whose reading raised ``error``: missing, refused or unopenable."""
    if isinstance(error, FileNotFoundError):
        return ImageCheck(path=path, status="missing", problem="file not found")
    if isinstance(error, _Refused):
        return _unreadable(path, str(error))
    return _unreadable(path, f"cannot be opened ({getattr(error, 'strerror', None) or error})")


def locate_image(path: str | os.PathLike[str]) -> ImageCheck:
    """Whether ``path`` is an existing regular file, without reading it (the quick check)."""
    path = Path(path)
    try:
        _require_regular(os.stat(path).st_mode)
    except (OSError, ValueError, _Refused) as error:
        return _failure(path, error)
    return ImageCheck(path=path, status="ok")


def _read_file(path: Path) -> bytes:
    """The bytes of a regular file; anything else (FIFO, device, folder, huge) is refused.

    The file is opened non-blocking and checked again once open, so a FIFO swapped in after
    the first check cannot block either.
    """
    _require_regular(os.stat(path).st_mode)
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        _require_regular(info.st_mode)
        if info.st_size == 0:
            raise _Refused("empty file (0 bytes)")
        if info.st_size > MAX_FILE_BYTES:
            raise _Refused(
                f"is {info.st_size / 2**20:.0f} MiB, more than galaxylab reads for one image "
                f"({MAX_FILE_BYTES // 2**20} MiB)"
            )
        return handle.read(MAX_FILE_BYTES + 1)


def _format(path: Path, data: bytes) -> str:
    """The format ``data`` holds, checked against the extension and for a missing ending."""
    found = sniff_format(data[:16])
    if found is None:
        raise _Refused(f"not an image file (starts with {data[:8]!r})")
    expected = EXTENSION_FORMAT.get(path.suffix.lower())
    if expected is not None and found != expected:
        raise _Refused(f"is a {found} file named {path.suffix}")
    # Searched anywhere, not only at the end: some encoders append data after the image.
    if found == "JPEG" and _JPEG_EOI not in data:
        raise _Refused("truncated JPEG (no end-of-image marker)")
    if found == "PNG" and _PNG_IEND not in data:
        raise _Refused("truncated PNG (no IEND chunk)")
    return found


def _open(data: bytes, fmt: str) -> ImageFile.ImageFile:
    """``data`` opened (header only) by PIL's plugin for ``fmt``, refusing more than MAX_PIXELS.

    This is what ``Image.open`` does, minus PIL's process-wide bomb check
    (``Image.MAX_IMAGE_PIXELS``, far above any galaxy), so the stricter limit here can name
    the size the header claims.
    """
    if fmt not in Image.OPEN:
        Image.init()
    factory, _ = Image.OPEN[fmt]
    try:
        image = factory(io.BytesIO(data), "")
    except Exception as error:  # a hostile header can make a plugin raise anything
        raise _Refused(f"{fmt} header cannot be read ({_flat(error)})") from error
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise _Refused(
            f"claims {width}x{height} pixels, more than galaxylab reads ({MAX_PIXELS:,} pixels; "
            "galaxy cutouts are a few hundred pixels on a side)"
        )
    return image


def _flat(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _pixels(data: bytes, fmt: str) -> tuple[str, tuple[int, int], bytes]:
    """Decode ``data`` completely: its mode, size and raw pixels."""
    with _open(data, fmt) as image:
        try:
            image.load()
            return image.mode, image.size, image.tobytes()
        except Exception as error:  # decoders signal damage with OSError, SyntaxError, …
            text = _flat(error)
            if "truncated" in text:
                raise _Refused(f"truncated {fmt} (the data ends before the image does)") from error
            raise _Refused(f"cannot be decoded as {fmt} ({text})") from error


def _scan_ends(data: bytes) -> list[int]:
    """Offsets of the markers that end compressed (entropy-coded) data in a JPEG, in order.

    Walks the marker segments (each gives its length); after a start-of-scan the compressed
    data runs to the next marker that is not a stuffed 0xFF00, and restart markers end a
    stretch of it too. Returns [] when the end-of-image marker is not reached or the frame is
    arithmetic-coded: then only the full decode judges the file.
    """
    ends: list[int] = []
    at = 2
    while at + 2 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == 0xD9:
            return ends
        if marker in _ARITHMETIC_FRAMES:
            return []
        if marker in _STANDALONE:
            at += 2
            continue
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        if marker != 0xDA:
            continue
        found = _NEXT_MARKER.search(data, at)
        while found is not None and data[found.end() - 1] in _RESTARTS:
            ends.append(found.start())
            found = _NEXT_MARKER.search(data, found.end())
        if found is None:
            return []
        ends.append(found.start())
        at = found.end() - 2
    return []


def _with_filler(data: bytes, ends: list[int]) -> bytes:
    parts, last = [], 0
    for end in ends:
        parts += [data[last:end], _FILLER]
        last = end
    return b"".join([*parts, data[last:]])


def _finishes_without_last_byte(data: bytes, end: int) -> bool:
    """True when the image decodes completely from ``data`` cut one byte before ``end``.

    With no marker in sight libjpeg suspends for more data instead of padding with zeros, so
    a sound scan, whose last byte always holds bits of its last code, cannot finish.
    """
    parser = ImageFile.Parser()
    try:
        parser.feed(data[: end - 1])
        parser.close()
    except Exception:  # "image was incomplete": the last byte was needed, as it should be
        return False
    return True


def _jpeg_data_problem(data: bytes, pixels: bytes) -> str | None:
    """What libjpeg would call "Corrupt JPEG data" in ``data``, found with PIL alone, or None.

    A damaged scan either runs past its end (libjpeg pads it with zeros: "premature end of
    data segment"), so filler after it changes the pixels, or stops before its end
    ("extraneous bytes before marker"), so it decodes without its last byte.
    """
    ends = _scan_ends(data)
    if not ends:
        return None
    try:
        _, _, filled = _pixels(_with_filler(data, ends), "JPEG")
    except _Refused:
        filled = b""
    if filled != pixels:
        return "corrupt JPEG data (the compressed pixels run out before the image ends)"
    if _finishes_without_last_byte(data, ends[-1]):
        return "corrupt JPEG data (the compressed pixels end early, before junk bytes)"
    return None


def check_image(path: str | os.PathLike[str]) -> ImageCheck:
    """Check that ``path`` is a regular file holding a complete, decodable image.

    Detects a missing, empty or non-regular file, a file that is no image at all, a PNG named
    ``.jpg`` (and the reverse), a truncated file, a header claiming more than MAX_PIXELS, data
    PIL cannot decode, and the damaged JPEG data libjpeg would only warn about. Bytes after a
    JPEG's end-of-image marker are accepted when the image itself decodes.
    """
    path = Path(path)
    try:
        data = _read_file(path)
        fmt = _format(path, data)
        mode, size, pixels = _pixels(data, fmt)
        problem = _jpeg_data_problem(data, pixels) if fmt == "JPEG" else None
    except (OSError, ValueError, _Refused) as error:
        return _failure(path, error)
    if problem is not None:
        return _unreadable(path, problem)
    return ImageCheck(path=path, status="ok", greyscale=mode in GREYSCALE_MODES, size=size)


def _payload(result: ImageCheck) -> str:
    return json.dumps([result.status, result.problem, result.greyscale, result.size])


def _from_payload(path: Path, payload: str) -> ImageCheck | None:
    try:
        status, problem, greyscale, size = json.loads(payload)
        return ImageCheck(path, status, problem, bool(greyscale), tuple(size) if size else None)
    except (ValueError, TypeError):
        return None


def _workers() -> int:
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, len(cores) if cores else (os.cpu_count() or 1))


def check_images(
    paths: Sequence[str | os.PathLike[str]], *, workers: int | None = None
) -> list[ImageCheck]:
    """:func:`check_image` for every path, in order: decoded in threads and cached on disk.

    A result is remembered under the file's absolute path and stamp and reused while the file
    is unchanged (:mod:`galaxylab.checkcache`), so checking the same source again is fast.
    ``workers`` defaults to the number of usable cores.
    """
    files = [Path(p) for p in paths]
    keys = [str(p.absolute()) for p in files]
    stamps = [checkcache.stamp(p) for p in files]
    known = checkcache.lookup(
        _CACHE_KIND, [(k, s) for k, s in zip(keys, stamps, strict=True) if s is not None]
    )
    results: list[ImageCheck | None] = [
        _from_payload(f, known[k]) if k in known else None for f, k in zip(files, keys, strict=True)
    ]
    todo = [i for i, result in enumerate(results) if result is None]
    threads = min(workers or _workers(), len(todo))
    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            fresh = list(pool.map(check_image, [files[i] for i in todo]))
    else:
        fresh = [check_image(files[i]) for i in todo]
    remembered = []
    for i, result in zip(todo, fresh, strict=True):
        results[i] = result
        stamp = stamps[i]
        if stamp is not None and result.status != "missing":
            remembered.append((keys[i], stamp, _payload(result)))
    checkcache.store(_CACHE_KIND, remembered)
    return [r for r in results if r is not None]


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file to a ``uint8`` array of shape (height, width, 3).

    Greyscale, palette and CMYK images are converted to RGB, so every caller sees three
    channels. A missing, non-regular, oversized or undecodable file raises GalaxyLabError
    naming it.
    """
    path = Path(path)
    try:
        data = _read_file(path)
        fmt = sniff_format(data[:16])
        if fmt is None:
            raise _Refused(f"not an image file (starts with {data[:8]!r})")
        with _open(data, fmt) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError as error:
        raise GalaxyLabError(f"{path}: image file not found") from error
    except _Refused as refusal:
        raise GalaxyLabError(f"{path}: {refusal}") from refusal
    except Exception as error:  # a damaged file can make a decoder raise anything
        raise GalaxyLabError(f"{path}: cannot decode image ({_flat(error)})") from error
