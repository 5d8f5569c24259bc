"""Speed work must not change results, and start-up must not pay for what a command does not use.

Timings themselves live in ``benchmarks/spot_throughput.py`` (tables, not timed tests); here: the parallel
OF-FD gives the sequential run's values bit for bit on the real clips, ``spot`` never imports torch (nor
PyEMD's plotting/ensemble modules), the CLI imports no pandas, and ``analyze`` decodes and detects once.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import shared_path

CLIPS = ["WolfgangLanger_Pexels.mp4", "single_face.mp4", "face_noface.mov", "noface_face.mov"]


def _spot(path, threads, monkeypatch):
    import microexp.spotting.offd_stream as stream
    from microexp.spotting.api import spot_video

    with monkeypatch.context() as m:
        m.setattr(stream, "WindowTracker", functools.partial(stream.WindowTracker, threads=threads))
        return spot_video(path)


@pytest.mark.parametrize("clip", CLIPS)
def test_parallel_offd_equals_sequential_on_real_clips(clip, monkeypatch):
    """Flows in worker threads (pipelined across frames) vs one thread: same intervals, same curves."""
    path = shared_path("video", clip)
    seq = _spot(path, 1, monkeypatch)
    par = _spot(path, 2, monkeypatch)
    key = [(iv.onset, iv.apex, iv.offset, iv.kind, iv.score) for iv in seq.intervals]
    assert key == [(iv.onset, iv.apex, iv.offset, iv.kind, iv.score) for iv in par.intervals]
    assert seq.intervals, f"no interval on {clip}: the comparison would be vacuous"
    assert np.array_equal(seq.trace.values, par.trace.values, equal_nan=True)
    assert np.array_equal(seq.trace.score, par.trace.score)
    assert seq.offd.windows == par.offd.windows


def test_measure_async_equals_measure():
    """The two halves of ``measure`` give its values, and the track follows the head the same way."""
    from microexp.face import LandmarkDetector
    from microexp.io.video import VideoSource
    from microexp.spotting.offd import OFFDConfig, WindowTracker

    frames = [f.image for f in VideoSource(shared_path("video", "single_face.mp4")).frames(gray=True)][:25]
    det = LandmarkDetector()
    seq, par = WindowTracker(OFFDConfig(), det, threads=1), WindowTracker(OFFDConfig(), det, threads=2)
    ta, tb = seq.start(frames[0]), par.start(frames[0])
    want = [seq.measure(ta, f) for f in frames[1:]]
    pending = [par.measure_async(tb, f) for f in frames[1:]]
    got = [p() for p in pending]
    par.pool.shutdown()
    assert np.array_equal(np.stack(want), np.stack(got))
    assert np.array_equal(ta.M, tb.M)
    assert np.stack(want).max() > 0  # a real face moves: all-zero curves would make the test vacuous


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_cli_start_up_imports_no_pandas_or_torch():
    mods = _modules_after("import microexp.cli.main")
    assert "typer" in mods
    assert not {"torch", "pandas", "cv2", "av", "matplotlib"} & mods


def test_spot_imports_no_torch_nor_pyemd_extras(tmp_path):
    video = shared_path("video", "single_face.mp4")
    code = ("import sys\nfrom microexp.cli.main import app\n"
            f"sys.argv = ['microexp', 'spot', {str(video)!r}, '-o', {str(tmp_path / 'out')!r}]\n"
            "try:\n    app()\nexcept SystemExit as e:\n    assert not e.code, e.code\n")
    mods = _modules_after(code)
    assert (tmp_path / "out" / "intervals.csv").exists()
    assert "PyEMD.EMD" in mods  # EMD ran (the detrend is part of the spotter) ...
    assert not {"torch", "scipy.signal", "matplotlib.pyplot", "PyEMD.visualisation", "pandas"} & mods  # ... nothing else


def test_emd_class_is_pyemds():
    from microexp.spotting.emd import emd_class

    cls = emd_class()
    from PyEMD import EMD

    assert cls is EMD


def test_analyze_decodes_and_detects_once(monkeypatch):
    """``analyze`` = one decoding pass and the spotter's own detections; the recogniser adds neither."""
    import microexp.face.landmarks as lm
    import microexp.io.video as video
    from microexp.pipeline import analyze
    from microexp.spotting.api import spot_video

    path = shared_path("video", "single_face.mp4")
    calls = {"frames": 0, "detect": 0}
    frames, detect = video.VideoSource.frames, lm.LandmarkDetector.detect

    def counting_frames(self, *a, **k):
        calls["frames"] += 1
        return frames(self, *a, **k)

    def counting_detect(self, *a, **k):
        calls["detect"] += 1
        return detect(self, *a, **k)

    monkeypatch.setattr(video.VideoSource, "frames", counting_frames)
    monkeypatch.setattr(lm.LandmarkDetector, "detect", counting_detect)
    spot_video(path)
    spot_calls = dict(calls)
    calls.update(frames=0, detect=0)
    res = analyze(path)
    assert res.expressions and res.expressions[0].emotion != "unknown"
    assert calls == spot_calls
    assert calls["frames"] == 1


def _in_thread(fn):
    """Run ``fn`` in a fresh thread (the HOG detector is kept per thread) and return its result."""
    import threading

    out = {}
    t = threading.Thread(target=lambda: out.update(value=fn()))
    t.start()
    t.join()
    return out["value"]


def test_hog_detector_from_cache_detects_the_same(tmp_path, monkeypatch):
    """The detector saved once in the cache and loaded from it finds the very same boxes and scores as dlib's
    built-in one (which costs ~1 s at every start), and a damaged file is rebuilt."""
    import dlib

    import microexp.face.landmarks as lm
    from microexp.io.video import VideoSource

    monkeypatch.setenv("MICROEXP_CACHE", str(tmp_path))
    path = lm.hog_cache_path()
    first = _in_thread(lm._load_hog)  # built and saved
    assert path.is_file()
    built = []
    monkeypatch.setattr(dlib, "get_frontal_face_detector", lambda: built.append(1) or first)
    cached = _in_thread(lm._load_hog)  # read back: dlib's build is not called
    assert not built
    frames = [f.image for f in VideoSource(shared_path("video", "face_noface.mov")).frames(gray=True)][::15]
    runs = [det.run(f, up, 0.0)[:2] for f in frames for up in (0, 1) for det in (first, cached)]
    boxes = [[(r.left(), r.top(), r.right(), r.bottom()) for r in rects] for rects, _ in runs]
    scores = [list(s) for _, s in runs]
    assert boxes[0::2] == boxes[1::2] and scores[0::2] == scores[1::2]
    assert any(boxes) and not all(boxes)  # faces found on some frames, none on others: not vacuous
    path.write_bytes(b"damaged")
    _in_thread(lm._load_hog)
    assert built and path.stat().st_size > 1000  # rebuilt and written over


def test_intervals_csv_is_pandas_layout_without_pandas(tmp_path):
    """spot writes intervals.csv with the csv module (no pandas import) in the layout pandas wrote."""
    import pandas as pd

    from microexp.records import Interval
    from microexp.spotting.outputs import INTERVAL_COLUMNS, interval_rows, write_intervals

    ivs = [Interval(3, 7, 12, "me", 1.234567), Interval(20, 31, 60, "mae", 10.0), Interval(70, 71, 99, "me", 2)]
    texts = {}
    for name, times, fps in (("clip", np.arange(90) / 23.976, 23.976), ("a,b", None, None), ("x", None, 30.0)):
        for subset in (ivs, []):
            rows = interval_rows(subset, name, times, fps)
            got = write_intervals(rows, tmp_path / "new.csv").read_text()
            (tmp_path / "pd.csv").write_text(pd.DataFrame(rows, columns=INTERVAL_COLUMNS).to_csv(index=False))
            assert got == (tmp_path / "pd.csv").read_text()
            texts[name, len(subset)] = got
    assert texts["a,b", 3].splitlines()[1] == '"a,b",3,12,me,7,1.2346,,,False'  # quoted name, NaN seconds empty
    assert texts["x", 0] == ",".join(INTERVAL_COLUMNS) + "\n"


def test_match_brightness_table_equals_the_arithmetic():
    """The grey-level table gives the elementwise float32 arithmetic's values exactly (real crops and noise)."""
    from microexp.io.video import VideoSource
    from microexp.spotting.offd_track import match_brightness

    def arithmetic(patch, ref, region=None):
        p = patch.astype(np.float32)
        a, b = (p, ref) if region is None else (p[region[0]:region[1], region[2]:region[3]],
                                                ref[region[0]:region[1], region[2]:region[3]])
        out = (p - float(a.mean())) * (float(b.std()) / float(a.std())) + float(b.mean())
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    frames = [f.image for f in VideoSource(shared_path("video", "single_face.mp4")).frames(gray=True)][:60:6]
    rng = np.random.default_rng(0)
    frames += [rng.integers(0, 256, frames[0].shape, dtype=np.uint8), (frames[0] // 4 + 100).astype(np.uint8)]
    ref = frames[0][40:296, 200:456]
    changed = 0
    for f in frames[1:]:
        crop = f[40:296, 200:456]
        for region in (None, (60, 200, 70, 190)):
            got = match_brightness(crop, ref, region)
            assert np.array_equal(got, arithmetic(crop, ref, region))
            changed += not np.array_equal(got, crop)
        patch, rpatch = crop[150:230, 60:200], ref[150:230, 60:200]  # a view, as the ROI patches are
        assert np.array_equal(match_brightness(patch, rpatch), arithmetic(patch, rpatch))
    assert changed  # the matching did change pixels: the comparison is not vacuous


def test_analyze_start_up_leaves_torch_to_the_preload():
    """Before spotting, ``analyze`` builds its interval reader without torch: the CLI loads torch and the
    recogniser in the background while the video is spotted (``cli.common.preload``)."""
    mods = _modules_after("from microexp.pipeline import IntervalReader, analyze\nIntervalReader()")
    assert "microexp.recognition.macro" in mods
    assert not {"torch", "pandas", "matplotlib"} & mods


def test_preload_runs_steps_and_swallows_their_errors():
    from microexp.cli.common import importer, preload

    done = []

    def boom():
        raise RuntimeError("reported where it is used")

    t = preload(boom, lambda: done.append(1), importer("no_such_module_xyz"), lambda: done.append(2))
    t.join()
    assert done == [1, 2]


def test_throughput_ceilings_spread_stage_costs_over_the_cores(monkeypatch):
    """The benchmark's ceilings: per-frame cost x windows per frame, spread over every core; the CLI floor adds the
    landmark model's loading. Checked against hand arithmetic on made-up stage costs."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import spot_throughput

    monkeypatch.setattr(spot_throughput.os, "cpu_count", lambda: 2)
    stages = [("measure: total", 10.0, ""), ("measure: Farneback ROI flows", 5.0, ""), ("LandmarkDetector()", 1.0, "")]
    row = {"decode_fps": 1000.0, "frames": 400, "cli_spot_goal_s": 2.0}
    got = {name: val for name, val, _ in spot_throughput._ceilings(row, stages, measured=2.0)}
    assert got["in-process spot, Farneback ROI flows only"] == "200 fps"  # 2 cores / (5 ms x 2 windows)
    assert got["spot / decode-only, Farneback ROI flows only"] == "0.20"
    assert got["in-process spot, the whole per-frame measurement"] == "100 fps"
    assert got["CLI spot, Farneback ROI flows + loading the landmark model only"] == "3.00 s"  # 400 / 200 + 1
