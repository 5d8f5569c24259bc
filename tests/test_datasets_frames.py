"""Frame-path resolution on small fake dataset trees built here, one per distributed layout."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from microexp.datasets import load
from microexp.datasets.check import find_problems
from microexp.errors import InputError


def _frames(folder: Path, numbers, pattern="img{}.jpg"):
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (folder / pattern.format(n)).write_bytes(b"")


def _csv(path: Path, header: list[str], rows: list[list]):
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=header).to_csv(path, index=False)


def test_casme2_raw_layout(tmp_path):
    root = tmp_path / "CASME2"
    _csv(root / "CASME2-coding-20190701.csv", ["Subject", "Filename", "", "OnsetFrame", "ApexFrame", "OffsetFrame",
                                               " ", "Action Units", "Estimated Emotion", "Objective Classes"],
         [["01", "EP02_01f", "", 8, 10, 12, "", "12", "happiness", 1],
          ["02", "EP03_02", "", 2, 3, 30, "", "4+7", "disgust", 3],
          ["02", "EP09_01", "", 1, 2, 3, "", "4", "others", 7]])
    (root / "CASME2-coding-20190701.csv").rename(root / "CASME2-coding-20190701.xlsx.csv")
    _frames(root / "CASME2_RAW_selected" / "sub01" / "EP02_01f", range(8, 13))  # img8..img12, img10 after img9
    _frames(root / "CASME2_RAW_selected" / "sub02" / "EP03_02", range(2, 6))  # offset 30 is missing
    df = load("casme2", root, annotation=root / "CASME2-coding-20190701.xlsx.csv")
    r0, r1, r2 = df.iloc[0], df.iloc[1], df.iloc[2]
    assert r0["frames_dir"].endswith("sub01/EP02_01f") and r0["n_frames"] == 5
    assert [Path(p).name for p in r0["frames"]] == [f"img{n}.jpg" for n in range(8, 13)]  # numeric order
    assert (r0["first_frame"], r0["onset"], r0["apex"], r0["offset"], r0["frames_ok"]) == (8, 0, 2, 4, True)
    assert not r1["frames_ok"]
    assert r2["frames_dir"] == ""
    probs = find_problems(df)
    assert set(probs["problem"]) == {"annotated frames do not exist in the folder", "frame folder missing"}


def test_casme2_cropped_folder_chosen_explicitly(tmp_path):
    root = tmp_path / "c2"
    _csv(root / "coding.csv", ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Estimated Emotion"],
         [["1", "EP02_01f", 46, 59, 86, "happiness"]])
    _frames(root / "CASME2_RAW_selected" / "sub01" / "EP02_01f", range(46, 87))
    _frames(root / "Cropped" / "sub01" / "EP02_01f", range(46, 87), "reg_img{}.jpg")
    df = load("casme2", root, annotation=root / "coding.csv", frames_dir="Cropped")
    assert Path(df["frames"].iloc[0][0]).name == "reg_img46.jpg" and df["apex"].iloc[0] == 13


def test_samm_layout(tmp_path):
    root = tmp_path / "SAMM"
    _csv(root / "SAMM_Micro_FACS_Codes_v2.csv",
         ["Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Estimated Emotion"],
         [["006", "006_1_2", 5562, 5570, 5580, "Anger"]])
    _frames(root / "SAMM" / "006" / "006_1_2", range(5562, 5581), "006_{:05d}.jpg")
    df = load("samm", root, annotation=root / "SAMM_Micro_FACS_Codes_v2.csv")
    r = df.iloc[0]
    assert r["n_frames"] == 19 and (r["onset"], r["apex"], r["offset"]) == (0, 8, 18) and r["frames_ok"]


def test_smic_cut_and_e_layouts(tmp_path):
    header = ["Subject", "Filename", "OnsetF", "OffsetF", "FirstF", "Emotion"]
    root = tmp_path / "SMIC"
    _csv(root / "SMIC-HS-E_annotation.csv", header, [[1, "s1_ne_01", 559740, 559750, 559730, ""]])
    _frames(root / "SMIC-E_raw image" / "HS_long" / "SMIC-HS-E" / "s01" / "s1_ne_01", range(559730, 559760),
            "image{:07d}.jpg")
    df = load("smic", root, annotation=root / "SMIC-HS-E_annotation.csv")
    r = df.iloc[0]
    assert r["emotion"] == "negative" and r["apex"] is pd.NA and r["fps"] == 100
    assert (r["first_frame"], r["onset"], r["offset"]) == (559730, 10, 20) and r["frames_ok"]
    cut = tmp_path / "SMIC_all_raw"
    _csv(cut / "smic.csv", ["Subject", "Filename", "OnsetFrame", "OffsetFrame", "Emotion"],
         [["s1", "s1_po_02", 100, 104, "positive"]])
    _frames(cut / "HS" / "s1" / "micro" / "positive" / "s1_po_02", range(100, 105), "image{:06d}.bmp")
    df = load("smic", cut, annotation=cut / "smic.csv")
    assert df["frames_dir"].iloc[0].endswith("s1/micro/positive/s1_po_02") and df["frames_ok"].iloc[0]


def test_samm_lv_layout(tmp_path):
    root = tmp_path / "SAMM_LV"
    _csv(root / "SAMM_LongVideos_V2_Release.csv",
         ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type", "Action Units"],
         [["006", "006_1_1", 1, 2.4, 3.6, 5.2, 3.8, "Macro", "4"],
          ["006", "006_1_2", 1, 0, -1, 4, 5, "Micro - 1/2", "4+7"]])
    _frames(root / "SAMM_longvideos" / "006_1", range(1, 8), "006_1_{:04d}.jpg")
    df = load("samm_lv", root, annotation=root / "SAMM_LongVideos_V2_Release.csv")
    r0, r1 = df.iloc[0], df.iloc[1]
    assert (r0["onset_annot"], r0["apex_annot"], r0["offset_annot"], r0["onset"], r0["offset"]) == (2, 4, 5, 1, 4)
    assert r0["frames_ok"] and r0["n_frames"] == 7
    assert r1["apex"] is pd.NA and not r1["frames_ok"]  # onset 0 has no file (frames start at 1)
    assert (r1["onset_annot"], r1["onset"], r1["clipped"]) == (0, 0, True)


def test_casme_sq_layout_with_folder_quirk(tmp_path):
    root = tmp_path / "CASME^2"
    path = root / "CAS(ME)^2code_final.xlsx"
    path.parent.mkdir(parents=True)
    main = pd.DataFrame([[1, "anger1_1", 3, 4, 6, "4", "negative", "macro-expression", "anger"],
                         [1, "happy1_1", 2, 3, 0, "12", "positive", "micro-expression", "happyiness"],
                         [2, "happy1_1", 2, 3, 4, "12", "positive", "micro-expression", "happiness"]])
    rule1 = pd.DataFrame([[15, "s15", 1], [19, "s19", 2]])
    rule2 = pd.DataFrame([["0401", "anger1"], ["0502", "happy1"]])
    with pd.ExcelWriter(path) as w:
        main.to_excel(w, sheet_name="CASFEcode_final", header=False, index=False)
        rule1.to_excel(w, sheet_name="naming rule1", header=False, index=False)
        rule2.to_excel(w, sheet_name="naming rule2", header=False, index=False)
    _frames(root / "rawpic" / "s15" / "15_0401girlcrashing", range(1, 8))
    _frames(root / "rawpic" / "s15" / "15_0502funnyerrors", range(1, 8))
    _frames(root / "rawpic" / "s19" / "23_0502funnyerrors", range(1, 8))  # the real tree's quirk
    (root / "rawvideo" / "s15").mkdir(parents=True)
    (root / "rawvideo" / "s15" / "15_0401girlcrashing.avi").write_bytes(b"")
    df = load("casme_sq", root)
    assert list(df["video"]) == ["s15_0401", "s15_0502", "s19_0502"]
    assert df["frames_dir"].iloc[2].endswith("s19/23_0502funnyerrors")
    assert (df["offset_annot"].iloc[1], df["offset"].iloc[1]) == (3, 2) and bool(df["offset_missing"].iloc[1])
    assert df["video_path"].iloc[0].endswith("15_0401girlcrashing.avi") and df["video_path"].iloc[1] == ""
    assert (df["onset"].iloc[0], df["offset"].iloc[0]) == (2, 5) and df["frames_ok"].all()
    assert df["fps"].eq(30).all()


def test_casme3_layout(tmp_path):
    root = tmp_path / "CASME3"
    _csv(root / "CAS(ME)3_part_A_v2.csv",
         ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class"],
         [["spNO.1", "a", "3", "4", "5", "4", "Micro-expression", "II"]])
    _frames(root / "part_A" / "RGB" / "spNO.1" / "a" / "color", range(1, 9), "{}.jpg")
    df = load("casme3", root, annotation=root / "CAS(ME)3_part_A_v2.csv")
    r = df.iloc[0]
    assert r["frames_dir"].endswith("spNO.1/a/color") and (r["onset"], r["offset"]) == (2, 4)
    assert r["objective_class"] == 2 and r["video"] == "spNO.1_a"


def test_mmew_and_4dme_layouts(tmp_path):
    root = tmp_path / "MMEW"
    _csv(root / "MMEW_Micro_Exp.csv", ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame",
                                       "Action Units", "Estimated Emotion", "remarks"],
         [["S13", "S13-07-001", 1, 3, 5, "4", "disgust", ""]])
    _frames(root / "MMEW_Final" / "Micro_Expression" / "disgust" / "S13-07-001", range(1, 6), "{}.jpg")
    df = load("mmew", root, annotation=root / "MMEW_Micro_Exp.csv")
    assert df["subject"].iloc[0] == "13" and df["frames_ok"].iloc[0] and df.attrs["checked"] is False
    root = tmp_path / "4DME"
    _csv(root / "4dme.csv", ["sub_ID", "fold_name", "Onset", "Apex", "Offset", "AUs", "Emotion"],
         [["S01", "S01_001", 10, 12, 14, "AU4", "negative"]])
    _frames(root / "gray_micro" / "S01" / "S01_001", range(10, 15), "Frame_{:09d}.jpg")
    df = load("4dme", root, annotation=root / "4dme.csv")
    assert df["frames_ok"].iloc[0] and df["apex"].iloc[0] == 2


def test_load_finds_annotation_and_reports_missing(tmp_path):
    with pytest.raises(InputError, match="no casme2 annotation file"):
        load("casme2", tmp_path)
    with pytest.raises(InputError, match="not found"):
        load("casme2", tmp_path / "nope")
