"""``prepare``: one task per video into the crop cache, resume from the cache, corrupt videos named, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from microexp.cli.main import app
from microexp.errors import ConfigError, InputError
from microexp.prepare import prepare_dataset, source_videos

from conftest import shared_path

CLIP_FRAMES = 12


def face_frames() -> list[np.ndarray]:
    from microexp.io.video import VideoSource

    return [f.image for f in VideoSource(shared_path("video", "single_face.mp4")).frames()]


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 30) -> Path:
    """A short MPEG-4 clip (the encoder every PyAV build has)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for im in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(im, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_clips(folder: Path, n: int = 2, corrupt: bool = True) -> list[Path]:
    """``n`` different 12-frame face clips cut from the real test video, plus ``broken.mp4`` (not a video)."""
    frames = face_frames()
    paths = [write_clip(folder / f"clip{i}.mp4", frames[i * 20:i * 20 + CLIP_FRAMES]) for i in range(n)]
    if corrupt:
        (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    return paths


def test_prepare_builds_resumes_and_names_the_corrupt_video(tmp_path):
    videos = tmp_path / "videos"
    make_clips(videos, n=1)
    cache = tmp_path / "cache"
    first = prepare_dataset("videos", videos, cache)
    rows = {r["name"]: r for r in first.rows}
    assert set(rows) == {"clip0.mp4", "broken.mp4"}
    assert rows["clip0.mp4"]["status"] == "built" and rows["clip0.mp4"]["frames"] == CLIP_FRAMES
    assert rows["clip0.mp4"]["face_frames"] > CLIP_FRAMES // 2
    assert rows["broken.mp4"]["status"] == "failed"
    assert rows["broken.mp4"]["error"].startswith("VideoError:") and "broken.mp4" in rows["broken.mp4"]["error"]
    assert (cache / "crops" / rows["clip0.mp4"]["key"] / "COMPLETE").is_file()

    # an interrupted run resumes: a new video is built, the finished one comes from the cache
    write_clip(videos / "clip1.mp4", face_frames()[30:30 + CLIP_FRAMES])
    second = prepare_dataset("videos", videos, cache)
    status = {r["name"]: r["status"] for r in second.rows}
    assert status == {"clip0.mp4": "cached", "clip1.mp4": "built", "broken.mp4": "failed"}
    assert second.count("failed") == 1 and [r["name"] for r in second.failed] == ["broken.mp4"]
    assert {r["key"] for r in second.rows if r["name"] == "clip0.mp4"} == {rows["clip0.mp4"]["key"]}


def test_cli_reports_failed_video_by_name_and_exits_1(tmp_path):
    make_clips(tmp_path / "v", n=1)
    res = CliRunner().invoke(app, ["prepare", "videos", str(tmp_path / "v"), "--cache-dir", str(tmp_path / "c")])
    assert res.exit_code == 1, res.output
    assert "1 built, 0 already cached, 1 failed" in res.output
    assert "failed: broken.mp4: VideoError" in res.output
    report = pd.read_csv(tmp_path / "c" / "prepare_report_videos.csv", keep_default_na=False)
    assert report.set_index("name")["status"].to_dict() == {"clip0.mp4": "built", "broken.mp4": "failed"}

    (tmp_path / "v" / "broken.mp4").unlink()
    res = CliRunner().invoke(app, ["prepare", "videos", str(tmp_path / "v"), "--cache-dir", str(tmp_path / "c"),
                                   "--report", str(tmp_path / "r.csv"), "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert "0 built, 1 already cached, 0 failed" in res.output
    assert (tmp_path / "r.csv").is_file()


def test_cli_bad_options_are_one_line_errors(tmp_path):
    res = CliRunner().invoke(app, ["prepare", "nosuchset", str(tmp_path), "--cache-dir", str(tmp_path / "c")])
    assert res.exit_code == 2 and "unknown dataset 'nosuchset'" in res.output and "'videos'" in res.output
    res = CliRunner().invoke(app, ["prepare", "videos", str(tmp_path), "--cache-dir", str(tmp_path / "c"),
                                   "--executor", "dask"])
    assert res.exit_code == 2 and "unknown executor 'dask'" in res.output


def test_dataset_source_finds_the_videos_on_disk(tmp_path):
    """A CAS(ME)^2 folder as distributed: the real annotation sheet and two of its videos' frame folders."""
    root = tmp_path / "casme_sq"
    root.mkdir()
    (root / "code_final.xlsx").symlink_to(shared_path("annotations", "casme_sq", "code_final.xlsx"))
    frames = face_frames()
    import cv2

    for k, name in enumerate(("15_0401girlcrashing", "15_0502funnyerrors")):
        d = root / "rawpic" / "s15" / name
        d.mkdir(parents=True)
        for i in range(CLIP_FRAMES):
            cv2.imwrite(str(d / f"img{i + 1}.jpg"), frames[k * 30 + i])
    videos, missing = source_videos("casme_sq", root)
    assert [(n, fps) for n, _, fps in videos] == [("rawpic/s15/15_0401girlcrashing", 30.0),
                                                  ("rawpic/s15/15_0502funnyerrors", 30.0)]
    assert missing and "s15/s15_0401" not in missing  # annotated videos without frames are listed
    rep = prepare_dataset("casme_sq", root, tmp_path / "cache")
    assert [r["status"] for r in rep.rows] == ["built", "built"]
    assert [r["frames"] for r in rep.rows] == [CLIP_FRAMES, CLIP_FRAMES]


def test_suite_lists_its_videos_not_the_folder(tmp_path):
    clips = make_clips(tmp_path, n=2, corrupt=False)
    (tmp_path / "extra.mp4").write_bytes(b"not listed, never read")
    pd.DataFrame({"video": [c.stem for c in clips] + [clips[0].stem], "onset": [1, 2, 3],
                  "fps": [30, 25, 30]}).to_csv(tmp_path / "index.csv", index=False)
    videos, _ = source_videos("synth", tmp_path)  # a CSV naming videos without the suffix
    assert [(n, fps) for n, _, fps in videos] == [("clip0.mp4", 30.0), ("clip1.mp4", 25.0)]
    (tmp_path / "suite.json").write_text(json.dumps({"synthetic": True, "videos": ["clip1"]}))
    videos, _ = source_videos("synth", tmp_path, fps=50)  # write_suite's suite.json wins
    assert [(n, fps) for n, _, fps in videos] == [("clip1.mp4", 50.0)]


def test_source_errors(tmp_path):
    with pytest.raises(InputError, match="folder not found"):
        source_videos("videos", tmp_path / "absent")
    with pytest.raises(InputError, match="no videos"):
        source_videos("videos", tmp_path)
    with pytest.raises(ConfigError, match="derived flow images"):
        source_videos("composite", tmp_path)
    with pytest.raises(ConfigError, match="at least 16"):
        prepare_dataset("videos", tmp_path, tmp_path / "c", size=8)
