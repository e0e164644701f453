"""Checksummed, cached downloads of the public real-data files (never needed by the course).

One small declaration per remote file (:class:`RemoteFile`): where it lives, its published
checksum, its approximate size and how to fetch it by hand. :func:`fetch` downloads with pooch
into ``course.data_dir()/"downloads"`` with a progress bar, verifies the checksum, and skips
the download when a verified copy is already there. pooch streams into a temporary file and
only renames it once the checksum matches, so an interrupted or corrupted download never
leaves a file that looks complete. A file without a published checksum (the Hart et al. 2016
table) is only fetched with a hash the user supplies or an explicit ``allow_unverified=True``.

The Kaggle challenge data is not here: it needs the user's own Kaggle account (see
:data:`galaxylab.datasets.kaggle.KAGGLE_INSTRUCTIONS`).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pooch
import requests

from galaxylab import course
from galaxylab.datasets.catalog import DataWarning
from galaxylab.errors import GalaxyLabError

CHUNK_BYTES = 1 << 20
TIMEOUT_SECONDS = 60


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


def fetch(
    name: str | RemoteFile,
    *,
    progress: bool = True,
    known_hash: str | None = None,
    allow_unverified: bool = False,
) -> Path:
    """Download a registered file into the cache (once) and return its path.

    Skips the download when a copy with the right checksum is already cached. A checksum
    mismatch, an interrupted transfer or no network raise one GalaxyLabError that says how to
    get the file by hand; no partial file is left under the final name. ``known_hash``
    overrides the registry's checksum; ``allow_unverified`` permits a file with none.
    """
    entry = _entry(name)
    expected = known_hash or entry.known_hash
    folder = downloads_dir()
    target = folder / entry.name
    by_hand = f"Get it by hand: {entry.manual}, then save it as {target}"
    if expected is None and not allow_unverified:
        raise GalaxyLabError(
            f"{entry.name} has no published checksum, so the download cannot be verified; pass "
            f"known_hash='sha256:...' or allow_unverified=True. {by_hand}"
        )
    existed = target.exists()
    downloader = pooch.HTTPDownloader(
        progressbar=progress, chunk_size=CHUNK_BYTES, timeout=TIMEOUT_SECONDS
    )
    try:
        path = pooch.retrieve(
            entry.url,
            known_hash=expected,
            fname=entry.name,
            path=folder,
            downloader=downloader,
            progressbar=progress,
        )
    except ValueError as error:
        raise GalaxyLabError(
            f"{entry.name} from {entry.url} does not match its checksum {expected}; the "
            f"download was discarded ({' '.join(str(error).split())}). {by_hand}"
        ) from error
    except requests.exceptions.ChunkedEncodingError as error:
        raise GalaxyLabError(
            f"{entry.name}: download from {entry.url} was interrupted before "
            f"the end of the file; nothing was kept. {by_hand}"
        ) from error
    except requests.exceptions.ConnectionError as error:
        host = urlparse(entry.url).netloc
        raise GalaxyLabError(
            f"{entry.name}: download could not reach {host} (offline?); nothing was kept. {by_hand}"
        ) from error
    except requests.exceptions.RequestException as error:
        raise GalaxyLabError(
            f"{entry.name}: download from {entry.url} failed "
            f"({type(error).__name__}: {error}); nothing was kept. "
            f"{by_hand}"
        ) from error
    if expected is None and not existed:
        warnings.warn(
            f"{entry.name} was downloaded without checksum verification; its sha256 "
            f"is {_sha256(Path(path))}",
            DataWarning,
            stacklevel=2,
        )
    return Path(path)
