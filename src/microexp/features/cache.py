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
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from microexp.errors import InputError, NoFaceError
from microexp.face.landmarks import LandmarkDetector
from microexp.face.track import TrackConfig, track_crops
from microexp.io.atomic import _UMASK
from microexp.io.video import VideoSource

CACHE_VERSION = 2  # 2: landmarks of every checked frame stored beside the crops
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
    lm_index: np.ndarray | None = None  # (M,) frames whose landmarks the tracker found (its checks)
    landmarks: np.ndarray | None = None  # (M, 68, 2) float32 source-pixel landmarks of those frames

    @property
    def n_frames(self) -> int:
        return int(self.crops.shape[0])

    def face_mask(self, n: int | None = None) -> np.ndarray:
        """Per original frame (``n`` of them): True where the face was tracked."""
        n = int(self.index[-1] + 1) if n is None and len(self.index) else int(n or 0)
        out = np.zeros(n, bool)
        ok = np.asarray(self.index) < n
        out[np.asarray(self.index)[ok]] = np.asarray(self.face, bool)[ok]
        return out

    def landmarks_at(self, frame: int) -> np.ndarray | None:
        """Landmarks of the nearest tracker check to ``frame`` (None where no face was tracked there)."""
        if self.landmarks is None or not len(self.lm_index):
            return None
        pos = np.searchsorted(self.index, frame)
        if pos >= len(self.index) or self.index[pos] != frame or not self.face[pos]:
            return None
        j = int(np.argmin(np.abs(np.asarray(self.lm_index) - frame)))
        return np.asarray(self.landmarks[j], np.float32)


def default_cache_dir() -> Path:
    """``$MICROEXP_CACHE`` or ``~/.cache/microexp``."""
    env = os.environ.get("MICROEXP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "microexp"


def video_digest(path: str | Path) -> str:
    """BLAKE2b of the file's bytes, or of every frame file (name and bytes) of a frame folder."""
    from microexp.io.video import list_frame_files

    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", path)
    h = hashlib.blake2b(digest_size=16)
    files = list_frame_files(path) if path.is_dir() else [path]
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
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        face, index, time, transforms = [], [], [], []
        log = _LandmarkLog(LandmarkDetector())
        with open(tmp / "crops.u8", "wb") as fh:
            for tf in track_crops(log.frames(src.frames(gray=True)), src.info.fps, cfg, detector=log,
                                  progress=progress, total=src.info.n_frames):
                fh.write(np.ascontiguousarray(tf.crop, dtype=np.uint8).tobytes())
                face.append(tf.face)
                index.append(tf.index)
                time.append(tf.time)
                transforms.append(tf.transform)
        if not index:
            raise NoFaceError("no frames decoded", video_path)
        np.savez(tmp / "meta.npz", face=np.array(face, bool), index=np.array(index, np.int64),
                 time=np.array(time, np.float64), transforms=np.array(transforms, np.float32),
                 lm_index=np.array(log.index, np.int64),
                 landmarks=np.array(log.points, np.float32).reshape(-1, 68, 2))
        info = {"video": str(video_path), "fps": src.info.fps, "n": len(index), "size": cfg.size,
                "track": asdict(cfg), "version": CACHE_VERSION}
        (tmp / "info.json").write_text(json.dumps(info, indent=1))
        (tmp / MARKER).write_text("ok\n")
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700; a shared cache must be readable by its users
        if entry.exists() and not (entry / MARKER).is_file():
            shutil.rmtree(entry, ignore_errors=True)  # a broken entry from an older, non-atomic writer
        try:
            os.rename(tmp, entry)
        except OSError:
            if not (entry / MARKER).is_file():  # someone else won the race with a valid entry otherwise
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _load(entry: Path, key: str, video: str, from_cache: bool = True) -> CropSequence:
    info = json.loads((entry / "info.json").read_text())
    n, s = int(info["n"]), int(info["size"])
    if (entry / "crops.u8").stat().st_size != n * s * s:
        raise ValueError(f"cache entry {entry.name}: crops.u8 does not hold {n} crops of {s}x{s}")
    crops = np.memmap(entry / "crops.u8", dtype=np.uint8, mode="r", shape=(n, s, s))
    with np.load(entry / "meta.npz") as m:
        meta = {k: m[k] for k in ("face", "index", "time", "transforms")}
        lm_index, landmarks = m["lm_index"], m["landmarks"]
    if any(len(v) != n for v in meta.values()) or len(lm_index) != len(landmarks):
        raise ValueError(f"cache entry {entry.name}: meta.npz does not describe {n} frames")
    return CropSequence(crops, meta["face"], meta["index"], meta["time"], meta["transforms"], float(info["fps"]),
                        s, key, video, from_cache, lm_index, landmarks)


class _LandmarkLog:
    """The tracker's detector, keeping the full-resolution landmarks it finds on each checked frame.

    ``track_crops`` detects on a frame right after pulling it from ``frames``, so the frame being checked is
    the last one pulled. The landmarks let ``analyze`` align the recogniser's crops without detecting again.
    """

    def __init__(self, detector: LandmarkDetector):
        self.det = detector
        self.current = -1
        self.index: list[int] = []
        self.points: list[np.ndarray] = []

    def frames(self, frames):
        for fr in frames:
            self.current = fr.index
            yield fr

    def _keep(self, lm: np.ndarray) -> None:
        if self.index and self.index[-1] == self.current:
            self.points[-1] = lm  # full-resolution landmarks replace those of a downscaled detection
        else:
            self.index.append(self.current)
            self.points.append(lm)

    def detect(self, *args, **kwargs):
        return self.det.detect(*args, **kwargs)

    def find(self, gray, *args, **kwargs):
        found = self.det.find(gray, *args, **kwargs)
        if found is not None:
            self._keep(found[1])
        return found

    def landmarks(self, gray, box):
        lm = self.det.landmarks(gray, box)
        self._keep(lm)
        return lm
