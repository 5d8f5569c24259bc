"""OF-FD's noise floor on real faces without expressions: the measurement behind the ``offd_me_sensitive`` preset.

    python benchmarks/offd_noise_floor.py            # prints the table and the derived thresholds

Clips of 3 s at 30 fps are built from still real face images (the first frame of
``../shared/video/single_face.mp4``, the raw CASME II frame ``MEA-LAB-421__ApexFrame_Spotting/.../img46.jpg``,
the SAMM crop ``QqXuyujie__Micro-Expression-Datasets/Crop_using_dilb/SAMM/cropped_face.jpg`` and the CAS(ME)^3
crop ``CZP-1__.../img_crop.jpg``; a face is used only when every ROI box lies inside the image): still, and with the rigid head motions and the relighting of
``tests/test_metamorphic_offd.py`` (drift 4 px, roll 3°, zoom 3 %, shake, brighten 15 %), each frame with
Gaussian sensor noise (σ 2 grey levels; two independent draws per clip, the larger value kept) and the clip
written with x264 at crf 23 (its default quality). No
clip holds an expression, so every prominence OF-FD measures on them is noise.

For every channel group (brow, mouth, nose) the script reports the largest prominence ``y − min(y[±1 s])`` of
the 5-Hz low-passed channel curve (``lowpass_hz`` of the S1 SAMM and both S2 presets), and derives the
thresholds by the rule fixed before any sensitivity run: T2 = 1.25 × that maximum, rounded up to 0.05 canonical
px; T1 = 0.8 × the smallest T2 and Td = 0.25 × the smallest T2 (the S1 CAS ratios 1.6 / 2.0 and 0.5 / 2.0).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from microexp.synth.motion import head_changes

SHARED = Path(os.environ.get("MICROEXP_SHARED", Path(__file__).resolve().parents[2] / "shared"))
REAL = SHARED / "realdata"
FACES = {
    "single_face (frame 0)": SHARED / "video" / "single_face.mp4",
    "CASME II img46": REAL / "MEA-LAB-421__ApexFrame_Spotting" / "ApexFrame_Spotting" / "img46.jpg",
    "SAMM crop": REAL / "QqXuyujie__Micro-Expression-Datasets" / "Crop_using_dilb" / "SAMM" / "cropped_face.jpg",
    "CAS(ME)^3 crop": REAL / "CZP-1__Facial-Expression-Spotting-Based-on-Optical-Flow-Features-MindSpore" / "img_crop.jpg",
}
FPS, N, NOISE_SD, CRF, REPS = 30.0, 90, 2.0, 23, 2
MARGIN, ROUND = 1.25, 0.05
LOWPASS_HZ = 5.0


def load(path: Path) -> np.ndarray | None:
    if path.suffix == ".mp4":
        import av

        with av.open(str(path)) as c:
            return next(c.decode(video=0)).to_ndarray(format="bgr24")
    return cv2.imread(str(path))


CHANGES = {"still": lambda img, lm, k: img, **head_changes(N)}  # the metamorphic tests' changes, over 3 s


def rois_inside(img: np.ndarray, lm: np.ndarray, cfg) -> bool:
    """Every ROI box of the reference frame lies inside the image: a tight face crop whose brow boxes reach
    past its top edge reads the warp's replicated border rows, which shear under roll (not face noise)."""
    from microexp.face.align import apply_to_points, crop_transform
    from microexp.spotting.offd_track import roi_layout

    M = crop_transform(lm, cfg.crop)
    corners = roi_layout(apply_to_points(M, lm), cfg).corners()
    src = apply_to_points(cv2.invertAffineTransform(M), corners)
    h, w = img.shape[:2]
    return bool((src >= 0).all() and (src[:, 0] <= w).all() and (src[:, 1] <= h).all())


def group_of(name: str) -> str:
    return "brow" if name.startswith("brow") else "mouth" if name.startswith("mouth") else "nose"


def prominence(res, cfg) -> dict[str, float]:
    """Largest ``y - floor`` per channel group over the clip's windows (the quantity T2 is compared with)."""
    from microexp.spotting.offd_signal import ideal_lowpass, window_floor

    radius = cfg.frames(cfg.local_min_radius_s, res.rate)
    out: dict[str, float] = {}
    for s0, ln in res.windows:
        sig = res.displacement[s0:s0 + ln].astype(float)
        for ch, name in enumerate(res.channel_names):
            y = ideal_lowpass(sig[1:-1, ch], cfg.lowpass_hz, res.rate)
            p = float((y - window_floor(y, radius)).max())
            out[group_of(name)] = max(out.get(group_of(name), 0.0), p)
    return out


def main() -> None:
    from microexp.face.landmarks import LandmarkDetector
    from microexp.io.video import VideoSource, write_video
    from microexp.spotting.offd import get_preset, run_offd, with_overrides

    cfg = with_overrides(get_preset("default"), lowpass_hz=LOWPASS_HZ)
    det = LandmarkDetector()
    worst: dict[str, float] = {}
    print("| face | clip | brow | mouth | nose |\n|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory() as d:
        for fi, (fname, path) in enumerate(FACES.items()):
            img = load(path) if path.is_file() else None
            found = None if img is None else det.find(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
            if found is None:
                print(f"| {fname} | no face found: skipped | | | |")
                continue
            lm = found[1]
            if not rois_inside(img, lm, cfg):
                print(f"| {fname} | ROI boxes reach outside the image (edge-replicated rows would move): skipped | | | |")
                continue
            for ci, (cname, change) in enumerate(CHANGES.items()):
                p: dict[str, float] = {}
                for rep in range(REPS):  # independent noise draws, seeded per clip
                    rng = np.random.default_rng([fi, ci, rep])
                    frames = []
                    for k in range(N):
                        f = change(img, lm, k).astype(np.float32) + rng.normal(0, NOISE_SD, img.shape)
                        frames.append(np.clip(f + 0.5, 0, 255).astype(np.uint8))
                    src = VideoSource(write_video(Path(d) / "c.mp4", frames, FPS, crf=CRF))
                    res = run_offd(src.frames(gray=True), src.info.fps, cfg, det)
                    for g, v in prominence(res, cfg).items():
                        p[g] = max(p.get(g, 0.0), v)
                for g, v in p.items():
                    worst[g] = max(worst.get(g, 0.0), v)
                print(f"| {fname} | {cname} | {p.get('brow', 0):.2f} | {p.get('mouth', 0):.2f} | "
                      f"{p.get('nose', 0):.2f} |", flush=True)
    t2 = {g: math.ceil(MARGIN * v / ROUND - 1e-9) * ROUND for g, v in worst.items()}
    lo = min(t2.values())
    print(f"\nlargest prominence (canonical px): {', '.join(f'{g} {v:.2f}' for g, v in worst.items())}")
    print(f"derived: t2={{{', '.join(f'{g}: {v:.2f}' for g, v in t2.items())}}}, t1={0.8 * lo:.2f}, "
          f"td={0.25 * lo:.2f}")


if __name__ == "__main__":
    main()
