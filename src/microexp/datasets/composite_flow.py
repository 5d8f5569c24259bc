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

from microexp.datasets.composite import (
    COMPOSITE_CLASSES,
    COMPOSITE_EMOTION_MAP,
    COMPOSITE_LABELS,
    read_composite,
)
from microexp.errors import InputError

__all__ = ["COMPOSITE_CLASSES", "COMPOSITE_EMOTION_MAP", "COMPOSITE_LABELS", "load_composite_apex",
           "load_composite_flow", "read_composite_list", "read_flow_png"]

LIST_NAME = "combined_3_class2_for_optical_flow.csv"
LIST_COLUMNS = ["dataset", "subject", "clip", "emotion", "label", "sub", "imagename", "subject_key", "sample"]
FLOW_DIR = Path("datasets") / "STSNet_whole_norm_u_v_os"
APEX_DIR = Path("datasets") / "combined_datasets_whole"


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
    """The HTNet list through the one composite reader, as ``dataset, subject, clip, emotion, label, sub,
    imagename, subject_key, sample`` (``sample`` names the flow image, ``imagename`` the apex crop)."""
    return read_composite(path)[LIST_COLUMNS]


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


def read_flow_png(path: str | Path, size: int = 28) -> np.ndarray:
    """One u/v/strain PNG (stored RGB) -> 3 x size x size float32 in [0, 1]; another size is an InputError."""
    img = _imread_rgb(Path(path))
    if img.shape[:2] != (size, size):
        raise InputError(f"flow image is {img.shape[1]}x{img.shape[0]}, expected {size}x{size}", path)
    return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32) / 255.0


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
        xs.append(read_flow_png(p))
        paths.append(str(p))
    X = np.stack(xs)
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
