"""Window frames past a memory budget wait in a temporary file and come back byte for byte (io.spill)."""

import numpy as np

from microexp.io.spill import SpillStore
from microexp.spotting.offd_stream import FrameBuffer


def _images(n, shape=(36, 48), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]


def test_store_holds_at_most_its_budget_in_memory_and_returns_the_same_bytes():
    imgs = _images(40)
    size = imgs[0].nbytes
    store = SpillStore(ram_bytes=5 * size)
    for k, img in enumerate(imgs):
        store[k] = img
    assert store.ram_peak <= 6 * size  # the budget plus the image that tipped it over
    assert sum(store.in_memory(k) for k in range(40)) == 5  # the newest five stay in memory
    assert store.disk_peak == 35 * size
    for k, img in enumerate(imgs):
        back = store[k]
        assert back.dtype == img.dtype and np.array_equal(back, img)
        back[0, 0] ^= 255  # a copy read back from the file: writing to it changes nothing stored
    assert all(np.array_equal(store[k], img) for k, img in enumerate(imgs))
    store.close()


def test_freed_slots_are_reused_so_the_file_does_not_grow_with_length():
    imgs = _images(8)
    size = imgs[0].nbytes
    store = SpillStore(ram_bytes=2 * size)
    for k in range(500):  # a long stream: at most 8 images alive at once
        store[k] = imgs[k % 8]
        if k >= 7:
            del store[k - 7]
    assert len(store) == 7
    assert store.disk_peak <= 8 * size and store._slots[size].n <= 8
    assert all(np.array_equal(store[k], imgs[k % 8]) for k in range(493, 500))


def test_no_budget_never_spills_and_each_size_has_its_own_slots():
    store = SpillStore(ram_bytes=None)
    for k, img in enumerate(_images(10)):
        store[k] = img
    assert store.disk_peak == 0 and all(store.in_memory(k) for k in range(10))
    small = SpillStore(ram_bytes=0)
    a, b, c = _images(1)[0], _images(1, (20, 20))[0], _images(1, (36, 48, 3))[0]
    small["a"], small["b"], small["c"] = a, b, c
    assert not any(small.in_memory(k) for k in "abc") and len(small._slots) == 3
    assert np.array_equal(small["a"], a) and np.array_equal(small["b"], b) and np.array_equal(small["c"], c)
    view = np.zeros((40, 40), np.uint8)[::2]  # not contiguous: stays in memory
    small["v"] = view
    assert small.in_memory("v")
    del small["b"]
    assert small.disk_peak == a.nbytes + b.nbytes + c.nbytes and small._disk_total == a.nbytes + c.nbytes


def test_frame_buffer_stores_a_grey_frame_once_for_grey_and_source():
    imgs = _images(30)
    buf = FrameBuffer(keep_source=True, ram_bytes=4 * imgs[0].nbytes)
    for i, img in enumerate(imgs):
        assert buf.append(i, i / 30, img) == i
    assert len(buf.store) == 30  # one image per frame although both grey and source are held
    buf.drop_before(20, source_from=12)
    assert buf.positions() == list(range(20, 30))
    assert [p for p in range(30) if buf.has_source(p)] == list(range(12, 30))
    assert len(buf.store) == 18 and buf.get(15) is None
    assert np.array_equal(buf.source(12), imgs[12]) and np.array_equal(buf.get(25), imgs[25])
    bgr = FrameBuffer(keep_source=True, ram_bytes=0)
    colour = _images(1, (36, 48, 3))[0]
    bgr.append(0, 0.0, colour)
    assert np.array_equal(bgr.source(0), colour) and bgr.get(0).shape == (36, 48)
    buf.close()
    bgr.close()
