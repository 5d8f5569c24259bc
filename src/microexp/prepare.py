"""Prepare a dataset for the learned models: aligned face crops of every video, one task per video, cached.

Why: tracking faces through 1,300 long videos is the slow step of every experiment, and the videos are
independent, so each is one executor task (in-process, a process pool or a Ray cluster). Results land in
the crop cache of ``microexp.features.cache`` (atomic entries with a completion marker), so an interrupted
run resumes: a video whose entry is complete is only hashed, not tracked again. A video that fails (corrupt
file, unreadable frames) is reported with its name; the others finish.

Sources: a dataset name known to ``microexp.datasets`` plus its folder, ``synth`` plus a synthetic suite
folder (the videos its CSV lists), or ``videos`` plus a plain folder of videos and frame folders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from microexp.errors import ConfigError, InputError
from microexp.experiments.executor import LocalExecutor, TaskResult
from microexp.io.frames import IMAGE_SUFFIXES, VIDEO_SUFFIXES

PLAIN_SOURCES = ("videos", "synth")
_PATH_COLUMNS = ("video", "video_path", "path", "file", "filename")


@dataclass(frozen=True)
class VideoJob:
    """One video to prepare; everything a worker on another machine needs (paths must be shared there)."""

    name: str
    video: str
    fps: float | None
    size: int
    cache_dir: str


@dataclass
class PrepareReport:
    """Per-video outcomes in input order; ``failed`` rows carry the error text."""

    source: str
    root: str
    cache_dir: str
    rows: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # annotated samples whose frames are not on disk

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == "failed"]

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)

    def table(self) -> pd.DataFrame:
        cols = ["name", "status", "frames", "face_frames", "seconds", "key", "error", "video"]
        return pd.DataFrame(self.rows, columns=cols)


def prepare_video(job: VideoJob) -> dict:
    """Worker side: crops of one video from the cache, or tracked and stored; returns a small summary."""
    from microexp.features.cache import get_or_build_crops

    seq = get_or_build_crops(job.video, fps=job.fps, size=job.size, cache_dir=job.cache_dir)
    return {"key": seq.key, "frames": seq.n_frames, "face_frames": int(seq.face.sum()),
            "cached": bool(seq.from_cache)}


def source_videos(source: str, root: str | Path, fps: float | None = None
                  ) -> tuple[list[tuple[str, Path, float | None]], list[str]]:
    """``[(name, path, fps)]`` of every distinct video of the source, plus names of samples without frames."""
    root = Path(root)
    if not root.exists():
        raise InputError("folder not found", root)
    if source == "videos":
        return [(n, p, fps) for n, p in _plain_folder(root)], []
    if source == "synth":
        return _suite(root, fps), []
    return _dataset(source, root, fps)


def _plain_folder(root: Path) -> list[tuple[str, Path]]:
    if root.is_file():
        return [(root.name, root)]
    out = []
    for p in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
            out.append((p.relative_to(root).as_posix(), p))
        elif p.is_dir() and any(q.suffix.lower() in IMAGE_SUFFIXES for q in p.iterdir() if q.is_file()):
            out.append((p.relative_to(root).as_posix() or p.name, p))
    if not out:
        raise InputError(f"no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) or frame folders found", root)
    return out


def _suite(root: Path, fps: float | None) -> list[tuple[str, Path, float | None]]:
    """Videos of a synthetic suite: ``suite.json``'s list, else the first CSV whose ``video`` column names
    existing files (with or without ``.mp4``), else every video in the folder."""
    import json

    if root.is_dir() and (root / "suite.json").is_file():
        try:
            listed = json.loads((root / "suite.json").read_text()).get("videos") or []
        except (OSError, ValueError, AttributeError):
            listed = []
        paths = [_resolve(root, str(v)) for v in listed]
        if listed and all(p is not None for p in paths):
            return [(p.name, p, fps) for p in paths]
    if root.is_dir():
        for csv in sorted(root.glob("*.csv")):
            try:
                df = pd.read_csv(csv, dtype=str, keep_default_na=False)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
                continue
            for col in (c for c in df.columns if c.strip().lower() in _PATH_COLUMNS):
                values = [v for v in df[col].unique() if v]
                paths = [_resolve(root, v) for v in values]
                if values and all(p is not None for p in paths):
                    rates = _column_rates(df, col)
                    return [(p.name, p, fps or rates.get(v)) for v, p in zip(values, paths, strict=True)]
    return [(n, p, fps) for n, p in _plain_folder(root)]


def _resolve(root: Path, value: str) -> Path | None:
    for cand in (Path(value), Path(value + ".mp4")):
        p = cand if cand.is_absolute() else root / cand
        if p.exists():
            return p
    return None


def _column_rates(df: pd.DataFrame, col: str) -> dict[str, float]:
    if "fps" not in df.columns:
        return {}
    out = {}
    for v, r in zip(df[col], df["fps"], strict=True):
        try:
            out.setdefault(str(v), float(r))
        except ValueError:
            continue
    return out


def _dataset(name: str, root: Path, fps: float | None) -> tuple[list[tuple[str, Path, float | None]], list[str]]:
    from microexp.datasets import load, spec

    try:
        s = spec(name)
    except ConfigError as err:
        raise ConfigError(f"{err.problem}; or 'synth' (suite folder) or 'videos' (plain folder)") from None
    if s.name == "composite":
        raise ConfigError("the composite set ships derived flow images, not videos; nothing to prepare")
    df = load(s.name, root)
    seen: dict[str, tuple[str, Path, float | None]] = {}
    missing = []
    for _, r in df.iterrows():
        # the frame folder first: annotations index its frames; the raw video only where no frames exist
        video = str(r.get("frames_dir") or "") or str(r.get("video_path") or "")
        label = "/".join(str(r[c]) for c in ("subject", "video" if "video" in r else "clip") if c in r)
        if not video:
            missing.append(label)
            continue
        rate = fps or _row_fps(r) or s.fps
        if video not in seen:
            p = Path(video)
            seen[video] = (p.relative_to(root).as_posix() if p.is_relative_to(root) else p.name, p, rate)
    if not seen:
        raise InputError(f"no {s.name} videos or frame folders found under the folder "
                         f"({len(missing)} annotated samples, none on disk)", root)
    return list(seen.values()), sorted(set(missing))


def _row_fps(r: pd.Series) -> float | None:
    try:
        v = float(r.get("fps"))
    except (TypeError, ValueError):
        return None
    return v if v > 0 else None


def prepare_dataset(source: str, root: str | Path, cache_dir: str | Path, *, executor=None,
                    fps: float | None = None, size: int = 128,
                    progress: Callable[[int, int | None], None] | None = None) -> PrepareReport:
    """Build (or find) the crop cache entry of every video of ``source``; one executor task per video.

    ``executor`` is a ``microexp.experiments`` executor (default: in-process). Never raises for a single bad
    video: its row has ``status == 'failed'`` and the error; raises only when the source lists no video.
    """
    if size < 16:
        raise ConfigError(f"crop size must be at least 16, got {size}")
    videos, missing = source_videos(source, root, fps)
    cache = str(Path(cache_dir).resolve())
    jobs = [VideoJob(name, str(Path(p).absolute()), rate, size, cache) for name, p, rate in videos]
    ex = executor or LocalExecutor()
    results: list[TaskResult] = ex.map(prepare_video, jobs, progress=progress, names=[j.name for j in jobs])
    report = PrepareReport(source, str(root), cache, skipped=missing)
    for job, res in zip(jobs, results, strict=True):
        row = {"name": job.name, "video": job.video, "seconds": round(res.seconds, 3), "error": res.error or ""}
        if res.ok:
            v = res.value
            row.update(status="cached" if v["cached"] else "built", frames=v["frames"],
                       face_frames=v["face_frames"], key=v["key"])
        else:
            row.update(status="failed", frames=0, face_frames=0, key="")
        report.rows.append(row)
    return report
