"""Long-video spotting helpers: ground-truth tables for the scorer, ``Interval`` records, and the list of every
video on disk (videos without any expression count in MEGC scoring: CAS(ME)^2 has 98 folders, 95 with GT).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from microexp.datasets.common import frame_number as _frame_number
from microexp.datasets.frames import candidate_bases
from microexp.errors import ConfigError, InputError
from microexp.io.frames import list_frames
from microexp.records import Interval

GT_COLUMNS = ["dataset", "subject", "video", "onset", "apex", "offset", "type", "fps",
              "onset_annot", "apex_annot", "offset_annot"]


def spotting_gt(df: pd.DataFrame) -> pd.DataFrame:
    """``dataset, subject, video, onset, apex, offset, type, fps`` (0-based) for ``microexp.eval.spotting``.

    The annotated numbers ride along in ``*_annot`` (the MEGC rules on annotated 0s read them). Rows without
    onset or offset are dropped and counted in ``attrs['dropped']``.
    """
    if "video" not in df.columns:
        raise ConfigError(f"{df.attrs.get('dataset', 'this dataset')} has no long videos (no 'video' column)")
    out = df[GT_COLUMNS].copy()
    keep = out["onset"].notna() & out["offset"].notna()
    out = out[keep].reset_index(drop=True)
    out.attrs = {"source": df.attrs.get("source"), "md5": df.attrs.get("md5"), "dropped": int((~keep).sum())}
    return out


def to_intervals(df: pd.DataFrame) -> dict[str, list[Interval]]:
    """Per video, the annotated expressions as 0-based inclusive ``Interval`` records (apex <NA> -> midpoint)."""
    gt = spotting_gt(df)
    out: dict[str, list[Interval]] = {}
    for r in gt.itertuples(index=False):
        on, off = int(r.onset), int(r.offset)
        if off < on:
            on, off = off, on
        apex = int(r.apex) if r.apex is not pd.NA and on <= int(r.apex) <= off else (on + off) // 2
        out.setdefault(r.video, []).append(Interval(on, apex, off, r.type))
    return out


_SAMM_VIDEO = re.compile(r"^(\d{3})_(\d+)$")


def list_videos(name: str, root: str | Path) -> pd.DataFrame:
    """Every video folder of a long-video dataset under ``root``: ``video, subject, folder, n_frames, first_frame``.

    Supported: ``casme_sq`` (``s15/15_0101...``, with the ``s19/23_0502`` folder kept under s19 and marked in
    ``quirk``), ``samm_lv`` (``006_1``), ``casme3`` (``spNO.1/a/color``).
    """
    from microexp.datasets.casme_sq import video_folders
    from microexp.datasets.frames import _casme_sq_base

    root = Path(root)
    if not root.is_dir():
        raise InputError("dataset folder not found", root)
    if name == "casme_sq":
        base = _casme_sq_base(root)
        vids = video_folders(base) if base is not None else pd.DataFrame(columns=["video", "subject", "folder"])
    elif name == "samm_lv":
        vids = _find(root, lambda p: [(f"{m.group(1)}_{m.group(2)}", m.group(1), p)
                                      for m in [_SAMM_VIDEO.match(p.name)] if m])
    elif name == "casme3":
        vids = _find(root, lambda p: [(f"spNO.{int(p.parent.parent.name[5:])}_{p.parent.name}",
                                       f"spNO.{int(p.parent.parent.name[5:])}", p)]
                     if p.name == "color" and re.fullmatch(r"spNO\.\d+", p.parent.parent.name) else [])
    else:
        raise ConfigError(f"list_videos supports casme_sq, samm_lv, casme3; got {name!r}")
    rows = []
    for r in vids.to_dict("records"):
        files = list_frames(Path(r["folder"]))
        nums = [n for n in (_frame_number(p.name) for p in files) if n is not None]
        rows.append({**r, "n_frames": len(files), "first_frame": min(nums) if nums else None})
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=["video", "subject", "folder", "n_frames", "first_frame"])
    return out.sort_values("video").reset_index(drop=True)


def _find(root: Path, match) -> pd.DataFrame:
    rows, seen = [], set()
    for base in candidate_bases(root, depth=5, cap=50000):
        for video, subject, folder in match(base):
            if video not in seen:
                seen.add(video)
                rows.append({"video": video, "subject": subject, "folder": str(folder)})
    return pd.DataFrame(rows, columns=["video", "subject", "folder"])
