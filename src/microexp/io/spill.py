"""Images by key, at most a fixed number of bytes of them in memory; the rest wait in a temporary file.

OF-FD's window must hold ≈200 working-size frames (a later window re-measures them against its own
reference, which is chosen only when the current window closes), 176 MB at 1280×720. ``SpillStore`` keeps the
newest images in memory up to ``ram_bytes`` and writes older ones to fixed-size slots of an unlinked temporary
file (``tempfile``: ``TMPDIR``); reading one back gives the very same bytes, so results do not change. Freed
slots are reused, so the file never holds more than the images alive at once (no growth with video length).
When the file cannot be created or written (no space, read-only), images simply stay in memory.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Hashable, Iterator

import numpy as np


class _Slots:
    """Fixed-size slots of one temporary file; freed slots are reused."""

    def __init__(self, size: int):
        self.size = size
        self.file = tempfile.TemporaryFile(prefix="microexp_frames_")
        self.free: list[int] = []
        self.n = 0

    def write(self, image: np.ndarray) -> int:
        slot = self.free.pop() if self.free else self.n
        try:
            self.file.seek(slot * self.size)
            self.file.write(memoryview(image).cast("B"))
        except OSError:
            self.free.append(slot)
            raise
        self.n = max(self.n, slot + 1)
        return slot

    def read(self, slot: int, out: np.ndarray) -> None:
        self.file.seek(slot * self.size)
        got = self.file.readinto(memoryview(out).cast("B"))
        if got != out.nbytes:
            raise OSError(f"spill file returned {got} of {out.nbytes} bytes")


class SpillStore:
    """A mapping key -> image (ndarray): the newest ``ram_bytes`` of images in memory, older ones on disk.

    ``store[key]`` returns the image held in memory, or a fresh copy read back from the file. Counters:
    ``ram_peak`` (the most bytes held in memory at once) and ``disk_peak`` (the most bytes in the files at once).
    Images of one size share a file of slots (a BGR stream's source images and their grey copies: two files).
    """

    MAX_SIZES = 4  # files of slots; images of further sizes stay in memory

    def __init__(self, ram_bytes: int | None):
        self.ram_bytes = ram_bytes  # None: never spill
        self._ram: dict[Hashable, np.ndarray] = {}  # insertion order = age: the oldest spill first
        self._ram_total = 0
        self._disk: dict[Hashable, tuple[int, tuple, np.dtype]] = {}  # key -> (slot, shape, dtype)
        self._disk_total = 0
        self._slots: dict[int, _Slots] = {}  # image bytes -> its file
        self._failed = False
        self._lock = threading.Lock()
        self.ram_peak = 0
        self.disk_peak = 0

    def __len__(self) -> int:
        return len(self._ram) + len(self._disk)

    def __contains__(self, key) -> bool:
        return key in self._ram or key in self._disk

    def __iter__(self) -> Iterator[Hashable]:
        return iter([*self._ram, *self._disk])

    def in_memory(self, key) -> bool:
        return key in self._ram

    def __setitem__(self, key, image: np.ndarray) -> None:
        if key in self:
            del self[key]
        self._ram[key] = image
        self._ram_total += image.nbytes
        self.ram_peak = max(self.ram_peak, self._ram_total)
        if self.ram_bytes is not None:
            self._spill()

    def __getitem__(self, key) -> np.ndarray:
        image = self._ram.get(key)
        if image is not None:
            return image
        slot, shape, dtype = self._disk[key]
        out = np.empty(shape, dtype)
        with self._lock:
            self._slots[out.nbytes].read(slot, out)
        return out

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __delitem__(self, key) -> None:
        image = self._ram.pop(key, None)
        if image is not None:
            self._ram_total -= image.nbytes
            return
        slot, shape, dtype = self._disk.pop(key)
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        self._slots[size].free.append(slot)
        self._disk_total -= size

    def _spill(self) -> None:
        """Write the oldest in-memory images to their files until the memory budget holds."""
        while self._ram_total > self.ram_bytes and not self._failed:
            key = next((k for k, v in self._ram.items() if self._fits(v)), None)
            if key is None:
                return
            image = self._ram[key]
            try:
                with self._lock:
                    if image.nbytes not in self._slots:
                        self._slots[image.nbytes] = _Slots(image.nbytes)
                    slot = self._slots[image.nbytes].write(image)
            except OSError:  # no space, read-only temp dir: images stay in memory, as without a budget
                self._failed = True
                return
            del self._ram[key]
            self._ram_total -= image.nbytes
            self._disk[key] = (slot, image.shape, image.dtype)
            self._disk_total += image.nbytes
            self.disk_peak = max(self.disk_peak, self._disk_total)

    def _fits(self, image: np.ndarray) -> bool:
        return image.flags.c_contiguous and image.nbytes > 0 and (
            image.nbytes in self._slots or len(self._slots) < self.MAX_SIZES)

    def close(self) -> None:
        """Forget every image and remove the files."""
        self._ram.clear()
        self._disk.clear()
        self._ram_total = self._disk_total = 0
        for slots in self._slots.values():
            slots.file.close()
        self._slots.clear()
