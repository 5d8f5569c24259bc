"""Why the 5-Hz published OF-FD presets are not monotone in planted amplitude: their length gate.

    python benchmarks/offd_length_gate.py --workdir /tmp/sens3     # a spotting_sensitivity.py --workdir

Reads the synthetic clip's planted-ME videos that ``benchmarks/spotting_sensitivity.py`` left in its work
folder (``bg_synth0_me_<amp>.mp4`` with their labels), runs each 5-Hz preset as published and with its length
gate off (``min_len_s=0``), and prints, per amplitude, the planted intervals found at IoU >= 0.5 and the
detected lengths in frames next to the gate's. Prints a markdown table; about a minute per preset.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

PRESETS = ("offd_casme2_he", "offd_sammlv_he", "offd_samm_megc2022")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--clip", default="bg_synth0")
    args = ap.parse_args()
    from microexp.eval.spotting import iou_matrix
    from microexp.spotting.api import spot_video
    from microexp.spotting.offd_config import get_preset

    clips = sorted(args.workdir.glob(f"{args.clip}_me_*.mp4"), key=lambda p: float(p.stem.rsplit("_", 1)[1]))
    if not clips:
        sys.exit(f"{args.workdir}: no {args.clip}_me_*.mp4 (run benchmarks/spotting_sensitivity.py --workdir first)")
    print("| preset | gate (frames at 30 fps) | amplitude % IOD | found, as published | found, gate off | "
          "lengths of the found plants, gate off (frames) |\n|---|---|---|---|---|---|")
    for name in PRESETS:
        gate = get_preset(name).frames(get_preset(name).min_len_s, 30.0)
        for clip in clips:
            truth = [(int(a), int(b)) for a, b in pd.read_csv(clip.with_suffix(".csv"))[["onset", "offset"]].values]
            cells, lengths = [], []
            for over in ({}, {"min_len_s": 0.0}):
                got = [(i.onset, i.offset) for i in spot_video(clip, preset=name, **over).intervals]
                hits = []
                if got:  # per planted interval, the detection that overlaps it most, if IoU >= 0.5
                    m = iou_matrix([g[0] for g in got], [g[1] for g in got], [t[0] for t in truth],
                                   [t[1] for t in truth])
                    hits = [got[int(m[:, j].argmax())] for j in range(len(truth)) if m[:, j].max() >= 0.5]
                cells.append(f"{len(hits)}/{len(truth)}")
                if over:
                    lengths = sorted({b - a for a, b in hits})
            amp = clip.stem.rsplit("_", 1)[1]
            print(f"| {name} | {gate} | {amp} | {cells[0]} | {cells[1]} | {', '.join(map(str, lengths)) or '–'} |",
                  flush=True)


if __name__ == "__main__":
    main()
