"""Throughput of each stage of `spot` (and `analyze`) on one video, on this machine.

    python benchmarks/spot_throughput.py VIDEO [--json] [--repeat N]

Columns: decode-only fps (PyAV, grey), face fps (dlib HOG + 68 landmarks on every frame, the cost that
OF-FD avoids by detecting once per window), flow fps (OF-FD's per-frame ROI flows against a reference),
end-to-end `spot` fps (Farneback, paper-faithful), `spot --flow dis` fps, and `analyze` fps (spot + recognition + report data) when available.
With --json the last line is one JSON object with decode_fps, face_fps, flow_fps, spot_fps (and analyze_fps).

It also times what a person waits for, each in a fresh process (start-up included): ``decode_s`` (decode-only),
``cli_spot_s`` (``microexp spot VIDEO -o TMP``) and ``cli_analyze_s`` (``microexp analyze VIDEO -o TMP``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
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


DECODE_ONLY = ("import sys; from microexp.io.video import VideoSource; "
               "sum(1 for _ in VideoSource(sys.argv[1]).frames(gray=True))")


def _fresh(cmd: list[str], repeat: int) -> float:
    """Best wall time of a command in a fresh process (what a person waits for, start-up included)."""
    best = float("inf")
    for _ in range(repeat):
        out = tempfile.mkdtemp(prefix="microexp_bench_")
        try:
            t = time.perf_counter()
            subprocess.run([c.replace("{out}", out) for c in cmd], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - t)
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return best


def _cli() -> list[str]:
    exe = shutil.which("microexp", path=os.path.dirname(sys.executable)) or shutil.which("microexp")
    return [exe] if exe else [sys.executable, "-c", "from microexp.cli.main import app; app()"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--face-frames", type=int, default=60, help="frames timed for the per-frame face column")
    ap.add_argument("--markdown", default=None, help="also write the row as a markdown table to this file")
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
    row["decode_s"] = _fresh([sys.executable, "-c", DECODE_ONLY, args.video], args.repeat)
    row["cli_spot_s"] = _fresh(_cli() + ["spot", args.video, "-o", "{out}"], args.repeat)
    row["cli_analyze_s"] = _fresh(_cli() + ["analyze", args.video, "-o", "{out}"], args.repeat)
    row["cli_spot_goal_s"] = 2 * row["decode_s"] + 1.0
    row["cli_analyze_goal_s"] = 1.5 * row["cli_spot_s"]
    row["load_avg_1min"] = os.getloadavg()[0]
    cols = [k for k in row if k.endswith("fps")] + ["spot_over_decode"]
    print(f"{'video':28s} {'frames':>6s} {'size':>9s} " + " ".join(f"{c:>12s}" for c in cols))
    print(f"{row['video']:28s} {n:6d} {row['size']:>9s} " + " ".join(f"{row[c]:12.1f}" if c != "spot_over_decode"
                                                                     else f"{row[c]:12.2f}" for c in cols))
    print(f"(cores: {os.cpu_count()}, best of {args.repeat}; numpy {np.__version__})")
    print(f"fresh process: decode {row['decode_s']:.2f} s, microexp spot {row['cli_spot_s']:.2f} s "
          f"(goal <= {row['cli_spot_goal_s']:.2f}), microexp analyze {row['cli_analyze_s']:.2f} s "
          f"(goal <= {row['cli_analyze_goal_s']:.2f})")
    if args.markdown:
        import platform

        keys = ["video", "frames", "size"] + cols + ["decode_s", "cli_spot_s", "cli_analyze_s", "load_avg_1min"]
        lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
                 "| " + " | ".join((f"{row[k]:.2f}" if k == "spot_over_decode" or k.endswith("_s") else f"{row[k]:.1f}")
                                  if isinstance(row[k], float) else str(row[k]) for k in keys) + " |",
                 "", f"Generated by `python benchmarks/spot_throughput.py {args.video} --markdown {args.markdown}` "
                 f"on {os.cpu_count()} cores ({platform.processor() or platform.machine()}), best of {args.repeat}; "
                 "`load_avg_1min` is the machine's load when the run ended (other jobs slow every column alike)."]
        with open(args.markdown, "w") as fh:
            fh.write("\n".join(lines) + "\n")
    if args.json:
        print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}))


if __name__ == "__main__":
    main()
