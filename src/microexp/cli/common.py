"""Shared CLI plumbing: one-line errors with exit code 2, and rich progress bars fed by library callbacks."""

from __future__ import annotations

import functools
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from microexp.errors import MicroexpError

# soft_wrap: a piped "wrote PATH" line stays one line (rich would hard-wrap it at 80 columns)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def tame_heap() -> None:
    """Keep the C heap from growing with video length (glibc only; a no-op elsewhere).

    glibc raises its mmap threshold each time a large block is freed, after which frame-sized buffers come from
    the heap and its per-thread arenas, which fragment: `analyze` grew ~20 MB per minute of 200 fps video.
    A fixed threshold hands every frame buffer back to the system when it is freed (measured: ~2 MB/min,
    benchmarks/results/memory.md). Called once when the CLI starts, before decoding threads exist.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_mmap_threshold, m_arena_max = -3, -8
    mallopt(m_mmap_threshold, 128 * 1024)
    mallopt(m_arena_max, 2)


def preload(*steps: Callable[[], object]) -> threading.Thread:
    """Run start-up steps a command needs later (imports, model loading) in a background thread.

    ``microexp spot`` imports the EMD (scipy.interpolate) when its first window closes and matplotlib when it
    draws spot.png; ``analyze`` imports torch and loads the recogniser at its first interval. Done in line, each
    stops the spotting pipeline (both cores wait on one import); started here, they run while the video is
    being decoded and measured. A step that fails is left alone: it runs again where it is needed and fails
    there with the command's usual message. The thread is not a daemon, so the interpreter never exits in the
    middle of an import.
    """
    def run():
        for step in steps:
            try:
                step()
            except Exception:  # noqa: BLE001, S110 - repeated (and reported) where the result is used
                pass

    t = threading.Thread(target=run, name="microexp-preload")
    t.start()
    return t


def importer(name: str) -> Callable[[], object]:
    """A ``preload`` step that imports ``name``."""
    import importlib

    return lambda: importlib.import_module(name)


def count(n: int, word: str) -> str:
    """``1 frame``, ``2 frames``: counts in the summary lines read as a person writes them."""
    return f"{n} {word}{'s' * (n != 1)}"


def warn(message: str) -> None:
    """One line on stderr for a result that is computed but may mislead (coarse input, ignored option)."""
    err_console.print(f"[bold yellow]warning:[/] {message}", highlight=False, markup=True)


def check_number(option: str, value: float | None, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False) -> None:
    """Refuse a numeric option that is not finite or outside [lo, hi] (``lo_open``: strictly above lo).

    Checked before any work starts: ``--fps -5`` would make the resampler loop forever, ``nan`` crash deep
    inside, so the boundary is the one place to say what is wrong.
    """
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        fail(f"{option} must be a finite number, got {value}")
    below = lo is not None and (value <= lo if lo_open else value < lo)
    if below or (hi is not None and value > hi):
        lo_txt = "" if lo is None else (f"> {lo:g}" if lo_open else f">= {lo:g}")
        hi_txt = "" if hi is None else f"<= {hi:g}"
        fail(f"{option} must be {' and '.join(t for t in (lo_txt, hi_txt) if t)}, got {value:g}")


MIN_FPS, MAX_FPS = 1.0, 10_000.0


def check_fps(value: float | None, video: Path | None = None) -> None:
    """``--fps``: a real frame rate, and only where it means something (frame folders).

    A video file carries its own timestamps, so ``--fps`` on a file is refused rather than silently ignored.
    """
    check_number("--fps", value, MIN_FPS, MAX_FPS)
    if value is not None and video is not None and video.is_file():
        fail(f"{video}: --fps applies to frame folders only (a video file has its own frame rate); drop --fps")


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output(out: Path, inputs: list[Path] = (), is_dir: bool = True, outputs: list[str] = (),
                 inside_ok: bool = False, option: str = "-o/--out") -> None:
    """Refuse an output location that cannot work, before any computation (one line, exit 2).

    Refused: an existing file where a folder is wanted (or a folder where a file is wanted), a location under
    a file or not writable, the input itself or a place inside an input folder (results would mix with the
    frames and break the next run; ``inside_ok`` for a cache, which readers of the input skip), and a result
    file name that is an input. ``option``: the option the message tells the user to change.
    """
    out = Path(out)
    kind = ("output folder" if is_dir else "output file") if option == "-o/--out" else f"{option} folder"
    target = out.resolve()
    for inp in inputs:
        src = Path(inp).resolve()
        if target == src:
            fail(f"{out}: the {kind} is the input itself; choose another {option}")
        if src.is_dir() and src in target.parents and not inside_ok:
            fail(f"{out}: the {kind} is inside the input folder {inp}; results would mix with the input. "
                 "Choose a folder outside it")
        written = [target / name for name in outputs] if is_dir else [target]
        if src in written:
            fail(f"{out}: writing the results would overwrite the input {inp}")
    if out.exists() and is_dir and not out.is_dir():
        fail(f"{out}: {kind} exists and is a file; choose another {option}")
    if out.exists() and not is_dir and out.is_dir():
        fail(f"{out}: {kind} exists and is a folder; name a file")
    anchor = _nearest_existing(out.absolute())
    if not anchor.is_dir() and anchor != out.absolute():
        fail(f"{out}: cannot create the {kind}: {anchor} is a file")
    writable_dir = anchor if anchor.is_dir() else anchor.parent
    if not os.access(writable_dir, os.W_OK | os.X_OK):
        fail(f"{out}: cannot write the {kind}: {writable_dir} is not writable")


def check_input(path: Path) -> None:
    """The input exists (checked first, so a typo is reported before anything about the options)."""
    if not Path(path).exists():
        fail(f"{path}: no such file or directory")


FLOW_METHODS = ("farneback", "dis")


def spotter_names() -> tuple[str, ...]:
    """``offd`` plus the learned spotters the training code knows."""
    try:
        from microexp.spotting.registry import names  # the spotter registry, where present
    except ImportError:
        from microexp.spotting.train import ARCHS

        return ("offd", *ARCHS)
    return tuple(names())


CACHE_DIR_HELP = ("Crop cache of a learned spotter (default $MICROEXP_CACHE or ~/.cache/microexp; on a cluster a "
                  "path every node shares); offd keeps none.")


def check_spotter(spotter: str, weights: Path | None, preset: str = "default", flow: str = "farneback",
                  cache_dir: Path | None = None) -> None:
    """``--spotter NAME [--weights PATH]`` as in every command, and the OF-FD-only options only with offd."""
    names = spotter_names()
    if spotter not in names:
        fail(f"--spotter must be one of {', '.join(names)}, got {spotter!r}")
    if flow not in FLOW_METHODS:
        fail(f"--flow must be one of {', '.join(FLOW_METHODS)}, got {flow!r}")
    if spotter == "offd":
        if weights is not None:
            fail("--weights applies to learned spotters only (--spotter "
                 f"{' | '.join(n for n in names if n != 'offd')}); offd needs no weights")
        if cache_dir is not None:
            fail("--cache-dir applies to learned spotters only; offd reads the video once and keeps no crop cache")
        return
    if weights is None:
        fail(f"--spotter {spotter} needs --weights (a model.pt from `microexp train spotter --final`)")
    if not Path(weights).is_file():
        fail(f"{weights}: no such weights file")
    if preset != "default":
        fail(f"--preset applies to --spotter offd only, not {spotter}")
    if flow != "farneback":
        fail(f"--flow applies to --spotter offd only, not {spotter}")


def quiet_third_party_warnings() -> None:
    """Library warnings a user cannot act on stay off stderr: matplotlib's missing-glyph notes (a video named
    in Chinese plots its title with boxes), pandas' ragged-row ParserWarning (the reader reports the row)."""
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
    warnings.filterwarnings("ignore", message=r".*(Length of header or names does not match|Falling back to the "
                                              r"'python' engine)")


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
            with warnings.catch_warnings():
                quiet_third_party_warnings()
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


# Executor options shared by the commands that run many independent tasks (loso, train spotter).
ExecutorOpt = Annotated[str, typer.Option("--executor", help="local (this machine) or ray (one task per fold).")]
WorkersOpt = Annotated[int, typer.Option(
    "--workers", help="local: fold processes (1 = in-process); ray: local cluster CPUs.")]
AddressOpt = Annotated[str | None, typer.Option(
    "--address", help="ray: 'auto' or ray://HOST:PORT of a running cluster.")]
