"""On-disk cache of per-video aligned grey face crops, so a second run (or a second model) does not decode.

Entries are keyed by a hash of the video's bytes (every frame file for a folder) plus every parameter that
changes the crops. An entry is built in a temporary folder next to its final place, finished with a
``COMPLETE`` marker and renamed into place in one step, so readers never see half an entry and two
workers building the same video at once both end with one valid entry. Crops are stored raw (``uint8``,
frames × size × size) and opened memory-mapped, so long videos are not loaded into memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from microexp.errors import InputError, NoFaceError
from microexp.face.track import FaceTrack, FaceTrackBuilder, TrackConfig, track_crops
from microexp.io.atomic import _UMASK, temp_dir_beside
from microexp.io.video import VideoSource

CACHE_VERSION = 3  # 2: the face track (boxes, landmarks of checked frames) stored beside the crops;
# 3: crops follow the head frame by frame (LK on rigid landmarks) instead of jumping on re-anchoring
MARKER = "COMPLETE"


@dataclass
class CropSequence:
    """Aligned crops of every decoded frame; ``face[i]`` False means crop ``i`` is zeros (no face)."""

    crops: np.ndarray  # (N, size, size) uint8, memory-mapped when read from the cache
    face: np.ndarray  # (N,) bool
    index: np.ndarray  # (N,) original 0-based frame index
    time: np.ndarray  # (N,) seconds from the first frame
    transforms: np.ndarray  # (N, 2, 3) float32 source -> crop
    fps: float
    size: int
    key: str
    video: str
    from_cache: bool = False
    track: FaceTrack | None = None  # the tracker's record: boxes, transforms, landmarks of checked frames

    @property
    def n_frames(self) -> int:
        return int(self.crops.shape[0])


def default_cache_dir() -> Path:
    """``$MICROEXP_CACHE`` or ``~/.cache/microexp``."""
    env = os.environ.get("MICROEXP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "microexp"


def video_digest(path: str | Path) -> str:
    """BLAKE2b of the file's bytes, or of every frame file (name and bytes) of a frame folder."""
    from microexp.io.frames import list_frames

    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", path)
    h = hashlib.blake2b(digest_size=16)
    files = list_frames(path) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(f.name.encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()


def cache_key(digest: str, fps: float | None, config: TrackConfig) -> str:
    params = {"v": CACHE_VERSION, "fps": fps, "track": asdict(config)}
    blob = json.dumps(params, sort_keys=True).encode()
    return f"{digest[:16]}-{hashlib.blake2b(blob, digest_size=8).hexdigest()}"


def get_or_build_crops(video_path: str | Path, fps: float | None = None, size: int = 128,
                       cache_dir: str | Path | None = None,
                       progress: Callable[[int, int | None], None] | None = None,
                       config: TrackConfig | None = None) -> CropSequence:
    """The crops of ``video_path``, from the cache when present, else decoded, tracked and stored."""
    cfg = config or TrackConfig(size=size)
    if cfg.size != size:
        cfg = TrackConfig(**{**asdict(cfg), "size": size})
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = cache_key(video_digest(video_path), fps, cfg)
    entry = root / "crops" / key
    if (entry / MARKER).is_file():
        try:
            return _load(entry, key, str(video_path))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            # finished, then damaged (disk trouble, a hand edit): never read it, build it again
            shutil.rmtree(entry, ignore_errors=True)
    _build(video_path, fps, cfg, entry, progress)
    return _load(entry, key, str(video_path), from_cache=False)


def _build(video_path, fps, cfg: TrackConfig, entry: Path, progress) -> None:
    src = VideoSource(video_path, fps=fps)
    with temp_dir_beside(entry) as tmp:
        face, index, time, transforms = [], [], [], []
        builder = FaceTrackBuilder()
        with open(tmp / "crops.u8", "wb") as fh:
            for tf in track_crops(src.frames(gray=True), src.info.fps, cfg, progress=progress,
                                  total=src.info.n_frames, track=builder):
                fh.write(np.ascontiguousarray(tf.crop, dtype=np.uint8).tobytes())
                face.append(tf.face)
                index.append(tf.index)
                time.append(tf.time)
                transforms.append(tf.transform)
        if not index:
            raise NoFaceError("no frames decoded", video_path)
        track = builder.build()
        np.savez(tmp / "meta.npz", face=np.array(face, bool), index=np.array(index, np.int64),
                 time=np.array(time, np.float64), transforms=np.array(transforms, np.float32),
                 boxes=track.boxes, lm_pos=np.array(sorted(track.landmarks), np.int64),
                 landmarks=np.array([track.landmarks[k] for k in sorted(track.landmarks)],
                                    np.float32).reshape(-1, 68, 2))
        info = {"video": str(video_path), "fps": src.info.fps, "n": len(index), "size": cfg.size,
                "track": asdict(cfg), "version": CACHE_VERSION}
        (tmp / "info.json").write_text(json.dumps(info, indent=1))
        (tmp / MARKER).write_text("ok\n")
        os.chmod(tmp, 0o777 & ~_UMASK)  # made 0700; a shared cache must be readable by its users
        if entry.exists() and not (entry / MARKER).is_file():
            shutil.rmtree(entry, ignore_errors=True)  # a broken entry from an older, non-atomic writer
        try:
            os.rename(tmp, entry)
        except OSError:
            if not (entry / MARKER).is_file():  # someone else won the race with a valid entry otherwise
                raise


def _load(entry: Path, key: str, video: str, from_cache: bool = True) -> CropSequence:
    info = json.loads((entry / "info.json").read_text())
    if info.get("version") != CACHE_VERSION:  # another crop policy: never reuse its crops
        raise ValueError(f"cache entry {entry.name}: version {info.get('version')}, not {CACHE_VERSION}")
    n, s = int(info["n"]), int(info["size"])
    if (entry / "crops.u8").stat().st_size != n * s * s:
        raise ValueError(f"cache entry {entry.name}: crops.u8 does not hold {n} crops of {s}x{s}")
    crops = np.memmap(entry / "crops.u8", dtype=np.uint8, mode="r", shape=(n, s, s))
    with np.load(entry / "meta.npz") as m:
        meta = {k: m[k] for k in ("face", "index", "time", "transforms", "boxes")}
        lm_pos, landmarks = m["lm_pos"], m["landmarks"]
    if any(len(v) != n for v in meta.values()) or len(lm_pos) != len(landmarks):
        raise ValueError(f"cache entry {entry.name}: meta.npz does not describe {n} frames")
    track = FaceTrack(meta["index"].astype(int), meta["time"], meta["face"].astype(bool), meta["boxes"],
                      meta["transforms"].astype(np.float64), {int(k): v for k, v in zip(lm_pos, landmarks)})
    return CropSequence(crops, meta["face"], meta["index"], meta["time"], meta["transforms"], float(info["fps"]),
                        s, key, video, from_cache, track)
