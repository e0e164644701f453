"""Rebuilding the built-in samples from their original cutouts (for maintainers):

    python -m galaxylab.datasets.builtin --gz1 DIR --kaggle DIR [--out galaxylab/samples]

Each image keeps the central :data:`STORED_SIDE` pixels of its cutout at native resolution (the
pipeline crops the central 207 of 424 px and its shifts need a margin), re-encoded as a baseline
JPEG with 4:2:0 chroma and no metadata; the label table is copied byte for byte. SAMPLE.json
records the sizes, the quality, ``frame_fraction`` and every file's sha256
(:mod:`galaxylab.datasets.samples` reads it). The same inputs give byte-identical output.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from galaxylab.datasets import gz1, kaggle
from galaxylab.datasets.samples import BUILTIN_SOURCES, SAMPLE_JSON, SAMPLES_DIR, file_sha256
from galaxylab.errors import GalaxyLabError

#: Pixels per side a stored image keeps from the centre of its cutout.
STORED_SIDE = 256
#: JPEG quality of the shipped samples: the best of 85 / 90 / 95 that keeps both together
#: under about 20 MB (the sizes are in CREDITS.md).
DEFAULT_QUALITY = 85
#: PIL's code for 4:2:0 chroma subsampling.
SUBSAMPLING_420 = 2


@dataclass(frozen=True)
class Layout:
    """Where a sample's table and images live, and which column names each image."""

    table: str
    images_dir: str
    image_column: str

    def image_file(self, name: str) -> str:
        """The path of an image inside the sample, relative and with / separators."""
        file = gz1.image_name(name) if self.images_dir == gz1.IMAGES_DIR else f"{name}.jpg"
        return f"{self.images_dir}/{file}"


LAYOUTS: dict[str, Layout] = {
    "gz1-desi": Layout("gz1_desi_votes.csv", gz1.IMAGES_DIR, "dr8_id"),
    "kaggle-sample": Layout(kaggle.LABELS_CSV, kaggle.IMAGES_DIR, "GalaxyID"),
}


def compact_jpeg(
    path: Path, quality: int, side: int = STORED_SIDE
) -> tuple[bytes, tuple[int, int]]:
    """The central ``side`` x ``side`` pixels of an image as JPEG bytes, and its original size."""
    try:
        with Image.open(path) as image:
            size = image.size
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as error:
        raise GalaxyLabError(f"{path}: cannot be read as an image ({error})") from error
    width, height = size
    if width < side or height < side:
        raise GalaxyLabError(f"{path}: is {width}x{height} px, smaller than {side} px a side")
    top, left = (height - side) // 2, (width - side) // 2
    crop = Image.fromarray(np.ascontiguousarray(pixels[top : top + side, left : left + side]))
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=quality, subsampling=SUBSAMPLING_420, optimize=True)
    return buffer.getvalue(), size


def _image_names(table: Path, column: str) -> list[str]:
    header = pd.read_csv(table, nrows=0).columns
    if column not in header:
        raise GalaxyLabError(f"{table}: no {column} column naming the images")
    names = pd.read_csv(table, usecols=[column], dtype=str)[column].str.strip()
    if names.isna().any() or names.duplicated().any():
        raise GalaxyLabError(f"{table}: {column} has empty or repeated image names")
    return names.tolist()


def _replace(work: Path, out: Path) -> None:
    """Move the finished ``work`` folder to ``out``, replacing an older sample there."""
    if out.exists():
        if not (out / SAMPLE_JSON).is_file():
            raise GalaxyLabError(
                f"{out}: exists but holds no {SAMPLE_JSON}; refusing to replace it"
            )
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(work, out)
        shutil.rmtree(old)
    else:
        os.replace(work, out)


def write_compact_sample(
    original: Path, out: Path, name: str, quality: int = DEFAULT_QUALITY
) -> Path:
    """Write the built-in sample ``name`` to the folder ``out`` from its ``original`` folder
    (table + full-size cutouts, all of one square size); returns ``out``.

    The folder is written beside ``out`` and renamed into place, so it is never half-written.
    """
    if name not in LAYOUTS:
        raise GalaxyLabError(
            f"unknown built-in sample {name!r}; choose one of {', '.join(LAYOUTS)}"
        )
    if not 1 <= quality <= 100:
        raise GalaxyLabError(f"JPEG quality must be in 1..100, got {quality}")
    layout = LAYOUTS[name]
    original, out = Path(original), Path(out)
    table = original / layout.table
    if not table.is_file():
        raise GalaxyLabError(f"{original}: no {layout.table}")
    images = [layout.image_file(n) for n in _image_names(table, layout.image_column)]
    for relative in images:
        if Path(relative).suffix.lower() not in (".jpg", ".jpeg"):
            raise GalaxyLabError(f"{table}: {relative} is not a JPEG name; samples store JPEGs")
    work = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    (work / layout.images_dir).mkdir(parents=True)
    try:
        shutil.copyfile(table, work / layout.table)
        sizes = set()
        for relative in images:
            data, size = compact_jpeg(original / relative, quality)
            sizes.add(size)
            (work / relative).write_bytes(data)
        (width, height), *others = sorted(sizes)
        if others or width != height:
            raise GalaxyLabError(
                f"{original}: the images must all be square and of one size, found "
                f"{', '.join(f'{w}x{h}' for w, h in sorted(sizes))}"
            )
        side = width
        files = [layout.table, *sorted(images)]
        meta = {
            "name": name,
            "description": BUILTIN_SOURCES[name],
            "frame_fraction": STORED_SIDE / side,
            "original_size": [side, side],
            "stored_size": [STORED_SIDE, STORED_SIDE],
            "jpeg_quality": quality,
            "jpeg_subsampling": "4:2:0",
            "credits": "CREDITS.md in the samples folder",
            "files": {f: file_sha256(work / f) for f in files},
        }
        text = json.dumps(meta, indent=1) + "\n"
        (work / SAMPLE_JSON).write_text(text, encoding="utf-8", newline="\n")
        _replace(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Rebuild the samples given on the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m galaxylab.datasets.builtin",
        description="Rebuild galaxylab's built-in samples from the original cutouts.",
    )
    parser.add_argument("--gz1", type=Path, help="original gz1-desi folder (table + images/)")
    parser.add_argument("--kaggle", type=Path, help="original kaggle-sample folder")
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="samples folder")
    parser.add_argument("--quality", type=int, default=DEFAULT_QUALITY, help="JPEG quality")
    args = parser.parse_args(argv)
    chosen = {"gz1-desi": args.gz1, "kaggle-sample": args.kaggle}
    if not any(chosen.values()):
        parser.error("give --gz1 DIR and/or --kaggle DIR")
    try:
        for name, original in chosen.items():
            if original is not None:
                out = write_compact_sample(original, args.out / name, name, args.quality)
                total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
                print(f"{name}: wrote {out} ({total / 1e6:.2f} MB)", file=sys.stderr)
    except GalaxyLabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
