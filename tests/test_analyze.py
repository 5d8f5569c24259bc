"""`microexp analyze` end to end on real clips, and the report opened in a real headless browser."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from microexp.cli.main import app

from conftest import shared_path

runner = CliRunner()
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0"]


def _analyze(video, out):
    res = runner.invoke(app, ["analyze", str(video), "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def wolfgang(tmp_path_factory):
    return _analyze(shared_path("video", "WolfgangLanger_Pexels.mp4"), tmp_path_factory.mktemp("wl"))


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return _analyze(shared_path("video", "single_face.mp4"), tmp_path_factory.mktemp("sf"))


@pytest.mark.parametrize("which,n_frames", [("wolfgang", 472), ("single", 72)])
def test_outputs_valid(request, which, n_frames):
    out = request.getfixturevalue(which)
    df = pd.read_csv(out / "intervals.csv")
    assert list(df.columns[:7]) == ["video", "onset", "apex", "offset", "type", "emotion", "confidence"]
    assert {"onset_s", "apex_s", "offset_s"} <= set(df.columns)
    assert ((df.onset >= 0) & (df.onset <= df.apex) & (df.apex <= df.offset) & (df.offset < n_frames)).all()
    assert df.type.isin(["me", "mae"]).all()
    result = json.loads((out / "result.json").read_text())
    v = result["video"]
    assert v["frames"] == n_frames and v["fps"] > 0 and v["duration"] > 0
    assert v["face_frames"] >= 0.95 * n_frames  # one clear face throughout
    assert len(result["expressions"]) == len(df)
    for e in result["expressions"]:
        if e["emotion"] != "unknown":
            assert sum(e["probabilities"].values()) == pytest.approx(1, abs=1e-3)
            assert e["confidence"] == pytest.approx(max(e["probabilities"].values()), abs=1e-3)
    assert {"spotter", "recognizer"} <= set(result["settings"]) and {"microexp", "recognizer_model"} <= set(
        result["models"])
    npz = np.load(out / "scores.npz")
    assert npz["score"].shape == npz["time"].shape
    html = (out / "report.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # self-contained
    assert html.count("data:image/png;base64,") >= 1 + 3 * int((df.emotion != "unknown").sum())


def test_expressive_clip_has_expressions(wolfgang):
    """A few expressions, each recognised, each backed by the spotter's own curve (score ≥ 1 inside it)."""
    from microexp.recognition.data import CLASSES

    df = pd.read_csv(wolfgang / "intervals.csv")
    assert 1 <= len(df) <= 12  # a 16 s clip: a handful, not a flood
    assert df.emotion.isin(CLASSES).all()
    z = np.load(wolfgang / "scores.npz")
    for on, off in zip(df.onset, df.offset):
        inside = (z["frame"] >= on) & (z["frame"] <= off)
        assert inside.any() and z["score"][inside].max() >= 1.0, (on, off)
    result = json.loads((wolfgang / "result.json").read_text())
    settings, models = result["settings"], result["models"]
    assert settings["spotter"] == "offd" and settings["fps"] == pytest.approx(result["video"]["fps"])
    assert not set(settings) & set(models) and None not in settings.values()  # each setting once, real values


def test_never_neutral_clip_crying_negative_laugh_positive(wolfgang):
    """What a person sees in the frames (docs/spotting.md, "Never-neutral footage"): crying with the eyes shut
    from frame ≈ 5, still going on when the first window ends (the interval is *open*); a broad laugh ≈ 296–344
    after the first smile relaxes (≈ 272–288). Issue 16: the crying reads negative, the laugh positive."""
    df = pd.read_csv(wolfgang / "intervals.csv")
    assert df["open"].dtype == bool
    crying = df[(df.onset <= 30) & (df.offset >= 30)]
    laugh = df[(df.onset <= 310) & (df.offset >= 310)]
    assert len(crying) == 1 and len(laugh) == 1, df
    assert bool(crying["open"].iloc[0]) and crying.emotion.iloc[0] == "negative"
    assert laugh.emotion.iloc[0] == "positive" and not bool(laugh["open"].iloc[0])
    assert 296 <= laugh.apex.iloc[0] <= 344  # the apex is in the broad laugh, not on a head turn
    result = json.loads((wolfgang / "result.json").read_text())
    assert [e["open"] for e in result["expressions"]] == df["open"].tolist()
    # no face here is at rest: the crying is on from the first frames (reference within the video's first 0.5 s:
    # unknown), and every later reading compares faces still in the expression before (issue 16's laugh too)
    assert [e["rested"] for e in result["expressions"]] == [None] + [False] * (len(df) - 1)
    refs = [e["reference"] for e in result["expressions"]]
    assert all(0 <= r <= a for r, a in zip(refs, df.apex, strict=True))
    report = (wolfgang / "report.html").read_text()
    assert report.count("compared with a face not at rest") == len(df) - 1


def _counting(monkeypatch) -> dict:
    """Count decoding passes (``VideoSource.frames``), ``av.open`` calls and landmark-detector work."""
    import av

    from microexp.face.landmarks import LandmarkDetector
    from microexp.io.video import VideoSource

    counts = {"decodes": 0, "av_open": 0, "detectors": 0, "detect_calls": 0}

    def wrap(owner, name, key):
        orig = getattr(owner, name)

        def counted(*a, **k):
            counts[key] += 1
            return orig(*a, **k)

        monkeypatch.setattr(owner, name, counted)

    wrap(VideoSource, "frames", "decodes")
    wrap(av, "open", "av_open")
    wrap(LandmarkDetector, "__init__", "detectors")
    wrap(LandmarkDetector, "detect", "detect_calls")
    return counts


def test_analyze_decodes_once_and_detects_once(monkeypatch):
    """`analyze` = the spotter's one pass: no second decode, no second detector, no extra detections."""
    from microexp.pipeline import analyze
    from microexp.spotting.api import spot_video

    video = shared_path("video", "single_face.mp4")
    counts = _counting(monkeypatch)
    spot = spot_video(video)
    alone = dict(counts)
    assert alone["decodes"] == 1 and alone["detectors"] == 1
    for k in counts:
        counts[k] = 0
    res = analyze(video)
    assert counts["decodes"] == 1 and counts["detectors"] == 1
    assert counts["av_open"] == alone["av_open"]
    assert counts["detect_calls"] == alone["detect_calls"]  # the recogniser used the spotter's landmarks
    assert res.spot.intervals == spot.intervals
    assert all(e.emotion != "unknown" for e in res.expressions)


def test_report_in_headless_browser(wolfgang, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2400",
         f"--screenshot={shot}", (wolfgang / "report.html").resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert any("microexp-report:" in line and "0 broken" in line for line in console), proc.stderr[-2000:]
    assert not [line for line in console if "failed to load" in line or "Uncaught" in line]
    import cv2

    img = cv2.imread(str(shot), cv2.IMREAD_GRAYSCALE)
    assert img.shape[0] >= 1000 and img.std() > 10  # something was drawn, not a blank page


# ---- each interval read as soon as the stream settles it -----------------------------------------------------

def _read_at_the_end(video):
    """The previous design, composed from the same pieces: keep every interval's frames until spotting ends,
    then read them all (what learned spotters still do)."""
    from microexp.pipeline import IntervalReader
    from microexp.spotting.api import Keep, spot_video

    reader = IntervalReader()
    keep = reader.keep()
    spot = spot_video(video, keep_frames=True, keep=Keep(keep.before_s, keep.after_s, keep.wanted))
    reader.read_all(spot, video, None)
    return spot, reader


def _same_reading(video):
    from microexp.pipeline import analyze

    res = analyze(video)
    spot, reader = _read_at_the_end(video)
    assert res.spot.intervals == spot.intervals and res.spot.intervals
    got = [(e.interval, e.emotion, e.probabilities) for e in res.expressions]
    want = [(e.interval, e.emotion, e.probabilities) for e in reader.expressions]
    assert got == want  # exactly: same frames, same landmarks, same recogniser input
    for a, b in zip(res.thumbnails, reader.thumbnails, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert all(np.array_equal(x, y) for x, y in zip((a.onset, a.apex, a.offset), (b.onset, b.apex, b.offset)))
    assert res.spot.frames == {}  # nothing left over: every interval's frames were dropped once it was read
    return res, spot


@pytest.fixture(scope="module")
def synth_video(tmp_path_factory):
    from microexp.synth.generate import demo_config, write_clip

    path = tmp_path_factory.mktemp("synth") / "demo.mp4"
    write_clip(path, demo_config(12.0, seed=3))
    return path


def test_streamed_reading_equals_reading_after_spotting_real_clip():
    _same_reading(shared_path("video", "WolfgangLanger_Pexels.mp4"))


def test_streamed_reading_equals_reading_after_spotting_synthetic_clip(synth_video):
    res, _ = _same_reading(synth_video)
    assert {e.interval.kind for e in res.expressions} == {"me", "mae"}  # both reading paths exercised


def test_frames_held_while_spotting_are_bounded(synth_video):
    """Read-as-you-go holds the frames of the intervals in flight only: at most about one analysis window of
    images at any time, and fewer than keeping every interval's frames to the end (which grew with length)."""
    from microexp.pipeline import analyze

    res = analyze(synth_video)
    spot, _ = _read_at_the_end(synth_video)
    offd = res.spot.offd
    window = offd.config.frames(offd.config.window_s, offd.rate)
    assert 0 < offd.held_peak <= window
    assert offd.held_peak < spot.offd.held_peak  # the old way peaked with every interval's frames at the end
    assert len(spot.frames) > 0 and len(res.expressions) >= 4
