"""Reproduce the published MEGC2020 MDMD baseline table (../shared/specs/metrics.md §6.1) with our scorer.

Run: .venv/bin/python benchmarks/megc2020_baseline.py [--semantics megc2020|softnet|strs]
Writes benchmarks/results/megc2020_baseline_<semantics>.csv.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from microexp.eval.megc_io import read_megc2020_gt, read_megc2020_predictions
from microexp.eval.spotting import evaluate
from microexp.io.atomic import write_with

ROOT = Path(__file__).resolve().parents[1].parent / "shared/realdata/HeyingGithub__Baseline-project-for-MEGC2020_spotting/MDMD_results"
# (gt set folder, prediction prefix, ME length range, MaE length range): the MDMD typing rule
SETS = {
    "CAS(ME)^2": ("CAS(ME)^2_Sets", "ME2", (7, 16), (17, None)),
    "SAMM-LV": ("SAMM_MEGC_Sets", "SAMM_MEGC", (47, 105), (106, None)),
}


def load(name: str, root: Path = ROOT):
    """Ground truth and length-filtered predictions of one dataset (read from R1's 1-based files, 0-based here)."""
    gt_dir, prefix, me_range, mae_range = SETS[name]
    gt = read_megc2020_gt(root / "dataset_new/data" / gt_dir / "all_Info.txt")
    me = read_megc2020_predictions(root / f"results_API/{prefix}_micro_txtClips/p1", "me", me_range)
    mae = read_megc2020_predictions(root / f"results_API/{prefix}_macro_txtClips/p1", "mae", mae_range)
    pred = pd.concat([me, mae], ignore_index=True)
    pred.attrs = {"source": str(root / "results_API")}
    return gt, pred


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--semantics", default="megc2020")
    args = ap.parse_args()
    tables = {}
    for name in SETS:
        gt, pred = load(name)
        tables[name] = evaluate(gt, pred, args.semantics).table
    out = pd.concat(tables, names=["dataset", "type"])
    print(out.round(4).to_string())
    target = Path(__file__).parent / "results" / f"megc2020_baseline_{args.semantics}.csv"
    write_with(target, lambda tmp: out.to_csv(tmp))


if __name__ == "__main__":
    main()
