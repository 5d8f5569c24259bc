"""The fold store: one JSON file per finished fold, written atomically, under a run folder with one fingerprint.

Resume policy (the same for every experiment): a run folder belongs to one fingerprint, written to
``run.json`` on first use. Opening it again with another fingerprint raises a ConfigError (use a new output
folder) instead of retraining silently or reusing folds computed from other data. Folds whose file exists are
finished; anything else a fold writes (weights, tables) goes next to it under :meth:`FoldStore.artifact`
*before* the fold file, so a fold file always means a complete fold.
"""

from __future__ import annotations

import json
from pathlib import Path

from microexp.errors import ConfigError, InputError
from microexp.experiments.splits import safe_name
from microexp.io.atomic import write_json


class FoldStore:
    """Finished folds of one run under ``root/folds``; ``meta`` is saved in ``run.json`` for people to read."""

    def __init__(self, root: str | Path, fingerprint: str, meta: dict | None = None):
        self.root = Path(root)
        self.fingerprint = str(fingerprint)
        self.folds_dir = self.root / "folds"
        run_file = self.root / "run.json"
        if run_file.is_file():
            try:
                prev = json.loads(run_file.read_text())
            except (OSError, ValueError):
                raise InputError("run.json is unreadable; use a new output folder", run_file) from None
            if prev.get("fingerprint") != self.fingerprint:
                raise ConfigError("output folder holds a run with different settings or data; use a new --out",
                                  self.root)
        elif self.folds_dir.is_dir() and any(self.folds_dir.iterdir()):
            raise ConfigError("output folder holds folds of a run without run.json; use a new --out", self.root)
        else:
            write_json(run_file, {"fingerprint": self.fingerprint, **(meta or {})})

    def path(self, key: str) -> Path:
        return self.folds_dir / f"{safe_name(key)}.json"

    def artifact(self, key: str, suffix: str) -> Path:
        """Where a fold keeps an extra file (e.g. ``suffix='weights.pt'``); write it before :meth:`save`."""
        return self.folds_dir / f"{safe_name(key)}.{suffix}"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def load(self, key: str) -> dict:
        p = self.path(key)
        try:
            blob = json.loads(p.read_text())
        except (OSError, ValueError):
            raise InputError("fold file is unreadable; delete it to rerun the fold", p) from None
        if blob.get("fingerprint") != self.fingerprint:
            raise ConfigError("fold file belongs to another run; use a new --out", p)
        return blob["result"]

    def save(self, key: str, result: dict) -> Path:
        return write_json(self.path(key), {"fingerprint": self.fingerprint, "key": key, "result": result})
