"""Every spotter by name: ``offd`` (training-free), ``refcnn3d`` and ``mesnet`` (learned), timm-style.

Each entry carries its config dataclass (the paper's defaults), ``spot(path, ...) -> SpotResult``,
``from_checkpoint(path)`` and, for the learned ones, ``fit``. Callers (``microexp.spot``, ``analyze``, the CLI,
LOSO training) look a spotter up here instead of branching on its name. Entries are imported on first use so
that choosing OF-FD never imports torch.

Spotter checkpoints are one ``.pt`` file with a format key and version (like the recogniser's), the
architecture, the training crop size and frame rate, and one packed model per expression type.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from microexp.errors import ConfigError, ModelError
from microexp.io.atomic import write_with
from microexp.io.weights import load_torch_file

FORMAT = "microexp-spotter"
VERSION = 1

_ENTRIES = {
    "offd": "microexp.spotting.api:OFFD",
    "refcnn3d": "microexp.spotting.refcnn3d:SPOTTER",
    "mesnet": "microexp.spotting.mesnet:SPOTTER",
}


def names() -> tuple[str, ...]:
    return tuple(_ENTRIES)


def trainable() -> tuple[str, ...]:
    """Names of the spotters that learn from data (``microexp train spotter --spotter``)."""
    return tuple(n for n in _ENTRIES if get(n).fit is not None)


def get(name: str):
    """The registry entry of ``name``; an unknown name is a one-line ``ConfigError`` listing the choices."""
    target = _ENTRIES.get(str(name).strip().lower())
    if target is None:
        raise ConfigError(f"unknown spotter {name!r}; choose one of {', '.join(_ENTRIES)}")
    module, attr = target.split(":")
    return getattr(import_module(module), attr)


def save_checkpoint(path: str | Path, ckpt: dict) -> Path:
    """Write a spotter checkpoint atomically, stamped with the format key and version."""
    import torch

    blob = {**ckpt, "format": FORMAT, "version": VERSION}
    if blob.get("arch") not in _ENTRIES or not blob.get("models"):
        raise ConfigError("a spotter checkpoint needs a known 'arch' and at least one trained model")
    return write_with(path, lambda tmp: torch.save(blob, tmp))


def load_checkpoint(path: str | Path, arch: str | None = None) -> dict:
    """Read and check a spotter checkpoint; old or foreign files are a one-line ``ModelError``."""
    path = Path(path)
    blob = load_torch_file(path, "spotter checkpoint")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ModelError(f"not a microexp spotter checkpoint (no format key {FORMAT!r}; files written before "
                         f"format {VERSION} must be retrained with `microexp train spotter`)", path)
    if blob.get("version") != VERSION:
        raise ModelError(f"spotter checkpoint format version {blob.get('version')!r}; this microexp reads "
                         f"version {VERSION}", path)
    if blob.get("arch") not in _ENTRIES or not isinstance(blob.get("models"), dict):
        raise ModelError(f"spotter checkpoint names an unknown architecture {blob.get('arch')!r}", path)
    if arch is not None and blob["arch"] != arch:
        raise ModelError(f"checkpoint holds a {blob['arch']} spotter, not {arch}", path)
    if not blob["models"]:
        raise ModelError("checkpoint holds no trained model", path)
    return blob
