"""Live frame sources for ``microexp watch``: cameras, capture devices, network streams, pipes and files.

Every kind is opened with PyAV and read by a background thread into a *bounded* queue, so a slow consumer
never makes memory grow: for live sources, when the queue is full its oldest frame is dropped (and
counted) once its timestamp is too far behind the wall clock; a file read as fast as possible (and a pipe)
blocks the reader instead,
which is lossless and gives exactly the frames ``VideoSource`` gives. Frame times follow ``VideoSource``
(seconds from the first frame, by presentation time), so the spotter sees the same timeline either way.
A network stream that ends early or fails is reopened with exponential back-off; across a reconnect the
frame index and time keep increasing (the gap in time is real and the spotter resamples across it).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from microexp.errors import InputError, VideoError
from microexp.io.video import Frame, _luma, _short, header_rate

NETWORK_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
KINDS = ("camera", "device", "url", "pipe", "file")


@dataclass(frozen=True)
class SourceSpec:
    """What the user asked for, resolved: the PyAV target, its format and whether it is live."""

    text: str  # as given (``0``, ``/dev/video0``, ``rtsp://...``, ``-``, ``clip.mp4``)
    kind: str  # one of KINDS
    target: object  # what av.open receives (path, URL or a binary file object)
    format: str | None = None
    options: dict = field(default_factory=dict)


def resolve_source(source, device_format: str = "v4l2") -> SourceSpec:
    """Classify SOURCE: an integer is a camera index, ``-`` (or a binary file object) is a pipe of container
    bytes, a URL is a network stream, anything else a device or file path."""
    if hasattr(source, "read"):
        return SourceSpec(getattr(source, "name", "pipe") if isinstance(getattr(source, "name", None), str)
                          else "pipe", "pipe", source)
    text = str(source)
    if isinstance(source, int) or text.isdigit():
        dev = f"/dev/video{int(text)}" if device_format == "v4l2" else text
        return SourceSpec(text, "camera", dev, device_format)
    if text == "-":
        return SourceSpec("stdin", "pipe", sys.stdin.buffer)
    if text.lower().startswith(NETWORK_SCHEMES):
        opts = {"rtsp_transport": "tcp"} if text.lower().startswith("rtsp") else {}
        return SourceSpec(text, "url", text, None, opts)
    path = Path(text)
    if text.startswith("/dev/"):
        if not path.exists():
            raise InputError("no such capture device", text)
        return SourceSpec(text, "device", text, device_format)
    if not path.exists():
        raise InputError("no such file, device or stream (give a camera index, a device path, a URL or -)", text)
    if path.is_dir():
        raise InputError("watch reads a video, device or stream, not a folder of frames (use `microexp spot`)",
                         text)
    if path.stat().st_size == 0:
        raise VideoError("file is empty (0 bytes)", text)
    return SourceSpec(text, "file", str(path))


@dataclass
class LiveStats:
    """What the reader has seen so far; read it any time from another thread (plain counters)."""

    read: int = 0  # frames decoded
    dropped: int = 0  # frames discarded because the consumer fell behind
    reconnects: int = 0
    state: str = "opening"  # opening | streaming | reconnecting | ended | lost
    message: str = ""  # why the stream was lost (one line), empty otherwise
    fps: float = 0.0  # nominal frame rate of the source
    started: float = field(default_factory=time.monotonic)

    def rate(self) -> float:
        """Frames decoded per second of wall time since the start."""
        return self.read / max(1e-6, time.monotonic() - self.started)


@dataclass(frozen=True)
class Backoff:
    """Reconnect schedule: ``first``·2^k seconds capped at ``cap``; ``attempts`` tries per outage."""

    first: float = 0.5
    cap: float = 8.0
    attempts: int = 5

    def delays(self) -> Iterator[float]:
        for k in range(self.attempts):
            yield min(self.cap, self.first * 2 ** k)


class LiveSource:
    """Open SOURCE and stream ``Frame`` records from a background reader through a bounded queue.

    ``realtime`` paces a file at its own frame rate (a stand-in for a camera). The queue holds ``queue_s``
    seconds of frames; ``drop`` says whether frames that fall more than that behind the wall clock are
    dropped (default for cameras, devices, URLs and realtime files) or the reader always waits (default
    for files read as fast as possible and for pipes: lossless, the same frames ``spot`` reads).
    """

    def __init__(self, source: str | int | Path, *, fps: float | None = None, realtime: bool = False,
                 gray: bool = True, queue_s: float = 2.0, drop: bool | None = None,
                 backoff: Backoff | None = None, device_format: str = "v4l2"):
        self.spec = resolve_source(source, device_format)
        self.name = self.spec.text
        self.realtime = realtime
        self.gray = gray
        self.drop = drop if drop is not None else (self.spec.kind in ("camera", "device", "url") or realtime)
        self.backoff = backoff or Backoff()
        self.stats = LiveStats()
        self._fps_override = fps
        self._container = None
        self._expected_end: float | None = None
        self._container = self._connect()
        self.fps = self.stats.fps
        self._queue: deque = deque()
        self.queue_s = queue_s
        self._capacity = max(8, int(round(queue_s * self.fps)))
        self._origin: float | None = None  # wall clock minus stream time of the first frame
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._done = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    # -- opening ------------------------------------------------------------------------------------
    def _connect(self):
        try:
            container = _open_av(self.spec)
        except Exception as err:  # av.error.FFmpegError (an OSError), ValueError
            if isinstance(err, (OSError, ValueError)) or type(err).__module__.startswith("av"):
                raise VideoError(f"cannot open ({_short(err)}){self._hint()}", self.name) from None
            raise
        if not container.streams.video:
            container.close()
            raise VideoError("no video stream (audio only or not a video)", self.name)
        stream = container.streams.video[0]
        rate = header_rate(stream)
        fps = float(self._fps_override) if self._fps_override else (float(rate) if rate else 0.0)
        if fps <= 0:
            container.close()
            raise VideoError("frame rate unknown; pass --fps", self.name)
        self.stats.fps = fps
        if stream.duration and stream.time_base:
            self._expected_end = float(stream.duration * stream.time_base)
        elif container.duration:
            self._expected_end = container.duration / 1_000_000
        return container

    def _hint(self) -> str:
        if self.spec.kind != "pipe":
            return ""
        return ("; a pipe needs a streamable container (Matroska, MPEG-TS, fragmented MP4), not an MP4 "
                "whose index is at its end")

    # -- the reader thread --------------------------------------------------------------------------
    def _put(self, frame: Frame) -> bool:
        """Queue one frame; False when the reader should stop.

        A full queue drops by timestamp: its oldest frame goes once it is more than ``queue_s`` behind the
        wall clock (the consumer fell behind a live source). A source that runs ahead of real time (a
        file over HTTP) is not late, so the reader waits instead, as it always does when ``drop`` is off.
        """
        with self._cond:
            if self._origin is None:
                self._origin = time.monotonic() - frame.time
            while len(self._queue) >= self._capacity and not self._stop.is_set():
                if self.drop and self._queue[0].time < time.monotonic() - self._origin - self.queue_s:
                    self._queue.popleft()
                    self.stats.dropped += 1
                    break
                self._cond.wait(0.05)
            if self._stop.is_set():
                return False
            self._queue.append(frame)
            self._cond.notify_all()
        return True

    def _decode(self, container, index0: int, time0: float) -> tuple[int, float, str | None]:
        """Decode one connection; returns (next index, next time offset, error or None at a clean end)."""
        import av

        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base or Fraction(1, 1)
        t0 = None
        i, t = index0, time0
        last_t = time0 - 1.0 / self.fps
        wall0 = time.monotonic()
        fmt = "bgr24"
        try:
            for k, frame in enumerate(container.decode(stream)):
                if frame.pts is None:
                    t = time0 + k / self.fps
                else:
                    t_abs = float(frame.pts * tb)
                    t0 = t_abs if t0 is None else t0
                    t = time0 + t_abs - t0
                if self.realtime:
                    wait = wall0 + (t - time0) - time.monotonic()
                    if wait > 0 and self._stop.wait(wait):
                        return i, t, None
                img = _luma(frame) if self.gray else frame.to_ndarray(format=fmt)
                self.stats.read += 1
                self.stats.state = "streaming"
                if not self._put(Frame(i, t, img)):
                    return i, t, None
                last_t = t
                i += 1
        except av.error.FFmpegError as err:
            return i, last_t + 1.0 / self.fps, _short(err)
        if i == index0:
            return i, time0, "no decodable frames"
        if self.spec.kind == "url" and (self._expected_end is None
                                        or last_t - time0 + 1.5 / self.fps < self._expected_end - 0.5):
            return i, last_t + 1.0 / self.fps, "stream ended early"
        return i, last_t + 1.0 / self.fps, None

    def _run(self) -> None:
        index, t = 0, 0.0
        container = self._container
        try:
            while not self._stop.is_set():
                wall_lost = time.monotonic()
                index, t, problem = self._decode(container, index, t)
                container.close()
                container = None
                if problem is None or self._stop.is_set():
                    self.stats.state = "ended"
                    return
                if self.spec.kind != "url":
                    self.stats.state, self.stats.message = "lost", problem
                    if index == 0:
                        self._error = VideoError(f"cannot decode any frame ({problem}){self._hint()}", self.name)
                    return
                self.stats.state, self.stats.message = "reconnecting", problem
                for delay in self.backoff.delays():
                    if self._stop.wait(delay):
                        return
                    try:
                        container = self._connect()
                        break
                    except VideoError as err:
                        self.stats.message = err.problem
                if container is None:
                    self.stats.state = "lost"
                    self.stats.message = f"{problem}; gave up after {self.backoff.attempts} reconnect attempts"
                    return
                self.stats.reconnects += 1
                t += time.monotonic() - wall_lost  # the outage is real time the spotter should see
        except BaseException as err:  # noqa: BLE001 - handed to the consumer
            self._error = err
        finally:
            if container is not None:
                container.close()
            with self._cond:
                self._done = True
                self._cond.notify_all()

    # -- the consumer -------------------------------------------------------------------------------
    def frames(self) -> Iterator[Frame]:
        """Frames in order until the source ends or is lost (``stats.state`` says which)."""
        if self._thread is not None:
            raise RuntimeError("frames() can be iterated once per LiveSource")
        self._thread = threading.Thread(target=self._run, name=f"live-{self.spec.kind}", daemon=True)
        self._thread.start()
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._done:
                        self._cond.wait(0.1)
                    if not self._queue:
                        break
                    frame = self._queue.popleft()
                    self._cond.notify_all()
                yield frame
            if self._error is not None:
                raise self._error
        finally:
            self.close()

    def queued(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        """Stop the reader (idempotent); the container is closed by the reader thread."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5.0)
        elif self._thread is None and self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open_av(spec: SourceSpec):
    import av

    options = dict(spec.options)
    if spec.kind == "url":
        options.setdefault("rw_timeout" if not spec.text.lower().startswith("rtsp") else "timeout", "5000000")
    return av.open(spec.target, format=spec.format, options=options, timeout=(10.0, 10.0))


