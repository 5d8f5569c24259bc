"""Explicit, logged annotation fixes: corrections are applied only from a table the user can read and cite.

A fix table (CSV or DataFrame) has columns ``subject, clip, column, old, new``. Each fix must match exactly one
row whose current value equals ``old`` (``''`` for missing), so a fix written for one coding-file version can
never silently change another. Applied fixes are listed in ``df.attrs['fixes_applied']``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microexp.datasets.common import FRAME_COLUMNS, clean_text, index_frames, norm_subject
from microexp.errors import AnnotationError

FIX_COLUMNS = ("subject", "clip", "column", "old", "new")


def read_fix_table(path: str | Path) -> pd.DataFrame:
    """Read a fix table CSV (header ``subject,clip,column,old,new``)."""
    path = Path(path)
    try:
        t = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (FileNotFoundError, pd.errors.EmptyDataError, pd.errors.ParserError) as err:
        raise AnnotationError(f"cannot read fix table ({type(err).__name__})", path) from None
    missing = [c for c in FIX_COLUMNS if c not in t.columns]
    if missing:
        raise AnnotationError(f"missing column {missing[0]!r}", path)
    t.attrs["source"] = str(path)
    return t


def apply_fixes(df: pd.DataFrame, fixes: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Return a copy of ``df`` with every fix applied; 0-based columns are recomputed for frame fixes."""
    table = fixes if isinstance(fixes, pd.DataFrame) else read_fix_table(fixes)
    src = table.attrs.get("source", "fix table")
    dataset = str(df.attrs.get("dataset", ""))
    out = df.copy()
    applied = list(df.attrs.get("fixes_applied", []))
    for i, f in enumerate(table.to_dict("records"), start=2):
        col = clean_text(f["column"])
        if col in FRAME_COLUMNS:  # a fix is written against the sheet: it changes the annotated number
            col = f"{col}_annot"
        if col not in out.columns:
            raise AnnotationError(f"fix row {i}: unknown column {col!r}", src)
        try:
            subject = norm_subject(dataset, f["subject"]) if dataset else clean_text(f["subject"])
        except ValueError:
            raise AnnotationError(f"fix row {i}: bad subject {f['subject']!r}", src) from None
        hit = out.index[(out["subject"] == subject) & (out["clip"] == clean_text(f["clip"]))]
        if len(hit) != 1:
            raise AnnotationError(f"fix row {i}: {subject}/{f['clip']} matches {len(hit)} rows, expected 1", src)
        cur = out.at[hit[0], col]
        cur_text = "" if cur is pd.NA or (isinstance(cur, float) and pd.isna(cur)) else clean_text(cur)
        if cur_text != clean_text(f["old"]):
            raise AnnotationError(f"fix row {i}: {col} of {subject}/{f['clip']} is {cur_text!r}, "
                                  f"the fix expects {clean_text(f['old'])!r}", src)
        new = clean_text(f["new"])
        if col.endswith("_annot") and col[:-6] in FRAME_COLUMNS:
            try:
                out.at[hit[0], col] = pd.NA if new == "" else int(new)
            except ValueError:
                raise AnnotationError(f"fix row {i}: new value {new!r} is not a frame number", src) from None
        else:
            out.at[hit[0], col] = new
        applied.append({"subject": subject, "clip": clean_text(f["clip"]), "column": col, "old": cur_text,
                        "new": new})
    if any(a["column"].endswith("_annot") for a in applied):
        index_frames(out)
    out.attrs = {**df.attrs, "fixes_applied": applied, "fix_source": str(src)}
    return out
