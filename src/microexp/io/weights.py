"""Reading weight files: tensors and plain containers only, so opening a file never runs code from it."""

from __future__ import annotations

from pathlib import Path

from microexp.errors import ModelError


def load_torch_file(path: str | Path, what: str = "weights"):
    """``torch.load`` with ``weights_only=True``; a missing or unreadable file is a one-line ``ModelError``."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{what} not found", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a corrupt or foreign file, whatever the unpickler says
        raise ModelError(f"cannot read {what}: {type(err).__name__}: {str(err)[:200]}", path) from None
