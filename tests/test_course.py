"""The course's data switch: GALAXYLAB_SOURCE picks the catalog, quick mode keeps it small,
and the synthetic truth table lines up with the catalog."""

from __future__ import annotations

import pandas as pd
import pytest

from galaxylab import course, datasets
from galaxylab.errors import GalaxyLabError


@pytest.fixture()
def no_switches(monkeypatch):
    monkeypatch.delenv(course.SOURCE_ENV, raising=False)
    monkeypatch.delenv("GALAXYLAB_QUICK", raising=False)


def test_without_a_source_the_course_uses_the_default_universe(no_switches, monkeypatch):
    sentinel = pd.DataFrame({"id": ["x"]})
    monkeypatch.setattr(datasets, "load_default", lambda: sentinel)
    assert course.source() is None
    assert course.catalog() is sentinel


def test_the_environment_variable_switches_every_catalog(no_switches, monkeypatch, small_universe):
    monkeypatch.setenv(course.SOURCE_ENV, str(small_universe))
    assert course.source() == small_universe
    table = course.catalog()
    pd.testing.assert_frame_equal(table, datasets.load(small_universe))
    assert table.attrs["root"] == str(small_universe.absolute())


def test_an_explicit_source_wins_and_bad_sources_are_named(
    no_switches, monkeypatch, tmp_path, small_universe
):
    monkeypatch.setenv(course.SOURCE_ENV, str(tmp_path / "nowhere"))
    assert len(course.catalog(small_universe)) == 160
    with pytest.raises(GalaxyLabError, match="nowhere"):
        course.catalog()


def test_quick_mode_samples_real_catalogs(no_switches, monkeypatch, small_universe):
    monkeypatch.setattr(course, "QUICK_REAL_LIMIT", 50)
    assert len(course.catalog(small_universe)) == 160  # quick mode off: everything
    monkeypatch.setenv("GALAXYLAB_QUICK", "1")
    first, again = course.catalog(small_universe), course.catalog(small_universe)
    other = course.catalog(small_universe, seed=1)
    assert len(first) == 50 and first["id"].tolist() == again["id"].tolist()
    assert first["id"].tolist() != other["id"].tolist()
    assert first.attrs["label_columns"] == datasets.load(small_universe).attrs["label_columns"]


def test_truth_lines_up_with_any_catalog_order(small_universe):
    table = datasets.load(small_universe).sample(frac=1.0, random_state=0)
    truth = course.truth(table)
    assert truth["id"].tolist() == table["id"].tolist()
    assert truth.index.equals(table.index)
    raw = pd.read_csv(small_universe / "truth.csv", dtype={"GalaxyID": str}).set_index("GalaxyID")
    first = table["id"].iloc[0]
    assert truth["true_Class1.1"].iloc[0] == raw.loc[first, "true_Class1.1"]
    unrooted = table.copy()
    unrooted.attrs = {}
    assert course.truth(unrooted) is None
    stranger = table.copy()
    stranger.loc[stranger.index[0], "id"] = "999"
    with pytest.raises(GalaxyLabError, match="no row for galaxy 999"):
        course.truth(stranger)


def test_environment_reports_what_a_student_checks(no_switches):
    report = course.environment()
    assert report["keras"].startswith("3.")
    assert report["quick_mode"] is False
    assert report["source"].startswith("synthetic")
    assert isinstance(report["gpus"], list)


def test_real_catalog_is_the_builtin_sample_unless_a_source_is_set(
    no_switches, monkeypatch, small_universe, capsys
):
    gz1 = course.real_catalog("gz1-desi")
    assert gz1.attrs["source"] == "gz1" and len(gz1) == 1199
    monkeypatch.setenv(course.SOURCE_ENV, str(small_universe))
    assert len(course.real_catalog("kaggle-sample")) == 160  # the user's own data wins
    assert len(course.real_catalog("gz1-desi")) == 1199  # a Kaggle layout has no GZ1 columns
    assert "is a kaggle source" in capsys.readouterr().out
    with pytest.raises(GalaxyLabError, match="no built-in sample 'sdss'"):
        course.real_catalog("sdss")
