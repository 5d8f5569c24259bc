"""The honest composite record (issue 16): seeds, their probability-averaged ensemble, subject-level CIs.

Used by `benchmarks/recognition_loso.py` (which runs the folds and writes the page); this module only turns
finished fold files into the record's table and JSON rows. Rows of one group are scored on the same subjects:
when the runs were stopped early (they run subject-interleaved, `--interleave`), on the subjects every run of
the group has finished, and the page says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

N_BOOT = 2000
BOOT_SEED = 0


def fold_table(run_dir: Path, index: pd.DataFrame, classes: list[str]) -> pd.DataFrame | None:
    """Per-sample predictions (and ``p_<class>`` probabilities) of a run's finished fold files; None if none."""
    folds = run_dir / "folds"
    files = sorted(p for p in folds.glob("*.json") if not p.name.startswith(".")) if folds.is_dir() else []
    if not files:
        return None
    rows = []
    for f in files:
        r = json.loads(f.read_text())["result"]
        probas = r.get("proba") or [None] * len(r["rows"])
        for i, p, q in zip(r["rows"], r["pred"], probas, strict=True):
            row = {"subject": r["test_subject"], "sample": index.at[i, "sample"], "dataset": index.at[i, "dataset"],
                   "true": classes[int(index.at[i, "label"])], "pred": classes[int(p)]}
            if q is not None:
                row.update({f"p_{c}": float(v) for c, v in zip(classes, q, strict=True)})
            rows.append(row)
    return pd.DataFrame(rows).sort_values(["subject", "sample"]).reset_index(drop=True)


def _cells(log: pd.DataFrame, col: str, classes: list[str]) -> tuple[float, float, list[str]]:
    from microexp.eval.recognition import evaluate_log

    t = evaluate_log(log.assign(pred=log[col]), classes, by="dataset", absent="ignore")
    parts = [f"{t.at[k, 'uf1']:.4f} / {t.at[k, 'uar']:.4f}" if k in t.index else "-"
             for k in ("casme2", "samm", "smic")]
    return float(t.at["all", "uf1"]), float(t.at["all", "uar"]), parts


def record_group(work: Path, index: pd.DataFrame, classes: list[str], *, baseline: str, members: list[str],
                 ensemble: str, select: str, configs: dict[str, str], seeds: dict[str, int],
                 total_subjects: int) -> tuple[list[str], list[dict]]:
    """Table lines and JSON rows for baseline + seed members + their ensemble, on their common subjects."""
    from microexp.eval.bootstrap import percentile_ci, subject_bootstrap_uf1
    from microexp.recognition.ensemble import combine_members

    names = [baseline, *members]
    logs = {n: fold_table(work / n, index, classes) for n in names}
    missing = [n for n, lg in logs.items() if lg is None]
    if missing:
        lines = [f"| {n} | {select if n != baseline else 'last'} | not run | | | | | | | | |" for n in names]
        return [*lines, f"| {ensemble} | {select} | not run | | | | | | | | |"], []
    common = set.intersection(*(set(lg["subject"]) for lg in logs.values()))
    logs = {n: lg[lg["subject"].isin(common)].reset_index(drop=True) for n, lg in logs.items()}
    ens = combine_members([logs[m] for m in members], classes, members)
    base = logs[baseline]
    big = base[["subject", "sample", "dataset", "true"]].copy()
    key = list(zip(big["subject"], big["sample"], strict=True))
    for n, lg in {**logs, ensemble: ens}.items():
        big[n] = lg.set_index(["subject", "sample"]).loc[key, "pred"].to_numpy()
    cols = [*names, ensemble]
    boot = subject_bootstrap_uf1(big, classes, columns=cols, n_boot=N_BOOT, seed=BOOT_SEED)
    n_sub, n_smp = len(common), len(big)
    full = n_sub == total_subjects
    folds = f"{n_sub}" if full else f"partial: {n_sub}/{total_subjects} ({n_smp} samples)"
    lines, rows = [], []
    for j, n in enumerate(cols):
        uf1, uar, parts = _cells(big, n, classes)
        lo, hi = percentile_ci(boot[:, j])
        sel = "last" if n == baseline else select
        if j == 0:
            delta = "(reference)"
            dci = None
        else:
            d = boot[:, j] - boot[:, 0]
            dci = percentile_ci(d)
            delta = f"{uf1 - float(_cells(big, baseline, classes)[0]):+.4f} [{dci[0]:+.4f}, {dci[1]:+.4f}]"
        run_seeds = [seeds[m] for m in members] if n == ensemble else [seeds[n]]
        lines.append(f"| {n} | **{sel}** | {folds} | {uf1:.4f} | {uar:.4f} | [{lo:.4f}, {hi:.4f}] | "
                     + " | ".join(parts) + f" | {delta} | {configs[n]} |")
        rows.append({"run": n, "model": "ststnet", "config": configs[n], "select": sel, "uf1": round(uf1, 4),
                     "uar": round(uar, 4), "uf1_ci95": [round(lo, 4), round(hi, 4)], "seeds": run_seeds,
                     "subjects": n_sub, "samples": n_smp, "complete": full,
                     "uf1_minus_default_ci95": None if dci is None else [round(dci[0], 4), round(dci[1], 4)],
                     "source": f"benchmarks/recognition_loso.py, out/recognition/{n}"
                               + (" (ensemble of the member runs' fold files)" if n == ensemble else "")})
    seed_uf1 = np.array([r["uf1"] for r in rows[1:-1]])
    lines.append("")
    lines.append(f"Seeds alone: mean UF1 {seed_uf1.mean():.4f} (sd {seed_uf1.std(ddof=1):.4f}, "
                 f"{len(seed_uf1)} seeds). " + ("" if full else
                 f"**Partial**: the runs were stopped for lack of CPU after {n_sub} of {total_subjects} subjects "
                 "(taken one dataset at a time in turn, the same subjects for every row); not comparable with "
                 "full-set numbers. `--interleave 2` resumes them."))
    return lines, rows


def carried_rows(lines: list[str], runs: dict, source: str) -> list[dict]:
    """JSON rows for a LOSO table kept from an earlier page (its run folders are gone): no CI can be computed."""
    out = []
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 10 or not cells[2].isdigit():
            continue
        name = cells[0]
        run = runs.get(name)
        out.append({"run": name, "model": run.model if run else "ststnet+slstt-scratch+mmnet-flow (vote)",
                    "config": run.note if run else "majority vote of the three last-epoch runs",
                    "select": "ORACLE (test-selected)" if "ORACLE" in cells[1] else "last",
                    "uf1": float(cells[3]), "uar": float(cells[4]), "uf1_ci95": None, "seeds": [0],
                    "subjects": int(cells[2]), "complete": int(cells[2]) == 68, "source": source})
    return out
