"""`microexp` entry point. Each sub-command lives in its own module with a ``register(app)`` function."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

app = typer.Typer(
    name="microexp",
    help="Spot and recognise facial micro- and macro-expressions in face videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain usage errors: one 'Error: ...' line, no box (piped output stays readable)
)

COMMAND_MODULES = (
    "demo", "spot", "analyze", "recognize", "evaluate", "datasets", "synth", "loso", "ensemble", "train", "prepare",
    "watch",
)

for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"microexp.cli.{_name}")
    except ModuleNotFoundError as _err:  # a command module not written yet in a development tree
        if _err.name != f"microexp.cli.{_name}":
            raise
        continue
    _mod.register(app)


def root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", is_eager=True, help="Print the version and exit.")] = False,
):
    """Spot and recognise facial micro- and macro-expressions in face videos."""
    from microexp.cli.common import tame_heap

    tame_heap()
    if version:
        from microexp import __version__

        typer.echo(f"microexp {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


app.callback(invoke_without_command=True)(root)


if __name__ == "__main__":  # pragma: no cover
    app()
