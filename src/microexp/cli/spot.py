"""``microexp spot``: intervals, score curves and a plot for one video or frame folder."""

from __future__ import annotations

from pathlib import Path

import typer

from microexp.cli.common import console, handle_errors, progress_bar


def register(app: typer.Typer) -> None:
    app.command("spot")(spot)


@handle_errors
def spot(
    video: Path = typer.Argument(..., help="Video file (.mp4/.avi/.mov) or folder of frames."),
    out: Path = typer.Option(Path("spot_out"), "-o", "--out", help="Output folder."),
    fps: float = typer.Option(None, "--fps", help="Frame rate (required for frame folders without a preset)."),
    preset: str = typer.Option("default", "--preset",
                               help="OF-FD preset: default, casme_sq, samm_lv, or a full preset name."),
    model: str = typer.Option("offd", "--model", help="Spotter: offd (training-free) or a learned model."),
    weights: Path = typer.Option(None, "--weights", help="Weights of a learned spotter."),
    flow: str = typer.Option("farneback", "--flow",
                             help="ROI flow for OF-FD: farneback (paper-faithful) or dis (faster, not faithful)."),
):
    """Spot micro- and macro-expressions; writes intervals.csv, scores.npz and spot.png."""
    from microexp.spotting.api import spot_video
    from microexp.spotting.outputs import write_spot_outputs

    fps = fps or _preset_fps(preset, video)
    options = {"flow_method": flow} if flow != "farneback" else {}
    with progress_bar(f"spotting {video.name} ({model})") as update:
        result = spot_video(video, spotter=model, weights=weights, fps=fps, preset=preset, progress=update,
                            **options)
    paths = write_spot_outputs(result, out)
    n_me = sum(iv.kind == "me" for iv in result.intervals)
    console.print(f"{video}: {result.n_frames} frames, face in {result.face_frames}; "
                  f"{len(result.intervals)} intervals ({n_me} micro, {len(result.intervals) - n_me} macro)")
    for p in paths.values():
        console.print(f"  wrote {p}")


def _preset_fps(preset: str, video: Path) -> float | None:
    """Dataset presets know their native frame rate (for frame folders)."""
    if video.is_dir():
        return {"casme_sq": 30.0, "offd_casme2_he": 30.0, "offd_cas_megc2022": None,
                "samm_lv": 200.0, "offd_sammlv_he": 200.0, "offd_samm_megc2022": 200.0, "samm": 200.0}.get(preset)
    return None
