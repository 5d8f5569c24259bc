"""Files on disk: clip + labels + sidecar, suites for LOSO, the demo clip, real face crops, and the CLI."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from microexp.cli.main import app
from microexp.errors import ConfigError, InputError
from microexp.io.video import VideoSource
from microexp.synth import (
    LABEL_COLUMNS,
    SUITE_COLUMNS,
    Distractors,
    generate,
    preset,
    write_clip,
    write_suite,
)
from microexp.synth.face import prepare_face

from conftest import shared_path

SMALL = dict(width=320, height=240, face_px=110)
CROPS = ("realdata", "htnet", "datasets", "combined_datasets_whole")
FLOWS = ("realdata", "htnet", "datasets", "STSNet_whole_norm_u_v_os")


def test_write_clip_video_labels_and_sidecar(tmp_path):
    cfg = preset("casme_sq", seconds=3, seed=1, **SMALL)
    labels = write_clip(tmp_path / "clip.mp4", cfg)
    csv = pd.read_csv(tmp_path / "clip.csv", dtype={"au": str})
    assert list(csv.columns) == LABEL_COLUMNS
    assert csv[["onset", "apex", "offset"]].equals(labels[["onset", "apex", "offset"]])
    assert set(csv["type"]) <= {"me", "mae"} and (csv["video"] == "clip").all()
    meta = json.loads((tmp_path / "clip.json").read_text())
    assert meta["synthetic"] is True and meta["frame_base"] == 0 and meta["config"]["seed"] == 1
    assert meta["video"] == "clip" and "vid" not in meta
    src = VideoSource(tmp_path / "clip.mp4")
    frames = [f.image for f in src.frames()]
    assert len(frames) == cfg.n_frames and src.info.fps == pytest.approx(30)
    assert frames[0].shape == (240, 320, 3)
    assert (csv["offset"] < cfg.n_frames).all() and (csv["onset"] >= 0).all()
    import av

    with av.open(str(tmp_path / "clip.mp4")) as container:  # the file itself says it is synthetic
        assert "synthetic" in container.metadata.get("comment", "")


def test_same_seed_same_video_content(tmp_path):
    cfg = preset("casme_sq", seconds=1, seed=4, **SMALL)
    write_clip(tmp_path / "a.mp4", cfg)
    write_clip(tmp_path / "b.mp4", cfg)
    fa = [f.image for f in VideoSource(tmp_path / "a.mp4").frames()]
    fb = [f.image for f in VideoSource(tmp_path / "b.mp4").frames()]
    assert len(fa) == len(fb) == cfg.n_frames
    assert all(np.array_equal(x, y) for x, y in zip(fa, fb))
    assert (tmp_path / "a.csv").read_text().replace("a,", "b,") == (tmp_path / "b.csv").read_text()
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_bad_config_is_a_typed_error(tmp_path):
    with pytest.raises(ConfigError):
        preset("nope")
    with pytest.raises(ConfigError):
        write_clip(tmp_path / "x.txt", preset("casme_sq", seconds=1))
    with pytest.raises(ConfigError):
        generate(preset("casme_sq", seconds=-1))
    with pytest.raises(ConfigError):
        generate(preset("casme_sq", faces=(str(tmp_path / "missing.jpg"),)))
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(InputError):
        generate(preset("casme_sq", seconds=1), face=str(tmp_path / "bad.jpg"))


def test_suite_has_subjects_and_resumes(tmp_path):
    """Two base faces -> two subjects; a second face is made from the astronaut so no shared data is needed."""
    from skimage import data

    crop = tmp_path / "mirrored.png"
    cv2.imwrite(str(crop), cv2.flip(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), 1))
    index = write_suite(tmp_path / "s", n_videos=3, preset="casme_sq", faces=["astronaut", str(crop)], seed=2,
                        seconds=2, distractors=Distractors.none(), **SMALL)
    assert list(index.columns) == SUITE_COLUMNS
    on_disk = pd.read_csv(tmp_path / "s" / "index.csv", dtype={"au": str, "subject": str})
    assert list(on_disk.columns) == SUITE_COLUMNS
    assert set(on_disk["subject"]) == {"astronaut", crop.stem}
    assert set(on_disk["video"]) <= {"v000", "v001", "v002"}
    assert on_disk.groupby("video")["subject"].nunique().max() == 1
    for v in ("v000", "v001", "v002"):
        assert (tmp_path / "s" / f"{v}.mp4").is_file() and (tmp_path / "s" / f"{v}.csv").is_file()
    stamp = (tmp_path / "s" / "v001.mp4").stat().st_mtime_ns
    again = write_suite(tmp_path / "s", n_videos=3, preset="casme_sq", faces=["astronaut", str(crop)], seed=2,
                        seconds=2, distractors=Distractors.none(), **SMALL)
    assert (tmp_path / "s" / "v001.mp4").stat().st_mtime_ns == stamp
    assert again.reset_index(drop=True).astype(str).equals(index.reset_index(drop=True).astype(str))


@pytest.mark.shared
def test_real_face_crop_is_found_again_on_the_canvas():
    from microexp.face import LandmarkDetector

    crop = sorted(shared_path(*CROPS).glob("*.jpg"))[5]
    base = prepare_face(str(crop), 640, 480, 200)
    found = LandmarkDetector().find(cv2.cvtColor(base.image, cv2.COLOR_BGR2GRAY))
    assert found is not None
    assert float(np.abs(found[1] - base.landmarks).mean()) < 6.0
    jaw = float(np.linalg.norm(base.landmarks[16] - base.landmarks[0]))
    assert jaw == pytest.approx(200, rel=0.02)


@pytest.mark.shared
def test_flow_templates_drive_some_micro_expressions():
    folder = shared_path(*FLOWS)
    cfg = preset("casme_sq", seconds=8, seed=3, min_me=4, flow_templates=str(folder), flow_template_share=1.0,
                 distractors=Distractors.none(), **SMALL)
    frames, labels = generate(cfg)
    frames = list(frames)
    me = labels[labels["type"] == "me"]
    assert len(me) >= 1 and (me["au"] == "flow").all()
    events = [e for e in labels.attrs["events"] if e["kind"] == "me"]
    assert all(e["template"].endswith(".png") for e in events)
    for r in me.itertuples():
        assert np.abs(frames[r.apex].astype(int) - frames[r.onset].astype(int)).max() > 0


def test_cli_clip_and_suite(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["synth", str(tmp_path / "c.mp4"), "--seconds", "1", "--seed", "2",
                              "--no-distractors"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c.mp4").is_file() and (tmp_path / "c.csv").is_file()
    res = runner.invoke(app, ["synth", "--seconds", "0.5", "--no-distractors", str(tmp_path / "first.mp4")])
    assert res.exit_code == 0, res.output  # options before the path still mean a clip
    assert (tmp_path / "first.csv").is_file()
    res = runner.invoke(app, ["synth", "suite", str(tmp_path / "suite"), "--videos", "2", "--seconds", "1"])
    assert res.exit_code == 0, res.output
    idx = pd.read_csv(tmp_path / "suite" / "index.csv")
    assert list(idx.columns) == SUITE_COLUMNS
    assert (tmp_path / "suite" / "v001.mp4").is_file()


def test_help_lists_every_synth_command():
    res = CliRunner().invoke(app, ["synth", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    for name in ("clip", "suite", "plant"):
        assert any(line.strip("│ ").startswith(name + " ") for line in res.output.splitlines()), res.output


def test_cli_errors_are_one_line(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["synth", str(tmp_path / "c.mp4"), "--preset", "nope"])
    assert res.exit_code == 2 and "unknown synth preset" in res.output
    res = runner.invoke(app, ["synth", str(tmp_path / "c.mp4"), "--face", str(tmp_path / "none.jpg")])
    assert res.exit_code == 2 and "none.jpg" in res.output
    res = runner.invoke(app, ["synth", "suite", str(tmp_path / "s"), "--face-dir", str(tmp_path / "nodir")])
    assert res.exit_code == 2 and "nodir" in res.output


def test_demo_video_holds_several_expressions(tmp_path):
    from microexp.synth import demo_config, make_demo_video

    cfg = demo_config(20.0)
    assert cfg.min_me >= 2 and cfg.min_mae >= 2
    labels = make_demo_video(tmp_path / "demo.mp4", seconds=8, seed=1)
    assert (tmp_path / "demo.csv").is_file()
    assert (labels["type"] == "me").sum() >= 2 and (labels["type"] == "mae").sum() >= 1
