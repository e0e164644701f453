"""Galaxy Zoo 1 sources: detection, the catalog, validation, the three classes from flags or
fractions, and the tasks, training and scoring that use them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxylab import cli, datasets, evaluate, labels, tree
from galaxylab.datasets import gz1
from galaxylab.datasets.catalog import EXTRA_COLUMNS, KINDS
from galaxylab.errors import GalaxyLabError
from galaxylab.train.config import TrainConfig

TABLE = "gz1_desi_votes.csv"
N = 8


def build(gz1_sample: Path, root: Path, n: int = N) -> Path:
    """A GZ1 folder of the first ``n`` galaxies of the built-in sample (no SAMPLE.json)."""
    table = pd.read_csv(gz1_sample / TABLE, dtype=str).head(n)
    (root / gz1.IMAGES_DIR).mkdir(parents=True)
    table.to_csv(root / TABLE, index=False)
    for name in table["dr8_id"]:
        shutil.copy(gz1_sample / gz1.IMAGES_DIR / f"{name}.jpg", root / gz1.IMAGES_DIR)
    return root


@pytest.fixture
def small(gz1_sample: Path, tmp_path: Path) -> Path:
    return build(gz1_sample, tmp_path / "gz1")


def edit(root: Path, change: Callable[[pd.DataFrame], object]) -> None:
    table = pd.read_csv(root / TABLE, dtype=str, keep_default_na=False)
    result = change(table)
    (table if result is None else result).to_csv(root / TABLE, index=False)


# --- detection and the catalog ---


def test_a_gz1_folder_is_detected_and_loaded(small: Path) -> None:
    assert datasets.detect_source(small) == "gz1"
    catalog = datasets.load(small)
    table = pd.read_csv(small / TABLE, dtype=str)
    assert len(catalog) == N
    assert catalog.attrs == {"source": "gz1", "root": str(small.absolute()), "label_columns": []}
    assert catalog["id"].tolist() == table["OBJID"].tolist()
    assert catalog[list(tree.COLUMNS)].isna().all().all()  # never filled from GZ1 fractions
    assert Path(catalog["image"][0]) == (small / "images" / f"{table['dr8_id'][0]}.jpg").absolute()
    for column, name in gz1.CATALOG_COLUMNS.items():
        assert name in EXTRA_COLUMNS
        assert np.allclose(catalog[name], table[column].astype(float)), column
    # 00:02:05.65, -11:12:38.1
    assert catalog["ra"][0] == pytest.approx(15 * (2 / 60 + 5.65 / 3600))
    assert catalog["dec"][0] == pytest.approx(-(11 + 12 / 60 + 38.1 / 3600))
    assert (catalog["frame_fraction"] == 1.0).all()  # a user's folder: whole images


def test_decimal_degrees_are_accepted(small: Path) -> None:
    edit(small, lambda t: t.assign(RA="10.5", DEC="-0.25"))
    catalog = datasets.load(small)
    assert (catalog["ra"] == 10.5).all() and (catalog["dec"] == -0.25).all()


@pytest.mark.parametrize("column", ["image", "IMAGE", "filename", "file"])
def test_other_image_columns_and_names_with_extensions(small: Path, column: str) -> None:
    def rename(table: pd.DataFrame) -> pd.DataFrame:
        table = table.rename(columns={"dr8_id": column})
        table.loc[:3, column] = table.loc[:3, column] + ".jpg"  # half with, half without
        return table

    edit(small, rename)
    catalog = datasets.load(small)
    assert len(catalog) == N and all(Path(p).is_file() for p in catalog["image"])


def test_gz1_table_columns_must_be_complete(small: Path) -> None:
    edit(small, lambda t: t.drop(columns=["NVOTE", "P_MG"]))
    with pytest.raises(GalaxyLabError, match=r"missing column\(s\) NVOTE, P_MG; a Galaxy Zoo 1"):
        datasets.load(small)
    edit(small, lambda t: t.rename(columns={"dr8_id": "name"}))
    with pytest.raises(GalaxyLabError, match="dr8_id or image or IMAGE or filename or file"):
        datasets.inspect(small)


def test_a_gz1_table_without_images_folder(small: Path) -> None:
    shutil.rmtree(small / "images")
    with pytest.raises(GalaxyLabError, match=r"no images/ folder beside gz1_desi_votes\.csv"):
        datasets.load(small)


@pytest.mark.parametrize(
    ("column", "match"),
    [("OBJID", r"duplicate OBJID \d+ on lines 2, 4"), ("dr8_id", r"duplicate image dr8_id")],
)
def test_duplicates_are_structural(small: Path, column: str, match: str) -> None:
    def duplicate(table: pd.DataFrame) -> None:
        table.loc[2, column] = table.loc[0, column]

    edit(small, duplicate)
    for read in (datasets.load, datasets.inspect):
        with pytest.raises(GalaxyLabError, match=match):
            read(small)


# --- row problems: one clear line each, reported by inspect ---


def _set(column: str, value: str, row: int = 3) -> Callable[[pd.DataFrame], None]:
    def change(table: pd.DataFrame) -> None:
        table.loc[row, column] = value

    return change


def _flags(spiral: str, elliptical: str, uncertain: str) -> Callable[[pd.DataFrame], None]:
    def change(table: pd.DataFrame) -> None:
        table.loc[3, ["SPIRAL", "ELLIPTICAL", "UNCERTAIN"]] = [spiral, elliptical, uncertain]

    return change


def _shift_dk(table: pd.DataFrame) -> None:
    table.loc[3, "P_DK"] = str(float(table.loc[3, "P_DK"]) + 0.05)


CASES = {
    "outside [0, 1]": (_set("P_EL_DEBIASED", "1.2"), "out_of_range_values", r"= 1.2 is outside"),
    "sum off 1": (_shift_dk, "fraction_sum_errors", r"P_EL \+ P_CW .* = 1\.\d+, not 1"),
    "two flags": (_flags("1", "1", "0"), "flag_errors", r"are 1, 1, 0; exactly one must be 1"),
    "no flag": (_flags("0", "0", "0"), "flag_errors", r"are 0, 0, 0; exactly one"),
    "non-numeric": (_set("P_CS", "lots"), "invalid_values", r"P_CS is not a number \('lots'\)"),
    "missing value": (_set("P_EL", ""), "invalid_values", r"P_EL is empty"),
    "bad RA": (_set("RA", "25:99:00"), "invalid_values", r"RA '25:99:00' is not an angle"),
    "empty DEC": (_set("DEC", ""), "invalid_values", r"DEC is empty"),
    "zero votes": (_set("NVOTE", "0"), "bad_vote_counts", r"NVOTE = 0 is not a positive integer"),
    "half a vote": (_set("NVOTE", "2.5"), "bad_vote_counts", r"NVOTE = 2.5 is not a positive"),
    "text votes": (_set("NVOTE", "many"), "bad_vote_counts", r"NVOTE is not a number"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_rows_fail_with_one_line_and_are_reported(small: Path, case: str) -> None:
    change, key, match = CASES[case]
    edit(small, change)
    objid = pd.read_csv(small / TABLE, dtype=str)["OBJID"][3]
    with pytest.raises(GalaxyLabError, match=match) as caught:
        datasets.load(small)
    message = str(caught.value)
    assert "\n" not in message and f"line 5 (OBJID {objid})" in message
    health = datasets.inspect(small)
    assert health["source"] == "gz1" and health[key] == 1, health
    assert health["rows_with_problems"] == 1
    with pytest.warns(datasets.DataWarning, match="dropped 1 of 8 rows"):
        assert len(datasets.load(small, on_bad="drop")) == N - 1


def test_rounding_of_the_fractions_is_tolerated(small: Path) -> None:
    def round_off(table: pd.DataFrame) -> None:  # six values rounded to 3 decimals: ±0.003
        table.loc[3, "P_DK"] = str(float(table.loc[3, "P_DK"]) + 0.003)

    edit(small, round_off)
    assert len(datasets.load(small)) == N
    assert 0.003 < gz1.SUM_TOLERANCE < 0.01


def test_missing_and_unreadable_images(small: Path) -> None:
    names = pd.read_csv(small / TABLE, dtype=str)["dr8_id"]
    (small / "images" / f"{names[1]}.jpg").unlink()
    victim = small / "images" / f"{names[2]}.jpg"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    with pytest.raises(GalaxyLabError, match=rf"{names[1]}\.jpg \(OBJID \d+\): image not found"):
        datasets.load(small)
    health = datasets.inspect(small)
    assert health["missing_images"] == 1 and health["unreadable_images"] == 1


def test_every_gz1_kind_has_a_report_key() -> None:
    keys = {KINDS[k].report_key for k in ("fraction_sum", "flag_count", "bad_vote_count")}
    assert keys == {"fraction_sum_errors", "flag_errors", "bad_vote_counts"}


# --- three classes: flags, raw and debiased ---


def _gz1_catalog(rows: list[dict[str, float]]) -> pd.DataFrame:
    extra = {
        name: [row.get(column, 0.0) for row in rows] for column, name in gz1.CATALOG_COLUMNS.items()
    }
    return datasets.make_catalog(
        [str(i) for i in range(len(rows))],
        [f"/x/{i}.jpg" for i in range(len(rows))],
        None,
        source="gz1",
        root="/x",
        extra=extra,
    )


def test_flags_raw_and_debiased_give_the_documented_classes() -> None:
    catalog = _gz1_catalog(
        [
            # raw says elliptical, the debiased fraction and the flags do not
            {"P_EL": 0.85, "P_CS": 0.1, "P_EL_DEBIASED": 0.7, "P_CS_DEBIASED": 0.2, "UNCERTAIN": 1},
            # spiral by every measure
            {"P_EL": 0.1, "P_CS": 0.82, "P_EL_DEBIASED": 0.05, "P_CS_DEBIASED": 0.9, "SPIRAL": 1},
            # debiasing makes it elliptical; raw leaves it unsure
            {
                "P_EL": 0.6,
                "P_CS": 0.3,
                "P_EL_DEBIASED": 0.81,
                "P_CS_DEBIASED": 0.1,
                "ELLIPTICAL": 1,
            },
            # flagged uncertain although its debiased fraction passes 0.8
            {"P_EL": 0.1, "P_CS": 0.8, "P_EL_DEBIASED": 0.1, "P_CS_DEBIASED": 0.85, "UNCERTAIN": 1},
        ]
    )
    classes = {
        mode: labels.three_class(catalog, gz1_labels=mode).tolist()
        for mode in ("flags", "raw", "debiased")
    }
    assert classes == {
        "flags": ["unsure", "spiral", "elliptical", "unsure"],
        "raw": ["elliptical", "spiral", "unsure", "spiral"],
        "debiased": ["unsure", "spiral", "elliptical", "spiral"],
    }
    assert labels.three_class(catalog, 0.9, gz1_labels="raw").tolist() == ["unsure"] * 4
    assert labels.three_class(catalog).tolist() == classes["flags"]  # flags by default


def test_flags_that_are_not_exactly_one_give_no_class() -> None:
    catalog = _gz1_catalog([{"SPIRAL": 1, "ELLIPTICAL": 1}, {}, {"UNCERTAIN": 1}])
    assert labels.three_class(catalog).isna().tolist() == [True, True, False]


def test_the_real_sample_counts_by_flags_raw_and_debiased(gz1_sample: Path) -> None:
    catalog = datasets.load("gz1-desi", check_images=False)
    table = pd.read_csv(gz1_sample / TABLE)
    assert labels.three_class_counts(catalog) == {"elliptical": 166, "spiral": 806, "unsure": 227}
    for mode, (el, cs) in {
        "raw": ("P_EL", "P_CS"),
        "debiased": ("P_EL_DEBIASED", "P_CS_DEBIASED"),
    }.items():
        counts = labels.three_class_counts(catalog, gz1_labels=mode)
        elliptical = table[el] >= 0.8
        assert counts is not None
        assert counts["elliptical"] == int(elliptical.sum())
        assert counts["spiral"] == int(((table[cs] >= 0.8) & ~elliptical).sum())


def test_gz1_labels_is_checked_and_ignored_elsewhere(real_sample: Path) -> None:
    kaggle = datasets.load(real_sample, check_images=False)
    assert labels.three_class(kaggle, gz1_labels="raw").equals(labels.three_class(kaggle))
    with pytest.raises(GalaxyLabError, match="unknown gz1_labels 'votes'; choose one of flags"):
        labels.three_class(kaggle, gz1_labels="votes")
    with pytest.raises(GalaxyLabError, match="unknown gz1_labels"):
        labels.targets("three-class", kaggle, gz1_labels="votes")


# --- tasks, training and scoring ---


def test_targets_follow_gz1_labels(small: Path) -> None:
    catalog = datasets.load(small)
    _, by_flags = labels.targets("three-class", catalog)
    _, by_raw = labels.targets("three-class", catalog, gz1_labels="raw")
    expected = labels.class_indices(labels.three_class(catalog, gz1_labels="raw").astype(str))
    assert by_raw.tolist() == expected.tolist()
    assert by_flags.tolist() != by_raw.tolist()  # these eight galaxies differ


def test_the_decision_tree_task_refuses_a_gz1_catalog(small: Path) -> None:
    with pytest.raises(GalaxyLabError, match="Galaxy Zoo 1 table has none.*three-class") as caught:
        labels.targets("decision-tree", datasets.load(small))
    assert "\n" not in str(caught.value)


def test_train_config_records_gz1_labels() -> None:
    config = TrainConfig(task="three-class", gz1_labels="debiased")
    assert config.to_dict()["gz1_labels"] == "debiased"
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert TrainConfig.from_dict({**config.to_dict(), "gz1_labels": None}).gz1_labels == "flags"
    assert TrainConfig(task="three-class").gz1_labels == "flags"
    with pytest.raises(GalaxyLabError, match="unknown gz1_labels 'all'"):
        TrainConfig(task="three-class", gz1_labels="all")


def test_the_cli_takes_gz1_labels(capsys: pytest.CaptureFixture) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(
        ["train", "--task", "three-class", "--data", "gz1-desi"] + ["--out", "r"]
    )
    assert args.gz1_labels == "flags"
    args = parser.parse_args(
        ["train", "--task", "three-class", "--data", "x", "--out", "r", "--gz1-labels", "raw"]
    )
    assert args.gz1_labels == "raw"
    with pytest.raises(SystemExit):
        parser.parse_args(
            ["train", "--task", "three-class", "--data", "x", "--out", "r"] + ["--gz1-labels", "x"]
        )
    assert "invalid choice" in capsys.readouterr().err


def test_training_passes_gz1_labels_to_the_targets(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from galaxylab.train import trainer

    seen: dict[str, object] = {}

    def stop(task: str, catalog: pd.DataFrame, **kwargs: object) -> None:
        seen.update(kwargs, task=task, source=catalog.attrs["source"])
        raise GalaxyLabError("stop here")

    monkeypatch.setattr(trainer.labels, "targets", stop)
    with pytest.raises(GalaxyLabError, match="stop here"):
        trainer.train(TrainConfig(task="three-class", gz1_labels="raw"), small, tmp_path / "run")
    assert seen == {"gz1_labels": "raw", "task": "three-class", "source": "gz1"}


@pytest.mark.parametrize("recorded", ["flags", "raw", None])
def test_evaluate_scores_with_the_runs_gz1_labels(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: str | None
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"")
    config = TrainConfig(task="three-class", gz1_labels=recorded or "flags").to_dict()
    if recorded is None:  # a run recorded before gz1_labels existed
        del config["gz1_labels"]
    (run / "config.json").write_text(json.dumps({**config, "data": "elsewhere", "split": {}}))
    scored: dict[str, np.ndarray] = {}

    def fake_score(task, model, catalog, y_true, **kwargs):  # noqa: ANN001, ANN202
        scored["y_true"] = y_true
        return {"task": task}

    monkeypatch.setattr(evaluate, "_load", lambda path: object())
    monkeypatch.setattr(evaluate, "score", fake_score)
    evaluate.evaluate(run / "model.keras", small, split="all")
    catalog = datasets.load(small)
    mode = recorded or "flags"
    expected = labels.class_indices(labels.three_class(catalog, gz1_labels=mode).astype(str))
    assert scored["y_true"].tolist() == expected.tolist()


def test_an_image_name_that_is_a_path_is_refused(small: Path) -> None:
    edit(small, lambda table: table.loc.__setitem__((1, "dr8_id"), "../../etc/passwd"))
    with pytest.raises(GalaxyLabError, match="line 3: image name .* is not a plain file name"):
        datasets.load(small)
