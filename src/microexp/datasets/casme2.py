"""CASME II: both coding files (``CASME2-coding-20190701.xlsx`` with blank columns C/G and ``Objective
Classes``; ``CASME2-coding-20140508.xlsx`` without), columns picked by header name, never by position.

``Subject`` is text (``'01'``); folders are ``sub01``. The 2019 file has ``ApexFrame = '/'`` for sub04
EP12_01f, which becomes <NA> (``apex_missing``). Frames ``img<N>.jpg`` carry original frame numbers, so a clip
folder starts at its onset.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microexp.datasets.common import Col, finish, parse_sheet
from microexp.errors import AnnotationError

FPS = 200.0

COLUMNS = (
    Col("subject", ("Subject",), "subject"),
    Col("clip", ("Filename",)),
    Col("onset", ("OnsetFrame", "Onset Frame", "Onset"), "frame"),
    Col("apex", ("ApexFrame", "Apex Frame", "Apex"), "frame"),
    Col("offset", ("OffsetFrame", "Offset Frame", "Offset"), "frame"),
    Col("au", ("Action Units", "AUs", "AU", "Aus"), required=False),
    Col("emotion", ("Estimated Emotion", "Emotion"), "emotion"),
    Col("objective_class", ("Objective Classes", "Objective Class"), "int", required=False),
)

#: CASME II 5-class protocol (spec §5.2): fear and sadness dropped; 249 rows with the 2019 coding.
#: Label order as in MMNet's CASME2_5.py (happiness 0, repression 1, disgust 2, surprise 3, others 4).
FIVE_CLASSES = ("happiness", "repression", "disgust", "surprise", "others")
#: MMNet's own CASME II 3-class set (not MEGC's): positive 0, surprise 1, negative 2 incl. fear and sadness.
THREE_CLASSES_MMNET = ("positive", "surprise", "negative")
_TO_THREE = {"happiness": "positive", "surprise": "surprise", "disgust": "negative", "repression": "negative",
             "fear": "negative", "sadness": "negative"}


def read_casme2(path: str | Path) -> pd.DataFrame:
    """Read either CASME II coding file; ``attrs['coding']`` says which (``2019`` when Objective Classes exists)."""
    path = Path(path)
    df = parse_sheet(path, "casme2", COLUMNS)
    df["type"] = "me"
    df["apex_missing"] = df["apex"].isna()
    coding = "2019" if "objective_class" in df.columns else "2014"
    return finish(df, "casme2", path, fps=FPS, first_frame="onset", extra_attrs={"coding": coding})


def five_class(df: pd.DataFrame) -> pd.DataFrame:
    """The CASME II 5-class protocol: rows of the five classes, ``label`` 0-4 in ``FIVE_CLASSES`` order."""
    unknown = ~df["emotion"].isin(FIVE_CLASSES + ("fear", "sadness"))
    if unknown.any():  # a misspelt label must not silently drop a sample from the protocol
        r = df[unknown].iloc[0]
        raise AnnotationError(f"row {r.get('row', '?')}: emotion {r['emotion']!r} is not a CASME II class "
                              f"({', '.join(FIVE_CLASSES + ('fear', 'sadness'))})", df.attrs.get("source"))
    out = df[df["emotion"].isin(FIVE_CLASSES)].copy()
    out["label"] = out["emotion"].map({c: i for i, c in enumerate(FIVE_CLASSES)}).astype(int)
    out.attrs = {**df.attrs, "protocol": "casme2_5class", "classes": FIVE_CLASSES}
    return out.reset_index(drop=True)


def three_class_mmnet(df: pd.DataFrame) -> pd.DataFrame:
    """MMNet's CASME II 3-class set (156 rows, 25 subjects with the 2019 coding); ``emotion`` keeps the
    original label, ``label3`` names the class and ``label`` is its index in ``THREE_CLASSES_MMNET``."""
    out = df[df["emotion"].isin(_TO_THREE)].copy()
    out["label3"] = out["emotion"].map(_TO_THREE)
    out["label"] = out["label3"].map({c: i for i, c in enumerate(THREE_CLASSES_MMNET)}).astype(int)
    out.attrs = {**df.attrs, "protocol": "casme2_3class_mmnet", "classes": THREE_CLASSES_MMNET}
    return out.reset_index(drop=True)
