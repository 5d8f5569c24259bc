"""Property tests: malformed sheets give a one-line error naming the file and column, never a wrong table;
well-formed generated sheets read back exactly."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microexp.datasets import read_annotations
from microexp.errors import AnnotationError, InputError

# name -> (header, frame columns, row maker)
HEADERS = {
    "casme2": ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"],
    "samm": ["Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Action Units", "Estimated Emotion"],
    "samm_lv": ["Subject", "Filename", "Onset", "Apex", "Offset", "Type", "Action Units"],
    "casme3": ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class"],
    "mmew": ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Estimated Emotion"],
}
FRAME_COLS = {"casme2": (2, 3, 4), "samm": (2, 3, 4), "samm_lv": (2, 3, 4), "casme3": (2, 3, 4), "mmew": (2, 3, 4)}
REQUIRED = {"casme2": (0, 1, 2, 3, 4, 6), "samm": (0, 1, 2, 3, 4, 6), "samm_lv": (0, 1, 2, 3, 4, 5),
            "casme3": (0, 1, 2, 3, 4), "mmew": (1, 2, 3, 4, 5)}
EMOTIONS = ["happiness", "disgust", "surprise", "others"]


@st.composite
def samples(draw, name):
    n = draw(st.integers(1, 6))
    rows = []
    for k in range(n):
        subj = draw(st.integers(1, 40))
        on = draw(st.integers(1, 5000))
        ap = on + draw(st.integers(0, 50))
        off = ap + draw(st.integers(0, 50))
        if name == "casme2":
            rows.append([f"{subj:02d}", f"EP{k:02d}_01", on, ap, off, "4+7", draw(st.sampled_from(EMOTIONS))])
        elif name == "samm":
            rows.append([f"{subj:03d}", f"{subj:03d}_1_{k}", on, ap, off, "12", draw(st.sampled_from(EMOTIONS))])
        elif name == "samm_lv":
            typ = draw(st.sampled_from(["Macro", "Micro - 1/2"]))
            rows.append([f"{subj:03d}", f"{subj:03d}_1_{k}", on + 0.4, ap, off, typ, "4"])
        elif name == "casme3":
            typ = draw(st.sampled_from(["Macro-expression", "Micro-expression"]))
            rows.append([f"spNO.{subj}", "a", str(on), str(ap), str(off), "4", typ, "III"])
        else:
            rows.append([f"S{subj:02d}", f"S{subj:02d}-01-{k:03d}", on, ap, off, draw(st.sampled_from(EMOTIONS))])
    preamble = draw(st.integers(0, 3))  # notes above the header, as in SAMM / SAMM-LV
    return rows, preamble


def _write(rows, header, preamble, folder: Path, suffix=".csv") -> Path:
    path = folder / f"sheet{suffix}"
    lines = [["note: symbol key"] + [""] * (len(header) - 1)] * preamble
    df = pd.DataFrame(lines + [header] + rows)
    if suffix == ".csv":
        df.to_csv(path, index=False, header=False)
    else:
        df.to_excel(path, index=False, header=False)
    return path


def _one_line(err, path, *words):
    msg = str(err)
    assert "\n" not in msg and str(path) in msg
    for w in words:
        assert w in msg, (w, msg)


SET = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("name", sorted(HEADERS))
@SET
@given(data=st.data())
def test_wellformed_reads_back_exactly(name, data):
    rows, preamble = data.draw(samples(name))
    with tempfile.TemporaryDirectory() as d:
        df = read_annotations(name, _write(rows, HEADERS[name], preamble, Path(d)))
    assert len(df) == len(rows)
    seen: dict[str, int] = {}
    for got, row in zip(df.itertuples(index=False), rows, strict=True):
        want = [int(float(row[c]) + 0.5) for c in FRAME_COLS[name]]
        assert [got.onset_annot, got.apex_annot, got.offset_annot] == want  # as in the sheet
        assert [got.onset, got.apex, got.offset] == [max(0, w - got.first_frame) for w in want]  # 0-based
        if name == "casme3":  # clip = <subject>_<letter>_<k-th row of that video>
            video = f"{row[0]}_{row[1]}"
            seen[video] = seen.get(video, 0) + 1
            assert got.clip == f"{video}_{seen[video]}"
        else:
            assert got.clip == row[1]


@pytest.mark.parametrize("name", sorted(HEADERS))
@SET
@given(data=st.data())
def test_missing_required_column_is_named(name, data):
    rows, preamble = data.draw(samples(name))
    drop = data.draw(st.sampled_from(REQUIRED[name]))
    header = [h for i, h in enumerate(HEADERS[name]) if i != drop]
    rows = [[v for i, v in enumerate(r) if i != drop] for r in rows]
    with tempfile.TemporaryDirectory() as d:
        path = _write(rows, header, preamble, Path(d))
        with pytest.raises(AnnotationError) as info:
            read_annotations(name, path)
    _one_line(info.value, path, "missing column", repr(HEADERS[name][drop]))


@pytest.mark.parametrize("name", sorted(HEADERS))
@SET
@given(data=st.data(), junk=st.text(alphabet="abcxyz?!# ", min_size=1, max_size=8).filter(
    lambda s: s.strip() not in ("", "-", "/") and s.strip().lower() != "nan"))
def test_text_in_frame_column_is_named(name, data, junk):
    rows, preamble = data.draw(samples(name))
    col = data.draw(st.sampled_from(FRAME_COLS[name]))
    k = data.draw(st.integers(0, len(rows) - 1))
    rows[k][col] = junk
    with tempfile.TemporaryDirectory() as d:
        path = _write(rows, HEADERS[name], preamble, Path(d))
        with pytest.raises(AnnotationError) as info:
            read_annotations(name, path)
    _one_line(info.value, path, repr(HEADERS[name][col]), "not a frame number")


@pytest.mark.parametrize("name", ["casme2", "samm_lv", "casme_sq", "composite", "smic"])
@pytest.mark.parametrize("content", ["", "\n\n", "Subject,Filename\n"])
def test_empty_or_headless_files(tmp_path, name, content):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(AnnotationError) as info:
        read_annotations(name, path)
    _one_line(info.value, path)


def test_xlsx_malformed_also_named(tmp_path):
    rows = [["01", "EP02_01f", 46, "sixty", 86, "12", "happiness"]]
    path = _write(rows, HEADERS["casme2"], 0, tmp_path, ".xlsx")
    with pytest.raises(AnnotationError) as info:
        read_annotations("casme2", path)
    _one_line(info.value, path, "'ApexFrame'", "row 2")


def test_corrupt_workbook_and_missing_file(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(AnnotationError) as info:
        read_annotations("casme2", bad)
    _one_line(info.value, bad, "cannot read")
    with pytest.raises(InputError, match="not found"):
        read_annotations("samm", tmp_path / "nope.xlsx")


def test_casme_sq_bad_type_and_bad_frames(tmp_path):
    path = tmp_path / "code.csv"
    path.write_text("1,anger1_1,557,572,608,4,negative,macro-expression,anger\n"
                    "1,anger1_2,x,572,608,4,negative,micro-expression,anger\n")
    with pytest.raises(AnnotationError) as info:
        read_annotations("casme_sq", path)
    _one_line(info.value, path, "'onset'", "row 2")
    path.write_text("1,anger1_1,557,572,608,4,negative,blink,anger\n")
    with pytest.raises(AnnotationError) as info:
        read_annotations("casme_sq", path)
    _one_line(info.value, path, "'type'")


def test_negative_frame_other_than_minus_one(tmp_path):
    rows = [["006", "006_1_1", -5, 3, 9, "Macro", "4"]]
    path = _write(rows, HEADERS["samm_lv"], 0, tmp_path)
    with pytest.raises(AnnotationError) as info:
        read_annotations("samm_lv", path)
    _one_line(info.value, path, "'Onset'", "negative")


def test_casme_sq_empty_column_does_not_shift_positions(tmp_path):
    path = tmp_path / "code.csv"  # headerless; the AU column is empty in every row
    path.write_text("1,anger1_1,557,572,608,,negative,macro-expression,anger\n"
                    "2,happy1_2,10,12,0,,positive,micro-expression,happiness\n")
    df = read_annotations("casme_sq", path)
    assert list(df["emotion"]) == ["negative", "positive"] and list(df["type"]) == ["mae", "me"]
    assert list(df["au"]) == ["", ""] and list(df["offset_annot"]) == [608, 12] and list(df["offset"]) == [607, 11]
