"""OF-FD on real frames: the numbers in docs/spotting.md (invariances, durations/typing, the real clips).

    python benchmarks/offd_realframes.py [--part invariance|typing|clips|all] [--preset default|me|...]

Clips are built in memory from the first frame of ../shared/video/single_face.mp4 (as in
tests/test_metamorphic_offd.py); ``clips`` runs the default preset on every clip in ../shared/video.
Prints markdown tables; takes about two minutes on one core.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from microexp.synth.motion import brow_raise, rigid

SHARED = Path(os.environ.get("MICROEXP_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def first_frame(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="bgr24")


def frames_of(images, fps):
    from microexp.io.video import Frame

    return [Frame(i, i / fps, im) for i, im in enumerate(images)]


def invariance(img, lm, det) -> None:
    from microexp.io.video import VideoSource, write_video
    from microexp.spotting.offd import run_offd

    n = 60
    cases = {
        "drift 4 px right, 2 px up": lambda k: rigid(img, lm[30], dx=4 * k / n, dy=-2 * k / n),
        "roll 0 → 3°": lambda k: rigid(img, lm[30], roll=3 * k / n),
        "zoom 0 → 3 %": lambda k: rigid(img, lm[30], zoom=1 + 0.03 * k / n),
        "shake (±2 px, ±1°)": lambda k: rigid(img, lm[30], dx=2 * np.sin(k / 3), dy=1.5 * np.cos(k / 4),
                                              roll=np.sin(k / 5)),
        "brighten 0 → 15 %": lambda k: cv2.convertScaleAbs(img, alpha=1 + 0.15 * k / n),
    }
    print("| clip (no expression) | intervals | max channel (px) | p95 (px) |\n|---|---|---|---|")
    for name, f in cases.items():
        r = run_offd(iter(frames_of([f(k) for k in range(n)], 30.0)), 30.0, None, det)
        print(f"| {name} | {len(r.spans)} | {np.nanmax(r.displacement):.2f} | "
              f"{np.nanpercentile(r.displacement, 95):.2f} |", flush=True)
    with tempfile.TemporaryDirectory() as d:
        for crf, fps, dx in ((35, 30.0, 0), (23, 25.0, 3), (28, 30.0, 3), (35, 30.0, 3)):
            m = int(3 * fps)
            p = write_video(Path(d) / f"c{crf}_{dx}.mp4", [rigid(img, lm[30], dx=dx * k / m) for k in range(m)],
                            fps, crf=crf)
            src = VideoSource(p)
            r = run_offd(src.frames(), src.info.fps, None, det)
            print(f"| drift {dx} px, x264 crf {crf}, {fps:g} fps | {len(r.spans)} | "
                  f"{np.nanmax(r.displacement):.2f} | {np.nanpercentile(r.displacement, 95):.2f} |", flush=True)


def typing(img, lm, det, preset: str = "default") -> None:
    """Detected length (frames, and seconds in brackets) and type of planted brow raises of known duration."""
    from microexp.face.landmarks import half_inner_canthal
    from microexp.spotting.offd import run_offd
    from microexp.spotting.offd_config import get_preset
    from microexp.spotting.offd_stream import span_interval

    cfg = get_preset(preset)
    c = 32.0 / half_inner_canthal(lm)  # canonical px per source px
    amps = (1.5, 3.0, 6.0)
    print(f"preset {cfg.name}, ME/MaE split {cfg.me_mae_split_s} s")
    print("| true duration | " + " | ".join(f"{a * c:.1f} px" for a in amps) + " |")
    print("|---" * (len(amps) + 1) + "|")
    for dur in (0.2, 0.3, 0.4, 0.5, 0.7, 1.0):
        cells = []
        for amp in amps:
            r = run_offd(iter(frames_of(brow_raise(img, lm, 30.0, 3.0, 1.2, 1.2 + dur, amp), 30.0)), 30.0, cfg, det)
            ivs = [span_interval(s, r.proc_index, r.proc_time, r.score, r.config.me_mae_split_s) for s in r.spans]
            cells.append(", ".join(f"{i.offset - i.onset} ({r.proc_time[s[1]] - r.proc_time[s[0]]:.2f} s) {i.kind}"
                                   for s, i in zip(r.spans, ivs)) or "—")
        print(f"| {dur:.1f} s | " + " | ".join(cells) + " |", flush=True)


def clips() -> None:
    from microexp.spotting.api import spot_video

    print("| clip | windows (start, length) | intervals (onset–offset, type) |\n|---|---|---|")
    for p in sorted(q for q in (SHARED / "video").iterdir() if q.suffix in (".mp4", ".mov")):
        r = spot_video(p)
        ivs = ", ".join(f"{i.onset}–{i.offset} {i.kind}" for i in r.intervals) or "none"
        print(f"| {p.name} | {r.offd.windows} | {ivs} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", default="all", choices=["invariance", "typing", "clips", "all"])
    ap.add_argument("--preset", default="default", help="OF-FD preset of the typing table (default, me, ...).")
    args = ap.parse_args()
    from microexp.face.landmarks import LandmarkDetector

    img = first_frame(SHARED / "video" / "single_face.mp4")
    det = LandmarkDetector()
    lm = det.find(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))[1]
    if args.part in ("invariance", "all"):
        invariance(img, lm, det)
    if args.part in ("typing", "all"):
        typing(img, lm, det, args.preset)
    if args.part in ("clips", "all"):
        clips()


if __name__ == "__main__":
    main()
