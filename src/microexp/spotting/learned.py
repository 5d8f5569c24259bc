"""Inference with a trained spotter checkpoint (written by ``microexp train spotter``) on one video.

A checkpoint holds one model per expression type (``me``/``mae``), each with its k (frames at the training
frame rate) and threshold p. For a video at another frame rate k is rescaled by seconds, so the reference
frames stay at the same distance in time. Intervals are typed by the model that produced them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microexp.errors import ConfigError, ModelError, NoFaceError
from microexp.io.video import VideoInfo, VideoSource
from microexp.io.weights import load_torch_file
from microexp.records import Interval


@dataclass(frozen=True)
class _Named:
    name: str


@dataclass
class CurveTrace:
    """The per-frame curves a learned spotter computed, shaped like ``OFFDResult`` for the output writers."""

    config: _Named
    rate: float
    proc_index: np.ndarray
    proc_time: np.ndarray
    face: np.ndarray
    score: np.ndarray  # max over types of the curve scaled so each type's threshold is 1
    displacement: np.ndarray  # (N, n_types) raw model outputs
    channel_names: list[str]


@dataclass
class LearnedSpotResult:
    """Same attributes as ``spotting.api.SpotResult``: intervals, info, the curves (``offd``), counts."""

    intervals: list[Interval]
    info: VideoInfo
    offd: CurveTrace

    @property
    def n_frames(self) -> int:
        return int(self.offd.proc_index[-1] + 1) if self.offd.proc_index.size else 0

    @property
    def face_frames(self) -> int:
        return int(self.offd.face.sum())


def load_checkpoint(weights: str | Path | None, model: str) -> dict:
    if weights is None:
        raise ConfigError(f"--model {model} needs --weights (a checkpoint from `microexp train spotter`)")
    path = Path(weights)
    ckpt = load_torch_file(path, "spotter checkpoint")
    if not isinstance(ckpt, dict) or "models" not in ckpt or "arch" not in ckpt:
        raise ModelError("not a microexp spotter checkpoint (no 'arch'/'models')", path)
    if ckpt["arch"] != model:
        raise ModelError(f"checkpoint holds a {ckpt['arch']} spotter, not {model}", path)
    if not ckpt["models"]:
        raise ModelError("checkpoint holds no trained model", path)
    return ckpt


def build_models(ckpt: dict, fps: float) -> dict:
    """Rebuild each type's model, with k rescaled from the training frame rate to ``fps``."""
    out = {}
    scale = fps / float(ckpt.get("fps") or fps)
    for kind, m in ckpt["models"].items():
        try:
            if ckpt["arch"] == "refcnn3d":
                from microexp.spotting.refcnn3d import RefCNN3DConfig, build_refcnn3d

                cfg = dict(m["config"])
                cfg["channels"] = tuple(cfg["channels"])
                k = max(1, int(round(m["k"] * scale)))
                net = build_refcnn3d(RefCNN3DConfig(**{**cfg, "k": k}))
                net.load_state_dict(m["state_dict"])
                out[kind] = (net.eval(), {"k": k, "p": float(m["p"])})
            else:
                from microexp.spotting.mesnet import model_from_checkpoint

                out[kind] = model_from_checkpoint(m)
        except (KeyError, RuntimeError, TypeError) as err:
            raise ModelError(f"{kind} model does not fit the {ckpt['arch']} architecture ({err})") from None
    return out


def spot_with_model(video: str | Path, model: str = "refcnn3d", weights: str | Path | None = None,
                    fps: float | None = None, cache_dir: str | Path | None = None,
                    progress: Callable[[int, int | None], None] | None = None) -> LearnedSpotResult:
    """Spot with a trained refcnn3d or mesnet; crops come from (and go to) the crop cache."""
    from microexp.features.cache import get_or_build_crops
    from microexp.spotting.train import curve_intervals, refcnn3d_curve

    if model not in ("refcnn3d", "mesnet"):
        raise ConfigError(f"unknown spotter {model!r}; choose offd, refcnn3d or mesnet")
    ckpt = load_checkpoint(weights, model)
    info = VideoSource(video, fps=fps).info
    # the nominal rate, as training passes it: the same video then hits the same cache entry (no second decode)
    seq = get_or_build_crops(video, fps=info.fps, size=int(ckpt.get("size", 128)), cache_dir=cache_dir,
                             progress=progress)
    if not seq.face.any():
        raise NoFaceError("no face found in any frame", video)
    nets = build_models(ckpt, seq.fps)
    intervals: list[Interval] = []
    names, raw, scaled = [], [], []
    for kind, (net, meta) in nets.items():
        if model == "refcnn3d":
            curve = refcnn3d_curve(net, seq)
            intervals += curve_intervals(curve, meta["k"], meta["p"], kind, seq.n_frames)
            from microexp.spotting.postprocess import moilanen_threshold, window_mean

            sm = window_mean(curve, meta["k"])
            thr = moilanen_threshold(sm, meta["p"])
            full = np.full(seq.n_frames, np.nan)
            full[meta["k"]:meta["k"] + sm.size] = sm[: max(0, seq.n_frames - meta["k"])]
            base = float(np.nanmin(full)) if np.isfinite(full).any() else 0.0
            scaled.append(np.nan_to_num((full - base) / max(thr - base, 1e-9), nan=0.0))
            raw.append(curve)
        else:
            from microexp.spotting.mesnet import frame_curve, spot_sequence

            intervals += spot_sequence(net, seq, kind, meta["threshold"])
            curve = frame_curve(net, seq)
            raw.append(curve)
            scaled.append(curve / max(meta["threshold"], 1e-9))
        names.append(kind)
    intervals.sort(key=lambda iv: (iv.onset, iv.offset))
    trace = CurveTrace(_Named(f"{model} ({', '.join(names)})"), seq.fps, np.asarray(seq.index),
                       np.asarray(seq.time), np.asarray(seq.face, bool), np.max(np.stack(scaled), axis=0),
                       np.stack(raw, axis=1).astype(np.float32), names)
    return LearnedSpotResult(intervals, info, trace)
