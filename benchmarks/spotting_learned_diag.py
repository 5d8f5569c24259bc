"""Diagnostic for the learned-spotter benchmark (issue 15): refcnn3d with the benchmark's budget on some LOSO
folds of a suite in the ``spotting_learned.py`` work folder, printing per fold the training loss and the test
and training per-frame AUC of one type. ``--exclude-other`` drops the frames of the other type (and their ±k
neighbours) from the training samples, so the ME model's negatives are not dominated by macro-expressions.

    python benchmarks/spotting_learned_diag.py --work ~/.cache/microexp/learnbench/full --folds 0 --kind me
    python benchmarks/spotting_learned_diag.py --work … --folds 0 --kind me --exclude-other
    python benchmarks/spotting_learned_diag.py --work … --folds 0,1 --kind me --set epochs=8 --set model.diff_init=false

A diagnostic, not a benchmark: it shows why a setting learns or not; the benchmark's settings stay fixed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--suite", default="cas")
    ap.add_argument("--folds", default="0", help="comma-separated LOSO fold numbers (subjects in natural order)")
    ap.add_argument("--kind", default="me", choices=("me", "mae"))
    ap.add_argument("--exclude-other", action="store_true")
    ap.add_argument("--set", action="append", default=[], help="budget override KEY=JSON (model.KEY for the model)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    import cv2
    import torch
    from spotting_learned import CROP, Job, aucs, job_config

    from microexp.io.frames import natural_key
    from microexp.spotting.refcnn3d import refcnn3d_curve
    from microexp.spotting.train import fit_kind, get_sequences, load_spot_data, normalized

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    data = normalized(load_spot_data(f"synth:{args.work / f'suite_{args.suite}'}"))
    seqs = get_sequences(data, CROP, args.work / "cache")
    cfg = replace(job_config(Job(args.suite, "refcnn3d", True, 0)), kinds=(args.kind,))
    model_over = dict(cfg.model)
    for item in args.set:
        key, val = item.split("=", 1)
        if key.startswith("model."):
            model_over[key[6:]] = json.loads(val)
        else:
            cfg = replace(cfg, **{key: json.loads(val)})
    cfg = replace(cfg, model=model_over, exclude_other=args.exclude_other)
    subjects = sorted({v.subject for v in data.videos}, key=natural_key)

    print(json.dumps({"budget": {k: v for k, v in cfg.__dict__.items() if k in ("epochs", "lr", "frame_stride",
                                                                              "model")},
                      "exclude_other": args.exclude_other, "kind": args.kind}), flush=True)
    for f in args.folds.split(","):
        subj = subjects[int(f)]
        train = [v for v in data.videos if v.subject != subj]
        test = [v for v in data.videos if v.subject == subj]
        t0 = time.perf_counter()
        model, meta = fit_kind("refcnn3d", data, seqs, subj, cfg, args.kind, seed=0)
        score = {v.video: {args.kind: refcnn3d_curve(model, seqs[v.video], meta["objective"])} for v in test}
        fit = {v.video: {args.kind: refcnn3d_curve(model, seqs[v.video], meta["objective"])} for v in train[:4]}
        print(json.dumps({"fold": subj, "k": meta["k"], "loss": [round(x, 4) for x in meta["loss"]],
                          "test_auc": round(aucs(data, score, args.kind)["auc"], 3),
                          "train_auc": round(aucs(data, fit, args.kind)["auc"], 3),
                          "seconds": round(time.perf_counter() - t0)}), flush=True)


if __name__ == "__main__":
    main()
