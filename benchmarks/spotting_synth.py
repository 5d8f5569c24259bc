"""Training-free spotter (OF-FD, default preset) on synthetic suites, scored with the MEGC table.

    .venv/bin/python benchmarks/spotting_synth.py                       # both presets, 20 videos each
    .venv/bin/python benchmarks/spotting_synth.py --preset casme_sq --videos 20 --seconds 20 --jobs 2
    .venv/bin/python benchmarks/spotting_synth.py --record               # also write benchmarks/results/spotting_synth.md

Suites are written under --workdir (default ~/.cache/microexp/spotting_synth, never inside the repository)
and reused on a rerun. Base faces: one per subject from the 442 composite-set crops in
../shared/realdata/htnet/datasets/combined_datasets_whole when present (each face a subject), else the
astronaut. The generator's parameters come from the real CAS(ME)^2 / SAMM-LV statistics, not from this
spotter's results.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CROPS = REPO.parent / "shared" / "realdata" / "htnet" / "datasets" / "combined_datasets_whole"
DEFAULT_SECONDS = {"casme_sq": 20.0, "samm_lv": 10.0}  # short: the recorded run shared 2 cores with 4 jobs


def pick_faces(n: int) -> list[str]:
    """First crop of each of the first ``n`` subjects (the subject is the file-name prefix), sorted."""
    if not CROPS.is_dir():
        return ["astronaut"]
    by_subject: dict[str, Path] = {}
    for p in sorted(CROPS.glob("*.jpg")):
        by_subject.setdefault(p.name.split("_")[0], p)
    return [str(p) for p in list(by_subject.values())[:n]]


def _render(job) -> str:
    import cv2

    from microexp.synth import write_clip

    cv2.setNumThreads(1)
    from microexp.synth.generate import _reuse

    video, face, cfg, vid = job
    if _reuse(Path(video), cfg) is None:
        write_clip(video, cfg, face=face, video=vid)
    return video


def _spot(job) -> pd.DataFrame:
    import cv2

    import microexp

    cv2.setNumThreads(1)  # one process per core
    video, spotter = job
    rows = [(Path(video).stem, iv.onset, iv.apex, iv.offset, iv.kind, iv.score)
            for iv in microexp.spot(video, preset=spotter)]
    return pd.DataFrame(rows, columns=["video", "onset", "apex", "offset", "type", "score"])


DISTRACTORS = ("default", "none", "no-head")


def _distractors(kind: str) -> dict:
    """Overrides for the ablations: all distractors off, or only the head motion off."""
    from dataclasses import replace

    from microexp.synth import Distractors

    if kind == "none":
        return {"distractors": Distractors.none()}
    if kind == "no-head":
        return {"distractors": replace(Distractors(), drift_px_iod=0.0, drift_roll_deg=0.0, drift_scale=0.0,
                                       turn_per_min=0.0)}
    return {}


def run_preset(preset: str, videos: int, seconds: float, seed: int, jobs: int, workdir: Path,
               distractors: str = "default", spotter: str = "default") -> dict:
    from microexp.eval.spotting import evaluate
    from microexp.io.atomic import write_with
    from microexp.synth import write_suite
    from microexp.synth.generate import suite_configs

    faces = pick_faces(videos)
    tag = "" if distractors == "default" else f"_{distractors}"
    folder = workdir / f"{preset}_{videos}x{seconds:g}s_seed{seed}{tag}"
    extra = _distractors(distractors)
    t0 = time.time()
    configs = suite_configs(videos, preset, faces, seed, seconds, **extra)
    jobs_list = [(str(folder / f"{vid}.mp4"), face, cfg, vid) for vid, face, cfg in configs]
    with ProcessPoolExecutor(jobs) as pool:
        done = list(pool.map(_render, jobs_list))
    gt = write_suite(folder, videos, preset, faces, seed, seconds, **extra)  # all reused: writes index.csv
    t_gen = time.time() - t0
    t0 = time.time()
    with ProcessPoolExecutor(jobs) as pool:
        preds = list(pool.map(_spot, [(v, spotter) for v in done]))
    t_spot = time.time() - t0
    pred = pd.concat(preds, ignore_index=True)
    write_with(folder / "pred.csv", lambda tmp: pred.to_csv(tmp, index=False))
    gt = gt.drop(columns=["subject"])  # training-free: subjects only matter for LOSO
    reports = {sem: evaluate(gt, pred, sem) for sem in ("megc2020", "softnet")}
    return {"preset": preset, "spotter": spotter, "distractors": distractors, "videos": videos, "seconds": seconds,
            "seed": seed, "faces": len(set(faces)),
            "n_gt_me": int((gt["type"] == "me").sum()), "n_gt_mae": int((gt["type"] == "mae").sum()),
            "t_gen": t_gen, "t_spot": t_spot, "reports": reports, "folder": folder}


HEADER = ["# Training-free spotter (OF-FD) on synthetic suites", "",
          "Produced by `benchmarks/spotting_synth.py`. Synthetic videos from `microexp synth` "
          "(parameters from the real CAS(ME)^2 / SAMM-LV statistics, not tuned to this spotter). "
          "Frames 0-based inclusive; IoU >= 0.5. `distractors none` = no blinks, talking, head motion, "
          "light changes or noise (an ablation); `no-head` = everything but head motion.", ""]


def as_markdown(results: list[dict]) -> str:
    lines: list[str] = []
    for r in results:
        lines += [f"## synth preset {r['preset']}, OF-FD preset `{r['spotter']}`, distractors {r['distractors']}: "
                  f"{r['videos']} videos x {r['seconds']:g} s, "
                  f"seed {r['seed']}, "
                  f"{r['faces']} base faces; GT {r['n_gt_me']} ME / {r['n_gt_mae']} MaE", "",
                  f"generation {r['t_gen']:.0f} s, spotting {r['t_spot']:.0f} s (wall, this machine)", ""]
        for sem, rep in r["reports"].items():
            t = rep.table.copy()
            for c in ("precision", "recall", "f1"):
                t[c] = t[c].map(lambda v: f"{v:.4f}")
            lines += [f"### semantics `{sem}`", "", t.to_markdown() if _has_tabulate() else "```\n" +
                      t.to_string() + "\n```", ""]
    return "\n".join(lines)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=["casme_sq", "samm_lv", "both"], default="both")
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=None, help="per video (default: casme_sq 60, samm_lv 20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "microexp" / "spotting_synth")
    ap.add_argument("--distractors", choices=DISTRACTORS, default="default", help="ablations: none, no-head")
    ap.add_argument("--spotter", default="default", help="OF-FD preset (default: what `microexp spot` runs)")
    ap.add_argument("--record", action="store_true", help="write benchmarks/results/spotting_synth.md")
    ap.add_argument("--append", action="store_true", help="with --record: add to the file instead of replacing")
    args = ap.parse_args(argv)
    presets = ["casme_sq", "samm_lv"] if args.preset == "both" else [args.preset]
    results = []
    for p in presets:
        seconds = args.seconds or DEFAULT_SECONDS[p]
        r = run_preset(p, args.videos, seconds, args.seed, args.jobs, args.workdir, args.distractors, args.spotter)
        results.append(r)
        print(f"== {p} (OF-FD {args.spotter}, distractors {args.distractors}): {r['videos']} videos x {seconds:g} s "
              f"({r['faces']} faces), GT {r['n_gt_me']} ME / {r['n_gt_mae']} MaE; generation {r['t_gen']:.0f} s, "
              f"spotting {r['t_spot']:.0f} s")
        for sem, rep in r["reports"].items():
            print(f"-- semantics {sem}")
            print(rep.table.to_string(float_format=lambda v: f"{v:.4f}"))
        sys.stdout.flush()
    if args.record:
        from microexp.io.atomic import write_text

        target = REPO / "benchmarks" / "results" / "spotting_synth.md"
        old = target.read_text() if args.append and target.is_file() else "\n".join(HEADER) + "\n"
        write_text(target, old.rstrip("\n") + "\n\n" + as_markdown(results) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
