"""``microexp prepare``: face crops of every video of a dataset into the cache, one task per video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from microexp.cli.common import (
    MAX_FPS,
    MIN_FPS,
    check_input,
    check_number,
    check_output,
    console,
    err_console,
    handle_errors,
    progress_bar,
)

EXIT_SOME_FAILED = 1


def register(app: typer.Typer) -> None:
    app.command("prepare")(prepare)


@handle_errors
def prepare(
    dataset: Annotated[str, typer.Argument(
        help="Dataset name (casme_sq, samm_lv, casme3, casme2, ...), 'synth' for a synthetic suite folder, "
             "or 'videos' for a plain folder.")],
    root: Annotated[Path, typer.Argument(help="Dataset folder, suite folder or folder of videos / frame folders.")],
    cache_dir: Annotated[Path, typer.Option(
        "--cache-dir", help="Cache folder (on a cluster: a path every node shares).")],
    executor: Annotated[str, typer.Option("--executor", help="local (this machine) or ray (a Ray cluster).")
                        ] = "local",
    workers: Annotated[int, typer.Option(
        "--workers", help="local: processes (1 = in-process); ray without --address: CPUs of the local cluster "
                          "(1 = all).")] = 1,
    address: Annotated[str | None, typer.Option(
        "--address", help="ray: 'auto' or ray://HOST:PORT of a running cluster.")] = None,
    fps: Annotated[float | None, typer.Option(
        "--fps", help="Frame rate of frame folders (default: the dataset's).")] = None,
    size: Annotated[int, typer.Option("--size", help="Crop side in pixels.")] = 128,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Per-video report CSV (default: CACHE_DIR/prepare_report_<dataset>.csv).")] = None,
):
    """Track the face in every video and store aligned crops; reruns skip cached videos."""
    from microexp.experiments.executor import make_executor
    from microexp.io.atomic import write_with
    from microexp.prepare import prepare_dataset

    check_input(root)
    check_number("--fps", fps, MIN_FPS, MAX_FPS)
    check_number("--size", size, 16, 1024)
    check_number("--workers", workers, 1, 4096)
    check_output(cache_dir, [root], inside_ok=True, option="--cache-dir")
    if report is not None:
        check_output(report, [root], is_dir=False)
    cache = cache_dir

    with make_executor(executor, workers=workers, address=address) as ex:
        with progress_bar(f"prepare {dataset} [{executor}]") as update:
            rep = prepare_dataset(dataset, root, cache, executor=ex, fps=fps, size=size, progress=update)
    table = rep.table()
    out = report or Path(cache) / f"prepare_report_{Path(dataset).name}.csv"
    write_with(out, lambda p: table.to_csv(p, index=False))
    console.print(f"{dataset}: {len(rep.rows)} videos: {rep.count('built')} built, {rep.count('cached')} "
                  f"already cached, {rep.count('failed')} failed; cache {rep.cache_dir}")
    if rep.skipped:
        console.print(f"  {len(rep.skipped)} annotated samples have no frames on disk (first: {rep.skipped[0]})")
    console.print(f"  wrote {out}")
    for row in rep.failed:
        err_console.print(f"[bold red]failed:[/] {row['name']}: {row['error']}", highlight=False, soft_wrap=True)
    if rep.failed:
        raise typer.Exit(EXIT_SOME_FAILED)
