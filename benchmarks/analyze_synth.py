"""Spot-then-recognise on a synthetic suite: spotting F1, analysis F1 and STRS next to published STRS.

    python benchmarks/analyze_synth.py [--videos 6] [--seconds 40] [--preset casme_sq] [--dir DIR] [--markdown]

Generates (or reuses) a labelled suite with `microexp.synth.write_suite`, runs `microexp.analyze` on every
video with the defaults (training-free spotter + shipped recogniser) and scores the result with the STRS
scorer (ME only, as MEAN reports it, and all expressions). The published numbers are real-data results
(CAS(ME)^2 / SAMM-LV, `../shared/specs/sota.md` §1.3); ours are on synthetic video: the comparison shows
scale, not rank.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

PUBLISHED = [("MEAN (SPIC 2023)", "CAS(ME)^2", "me", 0.1214, 0.6667, 0.0809),
             ("MEAN (SPIC 2023)", "SAMM-LV", "me", 0.0949, 0.5263, 0.0499)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--preset", default="casme_sq")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=None, help="suite folder (generated when empty)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    from microexp.eval.strs import evaluate_strs
    from microexp.pipeline import analyze
    from microexp.report.write import intervals_table
    from microexp.synth import write_suite

    root = args.dir or Path(tempfile.mkdtemp(prefix="microexp_strs_"))
    index_csv = root / "index.csv"
    if index_csv.exists():
        gt = pd.read_csv(index_csv)
    else:
        gt = write_suite(root, n_videos=args.videos, preset=args.preset, seed=args.seed, seconds=args.seconds)
    videos = sorted(gt["video"].unique())
    preds, t0, frames = [], time.perf_counter(), 0
    for v in videos:
        path = next(p for p in root.rglob(f"{v}.*") if p.suffix.lower() in (".mp4", ".avi", ".mov"))
        res = analyze(path)
        frames += res.n_frames
        preds.append(intervals_table(res, v))
    wall = time.perf_counter() - t0
    pred = pd.concat(preds, ignore_index=True)
    rows = []
    for kind in ("me", None):
        rep = evaluate_strs(gt, pred, kind=kind)
        t = rep.spotting.table.loc["overall"]
        rows.append({"method": "microexp analyze (OF-FD + default recogniser)", "data": f"synth {args.preset}",
                     "types": kind or "all", "spot_f1": rep.spotting_f1, "tp": int(t.tp), "fp": int(t.fp),
                     "fn": int(t.fn), "analysis_f1": rep.analysis_f1, "strs": rep.strs})
    for m, d, k, sf, af, s in PUBLISHED:
        rows.append({"method": m, "data": d + " (real)", "types": k, "spot_f1": sf, "tp": None, "fp": None,
                     "fn": None, "analysis_f1": af, "strs": s})
    df = pd.DataFrame(rows)
    print(df.to_markdown(index=False, floatfmt=".4f") if args.markdown else df.to_string(index=False))
    print(f"\n{len(videos)} videos, {frames} frames, analyze wall time {wall:.1f} s "
          f"({frames / wall:.1f} frames/s), suite in {root}")


if __name__ == "__main__":
    main()
