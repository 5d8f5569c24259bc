"""LOSO training and evaluation of the learned spotters on long videos (refcnn3d, mesnet).

Frames come from the crop cache (``features.cache``), so a second run or a second model never decodes again.
Every fold is seeded from (seed, test subject), re-initialises its models, derives k / anchors from its
training subjects only, picks the peak threshold ``p`` on its training subjects only (or uses a fixed p)
and is written atomically with a ``fold.json`` marker: an interrupted run resumes at the first missing fold.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from microexp.errors import ConfigError, InputError
from microexp.io.atomic import write_json, write_with

KINDS = ("me", "mae")
ARCHS = ("refcnn3d", "mesnet")


# ---------------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class SpotVideo:
    video: str
    subject: str
    source: str  # video file or frame folder
    fps: float


@dataclass
class SpotData:
    """Videos plus typed ground truth in 0-based inclusive frames (columns video, subject, onset, offset, type)."""

    name: str
    videos: list[SpotVideo]
    gt: pd.DataFrame


def parse_data_spec(spec: str) -> tuple[str, Path]:
    """``DATASET:ROOT`` (``casme_sq``, ``samm_lv``, ``casme3``, ``synth``) or a bare synth-suite folder."""
    name, sep, root = spec.partition(":")
    if not sep:
        return "synth", Path(spec)
    return name.strip().lower(), Path(root)


def load_spot_data(spec: str) -> SpotData:
    name, root = parse_data_spec(spec)
    if not root.exists():
        raise InputError("data folder not found", root)
    if name == "synth":
        return load_synth_suite(root)
    return _load_registry(name, root)


def load_synth_suite(root: Path) -> SpotData:
    """A suite folder (``microexp synth``): ``index.csv`` (video, subject, onset, offset, type) + the videos.

    Any CSV with those columns is accepted when ``index.csv`` is absent. A suite rendered from one face has
    one subject; LOSO then becomes leave-one-video-out (each video its own subject), said in ``name``.
    """
    from microexp.eval.megc_io import check_intervals
    from microexp.io.video import VIDEO_SUFFIXES, VideoSource

    need = {"video", "subject", "onset", "offset", "type"}
    index = root / "index.csv"
    csvs = [index] if index.is_file() else sorted(p for p in root.glob("*.csv")
                                                   if need <= set(pd.read_csv(p, nrows=0).columns))
    if not csvs:
        raise InputError("no index.csv (or labels CSV with columns video,subject,onset,offset,type)", root)
    raw = pd.read_csv(csvs[0], dtype={"video": str, "subject": str})
    if not need <= set(raw.columns):
        raise InputError(f"labels need columns {', '.join(sorted(need))}", csvs[0])
    gt = check_intervals(raw, csvs[0], what="labels", row_offset=2) if len(raw) else raw
    files = {p.stem: p for p in sorted(root.rglob("*"))  # hidden names are a writer's unfinished temp files
             if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".")}
    subject_of = dict(zip(raw["video"].astype(str), raw["subject"].astype(str), strict=True))
    missing = sorted(set(subject_of) - set(files))
    if missing:
        raise InputError(f"labels name video {missing[0]!r} but no such video file is in the suite", root)
    per_video = len(set(subject_of.values())) < 2
    videos = []
    for vid in sorted(files):
        subj = vid if per_video else subject_of.get(vid, vid)
        videos.append(SpotVideo(vid, subj, str(files[vid]), VideoSource(files[vid]).info.fps))
    gt = gt[["video", "onset", "offset", "type"]].reset_index(drop=True)
    gt["video"] = gt["video"].astype(str)
    gt["subject"] = gt["video"].map({v.video: v.subject for v in videos})
    meta = root / "suite.json"
    ident = root.name
    if meta.is_file():  # name by content, so a moved suite resumes its runs
        m = json.loads(meta.read_text())
        ident = f"{m.get('preset')}-{m.get('n_videos')}v-seed{m.get('seed')}"
    name = "synth:" + ident + (" (one face: leave-one-video-out)" if per_video else "")
    return SpotData(name, videos, gt[["video", "subject", "onset", "offset", "type"]])


def _load_registry(name: str, root: Path) -> SpotData:
    """CAS(ME)^2, SAMM-LV, CAS(ME)^3 through the dataset registry (frame folders or CAS video files)."""
    from microexp.datasets.registry import load, spec

    s = spec(name)
    if not s.long_video:
        raise ConfigError(f"{name}: not a long-video dataset; spotting needs casme_sq, samm_lv or casme3")
    df = load(s.name, root)
    src = df["frames_dir"].astype(str)
    if "video_path" in df.columns:
        src = src.where(src != "", df["video_path"].astype(str))
    df = df.assign(_src=src)
    missing = df[df["_src"] == ""]
    if len(missing) == len(df):
        raise InputError(f"no {name} video or frame folder found under the dataset root", root)
    df = df[df["_src"] != ""]
    videos = [SpotVideo(str(v), str(g["subject"].iloc[0]), str(g["_src"].iloc[0]), float(s.fps))
              for v, g in df.groupby("video", sort=True)]
    gt = pd.DataFrame({"video": df["video"].astype(str), "subject": df["subject"].astype(str),
                       "onset": df["onset"].astype(int), "offset": df["offset"].astype(int),
                       "type": df["type"].astype(str)})
    return SpotData(f"{s.name}:{root.name}", videos, gt.reset_index(drop=True))


def spans_of(gt: pd.DataFrame, video: str, kind: str) -> list[tuple[int, int]]:
    g = gt[(gt["video"] == video) & (gt["type"] == kind)]
    return [(int(a), int(b)) for a, b in zip(g["onset"], g["offset"], strict=True)]


# ---------------------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class SpotTrainConfig:
    """Fixed training budget (no test-set selection); defaults sized for minutes on 2 CPU cores."""

    epochs: int = 8
    batch: int = 32
    lr: float | None = None  # None: the model's default (refcnn3d 5e-4, mesnet 1e-4 as in the spec)
    weight_decay: float = 0.0
    neg_keep: float = 0.5  # SOFTNet: drop half of the negatives (re-drawn every epoch)
    max_neg_per_pos: float | None = 3.0  # and at most this many negatives per positive (CPU budget)
    frame_stride: int | None = None  # training frames every n-th frame; None = about 30 per second of video
    loss: str = "mse"  # SOFTNet-style regression of the pseudo-label; "bce" also works
    augment: bool = True  # horizontal flip + pixel noise (on every sample, never on one class only)
    p: float | None = None  # None: choose on the fold's training subjects from p_grid
    p_grid: tuple[float, ...] = (0.4, 0.5, 0.55, 0.6, 0.7, 0.8)
    select_semantics: str = "megc2020"
    size: int = 128
    seed: int = 0
    threads: int = 1  # torch threads per fold (2 threads on busy shared cores can be 10× slower)
    kinds: tuple[str, ...] = KINDS
    k: dict = field(default_factory=dict)  # fixed k per kind (frames); empty = from the training GT
    model: dict = field(default_factory=dict)  # overrides of the model config

    def __post_init__(self):
        if self.loss not in ("mse", "bce"):
            raise ConfigError(f"loss must be mse or bce, got {self.loss!r}")
        bad = set(self.kinds) - set(KINDS)
        if bad:
            raise ConfigError(f"kinds must be me and/or mae, got {sorted(bad)}")


def fold_seed(seed: int, key: str) -> int:
    return (int(seed) * 1_000_003 + zlib.crc32(key.encode("utf-8"))) % (2**31 - 1)


# ---------------------------------------------------------------------------------------------------------
# refcnn3d: per-frame pseudo-labels, balanced sampling, regression


def frame_labels(n: int, spans: list[tuple[int, int]], half: int) -> np.ndarray:
    """``y_t = 1`` iff the window ``[t − half, t + half]`` overlaps a GT span (SOFTNet's rule, centred)."""
    d = np.zeros(n + 1, np.int32)
    for a, b in spans:
        lo, hi = max(0, a - half), min(n - 1, b + half)
        if lo <= hi:
            d[lo] += 1
            d[hi + 1] -= 1
    return (np.cumsum(d[:n]) > 0).astype(np.float32)


def _usable(face: np.ndarray, k: int) -> np.ndarray:
    n = face.size
    t = np.arange(n)
    return face & face[np.clip(t - k, 0, n - 1)] & face[np.clip(t + k, 0, n - 1)]


def fit_refcnn3d(seqs: list, spans: list[list[tuple[int, int]]], k: int, cfg: SpotTrainConfig, seed: int,
                 progress: Callable[[int, int | None], None] | None = None):
    """Train one refcnn3d (one type) on whole videos; returns the model in eval mode and the loss history."""
    from microexp.spotting.refcnn3d import RefCNN3DConfig, build_refcnn3d, clamp_refs

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mcfg = RefCNN3DConfig(**{**cfg.model, "k": int(k), "size": cfg.size})
    model = build_refcnn3d(mcfg)
    pos, neg = [], []
    for vi, (seq, sp) in enumerate(zip(seqs, spans, strict=True)):
        y = frame_labels(seq.n_frames, sp, max(1, k // 2))
        ok = _usable(np.asarray(seq.face, bool), k)
        stride = cfg.frame_stride or max(1, int(round(seq.fps / 30.0)))
        ok[np.arange(seq.n_frames) % stride != 0] = False
        idx = np.flatnonzero(ok)
        pos.append(np.stack([np.full((y[idx] > 0).sum(), vi), idx[y[idx] > 0]], 1))
        neg.append(np.stack([np.full((y[idx] == 0).sum(), vi), idx[y[idx] == 0]], 1))
    pos = np.concatenate(pos) if pos else np.zeros((0, 2), int)
    neg = np.concatenate(neg) if neg else np.zeros((0, 2), int)
    if len(pos) == 0:
        raise InputError(f"no positive frames for k={k}: the training videos hold no expression of this type")
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr or 5e-4, weight_decay=cfg.weight_decay)
    history = []
    n_neg = int(len(neg) * cfg.neg_keep)
    if cfg.max_neg_per_pos is not None:
        n_neg = min(n_neg, int(cfg.max_neg_per_pos * len(pos)))
    steps_total = cfg.epochs * int(np.ceil((len(pos) + n_neg) / cfg.batch))
    step = 0
    for _ in range(cfg.epochs):
        model.train()
        pick = neg[rng.choice(len(neg), size=n_neg, replace=False)] if n_neg else neg[:0]
        samples = np.concatenate([pos, pick])
        labels = np.concatenate([np.ones(len(pos), np.float32), np.zeros(len(pick), np.float32)])
        order = rng.permutation(len(samples))
        losses = []
        for s in range(0, len(order), cfg.batch):
            b = order[s:s + cfg.batch]
            x = np.empty((len(b), 3, cfg.size, cfg.size), np.float32)
            for i, (vi, t) in enumerate(samples[b]):
                seq = seqs[vi]
                a, c = clamp_refs(np.array([t]), k, seq.n_frames)
                x[i] = np.asarray(seq.crops[[a[0], t, c[0]]], np.float32) / 255.0
            yb = labels[b]
            if cfg.augment:  # both classes alike: class-specific augmentation is a shortcut to the label
                flip = rng.random(len(b)) < 0.5
                x[flip] = x[flip][..., ::-1]
                x += rng.normal(0, 0.01, size=x.shape).astype(np.float32)
            out = model(torch.from_numpy(x))
            target = torch.from_numpy(yb)
            if cfg.loss == "mse":
                loss = torch.nn.functional.mse_loss(out, target)
            else:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(out, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            step += 1
            if progress:
                progress(step, steps_total)
        history.append(float(np.mean(losses)) if losses else float("nan"))
    model.eval()
    return model, history


def refcnn3d_curve(model, seq) -> np.ndarray:
    """Per-frame scores; frames without a usable face get the video's median (they cannot form a peak)."""
    from microexp.spotting.refcnn3d import score_video

    s = score_video(model, seq.crops).astype(np.float64)
    ok = _usable(np.asarray(seq.face, bool), model.cfg.k)
    if ok.any() and not ok.all():
        s[~ok] = np.median(s[ok])
    return s


def curve_intervals(scores: np.ndarray, k: int, p: float, kind: str, n_frames: int) -> list:
    from microexp.records import Interval
    from microexp.spotting.postprocess import spot_curve

    return [Interval(pk.onset, pk.apex, pk.offset, kind, pk.score)
            for pk in spot_curve(scores, k, p, n_frames=n_frames)]


# ---------------------------------------------------------------------------------------------------------
# Threshold selection on training subjects (honest: the test subject is never looked at)


def choose_p(curves: dict[str, np.ndarray], gt: pd.DataFrame, kind: str, k: int, grid, semantics: str,
             n_frames: dict[str, int]) -> tuple[float, dict]:
    from microexp.eval.spotting import evaluate

    g = gt[gt["type"] == kind]
    scores = {}
    for p in grid:
        rows = [(v, iv.onset, iv.offset, kind) for v, c in curves.items()
                for iv in curve_intervals(c, k, p, kind, n_frames[v])]
        pred = pd.DataFrame(rows, columns=["video", "onset", "offset", "type"])
        if g.empty:
            scores[float(p)] = 0.0
            continue
        scores[float(p)] = float(evaluate(g, pred, semantics, types=(kind,)).table.loc[kind, "f1"])
    best = max(scores, key=lambda q: (scores[q], q))
    return best, scores


# ---------------------------------------------------------------------------------------------------------
# LOSO driver


def _k_for(gt: pd.DataFrame, kind: str, cfg: SpotTrainConfig) -> int:
    from microexp.spotting.refcnn3d import k_from_durations

    if kind in cfg.k:
        return int(cfg.k[kind])
    g = gt[gt["type"] == kind]
    return k_from_durations((g["offset"] - g["onset"]).to_numpy())


def get_sequences(data: SpotData, size: int, cache_dir=None, progress=None) -> dict[str, object]:
    """Crops of every video through the cache (decoded once per video and parameter set)."""
    from microexp.features.cache import get_or_build_crops

    out = {}
    for i, v in enumerate(data.videos):
        out[v.video] = get_or_build_crops(v.source, fps=v.fps, size=size, cache_dir=cache_dir)
        if progress:
            progress(i + 1, len(data.videos))
    return out


def train_fold(arch: str, data: SpotData, seqs: dict, test_subject: str, cfg: SpotTrainConfig,
               progress=None) -> tuple[dict, pd.DataFrame, dict]:
    """Train the fold's models on the other subjects; returns (checkpoint, test predictions, fold info)."""
    torch.set_num_threads(cfg.threads)
    train_v = [v for v in data.videos if v.subject != test_subject]
    test_v = [v for v in data.videos if v.subject == test_subject]
    train_gt = data.gt[data.gt["subject"] != test_subject]
    ckpt = {"arch": arch, "size": cfg.size, "fps": float(np.median([v.fps for v in data.videos])), "models": {}}
    info = {"test_subject": test_subject, "n_train_videos": len(train_v), "n_test_videos": len(test_v), "kinds": {}}
    rows = []
    seed = fold_seed(cfg.seed, test_subject)
    for kind in cfg.kinds:
        if (train_gt["type"] == kind).sum() == 0:
            info["kinds"][kind] = {"skipped": "no training GT of this type"}
            continue
        t0 = time.perf_counter()
        if arch == "refcnn3d":
            k = _k_for(train_gt, kind, cfg)
            model, hist = fit_refcnn3d([seqs[v.video] for v in train_v],
                                       [spans_of(train_gt, v.video, kind) for v in train_v], k, cfg,
                                       seed + KINDS.index(kind), progress)
            fit_s = time.perf_counter() - t0
            curves = {v.video: refcnn3d_curve(model, seqs[v.video]) for v in train_v}
            nf = {v.video: seqs[v.video].n_frames for v in data.videos}
            if cfg.p is None:
                p, p_scores = choose_p(curves, train_gt, kind, k, cfg.p_grid, cfg.select_semantics, nf)
            else:
                p, p_scores = float(cfg.p), {}
            t1 = time.perf_counter()
            n_inf = 0
            for v in test_v:
                c = refcnn3d_curve(model, seqs[v.video])
                n_inf += seqs[v.video].n_frames
                rows += [(v.video, iv.onset, iv.offset, kind, iv.score, v.subject)
                         for iv in curve_intervals(c, k, p, kind, nf[v.video])]
            inf_s = time.perf_counter() - t1
            ckpt["models"][kind] = {"config": asdict(model.cfg), "state_dict": model.state_dict(), "k": k, "p": p}
            info["kinds"][kind] = {"k": k, "p": p, "p_train_f1": p_scores, "loss": hist, "fit_s": round(fit_s, 2),
                                   "infer_frames": n_inf, "infer_s": round(inf_s, 3)}
        elif arch == "mesnet":
            from microexp.spotting import mesnet

            model, meta = mesnet.fit_mesnet([seqs[v.video] for v in train_v],
                                            [spans_of(train_gt, v.video, kind) for v in train_v],
                                            cfg, seed + KINDS.index(kind), progress)
            fit_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            n_inf = 0
            for v in test_v:
                n_inf += seqs[v.video].n_frames
                rows += [(v.video, iv.onset, iv.offset, kind, iv.score, v.subject)
                         for iv in mesnet.spot_sequence(model, seqs[v.video], kind, meta["threshold"])]
            inf_s = time.perf_counter() - t1
            ckpt["models"][kind] = {"config": asdict(model.cfg), "state_dict": model.state_dict(), **meta}
            info["kinds"][kind] = {**{k_: v_ for k_, v_ in meta.items() if k_ != "anchors"},
                                   "anchors": list(meta["anchors"]), "fit_s": round(fit_s, 2),
                                   "infer_frames": n_inf, "infer_s": round(inf_s, 3)}
        else:
            raise ConfigError(f"unknown spotter {arch!r}; choose one of {', '.join(ARCHS)}")
    pred = pd.DataFrame(rows, columns=["video", "onset", "offset", "type", "score", "subject"])
    return ckpt, pred, info


def _fingerprint(arch: str, cfg, data: SpotData, seqs: dict) -> str:
    """Settings, labels and video contents: a finished fold is reused only when all three are unchanged."""
    import hashlib

    gt = data.gt.sort_values(["video", "onset", "offset", "type"]).to_csv(index=False)
    videos = sorted((str(v), str(getattr(q, "key", ""))) for v, q in seqs.items())
    subjects = sorted((v.video, v.subject) for v in data.videos)
    digest = hashlib.sha256(json.dumps([gt, videos, subjects]).encode()).hexdigest()
    return json.dumps({"arch": arch, "cfg": asdict(cfg), "data": data.name, "content": digest}, sort_keys=True,
                      default=str)


def run_loso(arch: str, data: SpotData, out: str | Path, cfg: SpotTrainConfig | None = None, cache_dir=None,
             subjects: list[str] | None = None, progress=None, seqs: dict | None = None) -> dict:
    """All LOSO folds (resuming finished ones), then predictions in MEGC CSV and the MEGC tables.

    ``seqs`` (video -> ``CropSequence``) bypasses the crop cache, e.g. for in-memory data.
    """
    from microexp.eval.megc_io import write_megc_csv
    from microexp.eval.spotting import evaluate

    cfg = cfg or SpotTrainConfig()
    if arch not in ARCHS:
        raise ConfigError(f"unknown spotter {arch!r}; choose one of {', '.join(ARCHS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_cache = time.perf_counter()
    seqs = seqs if seqs is not None else get_sequences(data, cfg.size, cache_dir, progress=progress)
    cache_s = time.perf_counter() - t_cache
    fingerprint = _fingerprint(arch, cfg, data, seqs)
    all_subjects = sorted({v.subject for v in data.videos}, key=lambda s: (len(s), s))
    todo = subjects or all_subjects
    preds, infos = [], []
    for i, subj in enumerate(todo):
        fold_dir = out / "folds" / _safe(subj)
        marker = fold_dir / "fold.json"
        if marker.is_file():
            done = json.loads(marker.read_text())
            if done.get("fingerprint") == fingerprint:
                preds.append(pd.read_csv(fold_dir / "predictions.csv", dtype={"video": str, "subject": str}))
                infos.append(done["info"])
                continue
        ckpt, pred, info = train_fold(arch, data, seqs, subj, cfg)
        fold_dir.mkdir(parents=True, exist_ok=True)
        write_with(fold_dir / "weights.pt", lambda tmp, c=ckpt: torch.save(c, tmp))
        write_with(fold_dir / "predictions.csv", lambda tmp, p=pred: p.to_csv(tmp, index=False))
        write_json(marker, {"fingerprint": fingerprint, "info": info})
        preds.append(pred)
        infos.append(info)
        if progress:
            progress(i + 1, len(todo))
    pred = pd.concat(preds, ignore_index=True) if preds else pd.DataFrame(
        columns=["video", "onset", "offset", "type", "score", "subject"])
    write_megc_csv(pred, out / "predictions.csv")
    gt = data.gt[data.gt["subject"].isin(todo)].copy()
    tables = {}
    for sem in ("megc2020", "softnet"):
        t = evaluate(gt, pred, sem).table
        tables[sem] = t
        write_with(out / f"megc_{sem}.csv", lambda tmp, t=t: t.to_csv(tmp))
    fit_s = sum(k.get("fit_s", 0.0) for f in infos for k in f["kinds"].values() if isinstance(k, dict))
    inf_frames = sum(k.get("infer_frames", 0) for f in infos for k in f["kinds"].values())
    inf_s = sum(k.get("infer_s", 0.0) for f in infos for k in f["kinds"].values())
    summary = {"arch": arch, "data": data.name, "config": asdict(cfg), "n_folds": len(todo),
               "cache_s": round(cache_s, 2), "train_s": round(fit_s, 2),
               "infer_fps": round(inf_frames / inf_s, 1) if inf_s else None,
               "tables": {s: t.reset_index().to_dict(orient="records") for s, t in tables.items()},
               "folds": infos}
    write_json(out / "summary.json", summary)
    plot_summary(out / "summary.png", summary)
    return summary


def plot_summary(path: Path, summary: dict) -> Path:
    """P / R / F1 per type under both semantics, and every fold's training loss per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    sems = list(summary["tables"])
    width = 0.8 / (3 * len(sems))
    for si, sem in enumerate(sems):
        rows = summary["tables"][sem]
        x = np.arange(len(rows))
        for mi, (metric, col) in enumerate((("P", "precision"), ("R", "recall"), ("F1", "f1"))):
            off = (si * 3 + mi - (3 * len(sems) - 1) / 2) * width
            ax1.bar(x + off, [r[col] for r in rows], width, label=f"{metric} ({sem})",
                    color=plt.cm.tab20(2 * mi + si), edgecolor="k" if metric == "F1" else "none")
        ax1.set_xticks(x, [f"{r['type']}\nTP {r['tp']}/{r['n_gt']} GT, {r['n_pred']} pred" for r in rows])
    ax1.set_ylim(0, 1.3)
    ax1.set_yticks(np.linspace(0, 1, 6))
    ax1.set_title(f"{summary['arch']} LOSO on {summary['data']} (counts: {sems[-1]})", fontsize=9)
    ax1.legend(fontsize=7, ncol=3, loc="upper center")
    for fold in summary["folds"]:
        for kind, info in fold["kinds"].items():
            if isinstance(info, dict) and info.get("loss"):
                ax2.plot(np.arange(1, len(info["loss"]) + 1), info["loss"], marker=".",
                         color="C0" if kind == "me" else "C1", alpha=0.6)
    ax2.plot([], [], color="C0", label="me models")
    ax2.plot([], [], color="C1", label="mae models")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training loss")
    ax2.set_title("training loss, one line per fold", fontsize=9)
    ax2.legend(fontsize=7)
    fig.tight_layout()

    def _save(tmp):
        fig.savefig(tmp, format="png", dpi=100)

    try:
        return write_with(path, _save)
    finally:
        plt.close(fig)


def fit_final(arch: str, data: SpotData, cfg: SpotTrainConfig, cache_dir=None, seqs: dict | None = None) -> dict:
    """One model per type on every subject (for ``microexp spot --weights``); p chosen on the same data."""
    seqs = seqs if seqs is not None else get_sequences(data, cfg.size, cache_dir)
    ckpt, _, info = train_fold(arch, data, seqs, "\0none", cfg)
    ckpt["info"] = info
    return ckpt


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name)) or "_"


def with_overrides(cfg: SpotTrainConfig, **kw) -> SpotTrainConfig:
    return replace(cfg, **{k: v for k, v in kw.items() if v is not None})
