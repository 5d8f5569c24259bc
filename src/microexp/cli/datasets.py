"""``microexp datasets``: list the known datasets and summarise one folder or annotation file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from microexp.cli.common import check_input, check_number, console, handle_errors

datasets_app = typer.Typer(help="Dataset loaders: list known datasets, check a dataset folder.",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")


@datasets_app.command("list")
@handle_errors
def list_cmd():
    """List the dataset names the loaders know, with fps and whether checked on a real annotation file."""
    from microexp.datasets.registry import REGISTRY

    for s in REGISTRY.values():
        fps = "fps per row" if s.fps is None else f"{s.fps:g} fps"
        kind = "long videos" if s.long_video else "clips"
        checked = "checked on a real file" if s.checked else "NOT checked on a real file"
        console.print(f"[bold]{s.name:14s}[/] {s.title}; {fps}; {kind}; {checked}; file: {s.annotation_names[0]}",
                      highlight=False, soft_wrap=True)


@datasets_app.command("info")
@handle_errors
def info_cmd(
    name: Annotated[str, typer.Argument(help="Dataset name (see `microexp datasets list`).")],
    root: Annotated[Path, typer.Argument(help="Dataset folder as distributed, or one annotation file.")],
    annotation: Annotated[Path | None, typer.Option("--annotation", help="Annotation file to use inside the folder.")] = None,
    frames_dir: Annotated[Path | None, typer.Option("--frames-dir", help="Frame folder (default: found automatically).")] = None,
    max_problems: Annotated[int, typer.Option("--max-problems", help="How many problem rows to print (0: all).")] = 30,
    subjects: Annotated[bool, typer.Option("--subjects/--no-subjects", help="Print counts per subject.")] = True,
):
    """Counts per subject, type and class, and the problems found (missing frames, duplicates, ...)."""
    from microexp.datasets.check import summarize

    check_input(root)
    check_number("--max-problems", max_problems, 0)
    from microexp.datasets.registry import load, read_annotations

    if root.is_file():
        df = read_annotations(name, root)
    else:
        df = load(name, root, annotation=annotation, frames_dir=frames_dir)
    s = summarize(df)
    console.print(f"[bold]{s.name}[/]: {s.source}  (md5 {df.attrs.get('md5', '?')})", highlight=False)
    videos = f", {s.n_videos} videos" if s.n_videos is not None else ""
    console.print(f"{s.n_rows} rows, {s.n_subjects} subjects{videos}", highlight=False)
    if "frames_dir" in df.columns:
        found = int((df["frames_dir"] != "").sum())
        console.print(f"frame folders found for {found} of {len(df)} rows", highlight=False)
    console.print("by type: " + ", ".join(f"{k} {v}" for k, v in s.by_type.items()), highlight=False)
    console.print("by class: " + ", ".join(f"{k} {v}" for k, v in s.by_class.items()), highlight=False)
    if subjects:
        console.print("by subject: " + ", ".join(f"{k} {v}" for k, v in s.by_subject.items()), highlight=False)
    if s.problems.empty:
        console.print("problems: none")
        return
    counts = s.problems["problem"].value_counts()
    console.print(f"problems: {len(s.problems)}", highlight=False)
    for prob, n in counts.items():
        console.print(f"  {n:5d}  {prob}", highlight=False, markup=False)  # "[onset, offset]" is not markup
    shown = s.problems if max_problems <= 0 else s.problems.head(max_problems)
    table = Table("row", "subject", "clip", "problem")
    for r in shown.itertuples(index=False):
        table.add_row(*(escape(str(v)) for v in (r.row, r.subject, r.clip, r.problem)))
    console.print(table)
    if len(shown) < len(s.problems):
        console.print(f"... {len(s.problems) - len(shown)} more (use --max-problems 0)", highlight=False)
