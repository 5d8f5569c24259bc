"""Options and output locations checked before any work, as a new user would get them wrong.

Every refused case must end with exit 2 and one line on stderr *before* anything is computed: the spotter,
the pipeline and the trainers are replaced by functions that fail the test if they are called.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from test_robust_helpers import Case, assert_one_line_error, canvas, face_image, invoke, paste, write_clip

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


def o_weights_with_offd(t):
    return ["spot", _clip(t), "--weights", _weights(t), "-o", t / "out"], None


def o_learned_without_weights(t):
    return ["spot", _clip(t), "--spotter", "refcnn3d", "-o", t / "out"], None


def o_unknown_spotter(t):
    return ["analyze", _clip(t), "--spotter", "offdd", "-o", t / "out"], None


def o_unknown_flow(t):
    return ["spot", _clip(t), "--flow", "tvl", "-o", t / "out"], None


def o_preset_with_learned(t):
    return ["spot", _clip(t), "--spotter", "mesnet", "--weights", _weights(t), "--preset", "samm_lv",
            "-o", t / "out"], None


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
    Case("weights-with-offd", "`spot clip.mp4 --weights model.pt` without a learned `--spotter`",
         "`--weights applies to learned spotters only (--spotter refcnn3d | mesnet); offd needs no weights`",
         o_weights_with_offd, r"--weights applies to learned spotters only"),
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
    Case("eval-out-overwrites-pred", "`evaluate spotting --gt gt.csv --pred pred.csv --out pred.csv`",
         "`pred.csv: the output file is the input itself; ...` (the predictions are not overwritten)",
         w_eval_out_is_pred, r"the output file is the input itself"),
    Case("eval-log-overwrites-gt", "`evaluate spotting ... --log gt.csv`",
         "`gt.csv: the output file is the input itself; ...`", w_eval_log_is_gt, r"the output file is the input itself"),
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
