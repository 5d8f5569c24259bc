"""Spotting sensitivity: recall against expression amplitude, on real and synthetic face clips.

Real expression motion (a real onset->apex pair's flow, ``microexp.synth.plant``) is planted at controlled
amplitudes (% of the inter-ocular distance, IOD) into every face clip of ``../shared/video`` and into synthetic
clips that hold no labelled expression (distractors on). Each spotter that runs without training (every OF-FD
preset; learned spotters only with ``--weights NAME=PATH``) is run on every planted clip and on the same clips
without plants. Reported per spotter and kind (ME, MaE):

- recall at IoU >= 0.5 against amplitude (a hit is any detected interval, of either type, with IoU >= 0.5 with
  the plant; ``typed`` recall also requires the right ME/MaE type),
- A50: the amplitude at which recall first reaches 50 % (linear in log amplitude between grid points;
  ``null`` in JSON when no grid amplitude reaches it),
- false positives per minute of face video on the clips without plants.

    python benchmarks/spotting_sensitivity.py --grid quick --spotters default        # while developing
    python benchmarks/spotting_sensitivity.py --grid real --jobs 1 --record          # the real ME range only
    python benchmarks/spotting_sensitivity.py --jobs 2 --record                      # full grid, writes results

Planted clips are written under --workdir (default ~/.cache/microexp/spotting_sensitivity, never in the repo).
With ``--record``: benchmarks/results/spotting_sensitivity.{md,json,png}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MICROEXP_SHARED", REPO.parent / "shared"))
MOTION = SHARED / "realdata" / "christy1206__biwoof" / "sub11_EP15_04f.gif"  # CASME II real ME pair
RESULTS = REPO / "benchmarks" / "results" / "spotting_sensitivity"
GRIDS = {  # amplitudes in % IOD; the real MEs measured 0.9-4.3 (docs/synth.md)
    "full": {"me": [0.7, 1.5, 3.0, 4.5, 7.0, 10.0], "mae": [2.0, 4.0, 8.0, 16.0]},
    "quick": {"me": [1.0, 3.0, 10.0], "mae": [2.0, 8.0]},
    "real": {"me": [2.0, 3.0, 4.5], "mae": [4.0, 8.0]},  # the measured real ME range and just above it
}
DURATION_S = {"me": 0.40, "mae": 1.10}  # near the real CAS(ME)^2 medians (0.43 s, 1.17 s)
GAP_S = {"me": 1.5, "mae": 2.0}
APEX_FRACTION = {"me": 0.45, "mae": 0.40}  # real CAS(ME)^2 ME 0.44, MaE 0.38
SYNTH_BACKGROUNDS = 1  # synthetic clips, 20 s each, no labelled expressions, default distractors
SYNTH_SECONDS = 20.0
# Every real clip in ../shared/video shows a posed expression for most of its length (docs/spotting.md), so a
# plant there lands on the actor's own expression, 3-5x larger than a real ME. A real face without one: the
# neutral opening frames of single_face.mp4 (0-15; the lip corners start to rise at 17, docs/spotting.md),
# played forward and backward to NEUTRAL_SECONDS (real face, real sensor noise and compression, real sway).
NEUTRAL_SOURCE, NEUTRAL_FRAMES, NEUTRAL_SECONDS = "single_face.mp4", 16, 12.0
SOURCES = ("real", "real_neutral", "synthetic")


def real_clips() -> list[Path]:
    folder = SHARED / "video"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".mp4", ".mov"))


def _spot(video: Path, spotter: str, weights: dict[str, str]):
    """Intervals and the per-frame face mask, from the training-free spotter or a learned one."""
    from microexp.spotting.api import spot_video

    if spotter in weights:  # crops go to $MICROEXP_CACHE (main() points it into --workdir)
        res = spot_video(video, spotter=spotter, weights=weights[spotter])
        return res.intervals, res.face_mask()
    res = spot_video(video, preset=spotter)
    return res.intervals, res.face_mask()


def make_background(job) -> dict:
    """Re-encode a real clip at its average frame rate (VFR files become CFR), or write a synthetic clip."""
    import cv2

    cv2.setNumThreads(1)
    kind, src, out = job
    out = Path(out)
    if kind == "neutral":
        from microexp.io.video import VideoSource, write_video

        source = VideoSource(src)
        head = [fr.image for _, fr in zip(range(NEUTRAL_FRAMES), source.frames())]
        cycle = head + head[-2:0:-1]  # forward, then backward without repeating the end frames
        fps = source.info.fps
        n = int(round(NEUTRAL_SECONDS * fps))
        if not out.is_file():
            write_video(out, (cycle[i % len(cycle)] for i in range(n)), fps, crf=18)
        return {"name": out.stem, "path": str(out), "source": "real_neutral", "fps": fps}
    if kind == "synth":
        from microexp.synth import preset, write_clip

        seed = int(src)
        cfg = preset("casme_sq", seconds=SYNTH_SECONDS, seed=100 + seed, me_per_min=0.0, mae_per_min=0.0,
                     min_me=0, min_mae=0)
        if not out.is_file():
            write_clip(out, cfg)
        return {"name": out.stem, "path": str(out), "source": "synthetic", "fps": cfg.fps}
    from microexp.io.video import VideoSource
    from microexp.synth.plant import plant_video

    info = VideoSource(src).info
    n = sum(1 for _ in VideoSource(src).frames(gray=True))
    dur = info.duration or n / info.fps
    fps = round(n / dur, 3) if dur else info.fps
    if not out.is_file():
        plant_video(src, out, [], MOTION, fps=fps)
    return {"name": out.stem, "path": str(out), "source": "real", "fps": fps}


def run_background(job) -> dict:
    """The unplanted clip: its detections (false positives) and face mask, per spotter."""
    import cv2

    cv2.setNumThreads(1)
    bg, spotters, weights = job
    out = {"name": bg["name"], "spotters": {}}
    for s in spotters:
        try:
            ivs, face = _spot(Path(bg["path"]), s, weights)
        except Exception as err:  # a clip without any face: no plants, no false positives
            out["spotters"][s] = {"error": f"{type(err).__name__}: {err}"}
            continue
        out["spotters"][s] = {"n_det": len(ivs), "face_frames": int(face.sum()) if face is not None else None,
                              "intervals": [(iv.onset, iv.offset, iv.kind) for iv in ivs]}
        if face is not None and "face" not in out:
            out["face"] = face.tolist()
    return out


def run_planted(job) -> dict:
    """Plant one kind at one amplitude into one background, spot with every spotter, score each plant."""
    import cv2

    cv2.setNumThreads(1)
    from microexp.eval.spotting import iou_matrix
    from microexp.synth.plant import even_plants, plant_video

    bg, face, kind, amp, spotters, weights, workdir = job
    face = np.asarray(face, bool)
    plants = even_plants(len(face), bg["fps"], kind, amp, DURATION_S[kind], APEX_FRACTION[kind], GAP_S[kind],
                         face=face)
    res = {"clip": bg["name"], "source": bg["source"], "kind": kind, "amplitude": amp, "n_plants": len(plants),
           "spotters": {}}
    if not plants:
        return res
    out = Path(workdir) / f"{bg['name']}_{kind}_{amp:g}.mp4"
    if not _planted_already(out, plants):
        plant_video(bg["path"], out, plants, MOTION, fps=bg["fps"])
    g_on, g_off = [p.onset for p in plants], [p.offset for p in plants]
    for s in spotters:
        ivs, _ = _spot(out, s, weights)
        if ivs:
            iou = iou_matrix([i.onset for i in ivs], [i.offset for i in ivs], g_on, g_off)
            hit = (iou >= 0.5).any(0)
            typed = ((iou >= 0.5) & np.array([[i.kind == kind] for i in ivs])).any(0)
        else:
            hit = typed = np.zeros(len(plants), bool)
        res["spotters"][s] = {"hits": int(hit.sum()), "typed_hits": int(typed.sum()), "n_det": len(ivs)}
    return res


def _planted_already(video: Path, plants) -> bool:
    """A rerun reuses a planted clip whose sidecar lists exactly these plants."""
    from dataclasses import asdict

    meta = video.with_suffix(".json")
    if not (video.is_file() and meta.is_file()):
        return False
    try:
        return json.loads(meta.read_text()).get("plants") == [asdict(p) for p in plants]
    except (OSError, ValueError):
        return False


def a50(amps: list[float], recall: list[float]) -> float | None:
    """First amplitude where recall reaches 0.5, interpolated linearly in log amplitude; None if never."""
    for i, r in enumerate(recall):
        if r >= 0.5:
            if i == 0:
                return amps[0]
            a0, a1, r0 = math.log(amps[i - 1]), math.log(amps[i]), recall[i - 1]
            return float(math.exp(a0 + (0.5 - r0) / (r - r0) * (a1 - a0)))
    return None


def summarise(backgrounds: list[dict], bg_runs: list[dict], planted: list[dict], spotters: list[str],
              grid: dict) -> dict:
    out = {}
    fps = {b["name"]: b["fps"] for b in backgrounds}
    for s in spotters:
        entry: dict = {"curves": {}}
        for kind in ("me", "mae"):
            curve = []
            for amp in grid[kind]:
                rows = [r for r in planted if r["kind"] == kind and r["amplitude"] == amp and s in r["spotters"]]
                n = sum(r["n_plants"] for r in rows)
                hits = sum(r["spotters"][s]["hits"] for r in rows)
                typed = sum(r["spotters"][s]["typed_hits"] for r in rows)
                per_source = {src: [sum(r["spotters"][s]["hits"] for r in rows if r["source"] == src),
                                    sum(r["n_plants"] for r in rows if r["source"] == src)] for src in SOURCES}
                curve.append({"amplitude": amp, "n": n, "recall": hits / n if n else None,
                              "typed_recall": typed / n if n else None, "hits_by_source": per_source})
            entry["curves"][kind] = curve
            entry[f"a50_{kind}"] = a50([c["amplitude"] for c in curve], [c["recall"] or 0.0 for c in curve])
        det = minutes = 0.0
        per_clip = {}
        for b in bg_runs:
            r = b["spotters"].get(s, {})
            if "n_det" not in r or not r.get("face_frames"):
                continue
            m = r["face_frames"] / fps[b["name"]] / 60
            det += r["n_det"]
            minutes += m
            per_clip[b["name"]] = {"detections": r["n_det"], "face_minutes": round(m, 3),
                                   "intervals": r["intervals"]}
        entry["fp_per_min"] = det / minutes if minutes else None
        entry["fp_by_clip"] = per_clip
        out[s] = entry
    return out


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, kind in zip(axes, ("me", "mae")):
        for s, e in summary.items():
            c = e["curves"][kind]
            ax.plot([x["amplitude"] for x in c], [x["recall"] or 0 for x in c], "o-", label=s)
        if kind == "me":
            ax.axvspan(0.9, 4.3, color="0.9", label="real MEs measured")
        ax.axhline(0.5, color="0.6", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xlabel("planted peak displacement, % of inter-ocular distance")
        ax.set_title(f"{kind.upper()}: recall at IoU ≥ 0.5")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("recall")
    axes[0].set_ylim(-0.02, 1.02)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def markdown(summary: dict, meta: dict) -> str:
    fmt = lambda v: "not reached" if v is None else f"{v:.2f}"  # noqa: E731
    lines = ["# Spotting sensitivity: recall against planted amplitude", "",
             f"Produced by `{meta['command']}` ({meta['wall_s']:.0f} s wall on this machine). Real ME motion "
             f"(`{MOTION.name}`, a real CASME II onset→apex pair) planted by `microexp synth plant` into "
             f"{meta['n_real']} real face clips (`../shared/video`), {meta.get('n_neutral', 0)} real clip without "
             f"expressions (`{NEUTRAL_SOURCE}` frames 0–{NEUTRAL_FRAMES - 1}, its neutral opening, played forward "
             f"and backward to {NEUTRAL_SECONDS:g} s) and {meta['n_synth']} synthetic clips "
             f"without labelled expressions; ME {DURATION_S['me']} s, MaE {DURATION_S['mae']} s, evenly spaced "
             f"({GAP_S['me']} / {GAP_S['mae']} s apart) where the face is visible. Hit: a detection of either type "
             "with IoU ≥ 0.5; typed: of the right type. FP/min: detections per minute of face video on the same "
             "clips without plants (on `WolfgangLanger_Pexels` the actress's own posed expressions count as FP).",
             "", "![sensitivity](spotting_sensitivity.png)", "",
             "| spotter | A50 ME (% IOD) | A50 MaE (% IOD) | FP / min (no plants) |", "|---|---|---|---|"]
    for s, e in summary.items():
        fp = "–" if e["fp_per_min"] is None else f"{e['fp_per_min']:.1f}"
        lines.append(f"| {s} | {fmt(e['a50_me'])} | {fmt(e['a50_mae'])} | {fp} |")
    for kind in ("me", "mae"):
        lines += ["", f"## {kind.upper()} recall (typed recall) by amplitude", ""]
        amps = [c["amplitude"] for c in next(iter(summary.values()))["curves"][kind]]
        lines += ["| spotter | " + " | ".join(f"{a:g} %" for a in amps) + " |", "|---|" + "---|" * len(amps)]
        for s, e in summary.items():
            cells = []
            for c in e["curves"][kind]:
                cells.append("–" if c["recall"] is None else f"{c['recall']:.2f} ({c['typed_recall']:.2f})")
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        n = [c["n"] for c in next(iter(summary.values()))["curves"][kind]]
        lines.append(f"\nplanted per amplitude: {n}")
        lines += ["", f"Hits / planted by background ({kind.upper()}):", "",
                  "| spotter | background | " + " | ".join(f"{a:g} %" for a in amps) + " |",
                  "|---|---|" + "---|" * len(amps)]
        for s, e in summary.items():
            for src in SOURCES:
                cells = [c["hits_by_source"].get(src, [0, 0]) for c in e["curves"][kind]]
                if any(t for _, t in cells):
                    lines.append(f"| {s} | {src} | " + " | ".join(f"{h}/{t}" for h, t in cells) + " |")
    lines += ["", "## False positives per clip without plants", "", "| spotter | clip | detections | face minutes |",
              "|---|---|---|---|"]
    for s, e in summary.items():
        for clip, r in e["fp_by_clip"].items():
            lines.append(f"| {s} | {clip} | {r['detections']} | {r['face_minutes']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", choices=sorted(GRIDS), default="full")
    ap.add_argument("--spotters", nargs="*", default=None, help="OF-FD presets (default: all four)")
    ap.add_argument("--weights", nargs="*", default=[], help="learned spotters as NAME=PATH (refcnn3d, mesnet)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--synth", type=int, default=SYNTH_BACKGROUNDS, help="synthetic background clips")
    ap.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "microexp" / "spotting_sensitivity")
    ap.add_argument("--record", action="store_true", help="write benchmarks/results/spotting_sensitivity.*")
    ap.add_argument("--out", default=RESULTS.name, help="results name under benchmarks/results with --record")
    args = ap.parse_args()
    results = RESULTS.with_name(args.out)
    from microexp.spotting.offd import PRESETS

    if any("=" not in w for w in args.weights):
        sys.exit(f"--weights takes NAME=PATH, got {args.weights}")
    weights = dict(w.split("=", 1) for w in args.weights)
    for name, path in weights.items():
        if not Path(path).is_file():
            sys.exit(f"{path}: no such weights file (--weights {name}=...)")
    spotters = list(args.spotters or PRESETS) + list(weights)
    grid = GRIDS[args.grid]
    if not MOTION.is_file():
        sys.exit(f"needs the real motion pair {MOTION} (set MICROEXP_SHARED)")
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    os.environ["MICROEXP_CACHE"] = str(work / "cache")  # learned spotters' crops of the planted clips
    t0 = time.time()
    jobs = [("real", str(p), str(work / f"bg_{p.stem}.mp4")) for p in real_clips()]
    if (SHARED / "video" / NEUTRAL_SOURCE).is_file():
        jobs.append(("neutral", str(SHARED / "video" / NEUTRAL_SOURCE), str(work / "bg_neutral_loop.mp4")))
    jobs += [("synth", str(i), str(work / f"bg_synth{i}.mp4")) for i in range(args.synth)]
    from rich.progress import Progress

    with Progress() as bar, ProcessPoolExecutor(args.jobs) as pool:
        task = bar.add_task("backgrounds", total=len(jobs))
        backgrounds = []
        for b in pool.map(make_background, jobs):
            backgrounds.append(b)
            bar.advance(task)
        task = bar.add_task("spotting without plants", total=len(backgrounds))
        bg_runs = []
        for r in pool.map(run_background, [(b, spotters, weights) for b in backgrounds]):
            bg_runs.append(r)
            bar.advance(task)
        faces = {r["name"]: r.get("face") for r in bg_runs}
        pjobs = [(b, faces[b["name"]], kind, amp, spotters, weights, str(work))
                 for b in backgrounds if faces[b["name"]] is not None and any(faces[b["name"]])
                 for kind in ("me", "mae") for amp in grid[kind]]
        task = bar.add_task("planting and spotting", total=len(pjobs))
        planted = []
        for r in pool.map(run_planted, pjobs):
            planted.append(r)
            bar.advance(task)
    summary = summarise(backgrounds, bg_runs, planted, spotters, grid)
    wall = time.time() - t0
    cmd = "python benchmarks/spotting_sensitivity.py " + " ".join(sys.argv[1:])
    meta = {"command": cmd.strip(), "wall_s": wall, "grid": grid, "motion": MOTION.name,
            "n_real": sum(b["source"] == "real" for b in backgrounds),
            "n_synth": sum(b["source"] == "synthetic" for b in backgrounds),
            "n_neutral": sum(b["source"] == "real_neutral" for b in backgrounds),
            "clips": {b["name"]: {"source": b["source"], "fps": b["fps"]} for b in backgrounds}}
    md = markdown(summary, meta)
    print(md)
    if args.record:
        from microexp.io.atomic import write_json, write_text

        write_json(results.with_suffix(".json"), {**summary, "_meta": meta, "_planted": planted})
        write_text(results.with_suffix(".md"), md.replace("(spotting_sensitivity.png)", f"({results.name}.png)"))
        plot(summary, results.with_suffix(".png"))
        print(f"wrote {results}.{{md,json,png}}")
    else:
        print(json.dumps({s: {k: e[k] for k in ("a50_me", "a50_mae", "fp_per_min")} for s, e in summary.items()}))


if __name__ == "__main__":
    main()
