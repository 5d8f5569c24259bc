"""SMIC (HS / VIS / NIR): the SMIC-E annotation sheets and the derived ``coding.csv``-style tables.

No original SMIC-E workbook is public; the reader follows the columns every known parser uses (``Subject``,
``Filename``, ``OnsetF``, ``OffsetF``, ``FirstF``, ``Emotion``; ``ApexF`` in the 2019 version) and also reads
the derived tables (``OnsetFrame``/``ApexFrame``/``OffsetFrame``). Frame numbers are absolute (``559740``);
with ``FirstF`` the 0-based index is ``frame - FirstF``. The original file has **no apex**: apex stays <NA>
(``apex_missing``) unless ``apex="midpoint"`` is asked for; the derived ``smic_apex.xlsx`` apex is computed by
an algorithm, not annotated.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from microexp.datasets.common import Col, finish, parse_sheet
from microexp.errors import AnnotationError, ConfigError

FPS = {"hs": 100.0, "vis": 25.0, "nir": 25.0}
_CODE = {"ne": "negative", "po": "positive", "sur": "surprise", "su": "surprise"}

COLUMNS = (
    Col("subject", ("Subject",), "subject"),
    Col("clip", ("Filename", "clip")),
    Col("onset", ("OnsetF", "OnsetFrame", "onset_frame", "Onset"), "frame"),
    Col("apex", ("ApexF", "ApexFrame", "apex_frame", "Apex"), "frame", required=False),
    Col("offset", ("OffsetF", "OffsetFrame", "offset_frame", "Offset"), "frame"),
    Col("first_frame", ("FirstF",), "frame", required=False),
    Col("emotion", ("Emotion", "Estimated Emotion"), "emotion", required=False),
    Col("label_raw", ("label",), "int", required=False),
)


def variant_of(path: str | Path) -> str:
    """``hs`` / ``vis`` / ``nir`` from the file name (SMIC-VIS-E_annotation.xlsx -> vis); default hs."""
    name = Path(path).name.lower()
    for v in ("vis", "nir"):
        if re.search(rf"(^|[^a-z]){v}([^a-z]|$)", name):
            return v
    return "hs"


def read_smic(path: str | Path, *, variant: str | None = None, apex: str = "keep") -> pd.DataFrame:
    """Read a SMIC-E annotation sheet or a derived SMIC table; ``attrs['variant']`` and ``fps`` follow the variant.

    ``apex``: ``"keep"`` (as in the file, <NA> when absent) or ``"midpoint"`` (fill missing apexes with the
    onset/offset midpoint, as MEB does; flagged in ``apex_missing``).
    """
    path = Path(path)
    variant = (variant or variant_of(path)).lower()
    if variant not in FPS:
        raise ConfigError(f"SMIC variant must be one of {sorted(FPS)}, got {variant!r}")
    if apex not in ("keep", "midpoint"):
        raise ConfigError(f"apex must be 'keep' or 'midpoint', got {apex!r}")
    df = parse_sheet(path, "smic", COLUMNS)
    if "apex" not in df.columns:
        df["apex"] = pd.array([pd.NA] * len(df), dtype="Int64")
    emo = df["emotion"] if "emotion" in df.columns else pd.Series([""] * len(df))
    from_name = df["clip"].map(lambda c: _CODE.get(_code(c), ""))
    emo = emo.map(lambda e: {"ne": "negative", "po": "positive", "sur": "surprise"}.get(e, e))
    emo = emo.where(emo != "", from_name)
    if (emo == "").any():
        r = df[emo == ""].iloc[0]
        raise AnnotationError(f"row {r['row']}: no emotion for clip {r['clip']!r}", path)
    df["emotion"] = emo.to_numpy()
    df["type"] = "me"
    df["apex_missing"] = df["apex"].isna()
    if apex == "midpoint":
        df["apex"] = df["apex"].fillna((df["onset"] + df["offset"]) // 2)
    if "first_frame" in df.columns:
        df["first_frame"] = df["first_frame"].fillna(df["onset"])
    df = df.drop(columns=[c for c in ("label_raw",) if c in df.columns])
    return finish(df, "smic", path, fps=FPS[variant], first_frame="onset", extra_attrs={"variant": variant})


def _code(clip: str) -> str:
    m = re.match(r"s\d+_([a-z]+)_\d+", clip.lower())
    return m.group(1) if m else ""
