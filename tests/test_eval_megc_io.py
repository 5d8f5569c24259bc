"""MEGC submission CSV and MEGC2020 baseline text files: readers, writers, error messages."""

from __future__ import annotations

import pandas as pd
import pytest

from microexp.errors import AnnotationError, InputError
from microexp.eval.megc_io import (
    read_megc2020_gt,
    read_megc2020_predictions,
    read_megc_csv,
    write_interval_log,
    write_megc2020_gt,
    write_megc2020_predictions,
    write_megc_csv,
)

from conftest import SHARED, shared_path

REAL_CSVS = sorted((SHARED / "realdata").rglob("*_pred.csv")) if SHARED.exists() else []


@pytest.mark.parametrize("path", REAL_CSVS, ids=lambda p: str(p.relative_to(SHARED)))
def test_reads_every_real_submission_csv(path):
    df = read_megc_csv(path)
    assert list(df.columns[:4]) == ["video", "onset", "offset", "type"]
    assert len(df) > 0 and set(df["type"]) <= {"me", "mae"}
    assert (df["offset"] >= df["onset"]).all()
    raw = pd.read_csv(path)
    assert len(df) == len(raw)


def test_real_csvs_present():
    shared_path("realdata")
    assert len(REAL_CSVS) >= 8


def test_round_trip_and_frame_base(tmp_path):
    df = pd.DataFrame({"video": ["001_2", "sub01"], "onset": [10, 0], "offset": [20, 5], "type": ["me", "mae"]})
    path = write_megc_csv(df, tmp_path / "p.csv", frame_base=1)
    assert path.read_text().splitlines()[0] == "vid,pred_onset,pred_offset,type"
    assert path.read_text().splitlines()[1] == "001_2,11,21,me"  # the file is 1-based
    back = read_megc_csv(path, frame_base=1)  # the table is 0-based again, the file's numbers alongside
    assert "frame_base" not in back.attrs
    assert back["onset"].tolist() == [10, 0] and back["onset_annot"].tolist() == [11, 1]
    assert back["video"].tolist() == ["001_2", "sub01"]
    pd.testing.assert_frame_equal(back[list(df.columns)], df)
    again = write_megc_csv(back, tmp_path / "q.csv", frame_base=0)
    assert again.read_text().splitlines()[1] == "001_2,10,20,me"
    pd.testing.assert_frame_equal(read_megc_csv(again)[list(df.columns)], df)


def test_alternative_header_and_extras(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("vid,onset,offset,type,emotion,confidence\ndzw_a1,6,46,Macro,happy,0.5\n")
    df = read_megc_csv(p)
    assert df.iloc[0].to_dict() == {"video": "dzw_a1", "onset": 6, "offset": 46, "type": "mae",
                                    "emotion": "happy", "confidence": 0.5}


@pytest.mark.parametrize("text, problem", [
    ("vid,pred_onset,type\nv,1,me\n", r"missing column\(s\) 'offset'"),
    ("vid,pred_onset,pred_offset,type\nv,1,3,me\nv,9,4,me\n", r"row 3: offset 4 is before onset 9"),
    ("vid,pred_onset,pred_offset,type\nv,1,3,me\nv,x,4,me\n", r"row 3: onset 'x' is not a whole frame number"),
    ("vid,pred_onset,pred_offset,type\nv,1,3.5,me\n", r"row 2: offset '3.5' is not a whole frame number"),
    ("vid,pred_onset,pred_offset,type\nv,1,3,blink\n", r"row 2: type 'blink' is not me/mae"),
    ("", r"empty file"),
])
def test_bad_csv_one_line_error_names_file_and_row(tmp_path, text, problem):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(AnnotationError, match=problem) as err:
        read_megc_csv(p)
    msg = str(err.value)
    assert msg.startswith(str(p)) and "\n" not in msg


def test_missing_file_and_bad_base(tmp_path):
    with pytest.raises(InputError, match="no such"):
        read_megc_csv(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="frame_base"):
        read_megc_csv(tmp_path / "nope.csv", frame_base=2)


def test_megc2020_text_files_round_trip(tmp_path):
    gt_txt = tmp_path / "all_Info.txt"
    gt_txt.write_text("s15 0401 macro-expression 557.0 572.0 608.0\n006 1 micro-expression 3562 3588 3632\n")
    gt = read_megc2020_gt(gt_txt)
    assert "frame_base" not in gt.attrs
    assert gt[["video", "onset", "offset", "type"]].values.tolist() == [
        ["s15_0401", 556, 607, "mae"], ["006_1", 3561, 3631, "me"]]
    assert gt["onset_annot"].tolist() == [557, 3562] and gt["apex_annot"].tolist() == [572, 3588]
    write_megc2020_gt(gt, tmp_path / "again.txt")
    pd.testing.assert_frame_equal(read_megc2020_gt(tmp_path / "again.txt"), gt, check_like=True)

    pred = pd.DataFrame({"video": ["s15_0401"] * 3, "onset": [0, 9, 99], "offset": [4, 29, 115], "score": 1.0})
    write_megc2020_predictions(pred, tmp_path / "p1")
    assert (tmp_path / "p1" / "s15_0401.txt").read_text().splitlines()[0] == "1 5 1.0"  # 1-based on disk
    me = read_megc2020_predictions(tmp_path / "p1", "micro", length_range=(7, 16))
    assert me[["onset", "offset"]].values.tolist() == []  # lengths 5, 21, 17: none in 7..16
    mae = read_megc2020_predictions(tmp_path / "p1", "macro", length_range=(17, None))
    assert mae[["onset", "offset", "type"]].values.tolist() == [[9, 29, "mae"], [99, 115, "mae"]]


def test_real_mdmd_files_parse():
    root = shared_path("realdata", "HeyingGithub__Baseline-project-for-MEGC2020_spotting", "MDMD_results")
    cas = read_megc2020_gt(root / "dataset_new/data/CAS(ME)^2_Sets/all_Info.txt")
    samm = read_megc2020_gt(root / "dataset_new/data/SAMM_MEGC_Sets/all_Info.txt")
    assert len(cas) == 357 and len(samm) == 502
    assert cas["type"].value_counts().to_dict() == {"mae": 300, "me": 57}
    assert ((samm["type"] == "mae") & (samm["onset_annot"] == 0)).sum() == 10
    assert ((samm["type"] == "mae") & (samm["onset"] == -1)).sum() == 10  # annotated 0 = before frame 1
    raw = read_megc2020_predictions(root / "results_API/ME2_micro_txtClips/p1", "me")
    assert raw["video"].nunique() <= 98 and len(raw) == 24648  # metrics.md §6.1 step 4: unfiltered count


def test_interval_log_format(tmp_path):
    log = pd.DataFrame({"video": ["v", "v"], "gt_onset": pd.array([3, None], dtype="Int64"),
                        "gt_offset": pd.array([9, None], dtype="Int64"), "pred_onset": pd.array([None, 1], dtype="Int64"),
                        "pred_offset": pd.array([None, 2], dtype="Int64"), "label": ["FN", "FP"]})
    text = write_interval_log(log, tmp_path / "log.txt").read_text()
    assert text.splitlines() == ["v\t3\t9\t-\t-\tFN", "v\t-\t-\t1\t2\tFP"]
