"""Precomputed classical feature sets we benchmark on, as (X, index).

* ACII19 Apex-Time-Network (``Trunpm/ACII19-Apex-Time-Network``): ``LBP-TOP/Features.zip`` (settings
  ``LBPTOP_TIM{10,64}_333_{4,8}``, each 442 ``.mat`` with ``Histogram`` (3 planes x 59 bins)) and
  ``HOOF/Features.zip`` (``HOOF_TIM{10,64}_{4,8}``, ``HOOF`` arrays). Members are named
  ``<db>-<subject>-<clip>.mat`` (``casme2-sub01-EP02_01f``, ``samm-10-010_2_1``, ``smic-s01-s01_ne_01``); labels
  come from ``Data/Apex_Cropped_images.txt`` (official 3-class codes) next to the zips.
* ``IcedDoggie/Micro-Expression-with-Deep-Learning``: ``LBP_Magnified[_denoised]/sub01_EP02_01f.txt``, 177
  values (3 x 59) per CASME II clip, 247 clips, unlabelled (join with a CASME II coding on subject + clip).

Each row of X is the member's array flattened in C order, float32.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from microexp.datasets.common import norm_subject, subject_key
from microexp.datasets.composite import COMPOSITE_CLASSES
from microexp.errors import AnnotationError, InputError

LBPTOP_SETTINGS = ("LBPTOP_TIM10_333_4", "LBPTOP_TIM10_333_8", "LBPTOP_TIM64_333_4", "LBPTOP_TIM64_333_8")
HOOF_SETTINGS = ("HOOF_TIM10_4", "HOOF_TIM10_8", "HOOF_TIM64_4", "HOOF_TIM64_8")
_NAME = re.compile(r"^(casme2|samm|smic)-([^-]+)-(.+)$")


def read_apex_labels(path: str | Path) -> pd.DataFrame:
    """``Apex_Cropped_images.txt``: ``casme2-sub01-EP02_01f-img59.jpg 1`` -> dataset, subject, clip, apex_image, label."""
    path = Path(path)
    if not path.is_file():
        raise InputError("label list not found", path)
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise AnnotationError(f"line {n}: expected '<db>-<subject>-<clip>-<frame>.jpg <0|1|2>'", path)
        stem = Path(parts[0]).stem
        m = _NAME.match(stem.rsplit("-", 1)[0]) if "-" in stem else None
        if not m:
            raise AnnotationError(f"line {n}: cannot parse sample name {parts[0][:40]!r}", path)
        db, sub, clip = m.groups()
        rows.append({"dataset": db, "subject": norm_subject(db, sub), "clip": clip, "apex_image": parts[0],
                     "label": int(parts[1])})
    if not rows:
        raise AnnotationError("label list is empty", path)
    return pd.DataFrame(rows)


def _members(source: Path, setting: str) -> list[tuple[str, bytes | Path]]:
    """(.mat name, bytes or path) for one setting, from a Features.zip or an extracted folder."""
    if source.is_file():
        try:
            zf = zipfile.ZipFile(source)
        except zipfile.BadZipFile:
            raise InputError("not a zip file", source) from None
        with zf:
            names = [n for n in zf.namelist() if n.startswith(f"{setting}/") and n.endswith(".mat")]
            return [(Path(n).name, zf.read(n)) for n in names]
    for folder in (source / setting / "Features", source / setting, source / "Features", source):
        if folder.is_dir() and any(folder.glob("*.mat")):
            return [(p.name, p) for p in sorted(folder.glob("*.mat"))]
    return []


def load_feature_set(source: str | Path, setting: str, labels: str | Path | None = None
                     ) -> tuple[np.ndarray, pd.DataFrame]:
    """One ACII19 feature setting as (X float32 N x D, index ``dataset, subject, clip, emotion, label, path``).

    ``source`` is a ``Features.zip`` or a folder holding ``<setting>/Features/*.mat``. ``labels`` defaults to
    ``../Data/Apex_Cropped_images.txt`` beside the zip; rows keep that file's order. Without labels the index
    has ``label = -1`` and rows are sorted by name.
    """
    from scipy.io import loadmat

    source = Path(source)
    if not source.exists():
        raise InputError("feature source not found", source)
    members = _members(source, setting)
    if not members:
        raise InputError(f"no .mat features for setting {setting!r}", source)
    feats: dict[tuple[str, str, str], np.ndarray] = {}
    paths: dict[tuple[str, str, str], str] = {}
    for name, blob in members:
        m = _NAME.match(Path(name).stem)
        if not m:
            raise AnnotationError(f"feature file name {name!r} is not '<db>-<subject>-<clip>.mat'", source)
        db, sub, clip = m.groups()
        try:
            mat = loadmat(io.BytesIO(blob) if isinstance(blob, bytes) else str(blob))
        except Exception as err:
            raise InputError(f"cannot read {name} ({type(err).__name__})", source) from None
        arrays = [v for k, v in mat.items() if not k.startswith("__") and isinstance(v, np.ndarray)]
        if len(arrays) != 1:
            raise InputError(f"{name} holds {len(arrays)} arrays, expected 1", source)
        k = (db, norm_subject(db, sub), clip)
        feats[k] = np.asarray(arrays[0], dtype=np.float32).ravel()
        paths[k] = f"{source}::{setting}/{name}" if source.is_file() else str(blob)
    if labels is None:
        guess = source.parent.parent / "Data" / "Apex_Cropped_images.txt"
        labels = guess if guess.is_file() else None
    if labels is not None:
        lab = read_apex_labels(labels)
        keys = list(zip(lab["dataset"], lab["subject"], lab["clip"], strict=True))
        missing = [k for k in keys if k not in feats]
        if missing:
            raise InputError(f"{len(missing)} labelled samples have no {setting} features, e.g. {'/'.join(missing[0])}",
                             source)
        label_list = list(lab["label"])
    else:
        keys = sorted(feats)
        label_list = [-1] * len(keys)
    dims = {feats[k].shape[0] for k in keys}
    if len(dims) != 1:
        raise InputError(f"{setting}: feature lengths differ {sorted(dims)[:3]}", source)
    X = np.stack([feats[k] for k in keys])
    index = pd.DataFrame({"dataset": [k[0] for k in keys], "subject": [k[1] for k in keys],
                          "clip": [k[2] for k in keys],
                          "emotion": [COMPOSITE_CLASSES[v] if v >= 0 else "" for v in label_list],
                          "label": label_list, "path": [paths[k] for k in keys]})
    index["subject_key"] = [subject_key(d, s) for d, s in zip(index["dataset"], index["subject"], strict=True)]
    index.attrs = {"setting": setting, "source": str(source)}
    return X, index


def load_lbptop(source: str | Path, setting: str = "LBPTOP_TIM10_333_4", labels=None):
    """ACII19 LBP-TOP features (default TIM10, radii 3/3/3, P 4): X is N x 177 for that setting."""
    return load_feature_set(source, setting, labels)


def load_hoof(source: str | Path, setting: str = "HOOF_TIM10_8", labels=None):
    """ACII19 HOOF features (default TIM10, 8 bins)."""
    return load_feature_set(source, setting, labels)


def load_lbp_magnified(folder: str | Path) -> tuple[np.ndarray, pd.DataFrame]:
    """IcedDoggie ``LBP_Magnified`` text features: (X float32 N x 177, index ``dataset, subject, clip, path``)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if not files:
        raise InputError("no LBP feature .txt files", folder)
    xs, rows = [], []
    for p in files:
        m = re.match(r"^sub(\d+)_(.+)$", p.stem)
        if not m:
            raise AnnotationError(f"feature file name {p.name!r} is not 'sub01_<clip>.txt'", folder)
        try:
            vals = np.array([float(t) for t in p.read_text().split()], dtype=np.float32)
        except ValueError:
            raise AnnotationError("non-numeric value in feature file", p) from None
        xs.append(vals)
        rows.append({"dataset": "casme2", "subject": norm_subject("casme2", m.group(1)), "clip": m.group(2),
                     "path": str(p)})
    dims = {x.shape[0] for x in xs}
    if len(dims) != 1:
        raise InputError(f"feature lengths differ {sorted(dims)[:3]}", folder)
    index = pd.DataFrame(rows)
    index["subject_key"] = "casme2/" + index["subject"]
    return np.stack(xs), index
