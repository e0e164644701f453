"""The Kaggle "Galaxy Zoo - The Galaxy Challenge" layout (also what galaxylab.simulate writes).

``ROOT/training_solutions_rev1.csv`` holds ``GalaxyID`` and any subset of the 37 label columns;
``ROOT/images_training_rev1/<GalaxyID>.jpg`` holds the 424x424 colour images. A column the
table lacks is unknown (NaN in the catalog), never zero.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from galaxylab.datasets import catalog as cat
from galaxylab.errors import GalaxyLabError
from galaxylab.images import IMAGE_EXTENSIONS, SUSPECT_NAME, list_folder, plain_name_problem
from galaxylab.tree import ID_COLUMN

LABELS_CSV = "training_solutions_rev1.csv"
IMAGES_DIR = "images_training_rev1"
#: The synthetic universe writes its true parameters beside the labels (galaxylab.simulate).
TRUTH_CSV = "truth.csv"

#: How to get the real challenge data: it cannot be downloaded without the user's own account.
KAGGLE_INSTRUCTIONS = """\
The Galaxy Zoo challenge files need your own Kaggle account; galaxylab never logs in for you.
1. Sign in at https://www.kaggle.com and open the competition
   https://www.kaggle.com/c/galaxy-zoo-the-galaxy-challenge ; on its Rules tab accept the rules.
2. Download images_training_rev1.zip and training_solutions_rev1.zip from the Data tab, or with
   the kaggle command-line tool (pip install kaggle; put your API token in ~/.kaggle/kaggle.json):
       kaggle competitions download -c galaxy-zoo-the-galaxy-challenge \\
           -f images_training_rev1.zip
       kaggle competitions download -c galaxy-zoo-the-galaxy-challenge \\
           -f training_solutions_rev1.zip
3. Unzip both into one folder, so that it holds training_solutions_rev1.csv and
   images_training_rev1/<GalaxyID>.jpg (61,578 images, about 2 GB unpacked).
4. Use that folder as the data source: datasets.load(FOLDER) or galaxylab inspect --data FOLDER.
"""


def check_file_names(ids: list[str], table_path: Path, lines: np.ndarray) -> None:
    """Raise for the first id that is empty or no plain file name (it names ``<id>.jpg``).

    An id such as ``../../x`` or ``/etc/passwd`` would read a file outside the images folder.
    """
    names = pd.Series(ids, dtype=str)
    blank = np.flatnonzero((names == "").to_numpy())
    if blank.size:
        raise GalaxyLabError(f"{table_path} line {lines[blank[0]]}: empty {ID_COLUMN}")
    for i in np.flatnonzero(names.str.contains(SUSPECT_NAME).to_numpy()):
        problem = plain_name_problem(ids[i])
        if problem is not None:
            raise GalaxyLabError(
                f"{table_path} line {lines[i]}: {ID_COLUMN} {ids[i]!r} is not a plain file name "
                f"({problem})"
            )


def scan(root: Path, *, check_images: bool = True) -> cat.Scan:
    """Read and check a Kaggle-layout folder; structural problems raise GalaxyLabError."""
    table_path = root / LABELS_CSV
    header = cat.read_header(table_path)
    label_columns = cat.check_label_header(header, table_path, ID_COLUMN)
    raw = cat.read_table(table_path)
    images_dir = root / IMAGES_DIR
    if not images_dir.is_dir():
        raise GalaxyLabError(f"{root}: no {IMAGES_DIR}/ folder beside {LABELS_CSV}")
    on_disk = list_folder(images_dir)

    ids = raw[ID_COLUMN].fillna("").str.strip().tolist()
    lines = np.arange(len(raw)) + 2  # line 1 is the header
    check_file_names(ids, table_path, lines)
    cat.check_unique_ids(ids, table_path, lines, ID_COLUMN)

    refs = cat.RowRefs(table_path, lines, [f"{ID_COLUMN} {i}" for i in ids])
    values, problems = cat.value_problems(raw[label_columns], refs)
    problems += cat.tree_problems(values, refs)
    catalog = cat.make_catalog(
        ids, [images_dir / f"{i}.jpg" for i in ids], values, source="kaggle", root=root
    )
    image_problems, greyscale = cat.image_problems(catalog, refs, check_images=check_images)
    known = set(ids)
    extra = sorted(
        str(images_dir / name)
        for name in on_disk
        if Path(name).suffix.lower() in IMAGE_EXTENSIONS and Path(name).stem not in known
    )
    return cat.Scan(catalog, image_problems + problems, greyscale, extra, str(images_dir))
