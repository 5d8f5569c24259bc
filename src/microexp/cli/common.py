"""Shared CLI plumbing: one-line errors with exit code 2, and rich progress bars fed by library callbacks."""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from microexp.errors import MicroexpError

console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cluster pre-empting the job, ``kill``), raised like Ctrl-C so cleanup code runs."""


def _raise_terminated(signum, frame):
    raise Terminated()


def handle_errors(fn: Callable) -> Callable:
    """Turn library exceptions into one line on stderr and exit code 2 (no traceback).

    Ctrl-C (exit 130) and SIGTERM (exit 143) stop the command the same way: the exception unwinds, so
    temporary files of unfinished writes are removed; finished work (cache entries, folds) is kept.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        previous = None
        if threading.current_thread() is threading.main_thread():
            try:
                previous = signal.signal(signal.SIGTERM, _raise_terminated)
            except (ValueError, OSError):  # pragma: no cover - no signals on this platform/thread
                previous = None
        try:
            return fn(*args, **kwargs)
        except MicroexpError as err:
            fail(str(err))
        except FileNotFoundError as err:
            fail(f"{err.filename}: no such file or directory")
        except KeyboardInterrupt as err:
            err_console.print("interrupted; finished work is kept and a rerun resumes")
            raise typer.Exit(143 if isinstance(err, Terminated) else 130) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Callable[[int, int | None], None]]:
    """Yield ``update(done, total)``; shows nothing when stderr is not a terminal and CI is quiet."""
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err_console, transient=False, disable=not sys.stderr.isatty(),
    )
    with progress:
        task = progress.add_task(description, total=total)

        def update(done: int, new_total: int | None = None) -> None:
            if new_total is not None:
                progress.update(task, total=new_total)
            progress.update(task, completed=done)

        yield update
