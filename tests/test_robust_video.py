"""Bad video input, frame folders and awkward faces, through `microexp spot` and the library.

Clips are tiny (240 x 160, 12-36 frames) and built from scikit-image's astronaut; nothing from ../shared.
"""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import pytest
from robust_helpers import Case, assert_one_line_error, canvas, face_image, invoke, paste, write_clip

from microexp.errors import NoFaceError, VideoError
from microexp.io.video import VideoSource

pytestmark = pytest.mark.xdist_group("robust_video")

FACE = face_image()


def face_frame(i: int = 0) -> np.ndarray:
    return paste(canvas(seed=i % 3), FACE, 20 + i % 2, 0, 0.75)


def good_clip(tmp: Path, name: str = "clip.mp4", n: int = 30) -> Path:
    return write_clip(tmp / name, n, face_frame)


# ---- builders: each returns (path fed to `spot`, extra CLI args) ----------------------------------------------

def b_zero_byte(tmp):
    p = tmp / "empty.mp4"
    p.write_bytes(b"")
    return p, []


def b_truncated_mp4(tmp):
    data = good_clip(tmp, "full.mp4").read_bytes()
    p = tmp / "cut.mp4"
    p.write_bytes(data[: len(data) // 2])
    return p, []


def _truncated(tmp, ext):
    write_clip(tmp / f"full.{ext}", 40, lambda i: paste(canvas(seed=i), FACE, 20 + i % 3, 0, 0.75))
    data = (tmp / f"full.{ext}").read_bytes()
    p = tmp / f"cut.{ext}"
    p.write_bytes(data[: int(len(data) * 0.6)])
    return p, []


def b_truncated_mkv(tmp):
    return _truncated(tmp, "mkv")


def b_truncated_avi(tmp):
    return _truncated(tmp, "avi")


def b_text_as_mp4(tmp):
    p = tmp / "notes.mp4"
    p.write_text("onset,offset\n1,2\n")
    return p, []


def b_random_bytes(tmp):
    p = tmp / "noise.mov"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return p, []


def b_audio_only(tmp):
    p = tmp / "voice.mp4"
    with av.open(str(p), "w") as out:
        s = out.add_stream("aac", rate=16000)
        for k in range(8):
            fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 16000, k * 1024
            for pkt in s.encode(fr):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return p, []


def b_missing(tmp):
    return tmp / "nowhere.mp4", []


def b_png_as_mp4(tmp):
    p = tmp / "still.mp4"
    ok, buf = cv2.imencode(".png", canvas())
    p.write_bytes(buf.tobytes())
    return p, []


def _folder(tmp, names, size=None):
    d = tmp / "frames"
    d.mkdir()
    for k, name in enumerate(names):
        img = face_frame(k)
        if size is not None and k == len(names) // 2:
            img = cv2.resize(img, size)
        cv2.imwrite(str(d / name), img)
    return d


def b_folder_no_fps(tmp):
    return _folder(tmp, [f"img{i}.jpg" for i in range(1, 7)]), []


def b_folder_empty(tmp):
    d = tmp / "frames"
    d.mkdir()
    (d / "notes.txt").write_text("no images here")
    return d, ["--fps", "30"]


def b_folder_unreadable(tmp):
    d = _folder(tmp, [f"img{i}.jpg" for i in range(1, 13)])
    (d / "img6.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    return d, ["--fps", "30"]


def b_folder_zero_byte_first(tmp):
    d = _folder(tmp, [f"img{i}.jpg" for i in range(1, 13)])
    (d / "img1.jpg").write_bytes(b"")
    return d, ["--fps", "30"]


def b_folder_size_change(tmp):
    return _folder(tmp, [f"img{i}.jpg" for i in range(1, 13)], size=(200, 120)), ["--fps", "30"]


def b_folder_duplicate_frame(tmp):
    d = _folder(tmp, [f"img{i}.jpg" for i in range(1, 13)])
    cv2.imwrite(str(d / "img3.png"), face_frame(3))
    return d, ["--fps", "30"]


def b_no_face(tmp):
    return write_clip(tmp / "wall.mp4", 24, lambda i: canvas(seed=i)), []


def b_face_too_small(tmp):
    return write_clip(tmp / "far.mp4", 24, lambda i: paste(canvas(160, 120, i), FACE, 30, 10, 0.28)), []


ERROR_CASES = [
    Case("zero-byte-video", "a 0-byte `.mp4`", "`file is empty (0 bytes)`", b_zero_byte, r"empty \(0 bytes\)"),
    Case("missing-file", "a path that does not exist", "`no such file or directory`", b_missing,
         r"no such file or directory"),
    Case("truncated-mp4", "an `.mp4` cut in half (its index is lost with the tail)",
         "`cannot open as video (Invalid data ...)`", b_truncated_mp4, r"cannot open as video"),
    Case("truncated-mkv", "an `.mkv` cut at 60 % (decodes cleanly up to the cut)",
         "`file is truncated: decoded 0.80 s (24 frames), the header promises 1.33 s; re-encode (or remux) ...` "
         "— never a silently shorter frame count", b_truncated_mkv, r"file is truncated: decoded .* header promises"),
    Case("truncated-avi", "an `.avi` cut at 60 % (header says 40 frames)",
         "`file is truncated: decoded N frames, the header promises 40; ...`", b_truncated_avi,
         r"file is truncated: decoded \d+ frames, the header promises 40"),
    Case("text-renamed-mp4", "a CSV renamed to `.mp4`", "`cannot open as video (...)`", b_text_as_mp4,
         r"cannot open as video"),
    Case("random-bytes-mov", "5 kB of random bytes named `.mov`", "`cannot open as video (...)`", b_random_bytes,
         r"cannot open as video"),
    Case("audio-only", "an `.mp4` holding only an AAC audio stream",
         "`file has no video stream (audio only or not a video)`", b_audio_only, r"no video stream"),
    Case("png-renamed-mp4", "a PNG image (no face) renamed to `.mp4`; FFmpeg opens it as a 1-frame video",
         "`no face found in any frame`", b_png_as_mp4, r"no face found"),
    Case("folder-without-fps", "a frame folder without `--fps` (no preset that sets it)",
         "`a frame folder needs --fps (or a dataset preset that sets it)`", b_folder_no_fps, r"needs --fps"),
    Case("folder-no-images", "a folder holding only `notes.txt`", "`folder holds no frame images (...)`",
         b_folder_empty, r"holds no frame images"),
    Case("folder-unreadable-image", "a frame folder whose `img6.jpg` is not a decodable image",
         "`img6.jpg: cannot read image (corrupt or not an image)` (names the frame file)", b_folder_unreadable,
         r"img6\.jpg: cannot read image"),
    Case("folder-zero-byte-image", "a frame folder whose first frame is a 0-byte file",
         "`img1.jpg: cannot read image`", b_folder_zero_byte_first, r"img1\.jpg: cannot read image"),
    Case("folder-frame-size-changes", "a frame folder where one frame has another size",
         "`frame size 200x120 differs from the first frame's 240x160`", b_folder_size_change,
         r"frame size 200x120 differs"),
    Case("folder-same-frame-twice", "`img3.jpg` and `img3.png` in one frame folder (mixed exports)",
         "`frame 'img3' exists twice (img3.jpg, img3.png); keep one` — never counted twice",
         b_folder_duplicate_frame, r"frame 'img3' exists twice"),
    Case("no-face", "a clip with no face in any frame", "`no face found in any frame`", b_no_face,
         r"no face found in any frame"),
    Case("face-too-small", "a face about 24 px wide (below what upsampled HOG detection finds)",
         "`no face found in any frame`", b_face_too_small, r"no face found in any frame"),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.id)
def test_spot_bad_input_one_line_error(case, tmp_path):
    path, extra = case.build(tmp_path)
    res = invoke(["spot", path, "-o", tmp_path / "out", *extra])
    assert_one_line_error(res, path if case.id != "folder-unreadable-image" else None, case.error)
    # nothing half-written is left behind as if it were a result
    assert not (tmp_path / "out" / "intervals.csv").exists()


def test_library_raises_typed_errors(tmp_path):
    path, _ = b_audio_only(tmp_path)
    with pytest.raises(VideoError, match="no video stream") as err:
        VideoSource(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
    from microexp.spotting.api import spot_video

    path, _ = b_no_face(tmp_path)
    with pytest.raises(NoFaceError, match="no face found"):
        spot_video(path)


# ---- handled cases --------------------------------------------------------------------------------------------

def b_folder_gap(tmp):
    return _folder(tmp, [f"img{i}.jpg" for i in range(1, 13) if i != 5]), ["--fps", "30"]


def b_folder_mixed(tmp):
    return _folder(tmp, [f"img{i}.{'png' if i % 2 else 'jpg'}" for i in range(1, 13)]), ["--fps", "30"]


def b_folder_junk(tmp):
    d = _folder(tmp, [f"img{i:03d}.jpg" for i in range(1, 13)])
    for junk in ("Thumbs.db", ".DS_Store", "readme.txt", "labels.csv"):
        (d / junk).write_bytes(b"x")
    return d, ["--fps", "30"]


def b_vfr(tmp):
    """VFR: 15 frames 20 ms apart, then 15 frames 60 ms apart (mkv, millisecond timestamps)."""
    p = tmp / "vfr.mkv"
    with av.open(str(p), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 240, 160, "yuv420p"
        s.codec_context.time_base = fractions.Fraction(1, 1000)
        t = 0
        for i in range(30):
            fr = av.VideoFrame.from_ndarray(face_frame(i), format="bgr24")
            fr.pts, fr.time_base = t, fractions.Fraction(1, 1000)
            t += 20 if i < 15 else 60
            for pkt in s.encode(fr):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return p, []


def b_face_gap(tmp):
    return write_clip(tmp / "peekaboo.mp4", 36,
                      lambda i: canvas(seed=i % 3) if 12 <= i < 24 else face_frame(i)), []


BIG_X, SMALL_X = 140, 5  # the large face on the right, so "first found" or "leftmost" would fail


def two_faces(i: int = 0) -> np.ndarray:
    img = paste(canvas(320, 170, i % 3), FACE, SMALL_X, 30, 0.55)
    return paste(img, FACE, BIG_X, 0, 0.8)


def b_two_faces(tmp):
    return write_clip(tmp / "two.mp4", 30, two_faces), []


def tiny_face(i: int = 0) -> np.ndarray:
    return paste(canvas(160, 120, i % 3), FACE, 30, 10, 0.40)


def b_tiny_face(tmp):
    return write_clip(tmp / "tiny.mp4", 24, tiny_face), []


HANDLED_CASES = [
    Case("folder-numbering-gap", "a frame folder `img1..img12` without `img5`",
         "Frames are numbered by position in the natural-sorted file list (the dataset convention, see "
         "docs/datasets.md): 11 frames, 0-based; `img6.jpg` is frame 4. Gaps are not filled in.", b_folder_gap),
    Case("folder-mixed-extensions", "a frame folder alternating `.png` and `.jpg` (distinct names)",
         "All 12 images are read in natural order of their names (`img2` before `img10`), whatever the "
         "extension.", b_folder_mixed),
    Case("folder-junk-files", "a frame folder with `Thumbs.db`, `.DS_Store`, `readme.txt`, `labels.csv`",
         "Non-image files are ignored: the frame count is the number of images (12).", b_folder_junk),
    Case("vfr-video", "variable frame rate: 15 frames 20 ms apart, then 15 frames 60 ms apart (`.mkv`)",
         "All 30 frames are decoded with their own timestamps; the spotter resamples by time, so seconds "
         "(`onset_s`, `scores.npz` `time`) are right and the last frame sits at 1.14 s.", b_vfr),
    Case("face-leaves-and-returns", "36 frames: face in 0-11, gone in 12-23, back in 24-35",
         "Frames 12-23 are marked no-face (`face = False` in `scores.npz`, hatched in `spot.png`), never "
         "guessed; nothing is spotted there; tracking resumes when the face is back.", b_face_gap),
    Case("two-faces", "two faces in every frame, the larger (70 px) on the right, a smaller (48 px) on the left",
         "The tracked face is the largest at the first detection, then the one nearest the previous position "
         "(`LandmarkDetector.find`); a face only the upsampled pass would find is not a candidate while a larger "
         "one is visible. Every frame is a face frame.", b_two_faces),
    Case("tiny-face", "a face about 36 px wide (dlib box) in a 160 x 120 clip",
         "Found by the upsampled detection pass (dlib HOG misses faces under ~80 px without it); every frame "
         "is a face frame. Smaller faces are not found: see `face-too-small`.", b_tiny_face),
]


def _flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines at the terminal width


def _spot_ok(tmp_path, path, extra):
    out = tmp_path / "out"
    res = invoke(["spot", path, "-o", out, *extra])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "intervals.csv")
    npz = np.load(out / "scores.npz")
    return res, df, npz


@pytest.mark.parametrize("case", HANDLED_CASES, ids=lambda c: c.id)
def test_spot_handled_cases(case, tmp_path, monkeypatch):
    tracked: list = []
    if case.id == "two-faces":
        from microexp.spotting import offd

        real = offd.WindowTracker.start

        def recording(self, gray, near=None):
            t = real(self, gray, near)
            tracked.append(None if t is None else t.box_center)
            return t

        monkeypatch.setattr(offd.WindowTracker, "start", recording)
    path, extra = case.build(tmp_path)
    res, df, npz = _spot_ok(tmp_path, path, extra)
    face = npz["face"]
    frames = npz["frame"]
    if case.id == "folder-numbering-gap":
        names = VideoSource(path, fps=30).frame_names()
        assert len(names) == 11 and names[4] == "img6.jpg"
        assert frames[-1] == 10 and "11 frames" in _flat(res.stdout)
    elif case.id == "folder-mixed-extensions":
        names = VideoSource(path, fps=30).frame_names()
        assert names == [f"img{i}.{'png' if i % 2 else 'jpg'}" for i in range(1, 13)]
        assert frames[-1] == 11 and face.all()
    elif case.id == "folder-junk-files":
        assert frames[-1] == 11 and "12 frames" in _flat(res.stdout)
    elif case.id == "vfr-video":
        times = [f.time for f in VideoSource(path).frames(gray=True)]
        expected = [0.02 * i for i in range(15)] + [0.30 + 0.06 * i for i in range(15)]
        assert np.allclose(times, expected, atol=1e-6)
        assert npz["time"][-1] == pytest.approx(1.14, abs=0.02) and frames[-1] == 29
        assert "30 frames" in _flat(res.stdout) and face.all()
    elif case.id == "face-leaves-and-returns":
        per_frame = np.zeros(36, bool)
        per_frame[frames] = face
        assert per_frame[:10].all() and not per_frame[13:23].any() and per_frame[26:].all()
        assert all(on > 23 or off < 12 for on, off in zip(df["onset"], df["offset"], strict=True))
    elif case.id == "two-faces":
        assert tracked and all(c is not None for c in tracked)
        assert all(c[0] > BIG_X for c in tracked), tracked  # the big face's centre is right of BIG_X
        assert face.all()
    elif case.id == "tiny-face":
        assert face.all() and frames[-1] == 23
    else:  # pragma: no cover - a new case needs its check here
        raise AssertionError(f"no check for {case.id}")


def test_two_faces_rule_largest_then_nearest():
    """The documented rule itself: largest without a previous position, nearest with one."""
    from microexp.face.landmarks import LandmarkDetector

    det = LandmarkDetector()
    gray = cv2.cvtColor(two_faces(), cv2.COLOR_BGR2GRAY)
    boxes = det.detect(gray, upsample=1)
    assert len(boxes) == 2 and boxes[0].width > boxes[1].width
    assert det.find(gray)[0].center[0] > BIG_X
    # a face too small for the first (not upsampled) pass is not a candidate while a larger one is found
    assert det.find(gray, near=boxes[1].center)[0].center[0] > BIG_X
    # two faces both found by the first pass: the one nearest the previous position wins, not the larger
    img = paste(paste(canvas(440, 210), FACE, 0, 0, 1.0), FACE, 225, 10, 0.85)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    big, small = det.detect(gray)
    assert big.width > small.width and big.center[0] < small.center[0]
    assert det.find(gray)[0].center == big.center
    box, lm = det.find(gray, near=(small.center[0] - 30, small.center[1]))
    assert box.center == small.center and lm.shape == (68, 2)


def test_tiny_face_needs_the_upsampled_pass():
    from microexp.face.landmarks import LandmarkDetector

    det = LandmarkDetector()
    gray = cv2.cvtColor(tiny_face(), cv2.COLOR_BGR2GRAY)
    assert det.detect(gray, upsample=0) == []
    found = det.find(gray)
    assert found is not None and found[0].width < 40


def test_truncated_library_stream_raises_at_the_cut(tmp_path):
    """Iterating a truncated file yields the real frames, then raises instead of ending quietly."""
    path, _ = b_truncated_mkv(tmp_path)
    src = VideoSource(path)
    got = []
    with pytest.raises(VideoError, match="truncated"):
        for f in src.frames(gray=True):
            got.append(f.index)
    assert got == list(range(len(got))) and 0 < len(got) < 40


def test_untruncated_files_pass_the_completeness_check(tmp_path):
    for ext in ("mp4", "mkv", "avi", "mov"):
        p = write_clip(tmp_path / f"ok.{ext}", 40, face_frame)
        assert sum(1 for _ in VideoSource(p).frames(gray=True)) == 40


# ---- the same refusals through `analyze` and the Python API ----------------------------------------------------------

NO_DECODE = ("zero-byte-video", "missing-file", "truncated-mp4", "text-renamed-mp4", "random-bytes-mov", "audio-only")


@pytest.mark.parametrize("case", [c for c in ERROR_CASES if c.id in NO_DECODE], ids=lambda c: c.id)
def test_analyze_and_api_refuse_the_same_way(case, tmp_path):
    import microexp
    from microexp.errors import InputError

    path, extra = case.build(tmp_path)
    res = invoke(["analyze", path, "-o", tmp_path / "out", *extra])
    assert_one_line_error(res, path, case.error)
    assert not (tmp_path / "out" / "result.json").exists() and not (tmp_path / "out" / "intervals.csv").exists()
    for call in (microexp.spot, microexp.analyze):
        with pytest.raises(InputError, match=case.error) as err:
            call(path)
        assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
