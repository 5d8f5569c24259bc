"""Per-sample recognition logs: our CSV, the MEGC2019 text log, and the STSTNet python fold log (reader only).

Every LOSO run writes the CSV (``subject,sample,true,pred`` plus optional ``dataset``, ``fold``,
``selection``) so that any metric can be recomputed later from the raw predictions, pooled over folds.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd

from microexp.errors import AnnotationError, InputError
from microexp.eval.protocol import ORACLE_LABEL, check_select_mode
from microexp.io.atomic import write_text, write_with

LOG_COLUMNS = ("subject", "sample", "true", "pred")
OPTIONAL_COLUMNS = ("dataset", "fold", "selection")


def write_log(df: pd.DataFrame, path: str | Path, selection: str | None = None) -> Path:
    """Write the per-sample CSV atomically. ``selection`` (last|inner-val|oracle) is stored in every row."""
    missing = [c for c in LOG_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"recognition log lacks column(s) {', '.join(missing)}", path)
    out = df.copy()
    if selection is not None:
        out["selection"] = check_select_mode(selection)
    cols = [c for c in ("dataset",) if c in out.columns] + list(LOG_COLUMNS)
    cols += [c for c in ("fold", "selection") if c in out.columns]
    cols += [c for c in out.columns if c not in cols]
    return write_with(path, lambda tmp: out[cols].to_csv(tmp, index=False))


def read_log(path: str | Path) -> pd.DataFrame:
    """Read a per-sample CSV; missing columns or labels raise one-line errors naming file and row."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such recognition log", path)
    try:
        df = pd.read_csv(path, dtype={"subject": str, "sample": str, "dataset": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise AnnotationError(f"not a CSV recognition log ({str(err).splitlines()[0]})", path) from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in LOG_COLUMNS if c not in df.columns]
    if missing:
        raise AnnotationError(f"missing column(s) {', '.join(repr(c) for c in missing)}", path)
    for col in ("true", "pred"):
        bad = df[col].isna()
        if bad.any():
            raise AnnotationError(f"row {int(bad.idxmax()) + 2}: empty {col!r} label", path)
    if "selection" in df.columns:
        bad = ~df["selection"].isin(("last", "inner-val", "oracle"))
        if bad.any():
            raise AnnotationError(f"row {int(bad.idxmax()) + 2}: unknown selection {df['selection'][bad].iloc[0]!r}",
                                  path)
    dup = df.duplicated(["subject", "sample"] + [c for c in ("dataset", "selection") if c in df.columns])
    if dup.any():  # a sample counted twice silently shifts UF1 / UAR
        i = int(dup.to_numpy().argmax())
        raise AnnotationError(f"row {i + 2}: sample {df['sample'].iloc[i]!r} of subject {df['subject'].iloc[i]!r} "
                              "appears twice", path)
    return df


def is_oracle(df: pd.DataFrame) -> bool:
    """True when any row was produced with test-set model selection (paper reproduction only)."""
    return "selection" in df.columns and bool((df["selection"] == "oracle").any())


def oracle_note(df: pd.DataFrame) -> str | None:
    return f"{ORACLE_LABEL}: epochs chosen on the held-out subject; numbers are optimistic" if is_oracle(df) else None


# ---- MEGC2019 text log: "<db> <subject>" header, then "<sample> <gt> <pred>" lines ----------------------

def read_megc_log(path: str | Path) -> pd.DataFrame:
    """Parse the MEGC2019 log (column order gt, pred as in M1 and STSTNet_logfile.txt)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such MEGC log", path)
    rows, db, subject = [], None, None
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) == 2:
            db, subject = parts
            continue
        if len(parts) != 3:
            raise AnnotationError(f"line {lineno}: expected '<db> <subject>' or '<sample> <gt> <pred>'", path)
        if subject is None:
            raise AnnotationError(f"line {lineno}: sample line before any '<db> <subject>' header", path)
        sample, gt, pred = parts
        rows.append({"dataset": db, "subject": subject, "sample": sample, "true": _num(gt), "pred": _num(pred)})
    if not rows:
        raise AnnotationError("no samples in MEGC log", path)
    return pd.DataFrame(rows)


def write_megc_log(df: pd.DataFrame, path: str | Path, default_db: str = "db") -> Path:
    """Write the MEGC2019 text log, one header per (dataset, subject) block in order of appearance."""
    missing = [c for c in LOG_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"recognition log lacks column(s) {', '.join(missing)}", path)
    lines, last = [], None
    for row in df.itertuples(index=False):
        db = getattr(row, "dataset", default_db)
        key = (db, row.subject)
        if key != last:
            lines.append(f"{db} {row.subject}")
            last = key
        lines.append(f"{row.sample} {row.true} {row.pred}")
    return write_text(path, "\n".join(lines) + "\n")


def read_ststnet_python_log(path: str | Path) -> pd.DataFrame:
    """Parse STSTNet's python log blocks ``Subject:`` / ``Predicted :`` / ``Ground Truth:`` (running UF1 lines ignored)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such log", path)
    rows, subject, pred = [], None, None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = re.match(r"\s*(Subject|Predicted|Ground Truth)\s*:\s*(.*?)\s*$", line)
        if not m:
            continue
        key, val = m.groups()
        if key == "Subject":
            subject, pred = val, None
        elif key == "Predicted":
            pred = _literal_list(val, path, lineno)
        else:
            gt = _literal_list(val, path, lineno)
            if subject is None or pred is None or len(gt) != len(pred):
                raise AnnotationError(f"line {lineno}: ground truth without a matching prediction list", path)
            rows += [{"subject": subject, "sample": f"{subject}_{i}", "true": t, "pred": p}
                     for i, (t, p) in enumerate(zip(gt, pred, strict=True))]
            pred = None
    if not rows:
        raise AnnotationError("no Subject/Predicted/Ground Truth blocks", path)
    return pd.DataFrame(rows)


def read_any_log(path: str | Path) -> pd.DataFrame:
    """CSV log by default; MEGC text log or STSTNet python log recognised from the content."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such recognition log", path)
    head = path.read_text(encoding="utf-8", errors="replace")[:2000]
    if head.lstrip().startswith("Subject:"):
        return read_ststnet_python_log(path)
    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    if "," not in first and len(first.split()) == 2:
        return read_megc_log(path)
    return read_log(path)


def _num(s: str):
    try:
        return int(s)
    except ValueError:
        return s


def _literal_list(text: str, path: Path, lineno: int) -> list:
    try:
        val = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise AnnotationError(f"line {lineno}: not a list: {text[:40]!r}", path) from None
    if not isinstance(val, (list, tuple)):
        raise AnnotationError(f"line {lineno}: not a list", path)
    return list(val)
