"""Typed exceptions. Library code raises these; only the CLI turns them into one-line messages and exit codes."""

from __future__ import annotations

from pathlib import Path


class MicroexpError(Exception):
    """Base class. ``str(err)`` is a one-line message that names the file and the problem."""

    def __init__(self, problem: str, path: str | Path | None = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class InputError(MicroexpError):
    """A user-supplied file or folder is missing, unreadable or malformed."""


class VideoError(InputError):
    """A video or frame folder cannot be decoded."""


class NoFaceError(InputError):
    """No face was found where one is required."""


class AnnotationError(InputError):
    """An annotation sheet or prediction CSV has missing columns or bad values."""


class ConfigError(MicroexpError):
    """An option or combination of options is invalid."""


class ModelError(MicroexpError):
    """Weights are missing or do not fit the architecture."""
