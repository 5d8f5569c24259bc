"""Atomic writes: write to a temp file in the target folder, then rename, so a crash never leaves half a file."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _fresh(folder: Path, prefix: str, suffix: str = "") -> Path:
    """A hidden name in ``folder`` nobody uses (48 random bits), so whatever exists under it is ours to remove."""
    return folder / f"{prefix}{secrets.token_hex(6)}{suffix}"


@contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path next to ``target``; on success rename it over ``target``, on failure delete it.

    The temp file is created inside the ``try`` by one system call, so a signal (Ctrl-C, SIGTERM raised as an
    exception) landing just as it is made cannot leave it behind, as it could between ``mkstemp`` returning
    and the ``try``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _fresh(target.parent, f".{target.name}.", suffix or target.suffix or ".tmp")
    try:
        os.close(os.open(tmp_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # umask applies, as usual
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextmanager
def temp_dir_beside(target: str | Path) -> Iterator[Path]:
    """Yield a new hidden folder next to ``target`` (to fill, then rename to ``target``); whatever is left of it
    when the block ends (an error, an interrupt, a lost rename race) is removed. Made inside the ``try``, for
    the same reason as in ``atomic_path``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _fresh(target.parent, f".{target.name}.")
    try:
        os.mkdir(tmp, 0o700)
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _read_umask() -> int:
    """The process umask (read once, at import: setting it to read it is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def write_text(target: str | Path, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_bytes(target: str | Path, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_json(target: str | Path, obj) -> Path:
    return write_text(target, json.dumps(obj, indent=2, default=_json_default) + "\n")


def write_with(target: str | Path, writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp_path)`` and rename the result over ``target`` (for pandas, numpy, matplotlib)."""
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def _json_default(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
