"""Decoding: natural frame order, timestamps (VFR), atomic writes and one-line errors for bad input."""

import av
import cv2
import numpy as np
import pytest

from microexp.errors import InputError, VideoError
from microexp.io.atomic import write_text
from microexp.io.frames import natural_key
from microexp.io.video import VideoSource, remux, write_video

from conftest import shared_path


def test_natural_order():
    names = ["img10.jpg", "img2.jpg", "img1.jpg", "006_05562.jpg", "image000123.bmp"]
    assert sorted(["img10.jpg", "img2.jpg", "img1.jpg"], key=natural_key) == ["img1.jpg", "img2.jpg", "img10.jpg"]
    assert sorted(names, key=natural_key)[0] == "006_05562.jpg"


@pytest.mark.parametrize("pattern", ["img{}.jpg", "006_{:05d}.jpg", "image{:06d}.bmp"])
def test_frame_folder_natural_order_and_fps(tmp_path, pattern):
    for i in [1, 2, 10, 3]:
        img = np.full((24, 32, 3), i * 10, np.uint8)
        cv2.imwrite(str(tmp_path / pattern.format(i)), img)
    src = VideoSource(tmp_path, fps=25)
    frames = list(src.frames(gray=True))
    assert [int(round(f.image.mean() / 10)) for f in frames] == [1, 2, 3, 10]
    assert frames[-1].time == pytest.approx(3 / 25)
    assert src.info.is_folder and src.info.n_frames == 4


def test_frame_folder_errors(tmp_path):
    with pytest.raises(VideoError, match="no frame images"):
        VideoSource(tmp_path, fps=30)
    cv2.imwrite(str(tmp_path / "img1.jpg"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match="--fps"):
        VideoSource(tmp_path)
    (tmp_path / "img2.jpg").write_bytes(b"not an image")
    with pytest.raises(VideoError, match="img2.jpg"):
        list(VideoSource(tmp_path, fps=30).frames())


def test_missing_empty_and_non_video(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        VideoSource(tmp_path / "nope.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        VideoSource(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("hello, this is not a video\n" * 20)
    with pytest.raises(VideoError) as err:
        VideoSource(text)
    assert "notes.mp4" in str(err.value) and "\n" not in str(err.value)


def test_audio_only_file(tmp_path):
    path = tmp_path / "audio.m4a"
    with av.open(str(path), "w", format="mp4") as out:
        st = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for p in st.encode(frame):
            out.mux(p)
        for p in st.encode():
            out.mux(p)
    with pytest.raises(VideoError, match="no video stream"):
        VideoSource(path)


def test_write_roundtrip_and_truncation(tmp_path):
    frames = [np.full((48, 64, 3), 8 * i, np.uint8) for i in range(20)]
    path = write_video(tmp_path / "clip.mp4", frames, fps=30)
    src = VideoSource(path)
    got = list(src.frames())
    assert len(got) == 20 and src.info.fps == pytest.approx(30)
    assert [f.index for f in got] == list(range(20))
    assert got[10].time == pytest.approx(10 / 30, abs=1e-3)
    assert abs(float(got[10].image.mean()) - 80) < 4
    # a truncated file decodes what is intact, or fails with a one-line error naming it
    cut = tmp_path / "cut.mp4"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    try:
        n = sum(1 for _ in VideoSource(cut).frames())
        assert n < 20
    except VideoError as err:
        assert "cut.mp4" in str(err)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "a.txt"
    write_text(target, "old")
    from microexp.io.atomic import atomic_path

    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_vfr_timestamps_are_kept():
    path = shared_path("video", "noface_face.mov")
    src = VideoSource(path)
    times = np.array([f.time for f in src.frames(gray=True)])
    assert times.size == 169
    assert times[-1] == pytest.approx(6.35, abs=0.05)  # seconds, not 169 / nominal rate
    gaps = np.diff(times)
    assert gaps.max() > 1.5 * gaps.min()  # really variable


def test_hevc_and_h264_decode():
    for name, codec, n in [("single_face.mp4", "h264", 72), ("face_noface.mov", "hevc", 169)]:
        src = VideoSource(shared_path("video", name))
        assert src.info.codec == codec
        assert sum(1 for _ in src.frames(gray=True)) == n


def test_remuxed_matroska_reports_its_real_rate(tmp_path):
    """A stream-copied .mkv of a real clip reports average_rate 24000 beside guessed_rate 23.976: the plausible
    header rate is used (it used to be refused as 'outside 1..10000'), and the frames are all there."""
    src = shared_path("video", "WolfgangLanger_Pexels.mp4")
    out = remux(src, tmp_path / "remux.mkv")
    info = VideoSource(out).info
    assert abs(info.fps - VideoSource(src).info.fps) < 0.01
    assert sum(1 for _ in VideoSource(out).frames(gray=True)) == 472
