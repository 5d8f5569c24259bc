"""4DME micro-expressions (``4DME_Labelling_Micro_release v1.xlsx``).

**Not checked against a real file** (no public copy exists). Header names follow MEB's reader (``sub_ID,
fold_name, Onset, Apex, Offset, AUs, Emotion``); they are matched by name, so a differing real file fails with
a one-line error naming the missing column. Frames ``<subject>/<clip>/...`` (gray); 60 fps (UNCONFIRMED).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microexp.datasets.common import Col, finish, parse_sheet

FPS = 60.0

COLUMNS = (
    Col("subject", ("sub_ID", "Subject"), "subject"),
    Col("clip", ("fold_name", "Filename")),
    Col("onset", ("Onset", "OnsetFrame"), "frame"),
    Col("apex", ("Apex", "ApexFrame"), "frame"),
    Col("offset", ("Offset", "OffsetFrame"), "frame"),
    Col("au", ("AUs", "AU", "Action Units"), required=False),
    Col("emotion", ("Emotion", "Estimated Emotion"), "emotion"),
)


def read_4dme(path: str | Path) -> pd.DataFrame:
    """Read the 4DME micro-expression label sheet (columns by name; unverified layout, see module doc)."""
    path = Path(path)
    df = parse_sheet(path, "4dme", COLUMNS)
    df["type"] = "me"
    return finish(df, "4dme", path, fps=FPS, first_frame="onset", extra_attrs={"checked": False})
