"""Throughput of each stage of `spot` (and `analyze`) on one video, on this machine.

    python benchmarks/spot_throughput.py VIDEO [--json] [--repeat N]

Columns: decode-only fps (PyAV, grey), face fps (dlib HOG + 68 landmarks on every frame, the cost that
OF-FD avoids by detecting once per window), flow fps (OF-FD's per-frame ROI flows against a reference),
end-to-end `spot` fps (Farneback, paper-faithful), `spot --flow dis` fps, and `analyze` fps (spot + recognition + report data) when available.
With --json the last line is one JSON object with decode_fps, face_fps, flow_fps, spot_fps (and analyze_fps).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def _best(fn, repeat):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--face-frames", type=int, default=60, help="frames timed for the per-frame face column")
    args = ap.parse_args()

    from microexp.face import LandmarkDetector
    from microexp.io.video import VideoSource
    from microexp.spotting.api import spot_video
    from microexp.spotting.offd import OFFDConfig, WindowTracker

    src = VideoSource(args.video)
    frames = [f.image for f in src.frames(gray=True)]
    n = len(frames)
    t_dec, _ = _best(lambda: sum(1 for _ in VideoSource(args.video).frames(gray=True)), args.repeat)

    det = LandmarkDetector()
    sub = frames[: args.face_frames]
    t_face, _ = _best(lambda: [det.find(f) for f in sub], 1)

    tracker = WindowTracker(OFFDConfig(), det)
    track = tracker.start(frames[0])
    sub2 = frames[1: 1 + min(n - 1, 150)]
    t_flow, _ = _best(lambda: [tracker.measure(track, f) for f in sub2], args.repeat)

    spot_video(args.video)  # warm-up (imports, model load)
    t_spot, _ = _best(lambda: spot_video(args.video), args.repeat)

    t_fast, _ = _best(lambda: spot_video(args.video, flow_method="dis"), args.repeat)

    row = {"video": os.path.basename(args.video), "frames": n, "size": f"{src.info.width}x{src.info.height}",
           "decode_fps": n / t_dec, "face_fps": len(sub) / t_face, "flow_fps": len(sub2) / t_flow,
           "spot_fps": n / t_spot, "spot_dis_fps": n / t_fast}
    try:
        from microexp.pipeline import analyze

        analyze(args.video)
        t_an, _ = _best(lambda: analyze(args.video), args.repeat)
        row["analyze_fps"] = n / t_an
    except ImportError:
        pass
    row["spot_over_decode"] = row["spot_fps"] / row["decode_fps"]
    cols = [k for k in row if k.endswith("fps")] + ["spot_over_decode"]
    print(f"{'video':28s} {'frames':>6s} {'size':>9s} " + " ".join(f"{c:>12s}" for c in cols))
    print(f"{row['video']:28s} {n:6d} {row['size']:>9s} " + " ".join(f"{row[c]:12.1f}" if c != "spot_over_decode"
                                                                     else f"{row[c]:12.2f}" for c in cols))
    print(f"(cores: {os.cpu_count()}, best of {args.repeat}; numpy {np.__version__})")
    if args.json:
        print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}))


if __name__ == "__main__":
    main()
