"""Bad annotation sheets, prediction CSVs and recognition logs, through the CLI (`datasets info`,
`evaluate spotting`, `evaluate recognition`) and the library readers.

Every file here is written by the test itself; nothing from ../shared is copied.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from robust_helpers import Case, assert_one_line_error, invoke

from microexp.datasets import read_annotations
from microexp.errors import AnnotationError

pytestmark = pytest.mark.xdist_group("robust_annotations")

CASME2_HEADER = "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion"
CASME2_ROWS = ["01,EP02_01f,46,59,86,12,happiness", "01,EP03_02,131,139,161,18,others",
               "02,EP01_11f,20,30,45,4,disgust"]


def sheet(header: str = CASME2_HEADER, rows: list[str] | None = None, name: str = "coding.csv"):
    text = "\n".join([header, *(CASME2_ROWS if rows is None else rows)]) + "\n"

    def build(tmp: Path) -> Path:
        p = tmp / name
        p.write_text(text)
        return p

    return build


def raw_file(name: str, data: bytes):
    def build(tmp: Path) -> Path:
        p = tmp / name
        p.write_bytes(data)
        return p

    return build


def swap(row: int, old: str, new: str) -> list[str]:
    rows = list(CASME2_ROWS)
    rows[row] = rows[row].replace(old, new, 1)
    return rows


# ---- annotation sheets: `microexp datasets info NAME FILE` ---------------------------------------------------
# Case.build(tmp) -> the sheet path; dataset name in the id prefix (casme2 unless stated).

SHEET_ERROR_CASES = [
    Case("missing-column", "CASME II sheet without `OffsetFrame`",
         "`missing column 'OffsetFrame' (no header row names all of [...])`",
         sheet(CASME2_HEADER.replace(",OffsetFrame", ""), [r.rsplit(",", 3)[0] + "," + r.rsplit(",", 2)[1] + ","
                                                            + r.rsplit(",", 1)[1] for r in CASME2_ROWS]),
         r"missing column 'OffsetFrame'"),
    Case("renamed-column-unknown", "CASME II sheet whose `OnsetFrame` is called `Start`",
         "`missing column 'OnsetFrame' ...` (columns are found by name, never by position)",
         sheet(CASME2_HEADER.replace("OnsetFrame", "Start")), r"missing column 'OnsetFrame'"),
    Case("text-in-frame-column", "`abc` in `ApexFrame`",
         "`column 'ApexFrame' row 2: 'abc' is not a frame number`", sheet(rows=swap(0, ",59,", ",abc,")),
         r"column 'ApexFrame' row 2: 'abc' is not a frame number"),
    Case("negative-frame", "`-5` in `OnsetFrame` (`-1` means 'not annotated')",
         "`column 'OnsetFrame' row 3: negative frame number -5`", sheet(rows=swap(1, "131", "-5")),
         r"row 3: negative frame number -5"),
    Case("infinite-frame", "`inf` in `OffsetFrame`", "`... 'inf' is not a finite frame number`",
         sheet(rows=swap(2, ",45,", ",inf,")), r"row 4: .*not a finite frame number"),
    Case("empty-subject", "a data row with an empty `Subject`", "`column 'Subject' row 3: empty value`",
         sheet(rows=swap(1, "01,", ",")), r"column 'Subject' row 3: empty value"),
    Case("bad-subject", "`Subject` = `abc` (CASME II subjects are numbers)",
         "`column 'Subject' row 2: bad subject id 'abc'`", sheet(rows=swap(0, "01,", "abc,")),
         r"bad subject id 'abc'"),
    Case("header-only", "a sheet with the header row and no data", "`annotation sheet has a header but no data rows`",
         sheet(rows=[]), r"header but no data rows"),
    Case("empty-file", "a 0-byte `.csv`", "`annotation file is empty`", raw_file("coding.csv", b""),
         r"annotation file is empty"),
    Case("garbage-xlsx", "random bytes named `.xlsx`", "`cannot read file (BadZipFile: ...)`",
         raw_file("coding.xlsx", bytes(range(256)) * 4), r"cannot read (file|sheet)"),
    Case("unsupported-suffix", "an annotation file named `.json`", "`unsupported annotation file type '.json'`",
         raw_file("coding.json", b'{"a": 1}'), r"unsupported annotation file type"),
    Case("unknown-label-protocol", "`casme2_5class`: emotion `joyful` (a typo)",
         "`row 2: emotion 'joyful' is not a CASME II class (...)` — the 5-class protocol never drops a "
         "misspelt sample silently", sheet(rows=swap(0, "happiness", "joyful")), r"emotion 'joyful' is not"),
    Case("composite-label-3", "`composite`: label `3` in the MEGC2019 list", "`column 'label' row 2: '3' is not 0, "
         "1 or 2`", raw_file("combined_3class_gt.csv", b"casme2,01,EP02_01f,3\nsamm,6,006_1_2,0\n"),
         r"'3' is not 0, 1 or 2"),
    Case("composite-duplicate", "`composite`: the same sample listed twice",
         "`row 2: duplicated sample casme2/EP02_01f`",
         raw_file("combined_3class_gt.csv", b"casme2,01,EP02_01f,1\ncasme2,01,EP02_01f,1\nsamm,6,006_1_2,0\n"),
         r"duplicated sample casme2/EP02_01f"),
    Case("composite-unknown-db", "`composite`: database `mmew` in the list",
         "`column 'db' row 1: unknown dataset 'mmew'`",
         raw_file("combined_3class_gt.csv", b"mmew,01,EP02_01f,1\n"), r"unknown dataset 'mmew'"),
]


def _dataset_of(case: Case) -> str:
    if case.id.startswith("composite"):
        return "composite"
    return "casme2_5class" if case.id == "unknown-label-protocol" else "casme2"


@pytest.mark.parametrize("case", SHEET_ERROR_CASES, ids=lambda c: c.id)
def test_sheet_errors(case, tmp_path):
    path = case.build(tmp_path)
    res = invoke(["datasets", "info", _dataset_of(case), path])
    assert_one_line_error(res, path, case.error)


SHEET_MESSAGE_CASES = [
    Case("semicolon-sheet", "a CASME II sheet saved with `;` (said only `missing column 'Subject'`)",
         "`missing column 'Subject' (...); the rows are separated by semicolons, not commas: save the sheet as "
         "comma-separated CSV`", sheet(CASME2_HEADER.replace(",", ";"), [r.replace(",", ";") for r in CASME2_ROWS]),
         r"separated by semicolons, not commas"),
]


@pytest.mark.parametrize("case", SHEET_MESSAGE_CASES, ids=lambda c: c.id)
def test_sheet_messages_name_the_delimiter(case, tmp_path):
    path = case.build(tmp_path)
    res = invoke(["datasets", "info", "casme2", path])
    assert_one_line_error(res, path, case.error)


SHEET_HANDLED_CASES = [
    Case("renamed-column-alias", "CASME II sheet with `Onset Frame`, `Apex`, `Emotion` instead of the usual names",
         "Read by header name through the documented aliases: the same table as the canonical sheet.",
         sheet(CASME2_HEADER.replace("OnsetFrame", "Onset Frame").replace("ApexFrame", "Apex")
               .replace("Estimated Emotion", "Emotion"))),
    Case("columns-reordered", "CASME II sheet with its columns in another order",
         "Columns are found by name: the same table.",
         sheet("Estimated Emotion,OffsetFrame,Filename,Subject,ApexFrame,OnsetFrame,Action Units",
               ["happiness,86,EP02_01f,01,59,46,12", "others,161,EP03_02,01,139,131,18",
                "disgust,45,EP01_11f,02,30,20,4"])),
    Case("blank-and-note-rows", "blank lines between rows and a trailing note row (`Subject` cell only)",
         "Blank and note rows are skipped; the 3 samples are read.",
         sheet(rows=[CASME2_ROWS[0], ",,,,,,", CASME2_ROWS[1], "", CASME2_ROWS[2], "Note: coded by two FACS coders"])),
    Case("onset-after-offset", "a row with onset 161 > offset 131",
         "Kept as the file says (a reader never rewrites annotations); `datasets info` lists it under problems "
         "as `offset before onset` with its sheet row.", sheet(rows=swap(1, "131,139,161", "161,139,131"))),
    Case("duplicated-row", "the last data row repeated",
         "Both rows are kept and counted (4 rows, as in the file); `datasets info` lists the second as "
         "`duplicated sample id` with its sheet row.", sheet(rows=[*CASME2_ROWS, CASME2_ROWS[-1]])),
    Case("unknown-label", "emotion `joyful` (not a CASME II class) with the plain `casme2` reader",
         "Kept and counted under its own name (`by class: joyful 1`); the 5-class protocol refuses it "
         "(see `unknown-label-protocol`).", sheet(rows=swap(0, "happiness", "joyful"))),
    Case("missing-apex", "`ApexFrame` = `/` (how CASME II marks a missing apex) and `-1`",
         "Read as missing (`<NA>`), flagged in `apex_missing` and listed as `apex not annotated`.",
         sheet(rows=swap(1, ",139,", ",-1,")[:1] + [swap(1, ",139,", ",-1,")[1]] + [swap(2, ",30,", ",/,")[2]])),
    Case("fractional-frame", "`59.5` and `566.4000000000001` in frame columns (SAMM-LV stores the latter)",
         "Rounded half up to whole frames (60, 566) — the documented rule of `to_frame`.",
         sheet(rows=swap(0, ",59,", ",59.5,")[:1] + ["01,EP03_02,131,139,566.4000000000001,18,others",
                                                      CASME2_ROWS[2]])),
    Case("csv-renamed-xlsx", "a CSV sheet renamed `.xlsx` (`datasets info` failed with pandas' 'must specify an "
         "engine' while `evaluate` accepted it)", "Read by content, not by name: the same table as the CSV.",
         sheet(name="coding.xlsx")),
]


def _canonical(tmp_path: Path) -> pd.DataFrame:
    d = tmp_path / "canonical"
    d.mkdir(exist_ok=True)
    return read_annotations("casme2", sheet()(d))


COMPARE = ["subject", "clip", "onset_annot", "apex_annot", "offset_annot", "onset", "apex", "offset", "emotion", "au"]


@pytest.mark.parametrize("case", SHEET_HANDLED_CASES, ids=lambda c: c.id)
def test_sheet_handled(case, tmp_path):
    path = case.build(tmp_path)
    res = invoke(["datasets", "info", "casme2", path])
    assert res.exit_code == 0, res.output
    out = " ".join(res.stdout.split())
    df = read_annotations("casme2", path)
    ref = _canonical(tmp_path)
    if case.id in ("renamed-column-alias", "columns-reordered", "blank-and-note-rows", "csv-renamed-xlsx"):
        pd.testing.assert_frame_equal(df[COMPARE], ref[COMPARE])
        assert "3 rows" in out and "problems: none" in out
    elif case.id == "onset-after-offset":
        assert (df.loc[1, "onset_annot"], df.loc[1, "offset_annot"]) == (161, 131)
        assert "offset before onset" in out and "3 rows" in out
    elif case.id == "duplicated-row":
        assert len(df) == 4 and "4 rows" in out and "duplicated sample id" in out
        assert re.search(r"│ 5 +│ 02 +│ EP01_11f +│ duplicated sample id", res.stdout)
    elif case.id == "unknown-label":
        assert "joyful 1" in out and df.loc[0, "emotion"] == "joyful"
    elif case.id == "missing-apex":
        assert df["apex"].isna().tolist() == [False, True, True]
        assert df["apex_missing"].tolist() == [False, True, True] and "apex not annotated" in out
    elif case.id == "fractional-frame":
        assert df.loc[0, "apex_annot"] == 60 and df.loc[1, "offset_annot"] == 566
    else:  # pragma: no cover
        raise AssertionError(f"no check for {case.id}")


# ---- spotting predictions: `microexp evaluate spotting --gt gt.csv --pred FILE` -------------------------------

GT = "video,onset,offset,type\nv1,10,20,me\nv1,50,80,mae\nv2,5,9,me\n"
PRED_HEADER = "vid,pred_onset,pred_offset,type"
PRED_ROWS = ["v1,10,20,me", "v1,50,80,mae"]


def pred(header: str = PRED_HEADER, rows: list[str] | None = None, data: bytes | None = None,
         name: str = "pred.csv"):
    def build(tmp: Path) -> Path:
        p = tmp / name
        if data is not None:
            p.write_bytes(data)
        else:
            p.write_text("\n".join([header, *(PRED_ROWS if rows is None else rows)]) + "\n")
        return p

    return build


PRED_ERROR_CASES = [
    Case("missing-column", "no `type` column", "`interval CSV: missing column(s) 'type'`",
         pred("vid,pred_onset,pred_offset", ["v1,10,20", "v1,50,80"]), r"missing column\(s\) 'type'"),
    Case("two-names-one-column", "both `vid` and `video` columns", "`interval CSV: columns 'vid' and 'video' both "
         "mean 'video'` (which one is meant cannot be known)", pred("vid,video,pred_onset,pred_offset,type",
                                                                    ["v1,v1,10,20,me"]), r"both mean 'video'"),
    Case("repeated-header", "`onset` twice in the header", "`column 'onset' appears twice in the header`",
         pred("video,onset,onset,offset,type", ["v1,10,11,20,me"]), r"'onset' appears twice"),
    Case("text-in-frame-column", "`x` as `pred_onset`", "`row 2: onset 'x' is not a whole frame number`",
         pred(rows=["v1,x,20,me"]), r"row 2: onset 'x' is not a whole frame number"),
    Case("fractional-frame", "`10.5` as `pred_offset`", "`row 3: offset '10.5' is not a whole frame number` "
         "(`10.0` is accepted as 10)", pred(rows=["v1,1,2,me", "v1,3,10.5,me"]),
         r"row 3: offset '10.5' is not a whole frame number"),
    Case("onset-after-offset", "onset 20 > offset 10", "`row 2: offset 10 is before onset 20`",
         pred(rows=["v1,20,10,me"]), r"row 2: offset 10 is before onset 20"),
    Case("negative-frame", "onset -10", "`row 2: negative frame number (-10, -2)`", pred(rows=["v1,-10,-2,me"]),
         r"row 2: negative frame number"),
    Case("unknown-type", "type `blink`", "`row 2: type 'blink' is not me/mae (micro/macro)`",
         pred(rows=["v1,10,20,blink"]), r"type 'blink' is not me/mae"),
    Case("empty-video", "an empty `vid` cell", "`row 2: empty video id`", pred(rows=[",10,20,me"]),
         r"row 2: empty video id"),
    Case("empty-file", "a 0-byte prediction CSV", "`empty file, expected a header 'vid,pred_onset,pred_offset,type'`",
         pred(data=b""), r"empty file"),
    Case("binary-file", "random bytes named `.csv`", "`not a CSV (...)` or `missing column(s) ...`",
         pred(data=bytes(range(256)) * 3), r"not a CSV|missing column"),
    Case("missing-file", "a prediction path that does not exist", "`no such interval CSV`",
         lambda tmp: tmp / "nope.csv", r"no such interval CSV"),
    Case("empty-frame-cell", "an empty `pred_onset` cell (said `onset nan is not a whole frame number`)",
         "`row 2: onset is empty`", pred(rows=["v1,,20,me"]), r"row 2: onset is empty$"),
    Case("short-row", "a row with 3 values under a 4-column header (said `type nan is not me/mae`)",
         "`row 3: 3 values but the header names 4 columns (no 'type' value)`",
         pred(rows=["v1,10,20,me", "v1,50,80"]), r"row 3: 3 values but the header names 4 columns \(no 'type'"),
    Case("semicolon-separated", "a `;`-separated file (said a present column is missing)",
         "`interval CSV: the header is separated by semicolons, not commas (...); save it as comma-separated CSV`",
         pred("vid;pred_onset;pred_offset;type", ["v1;10;20;me"]), r"separated by semicolons, not commas"),
]


@pytest.mark.parametrize("case", PRED_ERROR_CASES, ids=lambda c: c.id)
def test_prediction_errors(case, tmp_path):
    gt = tmp_path / "gt.csv"
    gt.write_text(GT)
    path = case.build(tmp_path)
    res = invoke(["evaluate", "spotting", "--gt", gt, "--pred", path])
    assert_one_line_error(res, path, case.error)
    # the same file given as ground truth fails the same way, naming the GT file
    if path.exists():
        res = invoke(["evaluate", "spotting", "--gt", path, "--pred", gt])
        assert_one_line_error(res, path, case.error)


PRED_HANDLED_CASES = [
    Case("aliases", "`vid,pred_onset,pred_offset,type` (the MEGC submission header)",
         "Read as `video,onset,offset,type`: 2 TP, 0 FP, 1 FN.", pred()),
    Case("header-case", "`Video,Onset,Offset,Type`", "Header names are case-insensitive: same counts as `aliases`.",
         pred("Video,Onset,Offset,Type")),
    Case("type-spellings", "types `Micro - 1/2` and `macro-expression` (SAMM / CAS(ME)^2 spellings)",
         "Normalised to `me` / `mae`: same counts as `aliases`.", pred(rows=["v1,10,20,Micro - 1/2",
                                                                             "v1,50,80,macro-expression"])),
    Case("whole-float-frames", "frames written `10.0`", "Accepted as 10: same counts as `aliases`.",
         pred(rows=["v1,10.0,20.0,me", "v1,50.0,80,mae"])),
    Case("duplicated-row", "the same prediction twice",
         "Every row is a prediction (MEGC counting): the copy matches nothing new and is 1 FP (n_pred 3, TP 2, FP 1).",
         pred(rows=[*PRED_ROWS, PRED_ROWS[0]])),
    Case("unknown-video", "a prediction for a video that has no ground truth",
         "Scored (`score_videos_without_gt=True`, the MEGC rule): 1 FP, and the 3 GT intervals are FN.",
         pred(rows=["v9,10,20,me"])),
    Case("header-only", "the header and no rows", "No predictions: 0 TP, 0 FP, 3 FN.", pred(rows=[])),
]

EXPECTED_OVERALL = {"aliases": (2, 2, 0, 1), "header-case": (2, 2, 0, 1), "type-spellings": (2, 2, 0, 1),
                    "whole-float-frames": (2, 2, 0, 1), "duplicated-row": (3, 2, 1, 1),
                    "unknown-video": (1, 0, 1, 3), "header-only": (0, 0, 0, 3)}


@pytest.mark.parametrize("case", PRED_HANDLED_CASES, ids=lambda c: c.id)
def test_prediction_handled(case, tmp_path):
    gt = tmp_path / "gt.csv"
    gt.write_text(GT)
    path = case.build(tmp_path)
    res = invoke(["evaluate", "spotting", "--gt", gt, "--pred", path, "--out", tmp_path / "table.csv"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "table.csv", index_col=0)
    row = table.loc["overall"]
    assert (row["n_pred"], row["tp"], row["fp"], row["fn"]) == EXPECTED_OVERALL[case.id]


# ---- recognition logs: `microexp evaluate recognition LOG` ----------------------------------------------------

def reclog(text: str):
    def build(tmp: Path) -> Path:
        p = tmp / "log.csv"
        p.write_text(text)
        return p

    return build


RECLOG_OK = "subject,sample,true,pred\ns1,a,happy,happy\ns1,b,sad,happy\ns2,c,sad,sad\n"

RECLOG_ERROR_CASES = [
    Case("missing-column", "a log without `pred`", "`missing column(s) 'pred'`",
         reclog("subject,sample,true\ns1,a,happy\n"), r"missing column\(s\) 'pred'"),
    Case("duplicated-sample", "the same sample twice", "`row 3: sample 'a' of subject 's1' appears twice` — "
         "never counted twice", reclog(RECLOG_OK.replace("s1,b,", "s1,a,happy,happy\ns1,b,")), r"appears twice"),
    Case("empty-label", "an empty `true` cell", "`row 2: empty 'true' label`",
         reclog("subject,sample,true,pred\ns1,a,,happy\n"), r"row 2: empty 'true' label"),
    Case("label-outside-list", "`pred` = `joyful` with `--labels happy,sad`",
         "`labels not in the class list ['happy', 'sad']: joyful`", reclog(RECLOG_OK.replace("happy\ns1,b", "joyful\ns1,b")),
         r"labels not in the class list"),
    Case("unknown-selection", "`selection` = `best`", "`row 2: unknown selection 'best'`",
         reclog("subject,sample,true,pred,selection\ns1,a,happy,happy,best\n"), r"unknown selection 'best'"),
]


@pytest.mark.parametrize("case", RECLOG_ERROR_CASES, ids=lambda c: c.id)
def test_recognition_log_errors(case, tmp_path):
    path = case.build(tmp_path)
    extra = ["--labels", "happy,sad"] if case.id == "label-outside-list" else []
    res = invoke(["evaluate", "recognition", path, *extra])
    assert_one_line_error(res, path, case.error)


def test_library_errors_are_typed_and_one_line(tmp_path):
    from microexp.eval.megc_io import read_megc_csv

    for case in (c for c in PRED_ERROR_CASES if c.id != "missing-file"):
        sub = tmp_path / case.id
        sub.mkdir()
        path = case.build(sub)
        with pytest.raises(AnnotationError) as err:
            read_megc_csv(path)
        msg = str(err.value)
        assert msg.startswith(str(path)) and "\n" not in msg
