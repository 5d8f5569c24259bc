"""``microexp watch``: spot expressions live; one JSON line per final interval on stdout, status on stderr."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from collections import deque
from pathlib import Path

import typer

from microexp.cli.common import handle_errors

STATUS_EVERY_S = 10.0  # plain status lines when stderr is not a terminal
RATE_WINDOW_S = 5.0  # frames/s is measured over this many recent seconds
LOST_EXIT = 1  # the stream was lost (after the intervals found so far were written)


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)


@handle_errors
def watch(
    source: str = typer.Argument(..., help="Camera index (0), capture device (/dev/video0), stream URL "
                                           "(rtsp://, http://), - for container bytes on stdin, or a video file."),
    realtime: bool = typer.Option(False, "--realtime", help="Play a file at its own frame rate (as a camera would)."),
    csv_path: Path = typer.Option(None, "--csv", help="Also append each interval to this CSV (created if new)."),
    recognize: bool = typer.Option(False, "--recognize", help="Classify each interval's emotion (onset/apex)."),
    preset: str = typer.Option("default", "--preset",
                               help="OF-FD preset: default, casme_sq, samm_lv, or a full preset name."),
    fps: float = typer.Option(None, "--fps", help="Frame rate when the source does not say."),
    flow: str = typer.Option("farneback", "--flow",
                             help="ROI flow for OF-FD: farneback (paper-faithful) or dis (faster, not faithful)."),
    recognizer: str = typer.Option("default", "--recognizer", help="Recogniser weights (with --recognize)."),
    queue_s: float = typer.Option(2.0, "--queue", min=0.1,
                                  help="Seconds of frames held for a slow spotter before late ones are dropped."),
    lossless: bool = typer.Option(False, "--lossless",
                                  help="Never drop frames (the reader waits): for recorded streams, not cameras."),
    reconnect: int = typer.Option(5, "--reconnect", min=0,
                                  help="Reconnect attempts (back-off 0.5 s doubling to 8 s) when a stream drops."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No status line on stderr."),
):
    """Spot expressions in a live source and print each interval as soon as it is final (JSON lines)."""
    from microexp.errors import ConfigError
    from microexp.io.live import Backoff
    from microexp.spotting.watch import watch_detections

    if recognizer != "default" and not Path(recognizer).exists():
        raise ConfigError(f"recogniser weights not found: {recognizer} (use 'default' or a checkpoint path)")
    status = StatusLine(enabled=not quiet)
    sink = CsvAppender(csv_path, recognize) if csv_path else None
    gen = watch_detections(source, fps=fps, preset=preset, realtime=realtime, recognize=recognize,
                           recognizer_weights=None if recognizer == "default" else recognizer,
                           live_options={"queue_s": queue_s, "drop": False if lossless else None,
                                         "backoff": Backoff(attempts=reconnect)},
                           on_status=status.update, flow_method=flow)
    try:
        for det in gen:
            row = det.to_dict()
            sys.stdout.write(json.dumps(row) + "\n")
            sys.stdout.flush()
            if sink is not None:
                sink.append(row)
            status.update(None, None, force=True)
    finally:
        gen.close()
        status.finish()
    if status.lost:
        raise typer.Exit(LOST_EXIT)


class StatusLine:
    """Frames/s, dropped frames and face state on stderr: redrawn in place on a terminal, else plain lines
    every ``STATUS_EVERY_S`` seconds and whenever the face or stream state changes."""

    def __init__(self, enabled: bool = True, stream=None):
        self.enabled = enabled
        self.out = stream or sys.stderr
        self.tty = _isatty(self.out)
        self.last_print = 0.0
        self.last_key: tuple = ()
        self.state = None
        self.src = None
        self.lost = False
        self.recent: deque = deque()  # (wall time, processed frames) over the last few seconds
        self.printed = ""

    def text(self) -> str:
        st, src = self.state, self.src
        if st is None or src is None:
            return "watch: opening"
        stats = src.stats
        parts = [f"watch: {st.time_s:7.1f} s", f"{self.rate():5.1f} frames/s",
                 f"{stats.dropped} dropped", f"face {st.face}", f"{st.emitted} intervals", f"stream {stats.state}"]
        if stats.reconnects:
            parts.append(f"{stats.reconnects} reconnects")
        if stats.message and stats.state in ("reconnecting", "lost"):
            parts.append(stats.message)
        return ", ".join(parts)

    def rate(self) -> float:
        """Processed frames per second over the last ``RATE_WINDOW_S`` seconds."""
        if len(self.recent) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self.recent[0], self.recent[-1]
        return (n1 - n0) / max(1e-6, t1 - t0)

    def update(self, state, src, force: bool = False) -> None:
        if state is not None:
            self.state, self.src = state, src
            now = time.monotonic()
            self.recent.append((now, state.frames))
            while len(self.recent) > 2 and now - self.recent[0][0] > RATE_WINDOW_S:
                self.recent.popleft()
        if self.src is not None:
            self.lost = self.src.stats.state == "lost"
        if not self.enabled or self.state is None:
            return
        now = time.monotonic()
        key = (self.state.face, self.src.stats.state, self.src.stats.reconnects)
        if self.tty:
            if force or now - self.last_print > 0.25 or key != self.last_key:
                self.printed = self.text()
                self.out.write("\r\x1b[2K" + self.printed)
                self.out.flush()
                self.last_print, self.last_key = now, key
        elif key != self.last_key or now - self.last_print > STATUS_EVERY_S:
            self.printed = self.text()
            self.out.write(self.printed + "\n")
            self.out.flush()
            self.last_print, self.last_key = now, key

    def finish(self) -> None:
        if not self.enabled or self.state is None:
            return
        end = self.text()
        if self.tty:
            self.out.write("\r\x1b[2K" + end + "\n")
        elif end != self.printed:
            self.out.write(end + "\n")
        self.out.flush()


class CsvAppender:
    """Append one interval per line to an intervals CSV: each row is one whole ``write`` on an O_APPEND file,
    so a reader (or a crash) never sees half a line; the header is written when the file is new."""

    def __init__(self, path: Path, recognize: bool):
        from microexp.errors import InputError
        from microexp.spotting.outputs import INTERVAL_COLUMNS

        self.path = Path(path)
        self.columns = [*INTERVAL_COLUMNS, "emitted_s"] + (["emotion"] if recognize else [])
        header = None
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, encoding="utf-8", newline="") as f:
                header = next(csv.reader(f), None)
            if header != self.columns:
                raise InputError(f"existing CSV has columns {header}, watch appends {self.columns}; "
                                 "use a new file", self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if header is None:
            self._write_line(self.columns)

    def _write_line(self, values: list) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(values)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, buf.getvalue().encode("utf-8"))
        finally:
            os.close(fd)

    def append(self, row: dict) -> None:
        self._write_line([row.get(c, "") for c in self.columns])


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
