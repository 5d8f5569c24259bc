"""``microexp analyze``: spot-then-recognise on a video, a frame folder or a folder of videos, with a report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from microexp.cli.common import console, err_console, handle_errors, progress_bar

if TYPE_CHECKING:  # pandas costs ~0.5 s at start-up: imported where a table is built
    import pandas as pd


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)


def _videos_in(folder: Path) -> list[Path]:
    from microexp.io.video import VIDEO_SUFFIXES, natural_key

    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES),
                  key=lambda p: natural_key(p.name))


@handle_errors
def analyze(
    video: Path = typer.Argument(..., help="Video file, folder of frames (with --fps) or folder of videos."),
    out: Path = typer.Option(Path("analyze_out"), "-o", "--out", help="Output folder."),
    fps: float = typer.Option(None, "--fps", help="Frame rate of a frame folder."),
    spotter: str = typer.Option("offd", "--spotter", help="offd (training-free, default) or a learned spotter."),
    weights: Path = typer.Option(None, "--weights", help="Weights of a learned spotter."),
    recognizer: str = typer.Option("default", "--recognizer",
                                   help="'default' (shipped model) or a recogniser checkpoint path."),
    preset: str = typer.Option("default", "--preset", help="OF-FD preset (default, casme_sq, samm_lv, ...)."),
):
    """Find expressions, classify their emotion, write intervals.csv, result.json, scores.npz, report.html."""
    from microexp.pipeline import analyze as run
    from microexp.report.write import intervals_table, write_analysis

    videos = _videos_in(video) if video.is_dir() and _videos_in(video) else [video]
    batch = len(videos) > 1 or videos[0] != video
    tables, failed = [], []
    with progress_bar("videos", total=len(videos)) as overall:
        for k, v in enumerate(videos):
            target = out / v.stem if batch else out
            with progress_bar(f"analyzing {v.name}") as update:
                try:
                    result = run(v, fps=fps, spotter=spotter, recognizer=recognizer, preset=preset,
                                 weights=weights, progress=update)
                except Exception as err:  # noqa: BLE001 - in a batch, one bad video must not stop the others
                    from microexp.errors import MicroexpError

                    if not batch or not isinstance(err, MicroexpError):
                        raise
                    err_console.print(f"[red]skipped[/] {err}")
                    failed.append(v.name)
                    overall(k + 1)
                    continue
            paths = write_analysis(result, target, v.stem)
            tables.append(intervals_table(result, v.stem))
            n_me = sum(e.interval.kind == "me" for e in result.expressions)
            console.print(f"{v.name}: {result.n_frames} frames, face in {result.face_frames}; "
                          f"{len(result.expressions)} expressions ({n_me} micro); report: {paths['report']}")
            overall(k + 1)
    if batch:
        import pandas as pd

        from microexp.io.atomic import write_with

        table = pd.concat(tables, ignore_index=True) if tables else intervals_table_empty()
        write_with(out / "intervals.csv", lambda tmp: table.to_csv(tmp, index=False))
        console.print(f"{len(tables)} of {len(videos)} videos analysed; all intervals: {out / 'intervals.csv'}")
        if failed:
            raise typer.Exit(2)


def intervals_table_empty() -> pd.DataFrame:
    import pandas as pd

    from microexp.report.write import ANALYZE_COLUMNS

    return pd.DataFrame(columns=ANALYZE_COLUMNS)
