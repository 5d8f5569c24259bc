"""Probability-averaged ensembles of finished LOSO runs (over seeds, or over models of similar strength).

Each member is a ``microexp loso`` output folder: its ``predictions.csv`` holds, per test sample, the softmax
probabilities (``p_<class>`` columns) of the model its selection mode reported. The ensemble averages them
per sample and predicts the class with the highest mean (ties: the first class in label order). Every member
must cover the same samples with the same labels and use the same selection mode, so an ensemble is honest
exactly when its members are; nothing is fitted on the held-out subject.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from microexp.errors import ConfigError, InputError
from microexp.eval.bootstrap import percentile_ci, subject_bootstrap_uf1
from microexp.eval.recognition import evaluate_log
from microexp.io.atomic import write_json, write_with

KEY = ["subject", "sample"]
COMBINE = "mean of the members' softmax probabilities, argmax (ties -> first class in label order)"


def load_member(run_dir: str | Path) -> tuple[pd.DataFrame, dict, list[str]]:
    """(predictions with probabilities, summary, class list) of one finished LOSO run folder."""
    run_dir = Path(run_dir)
    pred_file, summ_file = run_dir / "predictions.csv", run_dir / "summary.json"
    for f in (pred_file, summ_file):
        if not f.is_file():
            raise InputError("missing; is this a finished `microexp loso` output folder?", f)
    try:
        log = pd.read_csv(pred_file)
        summary = json.loads(summ_file.read_text())
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise InputError(f"unreadable ({type(err).__name__})", pred_file) from None
    classes = [c[2:] for c in log.columns if c.startswith("p_")]
    if not classes:
        raise InputError("no class probabilities (p_<class> columns); the run predates them: rerun it into a "
                         "new folder", pred_file)
    missing = [c for c in (*KEY, "dataset", "true") if c not in log.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", pred_file)
    if log[[f"p_{c}" for c in classes]].isna().any().any():
        raise InputError("some samples have no class probabilities (folds from an older version)", pred_file)
    if log.duplicated(KEY).any():
        raise InputError("a (subject, sample) appears twice", pred_file)
    return log, summary, classes


def combine_members(logs: Sequence[pd.DataFrame], classes: list[str], names: Sequence[str]) -> pd.DataFrame:
    """Mean probabilities and their argmax over members that cover the same samples with the same labels."""
    base = logs[0].set_index(KEY).sort_index()
    probs = [f"p_{c}" for c in classes]
    total = base[probs].to_numpy(dtype=np.float64).copy()
    for log, name in zip(logs[1:], names[1:], strict=True):
        other = log.set_index(KEY).sort_index()
        if not other.index.equals(base.index):
            raise InputError(f"covers other samples than {names[0]} ({len(other)} vs {len(base)} rows)", name)
        if not (other["true"].astype(str) == base["true"].astype(str)).all():
            raise InputError(f"labels differ from {names[0]}", name)
        total += other[probs].to_numpy(dtype=np.float64)
    mean = total / len(logs)
    out = base[["dataset", "true"]].copy()
    out["pred"] = [classes[i] for i in mean.argmax(axis=1)]
    for j, c in enumerate(probs):
        out[c] = mean[:, j]
    return out.reset_index()


def ensemble_runs(run_dirs: Sequence[str | Path], out: str | Path | None = None, *, n_boot: int = 2000,
                  boot_seed: int = 0) -> dict:
    """Average the members' probabilities; returns (and under ``out`` writes) the summary and predictions.

    The summary has the ensemble's and each member's pooled metrics and subject-level bootstrap 95 % CIs of
    UF1, all on the same resampled subjects, plus the paired CI of (ensemble - each member).
    """
    dirs = [Path(d) for d in run_dirs]
    if len(dirs) < 2:
        raise ConfigError(f"an ensemble needs at least two runs, got {len(dirs)}")
    if len({d.resolve() for d in dirs}) != len(dirs):
        raise ConfigError("the same run is given twice")
    loaded = [load_member(d) for d in dirs]
    classes = loaded[0][2]
    for (_, _, cl), d in zip(loaded[1:], dirs[1:], strict=True):
        if cl != classes:
            raise InputError(f"classes {cl} differ from {classes} of {dirs[0]}", d / "predictions.csv")
    selects = {s.get("select") for _, s, _ in loaded}
    if len(selects) != 1:
        raise ConfigError(f"members use different model selection ({', '.join(sorted(map(str, selects)))}); "
                          "ensemble runs of one selection mode")
    select = selects.pop()
    names = [str(d) for d in dirs]
    log = combine_members([lg for lg, _, _ in loaded], classes, names)
    log["select"] = select
    # member predictions on the ensemble's row order, for paired bootstrap intervals
    cols = ["pred"]
    for k, (lg, _, _) in enumerate(loaded):
        m = lg.set_index(KEY)["pred"]
        log[f"member{k}"] = m.loc[list(zip(log["subject"], log["sample"], strict=True))].to_numpy()
        cols.append(f"member{k}")
    boot = subject_bootstrap_uf1(log, classes, columns=cols, n_boot=n_boot, seed=boot_seed)
    members = []
    for k, ((lg, s, _), d) in enumerate(zip(loaded, dirs, strict=True)):
        members.append({"run": str(d), "model": s.get("model"), "config": s.get("config"), "seed": s.get("seed"),
                        "metrics": _metrics(lg.assign(pred=lg["pred"].astype(str)), classes),
                        "uf1_ci95": list(percentile_ci(boot[:, k + 1])),
                        "ensemble_minus_member_uf1_ci95": list(percentile_ci(boot[:, 0] - boot[:, k + 1]))})
    summary = {
        "ensemble": True, "combine": COMBINE, "select": select, "oracle": select != "last" and "ORACLE" in select,
        "models": sorted({str(m["model"]) for m in members}), "seeds": [m["seed"] for m in members],
        "samples": len(log), "metrics": _metrics(log, classes), "uf1_ci95": list(percentile_ci(boot[:, 0])),
        "bootstrap": {"unit": "subject", "n_boot": n_boot, "seed": boot_seed, "level": 0.95},
        "members": members,
    }
    if out is not None:
        out = Path(out)
        keep = [*KEY, "dataset", "true", "pred", *[f"p_{c}" for c in classes], "select"]
        write_with(out / "predictions.csv", lambda p: log[keep].to_csv(p, index=False))
        write_json(out / "summary.json", summary)
    return summary


def _metrics(log: pd.DataFrame, classes: list[str]) -> dict:
    table = evaluate_log(log, classes, by="dataset", absent="ignore")
    return {part: {k: float(v) if k != "n" else int(v) for k, v in r.items()}
            for part, r in table.to_dict(orient="index").items()}
