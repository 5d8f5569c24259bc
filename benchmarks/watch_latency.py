"""Latency and throughput of `microexp watch` per source kind, and whether it gives `spot`'s intervals.

    python benchmarks/watch_latency.py [VIDEO ...] [--synth-seconds 12] [--kinds file,realtime,pipe,http]
        [--markdown benchmarks/results/watch_latency.md] [--plot benchmarks/results/watch_latency.png]

Default videos: the real clips in ../shared/video plus one synthetic clip made with `microexp.synth` (it
has expressions in mid-stream, so its latencies are not all "at the end of the clip"). Source kinds:
`file` (read as fast as possible), `realtime` (the file played at its own pace, like a camera), `pipe`
(Matroska bytes through a `cat` subprocess's stdout) and `http` (the same bytes served by http.server on
127.0.0.1). Pipe and HTTP carry a Matroska remux (an MP4 whose index is at its end cannot be streamed),
so they are compared with `spot` on that remux. Latency is `emitted_s − offset_s`: for `file`, `pipe` and
`http`, stream time of the newest frame read when the interval was reported; for `realtime`, wall-clock
time since the first frame. The bound is one OF-FD analysis window (≈6.7 s) plus processing.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SHARED = Path(os.environ.get("MICROEXP_SHARED", Path(__file__).resolve().parents[2] / "shared"))
KINDS = ("file", "realtime", "pipe", "http")


def remux_mkv(src: Path, dst: Path) -> Path:
    from microexp.io.video import remux

    return remux(src, dst, "matroska")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def run_one(kind: str, video: Path, mkv: Path, server_url: str | None) -> dict:
    """Watch one source to its end; returns detections, wall time, frames and drops."""
    from microexp.io.live import LiveSource
    from microexp.spotting.watch import watch_detections

    feeder = None
    if kind == "file":
        src = LiveSource(video)
    elif kind == "realtime":
        src = LiveSource(video, realtime=True)
    elif kind == "pipe":
        feeder = subprocess.Popen(["cat", str(mkv)], stdout=subprocess.PIPE)
        src = LiveSource(feeder.stdout)
    else:
        src = LiveSource(f"{server_url}/{mkv.name}", drop=False)  # a recorded file: nothing is late
    t0 = time.perf_counter()
    try:
        dets = list(watch_detections(src))
    finally:
        if feeder is not None:
            feeder.stdout.close()
            feeder.wait(10)
    return {"dets": dets, "wall": time.perf_counter() - t0, "frames": src.stats.read,
            "dropped": src.stats.dropped, "state": src.stats.state}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="*", type=Path)
    ap.add_argument("--synth-seconds", type=float, default=12.0, help="0: no synthetic clip")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--markdown", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None)
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    bad = set(kinds) - set(KINDS)
    if bad:
        ap.error(f"unknown kinds {sorted(bad)}; choose from {KINDS}")

    from rich.progress import Progress

    from microexp.spotting.api import spot_video
    from microexp.spotting.offd import OFFDConfig

    bound = OFFDConfig().window_s
    videos = list(args.videos) or sorted(p for p in (SHARED / "video").iterdir() if p.suffix in (".mp4", ".mov"))
    tmp = Path(tempfile.mkdtemp(prefix="watch_latency_"))
    if args.synth_seconds > 0:
        from microexp.synth.generate import demo_config, write_clip

        synth = tmp / "synthetic.mp4"
        write_clip(synth, demo_config(args.synth_seconds, seed=0))
        videos.append(synth)
    mkvs = {v: remux_mkv(v, tmp / f"{v.stem}.mkv") for v in videos}
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    spot_cache: dict[Path, list] = {}

    def spotted(p: Path) -> list:
        if p not in spot_cache:
            spot_cache[p] = spot_video(p).intervals
        return spot_cache[p]

    rows, points = [], []
    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("watch", total=len(videos) * len(kinds))
            for v in videos:
                for kind in kinds:
                    bar.update(task, description=f"{v.name} ({kind})")
                    r = run_one(kind, v, mkvs[v], url)
                    ref = spotted(mkvs[v] if kind in ("pipe", "http") else v)
                    lat = [d.latency_s for d in r["dets"]]
                    points += [(kind, d.offset_s, d.latency_s) for d in r["dets"]]
                    rows.append({
                        "video": "synthetic" if v.parent == tmp else v.name, "source": kind,
                        "frames": r["frames"], "dropped": r["dropped"], "wall_s": r["wall"],
                        "fps": r["frames"] / r["wall"], "intervals": len(r["dets"]),
                        "same_as_spot": [d.interval for d in r["dets"]] == ref,
                        "max_latency_s": max(lat) if lat else float("nan"),
                        "mean_latency_s": sum(lat) / len(lat) if lat else float("nan"),
                        "within_bound": all(x <= bound + 0.5 for x in lat)})
                    bar.advance(task)
    finally:
        server.shutdown()

    head = ["video", "source", "frames", "dropped", "wall_s", "fps", "intervals", "same_as_spot",
            "mean_latency_s", "max_latency_s", "within_bound"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[h]:.2f}" if isinstance(r[h], float) else str(r[h]) for h in head) + " |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    note = (f"\nGenerated by `python benchmarks/watch_latency.py{' --markdown ' + str(args.markdown) if args.markdown else ''}"
            f"{' --plot ' + str(args.plot) if args.plot else ''}` on {os.cpu_count()} cores (1-min load average "
            f"{load:.1f} at the end; other jobs slow `fps` and, for `realtime`, latency). Latency = `emitted_s − "
            f"offset_s`; bound = one analysis window ({bound:.2f} s) + 0.5 s. `same_as_spot`: the intervals "
            "equal `spot`'s on the same bytes (pipe and http carry a Matroska remux of the clip).\n")
    text = "\n".join(lines) + "\n" + note
    print(text)
    if args.markdown:
        from microexp.io.atomic import write_text

        write_text(args.markdown, text)
    if args.plot and points:
        _plot(args.plot, points, bound)


def _plot(path: Path, points: list, bound: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from microexp.io.atomic import write_with

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, kind in enumerate(KINDS):
        pts = [(o, lat) for k, o, lat in points if k == kind]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], label=kind, s=22, alpha=0.8,
                       marker="o^sD"[i])
    ax.axhline(bound, color="k", ls="--", lw=1, label=f"one window ({bound:.2f} s)")
    ax.set_xlabel("interval offset (s into the clip)")
    ax.set_ylabel("emitted_s − offset_s (s)")
    ax.set_title("microexp watch: delay from an expression's end to its report")
    ax.legend(fontsize=8)
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


if __name__ == "__main__":
    main()
