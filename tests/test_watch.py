"""``microexp.io.live`` sources for ``microexp watch`` (no spotter runs here: fast). The finality rule of the
incremental spotter is tested in test_offd_stream.py."""

from __future__ import annotations

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from microexp.errors import InputError, VideoError
from microexp.io.live import Backoff, LiveSource, resolve_source
from microexp.io.video import VideoSource, remux

from conftest import shared_path


@pytest.fixture(scope="module")
def single_mkv(tmp_path_factory):
    return remux(shared_path("video", "single_face.mp4"), tmp_path_factory.mktemp("live") / "single_face.mkv")


class Server:
    """HTTP on 127.0.0.1 serving one file; ``plan`` says per request: full, cut (half the bytes), refuse."""

    def __init__(self, data: bytes, plan: list[str]):
        self.data, self.plan, self.requests = data, list(plan), 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests += 1
                mode = outer.plan.pop(0) if outer.plan else "refuse"
                if mode == "refuse":
                    self.send_error(503)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "video/x-matroska")
                self.send_header("Content-Length", str(len(outer.data)))
                self.end_headers()
                self.wfile.write(outer.data[: len(outer.data) // 2 if mode == "cut" else len(outer.data)])
                self.close_connection = True

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/clip.mkv"

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(path, plan):
        s = Server(path.read_bytes(), plan)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


def frames_of(src):
    return [(f.index, round(f.time, 6), int(f.image.astype(np.int64).sum())) for f in src.frames()]


def test_resolve_source_kinds(tmp_path):
    assert resolve_source(0).kind == "camera" and resolve_source("0").target == "/dev/video0"
    assert resolve_source("rtsp://cam.local/live").options == {"rtsp_transport": "tcp"}
    assert resolve_source("http://x/y.ts").kind == "url"
    assert resolve_source("-").kind == "pipe"
    assert resolve_source(io.BytesIO(b"")).kind == "pipe"
    with pytest.raises(InputError, match="no such file"):
        resolve_source(tmp_path / "missing.mp4")
    with pytest.raises(InputError, match="not a folder"):
        resolve_source(tmp_path)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        resolve_source(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 10)
    with pytest.raises(VideoError, match="junk.mp4: cannot open"):
        LiveSource(tmp_path / "junk.mp4")


def test_file_gives_videosource_frames():
    """Read as fast as possible, a file yields exactly the frames (index, time, pixels) ``spot`` reads."""
    path = shared_path("video", "single_face.mp4")
    src = LiveSource(path)
    assert frames_of(src) == [(f.index, round(f.time, 6), int(f.image.astype(np.int64).sum()))
                              for f in VideoSource(path).frames(gray=True)]
    assert src.stats.state == "ended" and src.stats.dropped == 0 and src.fps == 30.0


def test_realtime_paces_and_slow_consumer_drops_oldest():
    """--realtime plays at the clip's own rate; a consumer at ~5 frames/s makes the bounded queue drop."""
    path = shared_path("video", "single_face.mp4")  # 72 frames, 2.4 s
    t0 = time.monotonic()
    src = LiveSource(path, realtime=True)
    n = sum(1 for _ in src.frames())
    assert n == 72 and src.stats.dropped == 0
    assert time.monotonic() - t0 >= 2.2

    slow = LiveSource(path, realtime=True, queue_s=0.3)  # 9 frames of queue
    assert slow.drop
    seen, peak = [], 0
    for f in slow.frames():
        peak = max(peak, slow.queued())
        seen.append(f)
        time.sleep(0.2)
    assert slow.stats.dropped > 30 and len(seen) + slow.stats.dropped == 72
    assert peak <= 9
    idx = [f.index for f in seen]
    assert idx == sorted(idx) and idx[-1] == 71  # the newest frames survive, in order
    times = [f.time for f in seen]
    assert all(b > a for a, b in zip(times, times[1:], strict=False))


def test_lossless_file_blocks_instead_of_dropping():
    src = LiveSource(shared_path("video", "single_face.mp4"), queue_s=0.3)
    assert not src.drop
    n = 0
    for _ in src.frames():
        assert src.queued() <= 9
        time.sleep(0.01)
        n += 1
    assert n == 72 and src.stats.dropped == 0


def test_pipe_object_and_close_early(single_mkv):
    with open(single_mkv, "rb") as fh:
        src = LiveSource(fh)
        got = frames_of(src)
    assert len(got) == 72 and src.spec.kind == "pipe"
    src = LiveSource(single_mkv)
    it = src.frames()
    next(it)
    it.close()  # the caller stops: the reader thread ends, nothing hangs
    assert src._thread is not None and not src._thread.is_alive()


def test_pipe_with_mp4_index_at_end_says_why():
    """An MP4 whose index comes last cannot be read from a pipe (no seeking): one line says why."""
    import subprocess

    proc = subprocess.Popen(["cat", str(shared_path("video", "single_face.mp4"))], stdout=subprocess.PIPE)
    try:
        with pytest.raises(VideoError, match="pipe: cannot .*streamable container"):
            list(LiveSource(proc.stdout).frames())
    finally:
        proc.stdout.close()
        proc.wait(5)


def test_http_stream_reconnects_after_cut(serve, single_mkv):
    server = serve(single_mkv, ["cut", "full"])
    src = LiveSource(server.url, backoff=Backoff(0.05, 0.2, 2))
    got = frames_of(src)
    assert src.stats.reconnects == 1 and src.stats.state == "ended"
    assert 72 < len(got) < 144  # part of the first connection, then the whole clip again
    assert [g[0] for g in got] == list(range(len(got)))  # indices keep counting across the reconnect
    assert all(b[1] > a[1] for a, b in zip(got, got[1:], strict=False))  # and so does time


def test_http_stream_lost_is_reported_without_hanging(serve, single_mkv):
    server = serve(single_mkv, ["cut"])  # afterwards every request is refused
    t0 = time.monotonic()
    src = LiveSource(server.url, backoff=Backoff(0.05, 0.2, 3))
    got = frames_of(src)
    assert 0 < len(got) < 72
    assert src.stats.state == "lost" and "gave up after 3 reconnect attempts" in src.stats.message
    assert time.monotonic() - t0 < 15
    assert server.requests == 4


def test_http_whole_file_ends_cleanly(serve, single_mkv):
    server = serve(single_mkv, ["full"])
    src = LiveSource(server.url)
    assert len(frames_of(src)) == 72 and src.stats.state == "ended" and src.stats.reconnects == 0


def test_stream_keeps_frames_of_unsettled_spans():
    """``watch --recognize`` reads onset/apex frames from ``OFFDStream.kept``: a span that began before the
    next reference but is not final yet must keep its frames (they used to be pruned at that point)."""
    from microexp.spotting.offd import OFFDStream

    stream = OFFDStream(30.0, keep_frames=True)
    stream.kept = {p: np.full((2, 2), p % 256, np.uint8) for p in range(300)}
    stream.settler.add([(20, 40), (100, 250)])
    assert stream._emit(200) == [(20, 40)]  # (100, 250) reaches past the horizon: not final yet
    assert all(p in stream.kept for p in range(100, 200)) and all(p in stream.kept for p in range(20, 41))
    assert not any(p in stream.kept for p in range(0, 20)) and not any(p in stream.kept for p in range(41, 100))


def test_handing_an_interval_over_keeps_frames_a_later_one_may_read():
    """Dropping a read interval's frames spares every frame another span may still need: a final span not
    read yet, and a window-level span that echo suppression drops for now (it may be kept once it grows, and
    its onset can lie in the previous interval's frames)."""
    from microexp.spotting.offd import OFFDStream

    stream = OFFDStream(30.0, keep_frames=True, keep_before_s=0.5, on_ready=lambda *a: None)  # 15 frames
    stream.kept = {p: np.full((2, 2), p % 256, np.uint8) for p in range(100)}
    stream.settler.final = [(10, 30)]
    stream.settler.raw = [(31, 60)]  # not final, and not in the unsettled tail: echo suppression drops it now
    stream.settler._tail = lambda: ([(31, 60)], [])
    stream.handed.add((10, 30))
    stream._release((10, 30))
    assert all(p in stream.kept for p in range(16, 61))  # the later span and its lead-in
    assert not any(p in stream.kept for p in range(0, 16))


def test_intervals_final_together_spare_each_others_frames():
    """Two intervals final in the same step: the second's onset lies in the frames kept after the first, and
    trimming the first to the frames it reads must not drop it (it did: the later interval was 'unknown')."""
    from microexp.spotting.offd import OFFDStream

    stream = OFFDStream(30.0, keep_frames=True, keep_after_s=0.2, keep_filter=lambda iv: (iv.onset, iv.offset))
    for p in range(100):
        stream.buf.index.append(p)
        stream.buf.time.append(p / 30.0)
    stream.kept = {p: np.full((2, 2), p % 256, np.uint8) for p in range(100)}
    stream._keep_only_wanted([(20, 40), (41, 60)])
    assert {20, 40, 41, 60} <= set(stream.kept)
    assert not any(p in stream.kept for p in (21, 39, 42, 59))
