"""Is refcnn3d's CPU budget what keeps it from learning? Per-frame ME AUC against training epochs (issue 15).

`spotting_learned.py` trains refcnn3d for 4 epochs on 32-px crops; its ME model ends near the constant
predictor's loss and scores ME AUC 0.54 on test subjects and about the same on its *own training videos*. This
script trains the ME model of the first ``--folds`` LOSO folds of the same ``casme_sq``-like suite with the same
budget except the number of epochs (``EPOCHS``, 16x the benchmark's), and after each epoch in ``SNAPSHOTS``
scores the per-frame ME AUC on the fold's first ``N_TRAIN_VIDEOS`` training videos and on the held-out subject's
videos. One run per fold gives the whole curve (constant learning rate, no schedule: the model after epoch n is
the model a run of n epochs ends with). The held-out AUC is reported only; nothing is chosen on it.

The rule for a budget, written before this ran: the smallest snapshot epoch whose *training* ME AUC (mean over
the folds) is within 0.01 of the largest; ``budget_epochs`` in the JSON. The held-out columns play no part.

Settings (fixed before the run): ``EPOCHS``, ``SNAPSHOTS``, ``N_TRAIN_VIDEOS`` below; seed 0; everything else
from ``spotting_learned.REFCNN``. The epoch-4 snapshot repeats the benchmark's own fold model (same seed and
sampling), which the script checks against the benchmark's saved test curves when they are there.

    .venv/bin/python benchmarks/spotting_learned_budget.py [--work DIR] [--folds 6] [--jobs 2] [--exclude-other]
    .venv/bin/python benchmarks/spotting_learned_budget.py --arch mesnet   # MESNet: 16 epochs, first 2 folds

``--work``: the same folder as `spotting_learned.py --work` (default ``$MICROEXP_BENCH``).

Needs the suite and crop cache of `spotting_learned.py` in the work folder (run it first, or `--prepare`).
Writes ``benchmarks/results/spotting_learned_budget.{md,json,png}`` (``--exclude-other``: the ME model trained
without the macro-expressions' frames, ``..._exclude_other.{md,json,png}``; ``--arch mesnet``:
``..._mesnet.{md,json,png}``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import spotting_learned as bench  # noqa: E402  (the benchmark's suites, budgets and AUC)

EPOCHS = 64
SNAPSHOTS = (0, 1, 2, 4, 8, 16, 32, 64)  # 0: before training (the first layer a temporal difference)
# MESNet (``--arch mesnet``): about 60 s per epoch and fold on one core, so 16 epochs (8x the benchmark's 2) on the
# first 2 folds; the same rule picks a budget.
PLAN = {"refcnn3d": (EPOCHS, SNAPSHOTS, bench.REFCNN), "mesnet": (16, (0, 1, 2, 4, 8, 16), bench.MESNET)}
N_TRAIN_VIDEOS = 4
SEED = 0
KIND = "me"


def run_fold(args: tuple) -> dict:
    """Train one fold's ME model for ``EPOCHS`` epochs; AUCs after each snapshot epoch."""
    import cv2
    import torch

    from microexp.spotting.mesnet import frame_curve
    from microexp.spotting.refcnn3d import refcnn3d_curve
    from microexp.spotting.train import fit_kind, get_sequences, load_spot_data, normalized

    subject, suite_dir, work, exclude_other, arch = args
    epochs, snapshots, budget = PLAN[arch]
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    data = normalized(load_spot_data(f"synth:{suite_dir}"))
    seqs = get_sequences(data, bench.CROP, Path(work) / "cache")
    cfg = replace(bench.job_config(bench.Job("cas", arch, True, SEED)), epochs=epochs, kinds=(KIND,),
                  exclude_other=exclude_other)

    def curve(model, seq):
        return refcnn3d_curve(model, seq, cfg.loss) if arch == "refcnn3d" else frame_curve(model, seq)

    train_v = [v for v in data.videos if v.subject != subject]
    test_v = [v for v in data.videos if v.subject == subject]
    looked = {"train": [v.video for v in train_v[:N_TRAIN_VIDEOS]], "test": [v.video for v in test_v]}
    rows, curves4, test_curves = [], {}, {}

    def snapshot(epoch: int, model, losses: list[float]) -> None:
        if epoch not in snapshots:
            return
        row = {"epoch": epoch, "loss": losses[-1] if losses else None}
        for part, videos in looked.items():
            curves = {v: {KIND: curve(model, seqs[v])} for v in videos}
            has_me = any(bench.frame_labels(data, v, len(c[KIND]), KIND).any() for v, c in curves.items())
            row[f"{part}_auc"] = bench.aucs(data, curves, KIND)["auc"] if has_me else None
            if part == "test":
                test_curves[epoch] = {v: c[KIND].tolist() for v, c in curves.items()}
                if epoch == budget["epochs"]:
                    curves4.update({v: c[KIND] for v, c in curves.items()})
        rows.append(row)

    t0 = time.perf_counter()
    fit_kind(arch, data, seqs, subject, cfg, KIND, on_epoch=snapshot)  # the fold's model, as LOSO trains it
    repeat = None
    saved = Path(work) / bench.Job("cas", arch, True, SEED).tag / "curves.npz"
    if saved.is_file() and not exclude_other:
        with np.load(saved) as z:
            diffs = [float(np.abs(z[f"{v}|{KIND}"] - c).max()) for v, c in curves4.items() if f"{v}|{KIND}" in z]
        repeat = max(diffs) if diffs else None
    return {"subject": subject, "rows": rows, "test_curves": test_curves, "fit_s": round(time.perf_counter() - t0, 1),
            "n_train_videos": len(train_v), "looked": looked,
            f"epoch{budget['epochs']}_vs_benchmark_max_abs_diff": repeat}


def fmt(x, digits: int = 3) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def mean_of(folds: list[dict], epoch: int, key: str) -> float:
    """Mean over the folds that have the value (a fold whose test videos hold no ME has no test AUC)."""
    vals = [r[key] for f in folds for r in f["rows"] if r["epoch"] == epoch and r[key] is not None]
    vals = [v for v in vals if np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def pooled_test_auc(folds: list[dict], data, epoch: int) -> float:
    """Test curves of every fold pooled, as the benchmark page pools its folds."""
    curves = {v: {KIND: np.asarray(c)} for f in folds for v, c in f["test_curves"][epoch].items()}
    return bench.aucs(data, curves, KIND)["auc"]


def budget_epochs(folds: list[dict], snapshots=SNAPSHOTS) -> tuple[int, dict]:
    """The smallest snapshot epoch within 0.01 of the best mean training ME AUC, and those means."""
    mean = {e: mean_of(folds, e, "train_auc") for e in snapshots}
    best = max(mean.values())
    return min(e for e, a in mean.items() if a >= best - 0.01), mean


def write_page(folds: list[dict], out: Path, data, frame_diff_auc: float, exclude_other: bool = False,
               arch: str = "refcnn3d") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from microexp.io.atomic import write_json, write_text

    epochs, snapshots, budget = PLAN[arch]
    mesnet = arch == "mesnet"
    stem = "spotting_learned_budget" + ("_mesnet" if mesnet else "") + ("_exclude_other" if exclude_other else "")
    flag = (" --arch mesnet" if mesnet else "") + (" --exclude-other" if exclude_other else "")
    lines = [f"# {arch}: ME AUC against training epochs (is the budget the limit?)"
             + (" — with `exclude_other`" if exclude_other else ""), "",
             f"Produced by `.venv/bin/python benchmarks/spotting_learned_budget.py{flag}` (numbers also in "
             f"`{stem}.json`). "
             + ("The ME model's training samples leave out the macro-expressions' frames (`exclude_other`, as "
                "`spotting_exclude_other.py`; the benchmark's default trains on every frame). " if exclude_other
                else "")
             + "The `casme_sq`-like suite, crops, seed and budget of "
             + (f"`spotting_learned.py` (MESNet, 32-px crops, windows of {budget['model']['window']} frames, lr "
                f"{budget['lr']}, batch {budget['batch']}), ME only, {epochs} epochs instead of {budget['epochs']}, "
                f"on the first {len(folds)} folds (CPU budget); AUCs of the frame curve (the best CPN anchor "
                "probability covering each frame, as on the benchmark page) before training (epoch 0) and after "
                f"epochs {', '.join(map(str, snapshots[1:]))} on the fold's first "
                if mesnet else
                f"`spotting_learned.py` (refcnn3d with LCN, 32-px crops, lr {bench.REFCNN['lr']}, batch "
                f"{bench.REFCNN['batch']}, SOFTNet negative subsampling), ME model only, {EPOCHS} epochs instead of "
                f"{bench.REFCNN['epochs']}; AUCs before training (epoch 0) and after epochs "
                f"{', '.join(map(str, SNAPSHOTS[1:]))} on the fold's first ")
             + f"{N_TRAIN_VIDEOS} training videos (*train*) and on the held-out subject's videos (*test*, reported "
             "only). Per-frame AUC as on the benchmark page: positives = frames inside an ME, negatives = frames "
             "outside every expression."
             + (" The loss is CPN + CRN (`fit_mesnet`)." if mesnet else
                " The constant predictor's loss is 0.1875 (one positive per three negatives)."), "",
             "| fold (test subject) | epoch | training loss | train ME AUC | test ME AUC |", "|---|---|---|---|---|"]
    for f in folds:
        for r in f["rows"]:
            lines.append(f"| {f['subject']} | {r['epoch']} | {fmt(r['loss'], 4)} | {fmt(r['train_auc'])} | "
                         f"{fmt(r['test_auc'])} |")
    pooled = {e: pooled_test_auc(folds, data, e) for e in snapshots}
    no_me = [f["subject"] for f in folds if any(r["test_auc"] is None for r in f["rows"])]
    lines += ["", "| epoch | mean training loss | mean train ME AUC | mean test ME AUC | pooled test ME AUC |",
              "|---|---|---|---|---|"]
    lines += [f"| {e} | {fmt(mean_of(folds, e, 'loss'), 4)} | {mean_of(folds, e, 'train_auc'):.3f} | "
              f"{mean_of(folds, e, 'test_auc'):.3f} | {pooled[e]:.3f} |" for e in snapshots]
    lines += ["", (f"Means over folds skip a fold without a value: the test videos of {', '.join(no_me)} hold no ME "
                   "(– above). " if no_me else "")
              + "*Pooled*: every fold's test curves scored together, as on the benchmark page"
              + (". " if exclude_other or mesnet else " (its 6-fold ME AUC 0.540 is the pooled value at epoch 4 with "
                 "the MaE model also trained; the ME model is the same). ")
              + f"No learning, on the same test videos and crops: frame difference (`spotting_learned.frame_difference`) "
              f"pooled ME AUC **{frame_diff_auc:.3f}**."]
    lines.append("")
    chosen, mean_train = budget_epochs(folds, snapshots)
    lines.append("Mean training ME AUC per epoch: " + ", ".join(f"{e}: {a:.3f}" for e, a in mean_train.items())
                 + f". By the rule fixed before the run (smallest epoch within 0.01 of the best *training* AUC; "
                 f"held-out AUCs play no part): **{chosen} epochs**.")
    lines.append("")
    for f in folds:
        rep = f[f"epoch{budget['epochs']}_vs_benchmark_max_abs_diff"]
        lines.append(f"* fold {f['subject']}: {f['n_train_videos']} training videos, {f['fit_s']:.0f} s for "
                     f"{epochs} epochs with the snapshots; epoch-{budget['epochs']} test curve vs the benchmark's "
                     "saved fold model: "
                     + ("not compared (the benchmark has no run of this variant on these folds)" if exclude_other
                        else "not compared (the benchmark's run is not in the work folder)" if rep is None
                        else f"max |difference| {rep:.2e}"))
    lines += ["", f"![AUC and loss against epochs]({stem}.png)", ""]
    write_text(out / f"{stem}.md", "\n".join(lines))
    write_json(out / f"{stem}.json", {"exclude_other": exclude_other, "budget_epochs": chosen,
                                      "mean_train_auc": mean_train, "pooled_test_auc": pooled,
                                      "frame_difference_test_auc": frame_diff_auc,
                                      "epochs": epochs, "snapshots": list(snapshots),
                                      "n_train_videos": N_TRAIN_VIDEOS, "seed": SEED,
                                      "budget": budget,
                                      "folds": [{k: v for k, v in f.items() if k != "test_curves"} for f in folds]})
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    ep = list(snapshots)
    for f in folds:
        a.plot(ep, [r["train_auc"] for r in f["rows"]], "-", color="tab:blue", lw=0.6, alpha=0.5)
        a.plot(ep, [r["test_auc"] for r in f["rows"]], "-", color="tab:orange", lw=0.6, alpha=0.5)
        b.plot(ep[1:], [r["loss"] for r in f["rows"]][1:], "-", color="tab:blue", lw=0.6, alpha=0.5)
    for part, colour in (("train", "tab:blue"), ("test", "tab:orange")):
        a.plot(ep, [mean_of(folds, e, f"{part}_auc") for e in ep], "o-", color=colour, lw=2,
               label=f"{part} (mean of {len(folds)} folds; thin: each fold)")
    a.plot(ep, [pooled[e] for e in ep], "s--", color="tab:red", lw=1.5, label="test, pooled over folds")
    a.axhline(frame_diff_auc, color="tab:green", ls="--", lw=1, label="frame difference (no learning), pooled test")
    b.plot(ep[1:], [mean_of(folds, e, "loss") for e in ep[1:]], "o-", color="tab:blue", lw=2, label="mean")
    a.set_xscale("symlog", base=2, linthresh=1)
    b.set_xscale("symlog", base=2, linthresh=1)
    a.axhline(0.5, color="grey", lw=0.8)
    a.axvline(budget["epochs"], color="grey", ls=":", lw=0.8)
    a.set(xlabel="epoch", ylabel="per-frame ME AUC", title="ME AUC (dotted: the benchmark's budget)")
    if mesnet:
        b.set(xlabel="epoch", ylabel="training loss (CPN + CRN)", title="loss")
    else:
        b.axhline(0.1875, color="grey", lw=0.8)
        b.set(xlabel="epoch", ylabel="training loss (MSE)", title="loss (grey: constant predictor)")
    a.legend(fontsize=7)
    b.legend(fontsize=7)
    for ax in (a, b):
        ax.set_xticks(ep, [str(e) for e in ep])
    fig.tight_layout()
    fig.savefig(out / f"{stem}.png", dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("MICROEXP_BENCH",
                                                                       Path.home() / ".cache/microexp/learnbench")),
                    help="spotting_learned.py's --work (its full-size suites are in WORK/full)")
    ap.add_argument("--arch", choices=list(PLAN), default="refcnn3d")
    ap.add_argument("--folds", type=int, default=None,
                    help="the first N folds (default: refcnn3d 6, as spotting_learned runs it; mesnet 2)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--exclude-other", action="store_true",
                    help="train the ME model without the macro-expressions' frames (writes *_exclude_other.*)")
    args = ap.parse_args(argv)
    from microexp.io.frames import natural_key
    from microexp.spotting.train import load_spot_data, normalized

    work = args.work / "full"
    suite_dir = work / "suite_cas"
    if not (suite_dir / "suite.json").is_file():
        raise SystemExit(f"{suite_dir}: no suite; run benchmarks/spotting_learned.py --prepare first")
    data = normalized(load_spot_data(f"synth:{suite_dir}"))
    if args.arch == "mesnet" and args.exclude_other:
        raise SystemExit("--exclude-other applies to refcnn3d only")
    n_folds = args.folds or (6 if args.arch == "refcnn3d" else 2)
    subjects = sorted({v.subject for v in data.videos}, key=natural_key)[:n_folds]
    bench.log(f"{args.arch}: folds {subjects}, {PLAN[args.arch][0]} epochs, snapshots {PLAN[args.arch][1]}")
    import multiprocessing as mp

    with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn")) as pool:
        folds = list(pool.map(run_fold, [(s, str(suite_dir), str(work), args.exclude_other, args.arch)
                                         for s in subjects]))
    from microexp.spotting.train import get_sequences

    tested = {v for f in folds for v in f["looked"]["test"]}
    diff = bench.frame_difference(data, get_sequences(data, bench.CROP, work / "cache"))
    fd = bench.aucs(data, {v: c for v, c in diff.items() if v in tested}, KIND)["auc"]
    write_page(folds, bench.RESULTS, data, fd, args.exclude_other, args.arch)
    bench.log(f"wrote the page in {bench.RESULTS}")


if __name__ == "__main__":
    main()
