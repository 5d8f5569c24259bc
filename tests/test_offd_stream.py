"""OF-FD as a stream: the same answer as ``run_offd``, spans released only when final, frames kept for them."""

from dataclasses import replace

import numpy as np
import pytest

from microexp.io.video import VideoSource
from microexp.spotting.offd import OFFDConfig, OFFDStream, finalize, run_offd
from microexp.spotting.offd_stream import SpanSettler

from conftest import shared_path

# short windows: the 2.4-s clip spans several windows and hops, so the window loop is exercised
SHORT = replace(OFFDConfig(), window_s=1.0, hop_s=0.5, min_len_s=0.1, echo_gap_s=0.2, echo_min_len_s=0.2)


@pytest.fixture(scope="module")
def clip():
    src = VideoSource(shared_path("video", "single_face.mp4"))
    return list(src.frames()), src.info.fps  # BGR


@pytest.fixture(scope="module")
def detector():
    from microexp.face.landmarks import LandmarkDetector

    return LandmarkDetector()


@pytest.fixture(scope="module")
def whole(clip, detector):
    frames, fps = clip
    return run_offd(iter(frames), fps, SHORT, detector, keep_frames=True)


def test_stream_equals_run_offd_and_releases_only_final_spans(clip, detector, whole):
    frames, fps = clip
    stream = OFFDStream(fps, SHORT, detector)
    released: list[tuple[int, int]] = []
    when: list[int] = []
    for fr in frames:
        new = stream.push(fr)
        released += new
        when += [len(stream.buf)] * len(new)
    before_close = len(released)
    released += stream.close()
    res = stream.result()
    assert len(res.windows) >= 3 and res.spans, "the clip must exercise several windows and give spans"
    assert released == res.spans == whole.spans
    assert before_close >= 1, "at least one span is final before the video ends"
    for (_on, off), n_seen in zip(released[:before_close], when, strict=False):
        assert off < n_seen  # released only after its frames were seen
    for name in ("proc_index", "proc_time", "face", "score"):
        assert np.array_equal(getattr(res, name), getattr(whole, name)), name
    assert np.array_equal(res.displacement, whole.displacement, equal_nan=True)
    assert res.windows == whole.windows and res.channel_names == whole.channel_names
    assert res.kept == {}  # frames are kept only on request
    iv = stream.interval(released[0])
    assert iv.onset == res.proc_index[released[0][0]] and iv.offset == res.proc_index[released[0][1]]
    assert iv.onset <= iv.apex <= iv.offset and iv.kind in ("me", "mae")


def test_keep_frames_holds_every_final_interval_frame(clip, whole):
    frames, fps = clip
    res = whole
    assert res.spans
    by_index = {fr.index: fr.image for fr in frames}
    inside = {int(res.proc_index[p]) for on, off in res.spans for p in range(on, off + 1)}
    assert set(res.kept) == inside  # exactly the processed frames of the final spans
    for k, img in res.kept.items():
        assert img.ndim == 3 and np.array_equal(img, by_index[k])  # the frame as pushed (BGR)


def test_keep_filter_keeps_only_the_named_frames_of_each_final_interval(clip, detector, whole):
    """What ``analyze`` needs kept (onset/apex/offset, plus a lead-in before each onset) stays, the rest of each
    final interval is dropped as soon as it is final: memory does not grow with the intervals' lengths."""
    from microexp.spotting.offd_stream import span_interval

    frames, fps = clip
    res = run_offd(iter(frames), fps, SHORT, detector, keep_frames=True, keep_before_s=0.2,
                   keep_filter=lambda iv: (iv.onset, iv.apex, iv.offset))
    assert res.spans == whole.spans
    ivs = [span_interval(sp, res.proc_index, res.proc_time, res.score, SHORT.me_mae_split_s) for sp in res.spans]
    named = {i for iv in ivs for i in (iv.onset, iv.apex, iv.offset)}
    assert named <= set(res.kept)  # every named frame is there
    assert len(res.kept) < len(whole.kept)  # and the interiors are gone
    m = round(0.2 * res.rate)
    near = {int(res.proc_index[p]) for a, b in res.spans for p in range(max(0, a - m), b + 1)}
    assert set(res.kept) <= near  # nothing outside the intervals and their lead-in


def pseudo_peak(span):
    return (span[0] * 7919 + span[1] * 104729) % 97  # any fixed strength per span


@pytest.mark.parametrize("cfg,peak", [(OFFDConfig(), None), (OFFDConfig(), pseudo_peak),
                                      (replace(OFFDConfig(), echo_suppress=False, fuse_overlap=0.34), None),
                                      (replace(OFFDConfig(), fuse_overlap=0.05, max_len_s=None), pseudo_peak)])
def test_settled_spans_never_change(cfg, peak):
    """Random windows of spans: what is released at each horizon stays, in order, and the settler (which
    forgets the window-level spans inside released ones) always agrees with ``finalize`` on everything."""
    rng = np.random.default_rng(0)
    for trial in range(300):
        raw: list[tuple[int, int]] = []
        settler = SpanSettler(cfg, 30.0, peak)
        released: list[tuple[int, int]] = []
        start = 0
        for _ in range(10):
            new = []
            for _ in range(rng.integers(0, 5)):
                a = start + 1 + int(rng.integers(0, 198))
                new.append((a, min(start + 199, a + int(rng.integers(3, 150)))))
            raw += new
            settler.add(new)
            start += int(rng.integers(20, 199))  # the next window's reference
            released += settler.settle(start)
            full = finalize(raw, cfg, 30.0, peak=peak)
            assert full[:len(released)] == released, trial
            assert all(off < start for _, off in released)
            assert settler.spans() == full, trial
        released += settler.settle(None)
        assert released == finalize(raw, cfg, 30.0, peak=peak), trial


@pytest.mark.parametrize("gray", [False, True])
def test_window_frames_beyond_the_memory_budget_wait_on_disk_and_change_nothing(clip, detector, gray):
    """The window holds at most ``frame_ram_bytes`` of frames in memory, whatever the frame size (counted, not
    timed); the frames read back from the temporary file give the very same spans, curves and kept frames."""
    import cv2

    frames, fps = clip
    if gray:
        from microexp.io.video import Frame

        frames = [Frame(f.index, f.time, cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY)) for f in frames]
    one = frames[0].image.nbytes + (frames[0].image.nbytes // 3 if not gray else 0)  # source (+ grey of BGR)
    kw = dict(keep_frames=True, keep_before_s=0.2, keep_filter=lambda iv: (iv.onset, iv.apex, iv.offset))
    free = run_offd(iter(frames), fps, SHORT, detector, frame_ram_bytes=None, **kw)
    lean = run_offd(iter(frames), fps, SHORT, detector, frame_ram_bytes=3 * one, **kw)
    window = SHORT.frames(SHORT.window_s, free.rate)
    assert free.window_disk_peak == 0 and free.window_ram_peak >= window * one  # a whole window in memory
    assert lean.window_ram_peak <= 4 * one  # the budget (3 frames) plus the frame that tipped it over
    assert lean.window_disk_peak >= (window - 4) * one  # the rest of the window waited on disk
    assert lean.spans == free.spans and lean.spans and lean.windows == free.windows
    for name in ("proc_index", "proc_time", "face", "score"):
        assert np.array_equal(getattr(lean, name), getattr(free, name)), name
    assert np.array_equal(lean.displacement, free.displacement, equal_nan=True)
    assert set(lean.kept) == set(free.kept) and lean.kept
    assert all(np.array_equal(lean.kept[k], free.kept[k]) for k in free.kept)
    assert np.array_equal(lean.track.transforms, free.track.transforms, equal_nan=True)
    assert np.array_equal(lean.track.boxes, free.track.boxes, equal_nan=True)
