"""``microexp analyze``: spot-then-recognise on a video, a frame folder or a folder of videos, with a report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from microexp.cli.common import (
    CACHE_DIR_HELP,
    check_fps,
    check_input,
    check_output,
    check_spotter,
    console,
    count,
    err_console,
    handle_errors,
    importer,
    preload,
    progress_bar,
    warn,
)
from microexp.cli.spot import GT_BASE_HELP, GT_HELP, compare, load_truth, print_truth

ANALYZE_OUTPUTS = ("intervals.csv", "result.json", "scores.npz", "spot.png", "report.html")

if TYPE_CHECKING:  # pandas costs ~0.5 s at start-up: imported where a table is built
    import pandas as pd


def videos_in(folder: Path) -> list[Path]:
    from microexp.io.frames import VIDEO_SUFFIXES, natural_key

    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES),
                  key=lambda p: natural_key(p.name))


def output_names(videos: list[Path]) -> dict[Path, str]:
    """A unique, stable name per video: its stem, or its file name where stems collide (``a.mp4``, ``a.mov``).

    The name is the output sub-folder and the ``video`` column of the combined CSV, so no result overwrites
    another and every row says which file it came from. It depends only on the file names, not on order.
    """
    stems: dict[str, int] = {}
    for v in videos:
        stems[v.stem.lower()] = stems.get(v.stem.lower(), 0) + 1
    return {v: v.name if stems[v.stem.lower()] > 1 else v.stem for v in videos}


@handle_errors
def analyze(
    video: Annotated[Path, typer.Argument(
        help="Video file, folder of frames (with --fps) or folder of videos.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")] = Path("analyze_out"),
    fps: Annotated[float | None, typer.Option("--fps", help="Frame rate of a frame folder.")] = None,
    spotter: Annotated[str, typer.Option(
        "--spotter", help="offd (training-free, default) or a learned spotter (refcnn3d, mesnet) with "
                          "--weights.")] = "offd",
    weights: Annotated[Path | None, typer.Option("--weights", help="Weights of a learned spotter.")] = None,
    recognizer: Annotated[str, typer.Option(
        "--recognizer", help="'default' (shipped model) or a recogniser checkpoint path.")] = "default",
    preset: Annotated[str, typer.Option(
        "--preset", help="OF-FD preset (default, casme_sq, samm_lv, ...).")] = "default",
    gt: Annotated[Path | None, typer.Option("--gt", help=GT_HELP)] = None,
    gt_base: Annotated[int, typer.Option("--gt-base", help=GT_BASE_HELP)] = 0,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help=CACHE_DIR_HELP)] = None,
):
    """Find expressions, classify their emotion, write intervals.csv, result.json, scores.npz, report.html.

    With --gt, spot.png and report.html show the ground truth beside the detections (hit / miss / false
    alarm) and the MEGC scorer's table is printed (per video, and pooled for a folder).
    """
    check_input(video)
    videos = videos_in(video) if video.is_dir() else []
    batch = bool(videos)
    if batch and fps is not None:
        from microexp.cli.common import fail

        fail(f"{video}: --fps applies to frame folders only; this folder holds video files, which carry their "
             "own frame rate")
    check_fps(fps, video)
    check_spotter(spotter, weights, preset=preset, cache_dir=cache_dir)
    if recognizer != "default" and not Path(recognizer).is_file():
        from microexp.cli.common import fail

        fail(f"{recognizer}: no such recogniser checkpoint (use 'default' or a .pt path)")
    check_output(out, [video, *videos] + ([gt] if gt else []), outputs=ANALYZE_OUTPUTS)
    if cache_dir is not None:
        check_output(cache_dir, [video, *videos], inside_ok=True, option="--cache-dir")
    names = output_names(videos) if batch else {video: video.stem}
    videos = videos or [video]
    truth_rows = _truth_rows(gt, gt_base, videos, batch) if gt is not None else {}
    preload(*analyze_preloads(spotter, recognizer))
    from microexp.pipeline import analyze as run

    compared = []
    tables, failed = [], []
    with progress_bar("videos", total=len(videos)) as overall:
        for k, v in enumerate(videos):
            target = out / names[v] if batch else out
            with progress_bar(f"analyzing {v.name}") as update:
                try:
                    result = run(v, fps=fps, spotter=spotter, recognizer=recognizer, preset=preset,
                                 weights=weights, progress=update, cache_dir=cache_dir)
                except Exception as err:  # noqa: BLE001 - in a batch, one bad video must not stop the others
                    from microexp.errors import MicroexpError

                    if not batch or not isinstance(err, MicroexpError):
                        raise
                    err_console.print(f"[red]skipped[/] {err}", highlight=False)
                    failed.append(v.name)
                    overall(k + 1)
                    continue
            from microexp.report.write import intervals_table, write_analysis  # pandas: loaded meanwhile

            for w in getattr(result, "warnings", []):
                warn(f"{v}: {w}")
            truth = None
            if truth_rows.get(v) is not None:
                intervals = [e.interval for e in result.expressions]
                truth = compare(truth_rows[v], intervals, names[v], result.n_frames)
                compared.append(truth)
            paths = write_analysis(result, target, names[v], truth=truth)
            tables.append(intervals_table(result, names[v]))
            n_me = sum(e.interval.kind == "me" for e in result.expressions)
            n_busy = sum(e.rested is False for e in result.expressions)
            busy = f", {n_busy} read against a face not at rest" if n_busy else ""
            console.print(f"{v.name}: {count(result.n_frames, 'frame')}, face in {result.face_frames}; "
                          f"{count(len(result.expressions), 'expression')} ({n_me} micro{busy}); "
                          f"report: {paths['report']}")
            if truth is not None:
                print_truth(truth)
            overall(k + 1)
    if batch:
        import pandas as pd

        from microexp.io.atomic import write_with

        table = pd.concat(tables, ignore_index=True) if tables else intervals_table_empty()
        write_with(out / "intervals.csv", lambda tmp: table.to_csv(tmp, index=False))
        console.print(f"{len(tables)} of {len(videos)} videos analysed; all intervals: {out / 'intervals.csv'}")
        if len(compared) > 1:
            _print_pooled(compared)
        if failed:
            raise typer.Exit(2)


def analyze_preloads(spotter: str, recognizer: str) -> list:
    """``spot``'s late imports, the report writer (pandas, jinja2), torch and the recogniser: loaded in the
    background while the first video is decoded and spotted (``preload``); the recogniser is first needed
    when the spotter hands over its first interval."""
    from microexp.cli.spot import spot_preloads

    def recogniser():
        from microexp.recognition.weights import load_default

        load_default(None if recognizer == "default" else recognizer)

    steps = spot_preloads(spotter)  # the EMD first: OF-FD needs it when its first window closes
    at = 1 if spotter == "offd" else 0
    return [*steps[:at], recogniser, importer("microexp.report.write"), *steps[at:]]


def _truth_rows(gt: Path, base: int, videos: list[Path], batch: bool) -> dict:
    """Each video's GT rows, read before any work. One video: no row is an error; a folder: a warning per
    video without rows, an error only when no video has any."""
    from microexp.errors import AnnotationError

    if not batch:
        return {videos[0]: load_truth(gt, base, videos[0])}
    rows, missing = {}, []
    for v in videos:
        try:
            rows[v] = load_truth(gt, base, v)
        except AnnotationError as err:
            if not str(err).startswith(f"{gt}: no ground-truth row"):
                raise
            missing.append(v.name)
    if not rows:
        raise AnnotationError(f"no ground-truth row for any of the {len(videos)} videos in the folder "
                              "(the 'video' column must name them by file name or stem)", gt)
    if missing:
        warn(f"{gt}: no ground-truth rows for {len(missing)} video(s), drawn without truth: "
             f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
    return rows


def _print_pooled(compared: list) -> None:
    """The scorer's table over every video with ground truth (counts pooled, MEGC)."""
    import pandas as pd

    from microexp.eval.spotting import evaluate
    from microexp.report.truth import format_table

    gts, preds = [], []
    for c in compared:
        gts += [{"video": c.video, "onset": m.onset, "offset": m.offset, "type": m.kind} for m in c.truth]
        preds += [{"video": c.video, "onset": m.onset, "offset": m.offset, "type": m.kind} for m in c.detections]
    cols = ["video", "onset", "offset", "type"]
    report = evaluate(pd.DataFrame(gts, columns=cols), pd.DataFrame(preds, columns=cols), "megc2020")
    console.print(f"all {len(compared)} videos with ground truth (pooled):", highlight=False)
    console.print(format_table(report), highlight=False)


def intervals_table_empty() -> pd.DataFrame:
    import pandas as pd

    from microexp.report.write import ANALYZE_COLUMNS

    return pd.DataFrame(columns=ANALYZE_COLUMNS)


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
