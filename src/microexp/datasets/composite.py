"""MEGC2019 composite (CDE) 3-class list: the official ``combined_3class_gt.csv`` (442 rows, no header) or
HTNet's headered ``combined_3_class2_for_optical_flow.csv``.

The list is read, never re-derived from coding files (coding-file versions disagree on a few samples).
Subject ids are normalised per part (the official file writes SAMM ``6``, HTNet ``006``; SMIC ``s01``,
SLSTT ``s1``), so both copies give identical tables.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microexp.datasets.common import clean_text, finish, norm_subject, read_sheet_raw
from microexp.errors import AnnotationError

#: Official MEGC2019 composite labels (recognition guideline PDF): 0 negative, 1 positive, 2 surprise.
#: The one definition of the three classes (SMIC's classes; recognisers import it from here).
COMPOSITE_CLASSES = ("negative", "positive", "surprise")
COMPOSITE_LABELS = {name: i for i, name in enumerate(COMPOSITE_CLASSES)}

#: Per-dataset emotion -> composite class (guideline footnotes: CASME II negative = disgust + repression only).
COMPOSITE_EMOTION_MAP = {
    "casme2": {"disgust": "negative", "repression": "negative", "happiness": "positive", "surprise": "surprise"},
    "samm": {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
             "sadness": "negative", "happiness": "positive", "surprise": "surprise"},
    "smic": {"negative": "negative", "positive": "positive", "surprise": "surprise"},
}

PARTS = ("smic", "casme2", "samm")
FPS = {"smic": 100.0, "casme2": 200.0, "samm": 200.0}
__all__ = ["COMPOSITE_CLASSES", "COMPOSITE_EMOTION_MAP", "COMPOSITE_LABELS", "read_composite"]


def read_composite(path: str | Path) -> pd.DataFrame:
    """Read the composite list; ``label`` is the official 0 negative / 1 positive / 2 surprise.

    ``dataset`` holds each row's source DB and ``subject_key`` (``casme2/01``) is the LOSO fold id (68).
    ``sub`` keeps the subject as the file writes it and ``sample`` is ``<sub>_<clip>`` (HTNet's image names);
    ``imagename`` is the HTNet apex crop (``<sub>_<clip>.jpg`` when the file has no such column).
    """
    path = Path(path)
    raw = read_sheet_raw(path)
    first = [clean_text(v).lower() for v in raw.iloc[0]]
    if "dataset" in first:  # HTNet variant with a header
        cols = {name: first.index(name) for name in ("dataset", "sub", "filename_o", "label") if name in first}
        if len(cols) < 4:
            missing = [c for c in ("dataset", "sub", "filename_o", "label") if c not in cols][0]
            raise AnnotationError(f"missing column {missing!r}", path)
        body, idx = raw.iloc[1:], [cols["dataset"], cols["sub"], cols["filename_o"], cols["label"]]
        if "imagename" in first:
            idx.append(first.index("imagename"))
    else:
        if raw.shape[1] < 4:
            raise AnnotationError(f"expected 4 columns (db, subject, filename, label), found {raw.shape[1]}", path)
        body, idx = raw, [0, 1, 2, 3]
    rows = []
    for r, vals in zip(body.index, body.iloc[:, idx].itertuples(index=False), strict=True):
        n = int(r) + 1
        db, sub, clip, lab, *image = (clean_text(v) for v in vals)
        if not (db or sub or clip or lab):
            continue
        db = db.lower()
        if db not in PARTS:
            raise AnnotationError(f"column 'db' row {n}: unknown dataset {db[:20]!r}", path)
        if lab not in ("0", "1", "2"):
            raise AnnotationError(f"column 'label' row {n}: {lab[:20]!r} is not 0, 1 or 2", path)
        if not clip:
            raise AnnotationError(f"column 'filename' row {n}: empty", path)
        try:
            subject = norm_subject(db, sub)
        except ValueError:
            raise AnnotationError(f"column 'subject' row {n}: bad subject id {sub[:20]!r}", path) from None
        rows.append({"part": db, "subject": subject, "clip": clip,
                     "label": int(lab), "emotion": COMPOSITE_CLASSES[int(lab)], "fps": FPS[db], "row": n,
                     "sub": sub, "imagename": (image[0] if image else "") or f"{sub}_{clip}.jpg"})
    if not rows:
        raise AnnotationError("no data rows", path)
    df = pd.DataFrame(rows)
    dup = df.duplicated(["part", "subject", "clip"])
    if dup.any():
        r = df[dup].iloc[0]
        raise AnnotationError(f"row {r['row']}: duplicated sample {r['part']}/{r['clip']}", path)
    df["type"] = "me"
    out = finish(df, "composite", path, fps=None, first_frame="onset",
                 extra_attrs={"classes": COMPOSITE_CLASSES, "labels": COMPOSITE_LABELS})
    # ``dataset`` names the source DB of each row (casme2 / samm / smic); attrs['dataset'] stays 'composite'
    out["dataset"] = out["part"]
    out["subject_key"] = out["part"] + "/" + out["subject"]
    out["sample"] = out["sub"] + "_" + out["clip"]  # HTNet / STSTNet sample name, e.g. sub01_EP02_01f
    return out.drop(columns=["part"])
