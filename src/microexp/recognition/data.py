"""Recognition inputs: the MEGC2019 composite flow set as (X, index) and the canonical flow encoding.

Canonical encoding used by every recogniser here: float32 N x 3 x 28 x 28, channels (u, v, optical strain),
each channel min-max normalised per image to [0, 1] (what the HTNet/STSTNet ``norm_u_v_os`` PNGs store).

``load_composite`` reads the HTNet-layout folder with ``microexp.datasets.composite_flow`` (the datasets
module owns the layout) and adds the canonical subject keys and, for MMNet's flow variant, the apex faces.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from microexp.errors import ConfigError, InputError

CLASSES = ("negative", "positive", "surprise")


@dataclass
class FlowSet:
    """Flow images plus one index row per sample (dataset, subject, clip, label, ...)."""

    X: np.ndarray  # N x 3 x 28 x 28 float32, (u, v, strain) in [0, 1]
    index: pd.DataFrame  # columns at least: dataset, subject, clip, label, sample
    root: Path
    apex: np.ndarray | None = None  # N x 3 x 28 x 28 apex faces (ImageNet-normalised RGB), when loaded
    classes: tuple[str, ...] = CLASSES  # label order (composite 3-class unless a protocol says otherwise)
    input: str = "flow28"  # what X holds (a key of registry.INPUTS)

    def inputs(self, with_apex: bool = False) -> np.ndarray:
        """Model input: the flow, or flow and apex face stacked on channels (MMNet flow variant)."""
        if not with_apex:
            return self.X
        if self.apex is None:
            raise ConfigError("this model needs the apex faces; load the set with with_apex=True")
        return np.concatenate([self.X, self.apex], axis=1)

    def __len__(self) -> int:
        return len(self.index)


def subject_key(dataset: str, subject) -> str:
    """DB-prefixed subject id (``samm/006`` differs from ``casme2/06``) so LOSO folds never merge subjects."""
    s = str(subject).strip()
    return f"{str(dataset).strip().lower()}/{s}"


#: ``--data NAME:ROOT`` names: the composite flow set, and datasets read from their distributed layout
DATA_KINDS = ("composite-flow", "composite", "casme2", "samm", "smic", "casme3", "mmew", "4dme")


def parse_data_spec(spec: str) -> tuple[str, Path]:
    """``NAME:DIR`` for recognition (``composite-flow:../shared/realdata/htnet``, ``casme2:/data/CASME2``,
    ``composite:casme2=DIR,samm=DIR,smic=DIR[,list=FILE]``)."""
    from microexp.datasets.registry import parse_data_spec as parse

    return parse(spec, kinds=DATA_KINDS)


def read_flow_png(path: Path) -> np.ndarray:
    """One u/v/strain PNG (stored RGB) -> 3 x 28 x 28 float32 in [0, 1]."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError("cannot read flow image", path)
    if img.shape[:2] != (28, 28):
        img = cv2.resize(img, (28, 28), interpolation=cv2.INTER_AREA)
    rgb = img[:, :, ::-1]  # stored as RGB = (u, v, strain)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / 255.0


def _finish_index(index: pd.DataFrame) -> pd.DataFrame:
    index = index.reset_index(drop=True).copy()
    index["label"] = index["label"].astype(int)
    if "subject_key" not in index.columns:
        index["subject_key"] = [subject_key(d, s) for d, s in zip(index["dataset"], index["subject"], strict=True)]
    if "sample" not in index.columns:
        index["sample"] = [f"{s}_{c}" for s, c in zip(index["subject"], index["clip"], strict=True)]
    return index


IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def apex_tensor(rgb_uint8: np.ndarray, size: int = 28) -> np.ndarray:
    """N x H x W x 3 uint8 RGB faces -> N x 3 x size x size float32, ImageNet-normalised (MMNet's input)."""
    import cv2

    out = []
    for img in np.asarray(rgb_uint8):
        if img.shape[:2] != (size, size):
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        out.append(((img.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1))
    return np.stack(out).astype(np.float32)


def load_composite(root: str | Path, with_apex: bool = False) -> FlowSet:
    """The 442-sample composite flow set from an HTNet-layout folder (``../shared/realdata/htnet``).

    ``with_apex`` also loads the apex face crops (28 x 28, ImageNet-normalised) for the MMNet flow variant.
    """
    from microexp.datasets.composite_flow import load_composite_apex, load_composite_flow

    root = Path(root)
    X, index = load_composite_flow(root)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 4 or X.shape[1:] != (3, 28, 28):
        raise InputError(f"composite flow loader returned shape {X.shape}, expected N x 3 x 28 x 28", root)
    if X.max() > 1.5:  # 0..255 images
        X = X / 255.0
    apex = None
    if with_apex:
        A, aindex = load_composite_apex(root, size=28)
        if list(aindex["sample"]) != list(index["sample"]):
            raise InputError("apex crops and flow images list different samples", root)
        apex = apex_tensor(A)
    return FlowSet(X, _finish_index(index), Path(root), apex)


def hflip_uvs(x: np.ndarray, u_channels: tuple[int, ...] = (0,)) -> np.ndarray:
    """Mirror a batch left-right: flip columns and negate u (1 - u under min-max scaling).

    Channels are axis -3, so (N, C, H, W) batches and (N, T, C, H, W) sequences both work; ``u_channels=()``
    mirrors RGB faces without touching any channel.
    """
    out = x[..., ::-1].copy()
    for c in u_channels:
        out[..., c, :, :] = 1.0 - out[..., c, :, :]
    return out
