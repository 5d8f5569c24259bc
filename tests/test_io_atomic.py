"""Atomic writes leave nothing behind, even when an interrupt lands the instant the temp file is made.

CI once saw `prepare` stopped by SIGTERM keep a cache temp folder: the signal arrived between ``mkdtemp``
creating the folder and the ``try`` that removes it. Here the interrupt is raised right after the system call
that creates the temp file or folder, the worst moment, and nothing may be left.
"""

from __future__ import annotations

import os

import pytest

from microexp.io import atomic


def _interrupt_after(real):
    """``real`` runs (the file or folder now exists), then the interrupt lands before its result is used."""
    def call(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt
    return call


def test_atomic_path_interrupted_as_temp_file_is_made(tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    monkeypatch.setattr(atomic.os, "open", _interrupt_after(os.open))
    with pytest.raises(KeyboardInterrupt):
        atomic.write_text(target, "new\n")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    assert target.read_text() == "old\n"  # what was already written is kept


def test_temp_dir_interrupted_as_it_is_made(tmp_path, monkeypatch):
    entry = tmp_path / "crops" / "key"
    monkeypatch.setattr(atomic.os, "mkdir", _interrupt_after(os.mkdir))
    with pytest.raises(KeyboardInterrupt):
        with atomic.temp_dir_beside(entry):
            pass  # pragma: no cover
    monkeypatch.undo()
    assert list((tmp_path / "crops").iterdir()) == []


def test_temp_dir_removed_on_error_kept_by_rename(tmp_path):
    entry = tmp_path / "crops" / "key"
    with pytest.raises(RuntimeError):
        with atomic.temp_dir_beside(entry) as tmp:
            (tmp / "a").write_text("x")
            raise RuntimeError("build failed")
    assert list((tmp_path / "crops").iterdir()) == []
    with atomic.temp_dir_beside(entry) as tmp:
        (tmp / "a").write_text("x")
        os.rename(tmp, entry)
    assert [p.name for p in (tmp_path / "crops").iterdir()] == ["key"] and (entry / "a").read_text() == "x"


def test_atomic_file_permissions_follow_umask(tmp_path):
    target = atomic.write_text(tmp_path / "r.txt", "x")
    assert target.stat().st_mode & 0o777 == 0o666 & ~atomic._UMASK
