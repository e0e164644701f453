"""Checksummed, cached downloads of the public real-data files (never needed by the course).

One small declaration per remote file (:class:`RemoteFile`): where it lives, its published
checksum, its approximate size and how to fetch it by hand. :func:`fetch` downloads with pooch
into ``course.data_dir()/"downloads"`` with a progress bar, verifies the checksum, and skips
the download when a verified copy is already there (a cached copy that fails verification is
removed first). pooch streams into a temporary file and only renames it once the checksum
matches; the transfer itself (:class:`_Transfer`) counts bytes against the Content-Length, so
a body cut short is never kept, verified or not, and a server that stops sending is told apart
from one that cannot be reached. Each download works in its own hidden folder
``.fetch-<pid>-<n>`` of the cache, so one left by a killed process is recognised and removed
by the next fetch. A file without a published checksum (the Hart et al. 2016 table) is only
fetched with a hash the user supplies or an explicit ``allow_unverified=True``.

The Kaggle challenge data is not here: it needs the user's own Kaggle account (see
:data:`galaxylab.datasets.kaggle.KAGGLE_INSTRUCTIONS`).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pooch
import requests
import urllib3
from tqdm.auto import tqdm

from galaxylab import course
from galaxylab.datasets.catalog import DataWarning
from galaxylab.errors import GalaxyLabError

CHUNK_BYTES = 1 << 20
#: Bytes read from the network at a time: small enough that a stall is reported to the kB.
STREAM_BYTES = 1 << 14
#: Seconds to wait for a connection, and for each further byte, before giving up.
TIMEOUT_SECONDS = 60
#: The hidden working folders of downloads in progress: ``.fetch-<pid>-<n>``.
STAGING_PREFIX = ".fetch-"
_STAGING = re.compile(re.escape(STAGING_PREFIX) + r"(\d+)-\d+")
_COUNTER = itertools.count()


@dataclass(frozen=True)
class RemoteFile:
    """A public file: name in the cache, URL, checksum ("sha256:…"/"md5:…" or None), size.

    ``size`` is the approximate size in bytes for planning disk space (None when unknown);
    it is not used for verification. ``hash_source`` says where the checksum comes from.
    """

    name: str
    url: str
    known_hash: str | None
    size: int | None
    description: str
    manual: str
    hash_source: str

    @property
    def verified(self) -> bool:
        """True when a published checksum lets :func:`fetch` verify the download."""
        return self.known_hash is not None


GALAXY10 = RemoteFile(
    name="Galaxy10_DECals.h5",
    url="https://zenodo.org/records/10845026/files/Galaxy10_DECals.h5",
    known_hash="sha256:19aefc477c41bb7f77ff07599a6b82a038dc042f889a111b0d4d98bb755c1571",
    size=2_540_000_000,
    description="Galaxy10 DECaLS: 17,736 DECaLS colour images (256x256) in 10 classes "
    "(Leung & Bovy; labels from Galaxy Zoo DECaLS)",
    manual="download Galaxy10_DECals.h5 in a browser from https://zenodo.org/records/10845026 "
    "(mirror: https://astro.utoronto.ca/~hleung/shared/Galaxy10/Galaxy10_DECals.h5)",
    hash_source="SHA256 published with the Galaxy10 DECaLS release (astroNN documentation)",
)

GZ2_IMAGES = RemoteFile(
    name="images_gz2.zip",
    url="https://zenodo.org/records/3565489/files/images_gz2.zip?download=1",
    known_hash="md5:bc647032d31e50c798770cf4430525c7",
    size=None,
    description="Galaxy Zoo 2 subject images, 243,434 SDSS JPEGs named <asset_id>.jpg "
    "(Zenodo record 3565489, the GZ team, 2019)",
    manual="download images_gz2.zip from https://zenodo.org/records/3565489 and unzip its "
    "JPEGs into GZ2_FOLDER/images/",
    hash_source="MD5 listed on Zenodo record 3565489",
)

GZ2_MAPPING = RemoteFile(
    name="gz2_filename_mapping.csv",
    url="https://zenodo.org/records/3565489/files/gz2_filename_mapping.csv?download=1",
    known_hash="md5:7e28465e6dfbf96c0d828c595a5bbd80",
    size=None,
    description="objid, sample, asset_id for 355,990 GZ2 subjects: joins the Hart table to "
    "the image files (Zenodo record 3565489)",
    manual="download gz2_filename_mapping.csv from https://zenodo.org/records/3565489 into "
    "GZ2_FOLDER/",
    hash_source="MD5 of the Zenodo file as quoted by third-party code that checks it; compare "
    "with the checksum on the Zenodo record page",
)

GZ2_HART16 = RemoteFile(
    name="gz2_hart16.csv.gz",
    url="https://gz2hart.s3.amazonaws.com/gz2_hart16.csv.gz",
    known_hash=None,
    size=None,
    description="GZ2 Table 1, normal-depth sample with the new debiasing method "
    "(Hart et al. 2016, MNRAS 461, 3663)",
    manual="download 'GZ2 - Table 1 - Normal-depth sample with new debiasing method - CSV' "
    "from https://data.galaxyzoo.org into GZ2_FOLDER/gz2_hart16.csv.gz",
    hash_source="none published: pass known_hash= from a copy you trust, or allow_unverified=True",
)

REGISTRY: dict[str, RemoteFile] = {
    f.name: f for f in (GALAXY10, GZ2_IMAGES, GZ2_MAPPING, GZ2_HART16)
}


def downloads_dir() -> Path:
    """The download cache, ``course.data_dir()/"downloads"`` (created when missing)."""
    path = course.data_dir() / "downloads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _entry(name: str | RemoteFile) -> RemoteFile:
    if isinstance(name, RemoteFile):
        return name
    if name not in REGISTRY:
        raise GalaxyLabError(f"no remote file called {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def checked_hash(text: str | None, name: str) -> str | None:
    """A checksum as pooch takes it (``"algorithm:hex"``), or GalaxyLabError for a malformed one.

    Checked before anything is downloaded: the algorithm must be one hashlib knows (bare hex
    means sha256, as in pooch) and the digits exactly as many hex digits as it produces.
    """
    if text is None:
        return None
    algorithm, _, digits = text.rpartition(":")
    algorithm = (algorithm or "sha256").lower()
    usage = "expected 'sha256:' and 64 hex digits, or 'md5:' and 32"
    try:
        length = 2 * hashlib.new(algorithm).digest_size
    except (ValueError, TypeError) as error:
        raise GalaxyLabError(
            f"{name}: {text!r} is not a valid checksum: unknown algorithm {algorithm!r}; {usage}"
        ) from error
    if algorithm.startswith("shake") or not re.fullmatch(f"[0-9a-fA-F]{{{length}}}", digits):
        raise GalaxyLabError(
            f"{name}: {text!r} is not a valid checksum: {algorithm} needs {length} hex digits; "
            f"{usage}"
        )
    return f"{algorithm}:{digits.lower()}"


def _size(count: int) -> str:
    """A byte count as people read it: "51 kB", "12.3 MB" (decimal units, like progress bars)."""
    if count < 1_000_000:
        return f"{count / 1000:.0f} kB"
    return f"{count / 1e6:.1f} MB"


class _TransferError(Exception):
    """A transfer that did not deliver the whole file; the text says how far it got."""


class _Transfer:
    """A pooch downloader: streams with requests, counts the bytes against Content-Length.

    A body shorter than announced raises :class:`_TransferError` whatever urllib3 enforces,
    and so does a server that stops sending for TIMEOUT_SECONDS (urllib3 reports that as a
    connection error, which would otherwise read as "offline").
    """

    def __init__(self, progress: bool) -> None:
        self.progress = progress

    def __call__(
        self, url: str, output_file: str, pooch_: object, check_only: bool = False
    ) -> None:
        """Download ``url`` into ``output_file`` (pooch's temporary file)."""
        timeout = (TIMEOUT_SECONDS, TIMEOUT_SECONDS)
        with requests.get(url, stream=True, timeout=timeout) as response:
            response.raise_for_status()
            encoded = response.headers.get("Content-Encoding", "identity") != "identity"
            length = response.headers.get("Content-Length", "")
            expected = int(length) if length.isdigit() and not encoded else None
            received = 0
            with (
                open(output_file, "wb") as out,
                tqdm(
                    total=expected,
                    unit="B",
                    unit_scale=True,
                    ncols=79,
                    leave=True,
                    disable=not self.progress,
                ) as bar,
            ):
                try:
                    for chunk in response.iter_content(chunk_size=STREAM_BYTES):
                        out.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                except requests.exceptions.RequestException as error:
                    raise _TransferError(_stopped(url, error, received, expected)) from error
        if expected is not None and received < expected:
            raise _TransferError(
                f"download from {url} was interrupted before the end of the file "
                f"({_size(received)} of {_size(expected)})"
            )


def _stopped(
    url: str, error: requests.exceptions.RequestException, got: int, total: int | None
) -> str:
    """Why a transfer that had started ended early: a stall, or a connection cut."""
    of = f" of {_size(total)}" if total is not None else ""
    causes = [error, *error.args, error.__cause__, error.__context__]
    if isinstance(error, requests.exceptions.Timeout) or any(
        isinstance(c, urllib3.exceptions.ReadTimeoutError) for c in causes
    ):
        return (
            f"download from {url} stalled: the server stopped sending after {_size(got)}{of} "
            f"(nothing for {TIMEOUT_SECONDS} s); try again"
        )
    return f"download from {url} was interrupted before the end of the file ({_size(got)}{of})"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (where that cannot be told safely: assume it does)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_downloads(folder: Path) -> None:
    """Remove the working folders of downloads whose process is gone (killed mid-transfer)."""
    for staging in folder.glob(STAGING_PREFIX + "*"):
        match = _STAGING.fullmatch(staging.name)
        if match and not _alive(int(match.group(1))):
            shutil.rmtree(staging, ignore_errors=True)


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _discard_unverified_copy(target: Path, expected: str | None) -> str:
    """Remove a cached copy that fails its checksum; the words that say so (or "")."""
    if expected is None or not target.exists() or pooch.hashes.hash_matches(str(target), expected):
        return ""
    target.unlink()
    return f"the cached copy {target} did not match its checksum and was removed"


def _retrieve(entry: RemoteFile, expected: str | None, folder: Path, progress: bool) -> Path:
    """Download into a working folder of this process, verify, move into the cache."""
    staging = folder / f"{STAGING_PREFIX}{os.getpid()}-{next(_COUNTER)}"
    try:
        pooch.retrieve(
            entry.url,
            known_hash=expected,
            fname=entry.name,
            path=staging,
            downloader=_Transfer(progress),
        )
        target = folder / entry.name
        os.chmod(staging / entry.name, 0o666 & ~_umask())  # pooch's temporary file is 0600
        os.replace(staging / entry.name, target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch(
    name: str | RemoteFile,
    *,
    progress: bool = True,
    known_hash: str | None = None,
    allow_unverified: bool = False,
) -> Path:
    """Download a registered file into the cache (once) and return its path.

    Skips the download when a copy with the right checksum is already cached; a cached copy
    with the wrong one is removed first. A malformed checksum is refused before anything is
    downloaded. A checksum mismatch, a transfer cut short or stalled, or no network raise one
    GalaxyLabError that says what was kept and how to get the file by hand; no partial file is
    ever left under the final name. ``known_hash`` overrides the registry's checksum;
    ``allow_unverified`` permits a file with none.
    """
    entry = _entry(name)
    expected = checked_hash(known_hash or entry.known_hash, entry.name)
    folder = downloads_dir()
    target = folder / entry.name
    by_hand = f"Get it by hand: {entry.manual}, then save it as {target}"
    if expected is None and not allow_unverified:
        raise GalaxyLabError(
            f"{entry.name} has no published checksum, so the download cannot be verified; pass "
            f"known_hash='sha256:...' or allow_unverified=True. {by_hand}"
        )
    _remove_stale_downloads(folder)
    removed = _discard_unverified_copy(target, expected)
    if target.exists():
        return target
    kept = f"{removed}; no new copy was kept" if removed else "nothing was kept"
    try:
        path = _retrieve(entry, expected, folder, progress)
    except ValueError as error:
        raise GalaxyLabError(
            f"{entry.name} from {entry.url} does not match its checksum {expected}; the "
            f"download was discarded and {kept} ({' '.join(str(error).split())}). {by_hand}"
        ) from error
    except _TransferError as error:
        raise GalaxyLabError(f"{entry.name}: {error}; {kept}. {by_hand}") from error
    except requests.exceptions.ConnectionError as error:
        host = urlparse(entry.url).netloc
        raise GalaxyLabError(
            f"{entry.name}: download could not reach {host} (offline?); {kept}. {by_hand}"
        ) from error
    except requests.exceptions.Timeout as error:
        host = urlparse(entry.url).netloc
        raise GalaxyLabError(
            f"{entry.name}: {host} accepted the connection but sent no reply within "
            f"{TIMEOUT_SECONDS} s; try again later; {kept}. {by_hand}"
        ) from error
    except requests.exceptions.RequestException as error:
        raise GalaxyLabError(
            f"{entry.name}: download from {entry.url} failed "
            f"({type(error).__name__}: {error}); {kept}. {by_hand}"
        ) from error
    if expected is None:
        warnings.warn(
            f"{entry.name} was downloaded without checksum verification; its sha256 "
            f"is {_sha256(path)}",
            DataWarning,
            stacklevel=2,
        )
    return path
