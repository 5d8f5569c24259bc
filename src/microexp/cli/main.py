"""`microexp` entry point. Each sub-command lives in its own module with a ``register(app)`` function."""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from typing import Annotated

import typer
from typer.core import TyperGroup

try:  # typer >= 0.24 carries its own copy of click; its exceptions are not click's
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer on click itself
    from click.exceptions import NoArgsIsHelpError, UsageError


@contextmanager
def _one_line_usage_errors():
    """A usage error (bad option value, unknown option, missing argument) is one line on stderr, exit 2.

    Click prints three (usage, a 'Try --help' hint, the error); here the error and the hint share one line,
    in the form every other refused input takes (``error: ...``). A bare group still shows its help.
    """
    try:
        yield
    except NoArgsIsHelpError:
        raise
    except UsageError as err:
        from microexp.cli.common import fail

        where = f"; see '{err.ctx.command_path} --help'" if err.ctx is not None else ""
        fail(f"{err.format_message().rstrip('.')}{where}", err.exit_code)


class _Root(TyperGroup):
    """The top-level group: usage errors of every sub-command pass through here (see above)."""

    def make_context(self, info_name, args, parent=None, **extra):
        with _one_line_usage_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        with _one_line_usage_errors():
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Root,
    name="microexp",
    help="Spot and recognise facial micro- and macro-expressions in face videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help and errors, no boxes (piped output stays readable)
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
