"""CAS(ME)^2 long videos: ``CAS(ME)^2code_final.xlsx`` (no header row) with its two naming sheets.

The main sheet has no header, so columns are taken by position and then validated by content (the type
column must hold ``macro-expression``/``micro-expression``). ``offset = 0`` means "not annotated" (44 rows)
and ``apex = 0`` once; by default they are filled as the MEGC2020 baseline does (offset <- apex, apex <-
midpoint) and flagged in ``offset_missing`` / ``apex_missing``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from microexp.datasets.common import clean_text, finish, norm_emotion, read_sheet_raw, sheet_names, to_frame
from microexp.errors import AnnotationError, ConfigError

FPS = 30.0
MAIN_SHEET = "CASFEcode_final"
#: ``naming rule2``: video code -> expression-name stem. Used only when the workbook lacks that sheet.
VIDEO_CODES = {"disgust1": "0101", "disgust2": "0102", "anger1": "0401", "anger2": "0402", "happy1": "0502",
               "happy2": "0503", "happy3": "0505", "happy4": "0507", "happy5": "0508"}
TYPES = {"macro-expression": "mae", "micro-expression": "me"}
#: Spelling fixes applied to the self-reported emotion only (logged in ``attrs['fixes']``).
SELF_REPORT_FIXES = {"happyiness": "happiness"}
COLUMNS = ("participant", "expression", "onset", "apex", "offset", "au", "emotion", "type", "self_report")


def _naming(path: Path, sheets: list[str]) -> tuple[dict[int, str], dict[str, str]]:
    """participant -> subject folder (``naming rule1``) and expression stem -> video code (``naming rule2``)."""
    subjects: dict[int, str] = {}
    codes = dict(VIDEO_CODES)
    if "naming rule1" in sheets:
        raw = read_sheet_raw(path, "naming rule1")
        if raw.shape[1] < 3:
            raise AnnotationError("sheet 'naming rule1' needs 3 columns (number, folder, participant)", path)
        for i, (folder, part) in enumerate(zip(raw.iloc[:, 1], raw.iloc[:, 2], strict=True)):
            p = to_frame(part, column="naming rule1 participant", path=path, row=i + 1)
            folder = clean_text(folder)
            if p is pd.NA or not re.fullmatch(r"s\d+", folder):
                continue
            if subjects.get(int(p), folder) != folder:
                raise AnnotationError(f"sheet 'naming rule1': participant {p} maps to two folders", path)
            subjects[int(p)] = f"s{int(folder[1:]):02d}"
    if "naming rule2" in sheets:
        raw = read_sheet_raw(path, "naming rule2")
        for code, stem in zip(raw.iloc[:, 0], raw.iloc[:, 1], strict=False):
            code, stem = clean_text(code), clean_text(stem).lower()
            if re.fullmatch(r"\d{3,4}", code) and stem:
                codes[stem] = code.zfill(4)  # text cells; a numeric cell loses its leading 0
    return subjects, codes


def read_casme_sq(path: str | Path, *, offset0: str = "apex", apex0: str = "midpoint") -> pd.DataFrame:
    """Read ``CAS(ME)^2code_final.xlsx`` (or its CSV export) into the standard table.

    Extra columns: ``participant``, ``video`` (``s15_0401``), ``video_code``, ``self_report``,
    ``offset_missing``, ``apex_missing``. ``offset0``: ``"apex"`` (default) or ``"missing"`` (leave <NA>);
    ``apex0``: ``"midpoint"`` (default) or ``"missing"``.
    """
    if offset0 not in ("apex", "missing") or apex0 not in ("midpoint", "missing"):
        raise ConfigError("offset0 must be 'apex' or 'missing' and apex0 'midpoint' or 'missing'")
    path = Path(path)
    sheets = sheet_names(path)
    raw = read_sheet_raw(path, MAIN_SHEET if MAIN_SHEET in sheets else 0)
    if raw.shape[1] < 8:
        raise AnnotationError(f"expected at least 8 columns ({', '.join(COLUMNS[:8])}), found {raw.shape[1]}", path)
    raw = raw.iloc[:, :9]
    if not any(_is_number(v) for v in raw.iloc[0, 2:5]):  # a header row (CSV exports add one)
        raw = raw.iloc[1:]
    subjects, codes = _naming(path, sheets)
    rows = []
    for idx, r in zip(raw.index, raw.itertuples(index=False), strict=True):
        n = int(idx) + 1
        vals = list(r) + [None] * (9 - len(r))
        part = to_frame(vals[0], column="participant", path=path, row=n)
        if part is pd.NA:
            raise AnnotationError(f"column 'participant' row {n}: empty", path)
        expr = clean_text(vals[1])
        m = re.fullmatch(r"([A-Za-z]+\d)_(\d+)", expr)
        if not m:
            raise AnnotationError(f"column 'expression' row {n}: {expr[:30]!r} is not like 'anger1_1'", path)
        typ = clean_text(vals[7]).lower()
        if typ not in TYPES:
            raise AnnotationError(f"column 'type' row {n}: {typ[:30]!r} is not macro-/micro-expression", path)
        stem = m.group(1).lower()
        if stem not in codes:
            raise AnnotationError(f"column 'expression' row {n}: no video code for {stem!r}", path)
        subject = subjects.get(int(part), f"p{int(part):02d}" if subjects else f"s{int(part):02d}")
        if subjects and int(part) not in subjects:
            raise AnnotationError(f"column 'participant' row {n}: {part} not in sheet 'naming rule1'", path)
        on, ap, off = (to_frame(vals[k], column=COLUMNS[k], path=path, row=n) for k in (2, 3, 4))
        if on is pd.NA or on == 0:
            raise AnnotationError(f"column 'onset' row {n}: missing onset", path)
        au = clean_text(vals[5])
        rows.append({"participant": int(part), "subject": subject, "clip": expr, "video_code": codes[stem],
                     "onset": on, "apex": ap, "offset": off, "au": "" if au.upper() == "NULL" else au,
                     "emotion": norm_emotion(vals[6]), "type": TYPES[typ],
                     "self_report": SELF_REPORT_FIXES.get(norm_emotion(vals[8]), norm_emotion(vals[8])),
                     "row": n})
    if not rows:
        raise AnnotationError("no data rows", path)
    df = pd.DataFrame(rows)
    if not subjects:  # without naming rule1 the participant number is kept as the subject id
        df["subject"] = [f"p{p:02d}" for p in df["participant"]]
    df["video"] = df["subject"] + "_" + df["video_code"]
    for col in ("onset", "apex", "offset"):
        df[col] = pd.array(df[col].tolist(), dtype="Int64")
    df["offset_missing"] = (df["offset"].isna() | (df["offset"] == 0)).astype(bool)
    df["apex_missing"] = (df["apex"].isna() | (df["apex"] == 0)).astype(bool)
    df.loc[df["offset_missing"], "offset"] = pd.NA
    df.loc[df["apex_missing"], "apex"] = pd.NA
    if apex0 == "midpoint":
        mid = (df["onset"] + df["offset"]) // 2
        df["apex"] = df["apex"].fillna(mid)
    if offset0 == "apex":
        df["offset"] = df["offset"].fillna(df["apex"])
    fixes = sorted({v for v in raw.iloc[:, 8].map(norm_emotion) if v in SELF_REPORT_FIXES}) if raw.shape[1] > 8 else []
    return finish(df, "casme_sq", path, fps=FPS, first_frame=1,
                  extra_attrs={"offset0": offset0, "apex0": apex0, "fixes": fixes})


def _is_number(value) -> bool:
    try:
        float(clean_text(value))
    except ValueError:
        return False
    return clean_text(value) != ""


# --- frames on disk -------------------------------------------------------------------------------------
_VIDEO_DIR = re.compile(r"^(\d+)_(\d{4})")


def video_folders(base: Path) -> pd.DataFrame:
    """Every ``s<NN>/<nn>_<code><words>`` folder under ``base`` (e.g. ``rawpic``), one row per video.

    The real tree has ``s19/23_0502funnyerrors``: a folder whose number prefix differs from its subject
    folder. It is kept under its parent subject (``s19_0502``) and marked ``quirk``, as the MEGC2020 list does.
    """
    rows = []
    for sdir in sorted(p for p in base.iterdir() if p.is_dir() and re.fullmatch(r"s\d+", p.name)):
        subject = f"s{int(sdir.name[1:]):02d}"
        for vdir in sorted(p for p in sdir.iterdir() if p.is_dir()):
            m = _VIDEO_DIR.match(vdir.name)
            if not m:
                continue
            quirk = int(m.group(1)) != int(sdir.name[1:])
            rows.append({"subject": subject, "video_code": m.group(2), "video": f"{subject}_{m.group(2)}",
                         "folder": str(vdir), "quirk": quirk})
    return pd.DataFrame(rows, columns=["subject", "video_code", "video", "folder", "quirk"])
