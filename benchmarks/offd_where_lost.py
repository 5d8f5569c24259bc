"""Where OF-FD loses a planted micro-expression: the numbers of docs/spotting.md ("Where a planted ... is lost").

    python benchmarks/offd_where_lost.py --part synth     # 6-s synthetic clip, ME at 1.5/3/4.5/10 % IOD
    python benchmarks/offd_where_lost.py --part gate      # the 5-Hz presets at 3 and 4.5 %: window spans vs final
    python benchmarks/offd_where_lost.py --part real      # single_face.mp4 and WolfgangLanger_Pexels.mp4 at 3/10 %

One ME of 0.4 s (the real CASME II motion ``sub11_EP15_04f``, ``microexp synth plant``) is planted into a clip and
OF-FD is run; per channel the raw ROI displacement (``scores.npz``'s ``displacement``) around the plant, the same
curve after the preset's ideal low-pass, and its prominence over the ±1 s floor (what T2 is compared with) are
printed for the strongest channels, next to the clip without the plant. On clips longer than one window the
per-frame values are those of the last window that measured the frame, filtered over the whole clip (an
approximation of the per-window curves; the 6-s synthetic clip is one window, exact). Clips go to --workdir
(never the repo).
About ten minutes on one core.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

SHARED = Path(os.environ.get("MICROEXP_SHARED", Path(__file__).resolve().parents[2] / "shared"))
MOTION = SHARED / "realdata" / "christy1206__biwoof" / "sub11_EP15_04f.gif"


def spot(path: Path, preset: str):
    from microexp.io.video import VideoSource
    from microexp.spotting.offd import get_preset, run_offd

    src = VideoSource(path)
    return run_offd(src.frames(gray=True), src.info.fps, get_preset(preset))


def group_of(name: str) -> str:
    return "brow" if name.startswith("brow") else "mouth" if name.startswith("mouth") else "nose"


def stages(res, on: int, off: int, bg=None, top: int = 3) -> list[str]:
    """Per channel: raw peak near the plant (and without it), low-passed peak, prominence, T2 (scaled)."""
    from microexp.spotting.offd_signal import ideal_lowpass, window_floor

    cfg = res.config
    radius = cfg.frames(cfg.local_min_radius_s, res.rate)
    lo, hi = max(1, on - 3), min(len(res.displacement) - 1, off + 4)
    rows = []
    for ch, name in enumerate(res.channel_names):
        x = np.nan_to_num(res.displacement[:, ch].astype(float))
        y = ideal_lowpass(x[1:-1], cfg.lowpass_hz, res.rate)
        prom = y - window_floor(y, radius)
        t2 = cfg.t2[group_of(name)] * cfg.scale()
        raw_bg = "" if bg is None else f" (no plant {np.nanmax(bg.displacement[lo:hi, ch]):.2f})"
        rows.append((float(x[lo:hi].max()), f"{name}: raw {x[lo:hi].max():.2f}{raw_bg}, low-passed "
                     f"{y[lo - 1:hi - 1].max():.2f}, prominence {prom[lo - 1:hi - 1].max():.2f} (T2 {t2:.2f})"))
    return [r for _, r in sorted(rows, reverse=True)[:top]]


def planted(bg: Path, on: int, length: int, amp: float, work: Path) -> Path:
    from microexp.io.video import VideoSource
    from microexp.synth.plant import Plant, plant_video

    out = work / f"{bg.stem}_p{on}_{length}_{amp:g}.mp4"
    if not out.is_file():
        apex = on + round(0.45 * length)
        plant_video(bg, out, [Plant("me", on, apex, on + length, amp)], MOTION, fps=VideoSource(bg).info.fps)
    return out


def canonical_px_per_pct(path: Path) -> float:
    from microexp.face import LandmarkDetector
    from microexp.face.landmarks import half_inner_canthal
    from microexp.io.video import VideoSource
    from microexp.spotting.offd import get_preset
    from microexp.synth.motion import iod

    img = next(iter(VideoSource(path).frames(gray=True))).image
    lm = LandmarkDetector().find(img)[1]
    return iod(lm) / 100 / half_inner_canthal(lm) * get_preset("default").crop.px_per_u


def report(bg: Path, on: int, length: int, amps: list[float], presets: list[str], work: Path) -> None:
    print(f"\n## {bg.name}: ME planted at frames {on}-{on + length}; 1 % IOD = {canonical_px_per_pct(bg):.2f} "
          "canonical px")
    for preset in presets:
        base = spot(bg, preset)
        print(f"\n### {preset}\n\nwithout plant: intervals {base.spans}")
        for line in stages(base, on, on + length):
            print(f"  {line}")
        for a in amps:
            r = spot(planted(bg, on, length, a, work), preset)
            print(f"{a:g} % IOD: intervals {r.spans}")
            for line in stages(r, on, on + length, base):
                print(f"  {line}")


def gate(bg: Path, on: int, length: int, amps: list[float], work: Path) -> None:
    """The 5-Hz presets: window-level spans (after T2/Td, boundaries, merge) against the final intervals."""
    from microexp.spotting.offd_signal import analyse_window

    print("\n## 5-Hz presets: window-level spans vs final intervals (length gate)")
    for preset in ("offd_casme2_he", "offd_sammlv_he"):
        for a in amps:
            r = spot(planted(bg, on, length, a, work), preset)
            groups = [group_of(n) for n in r.channel_names]
            win = []
            for s0, ln in r.windows:
                spans, _, _ = analyse_window(r.displacement[s0:s0 + ln].T.astype(float), groups, r.config, r.rate)
                win += [(s0 + p, s0 + q) for p, q in spans]
            print(f"{preset}, {a:g} %: window-level {win}, final {r.spans} "
                  f"(gate off - on >= {r.config.frames(r.config.min_len_s, r.rate)} frames)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["synth", "gate", "real", "all"], default="all")
    ap.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "microexp" / "offd_where_lost")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    synth = work / "synth6.mp4"
    if args.part in ("synth", "gate", "all") and not synth.is_file():
        from microexp.synth import preset, write_clip

        write_clip(synth, preset("casme_sq", seconds=6.0, seed=100, me_per_min=0.0, mae_per_min=0.0, min_me=0,
                                 min_mae=0))
    if args.part in ("synth", "all"):
        report(synth, 90, 12, [1.5, 3.0, 4.5, 10.0], ["offd_cas_megc2022"], work)
    if args.part in ("gate", "all"):
        gate(synth, 90, 12, [3.0, 4.5], work)
    if args.part in ("real", "all"):
        report(SHARED / "video" / "single_face.mp4", 15, 12, [3.0, 10.0], ["offd_cas_megc2022"], work)
        report(SHARED / "video" / "WolfgangLanger_Pexels.mp4", 104, 10, [3.0, 10.0], ["offd_cas_megc2022"], work)


if __name__ == "__main__":
    main()
