"""CAS(ME)^3 Part A (long videos, macro + micro) and Part C (mock-crime MEs), as published by the authors.

All frame numbers in the Part A sheets are text (one is a number); they are parsed strictly. Frames on disk
are ``RGB/spNO.1/a/color/<n>.jpg`` starting at 1, so two rows with onset 0 (spNO.215/l, spNO.216/e) get
``clipped = True``. Emotions are case-folded (``others`` and ``Others`` both occur).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microexp.datasets.common import Col, finish, norm_subject, parse_sheet, pick_sheet
from microexp.errors import AnnotationError

FPS = 30.0
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7}
TYPES = {"macro-expression": "mae", "micro-expression": "me"}

PART_A_COLUMNS = (
    Col("subject", ("Subject",), "subject"),
    Col("material", ("Filename",)),
    Col("onset", ("Onset",), "frame"),
    Col("apex", ("Apex",), "frame"),
    Col("offset", ("Offset",), "frame"),
    Col("au", ("AU", "Action Units"), required=False),
    Col("type_raw", ("Expression type",), required=False),
    Col("objective_raw", ("Objective class", "Objective classes"), required=False),
    Col("emotion", ("emotion", "Estimated Emotion"), "emotion", required=False),
)

PART_C_ME_COLUMNS = (
    Col("subject", ("sub", "Subject"), "subject"),
    Col("count", ("count",), "int", required=False),
    Col("onset", ("onset",), "frame"),
    Col("offset", ("offset",), "frame"),
    Col("au", ("au",), required=False),
    Col("emotion", ("emotion",), "emotion"),
)

PART_C_COLUMNS = (
    Col("subject", ("Subject", "sub"), "subject"),
    Col("onset", ("Onset",), "frame"),
    Col("offset", ("Offset",), "frame"),
    Col("exp_type", ("Exp_type",), "int"),
    Col("risk", ("risk",), "int", required=False),
)


def read_casme3(path: str | Path) -> pd.DataFrame:
    """Part A: ``CAS(ME)3_part_A_v2.xls`` (4206 rows, macro + micro) or the ME-only JpgIndex sheet (860 rows).

    Extra columns: ``material`` (video letter), ``video`` (``spNO.1_a``), ``objective_class`` (1-7 from I-VII).
    ``clip`` is ``<video>_<k>`` with k counting the rows of that video in file order (the sheet has no id).
    """
    path = Path(path)
    df = parse_sheet(path, "casme3", PART_A_COLUMNS, sheet=pick_sheet(path, ("AU+Emotion", "label")))
    if "type_raw" in df.columns:
        bad = ~df["type_raw"].str.lower().isin(TYPES)
        if bad.any():
            r = df[bad].iloc[0]
            raise AnnotationError(f"column 'Expression type' row {r['row']}: {r['type_raw'][:30]!r} is not "
                                  "Macro-/Micro-expression", path)
        df["type"] = df["type_raw"].str.lower().map(TYPES)
        df = df.drop(columns=["type_raw"])
    else:  # the JpgIndex label sheet lists micro-expressions only
        df["type"] = "me"
    if "objective_raw" in df.columns:
        obj = df["objective_raw"].str.upper().map(ROMAN)
        bad = obj.isna() & (df["objective_raw"] != "")
        if bad.any():
            r = df[bad].iloc[0]
            raise AnnotationError(f"column 'Objective class' row {r['row']}: {r['objective_raw'][:20]!r} is not "
                                  "I-VII", path)
        df["objective_class"] = pd.array(obj.tolist(), dtype="Int64")
        df = df.drop(columns=["objective_raw"])
    df["video"] = df["subject"] + "_" + df["material"]
    df["clip"] = df["video"] + "_" + (df.groupby("video").cumcount() + 1).astype(str)
    return finish(df, "casme3", path, fps=FPS, first_frame=1)


def read_casme3_c(path: str | Path) -> pd.DataFrame:
    """Part C: ``CAS(ME)3_part_C_ME.xlsx`` (165 MEs with emotion) or ``CAS(ME)3_part_C.xls`` (``organize``).

    In ``organize``, ``Exp_type`` 1 = micro (all 159 such rows match an ME row by onset), 0 = macro.
    """
    path = Path(path)
    sheet = pick_sheet(path, ("mockCrimeME", "organize"))
    try:
        df = parse_sheet(path, "casme3_c", PART_C_ME_COLUMNS, sheet=sheet)
        df["type"] = "me"
    except AnnotationError as err:
        if "missing column" not in err.problem:
            raise
        df = None
    if df is None:  # the ``organize`` sheet
        df = parse_sheet(path, "casme3_c", PART_C_COLUMNS, sheet=sheet)
        bad = ~df["exp_type"].isin([0, 1])
        if bad.any():
            raise AnnotationError(f"column 'Exp_type' row {df[bad].iloc[0]['row']}: expected 0 or 1", path)
        df["type"] = df["exp_type"].map({0: "mae", 1: "me"})
    df["subject"] = [norm_subject("casme3_c", s) for s in df["subject"]]
    df["video"] = df["subject"]
    df["clip"] = df["subject"] + "_" + (df.groupby("subject").cumcount() + 1).astype(str)
    return finish(df, "casme3_c", path, fps=FPS, first_frame=1)
