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
