"""`microexp synth [clip] VIDEO_OUT` (one labelled clip), `microexp synth suite DIR` (a LOSO-ready benchmark set)
and `microexp synth plant IN OUT` (real expression motion planted into a real face video)."""

from __future__ import annotations

from pathlib import Path

import click
import typer
from typer.core import TyperGroup

from microexp.cli.common import console, handle_errors, progress_bar


class _DefaultClip(TyperGroup):
    """A group whose first argument, when it is not a sub-command name, is the clip's output path.

    This lets ``microexp synth out.mp4`` and ``microexp synth suite DIR`` share one command name.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["clip", *args]
        return super().parse_args(ctx, args)


synth_app = typer.Typer(
    cls=_DefaultClip,
    help="Generate labelled synthetic face videos. `microexp synth clip VIDEO_OUT` (or just `microexp synth "
         "VIDEO_OUT`) writes one clip, `microexp synth suite DIR` a set, `microexp synth plant IN OUT` plants real "
         "expression motion into a real face video.",
    no_args_is_help=True,
)

PRESET_HELP = "Statistics preset: casme_sq (30 fps) or samm_lv (200 fps)."


@synth_app.command("clip")
@handle_errors
def clip(
    video_out: Path = typer.Argument(..., help="Output video (.mp4); labels go to the same name with .csv."),
    seconds: float = typer.Option(60.0, "--seconds", help="Clip length in seconds."),
    fps: float | None = typer.Option(None, "--fps", help="Frame rate (default: the preset's, 30 or 200)."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same frames and labels."),
    face: list[Path] = typer.Option(None, "--face", help="Base face image, repeatable: the clip uses face number "
                                    "seed mod count (default: scikit-image's astronaut)."),
    preset: str = typer.Option("casme_sq", "--preset", help=PRESET_HELP),
    flow_templates: Path | None = typer.Option(None, "--flow-templates",
                                               help="Folder of composite-set flow images used as ME templates."),
    no_distractors: bool = typer.Option(False, "--no-distractors", help="No blinks, head motion, light or noise."),
):
    """Write one labelled clip: VIDEO_OUT (H.264), VIDEO_OUT.csv (labels) and VIDEO_OUT.json (all events)."""
    from microexp.synth import Distractors, write_clip
    from microexp.synth import preset as make_preset

    changes = {"seconds": seconds, "seed": seed}
    if fps is not None:
        changes["fps"] = fps
    if face:
        changes["faces"] = tuple(str(f) for f in face)
    if flow_templates is not None:
        changes["flow_templates"] = str(flow_templates)
    if no_distractors:
        changes["distractors"] = Distractors.none()
    cfg = make_preset(preset, **changes)
    with progress_bar("synth", cfg.n_frames) as update:
        labels = write_clip(video_out, cfg, progress=update)
    n_me = int((labels["type"] == "me").sum())
    console.print(f"wrote {video_out} ({cfg.n_frames} frames at {cfg.fps:g} fps, synthetic) and "
                  f"{video_out.with_suffix('.csv')}: {n_me} ME, {len(labels) - n_me} MaE")


@synth_app.command("suite")
@handle_errors
def suite(
    directory: Path = typer.Argument(..., help="Output folder (v000.mp4 ..., index.csv, suite.json)."),
    videos: int = typer.Option(20, "--videos", help="Number of videos."),
    seconds: float = typer.Option(60.0, "--seconds", help="Length of each video in seconds."),
    preset: str = typer.Option("casme_sq", "--preset", help=PRESET_HELP),
    seed: int = typer.Option(0, "--seed", help="Suite seed; video i uses seed * 1000 + i."),
    face: list[Path] = typer.Option(None, "--face", help="Base face images; each one is a subject (repeatable)."),
    face_dir: Path | None = typer.Option(None, "--face-dir", help="Use every image in this folder as a base face."),
    flow_templates: Path | None = typer.Option(None, "--flow-templates",
                                               help="Folder of composite-set flow images used as ME templates."),
):
    """Write a benchmark set with a subject column so leave-one-subject-out evaluation works on it."""
    from microexp.errors import InputError
    from microexp.io.video import IMAGE_SUFFIXES, natural_key
    from microexp.synth import write_suite

    faces = [str(f) for f in face or []]
    if face_dir is not None:
        if not face_dir.is_dir():
            raise InputError("face folder not found", face_dir)
        found = sorted((p for p in face_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                       key=lambda p: natural_key(p.name))
        if not found:
            raise InputError("face folder holds no images", face_dir)
        faces += [str(p) for p in found]
    extra = {"flow_templates": str(flow_templates)} if flow_templates is not None else {}
    with progress_bar("synth suite", None) as update:
        index = write_suite(directory, videos, preset, faces or None, seed, seconds, progress=update, **extra)
    console.print(f"wrote {videos} synthetic videos to {directory}: {int((index['type'] == 'me').sum())} ME, "
                  f"{int((index['type'] == 'mae').sum())} MaE, {index['subject'].nunique()} subject(s); "
                  f"labels in {directory / 'index.csv'}")


def _frames(at: str) -> tuple[int, int, int]:
    from microexp.errors import ConfigError

    parts = at.split(":")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"--at needs ONSET:APEX:OFFSET as whole 0-based frame numbers (got {at!r})")
    on, ap, off = (int(p) for p in parts)
    return on, ap, off


@synth_app.command("plant")
@handle_errors
def plant(
    video_in: Path = typer.Argument(..., help="Real face video (or frame folder with --fps) to plant into."),
    video_out: Path = typer.Argument(..., help="Output video (.mp4); labels go to the same name with .csv."),
    motion: Path = typer.Option(..., "--motion", help="Real expression motion: a 2-frame GIF (onset, apex) or a "
                                "folder of frames (first = onset, last = apex), e.g. a realdata biwoof pair."),
    at: list[str] = typer.Option(..., "--at", help="ONSET:APEX:OFFSET, 0-based frames; repeatable."),
    kind: str = typer.Option("me", "--type", help="me or mae (MEGC rule: an ME lasts at most 0.5 s)."),
    amplitude: float = typer.Option(..., "--amplitude", help="Peak displacement in % of the inter-ocular distance "
                                    "(real MEs measured 0.9-4.3, docs/synth.md)."),
    fps: float | None = typer.Option(None, "--fps", help="Frame rate of a frame folder."),
    crf: int = typer.Option(18, "--crf", help="H.264 quality of the output (lower = closer to the input)."),
):
    """Warp a real face clip with a real expression's motion: VIDEO_OUT, VIDEO_OUT.csv (labels as `synth`) and
    VIDEO_OUT.json (plants, motion source)."""
    from microexp.synth.plant import Plant, plant_video

    plants = [Plant(kind, *_frames(a), amplitude) for a in at]
    with progress_bar("plant", None) as update:
        labels = plant_video(video_in, video_out, plants, motion, fps=fps, crf=crf, progress=update)
    console.print(f"wrote {video_out} with {len(labels)} planted {kind.upper()}(s) at {amplitude:g} % IOD and "
                  f"{video_out.with_suffix('.csv')}")


def register(app: typer.Typer) -> None:
    app.add_typer(synth_app, name="synth")
