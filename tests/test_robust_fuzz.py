"""Hypothesis fuzzing of the MEGC interval CSV reader and the annotation-sheet readers, plus the corpus of
failures it found, kept as explicit regression cases.

Properties:
* MEGC CSV (differential): rows built from awkward cells are read by ``read_megc_csv`` and by a small
  independent oracle of the documented rules (whole numbers only, ``10.0`` is 10, ``me``/``mae`` spellings,
  onset <= offset, no negative frames, no frame beyond ``MAX_FRAME``). Either both accept and the tables are
  equal row for row (so the count is right), or the reader raises a one-line ``AnnotationError`` naming the
  file and a line the oracle also rejects.
* CASME II sheet (differential): the same with the sheet rules (fractions rounded half up, ``-1`` / ``/``
  missing, blank and note rows skipped).
* Every reader, any text or bytes: a table whose frames are whole numbers in range, or a typed one-line error
  naming the file. Never another exception, never a traceback.

Runs derandomized (the same examples every run), about 3,000 examples in all.
"""

from __future__ import annotations

import atexit
import math
import re
import shutil
import string
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from robust_helpers import Case, assert_one_line_error, invoke

from microexp.datasets import read_annotations
from microexp.datasets.common import MAX_FRAME as SHEET_MAX_FRAME
from microexp.errors import AnnotationError, InputError
from microexp.eval.megc_io import MAX_FRAME, normalize_type, read_megc_csv

pytestmark = pytest.mark.xdist_group("robust_fuzz")


def fuzz(n: int):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


_DIR = Path(tempfile.mkdtemp(prefix="microexp_fuzz_"))  # one folder, files overwritten per example
atexit.register(shutil.rmtree, _DIR, True)


def _write(name: str, data: str | bytes) -> Path:
    p = _DIR / name
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data, encoding="utf-8")
    return p


def _typed_one_line(err: Exception, path: Path) -> str:
    msg = str(err)
    assert isinstance(err, (AnnotationError, InputError)), f"{type(err).__name__}: {msg}"
    assert "\n" not in msg and msg.startswith(str(path)), msg
    return msg


# ---- cells ------------------------------------------------------------------------------------------------------

SPECIAL = ["", " ", "nan", "NaN", "NA", "inf", "-inf", "Infinity", "x", "10.0", "10.5", "1e3", "1E3", "+5", "-0",
           "-1", "0", "0.0", " 12", "12 ", "1_000", "0x1A", "\u0663", "9" * 25, "1e300", "2147483647",
           "2147483648", "/", "-", "TRUE", "566.4000000000001", ".5", "5.", "-0.4", "1e-7"]
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .-_/+", max_size=6)
FRAME_CELL = st.one_of(
    st.integers(-3, 3000).map(str),
    st.integers(0, 10**25).map(str),
    st.floats(-1e4, 1e12, allow_nan=False).map(lambda x: f"{x}"),
    st.floats(0, 5e3, allow_nan=False).map(lambda x: f"{x:.1f}"),
    st.sampled_from(SPECIAL),
    TEXT,
)
TYPE_CELL = st.one_of(st.sampled_from(["me", "mae", "ME", "Mae", "micro", "Macro", "micro-expression",
                                       "macro-expression", "Micro - 1/2", "micro  -  1/2", "blink", "", "m",
                                       "mac", "expression"]), TEXT)
VIDEO_CELL = st.one_of(st.sampled_from(["v1", "v2", "s15_0101", " v3 ", "", " ", "007", "1.0"]), TEXT)

_NUM = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


# ---- MEGC CSV: differential against an oracle of the documented rules ---------------------------------------------

BAD = object()


def megc_frame(cell: str):
    t = cell.strip()
    if not _NUM.fullmatch(t):
        return BAD
    v = float(t)
    if not math.isfinite(v) or v != round(v) or abs(v) > MAX_FRAME:
        return BAD
    return int(v)


def megc_oracle(rows: list[list[str]]) -> tuple[list[tuple], set[int]]:
    """(expected rows, file lines the reader may name as bad); header is line 1."""
    good, bad = [], set()
    for line, (vid, on, off, typ) in enumerate(rows, start=2):
        v, a, b, k = vid.strip(), megc_frame(on), megc_frame(off), normalize_type(typ.strip())
        if not v or a is BAD or b is BAD or k is None or b < a or a < 0:
            bad.add(line)
        else:
            good.append((v, a, b, k))
    return good, bad


HEADERS = st.tuples(st.sampled_from(["vid", "video", "Video", "VID", " vid"]),
                    st.sampled_from(["pred_onset", "onset", "Onset"]),
                    st.sampled_from(["pred_offset", "offset", "OFFSET"]),
                    st.sampled_from(["type", "Type", "kind"]))

@st.composite
def clean_megc_row(draw) -> list[str]:
    """A valid row written in one of the accepted ways (spaces, ``10.0``, type spellings)."""
    on = draw(st.integers(0, 10**6))
    off = on + draw(st.integers(0, 500))
    fmt = draw(st.sampled_from(["{}", " {}", "{}.0", "{} ", "{:.1e}"]))
    if fmt == "{:.1e}":
        on, off = on // 10**5 * 10**5, off // 10**5 * 10**5  # exactly representable with one decimal
        off = max(off, on)
    cells = [fmt.format(float(on) if "e" in fmt else on), fmt.format(float(off) if "e" in fmt else off)]
    return [draw(st.sampled_from(["v1", "v2", " s15_0101", "007"])), *cells,
            draw(st.sampled_from(["me", "mae", "Micro - 1/2", "macro-expression", "MAE"]))]


MEGC_ROW = st.one_of(clean_megc_row(), clean_megc_row(), clean_megc_row(),
                     st.tuples(VIDEO_CELL, FRAME_CELL, FRAME_CELL, TYPE_CELL).map(list))


def _megc_text(header, rows, order, trailing_comma) -> str:
    lines = [",".join(header[i] for i in order)]
    lines += [",".join(r[i] for i in order) + ("," if trailing_comma else "") for r in rows]
    return "\n".join(lines) + "\n"


@fuzz(1000)
@given(header=HEADERS, rows=st.lists(MEGC_ROW, min_size=0, max_size=6), order=st.permutations(range(4)),
       trailing_comma=st.booleans())
@example(header=("vid", "pred_onset", "pred_offset", "type"), rows=[["v1", "9" * 20, "9" * 20, "me"]],
         order=[0, 1, 2, 3], trailing_comma=False)  # found: 1e20 wrapped to a negative int64 frame
@example(header=("vid", "pred_onset", "pred_offset", "type"), rows=[["v1", "1e300", "1e300", "me"]],
         order=[0, 1, 2, 3], trailing_comma=False)
@example(header=("vid", "pred_onset", "pred_offset", "type"), rows=[["v1", "10", "20", "me"]],
         order=[0, 1, 2, 3], trailing_comma=True)  # a trailing comma on every row is harmless
def test_megc_csv_matches_oracle(header, rows, order, trailing_comma):
    path = _write("pred.csv", _megc_text(header, rows, order, trailing_comma))
    good, bad = megc_oracle(rows)
    try:
        df = read_megc_csv(path)
    except (AnnotationError, InputError) as err:
        msg = _typed_one_line(err, path)
        assert bad, f"reader refused a file the oracle accepts: {msg}"
        m = re.search(r"row (\d+)", msg)
        assert m and int(m.group(1)) in bad, f"named line is not a bad one ({sorted(bad)}): {msg}"
        return
    assert not bad, f"reader accepted bad line(s) {sorted(bad)}:\n{path.read_text()}"
    got = list(zip(df["video"], df["onset"], df["offset"], df["type"], strict=True))
    assert got == good


@fuzz(400)
@given(data=st.one_of(st.binary(max_size=300),
                      st.text(alphabet=string.printable + "\u00e9\u0663\x00", max_size=300),
                      st.builds(lambda body: "vid,pred_onset,pred_offset,type\n" + body,
                                st.text(alphabet=string.printable, max_size=200))))
@example(data=b"vid,pred_onset,pred_offset,type\nx,v1,10,20,me\n")  # found: an unnamed first column shifted all
@example(data=b"vid,pred_onset,pred_offset,type\nv1,10,20,me,0.9\n")  # found: a value without a header, dropped
@example(data=b"\xef\xbb\xbfvid,pred_onset,pred_offset,type\nv1,10,20,me\n")  # UTF-8 byte-order mark
def test_megc_csv_any_input_is_a_table_or_a_typed_error(data):
    path = _write("any.csv", data)
    try:
        df = read_megc_csv(path)
    except (AnnotationError, InputError) as err:
        _typed_one_line(err, path)
        return
    except Exception as err:  # pragma: no cover - the failure this test exists to catch
        raise AssertionError(f"untyped {type(err).__name__}: {err}") from err
    assert list(df.columns[:4]) == ["video", "onset", "offset", "type"]
    assert (df["onset"] >= 0).all() and (df["offset"] >= df["onset"]).all() and (df["offset"] <= MAX_FRAME).all()
    assert set(df["type"]) <= {"me", "mae"} and (df["video"] != "").all()


# ---- CASME II sheet: differential ---------------------------------------------------------------------------------

CASME2_COLS = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"]


def sheet_frame(cell: str):
    t = cell.strip()
    if t.lower() in ("/", "", "-", "nan"):
        return None
    if not _NUM.fullmatch(t):
        return BAD
    v = float(t)
    if not math.isfinite(v):
        return BAD
    f = math.floor(v + 0.5)
    if f > SHEET_MAX_FRAME or f < -1:
        return BAD
    return None if f == -1 else f


def casme2_oracle(rows: list[list[str]]) -> tuple[list[tuple], set[int]]:
    good, bad = [], set()
    for line, (subj, clip, on, ap, off, _au, emo) in enumerate(rows, start=2):
        required = [subj, clip, on, ap, off, emo]
        filled = [c.strip() != "" for c in required]
        if not any(filled) or filled == [True] + [False] * 5:
            continue  # blank or note row
        s = subj.strip()
        frames = [sheet_frame(c) for c in (on, ap, off)]
        if not re.fullmatch(r"[A-Za-z._ -]*[0-9]+", s) or not clip.strip() or not emo.strip() \
                or any(f is BAD for f in frames):
            bad.add(line)
        else:
            good.append((clip.strip(), *frames, emo.strip().lower()))
    return good, bad


@st.composite
def clean_casme2_row(draw) -> list[str]:
    on = draw(st.integers(1, 10**5))
    ap, off = on + draw(st.integers(0, 40)), on + draw(st.integers(40, 90))
    frames = [draw(st.sampled_from(["{}", "{}.0", " {}", "{}.4", "{}.5"])).format(v) for v in (on, ap, off)]
    if draw(st.booleans()):
        frames[1] = draw(st.sampled_from(["/", "-1", ""]))  # a missing apex
    return [draw(st.sampled_from(["01", "1", "sub26", " 7"])), draw(st.sampled_from(["EP02_01f", "EP03_02"])),
            *frames, draw(st.sampled_from(["", "4+7"])), draw(st.sampled_from(["happiness", "Others", "joyful"]))]


CASME2_MESSY = st.tuples(st.one_of(st.sampled_from(["01", "1", "26", "sub05", "", " 7"]), TEXT),
                       st.one_of(st.sampled_from(["EP02_01f", "EP03_02", ""]), TEXT),
                       FRAME_CELL, FRAME_CELL, FRAME_CELL, st.sampled_from(["", "4+7", "R12"]),
                       st.one_of(st.sampled_from(["happiness", "Others", "joyful", ""]), TEXT)).map(list)
BLANK_OR_NOTE = st.sampled_from([[""] * 7, ["Note: coded twice"] + [""] * 6])
CASME2_ROW = st.one_of(clean_casme2_row(), clean_casme2_row(), clean_casme2_row(), CASME2_MESSY, BLANK_OR_NOTE)


@fuzz(500)
@given(rows=st.lists(CASME2_ROW, min_size=1, max_size=5))
@example(rows=[["01", "EP02", "1e30", "59", "86", "12", "happiness"]])  # found: OverflowError, a traceback
def test_casme2_sheet_matches_oracle(rows):
    text = ",".join(CASME2_COLS) + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    path = _write("coding.csv", text)
    good, bad = casme2_oracle(rows)
    try:
        df = read_annotations("casme2", path)
    except (AnnotationError, InputError) as err:
        msg = _typed_one_line(err, path)
        if "header but no data rows" in msg or "has no rows" in msg:
            assert not good and not bad, msg
            return
        assert bad, f"reader refused a sheet the oracle accepts: {msg}"
        m = re.search(r"row (\d+)", msg)
        assert m and int(m.group(1)) in bad, f"named row is not a bad one ({sorted(bad)}): {msg}"
        return
    assert not bad, f"reader accepted bad row(s) {sorted(bad)}:\n{text}"
    got = [(c, None if pd.isna(a) else int(a), None if pd.isna(b) else int(b), None if pd.isna(e) else int(e), m)
           for c, a, b, e, m in zip(df["clip"], df["onset_annot"], df["apex_annot"], df["offset_annot"], df["emotion"],
                                     strict=True)]
    assert got == good


# ---- every reader, any text: a checked table or a typed error -------------------------------------------------------

READER_HEADERS = {
    "casme2": ",".join(CASME2_COLS),
    "samm": "Subject,Filename,Inducement Code,Onset Frame,Apex Frame,Offset Frame,Action Units,Estimated Emotion",
    "samm_lv": "Subject,Filename,Inducement Code,Onset,Apex,Offset,Duration,Type,Action Units,Notes",
    "casme_sq": "",  # no header: participant,expression,onset,apex,offset,au,emotion,type,self-report
    "casme3": "Subject,Filename,Onset,Apex,Offset,AU,Objective class,emotion,Expression type",
    "composite": "",  # no header: db,subject,filename,label
    "smic": "Subject,Filename,OnsetF,ApexF,OffsetF,FirstF,Emotion",
    "mmew": "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion",
    "4dme": "sub_ID,fold_name,Onset,Apex,Offset,AUs,Emotion",
    "dfme": "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Emotion,Fps",
}
GOOD_ROW = {
    "casme2": "01,EP02_01f,46,59,86,12,happiness", "samm": "006,006_1_2,1,5011,5038,5062,AU4,Anger",
    "samm_lv": "006,006_1_2,1,567,590,605,39,Micro - 1/2,AU4,", "casme_sq": "1,anger1_1,557,572,608,4+7,negative,"
    "macro-expression,anger", "casme3": "spNO.1,a,100,110,120,4,III,disgust,Micro-expression",
    "composite": "casme2,01,EP02_01f,1", "smic": "s01,s01_ne_01,10,15,20,1,negative",
    "mmew": "S01,S01-01-001,1,5,9,AU4,happiness", "4dme": "S01,S01_01,1,5,9,AU4,positive",
    "dfme": "0003,0003_1,1,5,9,happiness,500",
}
ANY_CELL = st.one_of(FRAME_CELL, TEXT, st.sampled_from(["casme2", "samm", "smic", "2", "3", "Macro",
                                                        "micro-expression", "NULL", "anger1_1"]))


@st.composite
def mutated_sheet(draw, name: str) -> str:
    base = GOOD_ROW[name].split(",")
    rows = []
    for k in range(draw(st.integers(1, 4))):
        r = list(base)
        if name == "composite":
            r[2] += f"_{k}"  # the list refuses a sample listed twice
        for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
            r[draw(st.integers(0, len(r) - 1))] = draw(ANY_CELL)
        if draw(st.integers(0, 9)) == 0:
            r = r[: draw(st.integers(0, len(r)))]
        rows.append(",".join(r))
    head = [READER_HEADERS[name]] if READER_HEADERS[name] else []
    return "\n".join(head + rows) + "\n"


@pytest.mark.parametrize("name", sorted(READER_HEADERS))
@fuzz(100)
@given(data=st.data())
def test_every_reader_gives_a_checked_table_or_a_typed_error(name, data):
    text = data.draw(st.one_of(mutated_sheet(name), st.text(alphabet=string.printable, max_size=120)))
    path = _write(f"{name}.csv", text)
    try:
        df = read_annotations(name, path)
    except (AnnotationError, InputError) as err:
        _typed_one_line(err, path)
        return
    except Exception as err:  # pragma: no cover
        raise AssertionError(f"{name}: untyped {type(err).__name__}: {err}\n{text}") from err
    lines = [ln for ln in text.splitlines() if ln.strip(", \t")]
    assert 0 < len(df) <= len(lines)
    for col in ("onset", "apex", "offset", "onset_annot", "apex_annot", "offset_annot"):
        v = df[col].dropna()
        assert ((v >= 0) & (v <= SHEET_MAX_FRAME)).all(), (col, v.tolist())


# ---- the corpus: every failure the fuzzers found, as explicit cases (also listed in docs/robustness.md) ---------------

def _file(name: str, text: str):
    def build(tmp: Path) -> Path:
        p = tmp / name
        p.write_text(text, encoding="utf-8")
        return p

    return build


PRED_HEAD = "vid,pred_onset,pred_offset,type\n"

FUZZ_CORPUS = [
    Case("megc-frame-overflow", "prediction CSV with onset `99999999999999999999`",
         "`row 2: onset '99999999999999999999' is out of range (over 2147483647)`; before the fix it wrapped to "
         "a negative int64 and was reported as a negative frame",
         _file("pred.csv", PRED_HEAD + "v1,99999999999999999999,99999999999999999999,me\n"), r"out of range"),
    Case("megc-float-overflow", "prediction CSV with onset `1e300`", "`row 2: onset '1e300' is out of range ...`",
         _file("pred.csv", PRED_HEAD + "v1,1e300,1e300,me\n"), r"onset '1e300' is out of range"),
    Case("megc-unnamed-first-column", "every row has one value more than the header (`x,v1,10,20,me`)",
         "`row 2: 5 values but the header names 4 columns`; before the fix pandas took the first value as the "
         "row index and read every column shifted by one, silently",
         _file("pred.csv", PRED_HEAD + "x,v1,10,20,me\ny,v2,1,2,me\n"), r"5 values but the header names 4"),
    Case("megc-unnamed-last-column", "a row with a value after `type` (`v1,10,20,me,0.9`)",
         "`row 3: 5 values but the header names 4 columns` (before the fix: dropped, or the file misread)",
         _file("pred.csv", PRED_HEAD + "v2,1,2,me\nv1,10,20,me,0.9\n"), r"row 3: 5 values but the header"),
    Case("megc-row-after-blank-line", "a bad row after a blank line",
         "The error names the file line (`row 4: ...`), not the data-row position",
         _file("pred.csv", PRED_HEAD + "v1,1,2,me\n\nv1,x,5,me\n"), r"row 4: onset 'x' is not a whole frame"),
    Case("sheet-frame-overflow", "CASME II sheet with `OnsetFrame` = `1e30`",
         "`column 'OnsetFrame' row 2: frame number 1e30 is too large (over 2147483647)`; before the fix an "
         "`OverflowError` traceback",
         _file("coding.csv", ",".join(CASME2_COLS) + "\n01,EP02,1e30,59,86,12,happiness\n"),
         r"frame number 1e30 is too large"),
    Case("sheet-underscore-number", "CASME II sheet with `OffsetFrame` = `1_000` (or an Arabic-Indic digit)",
         "`column 'OffsetFrame' row 2: '1_000' is not a frame number`; before the fix Python's `float()` read it "
         "as 1000", _file("coding.csv", ",".join(CASME2_COLS) + "\n01,EP02,1,5,1_000,12,happiness\n"),
         r"'1_000' is not a frame number"),
    Case("sheet-empty-emotion", "CASME II row with an empty `Estimated Emotion`",
         "`column 'Estimated Emotion' row 2: empty value`; before the fix the sample was kept with the class ''",
         _file("coding.csv", ",".join(CASME2_COLS) + "\n01,EP02,1,5,9,12,\n"),
         r"column 'Estimated Emotion' row 2: empty value"),
    Case("sheet-subject-not-a-number", "CASME II `Subject` = `0A` (or `1/2`)",
         "`column 'Subject' row 2: bad subject id '0A'`; before the fix every digit in the cell was kept "
         "(`0A` became subject `00`, `1/2` became `12`)",
         _file("coding.csv", ",".join(CASME2_COLS) + "\n0A,EP02,1,5,9,12,happiness\n"), r"bad subject id '0A'"),
]

FUZZ_HANDLED = [
    Case("megc-trailing-comma", "every prediction row ends with a comma (`v1,10,20,me,`)",
         "Empty trailing values are ignored: the rows read as written.",
         _file("pred.csv", PRED_HEAD + "v1,10,20,me,\nv1,50,80,mae,\n")),
    Case("megc-byte-order-mark", "a UTF-8 byte-order mark before the header (Excel's `CSV UTF-8`)",
         "Read as if it were absent.", _file("pred.csv", "\ufeff" + PRED_HEAD + "v1,10,20,me\nv1,50,80,mae\n")),
]


@pytest.mark.parametrize("case", FUZZ_CORPUS, ids=lambda c: c.id)
def test_fuzz_corpus(case, tmp_path):
    path = case.build(tmp_path)
    if case.id.startswith("sheet"):
        res = invoke(["datasets", "info", "casme2", path])
    else:
        gt = tmp_path / "gt.csv"
        gt.write_text("video,onset,offset,type\nv1,10,20,me\n")
        res = invoke(["evaluate", "spotting", "--gt", gt, "--pred", path])
    assert_one_line_error(res, path, case.error)


@pytest.mark.parametrize("case", FUZZ_HANDLED, ids=lambda c: c.id)
def test_fuzz_handled(case, tmp_path):
    df = read_megc_csv(case.build(tmp_path))
    assert df[["video", "onset", "offset", "type"]].values.tolist() == [["v1", 10, 20, "me"], ["v1", 50, 80, "mae"]]
