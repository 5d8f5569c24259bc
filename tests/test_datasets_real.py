"""Exact counts from the spec (../shared/specs/datasets.md) on the real annotation files in ../shared."""

from __future__ import annotations

import pandas as pd
import pytest

from microexp.datasets import find_annotation, read_annotations
from microexp.datasets.check import find_problems

from conftest import shared_path

A = ("annotations",)


def _read(name, *parts):
    return read_annotations(name, shared_path(*A, *parts))


@pytest.mark.parametrize("fname, surprise, five", [
    ("CASME2-coding-20190701.xlsx", 28, 249), ("CASME2-coding-20140508.xlsx", 25, 246)])
def test_casme2_both_codings(fname, surprise, five):
    df = _read("casme2", "casme2", fname)
    assert len(df) == 255 and df["subject"].nunique() == 26
    assert sorted(df["subject"].unique())[:2] == ["01", "02"]  # text ids, zero padded
    assert (df["emotion"] == "surprise").sum() == surprise
    assert df.attrs["coding"] == ("2019" if "2019" in fname else "2014")
    p5 = _read("casme2_5class", "casme2", fname)
    assert len(p5) == five and p5["subject"].nunique() == 26
    assert set(p5["label"]) == {0, 1, 2, 3, 4}
    assert p5.groupby("label")["emotion"].first().tolist() == ["happiness", "repression", "disgust", "surprise",
                                                               "others"]  # MMNet's order


def test_casme2_mmnet_three_class():
    p3 = _read("casme2_3class_mmnet", "casme2", "CASME2-coding-20190701.xlsx")
    assert len(p3) == 156 and p3["subject"].nunique() == 25 and "18" not in set(p3["subject"])
    assert p3["label3"].value_counts().to_dict() == {"negative": 96, "positive": 32, "surprise": 28}


def test_casme2_2019_slash_apex_is_missing():
    df = _read("casme2", "casme2", "CASME2-coding-20190701.xlsx")
    row = df[(df["subject"] == "04") & (df["clip"] == "EP12_01f")].iloc[0]
    assert row["apex_annot"] is pd.NA and row["apex"] is pd.NA and bool(row["apex_missing"])
    assert df["apex_annot"].isna().sum() == 1
    first = df.iloc[0]
    assert (first["onset_annot"], first["apex_annot"], first["offset_annot"]) == (46, 59, 86)  # img46.jpg...
    assert (first["onset"], first["apex"], first["offset"]) == (0, 13, 40)  # 0-based in the clip


@pytest.mark.parametrize("fname", ["SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM_20181215_Micro_FACS_Codes_v2.xlsx"])
def test_samm_header_found_by_content(fname):
    df = _read("samm", "samm", fname)
    assert len(df) == 159 and df["subject"].nunique() == 29
    assert df["emotion"].value_counts().to_dict() == {
        "anger": 57, "other": 26, "happiness": 26, "surprise": 15, "contempt": 12, "disgust": 9, "fear": 8,
        "sadness": 6}
    assert df["subject"].iloc[0] == "006" and df["onset_annot"].iloc[0] == 5562 and df["onset"].iloc[0] == 0
    p5 = read_annotations("samm_5class", shared_path(*A, "samm", fname))
    assert len(p5) == 136 and p5["subject"].nunique() == 27


def test_samm_lv_v2():
    df = _read("samm_lv", "samm_lv", "SAMM_LongVideos_V2_Release.xlsx")
    assert len(df) == 502
    assert df["type"].value_counts().to_dict() == {"mae": 343, "me": 159}
    assert df["video"].nunique() == 147 and df["subject"].nunique() == 30
    first = df.iloc[0]  # 566.4 / 647.6 / 743.2 in the file
    assert (first["video"], first["onset_annot"], first["apex_annot"], first["offset_annot"]) == ("006_1", 566, 648, 743)
    assert (first["onset"], first["apex"], first["offset"]) == (565, 647, 742)  # files start at 006_1_0001
    assert df["apex"].isna().sum() == 6  # Apex = -1
    assert (df["onset_annot"] == 0).sum() == 10 and df["clipped"].sum() == 10
    assert (df.loc[df["clipped"], "onset"] == 0).all() and "frame_base" not in df.attrs
    assert df["fps"].eq(200).all()


def test_samm_lv_matches_mdmd_ground_truth():
    gt = shared_path("realdata", "HeyingGithub__Baseline-project-for-MEGC2020_spotting", "MDMD_results",
                     "dataset_new", "data", "SAMM_MEGC_Sets", "all_Info.txt")
    ref = pd.read_csv(gt, sep=r"\s+", header=None, dtype={0: str, 1: str})
    df = _read("samm_lv", "samm_lv", "SAMM_LongVideos_V2_Release.xlsx")
    a = sorted(zip(ref[0] + "_" + ref[1], ref[3].round().astype(int), ref[5].round().astype(int), strict=True))
    b = sorted(zip(df["video"], df["onset_annot"].astype(int), df["offset_annot"].astype(int), strict=True))
    assert a == b


def test_samm_lv_v3_like_copy():
    df = _read("samm_lv", "samm_lv", "SAMM_LongVideos.xlsx")  # header on row 1, integer frames
    assert len(df) == 502 and df["video"].nunique() == 147


def test_casme_sq():
    df = _read("casme_sq", "casme_sq", "code_final.xlsx")
    assert len(df) == 357
    assert df["type"].value_counts().to_dict() == {"mae": 300, "me": 57}
    assert df["subject"].nunique() == 22 and set(df["subject"]) >= {"s15", "s40"}
    assert df["offset_missing"].sum() == 44 and df["apex_missing"].sum() == 1
    assert df["offset"].notna().all()  # default: offset <- apex (MEGC2020 baseline rule)
    zero = df[df["offset_missing"]]
    assert (zero["offset"] == zero["apex"]).all()
    assert df.attrs["fixes"] == ["happyiness"]
    row = df[(df["subject"] == "s15") & (df["clip"] == "anger1_1")].iloc[0]
    assert (row["video"], row["onset"], row["offset"]) == ("s15_0401", 556, 607)
    assert (row["onset_annot"], row["offset_annot"]) == (557, 608)
    missing = read_annotations("casme_sq", shared_path(*A, "casme_sq", "code_final.xlsx"), offset0="missing")
    assert missing["offset"].isna().sum() == 44


def test_casme_sq_matches_mdmd_ground_truth():
    gt = shared_path("realdata", "HeyingGithub__Baseline-project-for-MEGC2020_spotting", "MDMD_results",
                     "dataset_new", "data", "CAS(ME)^2_Sets", "all_Info.txt")
    ref = pd.read_csv(gt, sep=r"\s+", header=None, dtype={1: str})
    df = _read("casme_sq", "casme_sq", "code_final.xlsx")
    a = sorted(zip(ref[0], ref[1], *(ref[k].astype(int) for k in (3, 4, 5)), strict=True))
    b = sorted(zip(df["subject"], df["video_code"], *(df[f"{c}_annot"].astype(int) for c in ("onset", "apex", "offset")),
                   strict=True))
    assert a == b


def test_casme3_part_a():
    df = _read("casme3", "casme3", "CAS(ME)3_part_A_v2.xls")
    assert len(df) == 4206
    assert df["type"].value_counts().to_dict() == {"mae": 3346, "me": 860}
    assert df["subject"].nunique() == 98 and df["video"].nunique() == 956
    assert df["clipped"].sum() == 2  # spNO.215/l and spNO.216/e start at frame 0; files start at 1
    me = _read("casme3", "casme3", "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx")
    assert len(me) == 860 and (me["emotion"] == "others").sum() == 161  # 'Others' case-folded


def test_casme3_part_c():
    me = _read("casme3_c", "casme3", "CAS(ME)3_part_C_ME.xlsx")
    assert len(me) == 165 and me["subject"].iloc[0] == "01"
    org = _read("casme3_c", "casme3", "CAS(ME)3_part_C.xls")
    assert org["type"].value_counts().to_dict() == {"mae": 303, "me": 160}


def test_composite_official_and_htnet_lists():
    for fname in ("combined_3class_gt.csv", "combined_3_class2_for_optical_flow.csv"):
        df = _read("composite", "megc2019_composite", fname)
        assert len(df) == 442 and df["subject_key"].nunique() == 68
        assert df["label"].value_counts().to_dict() == {0: 250, 1: 109, 2: 83}
        assert df["dataset"].value_counts().to_dict() == {"smic": 164, "casme2": 145, "samm": 133}
        assert df.groupby("dataset")["subject"].nunique().to_dict() == {"casme2": 24, "samm": 28, "smic": 16}


def test_smic_derived_tables():
    df = _read("smic", "smic", "coding.csv")
    assert len(df) == 164 and df["subject"].nunique() == 16
    assert df["emotion"].value_counts().to_dict() == {"negative": 70, "positive": 51, "surprise": 43}
    assert df["subject"].iloc[0] == "s01" and df["fps"].iloc[0] == 100


def test_dfme_per_row_fps():
    df = _read("dfme", "dfme", "training_full_with_AU.xlsx")
    assert set(df["fps"].unique()) <= {200.0, 300.0, 500.0} and df["subject"].str.len().eq(4).all()


def test_find_annotation_prefers_official_name():
    assert find_annotation("samm_lv", shared_path(*A, "samm_lv")).name == "SAMM_LongVideos_V2_Release.xlsx"
    assert find_annotation("casme2", shared_path(*A, "casme2")).name == "CASME2-coding-20190701.xlsx"


def test_real_problems_found():
    df = _read("samm_lv", "samm_lv", "SAMM_LongVideos_V2_Release.xlsx")
    probs = find_problems(df)
    dup = probs[probs["problem"] == "duplicated sample id"]
    assert list(dup["clip"]) == ["037_4_1"]  # two rows share this id in the V2 release


def test_casme_sq_videos_with_gt_are_in_the_98_video_list():
    lst = shared_path("realdata", "HeyingGithub__Baseline-project-for-MEGC2020_spotting", "MDMD_results",
                      "dataset_new", "data", "CAS(ME)^2_Sets", "ME2_all.txt")
    all98 = {"_".join(line.split()) for line in lst.read_text().splitlines() if line.strip()}
    df = _read("casme_sq", "casme_sq", "code_final.xlsx")
    assert len(all98) == 98 and set(df["video"]) <= all98
    assert len(all98 - set(df["video"])) == 3 and "s19_0502" in all98 - set(df["video"])
