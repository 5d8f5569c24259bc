"""``microexp demo``: generate a labelled synthetic face video, analyse it, and score the result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from microexp.cli.common import check_number, check_output, console, handle_errors, progress_bar


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


@handle_errors
def demo(
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")] = Path("demo_out"),
    seconds: Annotated[float, typer.Option("--seconds", help="Length of the generated clip.")] = 20.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    preset: Annotated[str, typer.Option(
        "--preset", help="OF-FD preset (default, me, casme_sq, samm_lv, ...).")] = "default",
):
    """The main job on an input the toolkit makes itself: synth clip -> analyze -> report (no download).

    The clip's labels are the ground truth (as ``analyze --gt``): spot.png and report.html mark every labelled
    expression hit or missed and every detection hit or false alarm, and the scorer's table is printed.
    """
    from microexp.cli.spot import compare, load_truth, print_truth
    from microexp.pipeline import analyze
    from microexp.report.write import write_analysis
    from microexp.spotting.offd import get_preset
    from microexp.synth import make_demo_video
    from microexp.synth.generate import labels_path

    check_number("--seconds", seconds, 2, 3600)
    check_number("--seed", seed, 0)
    get_preset(preset)  # an unknown preset fails before the clip is made
    check_output(out)
    out.mkdir(parents=True, exist_ok=True)
    video = out / "demo_clip.mp4"
    console.print(f"generating a synthetic face clip ({seconds:.0f} s, labelled ground truth) -> {video}")
    gt = make_demo_video(video, seconds=seconds, seed=seed)
    rows = load_truth(labels_path(video), 0, video)
    with progress_bar(f"analyzing {video.name}") as update:
        result = analyze(video, preset=preset, progress=update)
    truth = compare(rows, [e.interval for e in result.expressions], video.stem, result.n_frames)
    paths = write_analysis(result, out, video.stem, truth=truth)
    console.print(f"{len(result.expressions)} expressions spotted in {result.n_frames} frames "
                  f"(ground truth: {len(gt)} = {int((gt.type == 'me').sum())} micro, "
                  f"{int((gt.type == 'mae').sum())} macro)")
    print_truth(truth)
    missed = missed_amplitudes(video, truth)
    if missed:
        console.print("missed, with each one's peak motion in % of the inter-ocular distance: " + ", ".join(missed)
                      + " (what each preset can see: README, 'Sensitivity')", highlight=False)
    console.print(f"plot: {paths['plot'].resolve()}")
    console.print(f"report: {paths['report'].resolve()}")


def missed_amplitudes(video: Path, truth) -> list[str]:
    """``me 156-168: 1.0 %`` for each labelled expression the spotter missed, from the clip's own event record
    (the generator's peak displacement over its inter-ocular distance): a miss reads as "too faint for this
    preset" or not, instead of a bare count."""
    import json

    from microexp.report.truth import MISS

    meta = json.loads(video.with_suffix(".json").read_text())
    iod = float(meta["iod_px"])
    peak = {(e["kind"], e["onset"], e["offset"]): e["amplitude_px"] for e in meta["events"]}
    out = []
    for m in truth.truth:
        amp = peak.get((m.kind, m.onset, m.offset))
        if m.status == MISS and amp is not None:
            out.append(f"{m.kind} {m.onset}-{m.offset}: {100 * amp / iod:.1f} %")
    return out
