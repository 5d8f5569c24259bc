"""The crop cache is keyed by content and parameters (never by path or time), a damaged entry is rebuilt,
and a short training run repeated with the same seed gives the same weights bit for bit.

Clips are made here from scikit-image's astronaut; nothing from ../shared.
"""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest
import torch
from robust_helpers import Case, canvas, face_image, invoke, paste, write_clip

from microexp.face.track import TrackConfig
from microexp.features import cache as cache_mod
from microexp.features.cache import MARKER, get_or_build_crops

pytestmark = [pytest.mark.xdist_group("robust_cache_seed"), pytest.mark.usefixtures("one_torch_thread")]

FACE = face_image()


def frame(i: int, shift: int = 0) -> np.ndarray:
    return paste(canvas(seed=i % 3), FACE, 20 + i % 2 + shift, 0, 0.75)


# ---- cache keys ---------------------------------------------------------------------------------------------------

def _clip(tmp, name="clip.mp4", shift=0):
    return write_clip(tmp / name, 8, lambda i: frame(i, shift))


def _folder(tmp, name="frames"):
    d = tmp / name
    d.mkdir()
    for i in range(6):
        cv2.imwrite(str(d / f"img{i + 1}.png"), frame(i))
    return d


# Case.build(tmp, video, cache) changes something and returns the (video, get_or_build_crops kwargs) to look up.
def c_same(tmp, video, cache):
    return video, {}


def c_touch(tmp, video, cache):
    st = video.stat()
    os.utime(video, ns=(st.st_atime_ns + 10**10, st.st_mtime_ns + 10**10))
    return video, {}


def c_copy(tmp, video, cache):
    other = tmp / "elsewhere" / "renamed.mp4"
    other.parent.mkdir()
    shutil.copy(video, other)
    return other, {}


def c_size(tmp, video, cache):
    return video, {"size": 24}


def c_fps(tmp, video, cache):
    return video, {"fps": 60.0}


def c_track(tmp, video, cache):
    return video, {"config": TrackConfig(size=32, check_s=0.4)}


def c_content(tmp, video, cache):
    _clip(tmp, video.name, shift=4)  # the same file name, new frames
    return video, {}


def c_folder_image(tmp, video, cache):
    d = tmp / "frames"
    # other pixels, not a shift: the crops follow the face, so a shifted face gives the same crop
    cv2.imwrite(str(d / "img3.png"), np.clip(frame(3).astype(np.int16) + 40, 0, 255).astype(np.uint8))
    return d, {"fps": 30.0}


def c_folder_rename(tmp, video, cache):
    d = tmp / "frames"
    (d / "img6.png").rename(d / "img7.png")  # same pixels, another frame number
    return d, {"fps": 30.0}


def c_no_marker(tmp, video, cache):
    for entry in (cache / "crops").iterdir():
        (entry / MARKER).unlink()
    return video, {}


def c_truncated_entry(tmp, video, cache):
    for entry in (cache / "crops").iterdir():
        data = (entry / "crops.u8").read_bytes()
        (entry / "crops.u8").write_bytes(data[: len(data) // 2])
    return video, {}


def c_corrupt_meta(tmp, video, cache):
    for entry in (cache / "crops").iterdir():
        (entry / "meta.npz").write_bytes(b"PK\x03\x04 not a zip any more")
    return video, {}


CACHE_CASES = [
    Case("same-video-same-parameters", "the same video and parameters again",
         "Cache hit: no decoding, identical crops."),
    Case("touched", "the video's modification time changed, bytes unchanged",
         "Cache hit: keys are content hashes (BLAKE2b of the bytes), never times."),
    Case("copied-elsewhere", "a byte-identical copy under another name and folder",
         "Cache hit: keys never depend on the path."),
    Case("crop-size-changed", "`size` 32 -> 24", "New entry (the key covers every tracking parameter)."),
    Case("fps-changed", "`fps` None -> 60", "New entry."),
    Case("tracking-parameter-changed", "`TrackConfig.check_s` 0.2 -> 0.4", "New entry."),
    Case("video-content-changed", "the file rewritten with other frames under the same name",
         "New entry; the new crops differ from the old."),
    Case("frame-image-changed", "one image of a frame folder replaced", "New entry."),
    Case("frame-renamed", "a frame file renamed (`img6.png` -> `img7.png`), same pixels",
         "New entry (file names are part of a folder's hash: they number the frames)."),
    Case("entry-without-marker", "an entry whose `COMPLETE` marker is missing (a writer that died)",
         "Never read: rebuilt, then marked complete."),
    Case("entry-truncated", "a finished entry whose `crops.u8` was cut in half afterwards",
         "Detected (size does not match `info.json`), removed and rebuilt; never read as crops."),
    Case("entry-meta-corrupt", "a finished entry whose `meta.npz` is garbage",
         "Detected, removed and rebuilt."),
]
BUILD = {"same-video-same-parameters": c_same, "touched": c_touch, "copied-elsewhere": c_copy,
         "crop-size-changed": c_size, "fps-changed": c_fps, "tracking-parameter-changed": c_track,
         "video-content-changed": c_content, "frame-image-changed": c_folder_image,
         "frame-renamed": c_folder_rename, "entry-without-marker": c_no_marker,
         "entry-truncated": c_truncated_entry, "entry-meta-corrupt": c_corrupt_meta}
HIT = {"same-video-same-parameters", "touched", "copied-elsewhere"}
REBUILT_SAME_KEY = {"entry-without-marker", "entry-truncated", "entry-meta-corrupt"}


@pytest.mark.parametrize("case", CACHE_CASES, ids=lambda c: c.id)
def test_cache_keyed_by_content_and_parameters(case, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    folder = case.id.startswith("frame-")
    video = _folder(tmp_path) if folder else _clip(tmp_path)
    kw0 = {"fps": 30.0} if folder else {}
    first = get_or_build_crops(video, size=32, cache_dir=cache, **kw0)
    crops0 = np.array(first.crops)
    assert not first.from_cache and first.face.all()

    target, kw = BUILD[case.id](tmp_path, video, cache)
    size = kw.pop("size", 32)
    decoded = []
    real = cache_mod.VideoSource

    def counting(*a, **k):
        decoded.append(a[0])
        return real(*a, **k)

    monkeypatch.setattr(cache_mod, "VideoSource", counting)
    again = get_or_build_crops(target, size=size, cache_dir=cache, **kw)
    entries = sorted(p.name for p in (cache / "crops").iterdir())
    assert all(not n.startswith(".") for n in entries)  # no temp folder left behind
    if case.id in HIT:
        assert again.from_cache and again.key == first.key and decoded == []
        np.testing.assert_array_equal(np.asarray(again.crops), crops0)
    elif case.id in REBUILT_SAME_KEY:
        assert not again.from_cache and again.key == first.key and len(decoded) == 1
        assert entries == [first.key] and (cache / "crops" / first.key / MARKER).is_file()
        np.testing.assert_array_equal(np.asarray(again.crops), crops0)  # rebuilt, the same as before
        assert get_or_build_crops(target, size=size, cache_dir=cache, **kw).from_cache  # and now a hit
    else:
        assert not again.from_cache and again.key != first.key and len(decoded) == 1
        assert len(entries) == 2
        if case.id in ("video-content-changed", "frame-image-changed"):
            assert not np.array_equal(np.asarray(again.crops), crops0)


# ---- deterministic seeds ------------------------------------------------------------------------------------------

def _htnet(root):
    flow_dir = root / "datasets" / "STSNet_whole_norm_u_v_os"
    flow_dir.mkdir(parents=True)
    rng = np.random.default_rng(1)
    lines = ["dataset,sub,filename_o,label,apex,imagename,sub_filename"]
    for ds, sub in (("casme2", "sub01"), ("samm", "006"), ("smic", "s01")):
        for k in range(6):
            clip, label = f"{sub}_c{k}", k % 3
            img = (rng.random((28, 28, 3)) * 160).astype(np.uint8)
            img[:, :, 2 - label] += 60
            cv2.imwrite(str(flow_dir / f"{sub}_{clip} .png"), img)
            lines.append(f"{ds},{sub},{clip},{label},,{sub}_{clip}.jpg,")
    (root / "combined_3_class2_for_optical_flow.csv").write_text("\n".join(lines) + "\n")
    return root


def _state(path):
    ck = torch.load(path, weights_only=False)
    return ck["state_dict"], ck["meta"]["final_loss"]


SEED_CASES = [
    Case("train-recognizer-twice", "`microexp train recognizer --seed 5` run twice on the same data",
         "Bit-identical weights (every tensor equal) and the same final loss; `--seed 6` gives other weights, "
         "so the comparison can fail."),
    Case("loso-and-train-spotter", "`microexp loso` / `microexp train spotter`, uninterrupted vs interrupted "
         "and resumed in another process", "Identical fold predictions, final losses and spotter weights "
         "(see the interrupted-work cases): every fold is seeded from (seed, held-out subject)."),
]


def test_train_recognizer_is_deterministic(tmp_path):
    data = f"composite-flow:{_htnet(tmp_path / 'htnet')}"
    outs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        out = tmp_path / f"{name}.pt"
        res = invoke(["train", "recognizer", "--model", "ststnet", "--data", data, "--out", out, "--epochs", "3",
                      "--seed", seed])
        assert res.exit_code == 0, res.output
        outs[name] = _state(out)
    (a, loss_a), (b, loss_b), (c, loss_c) = outs["a"], outs["b"], outs["c"]
    assert a and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert loss_a == loss_b
    assert not all(torch.equal(a[k], c[k]) for k in a) and loss_a != loss_c
