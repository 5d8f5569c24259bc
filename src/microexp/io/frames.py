"""Which files are video and frame images, and the order frames sort in: one definition for the whole package.

``natural_key`` orders ``img2`` before ``img10`` (frame folders are numbered without padding).
"""

from __future__ import annotations

import re
from pathlib import Path

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})


def natural_key(name: str) -> list:
    """Sort key that compares digit runs as numbers, case-insensitively (``img2`` < ``img10``)."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", str(name)) if t]


def is_video(path: Path) -> bool:
    """A visible file with a video suffix (hidden names are a writer's unfinished temp files)."""
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".")


def list_frames(folder: str | Path) -> list[Path]:
    """Image files of a frame folder in natural order; [] for a missing folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: natural_key(p.name))
