"""Hostile data, through the Python API and the command line: every case must end in one line.

Each case is built in tmp_path (from the 6-galaxy Kaggle folder of ``test_bad_input`` or a
tiny Galaxy10 file): images whose header is fine but whose pixels are not, decompression
bombs, FIFOs, unreadable folders, ragged or mis-separated CSVs, ids that are paths, broken
.h5 structure, an unusable GALAXYLAB_DATA, and NaN scores that must not look like a uniform
crowd. Row problems must be reported by ``inspect`` and dropped by ``on_bad="drop"``;
structural ones end the command with status 2 and exactly one stderr line, no traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_bad_input import FIRST_ID, N, image, make_kaggle, run_inspect, write_jpeg
from unprivileged import call_unprivileged, open_folder

from galaxylab import cli, course, datasets, images, metrics, tree
from galaxylab.datasets.kaggle import IMAGES_DIR, LABELS_CSV
from galaxylab.errors import GalaxyLabError

BAD_ID = FIRST_ID + 1  # the galaxy every row case breaks (line 3 of the table)


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own data folder, so the image-check cache starts empty."""
    folder = tmp_path / "gl-data"
    monkeypatch.setenv("GALAXYLAB_DATA", str(folder))
    return folder


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return make_kaggle(tmp_path / "good")


# --- JPEG surgery: the segments of a JPEG PIL wrote -------------------------------------------


def noisy_jpeg_bytes(size: int = 64, seed: int = 0) -> bytes:
    """A baseline JPEG big enough that its scan data can be damaged in the middle."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def segment(data: bytes, marker: int) -> int:
    """The offset of the first segment with this marker (PIL writes no thumbnails)."""
    return data.index(bytes([0xFF, marker]))


def scan_start(data: bytes) -> int:
    sos = segment(data, 0xDA)
    return sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")


def bad_quant_table(data: bytes) -> bytes:
    """The first component asks for quantisation table 3, which the file never defines."""
    out = bytearray(data)
    out[segment(data, 0xC0) + 4 + 6 + 2] = 3  # length, precision, height, width, count, id, hv
    return bytes(out)


def bad_huffman_table(data: bytes) -> bytes:
    """The first Huffman table claims 200 codes of 16 bits (more than a 16-bit code space)."""
    out = bytearray(data)
    at = segment(data, 0xC4) + 5
    out[at : at + 16] = bytes([0] * 15 + [200])
    return bytes(out)


def cut_scan(data: bytes) -> bytes:
    """300 bytes cut from the middle of the compressed pixels (libjpeg: 'Corrupt JPEG data')."""
    start = scan_start(data)
    middle = (start + len(data)) // 2
    return data[:middle] + data[middle + 300 :]


def zeroed_scan(data: bytes) -> bytes:
    """50 bytes of the compressed pixels overwritten with zeros."""
    start = scan_start(data)
    out = bytearray(data)
    out[start + 400 : start + 450] = bytes(50)
    return bytes(out)


def bomb(data: bytes) -> bytes:
    """A valid JPEG whose header claims 60000x60000 pixels."""
    out = bytearray(data)
    at = segment(data, 0xC0) + 5
    out[at : at + 4] = (60000).to_bytes(2, "big") * 2
    return bytes(out)


def replace_image(root: Path, change: Callable[[bytes], bytes]) -> Path:
    image(root).write_bytes(change(noisy_jpeg_bytes()))
    return root


DECODE_CASES = [
    (bad_quant_table, "cannot be decoded"),
    (bad_huffman_table, "cannot be decoded"),
    (cut_scan, "corrupt JPEG data"),
    (zeroed_scan, "corrupt JPEG data"),
    (bomb, "claims 60000x60000 pixels, more than galaxylab reads"),
]
DECODE_IDS = [case.__name__ for case, _ in DECODE_CASES]


# --- items 1 and 2: validation decodes every image, and refuses bombs -------------------------


@pytest.mark.parametrize(("change", "words"), DECODE_CASES, ids=DECODE_IDS)
def test_undecodable_image_is_a_row_problem(good: Path, change: Callable, words: str) -> None:
    replace_image(good, change)
    with pytest.raises(GalaxyLabError) as caught:
        datasets.load(good)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{BAD_ID}.jpg (GalaxyID {BAD_ID})" in message and words in message
    with pytest.warns(datasets.DataWarning, match=f"dropped 1 of {N} rows"):
        kept = datasets.load(good, on_bad="drop")
    assert str(BAD_ID) not in set(kept["id"])


@pytest.mark.parametrize(("change", "words"), DECODE_CASES, ids=DECODE_IDS)
def test_undecodable_image_is_reported_by_inspect(good: Path, change: Callable, words: str) -> None:
    result = run_inspect(replace_image(good, change))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Corrupt JPEG" not in result.stderr
    health = json.loads(result.stdout)
    assert health["unreadable_images"] == 1 and health["rows_with_problems"] == 1
    assert f"{BAD_ID}.jpg" in health["problems"][0] and words in health["problems"][0]


def test_a_bomb_is_refused_when_read_too(good: Path) -> None:
    replace_image(good, bomb)
    with pytest.raises(GalaxyLabError, match=rf"{BAD_ID}\.jpg.*claims 60000x60000 pixels"):
        images.read_rgb(image(good))


def test_check_image_names_the_pixel_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("L", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = (60000).to_bytes(4, "big") * 2  # the IHDR width and height
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # and its checksum
    path.write_bytes(bytes(data))
    result = images.check_image(path)
    assert result.status == "unreadable"
    assert "claims 60000x60000 pixels" in str(result.problem)
    assert str(images.MAX_PIXELS) in str(result.problem).replace(",", "")


def test_valid_jpegs_of_every_kind_pass(tmp_path: Path) -> None:
    """Progressive, optimised, greyscale, CMYK, restart markers: all decode and pass."""
    rng = np.random.default_rng(3)
    options = [
        {},
        {"progressive": True},
        {"optimize": True, "quality": 100},
        {"quality": 5, "subsampling": 2},
        {"restart_marker_blocks": 3},
    ]
    paths = []
    for k, extra in enumerate(options):
        for mode in ("RGB", "L", "CMYK"):
            picture = Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8))
            path = tmp_path / f"{k}-{mode}.jpg"
            kwargs = dict(extra)
            if mode != "RGB":
                kwargs.pop("subsampling", None)
            picture.convert(mode).save(path, format="JPEG", **kwargs)
            paths.append(path)
    results = images.check_images(paths)
    assert [r.path for r in results] == paths
    assert all(r.ok for r in results), [r.problem for r in results if not r.ok]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_train_refuses_a_bomb_and_a_fifo_in_one_line(good: Path, tmp_path: Path) -> None:
    """train validates like load: one line, status 2, no run folder, no hang, no traceback."""
    replace_image(good, bomb)
    fifo = image(good, FIRST_ID + 3)
    fifo.unlink()
    os.mkfifo(fifo)
    run = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "galaxylab", "train", "--task", "decision-tree"]
        + ["--data", str(good), "--out", str(run), "--epochs", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stdout == "" and not run.exists()
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("galaxylab train: error: "), result.stderr
    assert "claims 60000x60000 pixels" in lines[0] and "and 1 more unreadable images" in lines[0]


# --- item 12: bytes after the end-of-image marker ---------------------------------------------


def test_jpeg_with_bytes_after_its_end_is_accepted(good: Path) -> None:
    trailer = b"\x00\x11CAMERA-MAKER-NOTES" * 40
    image(good).write_bytes(noisy_jpeg_bytes() + trailer)
    assert len(datasets.load(good)) == N
    assert images.check_image(image(good)).ok
    assert datasets.inspect(good)["unreadable_images"] == 0


def test_truncated_jpeg_is_still_truncated(good: Path) -> None:
    data = noisy_jpeg_bytes()
    image(good).write_bytes(data[: len(data) * 2 // 3])
    assert "truncated JPEG" in str(images.check_image(image(good)).problem)


# --- item 1: the checks run in parallel and are cached on disk --------------------------------


def age(paths: list[Path], seconds: float = 60.0) -> None:
    """Make files look written a while ago (a cache never trusts a file written just now)."""
    then = time.time() - seconds
    for path in paths:
        os.utime(path, (then, then))


def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    real = images.check_image

    def counting(path: str | os.PathLike[str]) -> images.ImageCheck:
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(images, "check_image", counting)
    return calls


def test_second_check_comes_from_the_cache(good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    replace_image(good, cut_scan)
    paths = sorted((good / IMAGES_DIR).iterdir())
    age(paths)
    calls = count_decodes(monkeypatch)
    first = images.check_images(paths)
    assert len(calls) == N
    assert (course.data_dir() / "cache").is_dir()
    again = images.check_images(paths)
    assert len(calls) == N  # nothing decoded again
    assert again == first
    assert [r.ok for r in again].count(False) == 1


def test_a_changed_file_is_checked_again(good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = sorted((good / IMAGES_DIR).iterdir())
    age(paths)
    assert all(r.ok for r in images.check_images(paths))
    replace_image(good, zeroed_scan)
    age([image(good)], seconds=30)
    calls = count_decodes(monkeypatch)
    results = images.check_images(paths)
    assert calls == [image(good)]
    assert "corrupt JPEG data" in str(results[1].problem)


def test_a_file_written_just_now_is_not_trusted_to_the_cache(
    good: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same size, same coarse mtime: only re-decoding can tell, so fresh files are not cached."""
    paths = sorted((good / IMAGES_DIR).iterdir())
    images.check_images(paths)
    calls = count_decodes(monkeypatch)
    images.check_images(paths)
    assert len(calls) == N


def test_a_broken_cache_is_ignored(good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = sorted((good / IMAGES_DIR).iterdir())
    age(paths)
    cache = course.data_dir() / "cache"
    cache.mkdir(parents=True)
    for name in ("checks.sqlite3", "checks.sqlite3-journal"):
        (cache / name).write_bytes(b"this is not a database" * 100)
    assert all(r.ok for r in images.check_images(paths))
    assert all(r.ok for r in images.check_images(paths))


def test_an_unusable_data_folder_only_costs_the_cache(
    good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GALAXYLAB_DATA", str(blocker))
    assert len(datasets.load(good)) == N


# --- item 7: only regular files are images ----------------------------------------------------


def load_or_hang(src: Path, fifo: Path, **kwargs: object) -> BaseException | None:
    """datasets.load in a thread; if it blocks on the FIFO, unblock it and fail the test."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            datasets.load(src, **kwargs)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # a writer comes and goes: EOF
        worker.join(20)
        pytest.fail(f"datasets.load blocked on the FIFO {fifo}")
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("check_images", [True, False])
def test_fifo_named_jpg_is_not_an_image(good: Path, check_images: bool) -> None:
    image(good).unlink()
    os.mkfifo(image(good))
    error = load_or_hang(good, image(good), check_images=check_images)
    assert isinstance(error, GalaxyLabError)
    assert f"{BAD_ID}.jpg (GalaxyID {BAD_ID}): is a FIFO (named pipe), not a regular file" in str(
        error
    )
    with pytest.warns(datasets.DataWarning, match="dropped 1 of"):
        assert len(datasets.load(good, on_bad="drop", check_images=check_images)) == N - 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_in_class_folders_and_inspect(good: Path, tmp_path: Path) -> None:
    classes = tmp_path / "classes"
    write_jpeg(classes / "spiral" / "a.jpg", np.random.default_rng(0))
    write_jpeg(classes / "round" / "b.jpg", np.random.default_rng(1))
    os.mkfifo(classes / "spiral" / "c.jpg")
    error = load_or_hang(classes, classes / "spiral" / "c.jpg")
    assert isinstance(error, GalaxyLabError) and "c.jpg (class spiral): is a FIFO" in str(error)
    image(good).unlink()
    os.mkfifo(image(good))
    result = run_inspect(good)
    assert result.returncode == 0, result.stderr
    health = json.loads(result.stdout)
    assert health["unreadable_images"] == 1
    assert "not a regular file" in health["problems"][0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_as_the_source_or_its_table(good: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "galaxy10.h5"
    os.mkfifo(fifo)
    with pytest.raises(GalaxyLabError, match=r"galaxy10\.h5: is a FIFO \(named pipe\)"):
        datasets.load(fifo)
    (good / LABELS_CSV).unlink()
    os.mkfifo(good / LABELS_CSV)
    with pytest.raises(GalaxyLabError, match=rf"{LABELS_CSV}: is a FIFO \(named pipe\)"):
        datasets.load(good)


# --- item 8: unreadable folders ---------------------------------------------------------------


def refuse(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """os.listdir and os.scandir of ``folder`` fail as they do for a folder we may not read."""
    real_listdir, real_scandir = os.listdir, os.scandir

    def check(path: object) -> None:
        if Path(os.fsdecode(path)).absolute() == folder.absolute():  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", str(path))

    def listdir(path: object = ".") -> list[str]:
        check(path)
        return real_listdir(path)  # type: ignore[arg-type]

    def scandir(path: object = ".") -> object:
        check(path)
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "listdir", listdir)
    monkeypatch.setattr(os, "scandir", scandir)


def class_folders(root: Path) -> Path:
    write_jpeg(root / "spiral" / "deep" / "a.jpg", np.random.default_rng(0))
    write_jpeg(root / "round" / "b.jpg", np.random.default_rng(1))
    return root


def cli_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command line in this process: status 2, no output, one stderr line; the line."""
    status = cli.main(args)
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"galaxylab {args[0]}: error: ")
    return lines[0]


@pytest.mark.parametrize("layout", ["kaggle images", "class folders root", "class folder"])
def test_unreadable_folder_is_one_clear_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    layout: str,
) -> None:
    if layout == "kaggle images":
        src = make_kaggle(tmp_path / "good")
        locked = src / IMAGES_DIR
    else:
        src = class_folders(tmp_path / "classes")
        locked = src if layout == "class folders root" else src / "spiral" / "deep"
    refuse(monkeypatch, locked)
    with pytest.raises(GalaxyLabError) as caught:
        datasets.load(src)
    assert str(locked) in str(caught.value) and "Permission denied" in str(caught.value)
    line = cli_error(["inspect", "--data", str(src)], capsys)
    assert str(locked) in line and "cannot be read" in line


def small_gz2(root: Path) -> Path:
    """A GZ2 folder (Hart table, mapping, images) with the published column names."""
    from test_datasets import OBJIDS, hart_table

    rng = np.random.default_rng(4)
    root.mkdir()
    hart_table(rng)[0].to_csv(root / "gz2_hart16.csv", index=False)
    assets = list(range(16, 16 + len(OBJIDS)))
    mapping = pd.DataFrame({"objid": OBJIDS, "sample": "original", "asset_id": assets})
    mapping.to_csv(root / "gz2_filename_mapping.csv", index=False)
    for asset in assets:
        write_jpeg(root / "images" / f"{asset}.jpg", rng)
    return root


def test_unreadable_gz2_images_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = small_gz2(tmp_path / "gz2")
    assert len(datasets.load(root)) == 5
    refuse(monkeypatch, root / "images")
    with pytest.raises(GalaxyLabError, match=r"images: cannot be read \(Permission denied\)"):
        datasets.load(root)


def _inspect_capturing_stderr(src: Path) -> tuple[int, str]:
    """``galaxylab inspect --data src`` in this process: its exit status and its stderr."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = cli.main(["inspect", "--data", str(src)])
    return status, err.getvalue()


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX permissions")
def test_chmod_000_images_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    with open_folder() as folder:
        good = make_kaggle(folder / "good")
        monkeypatch.setenv("GALAXYLAB_DATA", str(folder / "data"))  # nobody's cache goes here
        (folder / "data").mkdir(mode=0o777)
        (folder / "data").chmod(0o777)
        assert _inspect_capturing_stderr(good)[0] == 0  # readable, and every import is done
        (good / IMAGES_DIR).chmod(0)
        status, stderr = call_unprivileged(_inspect_capturing_stderr, good)
    assert status == 2 and "Traceback" not in stderr
    assert len(stderr.splitlines()) == 1 and "cannot be read" in stderr


# --- items 9, 14, 17: tables that mislead -----------------------------------------------------


def rewrite_lines(root: Path, change: Callable[[list[str]], list[str]]) -> Path:
    path = root / LABELS_CSV
    path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")
    return root


def first_row_extra_field(root: Path) -> Path:
    return rewrite_lines(root, lambda lines: [lines[0], lines[1] + ",0.715291", *lines[2:]])


def later_row_extra_field(root: Path) -> Path:
    return rewrite_lines(root, lambda lines: [*lines[:3], lines[3] + ",0.5", *lines[4:]])


def short_row(root: Path) -> Path:
    def drop_a_cell(lines: list[str]) -> list[str]:
        cells = lines[2].split(",")
        return [*lines[:2], ",".join(cells[:5] + cells[6:]), *lines[3:]]

    return rewrite_lines(root, drop_a_cell)


def semicolons(root: Path) -> Path:
    return rewrite_lines(root, lambda lines: [line.replace(",", ";") for line in lines])


def tabs(root: Path) -> Path:
    return rewrite_lines(root, lambda lines: [line.replace(",", "\t") for line in lines])


def trailing_comma_in_header(root: Path) -> Path:
    return rewrite_lines(root, lambda lines: [lines[0] + ",", *lines[1:]])


def set_id(value: str) -> Callable[[Path], Path]:
    def change(root: Path) -> Path:
        return rewrite_lines(
            root, lambda lines: [*lines[:2], value + lines[2][6:], *lines[3:]]
        )  # line 3 starts with the 6-digit id 100002

    change.__name__ = f"id_{value!r}"
    return change


#: (case, words of the one-line structural error)
TABLE_CASES = [
    (first_row_extra_field, [LABELS_CSV, "line 2 has 19 fields where the header has 18"]),
    (later_row_extra_field, [LABELS_CSV, "line 4 has 19 fields where the header has 18"]),
    (short_row, [LABELS_CSV, "line 3 has 17 fields where the header has 18"]),
    (semicolons, [LABELS_CSV, "seems to use ';' instead of ','"]),
    (tabs, [LABELS_CSV, "seems to use tabs instead of ','"]),
    (trailing_comma_in_header, [LABELS_CSV, "the header ends with an empty column"]),
    (set_id("../../x"), [LABELS_CSV, "line 3", "GalaxyID '../../x' is not a plain file name"]),
    (set_id("/etc/passwd"), [LABELS_CSV, "line 3", "GalaxyID '/etc/passwd' is not a plain"]),
    (set_id(".."), [LABELS_CSV, "line 3", "GalaxyID '..' is not a plain file name"]),
    (set_id("a\\b"), [LABELS_CSV, "line 3", "is not a plain file name"]),
]
TABLE_IDS = [case.__name__ for case, _ in TABLE_CASES]


@pytest.mark.parametrize(("case", "words"), TABLE_CASES, ids=TABLE_IDS)
def test_misleading_table_api(good: Path, case: Callable, words: list[str]) -> None:
    src = case(good)
    for on_bad in ("error", "drop"):
        with pytest.raises(GalaxyLabError) as caught:
            datasets.load(src, on_bad=on_bad)
        message = str(caught.value)
        assert "\n" not in message
        for word in words:
            assert word in message, message


@pytest.mark.parametrize(("case", "words"), TABLE_CASES, ids=TABLE_IDS)
def test_misleading_table_cli(good: Path, case: Callable, words: list[str]) -> None:
    result = run_inspect(case(good))
    assert result.returncode == 2 and result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("galaxylab inspect: error: ") and words[-1] in lines[0]


def test_an_id_that_is_a_path_reads_nothing_outside(good: Path) -> None:
    outside = good.parent / "x.jpg"
    write_jpeg(outside, np.random.default_rng(7))  # what ../../x.jpg would have read
    set_id("../../x")(good)
    with pytest.raises(GalaxyLabError, match="not a plain file name"):
        datasets.load(good)


def test_trailing_commas_on_every_row_and_the_header_are_harmless(good: Path) -> None:
    """A table whose data rows all end in an empty field loads (pandas drops it)."""
    rewrite_lines(good, lambda lines: [lines[0], *(line + "," for line in lines[1:])])
    assert len(datasets.load(good)) == N


def test_empty_last_cell_is_still_a_value_problem(good: Path) -> None:
    rewrite_lines(good, lambda lines: [*lines[:2], lines[2].rsplit(",", 1)[0] + ",", *lines[3:]])
    with pytest.raises(GalaxyLabError, match=r"line 3 \(GalaxyID 100002\): Class8\.7 is empty"):
        datasets.load(good)


@pytest.mark.parametrize("empty", ["", "   "])
def test_empty_source_path_is_an_error(
    empty: str, monkeypatch: pytest.MonkeyPatch, good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(good)  # the current folder is a valid source: it must not be used
    with pytest.raises(GalaxyLabError, match="no data source given"):
        datasets.load(empty)
    with pytest.raises(GalaxyLabError, match="no data source given"):
        datasets.inspect(empty)
    with pytest.raises(GalaxyLabError, match="no data source given"):
        course.catalog(empty)
    assert "no data source given" in cli_error(["inspect", "--data", empty], capsys)


# --- item 4: Galaxy10 files that are broken inside --------------------------------------------


def galaxy10(path: Path, fill: Callable[[h5py.File], None] | None = None) -> Path:
    """A 4-image Galaxy10 file, gzip-compressed one image per chunk, then ``fill`` edits it."""
    pixels = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    with h5py.File(path, "w") as h5:
        h5.create_dataset("images", data=pixels, chunks=(1, 16, 16, 3), compression="gzip")
        h5["ans"] = np.array([0, 1, 2, 3])
        h5["ra"] = np.linspace(10, 20, 4)
        if fill is not None:
            fill(h5)
    return path


def corrupt_chunk(path: Path, row: int = 2) -> Path:
    galaxy10(path)
    with h5py.File(path, "r") as h5:
        info = h5["images"].id.get_chunk_info_by_coord((row, 0, 0, 0))
    with open(path, "r+b") as handle:
        handle.seek(info.byte_offset + 8)
        handle.write(b"\xde\xad\xbe\xef" * 16)
    return path


def test_corrupt_compressed_chunk_is_a_row_problem(tmp_path: Path) -> None:
    path = corrupt_chunk(tmp_path / "g10.h5")
    with pytest.raises(GalaxyLabError) as caught:
        datasets.load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert "g10.h5 images[2] (index 2): cannot be read" in message
    with pytest.warns(datasets.DataWarning, match="dropped 1 of 4"):
        assert list(datasets.load(path, on_bad="drop")["h5_index"]) == [0, 1, 3]
    result = run_inspect(path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["unreadable_images"] == 1
    assert len(datasets.load(path, check_images=False)) == 4  # contents not checked


def test_galaxy10_chunk_check_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = corrupt_chunk(tmp_path / "g10.h5")
    age([path])
    first = datasets.inspect(path)
    from galaxylab.datasets import galaxy10 as module

    def fail(*args: object) -> None:
        raise AssertionError("read the chunks again")

    monkeypatch.setattr(module, "_read_chunks", fail)
    assert datasets.inspect(path) == first


def test_read_images_of_a_corrupt_chunk_names_the_file(tmp_path: Path) -> None:
    path = corrupt_chunk(tmp_path / "g10.h5")
    with pytest.raises(GalaxyLabError, match=r"g10\.h5: cannot read images"):
        datasets.galaxy10.read_images(path, [2])


def text_ans(h5: h5py.File) -> None:
    del h5["ans"]
    h5["ans"] = np.array([b"spiral", b"round", b"edge", b"odd"])


def text_ra(h5: h5py.File) -> None:
    del h5["ra"]
    h5["ra"] = np.array([b"10h", b"11h", b"12h", b"13h"])


def group_images(h5: h5py.File) -> None:
    del h5["images"]
    h5.create_group("images")


def group_ans(h5: h5py.File) -> None:
    del h5["ans"]
    h5.create_group("ans")


def external_images(h5: h5py.File) -> None:
    del h5["images"]
    h5["images"] = h5py.ExternalLink("missing-images.h5", "/images")


def dangling_ans(h5: h5py.File) -> None:
    del h5["ans"]
    h5["ans"] = h5py.SoftLink("/labels/ans")


#: (broken structure, words of the one-line error)
H5_CASES = [
    (text_ans, ["g10.h5", "ans holds text"]),
    (text_ra, ["g10.h5", "ra holds text"]),
    (group_images, ["g10.h5", "images is a group, not a dataset"]),
    (group_ans, ["g10.h5", "ans is a group, not a dataset"]),
    (external_images, ["g10.h5", "images is an external link to missing-images.h5"]),
    (dangling_ans, ["g10.h5", "ans is a soft link to /labels/ans, which does not exist"]),
]


@pytest.mark.parametrize(("fill", "words"), H5_CASES, ids=[c.__name__ for c, _ in H5_CASES])
def test_broken_galaxy10_structure(tmp_path: Path, fill: Callable, words: list[str]) -> None:
    path = galaxy10(tmp_path / "g10.h5", fill)
    with pytest.raises(GalaxyLabError) as caught:
        datasets.load(path)
    assert "\n" not in str(caught.value)
    for word in words:
        assert word in str(caught.value)
    result = run_inspect(path)
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and words[-1] in result.stderr


# --- item 16a: an unusable GALAXYLAB_DATA -----------------------------------------------------


@pytest.mark.parametrize("where", ["a file", "under a file", "under /proc"])
def test_unusable_data_folder_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    value = {
        "a file": blocker,
        "under a file": blocker / "data",
        "under /proc": Path("/proc/galaxylab-data"),
    }[where]
    if where == "under /proc" and not Path("/proc/self").exists():
        pytest.skip("no /proc here")
    monkeypatch.setenv("GALAXYLAB_DATA", str(value))
    with pytest.raises(GalaxyLabError) as caught:
        course.data_dir()
    message = str(caught.value)
    assert "GALAXYLAB_DATA" in message and str(value) in message and "\n" not in message
    assert isinstance(caught.value.__cause__, OSError)


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX permissions")
def test_unwritable_data_folder_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with open_folder() as folder:
        locked = folder / "locked"
        locked.mkdir(mode=0o500)
        monkeypatch.setenv("GALAXYLAB_DATA", str(locked / "data"))
        with pytest.raises(GalaxyLabError, match="GALAXYLAB_DATA") as caught:
            call_unprivileged(course.data_dir)
    assert isinstance(caught.value.__cause__, OSError)


# --- item 18: NaN scores stay NaN -------------------------------------------------------------


def test_normalise_lets_nan_through() -> None:
    scores = np.random.default_rng(0).random((3, len(tree.COLUMNS)))
    scores[1, :] = np.nan  # a diverged model
    scores[2, tree.COLUMN_INDEX["Class9.2"]] = np.nan  # one bad score in Q9
    out = tree.normalise(scores)
    assert np.isfinite(out[0]).all()
    assert np.isnan(out[1]).all()
    q9 = [tree.COLUMN_INDEX[c] for c in tree.QUESTION_BY_NUMBER[9].columns]
    assert np.isnan(out[2, q9]).all()
    assert np.isfinite(np.delete(out[2], q9)).all()
    assert np.isnan(tree.normalise(np.full(len(tree.COLUMNS), np.nan))).all()


def test_a_diverged_model_is_not_scored_like_a_uniform_crowd() -> None:
    truth = tree.normalise(np.random.default_rng(1).random((4, len(tree.COLUMNS))))
    diverged = tree.normalise(np.full((4, len(tree.COLUMNS)), np.nan))
    with pytest.raises(GalaxyLabError, match="NaN"):
        metrics.kaggle_rmse(truth, diverged)


def test_normalise_still_splits_all_zero_questions_evenly() -> None:
    out = tree.normalise(np.zeros(len(tree.COLUMNS)))
    assert out[tree.COLUMN_INDEX["Class1.1"]] == pytest.approx(1 / 3)


def test_normalise_still_refuses_negative_scores() -> None:
    with pytest.raises(GalaxyLabError, match="non-negative"):
        tree.normalise(-np.ones(len(tree.COLUMNS)))


def test_inf_score_gives_nan_not_a_number() -> None:
    scores = np.ones(len(tree.COLUMNS))
    scores[0] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = tree.normalise(scores)
    assert np.isnan(out[:3]).all()
