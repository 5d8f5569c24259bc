"""Regenerate benchmarks/results/recognition.md: real checks and LOSO runs on the MEGC2019 composite set.

    .venv/bin/python benchmarks/recognition_loso.py                 # every run below (resumes), then the page
    .venv/bin/python benchmarks/recognition_loso.py --only ststnet-last --workers 2
    .venv/bin/python benchmarks/recognition_loso.py --report-only   # rebuild the page from finished runs

Needs ../shared/realdata/htnet (flow images) and ../shared/realdata/christy1206__STSTNet (published weights
and log). Run folders go to out/recognition/<run>/ (not committed); each is a `microexp loso` output and
resumes. Every number on the results page is read from those folders or recomputed here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MICROEXP_SHARED", REPO.parent / "shared"))
HTNET = SHARED / "realdata" / "htnet"
STSTNET = SHARED / "realdata" / "christy1206__STSTNet"
BIWOOF = SHARED / "realdata" / "christy1206__biwoof"
RESULTS = REPO / "benchmarks" / "results" / "recognition.md"

# name, model, select, training overrides (JSON of TrainConfig fields), model overrides, subjects, note
RUNS = [
    ("ststnet-last", "ststnet", "last", {}, {}, None, "default recogniser settings"),
    ("ststnet-cw-last", "ststnet", "last", {"class_weighted": True, "shift": 2}, {}, None,
     "class-weighted loss + 2-px shifts"),
    ("ststnet-cw-oracle", "ststnet", "oracle", {"class_weighted": True, "shift": 2}, {}, None,
     "ststnet-cw training, best epoch picked on the test subject"),
    ("slstt-scratch-last", "slstt", "last", {"epochs": 30}, {}, None, "from scratch (no ImageNet weights)"),
    ("mmnet-flow-last", "mmnet", "last", {"epochs": 20}, {}, None, "flow variant"),
]

# Published composite (CDE) numbers, from ../shared/specs/sota.md section 2.1 (UF1, UAR; full set).
PUBLISHED = [
    ("LBP-TOP baseline (MEGC2019)", 0.5882, 0.5785, "fixed features"),
    ("STSTNet paper (MATLAB log)", 0.7353, 0.7186, "last epoch; published 'UAR' 0.7605 is macro-precision"),
    ("STSTNet python re-run (authors' log)", 0.7209, 0.7250, "last epoch (800 epochs)"),
    ("EMR (MEGC2019 winner)", 0.7885, 0.7824, "protocol not verifiable"),
    ("FeatRef (PR 2022)", 0.7838, 0.7832, "protocol not verifiable"),
    ("SLSTT-LSTM (TAC 2022)", 0.816, 0.790, "oracle: model_best on the held-out subject"),
    ("HTNet (Neurocomputing 2024)", 0.8603, 0.8475, "oracle: best epoch on the held-out subject"),
]


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run_one(spec, work: Path, workers: int) -> dict:
    from microexp.recognition.data import load_composite
    from microexp.recognition.loso import run_loso
    from microexp.recognition.registry import get_arch

    name, model, select, tover, mover, subjects, _ = spec
    import dataclasses

    arch = get_arch(model)
    tcfg = dataclasses.replace(arch.train, **tover)
    data = load_composite(HTNET, with_apex=arch.with_apex)
    t0 = time.perf_counter()

    def progress(done, total):
        print(f"\r{name}: {done}/{total} folds, {time.perf_counter() - t0:.0f} s", end="", file=sys.stderr)

    if workers > 1:
        with ProcessPoolExecutor(workers, initializer=_init_worker) as pool:
            s = run_loso(model, data, work / name, select=select, train_config=tcfg, model_overrides=mover,
                         subjects=subjects, executor=lambda f, it: pool.map(f, it), progress=progress)
    else:
        _init_worker()
        s = run_loso(model, data, work / name, select=select, train_config=tcfg, model_overrides=mover,
                     subjects=subjects, progress=progress)
    print(file=sys.stderr)
    return s


def published_check() -> dict:
    from microexp.recognition.data import load_composite
    from microexp.recognition.published import rerun_published

    r = rerun_published(load_composite(HTNET), STSTNET)
    r.pop("table")
    return r


def representation_check() -> list[dict]:
    from microexp.recognition.published import compare_encoding

    rows = []
    for sample in ("006_006_1_2", "s03_s03_po_11"):
        png = HTNET / "datasets" / "STSNet_whole_norm_u_v_os" / f"{sample} .png"
        for method in ("dis", "tvl1", "farneback"):
            c = compare_encoding(BIWOOF / f"{sample}.gif", png, method=method)
            rows.append({"sample": sample, "method": method, **c})
    return rows


def epoch_cost() -> list[dict]:
    """Measured CPU seconds of one training epoch on 435 samples per model (1 thread; a shared machine
    inflates them), and what a 68-fold LOSO with the default epoch budget therefore costs."""
    import dataclasses

    import numpy as np
    import torch

    from microexp.recognition.registry import build, get_arch, make_config
    from microexp.recognition.train import train_model

    torch.set_num_threads(1)
    rows = []
    rng = np.random.default_rng(0)
    for model in ("ststnet", "slstt", "mmnet"):
        arch = get_arch(model)
        X = rng.random((435, 6 if arch.with_apex else 3, 28, 28), dtype=np.float32)
        y = rng.integers(0, 3, 435)
        cfg = make_config(model)
        cost = []
        for n in (1, 3):  # the difference removes build and warm-up time
            t0 = time.process_time()
            train_model(lambda cfg=cfg, model=model: build(model, cfg), X, y, dataclasses.replace(arch.train, epochs=n))
            cost.append(time.process_time() - t0)
        sec = max(cost[1] - cost[0], 0.0) / 2
        rows.append({"model": model, "epoch_s": sec, "epochs": arch.train.epochs,
                     "loso_h": sec * arch.train.epochs * 68 / 3600})
    return rows


def _secs(s: dict) -> str:
    return f"{s['fold_cpu_seconds']:.0f}"


def partial_rows(work: Path, name: str, select: str, note: str) -> list[str]:
    """Rows for a run stopped before all 68 folds: pooled metrics over its finished folds, next to the
    default run (`ststnet-last`) restricted to the same folds, so the comparison stays like for like."""
    from microexp.eval.recognition import evaluate_log
    from microexp.recognition.data import CLASSES, load_composite

    folds = sorted((work / name / "folds").glob("*.json")) if (work / name / "folds").is_dir() else []
    base = work / "ststnet-last" / "folds"
    if not folds or not base.is_dir():
        return []
    index = load_composite(HTNET).index
    cols = {"pred": [], "base": [], "true": [], "dataset": []}
    if "pred_last" in json.loads(folds[0].read_text()):
        cols["last"] = []
    for f in folds:
        r, b = json.loads(f.read_text()), json.loads((base / f.name).read_text())
        cols["pred"] += [CLASSES[p] for p in r["pred"]]
        cols["base"] += [CLASSES[p] for p in b["pred"]]
        if "last" in cols:
            cols["last"] += [CLASSES[p] for p in r["pred_last"]]
        cols["true"] += [CLASSES[int(index.at[i, "label"])] for i in r["rows"]]
        cols["dataset"] += [index.at[i, "dataset"] for i in r["rows"]]
    import pandas as pd

    log = pd.DataFrame(cols)
    out = []
    label = "ORACLE (test-selected)" if select == "oracle" else select
    variants = [(name, label, "pred")] + ([(f"{name}, last epoch", "last", "last")] if "last" in cols else [])
    variants.append(("ststnet-last on the same folds", "last", "base"))
    for title, sel, col in variants:
        t = evaluate_log(log.assign(pred=log[col]), list(CLASSES), by="dataset", absent="ignore")

        def part(k, t=t):
            return f"{t.at[k, 'uf1']:.4f} / {t.at[k, 'uar']:.4f}" if k in t.index else "-"

        out.append(f"| {title} | {sel} | partial: {len(folds)}/68 ({len(log)} samples) | {t.at['all', 'uf1']:.4f} | "
                   f"{t.at['all', 'uar']:.4f} | {part('casme2')} | {part('samm')} | {part('smic')} | | {note}; "
                   "stopped for lack of CPU, not comparable with full-set numbers |")
    return out


def identity_note(work: Path) -> str:
    """Check on real folds that an oracle run's last-epoch predictions equal a separate `last` run's."""
    oracle, last = work / "ststnet-cw-oracle" / "folds", work / "ststnet-cw-last" / "folds"
    if not (oracle.is_dir() and last.is_dir()):
        return ""
    same = total = folds = 0
    for f in sorted(last.glob("*.json")):
        g = oracle / f.name
        if g.is_file():
            a, b = json.loads(f.read_text())["pred"], json.loads(g.read_text())["pred_last"]
            folds += 1
            total += len(a)
            same += sum(int(x == y) for x, y in zip(a, b, strict=True))
    return (f"Check: on the {folds} folds that both `ststnet-cw-last` and `ststnet-cw-oracle` finished, the oracle "
            f"run's last-epoch predictions equal the `last` run's predictions for {same} of {total} samples.")


def report(work: Path, pub: dict | None, rep: list[dict] | None, cost: list[dict] | None = None) -> str:
    L = ["# Recognition on the MEGC2019 composite (CDE, 442 samples, 68 subjects, 3 classes)", "",
         "Generated by `benchmarks/recognition_loso.py` (rerun it to regenerate this page). Input: the 28x28 "
         "onset->apex flow images (u, v, optical strain) published with HTNet, read in place from "
         "`../shared/realdata/htnet`. Metrics: pooled UF1 / UAR over all LOSO folds (MEGC2019 definition, "
         "`microexp.eval.recognition`). CPU only.", ""]
    L += ["## 1. Real check: the authors' STSTNet weights in our model", ""]
    if pub:
        L += [f"The 68 per-subject weights of `christy1206/STSTNet` loaded into `microexp.recognition.ststnet` "
              f"(key mapping only) and run on each subject's flow images: **{pub['pred_match']} of "
              f"{pub['samples']}** predictions equal `STSTNet_python_logfile.txt` (ground truth order "
              f"{pub['gt_match']}/{pub['samples']}). Resulting UF1 **{pub['uf1']:.4f}**, UAR "
              f"**{pub['uar']:.4f}**, accuracy {pub['accuracy']:.4f} (the log: UF1 {pub['log_uf1']:.4f}, "
              f"UAR {pub['log_uar']:.4f}).", ""]
    else:
        L += ["Not run (../shared data missing).", ""]
    L += ["## 2. Representation: our onset->apex encoding vs the published flow images", ""]
    if rep:
        L += ["Pearson correlation per channel between `flow_from_faces` on the real onset/apex pairs of "
              "`christy1206/biwoof` (face region of the GIF canvas) and HTNet's flow image of the same sample:",
              "", "| sample | flow | u | v | strain |", "|---|---|---|---|---|"]
        for r in rep:
            L.append(f"| {r['sample']} | {r['method']} | {r['u']:.3f} | {r['v']:.3f} | {r['strain']:.3f} |")
        L += ["", "The default (`dis`) matches best. It cannot match exactly: the GIF frames are palette-"
              "quantised 8-bit copies, the face crop of the original pipeline is not published, and the "
              "originals used MATLAB TV-L1 (IPOL 2013) with unknown parameters.", ""]
    L += ["## 3. LOSO results", "",
          "`last` = the last epoch of a fixed budget; `inner-val` = checkpoint chosen on validation subjects "
          "drawn from the training subjects; **ORACLE** = checkpoint chosen on the held-out subject "
          "(test peeking, shown only to measure how much it inflates results).", "",
          "| run | select | folds | full UF1 | full UAR | CASME II UF1 / UAR | SAMM UF1 / UAR | SMIC UF1 / UAR "
          "| fold CPU s (sum) | note |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, _model, select, _tover, _mover, _subjects, note in RUNS:
        p = work / name / "summary.json"
        if not p.is_file():
            part_rows = partial_rows(work, name, select, note)
            L += part_rows or [f"| {name} | {select} | not run | | | | | | | {note} |"]
            continue
        s = json.loads(p.read_text())
        m = s["metrics"]

        def part(k, m=m):
            return f"{m[k]['uf1']:.4f} / {m[k]['uar']:.4f}" if k in m else "-"

        L.append(f"| {name} | {s['select']} | {s['folds']} | {m['all']['uf1']:.4f} | {m['all']['uar']:.4f} | "
                 f"{part('casme2')} | {part('samm')} | {part('smic')} | {_secs(s)} | {note}, "
                 f"{s['epochs']} epochs |")
        if "last_epoch_metrics" in s:
            m = s["last_epoch_metrics"]
            L.append(f"| {name}, last epoch | last | {s['folds']} | {m['all']['uf1']:.4f} | {m['all']['uar']:.4f} | "
                     f"{part('casme2', m)} | {part('samm', m)} | {part('smic', m)} | (same run) | the same "
                     "models' last-epoch predictions = what `--select last` gives |")
    if cost:
        L += ["", "CPU cost, measured here (process time of one training epoch on 435 samples, 1 thread) and "
              "extrapolated to a 68-fold LOSO with each model's default epoch budget:", "",
              "| model | s / epoch | epochs | 68-fold LOSO, CPU hours |", "|---|---|---|---|"]
        L += [f"| {r['model']} | {r['epoch_s']:.2f} | {r['epochs']} | {r['loso_h']:.2f} |" for r in cost]
    L += ["", identity_note(work), "", "## 4. Published numbers (from `../shared/specs/sota.md`)", "",
          "| method | UF1 | UAR | selection |", "|---|---|---|---|"]
    L += [f"| {n} | {u:.4f} | {a:.4f} | {note} |" for n, u, a, note in PUBLISHED]
    L += [""]
    return "\n".join(L)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=REPO / "out" / "recognition")
    ap.add_argument("--only", action="append", help="run only these runs (repeatable)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args(argv)
    from microexp.io.atomic import write_text

    if not HTNET.is_dir():
        print(f"needs {HTNET}", file=sys.stderr)
        return 2
    if not args.report_only:
        for spec in RUNS:
            if args.only and spec[0] not in args.only:
                continue
            s = run_one(spec, args.work, args.workers)
            print(f"{spec[0]}: UF1 {s['metrics']['all']['uf1']:.4f} UAR {s['metrics']['all']['uar']:.4f}")
    pub = published_check() if STSTNET.is_dir() else None
    rep = representation_check() if BIWOOF.is_dir() else None
    write_text(RESULTS, report(args.work, pub, rep, epoch_cost()))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
