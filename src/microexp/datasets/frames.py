"""Find each sample's frames inside a dataset folder laid out as distributed.

A layout is a list of relative-path templates per row (``sub{subject}/{clip}`` for CASME II). The folder
that holds them (``CASME2_RAW_selected``, ``Cropped``, ``SMIC-E_raw image/HS_long/SMIC-HS-E`` ...) is found by
trying every folder up to three levels below the root and keeping the one where most rows resolve, so a
researcher can point at the folder they received. Frame files are sorted numerically, and the 0-based index of
a frame is its position in that list (``onset`` etc.; the number as annotated stays in ``onset_annot``), which
stays right even when numbering has gaps.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from microexp.datasets.common import frame_number
from microexp.errors import InputError
from microexp.io.frames import IMAGE_SUFFIXES, VIDEO_SUFFIXES, list_frames


def _subject_variants(subject: str) -> list[str]:
    """Folder spellings of a canonical id: 's01' -> ['s01', 's1'], '006' -> ['006', '6']."""
    out = [subject]
    m = re.fullmatch(r"([A-Za-z.]*)0*(\d+)", subject)
    if m:
        out.append(f"{m.group(1)}{int(m.group(2))}")
    return list(dict.fromkeys(out))


def _clip_variants(clip: str) -> list[str]:
    out = [clip]
    m = re.fullmatch(r"s0*(\d+)_(.*)", clip)  # SMIC s1_ne_01 <-> s01_ne_01
    if m:
        out += [f"s{int(m.group(1))}_{m.group(2)}", f"s{int(m.group(1)):02d}_{m.group(2)}"]
    return list(dict.fromkeys(out))


def _casme2(r) -> list[str]:
    return [f"sub{r['subject']}/{r['clip']}"]


def _samm(r) -> list[str]:
    return [f"{s}/{r['clip']}" for s in _subject_variants(r["subject"])]


def _smic(r) -> list[str]:
    out = []
    for s in _subject_variants(r["subject"]):
        for c in _clip_variants(r["clip"]):
            out += [f"{s}/micro/{r['emotion']}/{c}", f"{s}/{c}"]
    return out


def _samm_lv(r) -> list[str]:
    return [r["video"]] + [f"{s}/{r['video']}" for s in _subject_variants(r["subject"])]


def _casme3(r) -> list[str]:
    return [f"{r['subject']}/{r['material']}/color", f"{r['subject']}/{r['material']}"]


def _by_subject(r) -> list[str]:
    # the canonical id drops a letter prefix the folders may keep (4DME/DFME sheets write S01 or sub01)
    subs = [f"{p}{s}" for s in _subject_variants(r["subject"]) for p in ("", "S", "s", "sub")]
    return [f"{s}/{r['clip']}" for s in subs] + [r["clip"]]


def _mmew(r) -> list[str]:
    return [f"{r['emotion']}/{r['clip']}", r["clip"]]


def _casme3_c(r) -> list[str]:
    return [f"{s}/color" for s in _subject_variants(r["subject"])] + _subject_variants(r["subject"])


TEMPLATES: dict[str, Callable[[pd.Series], list[str]]] = {
    "casme2": _casme2, "casme2_5class": _casme2, "casme2_3class_mmnet": _casme2, "samm": _samm, "samm_5class": _samm, "smic": _smic,
    "smic_vis": _smic, "smic_nir": _smic, "samm_lv": _samm_lv, "casme3": _casme3, "casme3_c": _casme3_c,
    "mmew": _mmew, "4dme": _by_subject, "dfme": _by_subject,
}


def _is_frame_folder(path: Path, probe: int = 40) -> bool:
    try:
        with os.scandir(path) as it:
            for k, e in enumerate(it):
                if k >= probe:
                    break
                if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES:
                    return True
    except OSError:
        return False
    return False


def candidate_bases(root: Path, depth: int = 3, cap: int = 3000) -> list[Path]:
    """``root`` and its sub-folders up to ``depth`` levels, not descending into frame folders."""
    out, level = [root], [root]
    for _ in range(depth):
        nxt = []
        for d in level:
            if _is_frame_folder(d):
                continue
            try:
                with os.scandir(d) as it:
                    subs = sorted(Path(e.path) for e in it if e.is_dir() and not e.name.startswith("."))
            except OSError:
                continue
            nxt += subs
            if len(out) + len(nxt) > cap:
                break
        out += nxt
        level = nxt
        if len(out) > cap:
            break
    return out


def choose_base(df: pd.DataFrame, templates: Callable, root: Path, sample: int = 40) -> Path | None:
    """The folder under ``root`` where most of the first ``sample`` rows' templates exist (ties: shallowest)."""
    rows = [templates(r) for _, r in df.head(sample).iterrows()]
    best, best_hits = None, 0
    for base in candidate_bases(root):
        hits = sum(any((base / rel).is_dir() for rel in rels) for rels in rows)
        if hits > best_hits:
            best, best_hits = base, hits
    return best


def frame_table(folder: Path) -> tuple[list[str], np.ndarray]:
    """Sorted frame paths of a folder and their frame numbers (-1 where a name carries no number)."""
    files = list_frames(folder)
    nums = np.array([frame_number(p.name) if frame_number(p.name) is not None else -1 for p in files], dtype=np.int64)
    return [str(p) for p in files], nums


def attach_frames(df: pd.DataFrame, name: str, root: str | Path, frames_dir: str | Path | None = None
                  ) -> pd.DataFrame:
    """Add ``frames_dir, n_frames, frames`` and recompute ``first_frame`` and 0-based ``onset..offset`` from disk.

    ``frames_ok`` is True when onset, apex and offset (where annotated) are all present among the files.
    Rows whose folder is missing keep the 0-based frames computed from the annotation and ``frames_dir = ''``.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("dataset folder not found", root)
    df = df.copy()
    if name == "casme_sq":
        folders = _casme_sq_folders(df, root, frames_dir)
    else:
        tmpl = TEMPLATES.get(name)
        folders = [None] * len(df)
        if tmpl is not None:
            if frames_dir is not None:
                base = Path(frames_dir) if Path(frames_dir).is_absolute() else root / frames_dir
                if not base.is_dir():
                    raise InputError("frame folder not found", base)
            else:
                base = choose_base(df, tmpl, root)
            if base is not None:
                folders = [next((base / rel for rel in tmpl(r) if (base / rel).is_dir()), None)
                           for _, r in df.iterrows()]
    cache: dict[Path, tuple[list[str], np.ndarray]] = {}
    dirs, counts, lists, oks = [], [], [], []
    first, z = list(df["first_frame"]), {c: list(df[c]) for c in ("onset", "apex", "offset")}
    for i, folder in enumerate(folders):
        if folder is None:
            dirs.append("")
            counts.append(0)
            lists.append([])
            oks.append(False)
            continue
        if folder not in cache:
            cache[folder] = frame_table(folder)
        files, nums = cache[folder]
        dirs.append(str(folder))
        counts.append(len(files))
        lists.append(files)
        ok = len(files) > 0
        if len(nums):
            first[i] = int(nums.min())
        for c in ("onset", "apex", "offset"):
            v = df[f"{c}_annot"].iat[i]
            if v is pd.NA:
                continue
            pos = np.flatnonzero(nums == int(v))
            if len(pos):
                z[c][i] = int(pos[0])
            else:
                ok = False
                z[c][i] = int(np.clip(np.searchsorted(np.sort(nums), int(v)), 0, max(len(nums) - 1, 0)))
        oks.append(ok)
    df["frames_dir"] = dirs
    df["n_frames"] = counts
    df["frames"] = lists
    df["frames_ok"] = oks
    df["first_frame"] = pd.array(first, dtype="Int64")
    for c in ("onset", "apex", "offset"):
        df[c] = pd.array(z[c], dtype="Int64")
    return df


# --- CAS(ME)^2: folder names carry words after the code, and one folder has another subject's prefix -----
def _casme_sq_folders(df: pd.DataFrame, root: Path, frames_dir) -> list[Path | None]:
    from microexp.datasets.casme_sq import video_folders

    if frames_dir is not None:
        base = Path(frames_dir) if Path(frames_dir).is_absolute() else root / frames_dir
    else:
        base = _casme_sq_base(root)
    if base is None or not base.is_dir():
        return [None] * len(df)
    vids = video_folders(base)
    where = dict(zip(vids["video"], vids["folder"], strict=True))
    return [Path(where[v]) if v in where else None for v in df["video"]]


def _casme_sq_base(root: Path) -> Path | None:
    best, best_n = None, 0
    for base in candidate_bases(root):
        try:
            n = sum(1 for p in base.iterdir() if p.is_dir() and re.fullmatch(r"s\d+", p.name)
                    and any(re.match(r"\d+_\d{4}", q.name) and q.is_dir() for q in p.iterdir()))
        except OSError:
            continue
        if n > best_n:
            best, best_n = base, n
    return best


def casme_sq_video_paths(df: pd.DataFrame, root: Path) -> list[str]:
    """``rawvideo/s15/15_0101disgustingteeth.avi``-style files per row ('' when absent)."""
    found: dict[str, str] = {}
    for base in candidate_bases(root):
        for sdir in (p for p in base.iterdir() if p.is_dir() and re.fullmatch(r"s\d+", p.name)):
            for f in sdir.iterdir():
                m = re.match(r"(\d+)_(\d{4})", f.name)
                if m and f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES:
                    found.setdefault(f"s{int(sdir.name[1:]):02d}_{m.group(2)}", str(f))
        if found:
            break
    return [found.get(v, "") for v in df["video"]]
