"""microexp: spot and recognise facial micro- and macro-expressions in face videos.

The public API is small: ``spot``, ``recognize`` and ``analyze``; records live in ``microexp.records``.
Heavy modules are imported lazily so that ``import microexp`` stays fast.
"""

from __future__ import annotations

from microexp.errors import (
    AnnotationError,
    ConfigError,
    InputError,
    MicroexpError,
    ModelError,
    NoFaceError,
    VideoError,
)
from microexp.records import Expression, Interval
from microexp.version import __version__

__all__ = [
    "AnnotationError", "ConfigError", "Expression", "InputError", "Interval", "MicroexpError", "ModelError",
    "NoFaceError", "VideoError", "analyze", "recognize", "spot", "watch", "__version__",
]


def spot(path, spotter: str = "offd", weights=None, fps=None, preset: str = "default", **options):
    """Spot expressions in a video or frame folder with a registered spotter (``offd``, ``refcnn3d``,
    ``mesnet``); returns ``list[Interval]`` (see ``microexp.spotting.api``)."""
    from microexp.spotting.api import spot as _spot

    return _spot(path, spotter=spotter, weights=weights, fps=fps, preset=preset, **options)


def recognize(*args, **kwargs):
    """Classify the emotion of expressions (see ``microexp.recognition.api``)."""
    from microexp.recognition.api import recognize as _recognize

    return _recognize(*args, **kwargs)


def analyze(path, spotter: str = "offd", weights=None, **options):
    """Spot then recognise; returns a ``Result`` (see ``microexp.pipeline``)."""
    from microexp.pipeline import analyze as _analyze

    return _analyze(path, spotter=spotter, weights=weights, **options)


def watch(source, **options):
    """Spot expressions live (camera, device, URL, pipe or file); yields each ``Interval`` once final
    (see ``microexp.spotting.watch``)."""
    from microexp.spotting.watch import watch as _watch

    return _watch(source, **options)
