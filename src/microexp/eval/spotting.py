"""Spotting scorer that reproduces the three scorers in use and says which one produced a number.

``semantics`` picks a preset; every behaviour in which the presets differ is also a named switch
(``../shared/specs/metrics.md`` §3):

* ``megc2020`` (default): the official MEGC2020 baseline (MDMD). TP = ground truths found by at least one
  prediction with IoU >= 0.5; FP = N_pred - TP; every video is scored.
* ``softnet``: greedy one-to-one; each prediction looks only at its best-IoU ground truth. Videos without
  ground truth of the type are skipped, a video without predictions costs one dummy FP, SAMM-LV macro rows
  with onset 0 are dropped.
* ``strs``: the spot-then-recognise scorer; each prediction (file order) claims every still-unmatched ground
  truth with IoU >= 0.5; FP = predictions that matched nothing.

Counts are pooled over the whole dataset (MEGC2019 definition), per type and overall (pooled counts, not the
mean of two F1s). IoU is over inclusive frame sets: ``[on, off]`` has ``off - on + 1`` frames.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
import pandas as pd

from microexp.errors import AnnotationError, ConfigError
from microexp.eval.megc_io import check_intervals
from microexp.experiments.splits import normalize_subject

MATCH_RULES = ("count_found_gt", "greedy_best_gt", "greedy_any_gt")
COUNT_COLUMNS = ["n_pred", "tp", "fp", "fn", "n_gt"]
TABLE_COLUMNS = COUNT_COLUMNS + ["precision", "recall", "f1"]
ROWS = ("me", "mae", "overall")
_SAMM_VIDEO = re.compile(r"^\d{3}_\d+$")


@dataclass(frozen=True)
class SpottingSettings:
    """Every switch that changes the numbers; printed with every report."""

    semantics: str = "megc2020"
    match: str = "count_found_gt"
    iou_threshold: float = 0.5
    score_videos_without_gt: bool = True
    drop_samm_macro_onset0: bool = False
    zero_length_iou_zero: bool = True
    cas_offset0_to_apex: bool = True
    empty_video_dummy_fp: bool = False
    count_fn_for_subjects_without_predictions: bool = True


SEMANTICS: dict[str, SpottingSettings] = {
    "megc2020": SpottingSettings(),
    "softnet": SpottingSettings(
        semantics="softnet", match="greedy_best_gt", score_videos_without_gt=False, drop_samm_macro_onset0=True,
        zero_length_iou_zero=False, empty_video_dummy_fp=True),
    # STRS: the reference ignores GTs of subjects without predictions; the spec says count them (switch).
    "strs": SpottingSettings(
        semantics="strs", match="greedy_any_gt", score_videos_without_gt=False, zero_length_iou_zero=False),
}
SWITCHES = tuple(f.name for f in fields(SpottingSettings) if f.name != "semantics")


def resolve_settings(semantics: str = "megc2020", **switches) -> SpottingSettings:
    """Preset for ``semantics`` with ``switches`` overriding single behaviours."""
    if semantics not in SEMANTICS:
        raise ConfigError(f"semantics must be one of {', '.join(SEMANTICS)}, got {semantics!r}")
    unknown = sorted(set(switches) - set(SWITCHES))
    if unknown:
        raise ConfigError(f"unknown spotting switch(es) {', '.join(unknown)}; known: {', '.join(SWITCHES)}")
    s = replace(SEMANTICS[semantics], **switches)
    if s.match not in MATCH_RULES:
        raise ConfigError(f"match must be one of {', '.join(MATCH_RULES)}, got {s.match!r}")
    if not 0 < float(s.iou_threshold) <= 1:
        raise ConfigError(f"iou_threshold must be in (0, 1], got {s.iou_threshold}")
    return s


def settings_tag(s: SpottingSettings) -> str:
    """Short name of a scorer: the preset plus any switch that differs from it, e.g. ``softnet+empty_video_dummy_fp=False``."""
    base = asdict(SEMANTICS[s.semantics])
    diffs = [f"{k}={v}" for k, v in asdict(s).items() if base[k] != v]
    return "+".join([s.semantics] + diffs)


@dataclass
class SpottingReport:
    """Counts and P/R/F1 per type (rows me, mae, overall) pooled over the dataset, per video, and a log.

    ``log`` has one line per TP pair, unmatched GT (FN) and *prediction that matched nothing* (FP). Under
    ``count_found_gt`` that FP line count can exceed the table's ``fp = n_pred - tp`` (one prediction may
    find two overlapping GTs). ``pairs`` lists (gt_row, pred_row, iou) of the matches: every hitting pair
    under ``count_found_gt``, the one-to-one or claimed pairs under the greedy rules.
    """

    table: pd.DataFrame
    per_video: pd.DataFrame
    settings: SpottingSettings
    log: pd.DataFrame
    pairs: pd.DataFrame
    per_dataset: pd.DataFrame | None = None
    ignored: dict = field(default_factory=dict)

    @property
    def f1(self) -> float:
        return float(self.table.loc["overall", "f1"])

    def to_dict(self) -> dict:
        """JSON-ready: settings, table, ignored counts and per-dataset rows."""
        out = {"scorer": settings_tag(self.settings), "settings": asdict(self.settings),
               "table": _table_records(self.table), "ignored": self.ignored}
        if self.per_dataset is not None:
            out["per_dataset"] = {str(k): _table_records(g.droplevel(0))
                                  for k, g in self.per_dataset.groupby(level=0, sort=False)}
        return out


def metrics_from_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """P = TP/(TP+FP), R = TP/(TP+FN), F1 = 2PR/(P+R), 0 when undefined."""
    out = counts[COUNT_COLUMNS].astype(int).copy()
    tp, fp, fn = out["tp"].astype(float), out["fp"].astype(float), out["fn"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        r = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    out["precision"], out["recall"], out["f1"] = p, r, f1
    return out


def iou_matrix(p_on, p_off, g_on, g_off, zero_length_iou_zero: bool = False) -> np.ndarray:
    """IoU of every (prediction, GT) pair over inclusive frame sets; optional R1 rule off <= on -> 0."""
    p_on, p_off = np.asarray(p_on, dtype=np.int64)[:, None], np.asarray(p_off, dtype=np.int64)[:, None]
    g_on, g_off = np.asarray(g_on, dtype=np.int64)[None, :], np.asarray(g_off, dtype=np.int64)[None, :]
    inter = np.clip(np.minimum(p_off, g_off) - np.maximum(p_on, g_on) + 1, 0, None)
    union = (p_off - p_on + 1) + (g_off - g_on + 1) - inter
    iou = inter / np.maximum(union, 1)
    if zero_length_iou_zero:
        iou = np.where((p_off <= p_on) | (g_off <= g_on), 0.0, iou)
    return iou


def evaluate(gt: pd.DataFrame, pred: pd.DataFrame, semantics: str = "megc2020", *, types=("me", "mae"),
             **switches) -> SpottingReport:
    """Score typed predictions against typed ground truth, both with 0-based frames.

    ``gt``/``pred`` need ``video, onset, offset, type`` (``pred`` may carry ``score``; either may carry
    ``subject``, ``dataset``, ``apex``). The rules on annotated 0s (CAS offset 0, SAMM macro onset 0) read the
    ground truth's ``offset_annot``/``onset_annot``/``apex_annot`` columns (the dataset loaders and the
    ``megc_io`` readers keep them); a table without them has no annotated 0s.
    """
    settings = resolve_settings(semantics, **switches)
    g, p, ignored = prepare(gt, pred, settings)
    g = g[g["kind"].isin(types)]
    p = p[p["kind"].isin(types)]
    counts, pairs, log, ign = match_prepared(g, p, settings)
    ignored.update(ign)
    return build_report(counts, pairs, log, settings, g, p, ignored)


def prepare(gt: pd.DataFrame, pred: pd.DataFrame, settings: SpottingSettings, *,
            need_type: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Validate, apply the GT switches and add ``key`` (video id) and ``kind`` columns (0-based frames)."""
    g = check_intervals(gt, what="ground truth", need_type=need_type, allow_reversed=True)
    p = check_intervals(pred, what="predictions", need_type=need_type)
    src = gt.attrs.get("source")
    ignored = {}
    offset_annot0 = _annotated_zero(g, "offset")
    if settings.cas_offset0_to_apex and offset_annot0.any():
        if "apex" not in g.columns:
            raise AnnotationError("ground truth has offset 0 rows but no apex column to replace them", src)
        zero = offset_annot0 & g["apex"].notna() & ~_annotated_zero(g, "apex")
        g.loc[zero, "offset"] = g.loc[zero, "apex"].astype("int64")
    rev = g["offset"] < g["onset"]
    if rev.any():
        i = g.index[rev][0]
        raise AnnotationError(
            f"ground truth row {i}: offset {g.at[i, 'offset']} is before onset {g.at[i, 'onset']}", src)
    if settings.drop_samm_macro_onset0 and need_type:
        samm = _is_samm(g)
        drop = samm & (g["type"] == "mae") & _annotated_zero(g, "onset")
        ignored["gt_samm_macro_onset0"] = int(drop.sum())
        g = g[~drop]
    g["kind"] = g["type"] if need_type else "all"
    p["kind"] = p["type"] if need_type else "all"
    use_subject = "subject" in g.columns and "subject" in p.columns
    for d in (g, p):
        d["key"] = (d["subject"].map(normalize_subject) + "/" + d["video"]) if use_subject else d["video"]
    if "subject" in g.columns:
        subj = dict(zip(g["key"], g["subject"].map(normalize_subject), strict=True))
    else:
        subj = {}
    for d in (g, p):  # subject of every row: its own column, else the GT's subject of that video
        if "subject" in d.columns:
            d["subj"] = d["subject"].map(normalize_subject)
        else:
            d["subj"] = d["key"].map(subj).fillna(d["key"])
    g["gt_row"] = np.arange(len(g))
    p["pred_row"] = np.arange(len(p))
    return g.reset_index(drop=True), p.reset_index(drop=True), ignored


def match_prepared(g: pd.DataFrame, p: pd.DataFrame, s: SpottingSettings):
    """Per (video, kind) matching; returns count rows, matched pairs, the per-interval log and ignored counts."""
    ignored = {"pred_in_videos_without_gt": 0, "gt_of_subjects_without_predictions": 0}
    if not s.count_fn_for_subjects_without_predictions:
        keep = g["subj"].isin(set(p["subj"]))
        ignored["gt_of_subjects_without_predictions"] = int((~keep).sum())
        g = g[keep]
    g_groups = {k: d for k, d in g.groupby(["key", "kind"], sort=False)}
    p_groups = {k: d for k, d in p.groupby(["key", "kind"], sort=False)}
    keys = list(g_groups) + [k for k in p_groups if k not in g_groups]
    empty_g, empty_p = g.iloc[:0], p.iloc[:0]
    rows, pairs, log = [], [], []
    for key in keys:
        gd = g_groups.get(key, empty_g)
        pd_ = p_groups.get(key, empty_p)
        if len(gd) == 0 and not s.score_videos_without_gt:
            ignored["pred_in_videos_without_gt"] += len(pd_)
            continue
        if s.match == "greedy_best_gt":
            if "score" in pd_.columns:
                pd_ = pd_.assign(_neg=-pd_["score"].astype(float)).sort_values(
                    ["_neg", "onset", "offset"], kind="stable")
            else:
                pd_ = pd_.sort_values(["onset", "offset"], kind="stable")
            gd = gd.sort_values(["onset", "offset"], kind="stable")
        iou = iou_matrix(pd_["onset"], pd_["offset"], gd["onset"], gd["offset"], s.zero_length_iou_zero)
        tp, fp, pi, gi, unmatched_pred = _MATCHERS[s.match](iou, s.iou_threshold)
        n_pred = len(pd_)
        if n_pred == 0 and len(gd) and s.empty_video_dummy_fp:
            n_pred, fp = 1, 1
            log.append((key, None, None, None, None, None, None, "FP"))
        rows.append((key[0], key[1], n_pred, tp, fp, len(gd) - len(set(gi)), len(gd)))
        for a, b in zip(pi, gi, strict=True):
            pr, gr = pd_.iloc[a], gd.iloc[b]
            pairs.append((key[0], key[1], int(gr["gt_row"]), int(pr["pred_row"]), float(iou[a, b])))
        found = set(gi)
        first_pair = {}
        for a, b in zip(pi, gi, strict=True):
            first_pair.setdefault(b, a)
        for b in range(len(gd)):
            gr = gd.iloc[b]
            if b in found:
                pr = pd_.iloc[first_pair[b]]
                log.append((key, gr["onset"], gr["offset"], pr["onset"], pr["offset"], int(gr["gt_row"]),
                            int(pr["pred_row"]), "TP"))
            else:
                log.append((key, gr["onset"], gr["offset"], None, None, int(gr["gt_row"]), None, "FN"))
        for a in np.flatnonzero(unmatched_pred):
            pr = pd_.iloc[a]
            log.append((key, None, None, pr["onset"], pr["offset"], None, int(pr["pred_row"]), "FP"))
    counts = pd.DataFrame(rows, columns=["key", "kind"] + COUNT_COLUMNS)
    pairs_df = pd.DataFrame(pairs, columns=["key", "kind", "gt_row", "pred_row", "iou"])
    log_df = pd.DataFrame(
        [(k[0], k[1], *rest) for k, *rest in log],
        columns=["video", "kind", "gt_onset", "gt_offset", "pred_onset", "pred_offset", "gt_row", "pred_row",
                 "label"])
    for c in ("gt_onset", "gt_offset", "pred_onset", "pred_offset", "gt_row", "pred_row"):
        log_df[c] = log_df[c].astype("Int64")
    return counts, pairs_df, log_df, ignored


def _count_found_gt(iou: np.ndarray, thr: float):
    hit = iou >= thr
    found = hit.any(axis=0)
    tp = int(found.sum())
    pi, gi = [], []
    for b in np.flatnonzero(found):
        for a in np.flatnonzero(hit[:, b]):
            pi.append(int(a))
            gi.append(int(b))
    return tp, iou.shape[0] - tp, pi, gi, ~hit.any(axis=1)


def _greedy_best_gt(iou: np.ndarray, thr: float):
    n_p, n_g = iou.shape
    taken = np.zeros(n_g, bool)
    matched = np.zeros(n_p, bool)
    pi, gi = [], []
    if n_g:
        for a in range(n_p):
            b = int(np.argmax(iou[a]))
            if iou[a, b] >= thr and not taken[b]:
                taken[b] = matched[a] = True
                pi.append(a)
                gi.append(b)
    tp = len(pi)
    return tp, n_p - tp, pi, gi, ~matched


def _greedy_any_gt(iou: np.ndarray, thr: float):
    n_p, n_g = iou.shape
    taken = np.zeros(n_g, bool)
    matched = np.zeros(n_p, bool)
    pi, gi = [], []
    for a in range(n_p):
        for b in range(n_g):
            if iou[a, b] >= thr and not taken[b]:
                taken[b] = matched[a] = True
                pi.append(a)
                gi.append(b)
    return len(pi), int((~matched).sum()), pi, gi, ~matched


_MATCHERS = {"count_found_gt": _count_found_gt, "greedy_best_gt": _greedy_best_gt, "greedy_any_gt": _greedy_any_gt}


def build_report(counts, pairs, log, settings, g, p, ignored) -> SpottingReport:
    kinds = [k for k in ROWS[:2]] if set(g["kind"]) | set(p["kind"]) <= {"me", "mae"} else ["all"]
    table = _pooled(counts, kinds)
    per_video = counts.groupby(["key", "kind"], sort=False)[COUNT_COLUMNS].sum()
    pv_overall = counts.groupby("key", sort=False)[COUNT_COLUMNS].sum()
    pv_overall.index = pd.MultiIndex.from_arrays([pv_overall.index, ["overall"] * len(pv_overall)],
                                                 names=["key", "kind"])
    per_video = metrics_from_counts(pd.concat([per_video, pv_overall]).sort_index(level=0, sort_remaining=False))
    per_video.index = per_video.index.set_names(["video", "kind"])
    per_dataset = None
    if "dataset" in g.columns:
        ds = dict(zip(g["key"], g["dataset"].astype(str), strict=True))
        if "dataset" in p.columns:
            ds.update({k: v for k, v in zip(p["key"], p["dataset"].astype(str), strict=True) if k not in ds})
        c = counts.assign(dataset=counts["key"].map(ds).fillna("?"))
        parts = {name: _pooled(d, kinds) for name, d in c.groupby("dataset", sort=False)}
        per_dataset = pd.concat(parts, names=["dataset", "type"])
    return SpottingReport(table=table, per_video=per_video, settings=settings, log=log, pairs=pairs,
                          per_dataset=per_dataset, ignored=ignored)


def _pooled(counts: pd.DataFrame, kinds) -> pd.DataFrame:
    by = counts.groupby("kind")[COUNT_COLUMNS].sum().reindex(kinds, fill_value=0)
    if kinds == ["me", "mae"]:
        by.loc["overall"] = by.sum()
    else:  # type-agnostic scoring (STRS): the single row is the overall one
        by.index = ["overall"]
    by.index.name = "type"
    return metrics_from_counts(by)


def _annotated_zero(g: pd.DataFrame, col: str) -> pd.Series:
    """Rows whose ``col`` was annotated as 0 (``<col>_annot``); all False when the column is absent."""
    annot = f"{col}_annot"
    if annot not in g.columns:
        return pd.Series(False, index=g.index)
    return (pd.to_numeric(g[annot], errors="coerce") == 0).fillna(False).astype(bool)


def _is_samm(g: pd.DataFrame) -> pd.Series:
    if "dataset" in g.columns:
        return g["dataset"].astype(str).str.lower().str.contains("samm")
    return g["video"].astype(str).str.match(_SAMM_VIDEO)


def _table_records(t: pd.DataFrame) -> dict:
    return {str(k): {c: (int(v) if c in COUNT_COLUMNS else float(v)) for c, v in row.items()}
            for k, row in t.iterrows()}
