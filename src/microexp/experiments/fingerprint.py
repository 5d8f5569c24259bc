"""Run fingerprints: a short digest of everything a fold's result depends on.

A resumed run reuses a finished fold only when the fingerprint matches, so it must cover the settings, the
model inputs, the labels and the list of subjects in the data (inner-validation subjects are drawn from it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd


def _jsonable(obj: Any):
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


def content_digest(arrays: Iterable[np.ndarray] = (), table: pd.DataFrame | None = None,
                   columns: Iterable[str] | None = None) -> str:
    """sha256 of array bytes (with shapes and dtypes) and of a table's chosen columns as text."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    if table is not None:
        cols = [c for c in (columns if columns is not None else table.columns) if c in table.columns]
        h.update(table[cols].astype(str).to_csv(index=False).encode())
    return h.hexdigest()[:16]


def fingerprint(*, settings: dict, content: str, subjects: Iterable[str]) -> str:
    """Digest of settings (JSON-able, dataclasses allowed), data content and the data's subject list."""
    blob = json.dumps({"settings": settings, "content": content, "subjects": sorted(map(str, subjects))},
                      sort_keys=True, default=_jsonable)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
