"""Measure real micro-/macro-expressions: amplitude, spatial extent and timing, to calibrate ``microexp synth``.

Amplitude (onset->apex optical flow, Farneback, after removing the rigid head motion by a robust similarity fit
of the flow over the face; in % of the inter-ocular distance IOD between eye centres):
- the three real onset/apex pairs in ``realdata/christy1206__biwoof`` (SAMM, SMIC, CASME II),
- the real CASME II TIM-interpolated clip in ``realdata/IcedDoggie__.../tvl1flow_3/CASME2`` (flow from the first
  frame to every later one; the largest is the onset->apex amplitude, the first step gives the noise floor).
Spatial extent: share of the face whose motion exceeds half of its maximum (pairs), and the same on the 442
composite-set flow images (normalised, so only the shape, not the size, is usable). Region involvement from the
AU codes of every annotated ME (CASME II, SAMM, CAS(ME)^2, SAMM-LV).
Timing: onset->apex, apex->offset and total durations in seconds from the annotation sheets at their frame rates.

    python benchmarks/measure_real_me.py [--shared ../shared] [--out benchmarks/results/real_me]

Writes ``<out>.json`` and ``<out>.md`` (tables) and ``<out>.png`` (distributions).
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from microexp.synth.face import find_landmarks
from microexp.synth.motion import measure_amplitude

BIWOOF = "realdata/christy1206__biwoof"
CASME2_CLIP = "realdata/IcedDoggie__Micro-Expression-with-Deep-Learning/External-Tools/tvl1flow_3/CASME2"
COMPOSITE_FLOW = "realdata/htnet/datasets/STSNet_whole_norm_u_v_os"
SHEETS = {  # dataset -> (reader module, reader, sheet)
    "casme2": ("casme2", "read_casme2", "annotations/casme2/CASME2-coding-20190701.xlsx"),
    "samm": ("samm", "read_samm", "annotations/samm/SAMM_Micro_FACS_Codes_v2.xlsx"),
    "smic_hs": ("smic", "read_smic", "annotations/smic/coding.csv"),
    "casme_sq": ("casme_sq", "read_casme_sq", "annotations/casme_sq/CASME_sq_gt.xlsx"),
    "samm_lv": ("samm", "read_samm_lv", "annotations/samm_lv/SAMM_LongVideos_V2_Release.xlsx"),
}
# Facial regions by action unit (FACS): which part of the face an AU moves.
AU_REGION = {1: "brow", 2: "brow", 4: "brow", 5: "eyelid", 6: "eyelid", 7: "eyelid", 41: "eyelid", 42: "eyelid",
             43: "eyelid", 44: "eyelid", 45: "eyelid", 46: "eyelid", 9: "nose", 38: "nose", 39: "nose",
             10: "mouth", 11: "mouth", 12: "mouth", 13: "mouth", 14: "mouth", 15: "mouth", 16: "mouth", 17: "mouth",
             18: "mouth", 20: "mouth", 22: "mouth", 23: "mouth", 24: "mouth", 25: "mouth", 26: "mouth", 27: "mouth",
             28: "mouth"}


def pair_stats(onset: np.ndarray, apex: np.ndarray, lm: np.ndarray) -> dict:
    """Onset->apex amplitude (max, p99, p95 over the face, % IOD) and the area share above half the max."""
    return asdict(measure_amplitude(onset, apex, lm))


def read_gif(path: Path) -> list[np.ndarray]:
    from PIL import Image, ImageSequence

    return [np.array(f.convert("RGB"))[..., ::-1].copy() for f in ImageSequence.Iterator(Image.open(path))]


def measure_pairs(shared: Path) -> list[dict]:
    out = []
    for gif in sorted((shared / BIWOOF).glob("*.gif")):
        frames = read_gif(gif)
        lm = find_landmarks(frames[0], str(gif))
        row = {"source": f"biwoof {gif.stem}", "dataset": {"0": "samm", "s": "smic"}.get(gif.stem[0], "casme2")}
        row.update(pair_stats(frames[0], frames[1], lm))
        out.append(row)
    return out


def measure_clip(shared: Path) -> dict:
    """CASME II interpolated clip: amplitude from frame 1 to each later frame; step 1->2 is the noise floor."""
    files = sorted((shared / CASME2_CLIP).glob("*.jpg"))
    frames = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]
    lm = find_landmarks(cv2.cvtColor(frames[0], cv2.COLOR_GRAY2BGR), str(files[0]))
    per = [pair_stats(frames[0], f, lm) for f in frames[1:]]
    return {"source": "CASME II TIM-interpolated clip (10 frames)", "dataset": "casme2", "iod_px": per[0]["iod_px"],
            "max_pct_by_frame": [round(p["max_pct"], 3) for p in per],
            "p95_pct_by_frame": [round(p["p95_pct"], 3) for p in per],
            "max_pct": max(p["max_pct"] for p in per), "p95_pct": max(p["p95_pct"] for p in per),
            "area_half_max": per[int(np.argmax([p["max_pct"] for p in per]))]["area_half_max"]}


def measure_composite(shared: Path) -> dict:
    """Share of the aligned face whose (median-centred) flow exceeds half its maximum, over the 442 images."""
    folder = shared / COMPOSITE_FLOW
    shares = []
    for p in sorted(folder.glob("*.png")):
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            continue
        uv = img[..., [2, 1]].astype(np.float32)
        uv -= np.median(uv.reshape(-1, 2), 0)
        mag = np.linalg.norm(uv, axis=-1)
        if mag.max() > 0:
            shares.append(float((mag > 0.5 * mag.max()).mean()))
    s = np.array(shares)
    return {"n": len(s), "area_half_max_quartiles": [float(np.percentile(s, q)) for q in (25, 50, 75)]}


def load_sheets(shared: Path) -> pd.DataFrame:
    import importlib

    parts = []
    for name, (mod, fn, rel) in SHEETS.items():
        reader = getattr(importlib.import_module(f"microexp.datasets.{mod}"), fn)
        df = reader(shared / rel)
        for flag in ("apex_missing", "offset_missing"):
            if flag in df:
                df = df[~df[flag].astype(bool)]
        df = df[(df["apex"] > df["onset"]) & (df["offset"] > df["apex"])]
        parts.append(pd.DataFrame({"dataset": name, "type": df["type"].to_numpy(), "au": df["au"].astype(str).to_numpy(),
                                   "rise_s": ((df["apex"] - df["onset"]) / df["fps"]).to_numpy(),
                                   "fall_s": ((df["offset"] - df["apex"]) / df["fps"]).to_numpy(),
                                   "total_s": ((df["offset"] - df["onset"]) / df["fps"]).to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def regions(au: str) -> set[str]:
    return {AU_REGION[int(n)] for n in re.findall(r"\d+", au) if int(n) in AU_REGION}


def timing_table(df: pd.DataFrame) -> list[dict]:
    rows = []
    for (ds, kind), g in df.groupby(["dataset", "type"], sort=False):
        def q(c, g=g):
            return [round(float(np.percentile(g[c], p)), 3) for p in (10, 50, 90)]

        rows.append({"dataset": ds, "type": kind, "n": len(g), "rise_s_p10_50_90": q("rise_s"),
                     "fall_s_p10_50_90": q("fall_s"), "total_s_p10_50_90": q("total_s"),
                     "rise_s_max": round(float(g.rise_s.max()), 3),
                     "rise_over_4s": int((g.rise_s > 4.0).sum()),  # the macro reading's max_rise_s
                     "apex_fraction_mean_sd": [round(float((g.rise_s / g.total_s).mean()), 3),
                                               round(float((g.rise_s / g.total_s).std()), 3)]})
    return rows


def region_table(df: pd.DataFrame) -> list[dict]:
    rows = []
    me = df[(df["type"] == "me") & (df["dataset"] != "smic_hs")]  # SMIC has no AU codes
    for ds, g in me.groupby("dataset", sort=False):
        regs = [regions(a) for a in g["au"]]
        coded = [r for r in regs if r]
        n = len(coded)
        row = {"dataset": ds, "n_me_with_au": n}
        for name in ("brow", "eyelid", "nose", "mouth"):
            row[f"share_{name}"] = round(sum(name in r for r in coded) / n, 3)
        row["share_eyelid_only"] = round(sum(r == {"eyelid"} for r in coded) / n, 3)
        rows.append(row)
    return rows


def synth_regions() -> dict:
    """The same region shares for the MEs ``microexp synth`` draws (emotion shares x AU choices)."""
    from microexp.synth.config import PRESETS
    from microexp.synth.timeline import EMOTION_AUS

    shares = {k: 0.0 for k in ("brow", "eyelid", "nose", "mouth", "eyelid_only")}
    em = PRESETS["casme_sq"].me_emotions
    total = sum(em.values())
    for emotion, n in em.items():
        for aus, p in EMOTION_AUS[emotion]:
            r = regions("+".join(aus))
            for name in ("brow", "eyelid", "nose", "mouth"):
                shares[name] += n / total * p * (name in r)
            shares["eyelid_only"] += n / total * p * (r == {"eyelid"})
    return {"dataset": "synth (casme_sq, samm_lv)", **{f"share_{k}": round(v, 3) for k, v in shares.items()}}


def plot(result: dict, df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ax = axes[0]
    names = [r["source"].replace("biwoof ", "") for r in result["pairs"]] + ["CASME II clip"]
    ax.bar(names, [r["max_pct"] for r in result["pairs"]] + [result["clip"]["max_pct"]], label="max over face")
    ax.bar(names, [r["p95_pct"] for r in result["pairs"]] + [result["clip"]["p95_pct"]], label="95th percentile")
    ax.set_ylabel("onset→apex flow, % IOD")
    ax.set_title("real ME amplitude")
    ax.tick_params(axis="x", rotation=20)
    ax.legend()
    for ax, kind in zip(axes[1:], ("me", "mae")):
        for ds, g in df[df["type"] == kind].groupby("dataset", sort=False):
            ax.hist(g["total_s"].clip(upper=4), bins=30, histtype="step", label=f"{ds} ({len(g)})", density=True)
        ax.set_xlabel("onset→offset, s")
        ax.set_title(f"real {kind.upper()} duration")
        ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def markdown(result: dict) -> str:
    lines = ["# Real micro-expressions measured (`benchmarks/measure_real_me.py`)", "",
             "## Amplitude: onset→apex Farneback flow after removing head motion, % of inter-ocular distance", "",
             "| source | IOD px | max | p99 | p95 | area > ½ max |", "|---|---|---|---|---|---|"]
    for r in result["pairs"]:
        lines.append(f"| {r['source']} | {r['iod_px']} | {r['max_pct']:.2f} | {r['p99_pct']:.2f} | "
                     f"{r['p95_pct']:.2f} | {r['area_half_max']:.3f} |")
    c = result["clip"]
    lines.append(f"| {c['source']} | {c['iod_px']} | {c['max_pct']:.2f} | – | {c['p95_pct']:.2f} | "
                 f"{c['area_half_max']:.3f} |")
    lines += ["", f"CASME II clip, max % IOD from frame 1 to frames 2..10: {c['max_pct_by_frame']} "
              "(frame 2 is the noise floor of a near-identical pair).", "",
              f"Composite flow images ({result['composite']['n']}): share of the face above ½ max, quartiles "
              f"{[round(x, 3) for x in result['composite']['area_half_max_quartiles']]}.", "",
              "## Timing (seconds, p10 / median / p90)", "",
              "| dataset | type | n | onset→apex | apex→offset | onset→offset | apex fraction mean ± sd | "
              "onset→apex max | onset→apex > 4 s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in result["timing"]:
        f = lambda v: " / ".join(f"{x:.3f}" for x in v)  # noqa: E731
        lines.append(f"| {r['dataset']} | {r['type']} | {r['n']} | {f(r['rise_s_p10_50_90'])} | "
                     f"{f(r['fall_s_p10_50_90'])} | {f(r['total_s_p10_50_90'])} | "
                     f"{r['apex_fraction_mean_sd'][0]} ± {r['apex_fraction_mean_sd'][1]} | "
                     f"{r['rise_s_max']:.3f} | {r['rise_over_4s']} ({r['rise_over_4s'] / r['n']:.1%}) |")
    lines += ["", "## Regions moved by real MEs (from the AU codes)", "",
              "| dataset | MEs with AUs | brow | eyelid | nose | mouth | eyelid only |", "|---|---|---|---|---|---|---|"]
    for r in [*result["regions"], result["synth_regions"]]:
        lines.append(f"| {r['dataset']} | {r.get('n_me_with_au', '–')} | {r['share_brow']} | {r['share_eyelid']} | "
                     f"{r['share_nose']} | {r['share_mouth']} | {r['share_eyelid_only']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=os.environ.get("MICROEXP_SHARED", "../shared"))
    ap.add_argument("--out", default="benchmarks/results/real_me")
    args = ap.parse_args()
    shared, out = Path(args.shared), Path(args.out)
    df = load_sheets(shared)
    result = {"pairs": measure_pairs(shared), "clip": measure_clip(shared), "composite": measure_composite(shared),
              "timing": timing_table(df), "regions": region_table(df),
              "synth_regions": synth_regions()}
    out.parent.mkdir(parents=True, exist_ok=True)
    from microexp.io.atomic import write_json, write_text

    write_json(out.with_suffix(".json"), result)
    md = markdown(result)
    write_text(out.with_suffix(".md"), md)
    plot(result, df, out.with_suffix(".png"))
    print(md)


if __name__ == "__main__":
    main()
