"""OF-FD on never-neutral footage: the numbers in docs/spotting.md ("Never-neutral footage").

Runs ``analyze``'s spotting and reading on a clip with the default preset twice: ``after_open=window_first``
(the reference code: every window against its first frame) and ``after_open=lag`` (microexp's default: after an
open interval, frame t against t − k). Prints each window (first frame, reference mode, window-level spans) and
each interval with its open flag and reading (original 0-based frames).

    python benchmarks/offd_never_neutral.py [VIDEO] [--lag-s SECONDS] [--lag-split] [--variants]

``--lag-split`` also runs with ``lag_split=True`` (lagged windows cut at face-level pauses; measured, off by
default). ``--variants`` runs the clip mirrored, at half size and at half the frame rate (x264 crf 18, temporary
folder) with both ``after_open`` settings (and ``lag_split=True`` with ``--lag-split``); half-rate frame numbers
are the half-rate clip's own (× 2 for the original's).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

SHARED = Path(os.environ.get("MICROEXP_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def run(video: Path, **overrides) -> None:
    import microexp.spotting.offd_stream as stream
    from microexp.pipeline import IntervalReader
    from microexp.spotting.api import spot_video

    seen = []
    analyse = stream.analyse_window

    def logged(signals, groups, cfg, rate):  # record each window's spans (window-relative)
        out = analyse(signals, groups, cfg, rate)
        seen.append(out[0])
        return out

    stream.analyse_window = logged
    try:
        reader = IntervalReader(None)
        spot = spot_video(video, keep_frames=True, keep=reader.keep(), **overrides)
    finally:
        stream.analyse_window = analyse
    if [e.interval for e in reader.expressions] != spot.intervals:
        reader.read_all(spot, video, None)
    res = spot.offd
    idx = res.proc_index
    print(f"\n### {video.name}, {overrides}\n\n| window (first frame) | reference | window-level spans |\n|---|---|---|")
    for (s0, n), spans in zip(res.windows, seen, strict=True):
        mode = "lag" if s0 in res.lagged else "first frame"
        print(f"| {idx[s0]}–{idx[min(s0 + n - 1, idx.size - 1)]} | {mode} | "
              + ", ".join(f"{idx[s0 + a]}–{idx[s0 + b]}" for a, b in spans) + " |")
    print("\n| onset | apex | offset | type | open | reading |\n|---|---|---|---|---|---|")
    for e in reader.expressions:
        iv = e.interval
        probs = ", ".join(f"{k} {v:.2f}" for k, v in sorted(e.probabilities.items(), key=lambda kv: -kv[1]))
        print(f"| {iv.onset} | {iv.apex} | {iv.offset} | {iv.kind} | {'open' if iv.open else ''} | "
              f"**{e.emotion} {e.confidence:.2f}** ({probs}) |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", default=str(SHARED / "video" / "WolfgangLanger_Pexels.mp4"))
    ap.add_argument("--lag-s", type=float, default=None, help="also run with this lag (a sensitivity check)")
    ap.add_argument("--lag-split", action="store_true", help="also with lag_split=True")
    ap.add_argument("--variants", action="store_true", help="also mirrored, half size, half frame rate")
    args = ap.parse_args()
    video = Path(args.video)
    settings = [{"after_open": "window_first"}, {"after_open": "lag"}]
    if args.lag_split:
        settings.append({"after_open": "lag", "lag_split": True})
    for s in settings:
        run(video, **s)
    if args.lag_s is not None:
        run(video, after_open="lag", lag_s=args.lag_s)
    if args.variants:
        variants(video, settings)


def variants(video: Path, settings: list[dict]) -> None:
    import tempfile

    import cv2
    import numpy as np

    from microexp.io.video import VideoSource, write_video

    src = VideoSource(video)
    frames = [f.image for f in src.frames()]
    fps = src.info.fps
    made = {
        "mirrored": ([np.ascontiguousarray(f[:, ::-1]) for f in frames], fps),
        "half-size": ([cv2.resize(f, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA) for f in frames], fps),
        "half-rate": (frames[::2], fps / 2),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (imgs, rate) in made.items():
            path = write_video(Path(tmp) / f"{video.stem}_{name}.mp4", imgs, rate)
            for s in settings:
                run(path, **s)


if __name__ == "__main__":
    main()
