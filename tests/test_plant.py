"""Planted expressions: the motion put into a real clip is measured back at the requested amplitude, labels match
``synth``'s, and bad inputs give one-line typed errors."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from microexp.cli.main import app
from microexp.errors import ConfigError, InputError, VideoError
from microexp.io.video import VideoSource, write_video
from microexp.synth import LABEL_COLUMNS, Distractors, generate, preset
from microexp.synth.face import find_landmarks
from microexp.synth.motion import measure_amplitude
from microexp.synth.plant import Plant, even_plants, load_template, plant_video, validate

from conftest import shared_path

PAIR = ("realdata", "christy1206__biwoof", "sub11_EP15_04f.gif")
CLIP = ("video", "single_face.mp4")


def _frames(path):
    return [f.image for f in VideoSource(path).frames()]


@pytest.fixture(scope="module")
def template():
    return load_template(shared_path(*PAIR))


@pytest.fixture(scope="module")
def planted(tmp_path_factory, template):
    """single_face.mp4 (30 fps, 72 frames) with one 4 % IOD ME at frames 20-27-34, written almost losslessly."""
    out = tmp_path_factory.mktemp("plant") / "planted.mp4"
    labels = plant_video(shared_path(*CLIP), out, [Plant("me", 20, 27, 34, 4.0)], template, crf=10)
    return out, labels


def test_planted_motion_is_measured_back_at_the_requested_amplitude(planted):
    out, _ = planted
    before, after = _frames(shared_path(*CLIP)), _frames(out)
    assert len(before) == len(after) == 72
    lm = find_landmarks(before[27])
    # Same frame, with and without the plant: the only motion between them is the planted one.
    at_apex = measure_amplitude(before[27], after[27], lm)
    assert 0.7 * 4.0 <= at_apex.max_pct <= 1.15 * 4.0
    assert 0.01 < at_apex.area_half_max < 0.2  # a local expression, not a face-wide shift
    half_way = measure_amplitude(before[23], after[23], lm)  # raised cosine: under the apex value, above zero
    assert 0.2 * at_apex.max_pct < half_way.max_pct < 0.9 * at_apex.max_pct
    untouched = measure_amplitude(before[10], after[10], lm)  # outside the plant only compression differs
    assert untouched.max_pct < 0.4 * at_apex.max_pct
    diff = after[60].astype(float) - before[60].astype(float)  # re-encoding adds a small uniform colour offset
    assert np.abs(diff - diff.mean()).mean() < 1.5


def test_labels_and_sidecar_match_synth(planted):
    out, labels = planted
    csv = pd.read_csv(out.with_suffix(".csv"), keep_default_na=False)
    assert list(csv.columns) == LABEL_COLUMNS
    assert csv[["video", "onset", "apex", "offset", "type"]].values.tolist() == [["planted", 20, 27, 34, "me"]]
    assert labels["onset"].tolist() == [20]
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["synthetic"] is True and meta["planted"] is True and meta["frame_base"] == 0
    assert meta["plants"] == [{"kind": "me", "onset": 20, "apex": 27, "offset": 34, "amplitude_pct": 4.0}]
    assert meta["template"] == "sub11_EP15_04f"


def test_plant_without_shared_data_on_a_synthetic_face(tmp_path):
    """A synthetic ME's own onset/apex frames as the motion source, planted into a still synthetic face."""
    cfg = preset("casme_sq", seconds=2, seed=4, width=320, height=240, face_px=130, min_mae=0, mae_per_min=0,
                 me_amplitude_iod=(0.04, 0.04), distractors=Distractors.none(), watermark=False)
    frames, labels = generate(cfg)
    frames = list(frames)
    me = labels.iloc[0]
    pair = tmp_path / "pair"
    pair.mkdir()
    cv2.imwrite(str(pair / "1.png"), frames[me.onset])
    cv2.imwrite(str(pair / "2.png"), frames[me.apex])
    still = tmp_path / "still.mp4"
    write_video(still, [frames[0]] * 40, 30.0, crf=10)
    out = tmp_path / "out.mp4"
    plant_video(still, out, [Plant("me", 10, 16, 22, 3.0)], pair, crf=10)
    a, b = _frames(still), _frames(out)
    lm = find_landmarks(a[16])
    amp = measure_amplitude(a[16], b[16], lm).max_pct
    assert 0.7 * 3.0 <= amp <= 1.15 * 3.0
    assert measure_amplitude(a[5], b[5], lm).max_pct < 0.3 * amp


@pytest.mark.parametrize("plants, fps, message", [
    ([Plant("me", 10, 5, 20, 2.0)], 30, "onset < apex < offset"),
    ([Plant("me", 0, 10, 30, 2.0)], 30, "MEGC types"),
    ([Plant("mae", 0, 3, 6, 2.0)], 30, "MEGC types"),
    ([Plant("xx", 0, 3, 6, 2.0)], 30, "'me' or 'mae'"),
    ([Plant("me", 0, 3, 6, 0.0)], 30, "amplitude"),
    ([Plant("me", 0, 3, 9, 2.0), Plant("me", 8, 10, 12, 2.0)], 30, "overlap"),
])
def test_bad_plants_are_config_errors(plants, fps, message):
    with pytest.raises(ConfigError, match=message):
        validate(plants, fps)


def test_bad_inputs_are_one_line_errors(tmp_path, template):
    clip = shared_path(*CLIP)
    with pytest.raises(VideoError, match="ends at frame 80"):
        plant_video(clip, tmp_path / "o.mp4", [Plant("me", 70, 75, 80, 2.0)], template)
    with pytest.raises(InputError, match="motion source not found"):
        plant_video(clip, tmp_path / "o.mp4", [Plant("me", 10, 12, 14, 2.0)], tmp_path / "none.gif")
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(InputError, match="2-frame GIF"):
        load_template(tmp_path / "m.txt")
    with pytest.raises(ConfigError, match="must differ"):
        plant_video(clip, clip, [Plant("me", 10, 12, 14, 2.0)], template)
    runner = CliRunner()
    res = runner.invoke(app, ["synth", "plant", str(clip), str(tmp_path / "o.mp4"), "--motion",
                              str(shared_path(*PAIR)), "--at", "10:12", "--amplitude", "2"])
    assert res.exit_code == 2 and "ONSET:APEX:OFFSET" in res.output and len(res.output.strip().splitlines()) == 1
    res = runner.invoke(app, ["synth", "plant", str(clip), str(tmp_path / "o.mp4"), "--motion",
                              str(tmp_path / "none"), "--at", "10:12:14", "--amplitude", "2"])
    assert res.exit_code == 2 and "none" in res.output and len(res.output.strip().splitlines()) == 1


def test_cli_plant_writes_video_and_labels(tmp_path):
    out = tmp_path / "p.mp4"
    res = CliRunner().invoke(app, ["synth", "plant", str(shared_path(*CLIP)), str(out), "--motion",
                                   str(shared_path(*PAIR)), "--at", "5:8:12", "--at", "40:46:52",
                                   "--amplitude", "3"])
    assert res.exit_code == 0, res.output
    csv = pd.read_csv(out.with_suffix(".csv"))
    assert csv[["onset", "apex", "offset"]].values.tolist() == [[5, 8, 12], [40, 46, 52]]
    assert (csv["video"] == "p").all() and (csv["type"] == "me").all()


def test_even_plants_fit_the_clip_and_the_face():
    plants = even_plants(300, 30.0, "me", 2.0, 0.4, gap_s=1.0)
    assert len(plants) >= 5 and all(p.offset - p.onset == 12 for p in plants)
    validate(plants, 30.0)
    face = np.ones(300, bool)
    face[:150] = False
    assert all(p.onset >= 150 for p in even_plants(300, 30.0, "me", 2.0, 0.4, face=face))
