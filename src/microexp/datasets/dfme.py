"""DFME (``training/testA/testB_full_with_AU.xlsx``): per-row ``Fps`` (200 or 500), subjects ``sub0003``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microexp.datasets.common import Col, finish, parse_sheet

COLUMNS = (
    Col("subject", ("Subject",), "subject"),
    Col("clip", ("Filename",)),
    Col("onset", ("OnsetFrame",), "frame"),
    Col("apex", ("ApexFrame",), "frame"),
    Col("offset", ("OffsetFrame",), "frame"),
    Col("emotion", ("Emotion",), "emotion"),
    Col("emotion_id", ("EmotionId",), "int", required=False),
    Col("fps", ("Fps",), "int", required=False),
    Col("au", ("AU", "Action Units"), required=False),
)


def read_dfme(path: str | Path) -> pd.DataFrame:
    """Read one DFME sheet; ``fps`` comes from the per-row ``Fps`` column (NaN when absent)."""
    path = Path(path)
    df = parse_sheet(path, "dfme", COLUMNS)
    df["type"] = "me"
    if "fps" in df.columns:
        df["fps"] = df["fps"].astype("float64")
    return finish(df, "dfme", path, fps=None, first_frame="onset")
