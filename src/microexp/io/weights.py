"""Reading weight files: tensors and plain containers only, so opening a file never runs code from it."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

from microexp.errors import ModelError

_PICKLE = b"\x80"  # a pickle's PROTO opcode: torch's legacy (pre-zip) format and plain pickles start with it


def _why_unreadable(path: Path, err: Exception) -> str:
    """What is wrong with a file ``torch.load`` refused, said for a person (torch's own text names internals such
    as miniz or a pickle opcode's key)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not head:
        return "the file is empty"
    if head.startswith(b"PK"):
        if not zipfile.is_zipfile(path):
            return "truncated torch file (its zip archive has no central directory; was the copy cut short?)"
        return "damaged torch file (an entry of its zip archive is corrupted)"
    if head.startswith(_PICKLE):
        if "weights only" in str(err).lower() or "weights_only" in str(err):
            return ("holds Python objects other than tensors and plain containers; refused, because opening it "
                    "could run code")
        return f"damaged legacy torch file ({type(err).__name__})"
    return "not a torch weights file (neither a zip archive nor a pickle)"


def load_torch_file(path: str | Path, what: str = "weights"):
    """``torch.load`` with ``weights_only=True``; a missing or unreadable file is a one-line ``ModelError``."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{what} not found", path)
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr; the error below says it
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a corrupt or foreign file, whatever the unpickler says
        raise ModelError(f"cannot read {what}: {_why_unreadable(path, err)}", path) from None
