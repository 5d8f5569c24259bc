"""refcnn3d with and without ``exclude_other`` on LOSO folds never used to choose it (issue 15).

The diagnosis (``spotting_learned_diag.py --exclude-other``) looked at the test AUC of the casme_sq-like suite's
first six folds; this script fixes the setting first and scores it on the *other* folds (7–20 in natural order),
which no earlier run trained or scored with refcnn3d, against the same model without the option on the same
folds, OF-FD and the no-learning frame difference. Budget: ``spotting_learned.py``'s refcnn3d budget unchanged
(32 px crops, 4 epochs, lr 1e-3, 5 training frames per second, p 0.6, LCN, seed 0), ME model only (part A).
Part B, decided after part A: ME and MaE models together, the ME intervals inside a MaE interval set aside, on a
newly generated casme_sq-like suite (other faces, another generator seed) scored on every fold.

    .venv/bin/python benchmarks/spotting_exclude_other.py               # → results/spotting_exclude_other.{md,json}
    .venv/bin/python benchmarks/spotting_exclude_other.py --work DIR    # the spotting_learned.py work folder

The suite, its crop cache and OF-FD's outputs come from ``spotting_learned.py``'s work folder (built there if
missing); every LOSO run is resumable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FIRST_FRESH = 6  # folds 0-5 of the cas suite were looked at by the diagnosis; these are never scored here
SEED = 0
# Part B, decided after part A was scored: the ME model (exclude_other) beside the MaE model, whose intervals set
# the ME intervals inside them aside (``learned.set_aside_me_in_mae``). Scored on a newly generated casme_sq-like
# suite (other faces, another generator seed, every fold), fixed here before any fold of it was trained or scored.
FRESH_FACES = 46  # composite-set faces from the 46th on: none of them is in the cas, samm or tiny suites


def fresh_suite():
    sys.path.insert(0, str(HERE))
    from spotting_learned import Suite

    return Suite("casme_sq", 16, 2, 20.0, 6.0, 22.0, face_offset=FRESH_FACES, seed=16)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("MICROEXP_BENCH",
                                                                       Path.home() / ".cache/microexp/learnbench")))
    ap.add_argument("--jobs", type=int, default=2, help="LOSO folds in parallel (one torch thread each)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    import cv2
    import torch
    from spotting_learned import SUITES

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    t_start = time.perf_counter()
    work = args.work / "full"
    work.mkdir(parents=True, exist_ok=True)
    parts = {"A": study(work, "cas", SUITES["cas"], FIRST_FRESH, ("me",), args.jobs),
             "B": study(work, "cas2", fresh_suite(), 0, ("me", "mae"), args.jobs)}
    result = {"parts": parts, "seed": SEED, "wall_s": round(time.perf_counter() - t_start)}
    args.out.mkdir(parents=True, exist_ok=True)
    _write(args.out / "spotting_exclude_other.json", json.dumps(result, indent=1))
    _write(args.out / "spotting_exclude_other.md", _markdown(result))
    print(_markdown(result))


def study(work: Path, name: str, suite, first_fold: int, kinds: tuple, jobs: int) -> dict:
    """refcnn3d (LCN, seed 0, the benchmark's budget) with and without ``exclude_other`` on the folds of one suite
    from ``first_fold`` on, next to OF-FD and the frame difference on the same test videos."""
    from spotting_learned import (
        CROP,
        OFFD_PRESET,
        Job,
        aucs,
        frame_difference,
        job_config,
        make_suite,
        run_offd,
    )

    from microexp.experiments.executor import make_executor
    from microexp.experiments.splits import safe_name
    from microexp.io.frames import natural_key
    from microexp.spotting.postprocess import window_mean
    from microexp.spotting.registry import get, load_checkpoint
    from microexp.spotting.train import get_sequences, load_spot_data, normalized, run_loso

    suite_dir = make_suite(work, name, suite, jobs)
    data = normalized(load_spot_data(f"synth:{suite_dir}"))
    seqs = get_sequences(data, CROP, work / "cache")
    subjects = sorted({v.subject for v in data.videos}, key=natural_key)[first_fold:]
    videos = [v.video for v in data.videos if v.subject in subjects]
    entry = get("refcnn3d")
    runs: dict[str, dict] = {}
    for tag, flag in (("without", False), ("exclude_other", True)):
        cfg = replace(job_config(Job("cas", "refcnn3d", True, SEED)), kinds=kinds, exclude_other=flag)
        out = work / f"xo_{name}_refcnn3d_{'_'.join(kinds)}_{tag}_s{SEED}"
        with make_executor("local", workers=jobs, threads_per_task=1) as ex:
            summary = run_loso("refcnn3d", data, out, cfg, seqs=seqs, subjects=subjects, executor=ex)
        curves, pred, level = {}, [], []
        for subj in subjects:
            fold = json.loads((out / "folds" / f"{safe_name(subj)}.json").read_text())["result"]
            pred += _rows(fold["predictions"])
            ckpt = load_checkpoint(out / "folds" / f"{safe_name(subj)}.weights.pt", "refcnn3d")
            for kind in kinds:
                model, meta = entry.unpack(ckpt["models"][kind], 1.0)
                for v in data.videos:
                    if v.subject == subj:
                        curves.setdefault(v.video, {})[kind] = np.asarray(
                            entry.score(model, meta, seqs[v.video], kind).raw)
                        if kind == "mae":  # where the MaE curve sits: its 2k-smoothed mean and max per video
                            sm = window_mean(curves[v.video][kind], meta["k"])
                            level.append((float(sm.mean()), float(sm.max())))
        runs[tag] = {"curves": curves, "pred": pd.DataFrame(pred, columns=["video", "onset", "offset", "type"]),
                     "train_s": summary["train_s"],
                     "mae_curve": None if not level else {
                         "mean": [round(min(m for m, _ in level), 3), round(max(m for m, _ in level), 3)],
                         "max": [round(min(x for _, x in level), 3), round(max(x for _, x in level), 3)]},
                     "budget": {k: v for k, v in cfg.__dict__.items()
                                if k in ("epochs", "lr", "frame_stride", "size", "p", "neg_keep", "max_neg_per_pos")}}
    offd = run_offd(work, name, data, OFFD_PRESET[suite.preset], jobs)
    diff = frame_difference(data, seqs)
    gt = data.gt[data.gt["video"].isin(videos)]
    rows = {}
    for label, curves, pred in (
            ("refcnn3d (LCN), without", runs["without"]["curves"], runs["without"]["pred"]),
            ("refcnn3d (LCN), exclude_other", runs["exclude_other"]["curves"], runs["exclude_other"]["pred"]),
            ("OF-FD (training-free)", offd["curves"], offd["pred"]),
            ("frame difference (no learning)", diff, None)):
        curves = {v: c for v, c in curves.items() if v in videos}
        row = {"per_fold_me_auc": {s: _fold_auc(aucs, data, {v: curves[v] for v in curves if v in
                                                              {x.video for x in data.videos if x.subject == s}})
                                   for s in subjects}}
        for kind in kinds:
            a = aucs(data, curves, kind)
            row[f"{kind}_auc"], row[f"{kind}_auc_all"] = round(a["auc"], 4), round(a["auc_all"], 4)
        if pred is not None:
            p = pred[pred["video"].astype(str).isin(videos)]
            p = p[p["type"].isin(kinds)]
            row["me_on_mae"] = _on_mae(gt, p)
            for sem in ("megc2020", "softnet"):
                table = evaluate_table(gt[gt["type"].isin(kinds)], p, sem)
                for typ in (*kinds, "overall"):
                    row[f"{sem}_{typ}"] = table[typ]
        rows[label] = row
    return {"suite": name, "subjects": len(sorted({v.subject for v in data.videos})), "folds": subjects,
            "kinds": list(kinds), "n_gt": {k: int((gt["type"] == k).sum()) for k in kinds},
            "budget": runs["without"]["budget"], "train_s": {k: r["train_s"] for k, r in runs.items()},
            "mae_curve": {k: r["mae_curve"] for k, r in runs.items()},
            "rows": rows}


def evaluate_table(gt: pd.DataFrame, pred: pd.DataFrame, semantics: str) -> dict:
    from microexp.eval.spotting import evaluate

    t = evaluate(gt, pred[["video", "onset", "offset", "type"]], semantics).table
    return {typ: {c: (int(t.loc[typ, c]) if c in ("n_pred", "tp", "fp", "fn", "n_gt") else
                      round(float(t.loc[typ, c]), 4))
                  for c in ("n_pred", "tp", "fp", "fn", "n_gt", "precision", "recall", "f1")}
            for typ in t.index}


def _fold_auc(aucs, data, curves: dict):
    """Per-fold ME AUC; None where the held-out subject has no ME (AUC undefined)."""
    try:
        a = aucs(data, curves, "me")["auc"]
    except ValueError:
        return None
    return None if a is None else round(a, 4)


def _on_mae(gt: pd.DataFrame, pred: pd.DataFrame) -> int:
    """ME predictions that overlap a macro-expression of the truth (a false alarm the other type explains)."""
    mae = gt[gt["type"] == "mae"]
    n = 0
    for r in pred[pred["type"] == "me"].itertuples():
        g = mae[mae["video"] == str(r.video)]
        n += bool(((g["onset"] <= r.offset) & (g["offset"] >= r.onset)).any())
    return n


def _rows(p) -> list[dict]:
    if isinstance(p, dict):  # column-oriented
        keys = list(p)
        return [dict(zip(keys, vals, strict=True)) for vals in zip(*(p[k] for k in keys), strict=True)]
    return list(p)


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _markdown(r: dict) -> str:
    a, b = r["parts"]["A"], r["parts"]["B"]
    lines = ["# refcnn3d with and without `exclude_other`, on folds never used to choose it", "",
             "Produced by `.venv/bin/python benchmarks/spotting_exclude_other.py` (numbers also in "
             f"`spotting_exclude_other.json`; this invocation {r['wall_s'] / 60:.0f} min, finished stages are reused "
             "from the work folder).", "",
             f"* Budget (unchanged from `spotting_learned.py`): {a['budget']}; LCN; seed {r['seed']}; last epoch. "
             "`exclude_other`: the other type's GT frames are marked face-less in the training videos, so no "
             "training frame or reference frame t ± k lies in them (docs/spotting.md).",
             "* ME AUC: per-frame ROC-AUC of the ME score curve pooled over the folds' test videos (positives: frames "
             "in an ME; negatives: frames outside every expression); *(all)*: negatives are every other frame, the "
             "macro-expressions' too. F1: MEGC2020 (`count_found_gt`) semantics (SOFTNet's in the JSON). "
             "ME on a MaE: ME predictions that overlap a macro-expression of the truth.", "",
             f"## A. ME model only, casme_sq-like suite of `spotting_learned.py`, folds {a['folds'][0]} … "
             f"{a['folds'][-1]}", "",
             f"{len(a['folds'])} folds, {a['n_gt']['me']} MEs in their test videos. The option was proposed after "
             "looking at the test AUC of the first six folds (`spotting_learned_diag.py --exclude-other`); it was "
             "fixed as diagnosed before any of these folds was trained. Training "
             f"{a['train_s']['without']:.0f} s / {a['train_s']['exclude_other']:.0f} s summed over folds.", "",
             "| spotter | ME AUC | ME AUC (all) | ME F1 | TP / FP / FN | ME on a MaE |", "|---|---|---|---|---|---|"]
    for label, row in a["rows"].items():
        m = row.get("megc2020_me")
        lines.append(f"| {label} | {row['me_auc']:.3f} | {row['me_auc_all']:.3f} | "
                     + (f"{m['f1']:.3f} | {m['tp']} / {m['fp']} / {m['fn']} | {row['me_on_mae']} |" if m
                        else "– | – | – |"))
    lines += ["", "Per fold (ME AUC; – where the held-out subject has no ME):", "",
              "| fold | " + " | ".join(a["rows"]) + " |", "|---" * (len(a["rows"]) + 1) + "|"]
    for s in a["folds"]:
        vals = [a["rows"][n]["per_fold_me_auc"].get(s) for n in a["rows"]]
        lines.append(f"| {s} | " + " | ".join("–" if v is None else f"{v:.3f}" for v in vals) + " |")
    lines += ["", f"## B. ME and MaE models, a new casme_sq-like suite ({b['subjects']} subjects, all folds)", "",
              f"Other composite-set faces (from the {FRESH_FACES}th on), generator seed 16, otherwise as part A's suite; "
              f"{b['n_gt']['me']} ME and {b['n_gt']['mae']} MaE. Decided after part A and fixed before any fold of it "
              "was trained or scored: with `exclude_other` the ME model's intervals that overlap one of the MaE model's are set "
              "aside (`learned.set_aside_me_in_mae`; `microexp spot` applies it to such checkpoints too). Training "
              f"{b['train_s']['without']:.0f} s / {b['train_s']['exclude_other']:.0f} s summed over folds.", "",
              "| spotter | ME AUC | MaE AUC | ME F1 | ME TP / FP / FN | ME on a MaE | MaE F1 | overall F1 |",
              "|---|---|---|---|---|---|---|---|"]
    for label, row in b["rows"].items():
        m, x, o = row.get("megc2020_me"), row.get("megc2020_mae"), row.get("megc2020_overall")
        lines.append(f"| {label} | {row['me_auc']:.3f} | {row['mae_auc']:.3f} | "
                     + (f"{m['f1']:.3f} | {m['tp']} / {m['fp']} / {m['fn']} | {row['me_on_mae']} | {x['f1']:.3f} | "
                        f"{o['f1']:.3f} |" if m else "– | – | – | – | – |"))
    c = b["mae_curve"]["exclude_other"]
    if c:
        lines += ["", "Where the MaE model's curve sits (`exclude_other` run; its 2k-smoothed curve per test video, the "
                  "target being 1 inside a MaE label and 0 outside): means "
                  f"{c['mean'][0]:.2f}–{c['mean'][1]:.2f}, maxima {c['max'][0]:.2f}–{c['max'][1]:.2f}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
