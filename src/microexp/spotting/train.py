"""LOSO training and evaluation of the learned spotters on long videos (refcnn3d, mesnet).

Frames come from the crop cache (``features.cache``), so a second run or a second model never decodes again.
Every fold is seeded from (seed, test subject), re-initialises its models, derives k / anchors from its
training subjects only, picks the peak threshold ``p`` on its training subjects only (or uses a fixed p)
and runs on the experiment layer (``microexp.experiments``): each finished fold is one atomic file in the fold
store, so an interrupted run resumes at the first missing fold, and a folder holding another run is refused.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from microexp.errors import ConfigError, InputError
from microexp.experiments.splits import fold_seed
from microexp.io.atomic import write_json, write_with
from microexp.spotting.registry import save_checkpoint

KINDS = ("me", "mae")


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


def load_spot_data(spec: str) -> SpotData:
    """``DATASET:ROOT`` (``casme_sq``, ``samm_lv``, ``casme3``, ``synth``) or a bare synth-suite folder."""
    from microexp.datasets.registry import parse_data_spec

    name, root = parse_data_spec(spec, default="synth")
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
    from microexp.io.frames import VIDEO_SUFFIXES
    from microexp.io.video import VideoSource

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
    augment: bool = True  # horizontal flip (on every sample, never on one class only)
    noise_sd: float = 0.0  # extra pixel noise (of 1.0 = white) when augmenting; see docs/spotting.md
    p: float | None = None  # None: choose on the fold's training subjects from p_grid
    floor: float | None = 0.5  # refcnn3d peaks must reach this score (the target is 1 inside, 0 outside)
    min_contrast: float | None = 5.0  # ... and stand this many robust sds above the median (noise: < 4)
    p_grid: tuple[float, ...] = (0.4, 0.5, 0.55, 0.6, 0.7, 0.8)
    select_semantics: str = "megc2020"
    size: int = 128
    seed: int = 0
    threads: int = 1  # torch threads per fold (2 threads on busy shared cores can be 10× slower)
    kinds: tuple[str, ...] = KINDS
    k: dict = field(default_factory=dict)  # fixed k per kind (frames); empty = from the training GT
    # Keep the other type's expressions out of a type's training frames (and out of its p choice): not in the
    # papers, off by default; see docs/spotting.md ("the negatives") and benchmarks/spotting_exclude_other.py.
    exclude_other: bool = False
    model: dict = field(default_factory=dict)  # overrides of the model config

    def __post_init__(self):
        if self.loss not in ("mse", "bce"):
            raise ConfigError(f"loss must be mse or bce, got {self.loss!r}")
        bad = set(self.kinds) - set(KINDS)
        if bad:
            raise ConfigError(f"kinds must be me and/or mae, got {sorted(bad)}")


# ---------------------------------------------------------------------------------------------------------
# LOSO driver


def get_sequences(data: SpotData, size: int, cache_dir=None, progress=None) -> dict[str, object]:
    """Crops of every video through the cache (decoded once per video and parameter set)."""
    from microexp.features.cache import get_or_build_crops

    out = {}
    for i, v in enumerate(data.videos):
        out[v.video] = get_or_build_crops(v.source, fps=v.fps, size=size, cache_dir=cache_dir)
        if progress:
            progress(i + 1, len(data.videos))
    return out


def train_fold(spotter: str, data: SpotData, seqs: dict, test_subject: str, cfg: SpotTrainConfig,
               progress=None) -> tuple[dict, pd.DataFrame, dict]:
    """Train the fold's models on the other subjects; returns (checkpoint, test predictions, fold info)."""
    entry = _trainable(spotter)
    if cfg.exclude_other and entry.name != "refcnn3d":
        raise ConfigError("exclude_other applies to refcnn3d only (MESNet trains on windows, not on frames)")
    train_v = [v for v in data.videos if v.subject != test_subject]
    test_v = [v for v in data.videos if v.subject == test_subject]
    train_gt = data.gt[data.gt["subject"] != test_subject]
    ckpt = {"arch": entry.name, "size": cfg.size, "fps": float(np.median([v.fps for v in data.videos])),
            "models": {}}
    info = {"test_subject": test_subject, "n_train_videos": len(train_v), "n_test_videos": len(test_v), "kinds": {}}
    rows, found, metas = [], {}, {}
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        for kind in cfg.kinds:
            if (train_gt["type"] == kind).sum() == 0:
                info["kinds"][kind] = {"skipped": "no training GT of this type"}
                continue
            t0 = time.perf_counter()
            model, meta = fit_kind(spotter, data, seqs, test_subject, cfg, kind, progress=progress)
            fit_s = time.perf_counter() - t0
            meta["exclude_other"] = bool(cfg.exclude_other)
            metas[kind] = meta
            t1 = time.perf_counter()
            n_inf = 0
            for v in test_v:
                n_inf += seqs[v.video].n_frames
                found.setdefault(v.video, {})[kind] = entry.detect(model, meta, seqs[v.video], kind)
            inf_s = time.perf_counter() - t1
            ckpt["models"][kind] = entry.pack(model, meta)
            info["kinds"][kind] = {**_jsonable(meta), "fit_s": round(fit_s, 2), "infer_frames": n_inf,
                                   "infer_s": round(inf_s, 3)}
    finally:
        torch.set_num_threads(threads)
    from microexp.spotting.learned import set_aside_me_in_mae

    subject_of = {v.video: v.subject for v in test_v}
    for video, per_kind in found.items():
        for kind, ivs in set_aside_me_in_mae(per_kind, metas).items():
            rows += [(video, iv.onset, iv.offset, kind, iv.score, subject_of[video]) for iv in ivs]
    pred = pd.DataFrame(rows, columns=["video", "onset", "offset", "type", "score", "subject"])
    return ckpt, pred, info


def fit_kind(spotter: str, data: SpotData, seqs: dict, test_subject: str, cfg: SpotTrainConfig, kind: str,
             seed: int | None = None, progress=None, on_epoch=None):
    """One fold's model of one type, trained on every video but the test subject's; returns (model, meta).

    ``seed`` None: the fold's own (from ``cfg.seed`` and the subject, as LOSO trains it). ``on_epoch``: snapshots
    of the model while it trains (``spotting.loop.train_epochs``), for budget curves.
    """
    entry = _trainable(spotter)
    train_v = [v for v in data.videos if v.subject != test_subject]
    train_gt = data.gt[data.gt["subject"] != test_subject]
    other = [k for k in KINDS if k != kind]
    train_seqs = [without_spans(seqs[v.video], [s for o in other for s in spans_of(train_gt, v.video, o)])
                  if cfg.exclude_other else seqs[v.video] for v in train_v]
    if seed is None:  # depends on (seed, subject) only: folds run in any order
        seed = fold_seed(cfg.seed, test_subject) + KINDS.index(kind)
    snapshots = {} if on_epoch is None else {"on_epoch": on_epoch}  # the fit interface, plus snapshots when asked
    return entry.fit(train_seqs, [spans_of(train_gt, v.video, kind) for v in train_v], cfg, seed, kind, progress,
                     **snapshots)


def without_spans(seq, spans: list[tuple[int, int]]):
    """``seq`` with the frames of ``spans`` (inclusive) marked face-less, so training never samples them (nor,
    for refcnn3d, a frame whose t ± k reference lies in them); the crops themselves are shared, not copied."""
    if not spans:
        return seq
    face = np.array(seq.face, dtype=bool, copy=True)
    for a, b in spans:
        face[max(0, a):max(0, b + 1)] = False
    return replace(seq, face=face)


def _trainable(spotter: str):
    from microexp.spotting.registry import get, trainable

    entry = get(spotter)
    if entry.fit is None:
        raise ConfigError(f"{spotter} is training-free; train one of {', '.join(trainable())}")
    return entry


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


@dataclass
class SpotFold:
    """One LOSO fold's self-contained task (see ``microexp.experiments.run_experiment``)."""

    spotter: str
    data: SpotData
    seqs: dict
    test_subject: str
    cfg: SpotTrainConfig
    weights: Path  # where the fold's checkpoint goes (written before the fold counts as finished)


def run_fold(task: SpotFold) -> dict:
    """Train and test one fold; the checkpoint is saved next to the fold, the result is JSON."""
    ckpt, pred, info = train_fold(task.spotter, task.data, task.seqs, task.test_subject, task.cfg)
    save_checkpoint(task.weights, ckpt)
    return {"info": info, "predictions": pred.to_dict(orient="list")}


def normalized(data: SpotData) -> SpotData:
    """The same data with subject ids in the experiment layer's one spelling (``'006'``, ``6``, ``'s6'`` → ``'6'``)."""
    from microexp.experiments import normalize_subject

    videos = [replace(v, subject=normalize_subject(v.subject)) for v in data.videos]
    gt = data.gt.assign(subject=data.gt["subject"].map(normalize_subject)) if len(data.gt) else data.gt
    return SpotData(data.name, videos, gt)


def loso_fingerprint(arch: str, cfg: SpotTrainConfig, data: SpotData, seqs: dict) -> str:
    """Settings, labels, video contents (crop-cache keys) and the subject list of the data."""
    from microexp.experiments import content_digest, fingerprint

    gt = data.gt.sort_values(["video", "onset", "offset", "type"]).reset_index(drop=True)
    videos = pd.DataFrame(sorted((v.video, v.subject, str(getattr(seqs.get(v.video), "key", "")))
                                 for v in data.videos), columns=["video", "subject", "key"])
    content = content_digest(table=gt) + content_digest(table=videos)
    return fingerprint(settings={"spotter": arch, "cfg": asdict(cfg), "data": data.name}, content=content,
                       subjects=[v.subject for v in data.videos])


def run_loso(arch: str, data: SpotData, out: str | Path, cfg: SpotTrainConfig | None = None, cache_dir=None,
             subjects: list[str] | None = None, progress=None, seqs: dict | None = None, executor=None) -> dict:
    """All LOSO folds through the experiment layer, then predictions in MEGC CSV and the MEGC tables.

    Finished folds are reused only by a run with the same fingerprint; an output folder that holds another run
    (other settings, labels or videos) is refused with a ConfigError, as for recognition.
    ``seqs`` (video -> ``CropSequence``) bypasses the crop cache, e.g. for in-memory data.
    """
    from microexp.eval.megc_io import write_megc_csv
    from microexp.eval.spotting import evaluate
    from microexp.experiments import FoldStore, resolve_subjects, run_experiment
    from microexp.io.frames import natural_key

    cfg = cfg or SpotTrainConfig()
    arch = _trainable(arch).name
    data = normalized(data)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_cache = time.perf_counter()
    seqs = seqs if seqs is not None else get_sequences(data, cfg.size, cache_dir, progress=progress)
    cache_s = time.perf_counter() - t_cache
    all_subjects = sorted({v.subject for v in data.videos}, key=natural_key)
    todo = resolve_subjects(subjects, all_subjects) if subjects else all_subjects
    store = FoldStore(out, loso_fingerprint(arch, cfg, data, seqs),
                      meta={"spotter": arch, "data": data.name, "config": asdict(cfg)})
    folds = [SpotFold(arch, data, seqs, subj, cfg, store.artifact(subj, "weights.pt")) for subj in todo]
    res = run_experiment(folds, run_fold, store, executor=executor, progress=progress,
                         key=lambda f: f.test_subject)
    done = [res.results[subj] for subj in todo]
    infos = [r["info"] for r in done]
    parts = [pd.DataFrame(r["predictions"]) for r in done]
    pred = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if pred.empty:
        pred = pd.DataFrame(columns=["video", "onset", "offset", "type", "score", "subject"])
    pred = pred.astype({"video": str, "subject": str})
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
    from microexp.report.plots import plot_spot_summary

    plot_spot_summary(out / "summary.png", summary)
    return summary


def fit_final(arch: str, data: SpotData, cfg: SpotTrainConfig, cache_dir=None, seqs: dict | None = None) -> dict:
    """One model per type on every subject (for ``microexp spot --weights``); p chosen on the same data."""
    seqs = seqs if seqs is not None else get_sequences(data, cfg.size, cache_dir)
    ckpt, _, info = train_fold(arch, data, seqs, "\0none", cfg)
    ckpt["info"] = info
    return ckpt
