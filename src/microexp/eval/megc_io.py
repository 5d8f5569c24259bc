"""Readers and writers for spotting intervals: the MEGC submission CSV and the MEGC2020 baseline text files.

Tables are 0-based like every table the library returns; files are numbered as their format says. This module
is the one place that converts: every reader takes the file's base (``frame_base``: 0 or 1; the MEGC2020
text files are always 1-based) and returns 0-based ``onset/offset`` plus the file's numbers in
``onset_annot/offset_annot`` when the file is 1-based (ground truth readers also ``apex_annot``), which the
MEGC rules on annotated 0s read; every writer takes 0-based tables and writes the file's base. An annotated 0 in a 1-based file becomes
frame -1 (before the first frame), so scores match the published scorers exactly. ``df.attrs['source']``
names the file for error messages.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from microexp.errors import AnnotationError, InputError
from microexp.io.atomic import write_text, write_with

INTERVAL_COLUMNS = ("video", "onset", "offset", "type")
#: Largest frame number accepted; beyond it a value would wrap around in int64 (1e20 -> a negative frame).
MAX_FRAME = 2**31 - 1

_TYPE_ALIASES = {
    "me": "me", "micro": "me", "micro-expression": "me", "microexpression": "me", "micro - 1/2": "me",
    "micro-1/2": "me", "mae": "mae", "macro": "mae", "macro-expression": "mae", "macroexpression": "mae",
}
_COLUMN_ALIASES = {"vid": "video", "pred_onset": "onset", "pred_offset": "offset", "pred_apex": "apex",
                   "kind": "type"}


def normalize_type(value) -> str | None:
    """'me'/'mae' from the spellings in use (CAS 'micro-expression', SAMM 'Micro - 1/2', 'Macro'); None if unknown."""
    s = re.sub(r"\s+", " ", str(value).strip().lower())
    if s in _TYPE_ALIASES:
        return _TYPE_ALIASES[s]
    if s.startswith("micro"):
        return "me"
    if s.startswith("macro"):
        return "mae"
    return None


def check_intervals(df: pd.DataFrame, path=None, *, what: str = "intervals", row_offset: int | None = None,
                    need_type: bool = True, allow_reversed: bool = False) -> pd.DataFrame:
    """Validate and tidy an interval table; one-line AnnotationError naming file, row and problem.

    Renames MEGC aliases (``vid``, ``pred_onset``...), makes frames integers (``557.0`` is fine, ``'x'``
    and ``557.5`` are not) and types ``me``/``mae``. Rows are reported as file lines when ``row_offset``
    is given (2 for a CSV with a header), else by DataFrame index label.
    """
    path = path if path is not None else df.attrs.get("source")
    def canon(c) -> str:  # 'Onset' and 'VID' are the same columns as 'onset' and 'vid'
        low = str(c).strip().lower()
        return _COLUMN_ALIASES.get(low, low if low in INTERVAL_COLUMNS + ("apex",) else str(c).strip())

    names = [canon(c) for c in df.columns]
    dup = sorted({n for n in names if names.count(n) > 1 and n in INTERVAL_COLUMNS + ("apex",)})
    if dup:  # 'vid' next to 'video' (or 'onset' next to 'pred_onset'): which one is meant is unknowable
        both = [str(c) for c in df.columns if canon(c) == dup[0]]
        raise AnnotationError(f"{what}: columns {' and '.join(repr(b) for b in both)} both mean {dup[0]!r}", path)
    out = df.set_axis(names, axis=1)
    need = [c for c in INTERVAL_COLUMNS if need_type or c != "type"]
    missing = [c for c in need if c not in out.columns]
    if missing:
        raise AnnotationError(f"{what}: missing column(s) {', '.join(repr(c) for c in missing)}", path)
    out = out.copy()
    out.attrs = dict(df.attrs)

    def where(i) -> str:
        if row_offset is not None:
            return f"row {out.index.get_loc(i) + row_offset}"
        return f"row {i}" if path is not None else f"{what} row {i}"  # a DataFrame: say which table

    if out["video"].isna().any():
        raise AnnotationError(f"{where(out.index[out['video'].isna()][0])}: empty video id", path)
    out["video"] = out["video"].map(_video_str)
    for col in ("onset", "offset") + (("apex",) if "apex" in out.columns else ()):
        num = pd.to_numeric(out[col], errors="coerce")
        bad = num.isna() | ~np.isfinite(num) | (num != np.round(num))
        if col == "apex":
            bad &= out[col].notna()
        huge = ~bad & (num.abs() > MAX_FRAME)  # would wrap around in int64: 1e20 must not become negative
        if (bad | huge).any():
            k = int(np.flatnonzero((bad | huge).to_numpy())[0])
            i = out.index[k]
            if pd.isna(out.at[i, col]):  # name the empty cell, not the NaN pandas made of it
                raise AnnotationError(f"{where(i)}: {col} is empty", path)
            problem = f"is out of range (over {MAX_FRAME})" if huge.iloc[k] else "is not a whole frame number"
            raise AnnotationError(f"{where(i)}: {col} {out.at[i, col]!r} {problem}", path)
        out[col] = num.round().astype("Int64" if col == "apex" else "int64")
    if need_type or "type" in out.columns:
        kinds = out["type"].map(normalize_type)
        if kinds.isna().any():
            i = out.index[kinds.isna()][0]
            if pd.isna(out.at[i, "type"]):
                raise AnnotationError(f"{where(i)}: type is empty (expected me or mae)", path)
            raise AnnotationError(f"{where(i)}: type {out.at[i, 'type']!r} is not me/mae (micro/macro)", path)
        out["type"] = kinds
    if not allow_reversed:
        rev = out["offset"] < out["onset"]
        if rev.any():
            i = out.index[rev][0]
            raise AnnotationError(
                f"{where(i)}: offset {out.at[i, 'offset']} is before onset {out.at[i, 'onset']}", path)
    return out


def read_megc_csv(path: str | Path, frame_base: int = 0, *, need_type: bool = True) -> pd.DataFrame:
    """Read ``vid,pred_onset,pred_offset,type`` or ``vid,onset,offset,type`` (or ``video,...``) plus any extra
    columns (score, subject, apex, emotion, confidence...). Returns columns video, onset, offset, type, extras,
    with 0-based frames; ``frame_base`` says how the file numbers them (its numbers stay in ``*_annot``).
    """
    path = Path(path)
    _check_base(frame_base, path)
    if not path.is_file():
        raise InputError("no such interval CSV", path)
    lines, widths = _record_lines(path)
    try:
        with warnings.catch_warnings():  # a ragged row is reported below as one line, not as a ParserWarning
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            df = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False, na_values=[""],
                             index_col=False)
    except pd.errors.EmptyDataError:
        raise AnnotationError("empty file, expected a header 'vid,pred_onset,pred_offset,type'", path) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise AnnotationError(f"not a CSV ({str(err).splitlines()[0]})", path) from None
    for c in df.columns:  # pandas renames a repeated header 'onset' to 'onset.1': never silently drop one
        m = re.fullmatch(r"(.+)\.\d+", str(c))
        if m and m.group(1) in df.columns:
            raise AnnotationError(f"column {m.group(1)!r} appears twice in the header", path)
    # messages name the line of the file (blank lines are skipped by the reader, not by the numbering)
    df.index = lines if lines is not None and len(lines) == len(df) else pd.RangeIndex(2, len(df) + 2)
    _check_header_and_widths(df, path, widths, need_type)
    df = check_intervals(df, path, what="interval CSV", need_type=need_type)
    neg = (df["onset"] < 0) | (df["offset"] < 0)
    if neg.any():  # no frame has a negative number; scoring it as a plain FP would hide a broken writer
        r = int(np.flatnonzero(neg.to_numpy())[0])
        raise AnnotationError(f"row {df.index[r]}: negative frame number ({df['onset'].iloc[r]}, "
                              f"{df['offset'].iloc[r]})", path)
    for col in ("score", "confidence"):
        if col in df.columns:
            num = pd.to_numeric(df[col], errors="coerce")
            if num.isna().any():
                r = int(np.flatnonzero(num.isna().to_numpy())[0])
                raise AnnotationError(f"row {df.index[r]}: {col} {df[col].iloc[r]!r} is not a number", path)
            df[col] = num
    if "subject" in df.columns:
        df["subject"] = df["subject"].astype(str)
    cols = [c for c in INTERVAL_COLUMNS if c in df.columns]
    df = to_zero_based(df[cols + [c for c in df.columns if c not in cols]].reset_index(drop=True), frame_base)
    df.attrs = {"source": str(path)}
    return df


def to_zero_based(df: pd.DataFrame, base: int) -> pd.DataFrame:
    """File numbers -> 0-based ``onset/apex/offset``; a 1-based file's numbers are kept in ``*_annot`` columns."""
    out = df.copy()
    if base == 0:
        return out
    for col in ("onset", "apex", "offset"):
        if col in out.columns:
            out[f"{col}_annot"] = out[col]
            out[col] = out[col] - base
    return out


def from_zero_based(df: pd.DataFrame, base: int) -> pd.DataFrame:
    """0-based ``onset/apex/offset`` -> the numbering of a file with ``base`` (0 or 1)."""
    out = df.copy()
    for col in ("onset", "apex", "offset"):
        if col in out.columns:
            out[col] = out[col] + base
    return out


def _check_header_and_widths(df: pd.DataFrame, path: Path, widths: dict[int, int] | None,
                             need_type: bool) -> None:
    """Name the real problem: a header split on another delimiter, or a row that stops before a needed cell."""
    names = [_COLUMN_ALIASES.get(str(c).strip().lower(), str(c).strip().lower()) for c in df.columns]
    need = [c for c in INTERVAL_COLUMNS if need_type or c != "type"]
    if any(c not in names for c in need) and len(df.columns) >= 1:
        header = ",".join(str(c) for c in df.columns)
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
            if sep in header:
                raise AnnotationError(f"interval CSV: the header is separated by {name}, not commas "
                                      f"({header[:60]!r}); save it as comma-separated CSV", path)
    for line, n in (widths or {}).items():
        cut = [c for c in need if c in names and names.index(c) >= n]
        if cut and line in df.index:
            raise AnnotationError(f"row {line}: {n} values but the header names {len(names)} columns "
                                  f"(no {cut[0]!r} value)", path)


def _record_lines(path: Path) -> tuple[list[int] | None, dict[int, int] | None]:
    """File line of every non-blank data record; raises when a row holds more values than the header names.

    pandas would silently take a row's extra leading value as the index (shifting every column) or drop
    extra trailing values; an interval file whose rows and header disagree is refused instead. Trailing
    empty fields (``v1,10,20,me,``) are accepted. ``None`` when the text cannot be scanned (pandas decides).
    """
    import csv

    try:
        with open(path, encoding="utf-8", newline="") as fh:
            records = []
            reader = csv.reader(fh, skipinitialspace=True)
            for row in reader:
                records.append((reader.line_num, row))
    except (UnicodeDecodeError, csv.Error, ValueError):
        return None, None
    body = [(n, r) for n, r in records if len(r) > 1 or (r and r[0].strip())]
    if not body:
        return None, None
    width = len(body[0][1])
    for n, r in body[1:]:
        if len(r) > width and any(c.strip() for c in r[width:]):
            raise AnnotationError(f"row {n}: {len(r)} values but the header names {width} columns", path)
    return [n for n, _ in body[1:]], {n: len(r) for n, r in body[1:] if len(r) < width}


def write_megc_csv(df: pd.DataFrame, path: str | Path, frame_base: int = 0) -> Path:
    """Write the MEGC submission CSV ``vid,pred_onset,pred_offset,type`` from a 0-based table.

    ``frame_base`` is the numbering the file gets (0, the default, or 1 for a 1-based submission).
    """
    _check_base(frame_base, path)
    d = from_zero_based(check_intervals(df, path, what="intervals to write"), frame_base)
    out = pd.DataFrame({"vid": d["video"], "pred_onset": d["onset"], "pred_offset": d["offset"], "type": d["type"]})
    return write_with(path, lambda tmp: out.to_csv(tmp, index=False))


# ---- MEGC2020 baseline (MDMD, R1) text files ----------------------------------------------------------

def read_megc2020_gt(path: str | Path) -> pd.DataFrame:
    """``all_Info.txt``: ``subject video type onset apex offset`` per line (floats allowed, 1-based) -> 0-based."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such ground-truth file", path)
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 6:
            raise AnnotationError(f"line {lineno}: expected 'subject video type onset apex offset'", path)
        subj, vid, kind, *frames = parts
        rows.append({"subject": subj, "video": f"{subj}_{vid}", "type": kind,
                     "onset": frames[0], "apex": frames[1], "offset": frames[2]})
    df = pd.DataFrame(rows, columns=["subject", "video", "type", "onset", "apex", "offset"])
    df = check_intervals(df, path, what="ground truth", row_offset=1, allow_reversed=True)
    df = to_zero_based(df[["video", "onset", "offset", "type", "subject", "apex"]], 1)
    df.attrs = {"source": str(path)}
    return df


def write_megc2020_gt(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``all_Info.txt`` lines (1-based) from a 0-based table; ids ``<subject>_<video>`` are split in two."""
    d = from_zero_based(check_intervals(df, path, what="ground truth", allow_reversed=True), 1)
    kind = {"me": "micro-expression", "mae": "macro-expression"}
    lines = []
    for r in d.itertuples(index=False):
        subj, _, vid = r.video.partition("_")
        apex = getattr(r, "apex", pd.NA)
        apex = r.onset if pd.isna(apex) else apex
        lines.append(f"{subj} {vid} {kind[r.type]} {r.onset} {apex} {r.offset}")
    return write_text(path, "\n".join(lines) + "\n")


def read_megc2020_predictions(folder: str | Path, kind: str, length_range: tuple[int, int | None] | None = None
                              ) -> pd.DataFrame:
    """One MDMD prediction folder (``<subj>_<vid>.txt`` files of ``on off score`` lines, 1-based) -> 0-based.

    ``length_range=(lo, hi)`` keeps inclusive lengths ``lo <= off-on+1 <= hi`` (``hi=None``: no upper bound),
    the typing rule the MDMD baseline applies before scoring.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("no such prediction folder", folder)
    kind_n = normalize_type(kind)
    if kind_n is None:
        raise InputError(f"type {kind!r} is not me/mae", folder)
    frames = []
    for f in sorted(folder.glob("*.txt")):
        text = f.read_text(encoding="utf-8").split()
        if not text:
            continue
        if len(text) % 3:
            raise AnnotationError("expected 'onset offset score' per line", f)
        try:
            arr = np.asarray(text, dtype=float).reshape(-1, 3)
        except ValueError:
            raise AnnotationError("non-numeric value in 'onset offset score' lines", f) from None
        frames.append(pd.DataFrame({"video": f.stem, "onset": arr[:, 0].astype(int), "offset": arr[:, 1].astype(int),
                                    "type": kind_n, "score": arr[:, 2]}))
    df = (pd.concat(frames, ignore_index=True) if frames
          else pd.DataFrame(columns=["video", "onset", "offset", "type", "score"]))
    if length_range is not None:
        lo, hi = length_range
        length = df["offset"] - df["onset"] + 1
        keep = length >= lo
        if hi is not None:
            keep &= length <= hi
        df = df[keep].reset_index(drop=True)
    df = to_zero_based(df, 1)
    df.attrs = {"source": str(folder)}
    return df


def write_megc2020_predictions(df: pd.DataFrame, folder: str | Path) -> list[Path]:
    """One ``<video>.txt`` per video with ``on off score`` lines (1-based; score 1.0 when absent)."""
    d = from_zero_based(check_intervals(df, folder, what="predictions", need_type=False), 1)
    folder = Path(folder)
    written = []
    for vid, g in d.groupby("video", sort=True):
        scores = g["score"] if "score" in g.columns else pd.Series(1.0, index=g.index)
        lines = [f"{on} {off} {float(s)}" for on, off, s in zip(g["onset"], g["offset"], scores, strict=True)]
        written.append(write_text(folder / f"{vid}.txt", "\n".join(lines) + "\n"))
    return written


def write_interval_log(log: pd.DataFrame, path: str | Path) -> Path:
    """R1-style per-interval log: ``vid gt_on gt_off pred_on pred_off TP|FP|FN``, ``-`` for missing fields."""
    def fmt(v):
        return "-" if pd.isna(v) else str(int(v))

    lines = [f"{r.video}\t{fmt(r.gt_onset)}\t{fmt(r.gt_offset)}\t{fmt(r.pred_onset)}\t{fmt(r.pred_offset)}\t{r.label}"
             for r in log.itertuples(index=False)]
    return write_text(path, "\n".join(lines) + "\n")


def _check_base(base, path) -> None:
    if base not in (0, 1):
        raise InputError(f"frame_base must be 0 or 1, got {base!r}", path)


def _video_str(v) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()
