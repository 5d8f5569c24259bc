"""Peak memory of `microexp analyze` against video length and resolution: it must stay flat.

    python benchmarks/memory_long.py [--minutes 0.5 2] [--fps 200] [--k4-seconds 10] [--tile 2] [--dir DIR] [--write]

For each length, writes a synthetic SAMM-LV-like clip (200 fps, 480x360; reused when present; a length above
``--tile`` minutes that is a multiple of it is the ``--tile``-minute clip repeated, packets copied, as rendering
120,000 frames takes most of an hour on two cores) and one 10-second 3840x2160 30 fps clip, runs `analyze`
(and writes its outputs) on each in a fresh subprocess and prints that process's own peak resident memory
(ru_maxrss; the process first applies ``tame_heap()``, as the CLI does), the largest size of OF-FD's window
file (frames beyond ``FRAME_RAM_BYTES`` wait there), wall time and expressions found. The growth with length is
the least-squares slope of peak RSS over minutes of video (MB per minute). Goal: peak RSS under 700 MB for a
10-minute 200 fps clip and for a 10 s 4K clip. ``--write`` saves the table to benchmarks/results/memory.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHILD = ("import resource, sys, time; from microexp.cli.common import tame_heap; "
         "from microexp.pipeline import analyze; from microexp.report.write import write_analysis; "
         "tame_heap() if sys.argv[3] == '1' else None; t = time.perf_counter(); "
         "r = analyze(sys.argv[1]); write_analysis(r, sys.argv[2]); "
         "print(r.n_frames, len(r.expressions), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "
         "time.perf_counter() - t, r.spot.info.width, r.spot.info.height, r.spot.info.scale, "
         "getattr(r.spot.offd, 'window_disk_peak', 0) / 2 ** 20)")


def make_clip(path: Path, preset_name: str, **changes) -> float:
    from microexp.synth import write_clip
    from microexp.synth.config import preset

    if path.exists():
        return float("nan")
    t = time.perf_counter()
    write_clip(path, preset(preset_name, seed=1, **changes))
    return time.perf_counter() - t


def tile_clip(path: Path, base: Path, times: int) -> float:
    """``base`` played ``times`` times in a row (packets copied, timestamps shifted): a long clip in seconds."""
    import av

    if path.exists():
        return float("nan")
    t = time.perf_counter()
    tmp = path.with_name(path.stem + ".part" + path.suffix)
    with av.open(str(base)) as inp, av.open(str(tmp), "w", format="mp4") as out:
        s = inp.streams.video[0]
        o = out.add_stream_from_template(s)
        packets = [p for p in inp.demux(s) if p.dts is not None]
        step = max(p.pts for p in packets) - min(p.pts for p in packets) + packets[0].duration
        for k in range(times):
            for p in packets:
                q = av.Packet(bytes(p))
                q.pts, q.dts, q.duration, q.is_keyframe = p.pts + k * step, p.dts + k * step, p.duration, p.is_keyframe
                q.time_base, q.stream = p.time_base, o
                out.mux(q)
    tmp.replace(path)
    return time.perf_counter() - t


def run(video: Path, out: Path, heap: bool = True) -> dict:
    """Analyse in a fresh process, with the heap setting the CLI applies at start (``tame_heap``)."""
    proc = subprocess.run([sys.executable, "-c", CHILD, str(video), str(out), "1" if heap else "0"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    frames, n_expr, peak, wall, w, h, scale, disk = proc.stdout.split()
    return {"frames": int(frames), "expr": int(n_expr), "peak_mb": float(peak), "wall_s": float(wall),
            "size": f"{w}x{h}", "scale": float(scale), "disk_mb": float(disk)}


def slope(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    if n < 2:
        return float("nan")
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[0.5, 2.0])
    ap.add_argument("--fps", type=float, default=200.0)
    ap.add_argument("--k4-seconds", type=float, default=10.0, help="length of the 3840x2160 clip (0: skip)")
    ap.add_argument("--tile", type=float, default=2.0,
                    help="longer clips repeat the clip of this many minutes (packets copied; 0: render every length)")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/memory.md")
    args = ap.parse_args()

    root = args.dir or Path(tempfile.mkdtemp(prefix="microexp_mem_"))
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for minutes in args.minutes:
        video = root / f"long_{minutes:g}min_{args.fps:g}fps.mp4"
        if args.tile and minutes > args.tile and float(minutes / args.tile).is_integer():
            base = root / f"long_{args.tile:g}min_{args.fps:g}fps.mp4"
            make_clip(base, "samm_lv", seconds=60 * args.tile, fps=args.fps)
            gen = tile_clip(video, base, int(minutes / args.tile))
        else:
            gen = make_clip(video, "samm_lv", seconds=60 * minutes, fps=args.fps)
        r = run(video, root / f"out_{minutes:g}")
        rows.append({"clip": f"{minutes:g} min, {args.fps:g} fps", "minutes": minutes, "synth_s": gen, **r})
    if args.k4_seconds > 0:
        video = root / f"k4_{args.k4_seconds:g}s.mp4"
        gen = make_clip(video, "casme_sq", seconds=args.k4_seconds, fps=30.0, width=3840, height=2160,
                        face_px=1000)
        r = run(video, root / "out_k4")
        rows.append({"clip": f"{args.k4_seconds:g} s, 30 fps", "minutes": args.k4_seconds / 60, "synth_s": gen, **r})

    rows.sort(key=lambda r: (not r["clip"].endswith(f"{args.fps:g} fps"), r["minutes"]))  # by length, 4K last
    long_rows = [r for r in rows if r["clip"].endswith(f"{args.fps:g} fps")]
    per_min = slope([r["minutes"] for r in long_rows], [r["peak_mb"] for r in long_rows])
    at10 = (long_rows[-1]["peak_mb"] + per_min * (10 - long_rows[-1]["minutes"])) if long_rows else float("nan")
    lines = [f"{'clip':>16s} {'size':>10s} {'scale':>6s} {'frames':>7s} {'expr':>5s} {'peak RSS (MB)':>14s} "
             f"{'window on disk (MB)':>20s} {'analyze (s)':>12s}"]
    for r in rows:
        lines.append(f"{r['clip']:>16s} {r['size']:>10s} {r['scale']:6.3f} {r['frames']:7d} {r['expr']:5d} "
                     f"{r['peak_mb']:14.0f} {r['disk_mb']:20.0f} {r['wall_s']:12.1f}")
    ten = [r["peak_mb"] for r in long_rows if r["minutes"] == 10]
    lines.append(f"growth with length: {per_min:.1f} MB per minute of {args.fps:g} fps video "
                 f"(least squares over the {len(long_rows)} lengths); 10 min "
                 + (f"measured: {ten[0]:.0f} MB" if ten else f"extrapolated: {at10:.0f} MB"))
    print("\n".join(lines))
    if args.write:
        cmd = "python benchmarks/memory_long.py " + " ".join(sys.argv[1:])
        text = ["# Peak memory of `analyze` against video length and resolution", "",
                f"Output of `{cmd}` (synthetic clips: SAMM-LV-like 480x360 at {args.fps:g} fps, and a 3840x2160 "
                "30 fps clip), each analysed in a fresh process that applies the CLI's heap setting (`tame_heap`) and "
                "reports its own peak RSS (`ru_maxrss`). OF-FD's window holds at most 32 MB of frames in memory "
                "(`FRAME_RAM_BYTES`), the rest in a temporary file (page cache, not counted in RSS): 'window on "
                "disk' is that file's largest size. "
                "Measured on the shared 2-core development machine under load from other jobs, so wall times "
                "are not throughput figures. Goal: under 700 MB for a 10-minute 200 fps clip and a 10 s 4K clip.",
                "", "```", *lines, "```", ""]
        out = REPO / "benchmarks" / "results" / "memory.md"
        out.write_text("\n".join(text), encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
