"""Recompute UF1/UAR of the two public STSTNet LOSO logs (../shared/specs/metrics.md §6.2) with our metric.

Run: .venv/bin/python benchmarks/ststnet_logs.py
Writes benchmarks/results/ststnet_logs.csv (one row per log and dataset part).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microexp.eval.reclog import read_megc_log, read_ststnet_python_log
from microexp.eval.recognition import evaluate_log
from microexp.io.atomic import write_with

ROOT = Path(__file__).resolve().parents[1].parent / "shared/realdata/christy1206__STSTNet"


def main() -> None:
    tables = {
        "python log": evaluate_log(read_ststnet_python_log(ROOT / "STSTNet_python_logfile.txt")),
        "MATLAB log": evaluate_log(read_megc_log(ROOT / "STSTNet_logfile.txt")),
    }
    out = pd.concat(tables, names=["log", "part"])
    print(out.round(4).to_string())
    write_with(Path(__file__).parent / "results" / "ststnet_logs.csv", lambda tmp: out.round(6).to_csv(tmp))


if __name__ == "__main__":
    main()
