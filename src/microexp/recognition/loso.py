"""Leave-one-subject-out training and evaluation of a recogniser, resumable and fold-parallel.

The folds, their seeds, the run fingerprint, the fold store and the executor come from
:mod:`microexp.experiments`; this module only says what one recognition fold does (:func:`run_fold` on a
self-contained, picklable :class:`FoldTask`) and how the finished folds become predictions and tables.
``executor`` is None (in-process), an executor from ``make_executor`` (local pool or Ray), or any callable
with the builtin ``map``'s signature that returns results in task order.

Selection modes (``microexp.eval.protocol``): ``last`` reports the last epoch; ``inner-val`` holds out
``n_val_subjects`` training subjects per fold (drawn from (seed, held-out subject) only) and reports the
checkpoint with the best validation UF1; ``oracle`` reports the checkpoint with the best UF1 *on the held-out
subject* — test peeking, present only to reproduce published numbers, and labelled ``ORACLE (test-selected)``
in every output.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from microexp.datasets.composite import COMPOSITE_CLASSES as CLASSES
from microexp.errors import InputError
from microexp.eval.protocol import check_select_mode, select_epoch, selection_label
from microexp.eval.recognition import evaluate_log
from microexp.experiments import (
    FoldStore,
    all_subjects,
    content_digest,
    fingerprint,
    fold_seed,
    loso_splits,
    run_experiment,
)
from microexp.io.atomic import write_json, write_text, write_with
from microexp.recognition.data import FlowSet
from microexp.recognition.registry import build, get_arch, make_config
from microexp.recognition.train import TrainConfig, predict_proba, train_model
from microexp.report.plots import plot_confusion


@dataclass
class FoldTask:
    """Everything one fold needs; no references to files or global state."""

    arch: str
    model_config: dict
    train_config: TrainConfig
    select: str
    seed: int
    test_subject: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray | None  # only given in oracle mode
    test_rows: list[int]
    val_subjects: tuple[str, ...] = ()


def run_fold(task: FoldTask) -> dict:
    """Train on the fold's training subjects and predict the held-out subject under the selection mode."""
    t0, c0 = time.perf_counter(), time.process_time()
    cfg = make_config(task.arch, task.model_config, flow=False)
    seed = fold_seed(task.seed, task.test_subject)
    sets: dict = {}
    if task.select == "inner-val":
        sets = {"val": (task.X_val, task.y_val), "test": (task.X_test, None)}
    elif task.select == "oracle":
        sets = {"test": (task.X_test, task.y_test)}
    res = train_model(lambda: build(task.arch, cfg), task.X_train, task.y_train, task.train_config,
                      seed=seed, score_sets=sets or None)
    if task.select == "last":
        probs = predict_proba(res.model, task.X_test)
        pred = probs.argmax(1)
        epoch = task.train_config.epochs
    else:
        n = len(res.epochs_scored)
        scores = res.scores["val"] if task.select == "inner-val" else res.scores["test"]
        k = select_epoch(task.select, n, val_scores=scores if task.select == "inner-val" else None,
                         test_scores=scores if task.select == "oracle" else None)
        probs = res.probs["test"][k]
        pred = res.preds["test"][k]
        epoch = res.epochs_scored[k]
    out = {"test_subject": task.test_subject, "val_subjects": list(task.val_subjects),
           "rows": list(map(int, task.test_rows)),
           "pred": [int(p) for p in pred], "proba": _proba_rows(probs), "epoch": int(epoch), "seconds": time.perf_counter() - t0,
           "cpu_seconds": time.process_time() - c0,
           "final_loss": float(res.losses[-1])}
    if task.select != "last":
        # the last checkpoint is the last epoch: the same prediction `--select last` gives (same seed, and
        # scoring consumes no randomness), kept so one run shows how much selection changes the result
        out["pred_last"] = [int(p) for p in res.preds["test"][-1]]
        out["proba_last"] = _proba_rows(res.probs["test"][-1])
    return out


def _proba_rows(probs: np.ndarray) -> list[list[float]]:
    """Per-sample softmax probabilities as JSON (one list per test row, classes in label order)."""
    return [[float(v) for v in row] for row in np.asarray(probs, dtype=np.float64)]


def run_loso(
    arch: str,
    data: FlowSet,
    out: str | Path,
    *,
    select: str = "last",
    seed: int = 0,
    subjects: list[str] | None = None,
    train_config: TrainConfig | None = None,
    model_overrides: dict | None = None,
    n_val_subjects: int = 6,
    executor=None,
    progress: Callable[[int, int | None], None] | None = None,
) -> dict:
    """Run (or resume) a LOSO evaluation; writes predictions.csv, summary.json, confusion.png under ``out``.

    Returns the summary dict. Folds already finished under ``out`` with the same settings are reused.
    """
    check_select_mode(select)
    arch_info = get_arch(arch)
    tcfg = train_config or arch_info.train
    mcfg = dataclasses.asdict(make_config(arch, model_overrides))
    out = Path(out)
    n_val = n_val_subjects if select == "inner-val" else 0
    folds = loso_splits(data.index, "subject", dataset_col="dataset", n_val_subjects=n_val, seed=seed,
                        subjects=subjects)
    X = data.inputs(with_apex=arch_info.with_apex)
    subjects_all = all_subjects(data.index, "subject", dataset_col="dataset")
    settings = {"arch": arch, "model": mcfg, "train": asdict(tcfg), "select": select, "seed": seed, "n_val": n_val}
    fp = fingerprint(settings=settings, subjects=subjects_all,
                     content=content_digest([X], data.index, ("sample", "subject", "dataset", "label")))
    store = FoldStore(out, fp, meta={"arch": arch, "model_config": mcfg, "train_config": asdict(tcfg),
                                     "select": selection_label(select), "seed": seed, "n_val_subjects": n_val,
                                     "subjects": subjects_all})
    y = data.index["label"].to_numpy().astype(np.int64)

    def make_task(f) -> FoldTask:
        return FoldTask(arch, mcfg, tcfg, select, seed, f.test_subject, X[f.train_idx], y[f.train_idx],
                        X[f.val_idx], y[f.val_idx], X[f.test_idx],
                        y[f.test_idx] if select == "oracle" else None, list(f.test_idx), f.val_subjects)

    res = run_experiment(folds, run_fold, store, make_task=make_task, executor=executor, progress=progress)
    done, elapsed = res.results, res.seconds
    return _write_outputs(out, arch, data, folds, done, select, seed, tcfg, mcfg, elapsed)


def _write_outputs(out: Path, arch: str, data: FlowSet, folds, done: dict, select: str, seed: int,
                   tcfg: TrainConfig, mcfg: dict, elapsed: float) -> dict:
    rows = []
    label = selection_label(select)
    classes = list(getattr(data, "classes", CLASSES))  # a protocol's label order (5-class sets too)
    for f in folds:
        r = done[f.test_subject]
        probas = r.get("proba") or [None] * len(r["rows"])  # folds from before probabilities were stored
        for i, p, q in zip(r["rows"], r["pred"], probas, strict=True):
            row = data.index.iloc[i]
            rows.append({"subject": f.test_subject, "sample": row["sample"], "dataset": row["dataset"],
                         "true": classes[int(row["label"])], "pred": classes[int(p)], "epoch": r["epoch"],
                         "select": label,
                         **({f"p_{c}": float(v) for c, v in zip(classes, q, strict=True)} if q else {})})
        if "pred_last" in r:
            for k, q in enumerate(r["pred_last"], start=len(rows) - len(r["rows"])):
                rows[k]["pred_last_epoch"] = classes[int(q)]
    if not rows:
        raise InputError("no predictions: every fold is empty")
    log = pd.DataFrame(rows)
    write_with(out / "predictions.csv", lambda p: log.to_csv(p, index=False))
    metrics = _metrics(log, "pred", classes)
    # CPU (process) seconds of the folds; folds written before this was recorded count their wall time
    fold_cpu = round(float(sum(done[f.test_subject].get("cpu_seconds", done[f.test_subject]["seconds"])
                               for f in folds)), 2)
    summary = {
        "model": arch, "config": get_arch(arch).label, "select": label, "oracle": select == "oracle", "seed": seed,
        "epochs": tcfg.epochs, "folds": len(folds), "samples": len(log),
        "metrics": metrics,
        "fold_cpu_seconds": fold_cpu, "wall_seconds_this_run": round(elapsed, 2),
        "train_config": asdict(tcfg), "model_config": mcfg,
        "data": str(data.root),
    }
    if select != "last" and "pred_last_epoch" in log.columns:
        summary["last_epoch_metrics"] = _metrics(log, "pred_last_epoch", classes)
    write_json(out / "summary.json", summary)
    write_with(out / "confusion.png", lambda p: plot_confusion(log, label, arch, metrics["all"], p, classes))
    write_text(out / "megc_log.txt", _megc_log(log, label, classes))
    return summary


def _metrics(log: pd.DataFrame, column: str, classes=CLASSES) -> dict:
    table = evaluate_log(log.assign(pred=log[column]), list(classes), by="dataset", absent="ignore")
    return {part: {k: float(v) if k != "n" else int(v) for k, v in r.items()}
            for part, r in table.to_dict(orient="index").items()}


def _megc_log(log: pd.DataFrame, label: str, classes=CLASSES) -> str:
    """MEGC per-sample log: a header per fold, then ``sample true pred``; selection mode on the first line."""
    lines = [f"# selection: {label}"]
    for subj, g in log.groupby("subject", sort=False):
        lines.append(f"{g['dataset'].iloc[0]} {subj.rpartition('/')[2]}")
        lines += [f"{s} {list(classes).index(t)} {list(classes).index(p)}" for s, t, p in zip(g["sample"], g["true"], g["pred"],
                                                                                 strict=True)]
    return "\n".join(lines) + "\n"


