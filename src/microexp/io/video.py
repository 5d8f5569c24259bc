"""Decoding: video files through PyAV, frame folders through OpenCV, both as one stream of ``Frame`` records.

Frames are streamed, never held in memory as a whole, and keep their presentation time so that variable
frame-rate video maps frame indices to seconds correctly. Frames come out upright (the display rotation a
phone writes into the container is applied) and no larger than ``max_side`` pixels: a 4K frame is scaled
while it is decoded, so memory does not grow with the resolution; ``VideoInfo.scale`` says by how much.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from microexp.errors import ConfigError, InputError, VideoError
from microexp.io.frames import IMAGE_SUFFIXES, list_frames

# Working size: frames are decoded with their longer side at most this many pixels. The spotter and the
# recogniser work on canonical face crops of 128-256 px, which a face filling a quarter of a 1280 px frame
# still fills at native resolution, while OF-FD's window of ~200 frames costs 9x less than at 4K.
MAX_SIDE = 1280
MIN_RATE, MAX_RATE = 1.0, 10_000.0  # frame rates (Hz) the toolkit accepts


def check_rate(fps: float | None, what: str = "fps") -> None:
    """Refuse a frame rate that is not a finite number in [MIN_RATE, MAX_RATE] (``None`` = not given).

    A zero, negative, tiny or infinite rate would make the constant-rate resampler loop forever or overflow.
    """
    if fps is None:
        return
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number, got {fps!r}") from None
    if not math.isfinite(value) or not MIN_RATE <= value <= MAX_RATE:
        raise ConfigError(f"{what} must be a frame rate between {MIN_RATE:g} and {MAX_RATE:g} per second, "
                          f"got {fps!r}")


@dataclass(frozen=True)
class Frame:
    index: int  # 0-based position in the decoded stream
    time: float  # seconds from the first frame
    image: np.ndarray  # BGR uint8 (H, W, 3)


@dataclass(frozen=True)
class VideoInfo:
    path: str
    fps: float  # nominal (average) rate used for seconds <-> frames
    width: int
    height: int
    n_frames: int | None  # None when the container does not say
    duration: float | None
    is_folder: bool = False
    codec: str = ""
    scale: float = 1.0  # decoded frame size / stored size (< 1 for frames larger than the working size)
    rotation: int = 0  # degrees counter-clockwise applied to make frames upright (display matrix)

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames ``frames()`` yields: upright and scaled to the working size."""
        return _scaled(self.width, self.height, self.scale)


def _scaled(w: int, h: int, scale: float) -> tuple[int, int]:
    if scale >= 1.0:
        return w, h
    return max(2, int(round(w * scale))) & ~1, max(2, int(round(h * scale))) & ~1


def working_scale(w: int, h: int, max_side: int | None) -> float:
    return 1.0 if not max_side or max(w, h) <= max_side else max_side / max(w, h)


MIN_SPOT_FPS = 10.0  # micro-expressions last 0.2-0.5 s: below 10 fps the shortest spans under 2 frames
MIN_FACE_PX = 80.0  # face box width: smaller faces are upsampled > 3x into the 256 px canonical crop
MIN_SPOT_S = 1.0  # an interval needs the face before the expression and the expression (ME up to 0.5 s)


def input_warnings(info: VideoInfo, face_width_px: float | None = None, n_frames: int | None = None) -> list[str]:
    """What makes a result unreliable though it is computed (one line each, empty when all is well).

    ``face_width_px``: the typical face box width in decoded frames (``None`` when unknown); it is compared in
    source pixels (divided by ``info.scale``) so decoding large frames smaller does not trigger the warning.
    ``n_frames``: frames actually decoded (a header's count or duration can be wrong or missing).
    """
    out = []
    if n_frames is not None and info.fps > 0 and n_frames / info.fps < MIN_SPOT_S:
        out.append(f"the video lasts {n_frames / info.fps:.2f} s ({n_frames} frame{'s' * (n_frames != 1)}), under "
                   f"the {MIN_SPOT_S:g} s an interval needs (the face before the expression, then the expression); "
                   "expect no intervals")
    if info.fps < MIN_SPOT_FPS:
        out.append(f"frame rate {info.fps:g} fps is below the {MIN_SPOT_FPS:g} fps spotting needs "
                   "(micro-expressions last 0.2-0.5 s); expect few or no intervals")
    if face_width_px is not None and math.isfinite(face_width_px) and face_width_px / info.scale < MIN_FACE_PX:
        out.append(f"the face is about {face_width_px / info.scale:.0f} px wide, below the {MIN_FACE_PX:g} px "
                   "the spotter is built for; expect noisy curves (film closer or at a higher resolution)")
    return out


def typical_face_width(result) -> float | None:
    """Median face box width (decoded px) of a spot result whose face track keeps boxes; None otherwise."""
    track = getattr(result, "track", None) or getattr(getattr(result, "offd", None), "track", None)
    boxes = getattr(track, "boxes", None)
    if boxes is None or len(boxes) == 0:
        return None
    widths = np.asarray(boxes, dtype=float)[:, 2] - np.asarray(boxes, dtype=float)[:, 0]
    widths = widths[np.isfinite(widths) & (widths > 0)]
    return float(np.median(widths)) if widths.size else None


def header_rate(stream):
    """The first plausible rate a stream's header gives (average, guessed, base), else the first given, else None.

    A remuxed Matroska stream can report ``average_rate`` 24000 next to a correct ``guessed_rate`` of 23.976: an
    implausible rate is passed over rather than trusted or refused.
    """
    rates = [r for r in (stream.average_rate, stream.guessed_rate, stream.base_rate) if r]
    return next((r for r in rates if MIN_RATE <= float(r) <= MAX_RATE), rates[0] if rates else None)


class VideoSource:
    """A video file or a folder of frames, opened lazily; iterate ``frames()`` to stream ``Frame`` records.

    ``fps`` sets the rate of a frame folder (or overrides a file's nominal rate); ``max_side`` caps the longer
    side of the frames yielded (``None``: full size).
    """

    def __init__(self, path: str | Path, fps: float | None = None, max_side: int | None = MAX_SIDE):
        check_rate(fps)
        if max_side is not None and max_side < 16:
            raise ConfigError(f"max_side must be at least 16 pixels, got {max_side}")
        self.max_side = max_side
        self.path = Path(path)
        if not self.path.exists():
            raise InputError("no such file or directory", self.path)
        if self.path.is_dir():
            self._files = list_frames(self.path)
            if not self._files:
                raise VideoError(f"folder holds no frame images ({', '.join(sorted(IMAGE_SUFFIXES))})", self.path)
            stems: dict[str, str] = {}
            for f in self._files:  # img3.jpg next to img3.png would count one frame twice
                other = stems.setdefault(f.stem.lower(), f.name)
                if other != f.name:
                    raise VideoError(f"frame {f.stem!r} exists twice ({other}, {f.name}); keep one", self.path)
            if fps is None:
                raise InputError("a frame folder needs --fps (or a dataset preset that sets it)", self.path)
            first = cv2.imread(str(self._files[0]), cv2.IMREAD_COLOR)
            if first is None:
                raise VideoError("cannot read image", self._files[0])
            h, w = first.shape[:2]
            self.info = VideoInfo(str(self.path), float(fps), w, h, len(self._files),
                                  len(self._files) / float(fps), is_folder=True, codec="images",
                                  scale=working_scale(w, h, max_side))
        else:
            self._files = None
            self.info = self._probe(fps)

    def _open(self):
        import av

        try:
            container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise VideoError(f"cannot open as video ({_short(err)})", self.path) from None
        if not container.streams.video:
            container.close()
            raise VideoError("file has no video stream (audio only or not a video)", self.path)
        return container

    def _probe(self, fps: float | None) -> VideoInfo:
        if self.path.stat().st_size == 0:
            raise VideoError("file is empty (0 bytes)", self.path)
        with self._open() as container:
            stream = container.streams.video[0]
            rate = header_rate(stream)
            nominal = float(fps) if fps else (float(rate) if rate else 0.0)
            if nominal <= 0:
                raise VideoError("frame rate unknown; pass --fps", self.path)
            if not MIN_RATE <= nominal <= MAX_RATE:
                raise VideoError(f"frame rate {nominal:g} per second is outside the supported "
                                 f"{MIN_RATE:g}..{MAX_RATE:g}", self.path)
            n = stream.frames or None
            dur = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
            if dur is None and container.duration:
                dur = container.duration / 1_000_000
            w, h = stream.codec_context.width, stream.codec_context.height
            if not w or not h:
                raise VideoError("video stream has no frame size", self.path)
            # what the header promises (frame count, else duration at the stream's own rate): _check_complete
            self._expected = (n, dur, float(rate) if rate else None)
            return VideoInfo(str(self.path), nominal, w, h, n, dur, False, stream.codec_context.name,
                             scale=working_scale(w, h, self.max_side))

    def frames(self, gray: bool = False) -> Iterator[Frame]:
        """Stream frames in order. ``gray=True`` yields (H, W) uint8 images, cheaper to decode.

        Frames are upright (display rotation applied; ``info`` then gives the upright width and height) and
        scaled to ``info.frame_size`` inside the decoder, so a large frame is never held at full size.
        """
        if self._files is not None:
            yield from self._folder_frames(gray)
            return
        import av

        container = self._open()
        try:
            stream = container.streams.video[0]
            # frame threading keeps one full-size frame per thread in flight: for frames that are scaled down
            # anyway, slice threading decodes as fast here without the extra full-size frames
            stream.thread_type = "SLICE" if self.info.scale < 1.0 else "AUTO"
            tb = stream.time_base or Fraction(1, 1)
            t0 = None
            fmt = "gray" if gray else "bgr24"
            size = _scaled(stream.codec_context.width, stream.codec_context.height, self.info.scale)
            resize = self.info.scale < 1.0
            i = -1
            try:
                for i, frame in enumerate(container.decode(stream)):
                    if i == 0:
                        self._note_rotation(_rotation(frame))
                    if resize:
                        frame = frame.reformat(width=size[0], height=size[1], interpolation="AREA")
                    pts = frame.pts if frame.pts is not None else None
                    if pts is None:
                        t = i / self.info.fps
                    else:
                        t_abs = float(pts * tb)
                        t0 = t_abs if t0 is None else t0
                        t = t_abs - t0
                    img = _luma(frame) if gray else frame.to_ndarray(format=fmt)
                    yield Frame(i, t, _upright(img, self.info.rotation))
            except av.error.FFmpegError as err:
                if i < 0:
                    raise VideoError(f"cannot decode any frame ({_short(err)})", self.path) from None
                # Damage mid-stream: a shorter result would be a silently wrong frame count (robustness.md).
                raise VideoError(f"file is damaged after frame {i} ({_short(err)}); re-encode it to analyse "
                                 "the frames before the damage", self.path) from None
            if i < 0:
                raise VideoError("video stream holds no decodable frames", self.path)
            self._check_complete(i + 1, t)
        finally:
            container.close()

    def _note_rotation(self, rotation: int) -> None:
        if rotation != self.info.rotation:
            w, h = (self.info.height, self.info.width) if rotation % 180 else (self.info.width, self.info.height)
            self.info = replace(self.info, rotation=rotation, width=w, height=h)

    def _check_complete(self, decoded: int, last_t: float) -> None:
        """A truncated file decodes cleanly up to where it was cut: compare with what the header promises
        (its frame count; else its duration, by time so that variable frame-rate files are judged right)."""
        n, dur, rate = getattr(self, "_expected", (None, None, None))
        if n and decoded < n - max(2, 0.02 * n):
            problem = f"decoded {decoded} frames, the header promises {n}"
        elif not n and dur and rate and last_t + 1 / rate < dur - max(2 / rate, 0.02 * dur):
            problem = f"decoded {last_t + 1 / rate:.2f} s ({decoded} frames), the header promises {dur:.2f} s"
        else:
            return
        raise VideoError(f"file is truncated: {problem}; re-encode (or remux) it to analyse the frames that "
                         "are left", self.path)

    def _folder_frames(self, gray: bool) -> Iterator[Frame]:
        flag = cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR
        for i, f in enumerate(self._files):
            img = cv2.imread(str(f), flag)
            if img is None:
                raise VideoError("cannot read image (corrupt or not an image)", f)
            if img.shape[:2] != (self.info.height, self.info.width):
                raise VideoError(
                    f"frame size {img.shape[1]}x{img.shape[0]} differs from the first frame's "
                    f"{self.info.width}x{self.info.height}", f)
            if self.info.scale < 1.0:
                img = cv2.resize(img, self.info.frame_size, interpolation=cv2.INTER_AREA)
            yield Frame(i, i / self.info.fps, img)

    def frame_names(self) -> list[str] | None:
        return None if self._files is None else [f.name for f in self._files]


def _rotation(frame) -> int:
    """Counter-clockwise degrees (0, 90, 180, 270) that make the frame upright, from its display matrix."""
    try:
        deg = float(frame.rotation or 0)
    except (AttributeError, TypeError, ValueError):  # older PyAV without display-matrix support
        return 0
    return int(round(deg / 90.0)) * 90 % 360


_ROTATE = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


def _upright(img: np.ndarray, rotation: int) -> np.ndarray:
    return cv2.rotate(img, _ROTATE[rotation]) if rotation in _ROTATE else img


_LIMITED_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255.0 / 219.0), 0, 255).astype(np.uint8)


def _luma(frame) -> np.ndarray:
    """Grey image straight from the Y plane of planar YUV (no colour conversion); else convert."""
    if frame.format.name in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"):
        plane = frame.planes[0]
        buf = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
        if frame.format.name.startswith("yuvj") or frame.format.name == "gray":
            return np.ascontiguousarray(buf)
        return cv2.LUT(np.ascontiguousarray(buf), _LIMITED_TO_FULL)  # studio-range luma → full range
    return frame.to_ndarray(format="gray")


def prefetch(frames: Iterator[Frame], depth: int = 16) -> Iterator[Frame]:
    """Decode in a background thread (PyAV releases the GIL) so decoding overlaps the analysis."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def worker():
        try:
            for f in frames:
                if stop.is_set():
                    break
                q.put(f)
        except BaseException as err:  # noqa: BLE001 - re-raised in the consumer
            q.put(err)
        finally:
            q.put(done)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.05)


def _short(err: Exception) -> str:
    return str(err).splitlines()[0][:160] if str(err) else type(err).__name__


def remux(src: str | Path, dst: str | Path, fmt: str = "matroska") -> Path:
    """Copy a video's packets into another container without re-encoding (e.g. Matroska, which a pipe or an
    HTTP stream can carry: an MP4 whose index sits at its end cannot be streamed)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt) as out:
        s = inp.streams.video[0]
        o = out.add_stream_from_template(s)
        for p in inp.demux(s):
            if p.dts is not None:  # the demuxer's final flush packet
                p.stream = o
                out.mux(p)
    return Path(dst)


def write_video(path: str | Path, frames, fps: float, codec: str = "libx264", crf: int = 18,
                x264_params: str | None = None, comment: str | None = None) -> Path:
    """Write BGR frames to an H.264 file atomically (temp file, then rename).

    ``x264_params`` passes extra encoder settings; ``comment`` goes into the container's metadata.
    """
    import av

    from microexp.io.atomic import atomic_path

    path = Path(path)
    options = {"crf": str(crf), "preset": "veryfast"} if codec == "libx264" else {}
    if x264_params and codec == "libx264":
        options["x264-params"] = x264_params
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format=_container_format(path)) as out:
            if comment:
                out.metadata["comment"] = comment
            stream = None
            for img in frames:
                if stream is None:
                    h, w = img.shape[:2]
                    stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
                    stream.width, stream.height = w - w % 2, h - h % 2
                    stream.pix_fmt = "yuv420p"
                    stream.options = options
                frame = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(img[: stream.height, : stream.width]), format="bgr24")
                for packet in stream.encode(frame):
                    out.mux(packet)
            if stream is None:
                raise VideoError("no frames to write", path)
            for packet in stream.encode():
                out.mux(packet)
    return path


def _container_format(path: Path) -> str:
    return {".mp4": "mp4", ".mov": "mov", ".avi": "avi", ".mkv": "matroska"}.get(path.suffix.lower(), "mp4")
