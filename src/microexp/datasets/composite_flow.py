"""MEGC2019 composite (CDE) derived sets in the HTNet layout: onset->apex flow images and apex face crops.

Layout (``wangzhifengharrison/HTNet``; ``../shared/realdata/htnet``)::

    ROOT/combined_3_class2_for_optical_flow.csv            dataset,sub,filename_o,label,apex,imagename,sub_filename
    ROOT/datasets/STSNet_whole_norm_u_v_os/<sub>_<clip> .png   28x28 RGB; note the space before ".png"
    ROOT/datasets/combined_datasets_whole/<imagename>          224x224 RGB apex crops (SMIC: s01_s1_ne_01.jpg)

Flow encoding returned: float32 N x 3 x 28 x 28, channels (u, v, strain) = the PNG's (R, G, B) divided by 255,
so every channel is in [0, 1] exactly as the images store them (each channel min-max normalised per image by
the STSTNet ``norm_u_v_os`` step). Checked on the 442 real images: R and G centre near 0.5 (signed flow), B is
skewed towards 0 (strain magnitude).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from microexp.datasets.common import norm_subject, subject_key
from microexp.errors import AnnotationError, InputError

#: Official MEGC2019 composite labels (recognition guideline PDF): 0 negative, 1 positive, 2 surprise.
COMPOSITE_CLASSES = ("negative", "positive", "surprise")
COMPOSITE_LABELS = {name: i for i, name in enumerate(COMPOSITE_CLASSES)}

#: Per-dataset emotion -> composite class (guideline footnotes: CASME II negative = disgust + repression only).
COMPOSITE_EMOTION_MAP = {
    "casme2": {"disgust": "negative", "repression": "negative", "happiness": "positive", "surprise": "surprise"},
    "samm": {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
             "sadness": "negative", "happiness": "positive", "surprise": "surprise"},
    "smic": {"negative": "negative", "positive": "positive", "surprise": "surprise"},
}

LIST_NAME = "combined_3_class2_for_optical_flow.csv"
FLOW_DIR = Path("datasets") / "STSNet_whole_norm_u_v_os"
APEX_DIR = Path("datasets") / "combined_datasets_whole"
DATASETS = ("casme2", "samm", "smic")


def find_htnet_root(root: str | Path) -> Path:
    """Accept the HTNet folder itself, its ``datasets`` folder, or one of the two image folders."""
    root = Path(root)
    for cand in (root, root.parent, root.parent.parent):
        if (cand / LIST_NAME).is_file() and ((cand / FLOW_DIR).is_dir() or (cand / APEX_DIR).is_dir()):
            return cand
    if not root.exists():
        raise InputError("folder not found", root)
    raise InputError(f"not an HTNet-layout composite folder (needs {LIST_NAME} and {FLOW_DIR.as_posix()}/)", root)


def read_composite_list(path: str | Path) -> pd.DataFrame:
    """Read the HTNet composite list; columns ``dataset, subject, clip, emotion, label, sub, imagename``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("composite list not found", path)
    if path.stat().st_size == 0:
        raise AnnotationError("composite list is empty", path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise AnnotationError(f"cannot parse composite list ({type(err).__name__})", path) from None
    df.columns = [str(c).strip() for c in df.columns]
    for col in ("dataset", "sub", "filename_o", "label"):
        if col not in df.columns:
            raise AnnotationError(f"missing column {col!r}", path)
    rows = []
    for i, r in enumerate(df.itertuples(index=False), start=2):
        ds = r.dataset.strip().lower()
        if ds not in DATASETS:
            raise AnnotationError(f"column 'dataset' row {i}: unknown dataset {r.dataset!r}", path)
        lab = r.label.strip()
        if lab not in ("0", "1", "2"):
            raise AnnotationError(f"column 'label' row {i}: {lab!r} is not 0, 1 or 2", path)
        try:
            subject = norm_subject(ds, r.sub)
        except ValueError:
            raise AnnotationError(f"column 'sub' row {i}: bad subject {r.sub!r}", path) from None
        clip = r.filename_o.strip()
        if not clip:
            raise AnnotationError(f"column 'filename_o' row {i}: empty clip name", path)
        image = getattr(r, "imagename", "") or f"{r.sub.strip()}_{clip}.jpg"
        rows.append({"dataset": ds, "subject": subject, "clip": clip, "emotion": COMPOSITE_CLASSES[int(lab)],
                     "label": int(lab), "sub": r.sub.strip(), "imagename": image.strip()})
    if not rows:
        raise AnnotationError("composite list has no rows", path)
    out = pd.DataFrame(rows)
    dup = out.duplicated(["dataset", "subject", "clip"])
    if dup.any():
        r = out[dup].iloc[0]
        raise AnnotationError(f"duplicated sample {r['dataset']}/{r['sub']}/{r['clip']}", path)
    out["subject_key"] = [subject_key(d, s) for d, s in zip(out["dataset"], out["subject"], strict=True)]
    out["sample"] = out["sub"] + "_" + out["clip"]  # HTNet / STSTNet sample name, e.g. sub01_EP02_01f
    return out


def htnet_sample_name(dataset: str, subject: str, clip: str) -> str:
    """HTNet/STSTNet sample name from canonical ids: ``sub01_EP02_01f``, ``006_006_1_2``, ``s01_s01_ne_01``."""
    sub = f"sub{subject}" if dataset == "casme2" else subject
    return f"{sub}_{clip}"


def _imread_rgb(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError("cannot read image", path)
    return img[:, :, ::-1]


def flow_image_path(root: Path, sub: str, clip: str) -> Path:
    """``<sub>_<clip> .png`` (HTNet's name, with the space); falls back to the name without the space."""
    folder = root / FLOW_DIR
    spaced = folder / f"{sub}_{clip} .png"
    if spaced.is_file():
        return spaced
    plain = folder / f"{sub}_{clip}.png"
    return plain if plain.is_file() else spaced


def load_composite_flow(root: str | Path) -> tuple[np.ndarray, pd.DataFrame]:
    """The 442 composite flow images as (X float32 N x 3 x 28 x 28 in [0, 1], index).

    ``index`` has ``dataset, subject, clip, emotion, label, path`` plus ``sub`` (raw id), ``sample``
    (``sub01_EP02_01f``) and ``subject_key`` (``casme2/01``), in the list file's order.
    """
    root = find_htnet_root(root)
    index = read_composite_list(root / LIST_NAME)
    xs, paths = [], []
    for sub, clip in zip(index["sub"], index["clip"], strict=True):
        p = flow_image_path(root, sub, clip)
        if not p.is_file():
            raise InputError(f"flow image missing for sample {sub}_{clip}", p)
        img = _imread_rgb(p)
        if img.shape[:2] != (28, 28):
            raise InputError(f"flow image is {img.shape[1]}x{img.shape[0]}, expected 28x28", p)
        xs.append(img.transpose(2, 0, 1))
        paths.append(str(p))
    X = np.stack(xs).astype(np.float32) / 255.0
    index = index.assign(path=paths)
    return X, _order(index)


def load_composite_apex(root: str | Path, size: int | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """The 442 apex face crops as (X uint8 N x H x W x 3 RGB, index); ``size`` resizes to size x size."""
    import cv2

    root = find_htnet_root(root)
    index = read_composite_list(root / LIST_NAME)
    xs, paths = [], []
    for name in index["imagename"]:
        p = root / APEX_DIR / name
        if not p.is_file():
            raise InputError("apex crop missing", p)
        img = _imread_rgb(p)
        if size is not None and img.shape[:2] != (size, size):
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        xs.append(np.ascontiguousarray(img))
        paths.append(str(p))
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise InputError(f"apex crops differ in size {sorted(shapes)[:2]}; pass size=", root / APEX_DIR)
    index = index.assign(path=paths)
    return np.stack(xs), _order(index)


def _order(index: pd.DataFrame) -> pd.DataFrame:
    first = ["dataset", "subject", "clip", "emotion", "label", "path"]
    return index[first + [c for c in index.columns if c not in first]].reset_index(drop=True)
