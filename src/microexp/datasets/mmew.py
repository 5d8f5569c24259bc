"""MMEW micro-expressions (``MMEW_Micro_Exp.xlsx`` at the dataset root).

**Not checked against a real file** (no public copy in ../shared). Header names follow the one library that
reads it (MEB: ``Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units, Estimated Emotion,
remarks``); the reader finds them by name, so a differing real file fails with a one-line error naming the
missing column rather than producing a wrong table. Clip names look like ``S13-07-001``
(person-emotion-sample); frames ``Micro_Expression/<emotion>/<clip>/<n>.jpg``. 90 fps (UNCONFIRMED).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microexp.datasets.common import Col, finish, norm_subject, parse_sheet

FPS = 90.0
#: MMNet's MMEW 4-class set.
FOUR_CLASSES = ("happiness", "surprise", "disgust", "others")

COLUMNS = (
    Col("subject", ("Subject",), "text", required=False),
    Col("clip", ("Filename",)),
    Col("onset", ("OnsetFrame", "Onset Frame", "Onset"), "frame"),
    Col("apex", ("ApexFrame", "Apex Frame", "Apex"), "frame"),
    Col("offset", ("OffsetFrame", "Offset Frame", "Offset"), "frame"),
    Col("au", ("Action Units", "AU", "AUs"), required=False),
    Col("emotion", ("Estimated Emotion", "Emotion"), "emotion"),
    Col("notes", ("remarks", "Notes"), required=False),
)


def read_mmew(path: str | Path) -> pd.DataFrame:
    """Read the MMEW micro-expression sheet; the subject falls back to the clip prefix (``S13-07-001`` -> 13)."""
    path = Path(path)
    df = parse_sheet(path, "mmew", COLUMNS)
    subj = df["subject"] if "subject" in df.columns else pd.Series([""] * len(df))
    subj = subj.where(subj != "", df["clip"].str.split("-").str[0])
    df["subject"] = [norm_subject("mmew", s) for s in subj]
    df["type"] = "me"
    return finish(df, "mmew", path, fps=FPS, first_frame="onset", extra_attrs={"checked": False})
