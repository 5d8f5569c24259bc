"""SAMM cut clips (``SAMM_Micro_FACS_Codes_v2.xlsx``) and SAMM Long Videos (V2 release and the V3-like copy).

Both sheets carry a preamble of notes above the header in some copies (row 14 / row 10) and none in others,
so the header row is found by content. Subject ids stay 3-digit text (``'006'``). SAMM-LV frame numbers can
be fractional (``566.4000000000001``): they are rounded half up; ``Apex = -1`` means "not annotated".
Never share frame numbers between the two: SAMM-LV 006_1_2 starts at 3562, the cut clip at 5562.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microexp.datasets.common import Col, finish, parse_sheet, pick_sheet
from microexp.errors import AnnotationError

FPS = 200.0

SAMM_COLUMNS = (
    Col("subject", ("Subject",), "subject"),
    Col("clip", ("Filename",)),
    Col("inducement", ("Inducement Code",), "int", required=False),
    Col("onset", ("Onset Frame", "OnsetFrame", "Onset"), "frame"),
    Col("apex", ("Apex Frame", "ApexFrame", "Apex"), "frame"),
    Col("offset", ("Offset Frame", "OffsetFrame", "Offset"), "frame"),
    Col("au", ("Action Units", "AU"), required=False),
    Col("emotion", ("Estimated Emotion", "Emotion"), "emotion"),
    Col("objective_class", ("Objective Classes", "Objective Class"), "int", required=False),
    Col("notes", ("Notes",), required=False),
)

SAMM_LV_COLUMNS = (
    Col("subject", ("Subject",), "subject"),
    Col("clip", ("Filename",)),
    Col("inducement", ("Inducement Code",), "int", required=False),
    Col("onset", ("Onset", "Onset Frame"), "frame"),
    Col("apex", ("Apex", "Apex Frame"), "frame"),
    Col("offset", ("Offset", "Offset Frame"), "frame"),
    Col("type_raw", ("Type",)),
    Col("au", ("Action Units",), required=False),
    Col("notes", ("Notes",), required=False),
)


def read_samm(path: str | Path) -> pd.DataFrame:
    """Read the SAMM micro-expression coding (159 rows in v2), header row found by content."""
    path = Path(path)
    df = parse_sheet(path, "samm", SAMM_COLUMNS, sheet=pick_sheet(path, ("MICRO_ONLY",)))
    df["type"] = "me"
    return finish(df, "samm", path, fps=FPS, first_frame="onset")


def _lv_type(value: str, path: Path, row: int) -> str:
    v = value.strip().lower()
    if v.startswith("macro"):
        return "mae"
    if v.startswith("micro"):
        return "me"
    raise AnnotationError(f"column 'Type' row {row}: {value[:30]!r} is not Macro or Micro", path)


def read_samm_lv(path: str | Path) -> pd.DataFrame:
    """Read SAMM Long Videos (V2 ``FACS_Movement_Only`` sheet or a V3-style copy) into the standard table.

    Extra columns: ``video`` (``006_1``: subject_inducement, from the expression id), ``apex_missing``.
    """
    path = Path(path)
    df = parse_sheet(path, "samm_lv", SAMM_LV_COLUMNS, sheet=pick_sheet(path, ("FACS_Movement_Only",)))
    df["type"] = [_lv_type(v, path, r) for v, r in zip(df["type_raw"], df["row"], strict=True)]
    parts = df["clip"].str.split("_")
    bad = parts.map(len) < 3
    if bad.any():
        r = df.loc[bad.idxmax()]
        raise AnnotationError(f"column 'Filename' row {r['row']}: {r['clip']!r} is not like '006_1_2'", path)
    df["video"] = parts.str[0].str.zfill(3) + "_" + parts.str[1]
    df["apex_missing"] = df["apex"].isna()
    for col in ("onset", "offset"):
        if df[col].isna().any():
            r = df.loc[df[col].isna().idxmax()]
            raise AnnotationError(f"column {col!r} row {r['row']}: missing frame number", path)
    return finish(df.drop(columns=["type_raw"]), "samm_lv", path, fps=FPS, first_frame=1)


#: SAMM 5-class protocol (spec §5.2): 136 rows (anger 57, contempt 12, happiness 26, surprise 15, other 26).
FIVE_CLASSES = ("anger", "contempt", "happiness", "surprise", "other")


def five_class(df: pd.DataFrame) -> pd.DataFrame:
    """The SAMM 5-class protocol: rows of the five classes, ``label`` 0-4 in ``FIVE_CLASSES`` order."""
    known = FIVE_CLASSES + ("disgust", "fear", "sadness")
    unknown = ~df["emotion"].isin(known)
    if unknown.any():  # a misspelt label must not silently drop a sample from the protocol
        r = df[unknown].iloc[0]
        raise AnnotationError(f"row {r.get('row', '?')}: emotion {r['emotion']!r} is not a SAMM class "
                              f"({', '.join(known)})", df.attrs.get("source"))
    out = df[df["emotion"].isin(FIVE_CLASSES)].copy()
    out["label"] = out["emotion"].map({c: i for i, c in enumerate(FIVE_CLASSES)}).astype(int)
    out.attrs = {**df.attrs, "protocol": "samm_5class", "classes": FIVE_CLASSES}
    return out.reset_index(drop=True)
