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
    assert not {"torch", "scipy.signal", "matplotlib.pyplot", "PyEMD.visualisation"} & mods  # ... nothing else


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
