"""The lag of OF-FD's lagged reference (``OFFDConfig.lag_s``), from the real annotation sheets.

Spec offd.md §5: ``reference: lag`` compares frame t with t − k, k = round(0.5 · mean_dur_s · f_eff). For the
windows that follow an open interval (a held, non-neutral face) the changes to find are macro-expressions, so
mean_dur_s is the mean onset→offset duration of the macro-expressions in the long-video annotations we hold:
CAS(ME)^2 for the CAS presets, SAMM-LV for the SAMM presets (``measure_real_me.load_sheets``, the same rows as
``benchmarks/results/real_me.md``).

    python benchmarks/offd_lag_constant.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure_real_me import load_sheets  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=os.environ.get("MICROEXP_SHARED", "../shared"))
    args = ap.parse_args()
    df = load_sheets(Path(args.shared))
    mae = df[df["type"] == "mae"]
    print("| dataset | MaE | mean onset→offset (s) | median | lag_s = 0.5 × mean |")
    print("|---|---|---|---|---|")
    for ds, g in mae.groupby("dataset"):
        m = float(g["total_s"].mean())
        print(f"| {ds} | {len(g)} | {m:.3f} | {float(g['total_s'].median()):.3f} | {0.5 * m:.3f} |")


if __name__ == "__main__":
    main()
