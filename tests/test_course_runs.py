"""Lesson settings per mode (course), cached course runs (train.course_runs), subset sources
(datasets.subset) and reading a RUN back (train.runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxylab import course, datasets, labels
from galaxylab.datasets import subset
from galaxylab.errors import GalaxyLabError
from galaxylab.train import course_runs, runs, trainer

# --------------------------------------------------------------------------- settings and runs


def test_lesson_follows_quick_mode(monkeypatch):
    monkeypatch.setenv("GALAXYLAB_QUICK", "1")
    assert course.lesson() == course.QUICK_LESSON
    monkeypatch.setenv("GALAXYLAB_QUICK", "0")
    assert course.lesson() == course.FULL_LESSON
    assert course.QUICK_LESSON.image_size < course.FULL_LESSON.image_size


def test_run_path_is_keyed_by_settings_and_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("GALAXYLAB_DATA", str(tmp_path))
    monkeypatch.setenv("GALAXYLAB_QUICK", "1")
    base = course_runs.run_settings("three-class", tmp_path / "src")
    same = course_runs.run_settings("three-class", tmp_path / "src")
    assert course_runs.run_path(base) == course_runs.run_path(same)
    assert course_runs.run_path(base).parent == tmp_path / "runs"
    assert base["balance"] == "oversample" and base["image_size"] == 32
    others = [
        course_runs.run_settings("three-class", tmp_path / "src", balance="weights"),
        course_runs.run_settings("three-class", tmp_path / "other"),
        course_runs.run_settings("three-class", tmp_path / "src", epochs=5),
        course_runs.run_settings("decision-tree", tmp_path / "src"),
    ]
    monkeypatch.setenv("GALAXYLAB_QUICK", "0")
    others.append(
        course_runs.run_settings(
            "three-class", tmp_path / "src", image_size=32, epochs=base["epochs"]
        )
    )
    paths = {course_runs.run_path(s) for s in [base, *others]}
    assert len(paths) == 1 + len(others)
    assert "full" in course_runs.run_path(others[-1]).name


def test_trained_run_trains_once_then_reuses(monkeypatch, tmp_path, small_universe):
    monkeypatch.setenv("GALAXYLAB_DATA", str(tmp_path))
    monkeypatch.setenv("GALAXYLAB_QUICK", "1")
    catalog = datasets.load(small_universe)
    run = course_runs.trained_run("three-class", catalog, image_size=16, epochs=1, progress=False)
    assert runs.is_complete_run(run.path) and run.path.parent == tmp_path / "runs"
    assert run.task == "three-class" and run.preprocessing.image_size == 16
    assert len(run.history) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("a cached run must not be trained again")

    monkeypatch.setattr(trainer, "train", refuse)
    again = course_runs.trained_run("three-class", catalog, image_size=16, epochs=1)
    assert again.path == run.path and again.config == run.config

    test = run.part(catalog, "test")
    assert list(test["id"].astype(str)) == [str(i) for i in run.config["split"]["test"]]
    assert test.attrs["root"] == catalog.attrs["root"]
    assert not set(test["id"]) & set(run.part(catalog, "train")["id"])
    model = run.model()
    assert model.output_shape == (None, 3)
    with pytest.raises(GalaxyLabError, match="splits"):
        run.part(catalog, "holdout")
    with pytest.raises(GalaxyLabError, match="not in this catalog"):
        run.part(catalog[~catalog["id"].astype(str).isin(test["id"])], "test")
    kept = run.part(
        catalog[~catalog["id"].astype(str).isin(test["id"][:2])], "test", missing="drop"
    )
    assert list(kept["id"]) == list(test["id"][2:])


def test_quick_mode_on_a_real_source_trains_on_the_sample(monkeypatch, tmp_path, small_universe):
    monkeypatch.setenv("GALAXYLAB_DATA", str(tmp_path / "cache"))
    catalog = datasets.load(small_universe)
    monkeypatch.setenv("GALAXYLAB_QUICK", "0")
    assert course_runs.training_source(catalog) == small_universe  # no GALAXYLAB_SOURCE
    monkeypatch.setenv("GALAXYLAB_SOURCE", str(small_universe))
    assert course_runs.training_source(catalog) == small_universe  # full mode: the whole source
    monkeypatch.setenv("GALAXYLAB_QUICK", "1")
    sample = catalog.sample(n=40, random_state=0)
    folder = course_runs.training_source(sample)
    assert folder.parent == tmp_path / "cache" / "runs" / "samples"
    assert subset.write_subset(sample) == folder  # written once, then reused
    again = datasets.load(folder)
    assert sorted(again["id"]) == sorted(sample["id"])
    merged = again.merge(sample, on="id", suffixes=("", "_src"))
    assert np.allclose(merged["Class4.1"], merged["Class4.1_src"], atol=1e-6)
    # A run trained on the sample finds its split's galaxies in the sampled catalog.
    run = runs.Run(
        path=tmp_path,
        config={"data": str(folder), "split": {"test": list(again["id"][:5])}},
        metrics={},
        history=pd.DataFrame(),
    )
    assert list(run.part(sample, "test")["id"]) == list(again["id"][:5])


def test_sample_source_of_class_folders(monkeypatch, tmp_path, small_universe):
    monkeypatch.setenv("GALAXYLAB_DATA", str(tmp_path / "cache"))
    universe = datasets.load(small_universe)
    names = labels.three_class(universe)
    source = tmp_path / "folders"
    for (_, row), name in list(zip(universe.iterrows(), names, strict=True))[:30]:
        (source / name).mkdir(parents=True, exist_ok=True)
        (source / name / f"g{row['id']}.jpg").write_bytes(open(row["image"], "rb").read())
    folders = datasets.load(source).head(12)
    folder = subset.write_subset(folders)
    again = datasets.load(folder)
    mapping = pd.read_csv(folder / subset.SAMPLE_IDS, dtype=str)
    assert len(again) == 12 and set(mapping["id"]) == set(again["id"])
    original = dict(zip(mapping["id"], mapping["original_id"], strict=True))
    new_labels = dict(zip(again["id"].map(original), labels.three_class(again), strict=True))
    old_labels = dict(zip(folders["id"], labels.three_class(folders), strict=True))
    assert new_labels == old_labels


def test_read_run_refuses_an_incomplete_folder(tmp_path):
    (tmp_path / runs.MODEL).write_bytes(b"")
    with pytest.raises(GalaxyLabError, match="not a complete run"):
        runs.read_run(tmp_path)
