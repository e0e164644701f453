"""The class-folder layout ``ROOT/<class name>/*.jpg|jpeg|png``, as Keras reads it.

Like ``keras.utils.image_dataset_from_directory``, every sub-folder of ROOT is a class, class
names are sorted, and images are found at any depth inside a class folder. Hidden folders
(``.ipynb_checkpoints``, ``.git``) are skipped. A catalog row's ``id`` is the image's path
relative to ROOT; the label columns are all NaN and ``class_name`` holds the folder name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

from galaxylab.datasets import catalog as cat
from galaxylab.errors import GalaxyLabError
from galaxylab.images import IMAGE_EXTENSIONS


def _unreadable(error: OSError) -> NoReturn:
    """os.walk's error hook: a folder that cannot be listed is one clear error, not a gap."""
    where = error.filename or "a folder"
    raise GalaxyLabError(f"{where}: cannot be read ({error.strerror or error})") from error


def class_names(root: Path) -> list[str]:
    """The class folders of ``root`` in sorted order (hidden folders skipped)."""
    try:
        with os.scandir(root) as entries:
            return sorted(
                entry.name for entry in entries if entry.is_dir() and not entry.name.startswith(".")
            )
    except OSError as error:
        raise GalaxyLabError(f"{root}: cannot be read ({error.strerror or error})") from error


def image_files(folder: Path) -> list[Path]:
    """Image files (by extension) anywhere under ``folder``, in a deterministic sorted order.

    A folder inside it that cannot be listed raises GalaxyLabError (os.walk would skip it).
    """
    found: list[Path] = []
    for parent, dirs, files in os.walk(folder, onerror=_unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            Path(parent) / f
            for f in sorted(files)
            if Path(f).suffix.lower() in IMAGE_EXTENSIONS and not f.startswith(".")
        )
    return found


def scan(root: Path, *, check_images: bool = True) -> cat.Scan:
    """Read and check a class-folder layout; raises GalaxyLabError when it holds no images."""
    paths: list[Path] = []
    names: list[str] = []
    classes = class_names(root)
    for name in classes:
        files = image_files(root / name)
        paths.extend(files)
        names.extend([name] * len(files))
    if not paths:
        raise GalaxyLabError(
            f"{root}: no .jpg/.jpeg/.png images in its class folders ({', '.join(classes)})"
        )
    ids = [p.relative_to(root).as_posix() for p in paths]
    catalog = cat.make_catalog(
        ids, paths, None, source="folders", root=root, extra={"class_name": names}
    )
    refs = cat.RowRefs(None, None, [f"class {n}" for n in names])
    problems, greyscale = cat.image_problems(catalog, refs, check_images=check_images)
    return cat.Scan(catalog, problems, greyscale)
