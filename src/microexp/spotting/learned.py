"""What every learned spotter shares: its registry entry shape and inference from a checkpoint on one video.

A checkpoint holds one model per expression type (``me``/``mae``). Frames come from the crop cache
(``features.cache``): a video scored before, or used in training, is not decoded again. The model modules
(``refcnn3d``, ``mesnet``) each provide ``fit``, ``pack``/``unpack`` (checkpoint entry <-> model), ``detect``
(intervals) and ``score`` (intervals plus per-frame curves); nothing here knows which architecture it runs.
For a video at another frame rate than the training data, ``unpack`` rescales frame counts by seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microexp.errors import ConfigError, ModelError, NoFaceError
from microexp.io.video import VideoSource, prefetch
from microexp.records import Interval

Progress = Callable[[int, int | None], None]


@dataclass
class KindScore:
    """One expression type's output on one video, per decoded frame."""

    intervals: list[Interval]
    raw: np.ndarray  # the model's own per-frame output
    scaled: np.ndarray  # the same curve scaled so that its detection threshold is 1


@dataclass(frozen=True)
class LearnedSpotter:
    """A learned spotter's registry entry."""

    name: str
    config: type  # the model config dataclass (paper defaults)
    fit: Callable  # (seqs, spans, train_cfg, seed, kind, progress) -> (model, meta)
    pack: Callable  # (model, meta) -> checkpoint entry of one type
    unpack: Callable  # (entry, fps_scale) -> (model, meta)
    detect: Callable  # (model, meta, seq, kind) -> list[Interval]
    score: Callable  # (model, meta, seq, kind) -> KindScore

    def from_checkpoint(self, path: str | Path) -> LoadedSpotter:
        from microexp.spotting.registry import load_checkpoint

        return LoadedSpotter(self, load_checkpoint(path, self.name), Path(path))

    def spot(self, path: str | Path, weights: str | Path | None = None, fps: float | None = None,
             preset: str = "default", progress: Progress | None = None, keep_frames: bool = False,
             cache_dir=None, keep=None, **options):
        if weights is None:
            raise ConfigError(f"spotter {self.name} needs --weights (a checkpoint from `microexp train spotter`)")
        if preset != "default" or options:
            what = f"--preset {preset}" if preset != "default" else ", ".join(sorted(options))
            raise ConfigError(f"{what}: OF-FD options do not apply to the learned spotter {self.name}")
        return self.from_checkpoint(weights).spot(path, fps=fps, progress=progress, keep_frames=keep_frames,
                                                  cache_dir=cache_dir, keep=keep)


@dataclass
class LoadedSpotter:
    """A checkpoint ready to spot: ``LearnedSpotter.from_checkpoint(path).spot(video)``."""

    entry: LearnedSpotter
    ckpt: dict
    path: Path

    @property
    def size(self) -> int:
        return int(self.ckpt.get("size", 128))

    def models(self, fps: float) -> dict[str, tuple]:
        """Each type's model rebuilt for a video at ``fps`` (frame counts rescaled from the training rate)."""
        scale = fps / float(self.ckpt.get("fps") or fps)
        out = {}
        for kind, m in self.ckpt["models"].items():
            try:
                out[kind] = self.entry.unpack(m, scale)
            except (KeyError, RuntimeError, TypeError, ValueError) as err:
                raise ModelError(f"{kind} model does not fit the {self.entry.name} architecture ({err})",
                                 self.path) from None
        return out

    def spot(self, video: str | Path, fps: float | None = None, progress: Progress | None = None,
             keep_frames: bool = False, cache_dir=None, keep=None):
        """Spot one video; with ``keep_frames`` the frames each interval needs (``keep``: see ``api.Keep``;
        default onset/apex/offset) are decoded in one more pass."""
        from microexp.features.cache import get_or_build_crops
        from microexp.spotting.api import SpotResult, SpotTrace

        info = VideoSource(video, fps=fps).info
        # the nominal rate, as training passes it: the same video then hits the same cache entry (no decode)
        seq = get_or_build_crops(video, fps=info.fps, size=self.size, cache_dir=cache_dir, progress=progress)
        if not seq.face.any():
            raise NoFaceError("no face found in any frame", video)
        kinds, raw, scaled = [], [], []
        settings = {"spotter": self.entry.name, "weights": str(self.path), "fps": float(info.fps),
                    "crop_size": self.size}
        found, metas = {}, {}
        for kind, (model, meta) in self.models(seq.fps).items():
            out = self.entry.score(model, meta, seq, kind)
            found[kind], metas[kind] = out.intervals, meta
            kinds.append(kind)
            raw.append(out.raw)
            scaled.append(out.scaled)
            settings[f"{kind}_model"] = ", ".join(f"{k}={v}" for k, v in meta.items()
                                                  if isinstance(v, int | float | str))
        intervals = sorted((iv for ivs in set_aside_me_in_mae(found, metas).values() for iv in ivs),
                           key=lambda iv: (iv.onset, iv.offset))
        trace = SpotTrace(np.asarray(seq.index), np.asarray(seq.time), np.max(np.stack(scaled), axis=0),
                          np.asarray(seq.face, bool), np.stack(raw, axis=1).astype(np.float32), kinds, seq.fps)
        frames = {}
        if keep_frames:
            frames = grab_frames(video, {i for iv in intervals
                                         for i in (keep.wanted(iv, info.fps) if keep else (iv.onset, iv.apex, iv.offset))}, fps)
        return SpotResult(intervals, info, self.entry.name, settings, trace, track=seq.track, frames=frames)


def set_aside_me_in_mae(found: dict[str, list[Interval]], metas: dict[str, dict]) -> dict[str, list[Interval]]:
    """ME intervals that overlap a MaE interval, dropped when the ME model was trained without the
    macro-expressions' frames (``exclude_other``): such a model peaks on macro-expressions as well, and the MaE
    model beside it says which they are (docs/spotting.md). Otherwise ``found`` unchanged."""
    if not metas.get("me", {}).get("exclude_other") or "mae" not in found or "me" not in found:
        return found
    mae = found["mae"]
    me = [iv for iv in found["me"] if not any(iv.onset <= m.offset and m.onset <= iv.offset for m in mae)]
    return {**found, "me": me}


def grab_frames(path: str | Path, wanted: set[int], fps: float | None = None) -> dict[int, np.ndarray]:
    """One decoding pass that keeps only the wanted frame indices (BGR), stopping after the last one."""
    if not wanted:
        return {}
    last = max(wanted)
    out = {}
    for fr in prefetch(VideoSource(path, fps=fps).frames()):
        if fr.index in wanted:
            out[fr.index] = fr.image
        if fr.index >= last:
            break
    return out
