"""A fake MEGC2019 composite-flow folder in HTNet's layout (the ``composite-flow:DIR`` input), for tests.

One writer for every test that needs one: the sheet's columns, the flow-image names (with HTNet's stray space
before ``.png``) and the folder are the layout's; what each image shows is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

FLOW_DIR = Path("datasets") / "STSNet_whole_norm_u_v_os"
SHEET = "combined_3_class2_for_optical_flow.csv"
SIX_SUBJECTS = (("casme2", ("sub01", "sub02")), ("samm", ("006", "007")), ("smic", ("s01", "s02")))


def noisy_cue(noise: int = 120):
    """Noise with a random class cue in one channel (stored BGR: label 0 brightens the red channel)."""
    def image(rng: np.random.Generator, label: int) -> np.ndarray:
        img = (rng.random((28, 28, 3)) * noise).astype(np.uint8)
        img[:, :, 2 - label] += rng.integers(40, 120, dtype=np.uint8)
        return img
    return image


def write_htnet(root: Path, image: Callable[[np.random.Generator, int], np.ndarray], per_subject: int,
                subjects=SIX_SUBJECTS, clip: Callable[[str, int], str] = lambda sub, k: f"{sub}_c{k}",
                label: Callable[[int], int] = lambda k: k % 3, seed: int = 0) -> Path:
    """Write ``per_subject`` samples for each (dataset, subjects) pair, images drawn in that order from one rng."""
    flow_dir = root / FLOW_DIR
    flow_dir.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    lines = ["dataset,sub,filename_o,label,apex,imagename,sub_filename"]
    for ds, subs in subjects:
        for sub in subs:
            for k in range(per_subject):
                name, y = clip(sub, k), label(k)
                cv2.imwrite(str(flow_dir / f"{sub}_{name} .png"), image(rng, y))
                lines.append(f"{ds},{sub},{name},{y},,{sub}_{name}.jpg,")
    (root / SHEET).write_text("\n".join(lines) + "\n")
    return root
