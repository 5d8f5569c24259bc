"""Explicit fix tables: applied only when the old value matches, and logged."""

from __future__ import annotations

import pandas as pd
import pytest

from microexp.datasets import read_annotations
from microexp.datasets.fixes import apply_fixes
from microexp.errors import AnnotationError

from conftest import shared_path


def _casme2():
    return read_annotations("casme2", shared_path("annotations", "casme2", "CASME2-coding-20190701.xlsx"))


def test_fix_fills_missing_apex_and_is_logged():
    df = _casme2()
    fixes = pd.DataFrame([{"subject": "sub04", "clip": "EP12_01f", "column": "apex", "old": "", "new": "300"}])
    out = apply_fixes(df, fixes)
    row = out[(out["subject"] == "04") & (out["clip"] == "EP12_01f")].iloc[0]
    assert row["apex_annot"] == 300 and row["apex"] == 300 - row["first_frame"]  # the fix is in sheet numbers
    assert out.attrs["fixes_applied"] == [{"subject": "04", "clip": "EP12_01f", "column": "apex_annot", "old": "",
                                           "new": "300"}]
    assert df["apex_annot"].isna().sum() == 1 and df["apex"].isna().sum() == 1  # the input is untouched


def test_fix_with_wrong_old_value_is_refused(tmp_path):
    path = tmp_path / "fixes.csv"
    path.write_text("subject,clip,column,old,new\n01,EP02_01f,offset,90,91\n")
    with pytest.raises(AnnotationError, match="is '86', the fix expects '90'"):
        apply_fixes(_casme2(), path)
    path.write_text("subject,clip,column,old,new\n01,NOPE,offset,86,91\n")
    with pytest.raises(AnnotationError, match="matches 0 rows"):
        apply_fixes(_casme2(), path)
    path.write_text("subject,clip,old,new\n01,EP02_01f,86,91\n")
    with pytest.raises(AnnotationError, match="missing column 'column'"):
        apply_fixes(_casme2(), path)
