"""Dataset summaries and the problems a researcher should know before training: counts per subject, type and
class, and a table of problems (missing frame folders, frames that do not exist, duplicated rows, missing or
reversed frame numbers, rows clipped by the 0-based conversion, values filled by a documented rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

PROBLEM_COLUMNS = ["row", "subject", "clip", "problem"]


@dataclass
class DatasetSummary:
    """What ``microexp datasets info`` prints."""

    name: str
    source: str
    n_rows: int
    n_subjects: int
    n_videos: int | None
    by_subject: pd.Series
    by_type: pd.Series
    by_class: pd.Series
    problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PROBLEM_COLUMNS))


def _rows(df: pd.DataFrame, mask: pd.Series, problem: str) -> list[dict]:
    sub = df[mask.fillna(False).astype(bool)]
    rows = sub["row"] if "row" in sub.columns else sub.index + 1
    return [{"row": int(r), "subject": s, "clip": c, "problem": problem}
            for r, s, c in zip(rows, sub["subject"], sub["clip"], strict=True)]


def find_problems(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (sample, problem); empty when the table is clean."""
    out: list[dict] = []
    keys = ["dataset", "subject", "clip"]
    out += _rows(df, df.duplicated(keys, keep="first"), "duplicated sample id")
    if "video" in df.columns:
        iv = ["video", "onset", "apex", "offset", "type"]
        out += _rows(df, df.duplicated(iv, keep="first") & ~df.duplicated(keys, keep="first"),
                     "duplicated interval (same video, frames and type)")
    on, ap, off = (df[f"{c}_annot"] if f"{c}_annot" in df.columns else df[c] for c in ("onset", "apex", "offset"))
    for col, v in (("onset", on), ("offset", off)):
        out += _rows(df, v.isna(), f"{col} not annotated")
    if "apex" in df.columns and "apex_missing" in df.columns:
        out += _rows(df, df["apex_missing"], "apex not annotated" + (" (filled)" if ap.notna().all() else ""))
    if "offset_missing" in df.columns:
        out += _rows(df, df["offset_missing"], "offset = 0 in the file (not annotated)"
                     + (f"; filled with {df.attrs.get('offset0')}" if df.attrs.get("offset0") == "apex" else ""))
    out += _rows(df, off < on, "offset before onset")
    out += _rows(df, (ap < on) | (ap > off), "apex outside [onset, offset]")
    if "clipped" in df.columns:
        out += _rows(df, df["clipped"], "frame before the first frame; 0-based index clipped to 0")
    if "frames_dir" in df.columns:
        missing = df["frames_dir"] == ""
        if missing.all():
            out.append({"row": 0, "subject": "", "clip": "",
                        "problem": f"no frame folders found under {df.attrs.get('root', 'the dataset folder')}"})
        else:
            out += _rows(df, missing, "frame folder missing")
        out += _rows(df, ~missing & ~df["frames_ok"], "annotated frames do not exist in the folder")
    probs = pd.DataFrame(out, columns=PROBLEM_COLUMNS)
    return probs.sort_values(["row", "problem"], kind="stable").reset_index(drop=True)


def summarize(df: pd.DataFrame) -> DatasetSummary:
    """Counts per subject, type and class plus ``find_problems``."""
    cls = df["emotion"].astype(str)
    if "objective_class" in df.columns and (cls == "").all():  # CAS(ME)^3 Part A: classes I-VII only
        cls = "objective class " + df["objective_class"].astype(str)
    cls = cls.where(cls != "", "(none)")
    by_subject = df.groupby("subject_key", sort=True).size()
    return DatasetSummary(
        name=str(df.attrs.get("name", df.attrs.get("dataset", ""))), source=str(df.attrs.get("source", "")),
        n_rows=len(df), n_subjects=int(df["subject_key"].nunique()),
        n_videos=int(df["video"].nunique()) if "video" in df.columns else None,
        by_subject=by_subject, by_type=df["type"].value_counts(), by_class=cls.value_counts(),
        problems=find_problems(df))
