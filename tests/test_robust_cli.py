"""Options and output locations checked before any work, as a new user would get them wrong.

Every refused case must end with exit 2 and one line on stderr *before* anything is computed: the spotter,
the pipeline and the trainers are replaced by functions that fail the test if they are called.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from robust_helpers import Case, assert_one_line_error, canvas, face_image, invoke, paste, write_clip

FACE = face_image()


def _clip(tmp: Path, name: str = "clip.mp4") -> Path:
    return write_clip(tmp / name, 12, lambda i: paste(canvas(seed=i), FACE, 20, 0, 0.75))


def _frames(tmp: Path) -> Path:
    d = tmp / "frames"
    d.mkdir()
    for i in range(1, 7):
        cv2.imwrite(str(d / f"img{i}.jpg"), paste(canvas(seed=i), FACE, 20, 0, 0.75))
    return d


def _weights(tmp: Path) -> Path:
    w = tmp / "model.pt"
    w.write_bytes(b"not used: refused before loading")
    return w


def _sheets(tmp: Path) -> tuple[Path, Path]:
    gt = tmp / "gt.csv"
    gt.write_text("video,onset,offset,type\nv1,10,20,me\n")
    pred = tmp / "pred.csv"
    pred.write_text("video,onset,offset,type\nv1,11,19,me\n")
    return gt, pred


def _folder_of_videos(tmp: Path) -> Path:
    d = tmp / "videos"
    d.mkdir()
    _clip(d, "a.mp4")
    return d


# ---- refused options: build(tmp) -> (argv, path the message must name or None) ------------------------------

def o_fps(value):
    return lambda t: (["spot", _frames(t), "--fps", value, "-o", t / "out"], None)


def o_fps_on_file(t):
    v = _clip(t)
    return ["spot", v, "--fps", "60", "-o", t / "out"], v


def o_fps_on_video_folder(t):
    d = _folder_of_videos(t)
    return ["analyze", d, "--fps", "30", "-o", t / "out"], d


def o_spot_folder_of_videos(t):
    d = _folder_of_videos(t)
    return ["spot", d, "-o", t / "out"], d


def o_weights_with_offd(t):
    return ["spot", _clip(t), "--weights", _weights(t), "-o", t / "out"], None


def o_cache_dir_with_offd(t):
    return ["analyze", _clip(t), "--cache-dir", t / "cache", "-o", t / "out"], None


def o_learned_without_weights(t):
    return ["spot", _clip(t), "--spotter", "refcnn3d", "-o", t / "out"], None


def o_unknown_spotter(t):
    return ["analyze", _clip(t), "--spotter", "offdd", "-o", t / "out"], None


def o_unknown_flow(t):
    return ["spot", _clip(t), "--flow", "tvl", "-o", t / "out"], None


def o_preset_with_learned(t):
    return ["spot", _clip(t), "--spotter", "mesnet", "--weights", _weights(t), "--preset", "samm_lv",
            "-o", t / "out"], None


def o_unknown_preset(t):
    return ["demo", "--preset", "mee", "--out", t / "out"], None


def o_iou(t):
    gt, pred = _sheets(t)
    return ["evaluate", "spotting", "--gt", gt, "--pred", pred, "--iou", "1.5"], None


def o_base(t):
    gt, pred = _sheets(t)
    return ["evaluate", "spotting", "--gt", gt, "--pred", pred, "--pred-base", "2"], None


def _train(t, *extra):
    return ["train", "spotter", "--data", f"synth:{t / 'suite'}", "--out", t / "runs", *extra]


def o_epochs(t):
    return _train(t, "--epochs", "0"), None


def o_lr(t):
    return _train(t, "--lr", "nan"), None


def o_p(t):
    return _train(t, "--p", "1.5"), None


def o_types(t):
    return _train(t, "--types", "micro"), None


def o_seconds(t):
    return ["demo", "--seconds", "-1", "-o", t / "demo"], None


def o_workers(t):
    d = _folder_of_videos(t)
    return ["prepare", "videos", d, "--cache-dir", t / "cache", "--workers", "0"], None


def o_recognizer_missing(t):
    return ["analyze", _clip(t), "--recognizer", t / "nope.pt", "-o", t / "out"], t / "nope.pt"


def o_loso_lr(t):
    return ["loso", "--data", f"composite-flow:{t}", "--out", t / "runs", "--lr", "-1"], None


OPTION_CASES = [
    Case("fps-negative", "`spot FRAMES --fps -5` (the resampler looped forever)",
         "`--fps must be >= 1 and <= 10000, got -5`", o_fps("-5"), r"--fps must be >= 1 and <= 10000, got -5"),
    Case("fps-tiny", "`spot FRAMES --fps 0.001` (hung as well)", "`--fps must be >= 1 and <= 10000, got 0.001`",
         o_fps("0.001"), r"--fps must be .* got 0\.001"),
    Case("fps-zero", "`spot FRAMES --fps 0` (said 'needs --fps' although it was given)",
         "`--fps must be >= 1 and <= 10000, got 0`", o_fps("0"), r"--fps must be .* got 0$"),
    Case("fps-nan", "`spot FRAMES --fps nan` (a ValueError traceback)", "`--fps must be a finite number, got nan`",
         o_fps("nan"), r"--fps must be a finite number, got nan"),
    Case("fps-inf", "`spot FRAMES --fps inf` (an OverflowError traceback)",
         "`--fps must be a finite number, got inf`", o_fps("inf"), r"--fps must be a finite number, got inf"),
    Case("fps-on-video-file", "`spot clip.mp4 --fps 60` (was silently ignored)",
         "`clip.mp4: --fps applies to frame folders only (a video file has its own frame rate); drop --fps`",
         o_fps_on_file, r"--fps applies to frame folders only"),
    Case("fps-on-folder-of-videos", "`analyze DIR --fps 30` where DIR holds video files",
         "`DIR: --fps applies to frame folders only; this folder holds video files, ...`", o_fps_on_video_folder,
         r"--fps applies to frame folders only"),
    Case("spot-folder-of-videos", "`spot DIR` where DIR holds videos, not frames (said 'folder holds no frame "
         "images')", "`DIR: folder holds video files, not frames; spot one video at a time, or run `microexp "
         "analyze FOLDER` for every video in it`", o_spot_folder_of_videos, r"folder holds video files, not frames"),
    Case("weights-with-offd", "`spot clip.mp4 --weights model.pt` without a learned `--spotter`",
         "`--weights applies to learned spotters only (--spotter refcnn3d | mesnet); offd needs no weights`",
         o_weights_with_offd, r"--weights applies to learned spotters only"),
    Case("cache-dir-with-offd", "`analyze clip.mp4 --cache-dir C` with the training-free spotter",
         "`--cache-dir applies to learned spotters only; offd reads the video once and keeps no crop cache`",
         o_cache_dir_with_offd, r"--cache-dir applies to learned spotters only"),
    Case("learned-spotter-without-weights", "`spot clip.mp4 --spotter refcnn3d` without `--weights`",
         "`--spotter refcnn3d needs --weights (a model.pt from `microexp train spotter --final`)`",
         o_learned_without_weights, r"--spotter refcnn3d needs --weights"),
    Case("unknown-spotter", "`analyze clip.mp4 --spotter offdd` (a typo)",
         "`--spotter must be one of offd, refcnn3d, mesnet, got 'offdd'`", o_unknown_spotter,
         r"--spotter must be one of offd.* got 'offdd'"),
    Case("unknown-flow", "`spot clip.mp4 --flow tvl`", "`--flow must be one of farneback, dis, got 'tvl'`",
         o_unknown_flow, r"--flow must be one of farneback, dis"),
    Case("preset-with-learned-spotter", "`spot clip.mp4 --spotter mesnet --weights W --preset samm_lv`",
         "`--preset applies to --spotter offd only, not mesnet`", o_preset_with_learned,
         r"--preset applies to --spotter offd only"),
    Case("unknown-preset", "`demo --preset mee` (a typo)",
         "`unknown OF-FD preset 'mee'; choose one of cas, casme_sq, default, me, ...` (short names first), before"
         " the demo clip is made", o_unknown_preset, r"unknown OF-FD preset 'mee'; choose one of cas, casme_sq, default, me,"),
    Case("iou-out-of-range", "`evaluate spotting ... --iou 1.5`", "`--iou must be > 0 and <= 1, got 1.5`", o_iou,
         r"--iou must be > 0 and <= 1, got 1\.5"),
    Case("frame-base-2", "`evaluate spotting ... --pred-base 2`",
         "`--pred-base must be 0 or 1 (the number of the first frame), got 2`", o_base, r"--pred-base must be 0 or 1"),
    Case("epochs-zero", "`train spotter ... --epochs 0`", "`--epochs must be >= 1 and <= 100000, got 0`", o_epochs,
         r"--epochs must be >= 1"),
    Case("lr-nan", "`train spotter ... --lr nan`", "`--lr must be a finite number, got nan`", o_lr,
         r"--lr must be a finite number"),
    Case("p-out-of-range", "`train spotter ... --p 1.5`", "`--p must be > 0 and <= 1, got 1.5`", o_p,
         r"--p must be > 0 and <= 1"),
    Case("types-unknown", "`train spotter ... --types micro`", "`--types must be me, mae or me,mae, got 'micro'`",
         o_types, r"--types must be me, mae or me,mae"),
    Case("lr-negative-loso", "`loso ... --lr -1`", "`--lr must be > 0 and <= 10, got -1`", o_loso_lr,
         r"--lr must be > 0 and <= 10, got -1"),
    Case("demo-negative-seconds", "`demo --seconds -1`", "`--seconds must be >= 2 and <= 3600, got -1`", o_seconds,
         r"--seconds must be >= 2"),
    Case("workers-zero", "`prepare videos DIR --cache-dir C --workers 0`", "`--workers must be >= 1 ...`",
         o_workers, r"--workers must be >= 1"),
    Case("recognizer-missing", "`analyze clip.mp4 --recognizer nope.pt` (a checkpoint that does not exist)",
         "`nope.pt: no such recogniser checkpoint (use 'default' or a .pt path)`", o_recognizer_missing,
         r"no such recogniser checkpoint"),
]


# ---- refused output locations: build(tmp) -> (argv, path the message must name) ----------------------------

def w_out_is_file(t):
    f = t / "notes.txt"
    f.write_text("x")
    return ["spot", _clip(t), "-o", f], f


def w_out_under_file(t):
    f = t / "notes.txt"
    f.write_text("x")
    return ["analyze", _clip(t), "-o", f / "sub"], f


def w_out_is_input_video(t):
    v = _clip(t)
    return ["spot", v, "-o", v], v


def w_out_is_input_folder(t):
    d = _frames(t)
    return ["spot", d, "--fps", "30", "-o", d], d


def w_out_inside_input_folder(t):
    d = _frames(t)
    return ["spot", d, "--fps", "30", "-o", d / "results"], d / "results"


def w_out_inside_video_folder(t):
    d = _folder_of_videos(t)
    return ["analyze", d, "-o", d], d


def w_cache_dir_is_file(t):
    f = t / "notes.txt"
    f.write_text("x")
    return ["analyze", _clip(t), "--spotter", "refcnn3d", "--weights", _weights(t), "--cache-dir", f,
            "-o", t / "out"], f


def w_eval_out_is_pred(t):
    gt, pred = _sheets(t)
    return ["evaluate", "spotting", "--gt", gt, "--pred", pred, "--out", pred], pred


def w_eval_log_is_gt(t):
    gt, pred = _sheets(t)
    return ["evaluate", "spotting", "--gt", gt, "--pred", pred, "--log", gt], gt


def w_not_writable(t):
    ro = t / "readonly"
    ro.mkdir()
    return ["spot", _clip(t), "-o", ro / "out"], ro / "out"


OUTPUT_CASES = [
    Case("out-is-a-file", "`spot clip.mp4 -o notes.txt` where notes.txt is a file (FileExistsError after the "
         "whole computation)", "`notes.txt: output folder exists and is a file; choose another -o/--out`",
         w_out_is_file, r"output folder exists and is a file"),
    Case("out-under-a-file", "`analyze clip.mp4 -o notes.txt/sub`",
         "`notes.txt/sub: cannot create the output folder: .../notes.txt is a file`", w_out_under_file,
         r"cannot create the output folder: .*notes\.txt is a file"),
    Case("out-not-writable", "`spot clip.mp4 -o readonly/out` in a folder without write permission "
         "(PermissionError after the computation)",
         "`readonly/out: cannot write the output folder: .../readonly is not writable`", w_not_writable,
         r"cannot write the output folder: .*readonly is not writable"),
    Case("out-is-the-input-video", "`spot clip.mp4 -o clip.mp4`",
         "`clip.mp4: the output folder is the input itself; choose another -o/--out`", w_out_is_input_video,
         r"the output folder is the input itself"),
    Case("out-is-the-frame-folder", "`spot FRAMES --fps 30 -o FRAMES` (wrote spot.png among the frames; the "
         "rerun then failed on it)", "`FRAMES: the output folder is the input itself; ...`", w_out_is_input_folder,
         r"the output folder is the input itself"),
    Case("out-inside-the-frame-folder", "`spot FRAMES --fps 30 -o FRAMES/results`",
         "`FRAMES/results: the output folder is inside the input folder FRAMES; results would mix with the "
         "input. ...`", w_out_inside_input_folder, r"inside the input folder"),
    Case("out-is-the-video-folder", "`analyze DIR -o DIR` for a folder of videos",
         "`DIR: the output folder is the input itself; ...`", w_out_inside_video_folder,
         r"the output folder is the input itself"),
    Case("cache-dir-is-a-file", "`analyze clip.mp4 --spotter refcnn3d --weights W --cache-dir notes.txt`",
         "`notes.txt: --cache-dir folder exists and is a file; choose another --cache-dir`", w_cache_dir_is_file,
         r"--cache-dir folder exists and is a file; choose another --cache-dir"),
    Case("eval-out-overwrites-pred", "`evaluate spotting --gt gt.csv --pred pred.csv --out pred.csv`",
         "`pred.csv: the output file is the input itself; ...` (the predictions are not overwritten)",
         w_eval_out_is_pred, r"the output file is the input itself"),
    Case("eval-log-overwrites-gt", "`evaluate spotting ... --log gt.csv`",
         "`gt.csv: the output file is the input itself; ...`", w_eval_log_is_gt, r"the output file is the input itself"),
]


# ---- usage errors the option parser finds (typer/click): build(tmp) -> argv --------------------------------

def u_bad_int(t):
    return ["analyze", _clip(t), "--gt-base", "abc", "-o", t / "out"]


def u_bad_float(t):
    gt, pred = _sheets(t)
    return ["evaluate", "spotting", "--gt", gt, "--pred", pred, "--iou", "half"]


def u_below_min(t):
    return ["watch", "0", "--queue", "0"]


def u_missing_value(t):
    return ["spot", _clip(t), "--preset"]


def u_unknown_option(t):
    return ["spot", _clip(t), "--bogus", "-o", t / "out"]


def u_missing_argument(t):
    return ["analyze", "-o", t / "out"]


def u_unknown_command(t):
    return ["spott", _clip(t)]


USAGE_CASES = [
    Case("option-not-a-number", "`analyze clip.mp4 --gt-base abc` (was three lines: usage, a hint, the error)",
         "`error: Invalid value for '--gt-base': ... valid integer ...; see 'microexp analyze --help'`", u_bad_int,
         r"^error: Invalid value for '--gt-base': .*integer.*; see '.*analyze --help'$"),
    Case("option-not-a-float", "`evaluate spotting ... --iou half`",
         "`error: Invalid value for '--iou': ... valid number ...`", u_bad_float,
         r"^error: Invalid value for '--iou': .*number"),
    Case("option-below-its-minimum", "`watch 0 --queue 0`",
         "`error: Invalid value for '--queue': ... greater than or equal to 0.1 ...`", u_below_min,
         r"^error: Invalid value for '--queue': .*0\.1"),
    Case("option-without-value", "`spot clip.mp4 --preset` (the value left out)",
         "`error: Option '--preset' requires an argument`", u_missing_value,
         r"^error: Option '--preset' requires an argument"),
    Case("unknown-option", "`spot clip.mp4 --bogus`", "`error: No such option: --bogus ...; see 'microexp spot "
         "--help'`", u_unknown_option, r"^error: No such option: --bogus"),
    Case("missing-argument", "`analyze -o out` (no video)", "`error: Missing argument 'video'; see ...`",
         u_missing_argument, r"^error: Missing argument 'video'"),
    Case("unknown-command", "`spott clip.mp4` (a typo)", "`error: No such command 'spott'; see 'microexp --help'`",
         u_unknown_command, r"^error: No such command 'spott'"),
]


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if any computation starts: every refused case must stop at the boundary."""
    import microexp.pipeline
    import microexp.spotting.api
    import microexp.spotting.train

    def forbidden(*a, **k):
        raise AssertionError("work started before the options were checked")

    monkeypatch.setattr(microexp.spotting.api, "spot_video", forbidden)
    monkeypatch.setattr(microexp.pipeline, "analyze", forbidden)
    monkeypatch.setattr(microexp.spotting.train, "load_spot_data", forbidden)


@pytest.mark.parametrize("case", OPTION_CASES, ids=lambda c: c.id)
def test_bad_option_refused_before_work(case, tmp_path, no_work):
    args, names = case.build(tmp_path)
    res = invoke(args)
    assert_one_line_error(res, names, case.error)
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=lambda c: c.id)
def test_bad_output_location_refused_before_work(case, tmp_path, no_work, monkeypatch):
    args, names = case.build(tmp_path)
    if case.id == "out-not-writable":  # tests may run as root, which ignores permission bits
        import os

        real = os.access
        ro = str(tmp_path / "readonly")
        monkeypatch.setattr(os, "access", lambda p, mode, **k: False if str(p) == ro else real(p, mode, **k))
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    res = invoke(args)
    assert_one_line_error(res, names, case.error)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == before  # nothing written


@pytest.mark.parametrize("case", USAGE_CASES, ids=lambda c: c.id)
def test_usage_error_is_one_line(case, tmp_path, no_work):
    """What the option parser rejects reads like every other refused input: one line, exit 2, the option named."""
    res = invoke(case.build(tmp_path))
    assert_one_line_error(res, None, case.error)
    assert not res.stdout.strip() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [["--help"], ["spot", "--help"], ["evaluate", "spotting", "--help"]])
def test_help_still_shows_usage(args):
    res = invoke(args)
    assert res.exit_code == 0 and res.stdout.startswith("Usage:") and "--help" in res.stdout
    assert "error" not in res.stderr


def test_bare_command_shows_help_not_an_error():
    for args in ([], ["datasets"]):
        res = invoke(args)
        assert "Usage:" in res.output and "Commands" in res.output and "error:" not in res.output

def test_library_refuses_bad_rates(tmp_path):
    """The library guards itself too: a bad rate is a ConfigError, never a hang or an overflow."""
    from microexp.errors import ConfigError
    from microexp.io.video import VideoSource
    from microexp.spotting.api import spot_video

    frames = _frames(tmp_path)
    for bad in (-5, 0, 0.001, float("nan"), float("inf"), 1e9):
        with pytest.raises(ConfigError, match="frame rate between"):
            VideoSource(frames, fps=bad)
        with pytest.raises(ConfigError):
            spot_video(frames, fps=bad)


# ---- handled: build(tmp) -> (argv, anything the check needs) -------------------------------------------------

def _rotated_copy(src: Path, dst: Path, degrees: int) -> Path:
    """Re-encode ``src`` the way a phone stores portrait video: pixels turned, a display matrix to undo it."""
    import av
    import numpy as np

    from microexp.io.video import VideoSource

    turn = {90: cv2.ROTATE_90_CLOCKWISE, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}[degrees]
    with av.open(str(dst), "w") as out:
        stream = None
        for fr in VideoSource(src).frames():
            img = np.ascontiguousarray(cv2.rotate(fr.image, turn))
            if stream is None:
                stream = out.add_stream("libx264", rate=30)
                stream.height, stream.width = img.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.set_display_rotation(degrees)  # counter-clockwise turn that makes it upright
            for pkt in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)
    return dst


def h_rotated(t):
    from conftest import shared_path

    src = shared_path("video", "single_face.mp4")
    return ["spot", _rotated_copy(src, t / "portrait.mp4", 90), "-o", t / "out"], src


def h_same_stems(t):
    d = t / "videos"
    d.mkdir()
    _clip(d, "a.mp4")
    write_clip(d / "a.mov", 12, lambda i: paste(canvas(seed=i + 5), FACE, 30, 0, 0.75))
    _clip(d, "b.mp4")
    return ["analyze", d, "-o", t / "out"], d


def h_low_fps(t):
    v = write_clip(t / "slow.mp4", 12, lambda i: paste(canvas(seed=i), FACE, 20, 0, 0.75), fps=1.0)
    return ["analyze", v, "-o", t / "out"], v


def h_one_frame(t):
    v = write_clip(t / "still.mp4", 1, lambda i: paste(canvas(seed=i), FACE, 20, 0, 0.75))
    return ["spot", v, "-o", t / "out"], v


def h_large_frames(t):
    v = write_clip(t / "big.mp4", 3, lambda i: cv2.resize(paste(canvas(seed=i), FACE, 20, 0, 0.75), (2560, 1440)))
    return None, v


def h_long_path(t):
    deep = t / ("a_rather_long_folder_name_" * 3) / "results_of_the_spotting_run"
    return ["spot", _clip(t), "-o", deep], deep


def h_glyph(t):
    return ["spot", _clip(t, "视频.mp4"), "-o", t / "out"], None


def h_version(t):
    return ["--version"], None


def h_help(t):
    return ["--help"], None


CLI_HANDLED_CASES = [
    Case("rotated-phone-video", "a real face clip stored turned 90° with a display matrix (how phones record "
         "portrait video); said 'no face found in any frame'",
         "Frames are turned upright while decoding (PyAV's display matrix, `VideoInfo.rotation`): the face is "
         "found in every frame and the frames match the unrotated clip.", h_rotated),
    Case("same-stem-videos", "`analyze DIR` with `a.mp4`, `a.mov` and `b.mp4` (one overwrote the other and the "
         "combined CSV named both 'a')",
         "Outputs go to `a.mp4/`, `a.mov/` and `b/` (the file name where stems collide, else the stem); the "
         "combined `intervals.csv` and each `result.json` use the same names.", h_same_stems),
    Case("one-fps-video", "a 1 fps clip (an all-zero score, no word)",
         "Analysed, with one line `warning: ...: frame rate 1 fps is below the 10 fps spotting needs ...` on "
         "stderr and the same text in `result.json` `warnings`.", h_low_fps),
    Case("one-frame-video", "`spot` on a one-frame clip (said '1 frames, face in 1; 0 intervals', no word why)",
         "Spotted, with one line `warning: ...: the video lasts 0.03 s (1 frame), under the 1 s an interval needs "
         "...; expect no intervals`; the summary says `1 frame`.", h_one_frame),
    Case("large-frames", "a 2560 x 1440 clip (a 4K clip used ~2 GB)",
         "Decoded straight to the working size (longer side 1280 px, `VideoInfo.scale` = 0.5): memory does "
         "not grow with the resolution; see benchmarks/results/memory.md.", h_large_frames),
    Case("piped-long-path", "`spot ... -o` a path over 80 characters, stdout piped",
         "Each `wrote PATH` line stays one line (no hard wrap at 80 columns).", h_long_path),
    Case("non-latin-video-name", "`spot 视频.mp4` (matplotlib warned about missing glyphs on stderr)",
         "No third-party warnings on stderr; the outputs are written.", h_glyph),
    Case("version", "`microexp --version` (said 'Missing command')", "Prints `microexp VERSION`, exit 0.",
         h_version),
    Case("help-lists-everything", "`microexp --help`",
         "Lists every command (demo, spot, analyze, recognize, loso, ensemble, prepare, evaluate, datasets, synth, "
         "train).",
         h_help),
]


@pytest.mark.parametrize("case", CLI_HANDLED_CASES, ids=lambda c: c.id)
def test_cli_handled_cases(case, tmp_path):
    import json

    import numpy as np
    import pandas as pd

    from microexp.io.video import VideoSource

    args, extra = case.build(tmp_path)
    if case.id == "large-frames":
        src = VideoSource(extra)
        shapes = {f.image.shape for f in src.frames()}
        assert src.info.scale == pytest.approx(0.5) and src.info.frame_size == (1280, 720)
        assert shapes == {(720, 1280, 3)} and (src.info.width, src.info.height) == (2560, 1440)
        gray = {f.image.shape for f in src.frames(gray=True)}
        assert gray == {(720, 1280)}
        return
    res = invoke(args)
    assert res.exit_code == 0, res.output
    if case.id == "rotated-phone-video":
        out = tmp_path / "out"
        npz = np.load(out / "scores.npz")
        assert npz["face"].all()
        rotated = VideoSource(args[1])
        upright = [f.image for f in rotated.frames()]
        assert rotated.info.rotation == 90 and (rotated.info.width, rotated.info.height) == (640, 360)
        original = [f.image for f in VideoSource(extra).frames()]
        assert len(upright) == len(original)
        assert float(np.abs(upright[0].astype(int) - original[0]).mean()) < 6  # same picture, not turned
    elif case.id == "same-stem-videos":
        out = tmp_path / "out"
        assert {p.name for p in out.iterdir() if p.is_dir()} == {"a.mp4", "a.mov", "b"}
        assert json.loads((out / "a.mov" / "result.json").read_text())["video"]["name"] == "a.mov"
        table = pd.read_csv(out / "intervals.csv")
        assert set(table["video"]) <= {"a.mp4", "a.mov", "b"}
        # the per-video tables and the combined one agree row for row
        parts = pd.concat([pd.read_csv(out / n / "intervals.csv") for n in ("a.mp4", "a.mov", "b")])
        assert len(parts) == len(table)
    elif case.id == "one-fps-video":
        # one line per warning, each naming the file (the pasted face is also small, a second true warning)
        warned = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert all(ln.startswith("warning: ") and "slow.mp4" in ln for ln in warned)
        assert sum("below the 10 fps" in ln for ln in warned) == 1
        result = json.loads((tmp_path / "out" / "result.json").read_text())
        assert len(result["warnings"]) == len(warned) and any("1 fps" in w for w in result["warnings"])
    elif case.id == "one-frame-video":
        warned = [ln for ln in res.stderr.splitlines() if "lasts" in ln]
        assert len(warned) == 1 and "still.mp4" in warned[0] and "(1 frame)" in warned[0], res.stderr
        assert "1 frame, face in" in res.stdout and "0 intervals" in res.stdout, res.stdout
    elif case.id == "piped-long-path":
        assert any(ln.strip() == f"wrote {extra / 'intervals.csv'}" for ln in res.stdout.splitlines())
    elif case.id == "non-latin-video-name":
        assert "Warning" not in res.stderr and "Glyph" not in res.stderr
        assert (tmp_path / "out" / "spot.png").is_file()
    elif case.id == "version":
        from microexp import __version__

        assert res.stdout.strip() == f"microexp {__version__}"
    elif case.id == "help-lists-everything":
        for name in ("demo", "spot", "analyze", "recognize", "loso", "ensemble", "prepare", "evaluate", "datasets", "synth",
                     "train"):
            assert f" {name} " in res.stdout, name
    else:  # pragma: no cover - a new case needs its check here
        raise AssertionError(f"no check for {case.id}")


def test_same_names_are_stable_and_unique():
    from microexp.cli.analyze import output_names

    vids = [Path("d/a.mp4"), Path("d/A.mov"), Path("d/b.mp4"), Path("d/c.avi")]
    names = output_names(vids)
    assert names == {vids[0]: "a.mp4", vids[1]: "A.mov", vids[2]: "b", vids[3]: "c"}
    assert output_names(list(reversed(vids))) == names  # order of listing does not matter
    assert len(set(names.values())) == len(vids)


def test_input_warnings_rate_and_face_size():
    """The coarse-input rules: rate below 10 fps, face below 80 px in source pixels (scale undone), under 1 s."""
    import numpy as np

    from microexp.io.video import VideoInfo, input_warnings, typical_face_width

    ok = VideoInfo("v.mp4", 30.0, 640, 360, 10, 1.0)
    assert input_warnings(ok) == [] and input_warnings(ok, 120.0) == []
    assert "below the 10 fps" in input_warnings(VideoInfo("v.mp4", 5.0, 640, 360, 10, 2.0))[0]
    small = input_warnings(ok, 50.0)
    assert len(small) == 1 and "about 50 px wide" in small[0]
    big_frames = VideoInfo("v.mp4", 30.0, 3840, 2160, 10, 1.0, scale=0.5)
    assert input_warnings(big_frames, 50.0) == []  # 100 px in the source: fine
    assert input_warnings(ok, n_frames=30) == []  # 1 s at 30 fps
    short = input_warnings(ok, n_frames=1)
    assert len(short) == 1 and "lasts 0.03 s (1 frame)" in short[0] and "expect no intervals" in short[0]

    class Track:
        boxes = np.array([[10, 10, 70, 80], [12, 10, 72, 80], [np.nan] * 4])

    class Spot:
        track = Track()

    assert typical_face_width(Spot()) == 60.0 and typical_face_width(object()) is None
