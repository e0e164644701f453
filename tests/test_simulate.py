"""The synthetic universe: layout, tree-consistent labels, class mix, determinism, atomic writes."""

from __future__ import annotations

import filecmp
import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from unprivileged import call_unprivileged, open_folder

from galaxylab import simulate, tree
from galaxylab.errors import GalaxyLabError
from galaxylab.simulate import render, volunteers, writer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def big_universe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """800 galaxies: enough for the class mix and for every answer to show up."""
    out = tmp_path_factory.mktemp("big") / "u800"
    simulate.write_universe(n=800, out=out, seed=2, workers=2, progress=False)
    return out


def _labels(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / simulate.LABELS_FILE)


def _truth(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / simulate.TRUTH_FILE)


def _tree_view(table: pd.DataFrame, prefix: str) -> pd.DataFrame:
    return table[[prefix + c for c in tree.COLUMNS]].set_axis(list(tree.COLUMNS), axis=1)


def test_layout_and_columns(small_universe: Path) -> None:
    labels = _labels(small_universe)
    assert list(labels.columns) == [tree.ID_COLUMN, *tree.COLUMNS]
    assert len(labels) == 160
    assert labels[tree.ID_COLUMN].tolist() == list(
        range(simulate.FIRST_ID, simulate.FIRST_ID + 160)
    )
    images = sorted((small_universe / simulate.IMAGES_DIR).iterdir())
    assert [p.name for p in images] == [f"{i}.jpg" for i in labels[tree.ID_COLUMN]]
    assert not [p for p in small_universe.parent.iterdir() if p.name.startswith(".")]


def test_labels_obey_tree_as_written(small_universe: Path, big_universe: Path) -> None:
    for folder in (small_universe, big_universe):
        labels = _labels(folder)
        values = labels[list(tree.COLUMNS)].to_numpy()
        assert values.min() >= 0.0 and values.max() <= 1.0
        assert tree.check(labels[list(tree.COLUMNS)], tolerance=1e-6).empty
        text = (folder / simulate.LABELS_FILE).read_text().splitlines()[1]
        assert all(len(v.split(".")[1]) == writer.DECIMALS for v in text.split(",")[1:])


def test_images_are_424_rgb_jpegs(small_universe: Path) -> None:
    for path in sorted((small_universe / simulate.IMAGES_DIR).iterdir())[::10]:
        with Image.open(path) as im:
            assert im.format == "JPEG" and im.mode == "RGB"
            assert im.size == (simulate.IMAGE_SIZE, simulate.IMAGE_SIZE)
            pixels = np.asarray(im, dtype=np.float64)
        centre = pixels[162:262, 162:262].mean()
        border = np.concatenate([pixels[:60].ravel(), pixels[-60:].ravel()]).mean()
        assert centre > border  # the galaxy sits in the middle of the frame


def test_truth_rows_and_tree(small_universe: Path) -> None:
    truth, labels = _truth(small_universe), _labels(small_universe)
    assert truth["GalaxyID"].tolist() == labels[tree.ID_COLUMN].tolist()
    for column in (
        "galaxy_type",
        "sersic_n",
        "r_eff",
        "axis_ratio",
        "inclination",
        "position_angle",
        "bulge_fraction",
        "bar",
        "n_arms",
        "pitch_angle",
        "ring",
        "lens",
        "dust_lane",
        "merger",
        "surface_brightness",
        "n_volunteers",
    ):
        assert column in truth.columns
    assert truth["n_volunteers"].between(*volunteers.VOLUNTEERS).all()
    true = _tree_view(truth, "true_")
    assert set(np.unique(true.to_numpy())) <= {0.0, 1.0}
    assert tree.check(true, tolerance=1e-6).empty
    assert tree.check(_tree_view(truth, "expected_"), tolerance=1e-6).empty


def test_labels_track_truth(big_universe: Path) -> None:
    """The crowd agrees with the true path far more often than chance, but not always."""
    labels, truth = _labels(big_universe), _truth(big_universe)
    q1 = list(tree.QUESTION_BY_NUMBER[1].columns)
    crowd = labels[q1].to_numpy().argmax(axis=1)
    true = truth[["true_" + c for c in q1]].to_numpy().argmax(axis=1)
    agreement = (crowd == true).mean()
    assert 0.6 < agreement < 0.98
    noise = np.abs(
        labels[list(tree.COLUMNS)].to_numpy() - _tree_view(truth, "expected_").to_numpy()
    )
    assert 0.005 < noise.mean() < 0.05  # finite crowds scatter around the expectation


def test_class_mix_like_the_challenge(big_universe: Path) -> None:
    labels = _labels(big_universe)
    smooth = (labels["Class1.1"] >= 0.8).mean()
    featured = (labels["Class1.2"] >= 0.8).mean()
    assert 0.10 <= smooth <= 0.16, smooth
    assert 0.20 <= featured <= 0.30, featured


def test_distributions_near_the_real_sample(big_universe: Path, real_sample: Path) -> None:
    real = pd.read_csv(real_sample / "training_solutions_rev1.csv")
    sim = _labels(big_universe)
    for column in (
        "Class1.1",
        "Class1.2",
        "Class2.1",
        "Class6.1",
        "Class7.1",
        "Class7.2",
        "Class7.3",
    ):
        assert abs(sim[column].mean() - real[column].mean()) < 0.05, column
        assert abs((sim[column] > 0.5).mean() - (real[column] > 0.5).mean()) < 0.06, column


def _corner_stats(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sky and core statistics of the central 256 px of each image (what the built-in real
    sample keeps of its 424 px cutouts), so both sides show the same part of the sky."""
    medians, spreads, centres = [], [], []
    for path in sorted(folder.glob("*.jpg"))[:60]:
        with Image.open(path) as im:
            pixels = np.asarray(im, dtype=np.float64)
        top, left = (pixels.shape[0] - 256) // 2, (pixels.shape[1] - 256) // 2
        pixels = pixels[top : top + 256, left : left + 256]
        corner = pixels[:60, :60].reshape(-1, 3)
        medians.append(np.median(corner, axis=0))
        spreads.append(corner.std(axis=0))
        centres.append(pixels[123:133, 123:133].reshape(-1, 3).mean(axis=0))
    return np.median(medians, 0), np.median(spreads, 0), np.median(centres, 0)


def test_sky_and_cores_look_like_the_real_images(small_universe: Path, real_sample: Path) -> None:
    sim = _corner_stats(small_universe / simulate.IMAGES_DIR)
    real = _corner_stats(real_sample / "images_training_rev1")
    assert np.abs(sim[0] - real[0]).max() <= 3  # sky level per channel (0-255)
    assert np.abs(sim[1] - real[1]).max() <= 1.5  # sky noise
    assert np.abs(sim[2] - real[2]).max() <= 30  # colour of the galaxy's core
    assert sim[2][0] > sim[2][1] > sim[2][2]  # cores are red-yellow, as in SDSS composites


def test_every_answer_reachable(big_universe: Path) -> None:
    labels, truth = _labels(big_universe), _truth(big_universe)
    weak = [c for c in tree.COLUMNS if labels[c].max() <= 0.5]
    assert weak == []  # every answer wins a majority somewhere in 800 galaxies
    assert (truth[["true_" + c for c in tree.COLUMNS]].max() == 1.0).all()


def test_same_seed_same_bytes_any_workers(tmp_path: Path) -> None:
    one = simulate.write_universe(n=40, out=tmp_path / "one", seed=5, workers=1, progress=False)
    other = simulate.write_universe(n=40, out=tmp_path / "other", seed=6, workers=1, progress=False)
    names = [simulate.LABELS_FILE, simulate.TRUTH_FILE] + [
        f"{simulate.IMAGES_DIR}/{p.name}" for p in (one / simulate.IMAGES_DIR).iterdir()
    ]
    for workers in (2, 3):  # other chunkings, more workers than cores
        many = simulate.write_universe(
            n=40, out=tmp_path / f"w{workers}", seed=5, workers=workers, progress=False
        )
        _, mismatch, errors = filecmp.cmpfiles(one, many, names, shallow=False)
        assert mismatch == [] and errors == []
    _, _, errors = filecmp.cmpfiles(one, other, names, shallow=False)
    assert errors == []
    assert not filecmp.cmp(one / simulate.LABELS_FILE, other / simulate.LABELS_FILE, shallow=False)
    same_images = filecmp.cmpfiles(one, other, names[2:], shallow=False)[0]
    assert same_images == []


def test_same_bytes_from_fresh_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once TensorFlow is loaded the pool avoids fork; the files must not change."""
    one = simulate.write_universe(n=12, out=tmp_path / "one", seed=8, workers=1, progress=False)
    monkeypatch.setitem(sys.modules, "tensorflow", type(sys)("tensorflow"))
    assert writer._start_method() != "fork"
    fresh = simulate.write_universe(n=12, out=tmp_path / "fresh", seed=8, workers=2, progress=False)
    names = [simulate.LABELS_FILE, simulate.TRUTH_FILE] + [
        f"{simulate.IMAGES_DIR}/{p.name}" for p in (one / simulate.IMAGES_DIR).iterdir()
    ]
    assert filecmp.cmpfiles(one, fresh, names, shallow=False)[0] == names


def _galaxy_fingerprints(folder: Path) -> tuple[set[tuple], set[bytes]]:
    """The true parameters (without the id) and the pixels of every galaxy of a universe."""
    truth = _truth(folder).drop(columns="GalaxyID")
    params = {tuple(row) for row in truth.itertuples(index=False)}
    pixels = set()
    for path in (folder / simulate.IMAGES_DIR).iterdir():
        with Image.open(path) as im:
            pixels.add(im.tobytes())
    return params, pixels


def test_universes_of_different_sizes_share_no_galaxy(tmp_path: Path) -> None:
    """Fine-tuning on a bigger universe must not meet the smaller one's test galaxies."""
    small = simulate.write_universe(n=8, out=tmp_path / "n8", seed=4, workers=1, progress=False)
    big = simulate.write_universe(n=12, out=tmp_path / "n12", seed=4, workers=1, progress=False)
    small_params, small_pixels = _galaxy_fingerprints(small)
    big_params, big_pixels = _galaxy_fingerprints(big)
    assert len(small_params) == 8 and len(big_params) == 12
    assert small_params.isdisjoint(big_params)
    assert small_pixels.isdisjoint(big_pixels)
    again = simulate.write_universe(n=8, out=tmp_path / "again", seed=4, workers=2, progress=False)
    assert _galaxy_fingerprints(again) == (small_params, small_pixels)


def test_galaxy_index_must_lie_in_its_universe() -> None:
    with pytest.raises(GalaxyLabError, match="outside a universe of 5 galaxies"):
        simulate.make_galaxy(5, seed=0, n=5)
    first = simulate.galaxy_params(0, seed=0, n=5)
    assert first == simulate.galaxy_params(0, seed=0, n=5)
    assert first != simulate.galaxy_params(0, seed=0, n=6)
    assert simulate.galaxy_params(0, seed=0) not in (first, simulate.galaxy_params(0, seed=0, n=6))


def test_workers_default_to_the_cores_this_process_may_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert writer.available_cores() == 3
    assert writer._check_request(10, tmp_path / "u", 0, False, None) == 3


_NO_TENSORFLOW = """
import sys
status = __import__("galaxylab.cli", fromlist=["main"]).main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "jax"))
print("heavy modules:", heavy, file=sys.stderr)
raise SystemExit(status or (3 if heavy else 0))
"""


def test_simulate_command_never_imports_tensorflow(tmp_path: Path) -> None:
    """The simulate command stays light: no TensorFlow (or Keras) import, seen two ways, and
    no pandas (its tables are written with numpy)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["simulate", "--n", "4", "--out", str(tmp_path / "u"), "--quiet"]
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "galaxylab", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert timed.returncode == 0, timed.stderr
    imported = {
        line.split("|")[-1].strip()
        for line in timed.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "galaxylab.simulate.render" in imported  # importtime did report the imports
    assert not {m for m in imported if m.split(".")[0] in ("tensorflow", "keras", "pandas")}
    args[4] = str(tmp_path / "v")
    wrapped = subprocess.run(
        [sys.executable, "-c", _NO_TENSORFLOW, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert wrapped.returncode == 0, wrapped.stderr
    assert "heavy modules: []" in wrapped.stderr


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_cli_unwritable_out_fails_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "galaxylab",
            "simulate",
            "--n",
            "4",
            "--out",
            "/proc/galaxylab-test",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("galaxylab simulate: error:")
    assert "/proc/galaxylab-test" in lines[0]


def _read_only_folder(parent: Path) -> Path:
    folder = parent / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize("where", ["proc", "read-only folder"])
def test_unwritable_out_fails_before_rendering(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_rendering(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendering started")

    monkeypatch.setattr(writer, "make_galaxy", no_rendering)
    with open_folder() as folder:
        if where == "proc":
            if not Path("/proc/self").is_dir():
                pytest.skip("needs Linux /proc")
            out = Path("/proc/galaxylab-test")
        else:
            out = _read_only_folder(folder) / "u"
        with pytest.raises(GalaxyLabError, match=re.escape(str(out))) as caught:
            call_unprivileged(simulate.write_universe, n=4, out=out, workers=1, progress=False)
        assert "\n" not in str(caught.value) and isinstance(caught.value.__cause__, OSError)
        assert not out.exists()
        if where != "proc":
            assert list(out.parent.iterdir()) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_staging_of_dead_writers_is_removed(tmp_path: Path) -> None:
    """A kill -9 leaves a staging folder; the next run removes it unless its writer lives."""
    out = tmp_path / "u"
    dead = tmp_path / writer._staging_name(out, _dead_pid())
    live = tmp_path / writer._staging_name(out, os.getpid())
    other_output = tmp_path / writer._staging_name(tmp_path / "other", _dead_pid())
    for folder in (dead, live, other_output):
        (folder / simulate.IMAGES_DIR).mkdir(parents=True)
        (folder / simulate.IMAGES_DIR / "100000.jpg").write_bytes(b"half a galaxy")
    simulate.write_universe(n=3, out=out, workers=1, progress=False)
    assert not dead.exists()
    assert live.exists() and other_output.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other_output.name, "u"])


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(
    not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
    reason="needs Linux /proc children lists",
)
def test_killed_run_is_cleaned_up(tmp_path: Path) -> None:
    """kill -9 mid-run: the workers exit, and the next run removes the staging folder."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "u"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "galaxylab",
            "simulate",
            "--n",
            "100000",
            "--out",
            str(out),
            "--workers",
            "2",
            "--quiet",
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(f".u.partial-*/{simulate.IMAGES_DIR}/*.jpg")):
            assert run.poll() is None and time.monotonic() < deadline, "no galaxy written"
            time.sleep(0.1)
        workers = _children(run.pid)
        assert workers
    finally:
        run.kill()
        run.wait()
    deadline = time.monotonic() + 30
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(w) for w in workers), "orphaned workers live on"
    assert len(list(tmp_path.glob(".u.partial-*"))) == 1
    simulate.write_universe(n=3, out=out, workers=1, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["u"]


def test_staging_folder_is_named_after_its_writer(tmp_path: Path) -> None:
    name = writer._staging_name(tmp_path / "u", 12345)
    assert re.fullmatch(r"\.u\.partial-\w+-12345-[0-9a-f]{8}", name), name


_boxes = st.tuples(
    st.integers(-20, 430), st.integers(1, 120), st.integers(-20, 430), st.integers(1, 120)
).map(lambda b: (b[0], b[0] + b[1], b[2], b[2] + b[3]))


@settings(max_examples=60, deadline=None)
@given(st.lists(_boxes, min_size=1, max_size=12))
def test_stretched_regions_cover_every_box_once(boxes: list[tuple[int, int, int, int]]) -> None:
    frame = render._Frame()
    frame.mark(boxes)
    wanted = np.zeros((simulate.IMAGE_SIZE, simulate.IMAGE_SIZE), dtype=int)
    for ya, yb, xa, xb in boxes:
        wanted[max(ya, 0) : max(yb, 0), max(xa, 0) : max(xb, 0)] = 1
    covered = np.zeros_like(wanted)
    for ya, yb, xa, xb in frame.regions():
        covered[ya:yb, xa:xb] += 1
    frame.release()
    assert np.array_equal(covered, wanted)


@pytest.mark.parametrize("galaxy_type", ["disk", "elliptical", "merger", "irregular", "artifact"])
def test_render_matches_the_exact_stretch_of_its_light(
    galaxy_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path (disjoint regions, pre-stretched sky elsewhere) gives the pixels that a
    plain full-frame stretch of the same light and noise gives, to within one level."""
    seen: dict[str, np.ndarray] = {}
    real_observe = render._observe_into

    def capture(image: np.ndarray, signal: np.ndarray, noise: np.ndarray, regions: list) -> None:
        seen["signal"], seen["noise"] = signal.copy(), noise.copy()
        real_observe(image, signal, noise, regions)

    monkeypatch.setattr(render, "_observe_into", capture)
    params = simulate.sample_params(np.random.default_rng(11), galaxy_type)
    image = simulate.render_galaxy(params, np.random.default_rng(5))
    signal, noise = seen["signal"], seen["noise"]
    linear = signal + np.sqrt(1 + render.INVERSE_GAIN * signal) * noise + render.SKY_PEDESTAL
    assert np.abs(render.lupton_stretch(linear).astype(int) - image).max() <= 1


def test_make_galaxy_matches_written_universe(small_universe: Path) -> None:
    g = simulate.make_galaxy(7, seed=3, n=160)
    assert g.galaxy_id == simulate.FIRST_ID + 7
    with Image.open(small_universe / simulate.IMAGES_DIR / f"{g.galaxy_id}.jpg") as im:
        written = np.asarray(im, dtype=np.float64)
    assert np.abs(written - g.image).mean() < 3.0  # only JPEG loss between them
    row = _labels(small_universe).iloc[7][list(tree.COLUMNS)].to_numpy(dtype=float)
    assert np.allclose(row, g.labels, atol=2e-6)


def test_refuses_non_empty_folder_and_leaves_it(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(GalaxyLabError, match="taken"):
        simulate.write_universe(n=5, out=out, progress=False)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_overwrite_replaces_only_when_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "u"
    simulate.write_universe(n=6, out=out, seed=1, workers=1, progress=False)
    before = (out / simulate.LABELS_FILE).read_bytes()
    real_make = writer.make_galaxy
    calls = {"n": 0}

    def failing(index: int, seed: int = 0, n: int | None = None) -> writer.Galaxy:
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("power cut")
        return real_make(index, seed, n)

    monkeypatch.setattr(writer, "make_galaxy", failing)
    with pytest.raises(RuntimeError, match="power cut"):
        simulate.write_universe(n=10, out=out, seed=2, overwrite=True, workers=1, progress=False)
    assert (out / simulate.LABELS_FILE).read_bytes() == before  # old universe untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u"]  # no partial sibling left
    monkeypatch.setattr(writer, "make_galaxy", real_make)
    simulate.write_universe(n=10, out=out, seed=2, overwrite=True, workers=1, progress=False)
    assert len(_labels(out)) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u"]


def test_interrupted_run_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real_make = writer.make_galaxy

    def interrupted(index: int, seed: int = 0, n: int | None = None) -> writer.Galaxy:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_make(index, seed, n)

    monkeypatch.setattr(writer, "make_galaxy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        simulate.write_universe(n=12, out=tmp_path / "u", workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


_BROKEN_WORKER = """
import sys
from galaxylab import simulate
from galaxylab.simulate import writer
assert writer._start_method() == "fork", writer._start_method()
real_make = writer.make_galaxy
def broken(index, seed=0, n=None):
    if index == 30:
        raise RuntimeError("disk full")
    return real_make(index, seed, n)
writer.make_galaxy = broken
simulate.write_universe(n=48, out=sys.argv[1], workers=2, progress=False)
"""


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(),
    reason="the patched renderer reaches the workers only when they are forked",
)
def test_worker_failure_leaves_nothing(tmp_path: Path) -> None:
    # A fresh interpreter: this one has imported TensorFlow, so its pools would not fork.
    done = subprocess.run(
        [sys.executable, "-c", _BROKEN_WORKER, str(tmp_path / "u")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "RuntimeError: disk full" in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs", [{"n": 0}, {"n": -3}, {"n": 2.5}, {"n": 4, "seed": -1}, {"n": 4, "workers": 0}]
)
def test_bad_arguments(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(GalaxyLabError, match=re.escape(str(tmp_path / "bad"))):
        simulate.write_universe(out=tmp_path / "bad", progress=False, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_then_refuses(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "galaxylab",
        "simulate",
        "--n",
        "20",
        "--out",
        str(out),
        "--seed",
        "1",
    ]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert len(_labels(out)) == 20
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and str(out) in lines[0]
    assert len(_labels(out)) == 20


def test_expected_labels_are_the_crowd_limit() -> None:
    """A very large crowd's votes converge to expected_labels (Q6 renormalised included)."""
    for galaxy_type in ("disk", "merger", "artifact"):
        rng = np.random.default_rng(4)
        params = simulate.sample_params(rng, galaxy_type)
        crowd = volunteers.vote(params, rng, 40000)
        assert np.abs(crowd - volunteers.expected_labels(params)).max() < 0.015
        assert tree.check(pd.DataFrame([crowd], columns=tree.COLUMNS), 1e-9).empty


def test_faint_features_are_missed_more() -> None:
    """Shrinking and dimming a spiral lowers the share of volunteers who see its arms."""
    params = simulate.sample_params(np.random.default_rng(0), "disk")
    params.inclination, params.n_arms, params.arm_pattern = 20.0, 2, "grand"
    params.arm_strength, params.bulge_fraction = 0.3, 0.1
    clear = volunteers.expected_labels(params)
    params.surface_brightness /= 20.0
    params.disk_scale /= 4.0
    faint = volunteers.expected_labels(params)
    arms = tree.COLUMN_INDEX["Class4.1"]
    assert faint[arms] < clear[arms] - 0.2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=37, max_size=37), st.integers(0, 3))
def test_round_tree_keeps_sums_exact(raw: list[float], shift: int) -> None:
    cumulative = tree.normalise(np.asarray(raw) + 1e-3 * shift)
    units = volunteers.round_tree(cumulative, 6)
    assert tree.check(pd.DataFrame(units / 1e6, columns=tree.COLUMNS), 1e-9).empty
    assert np.abs(units / 1e6 - cumulative).max() < 1e-5


def test_render_galaxy_for_notebooks() -> None:
    rng = np.random.default_rng(1)
    image = simulate.render_galaxy(simulate.sample_params(rng, "elliptical"), rng)
    assert image.shape == (simulate.IMAGE_SIZE, simulate.IMAGE_SIZE, 3)
    assert image.dtype == np.uint8
