"""Recogniser checkpoints: one ``.pt`` holding architecture name, config, classes, input encoding and weights.

Everything needed to rebuild the model is inside the file, so a checkpoint never depends on code defaults
that may change later. The shipped default lives in ``microexp/weights/`` next to its model card.
"""

from __future__ import annotations

import dataclasses
import threading
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from microexp.errors import ModelError
from microexp.io.atomic import write_with
from microexp.io.weights import load_torch_file
from microexp.recognition.data import CLASSES
from microexp.recognition.registry import build, make_config

FORMAT = "microexp-recognizer/1"
INPUT_ENCODING = "uvs01-28"  # (u, v, strain), per-image min-max to [0, 1], 28 x 28
#: what a checkpoint's model reads: the flow encoding above, or a registry input kind (registry.INPUTS)
INPUT_ENCODINGS = (INPUT_ENCODING, "flow28+apex", "frames224", "flowseq384")


def encoding_of(arch_input: str) -> str:
    """Checkpoint input tag for a registry input kind (``flow28`` is the canonical flow encoding)."""
    return INPUT_ENCODING if arch_input == "flow28" else arch_input
DEFAULT_NAME = "recognizer_ststnet.pt"


def save_checkpoint(path: str | Path, arch: str, model: nn.Module, config, meta: dict | None = None, *,
                    classes=CLASSES, input_encoding: str = INPUT_ENCODING) -> Path:
    """Write a self-describing checkpoint atomically (float32 weights, class names, input encoding)."""
    if input_encoding not in INPUT_ENCODINGS:
        raise ModelError(f"unknown input encoding {input_encoding!r}", path)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    blob = {"format": FORMAT, "arch": arch, "config": dataclasses.asdict(config), "classes": list(classes),
            "input": input_encoding, "state_dict": state, "meta": dict(meta or {})}
    out = write_with(path, lambda p: torch.save(blob, p))
    out.chmod(0o644)  # package data: readable by everyone, like any other installed file
    return out


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild the model of a checkpoint in eval mode; returns (model, info without the weights)."""
    path = Path(path)
    blob = load_torch_file(path, "recogniser weights")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ModelError(f"not a microexp recogniser checkpoint (expected format {FORMAT})", path)
    if blob.get("input") not in INPUT_ENCODINGS:
        raise ModelError(f"unsupported input encoding {blob.get('input')!r}", path)
    values = dict(blob["config"])
    if "weights" in values:  # ImageNet init is inside the saved weights already; never reload it
        values.update(weights=None, allow_scratch=True)
    cfg = make_config(blob["arch"], values, flow=False)
    model = build(blob["arch"], cfg)
    try:
        model.load_state_dict(blob["state_dict"], strict=True)
    except RuntimeError as err:
        raise ModelError(f"weights do not fit {blob['arch']}: {err}", path) from err
    info = {k: v for k, v in blob.items() if k != "state_dict"}
    return model.eval(), info


def default_weights_path() -> Path:
    """Path of the shipped default recogniser (inside the installed package)."""
    return Path(str(resources.files("microexp").joinpath("weights", DEFAULT_NAME)))


_CACHE: dict[str, tuple[nn.Module, dict]] = {}
_LOCK = threading.Lock()  # the CLI may load the recogniser in a background thread (``cli.common.preload``)


def load_default(path: str | Path | None = None) -> tuple[nn.Module, dict]:
    """The default (or given) checkpoint, loaded once per process and path (read-only use)."""
    p = str(Path(path) if path else default_weights_path())
    with _LOCK:
        if p not in _CACHE:
            _CACHE[p] = load_checkpoint(p)
        return _CACHE[p]
