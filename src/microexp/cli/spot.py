"""``microexp spot``: intervals, score curves and a plot for one video or frame folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from microexp.cli.common import (
    CACHE_DIR_HELP,
    check_fps,
    check_input,
    check_output,
    check_spotter,
    console,
    count,
    fail,
    handle_errors,
    importer,
    preload,
    progress_bar,
    warn,
)

SPOT_OUTPUTS = ("intervals.csv", "scores.npz", "spot.png")
GT_HELP = ("Ground truth to draw beside the detections and score them against (IoU >= 0.5, MEGC): a synth label "
           "CSV, a MEGC CSV (video/vid,onset,offset,type) or all_Info.txt; rows of other videos are ignored.")
GT_BASE_HELP = "Frame numbering of the --gt CSV: 0 (0-based, as synth and microexp write) or 1 (1-based)."


@handle_errors
def spot(
    video: Annotated[Path, typer.Argument(help="Video file (.mp4/.avi/.mov/...) or folder of frames.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")] = Path("spot_out"),
    fps: Annotated[float | None, typer.Option(
        "--fps", help="Frame rate of a frame folder (default: the preset's, if it has one).")] = None,
    preset: Annotated[str, typer.Option(
        "--preset", help="OF-FD preset: default, casme_sq, samm_lv, me (microexp's noise-floor ME preset), or a "
        "full preset name.")] = "default",
    spotter: Annotated[str, typer.Option(
        "--spotter", help="offd (training-free, default) or a learned spotter (refcnn3d, mesnet) with "
                          "--weights.")] = "offd",
    weights: Annotated[Path | None, typer.Option("--weights", help="Weights of a learned spotter.")] = None,
    flow: Annotated[str, typer.Option(
        "--flow", help="ROI flow for OF-FD: farneback (paper-faithful) or dis (faster, not faithful).")] = "farneback",
    gt: Annotated[Path | None, typer.Option(
        "--gt", help=GT_HELP)] = None,
    gt_base: Annotated[int, typer.Option("--gt-base", help=GT_BASE_HELP)] = 0,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help=CACHE_DIR_HELP)] = None,
):
    """Spot micro- and macro-expressions; writes intervals.csv, scores.npz and spot.png.

    With --gt, spot.png shows the ground truth beside the detections (hit / miss / false alarm) and the
    MEGC scorer's table is printed.
    """
    from microexp.io.video import input_warnings, typical_face_width
    from microexp.spotting.api import spot_video
    from microexp.spotting.outputs import write_spot_outputs

    check_input(video)
    if video.is_dir():
        from microexp.cli.analyze import videos_in
        from microexp.io.frames import list_frames

        if videos_in(video) and not list_frames(video):
            fail(f"{video}: folder holds video files, not frames; spot one video at a time, or run "
                 "`microexp analyze FOLDER` for every video in it")
    check_fps(fps, video)
    check_spotter(spotter, weights, preset=preset, flow=flow, cache_dir=cache_dir)
    check_output(out, [video] + ([gt] if gt else []), outputs=SPOT_OUTPUTS)
    if cache_dir is not None:
        check_output(cache_dir, [video], inside_ok=True, option="--cache-dir")
    truth_rows = load_truth(gt, gt_base, video) if gt is not None else None
    fps = fps or _preset_fps(preset, video)
    options = {"flow_method": flow} if flow != "farneback" else {}
    if cache_dir is not None:
        options["cache_dir"] = cache_dir
    preload(*spot_preloads(spotter))
    with progress_bar(f"spotting {video.name} ({spotter})") as update:
        result = spot_video(video, spotter=spotter, weights=weights, fps=fps, preset=preset, progress=update,
                            **options)
    for w in input_warnings(result.info, typical_face_width(result), result.n_frames):
        warn(f"{video}: {w}")
    truth = compare(truth_rows, result.intervals, video.stem, result.n_frames) if gt is not None else None
    paths = write_spot_outputs(result, out, truth=truth)
    n_me = sum(iv.kind == "me" for iv in result.intervals)
    console.print(f"{video}: {count(result.n_frames, 'frame')}, face in {result.face_frames}; "
                  f"{count(len(result.intervals), 'interval')} ({n_me} micro, {len(result.intervals) - n_me} macro)")
    if truth is not None:
        print_truth(truth)
    for p in paths.values():
        console.print(f"  wrote {p}")


def spot_preloads(spotter: str) -> list:
    """What a spotting run imports late (OF-FD's EMD when its first window closes, matplotlib for spot.png):
    loaded in the background while the video is decoded (``preload``)."""
    steps = [importer("matplotlib.figure"), importer("matplotlib.backends.backend_agg")]
    if spotter == "offd":
        from microexp.spotting.emd import emd_class

        steps.insert(0, emd_class)
    return steps


def load_truth(gt: Path, base: int, video: Path):
    """The GT rows of ``video`` (matched on its stem or file name), read before any work starts."""
    from microexp.errors import ConfigError
    from microexp.report.truth import read_truth

    if base not in (0, 1):
        raise ConfigError(f"--gt-base must be 0 or 1 (the number of the first frame), got {base}")
    return read_truth(gt, list(dict.fromkeys([video.stem, video.name])), base)


def compare(rows, intervals, name: str, n_frames: int):
    """Match detections to the ground truth (MEGC scorer); warns when labels lie beyond the video."""
    from microexp.report.truth import beyond_video, compare_truth

    truth = compare_truth(rows, intervals, name)
    n = beyond_video(truth, n_frames)
    if n:
        warn(f"{truth.source}: {n} ground-truth interval(s) of {name} end after its last frame {n_frames - 1} "
             "(labels for another cut of the video, or 1-based frames? see --gt-base)")
    return truth


def print_truth(truth) -> None:
    """The scorer's table on stdout, as `microexp evaluate spotting` prints it."""
    from microexp.report.truth import format_table

    console.print(truth.summary(), highlight=False)
    console.print(format_table(truth.report), highlight=False)


def _preset_fps(preset: str, video: Path) -> float | None:
    """Dataset presets know their native frame rate (for frame folders)."""
    if video.is_dir():
        return {"casme_sq": 30.0, "offd_casme2_he": 30.0, "offd_cas_megc2022": None,
                "samm_lv": 200.0, "offd_sammlv_he": 200.0, "offd_samm_megc2022": 200.0, "samm": 200.0}.get(preset)
    return None


def register(app: typer.Typer) -> None:
    app.command("spot")(spot)
