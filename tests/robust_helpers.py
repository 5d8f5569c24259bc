"""Shared pieces of the robustness suite (tests/test_robust_*.py); holds no tests itself.

Every robustness test file keeps its cases in module-level tables of :class:`Case`. The tables drive the
tests (``pytest.mark.parametrize``) and ``benchmarks/robustness_doc.py`` renders them into
``docs/robustness.md``, so the document cannot drift from what is tested.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from typer.testing import CliRunner

__all__ = ["Case", "assert_one_line_error", "canvas", "face_image", "invoke", "paste", "write_clip"]


@dataclass(frozen=True)
class Case:
    """One robustness case.

    ``error``: regex the one-line message must match (the command exits 2 and names the file); ``None`` for a
    case the toolkit handles, whose behaviour ``expect`` documents and whose test checks it.
    """

    id: str
    given: str  # what the user feeds
    expect: str  # what the toolkit does (documented behaviour)
    build: Callable | None = None  # build(tmp_path) -> whatever the test needs
    error: str | None = None

    def behaviour(self) -> str:
        if self.error is None:
            return self.expect
        return f"exit 2, one line naming the file: {self.expect}"


# ---- CLI ----------------------------------------------------------------------------------------------------

_runner = CliRunner()


def invoke(args: list[str]):
    from microexp.cli.main import app

    return _runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, names: str | Path | None, pattern: str) -> str:
    """Exit code 2, no traceback, exactly one line on stderr that names the file and matches ``pattern``."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"traceback instead of a one-line error:\n{tb}")
    assert result.exit_code == 2, f"exit {result.exit_code}, output:\n{result.output}"
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    line = lines[0]
    assert "Traceback" not in result.output
    if names is not None:
        assert Path(names).name in line, f"{Path(names).name!r} not named in: {line}"
    assert re.search(pattern, line), f"{pattern!r} not in: {line}"
    return line


# ---- synthetic face clips (scikit-image's astronaut, no ../shared data) -------------------------------------

def face_image() -> np.ndarray:
    """The astronaut's head and shoulders, BGR (200 x 210); dlib finds an 87 px face at scale 1."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[30:230, 120:330, ::-1])


def canvas(w: int = 240, h: int = 160, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.full((h, w, 3), 90, np.uint8) + rng.integers(0, 20, (h, w, 3), dtype=np.uint8)).astype(np.uint8)


def paste(img: np.ndarray, face: np.ndarray, x: int, y: int, scale: float) -> np.ndarray:
    f = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = f.shape[:2]
    img[y:y + h, x:x + w] = f[: img.shape[0] - y, : img.shape[1] - x]
    return img


def write_clip(path: Path, n: int, frame: Callable[[int], np.ndarray], fps: float = 30.0) -> Path:
    from microexp.io.video import write_video

    return write_video(path, (frame(i) for i in range(n)), fps=fps)
