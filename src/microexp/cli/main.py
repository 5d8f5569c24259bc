"""`microexp` entry point. Each sub-command lives in its own module with a ``register(app)`` function."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="microexp",
    help="Spot and recognise facial micro- and macro-expressions in face videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = (
    "demo", "spot", "analyze", "recognize", "evaluate", "datasets", "synth", "loso", "train", "prepare", "watch",
)

for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"microexp.cli.{_name}")
    except ModuleNotFoundError as _err:  # a command module not written yet in a development tree
        if _err.name != f"microexp.cli.{_name}":
            raise
        continue
    _mod.register(app)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")):
    if version:
        from microexp import __version__

        typer.echo(__version__)
        raise typer.Exit()


if __name__ == "__main__":  # pragma: no cover
    app()
