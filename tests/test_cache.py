"""Crop cache: a second call does not decode, keys follow content and parameters, entries appear atomically."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from microexp.face.track import TrackConfig
from microexp.features import cache as cache_mod
from microexp.features.cache import MARKER, get_or_build_crops, video_digest

from conftest import shared_path


@pytest.fixture(scope="module")
def video():
    return shared_path("video", "single_face.mp4")


@pytest.fixture(scope="module")
def built(video, tmp_path_factory):
    d = tmp_path_factory.mktemp("cache")
    return d, get_or_build_crops(video, size=64, cache_dir=d)


def test_first_build_then_cache_hit_without_decoding(video, built, monkeypatch):
    d, first = built
    assert not first.from_cache and first.n_frames == 72 and first.crops.shape == (72, 64, 64)
    assert first.face.all() and first.crops.dtype == np.uint8 and first.crops.mean() > 20
    assert np.all(np.diff(first.time) > 0) and first.index.tolist() == list(range(72))

    def no_decode(*a, **k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(cache_mod, "VideoSource", no_decode)
    again = get_or_build_crops(video, size=64, cache_dir=d)
    assert again.from_cache and again.key == first.key
    np.testing.assert_array_equal(np.asarray(again.crops), np.asarray(first.crops))
    np.testing.assert_array_equal(again.transforms, first.transforms)


def test_parameters_change_the_key(video, built):
    d, first = built
    other = get_or_build_crops(video, size=32, cache_dir=d)
    assert other.key != first.key and other.crops.shape == (72, 32, 32)
    assert (d / "crops" / first.key / MARKER).is_file()


def test_incomplete_entry_is_rebuilt_and_no_temp_left(video, tmp_path):
    cfg = TrackConfig(size=32)
    key = cache_mod.cache_key(video_digest(video), None, cfg)
    broken = tmp_path / "crops" / key
    broken.mkdir(parents=True)
    (broken / "crops.u8").write_bytes(b"half")  # a crashed writer without the marker
    seq = get_or_build_crops(video, size=32, cache_dir=tmp_path)
    assert seq.n_frames == 72 and (broken / MARKER).is_file()
    assert [p.name for p in (tmp_path / "crops").iterdir()] == [key]


def test_folder_digest_follows_content(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    img = np.zeros((8, 8), np.uint8)
    cv2.imwrite(str(a / "img1.png"), img)
    d1 = video_digest(a)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    assert video_digest(b) == d1
    cv2.imwrite(str(b / "img1.png"), img + 1)
    assert video_digest(b) != d1


def test_no_face_frames_are_marked_not_invented():
    """A face for 12 frames, then an empty grey scene: the lost frames are flagged and left blank."""
    from skimage import data

    from microexp.face.track import track_crops
    from microexp.io.video import Frame

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    empty = np.full_like(face, 120)
    frames = [Frame(i, i / 10, face if i < 12 else empty) for i in range(20)]
    out = list(track_crops(iter(frames), 10.0, TrackConfig(size=32, check_s=0.2)))
    assert [f.index for f in out] == list(range(20))
    face_mask = np.array([f.face for f in out])
    assert face_mask[:11].all() and not face_mask[12:].any()
    assert not any(f.crop.any() for f in out if not f.face)  # no-face crops are zeros
    assert all((f.transform == 0).all() for f in out if not f.face)
    assert all(f.crop.std() > 5 for f in out if f.face)
