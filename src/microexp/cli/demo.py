"""``microexp demo``: generate a labelled synthetic face video, analyse it, and score the result."""

from __future__ import annotations

from pathlib import Path

import typer

from microexp.cli.common import console, handle_errors, progress_bar


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


@handle_errors
def demo(
    out: Path = typer.Option(Path("demo_out"), "-o", "--out", help="Output folder."),
    seconds: float = typer.Option(20.0, "--seconds", help="Length of the generated clip."),
    seed: int = typer.Option(0, "--seed"),
):
    """The main job on an input the toolkit makes itself: synth clip -> analyze -> report (no download)."""
    import pandas as pd

    from microexp.eval.spotting import evaluate
    from microexp.pipeline import analyze
    from microexp.report.write import intervals_table, write_analysis
    from microexp.synth import make_demo_video

    out.mkdir(parents=True, exist_ok=True)
    video = out / "demo_clip.mp4"
    console.print(f"generating a synthetic face clip ({seconds:.0f} s, labelled ground truth) -> {video}")
    gt = make_demo_video(video, seconds=seconds, seed=seed)
    with progress_bar(f"analyzing {video.name}") as update:
        result = analyze(video, progress=update)
    paths = write_analysis(result, out, video.stem)
    pred = intervals_table(result, video.stem)
    gt = pd.DataFrame(gt).assign(video=video.stem)
    report = evaluate(gt[["video", "onset", "offset", "type"]], pred[["video", "onset", "offset", "type"]],
                      semantics="megc2020")
    console.print(f"{len(result.expressions)} expressions spotted in {result.n_frames} frames "
                  f"(ground truth: {len(gt)} = {int((gt.type == 'me').sum())} micro, "
                  f"{int((gt.type == 'mae').sum())} macro)")
    console.print(report.table.round(3).to_string())
    console.print(f"report: {paths['report'].resolve()}")
