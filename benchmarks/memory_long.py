"""Peak memory of `microexp analyze` against video length: it must stay flat (streamed decoding).

    python benchmarks/memory_long.py [--minutes 1 10] [--fps 200] [--dir DIR]

For each length, writes a synthetic SAMM-LV-like clip (200 fps, 480x360; reused when present), runs
`microexp analyze` on it in a fresh subprocess and prints the child's peak resident memory (ru_maxrss) and
wall time. Goal: a 10-minute 200 fps clip needs no more than 2 GB.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--fps", type=float, default=200.0)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()

    from microexp.synth import write_clip
    from microexp.synth.config import preset

    root = args.dir or Path(tempfile.mkdtemp(prefix="microexp_mem_"))
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for minutes in args.minutes:
        video = root / f"long_{minutes:g}min_{args.fps:g}fps.mp4"
        if not video.exists():
            t = time.perf_counter()
            write_clip(video, preset("samm_lv", seconds=60 * minutes, fps=args.fps, seed=1))
            gen = time.perf_counter() - t
        else:
            gen = float("nan")
        out = root / f"out_{minutes:g}"
        code = ("import resource, sys; from microexp.pipeline import analyze; "
                "from microexp.report.write import write_analysis; "
                f"r = analyze({str(video)!r}); write_analysis(r, {str(out)!r}); "
                "print(r.n_frames, len(r.expressions))")
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-2000:])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # max over children so far
        frames, n_expr = proc.stdout.split()
        rows.append((minutes, int(frames), int(n_expr), peak_mb, wall, gen))
    print(f"{'minutes':>7s} {'frames':>8s} {'expr':>5s} {'peak RSS (MB)':>14s} {'analyze (s)':>12s} {'synth (s)':>10s}")
    for m, f, e, mb, w, g in rows:
        print(f"{m:7g} {f:8d} {e:5d} {mb:14.0f} {w:12.1f} {g:10.1f}")
    print("(peak RSS is the largest child so far: rows are in increasing length, so each row bounds that run)")


if __name__ == "__main__":
    main()
