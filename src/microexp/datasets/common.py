"""Shared helpers for every dataset loader: subject ids, frame numbers, header finding, typed errors.

Conventions (documented in docs/datasets.md):
* subject ids are strings in one canonical form per dataset: casme2 ``'01'``, samm / samm_lv ``'006'``, smic
  ``'s01'``, casme_sq ``'s15'``, casme3 ``'spNO.1'``, casme3_c / mmew / 4dme ``'01'``, dfme ``'0003'``; ``subject_key`` prefixes the dataset (``'casme2/01'``) so
  LOSO folds of different datasets never merge.
* ``onset, apex, offset`` are 0-based indices into the clip's sorted frame list, like every table the library
  returns; the numbers as annotated are kept in ``onset_annot, apex_annot, offset_annot`` (nullable ``Int64``;
  missing = ``<NA>``). The conversion is ``index = annotated - first_frame`` with ``first_frame`` stored per
  row (see ``index_frames``); this module is the one place that converts a dataset's numbering.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from microexp.errors import AnnotationError, InputError

STANDARD_COLUMNS = ("dataset", "subject", "clip", "onset", "apex", "offset", "type", "emotion", "au")
FRAME_COLUMNS = ("onset", "apex", "offset")
#: The numbers as annotated, one column per frame column (``onset`` -> ``onset_annot``).
ANNOT_COLUMNS = tuple(f"{c}_annot" for c in FRAME_COLUMNS)
#: Largest frame number accepted (about four months at 200 fps); larger values are typos or overflow and
#: would wrap around in the ``Int64`` columns.
MAX_FRAME = 2**31 - 1
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def norm_subject(dataset: str, subject) -> str:
    """Canonical subject id string for ``dataset`` (never compared as numbers or raw text)."""
    s = str(subject).strip()
    if s.endswith(".0") and s[:-2].isdigit():  # Excel numbers read as float
        s = s[:-2]
    low = s.lower()
    digits = re.sub(r"\D", "", s)
    if dataset in ("casme2", "casme", "samm", "samm_lv", "smic", "casme_sq"):
        # one number, optionally after a prefix ('sub01', 's15', 'SAMM 006'): '0A' or '1/2' is not a subject
        m = re.fullmatch(r"[A-Za-z._ -]*?([0-9]+)", s)
        digits = m.group(1) if m else ""
    if dataset in ("casme2", "casme"):
        if not digits:
            raise ValueError(f"bad CASME II subject {subject!r}")
        return f"{int(digits):02d}"
    if dataset in ("samm", "samm_lv"):
        if not digits:
            raise ValueError(f"bad SAMM subject {subject!r}")
        return f"{int(digits):03d}"
    if dataset in ("smic", "casme_sq"):
        if not digits:
            raise ValueError(f"bad subject {subject!r}")
        return f"s{int(digits):02d}"
    if dataset in ("casme3_c", "mmew", "4dme") and digits:
        return f"{int(digits):02d}"
    if dataset == "dfme" and digits:
        return f"{int(digits):04d}"
    if dataset == "casme3":
        if low.startswith("spno.") or digits == s:
            return f"spNO.{int(digits)}"
        return s
    return s


def subject_key(dataset: str, subject: str) -> str:
    """Dataset-prefixed subject id for LOSO folds."""
    return f"{dataset}/{subject}"


def file_md5(path: str | Path) -> str:
    """md5 of an annotation file, recorded with results (spec §1 rule 6)."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def to_frame(value, *, column: str, path, row: int, missing: Iterable = ("/", "", "-", "nan")):
    """One frame cell -> int or ``pd.NA``. Rounds fractional numbers half up; ``-1`` and ``'/'`` mean missing.

    Raises an AnnotationError naming the file, column and row for text that is not a number, other negative
    numbers, booleans and infinities, so a malformed sheet never becomes a wrong table.
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return pd.NA
    if isinstance(value, (bool, np.bool_)):
        raise AnnotationError(f"column {column!r} row {row}: {value!r} is not a frame number", path)
    if isinstance(value, (int, np.integer, float, np.floating)):
        num = float(value)
    else:
        text = str(value).strip()
        if text.lower() in missing:
            return pd.NA
        try:
            num = float(text)
        except ValueError:
            num = None
        # plain ASCII numbers only: Python's float() also takes '1_000' and non-Latin digits
        if num is None or (math.isfinite(num) and not _NUMBER.fullmatch(text)):
            raise AnnotationError(f"column {column!r} row {row}: {text[:40]!r} is not a frame number",
                                  path) from None
    if not math.isfinite(num):
        raise AnnotationError(f"column {column!r} row {row}: {value!r} is not a finite frame number", path)
    frame = int(math.floor(num + 0.5))  # SAMM-LV stores 566.4000000000001
    if frame > MAX_FRAME:
        raise AnnotationError(f"column {column!r} row {row}: frame number {text_of(value)} is too large "
                              f"(over {MAX_FRAME})", path)
    if frame == -1:
        return pd.NA
    if frame < 0:
        raise AnnotationError(f"column {column!r} row {row}: negative frame number {frame}", path)
    return frame


def text_of(value) -> str:
    """A cell as it reads in a message: at most 40 characters."""
    text = str(value).strip()
    return text if len(text) <= 40 else text[:37] + "..."


def clean_text(value) -> str:
    """Cell -> stripped string ('' for empty); Excel ints stay ints as text (12 not 12.0)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def norm_emotion(value) -> str:
    """Lower-case, stripped emotion label (CAS(ME)^3 has both 'others' and 'Others')."""
    return clean_text(value).lower()


def pick_sheet(path: str | Path, preferred: Iterable[str]):
    """The first of ``preferred`` sheet names present in a workbook, else 0 (first sheet; CSV files too)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("annotation file not found", path)
    if path.suffix.lower() not in (".xlsx", ".xls", ".xlsm"):
        return 0
    try:
        names = pd.ExcelFile(path).sheet_names
    except Exception as err:
        raise AnnotationError(f"cannot read workbook ({type(err).__name__})", path) from None
    return next((n for n in preferred if n in names), 0)


def sheet_names(path: str | Path) -> list[str]:
    """Sheet names of a workbook ([] for CSV); typed errors for missing or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise InputError("annotation file not found", path)
    if path.suffix.lower() not in (".xlsx", ".xls", ".xlsm"):
        return []
    try:
        return list(pd.ExcelFile(path).sheet_names)
    except Exception as err:
        raise AnnotationError(f"cannot read workbook ({type(err).__name__})", path) from None


def read_sheet_raw(path: str | Path, sheet=0) -> pd.DataFrame:
    """Read a sheet or CSV with no header and no type guessing; raise typed errors for unreadable files."""
    path = Path(path)
    if not path.exists():
        raise InputError("annotation file not found", path)
    if path.is_dir():
        raise InputError("expected an annotation file, got a folder", path)
    if path.stat().st_size == 0:
        raise AnnotationError("annotation file is empty", path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".xlsx", ".xlsm", ".xls"):
        # decide by content, as `evaluate` does: a CSV renamed .xlsx is read as CSV, a workbook named .csv
        # as a workbook (pandas would ask for an "engine" or parse zip bytes as text)
        with open(path, "rb") as fh:
            magic = fh.read(8)
        is_book = magic.startswith(b"PK\x03\x04") or magic.startswith(b"\xd0\xcf\x11\xe0")
        suffix = ".xlsx" if is_book else ".csv"
    try:
        if suffix in (".csv", ".txt"):
            df = pd.read_csv(path, header=None, dtype=object, keep_default_na=False, skip_blank_lines=False)
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            df = pd.read_excel(path, sheet_name=sheet, header=None, dtype=object)
        else:
            raise AnnotationError(f"unsupported annotation file type {suffix!r}", path)
    except AnnotationError:
        raise
    except pd.errors.EmptyDataError:
        raise AnnotationError("annotation file is empty", path) from None
    except ValueError as err:  # missing sheet, bad workbook
        raise AnnotationError(f"cannot read sheet {sheet!r}: {str(err).splitlines()[0][:120]}", path) from None
    except Exception as err:  # corrupt zip, bad xls, bad encoding
        raise AnnotationError(f"cannot read file ({type(err).__name__}: {str(err).splitlines()[0][:100] if str(err) else ''})",
                              path) from None
    df = df.replace({"": np.nan}).dropna(how="all")  # keep empty columns: positions matter for headerless sheets
    if df.empty:
        raise AnnotationError("annotation file has no rows", path)
    return df


def _cell_key(value) -> str:
    return re.sub(r"[^a-z0-9]", "", clean_text(value).lower())


def key(name: str) -> str:
    """Header name normalised for matching: lower-case letters and digits only (``'Onset Frame'`` -> ``'onsetframe'``)."""
    return _cell_key(name)


@dataclass(frozen=True)
class Col:
    """One wanted column: output name, accepted header names (first match wins), how to parse its cells."""

    out: str
    names: tuple[str, ...]
    kind: str = "text"  # subject | text | frame | emotion | int
    required: bool = True


def find_header(raw: pd.DataFrame, cols: Iterable[Col], path, max_rows: int = 40) -> tuple[int, dict[str, int]]:
    """Locate the header row by content: the first row holding a name of every required column.

    Returns (row position in ``raw``, {output column: column position}). Raises an AnnotationError naming the
    first missing column when no row qualifies.
    """
    cols = list(cols)
    best_missing = None
    for pos in range(min(max_rows, len(raw))):
        cells: dict[str, int] = {}
        for j, v in enumerate(raw.iloc[pos].tolist()):
            k = _cell_key(v)
            if k and k not in cells:
                cells[k] = j
        found, missing = {}, []
        for c in cols:
            hit = next((cells[key(n)] for n in c.names if key(n) in cells), None)
            if hit is not None:
                found[c.out] = hit
            elif c.required:
                missing.append(c.names[0])
        if not missing:
            return pos, found
        if best_missing is None or len(missing) < len(best_missing):
            best_missing = missing
    raise AnnotationError(f"missing column {best_missing[0]!r} (no header row names all of "
                          f"{[c.names[0] for c in cols if c.required]}){_delimiter_hint(raw)}", path)


def _delimiter_hint(raw: pd.DataFrame) -> str:
    """A sheet saved with ';' or tabs reads as one column: say so, instead of only 'missing column'."""
    if raw.shape[1] > 2:
        return ""
    for v in raw.head(40).to_numpy().ravel():
        text = str(v)
        for sep, name in ((";", "semicolons"), ("\t", "tabs")):
            if text.count(sep) >= 2:
                return f"; the rows are separated by {name}, not commas: save the sheet as comma-separated CSV"
    return ""


def parse_rows(body: pd.DataFrame, positions: dict[str, int], cols: Iterable[Col], path, dataset: str,
               sheet_rows: list[int]) -> pd.DataFrame:
    """Parse the data rows strictly; skip note rows (only the first wanted column filled); raise on bad cells.

    ``sheet_rows`` are the 1-based sheet row numbers of ``body``'s rows, used in messages and kept in ``row``.
    """
    cols = [c for c in cols if c.out in positions]
    out: dict[str, list] = {c.out: [] for c in cols}
    rows: list[int] = []
    req = [c for c in cols if c.required]
    for i in range(len(body)):
        sheet_row = sheet_rows[i]
        vals = {c.out: body.iat[i, positions[c.out]] for c in cols}
        filled = [c.out for c in req if clean_text(vals[c.out]) != ""]
        if not filled or (len(req) > 1 and filled == [req[0].out]):
            continue  # blank line or a trailing note
        for c in cols:
            v = vals[c.out]
            name = c.names[0]
            if c.kind in ("frame", "int"):
                v = to_frame(v, column=name, path=path, row=sheet_row)
            elif c.kind == "subject":
                text = clean_text(v)
                try:
                    v = norm_subject(dataset, text) if text else ""
                except ValueError:
                    raise AnnotationError(f"column {name!r} row {sheet_row}: bad subject id {text[:30]!r}",
                                          path) from None
            elif c.kind == "emotion":
                v = norm_emotion(v)
            else:
                v = clean_text(v)
            if c.required and c.kind in ("text", "subject", "emotion") and v == "":
                raise AnnotationError(f"column {name!r} row {sheet_row}: empty value", path)
            out[c.out].append(v)
        rows.append(sheet_row)
    if not rows:
        raise AnnotationError("annotation sheet has a header but no data rows", path)
    df = pd.DataFrame(out)
    for c in cols:
        if c.kind in ("frame", "int"):
            df[c.out] = pd.array(df[c.out].tolist(), dtype="Int64")
    df["row"] = rows
    return df


def parse_sheet(path, dataset: str, cols: Iterable[Col], sheet=0) -> pd.DataFrame:
    """Read a sheet, find its header row by content and parse the rows below it (see ``parse_rows``)."""
    cols = list(cols)
    raw = read_sheet_raw(path, sheet)
    pos, positions = find_header(raw, cols, path)
    body = raw.iloc[pos + 1:]
    return parse_rows(body, positions, cols, path, dataset, [int(r) + 1 for r in body.index])


def finish(df: pd.DataFrame, dataset: str, path, *, fps: float | None, first_frame="onset",
           extra_attrs: dict | None = None) -> pd.DataFrame:
    """Standard columns first, dtypes set, ``subject_key``, ``fps``, 0-based frames and provenance attrs.

    ``df`` holds the annotated numbers in ``onset/apex/offset``; they move to ``*_annot`` and ``onset/apex/
    offset`` become 0-based (:func:`index_frames`). ``first_frame`` is the frame number that becomes index 0: ``"onset"`` for cut clips whose folder starts
    at the onset (CASME II, SAMM, SMIC), an int for long videos (1 for ``img1.jpg``). ``load`` replaces it by
    the smallest frame number found on disk.
    """
    df = df.copy()
    df["dataset"] = dataset
    for col in STANDARD_COLUMNS:
        if col not in df.columns:
            df[col] = pd.NA if col in FRAME_COLUMNS else ""
    for col in FRAME_COLUMNS:
        df[col] = pd.array(df[col].tolist(), dtype="Int64")
    if "first_frame" not in df.columns:
        df["first_frame"] = df["onset"] if first_frame == "onset" else first_frame
    df["first_frame"] = pd.array(df["first_frame"].tolist(), dtype="Int64")
    if "fps" not in df.columns:
        df["fps"] = np.nan if fps is None else float(fps)
    df["subject_key"] = [subject_key(dataset, s) for s in df["subject"]]
    for col, annot in zip(FRAME_COLUMNS, ANNOT_COLUMNS, strict=True):
        df[annot] = df[col]
    index_frames(df)
    first = list(STANDARD_COLUMNS) + list(ANNOT_COLUMNS)
    df = df[first + [c for c in df.columns if c not in first]].reset_index(drop=True)
    df.attrs = {"dataset": dataset, "source": str(path), "md5": file_md5(path), **(extra_attrs or {})}
    return df


def index_frames(df: pd.DataFrame) -> pd.DataFrame:
    """Set 0-based ``onset, apex, offset`` = annotated - first_frame: the index into the clip's frame list.

    A frame before ``first_frame`` (SAMM-LV macro rows with onset 0) gets index 0 and ``clipped = True``.
    """
    clipped = pd.Series(False, index=df.index)
    for col, annot in zip(FRAME_COLUMNS, ANNOT_COLUMNS, strict=True):
        z = (df[annot] - df["first_frame"]).astype("Int64")
        neg = (z < 0).fillna(False)
        clipped |= neg
        df[col] = z.mask(neg, 0)
    df["clipped"] = clipped.astype(bool)
    return df


def frame_number(name: str) -> int | None:
    """The last integer in a frame file name (``reg_img46.jpg`` -> 46, ``006_05562.jpg`` -> 5562)."""
    nums = re.findall(r"\d+", Path(name).stem)
    return int(nums[-1]) if nums else None
