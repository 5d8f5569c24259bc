"""The labels match what was rendered: motion inside labelled intervals, only distractors outside."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import cv2
import numpy as np
import pytest

from microexp.features import compute_flow
from microexp.synth import Distractors, generate, preset
from microexp.synth.generate import build_scene
from microexp.synth.render import render

SMALL = dict(width=320, height=240, face_px=110)


def _gray(frames):
    return [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]


def _busy(events, n):
    busy = np.zeros(n, bool)
    for e in events:
        busy[e.onset:e.offset + 1] = True
    return busy


def _stabilised(frames, scene):
    """Undo the rendered head pose (known exactly), so flow measures facial motion, as a spotter's alignment would."""
    c = scene.face.landmarks.mean(0).astype(float)
    out = []
    for f, img in enumerate(frames):
        dx, dy, roll, scale = scene.pose[f]
        M = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), float(roll), float(scale))
        M[0, 2] += dx
        M[1, 2] += dy
        out.append(cv2.warpAffine(img, cv2.invertAffineTransform(M), img.shape[1::-1], flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE))
    return out


@pytest.mark.parametrize("seed", [0, 3])
def test_flow_inside_labelled_intervals_exceeds_background(seed):
    """Default distractors on (blinks, head drift and turns, talking, light, noise), default resolution.

    Onset->apex flow in each labelled event's region must exceed the largest flow over the same lag between
    frames outside every event (noise, flicker, light drift: the background a spotter has to beat).
    """
    cfg = preset("casme_sq", seconds=7, seed=seed, min_me=2, min_mae=1)
    scene, labelled = build_scene(cfg)
    raw = _gray(render(scene, cfg.n_frames))
    frames = _stabilised(raw, scene)
    x0, y0, x1, y1 = scene.box
    busy = _busy(scene.events, cfg.n_frames)  # every event, distractors included
    assert sum(e.kind == "me" for e in labelled) >= 2 and any(e.kind == "mae" for e in labelled)
    assert np.abs(scene.pose[:, :3]).max() > 0.1, "head motion distractor missing"

    def roi_flow(a, b, roi):
        fl = compute_flow(frames[a][y0:y1, x0:x1], frames[b][y0:y1, x0:x1], "dis")
        return float(np.linalg.norm(fl, axis=-1)[roi].mean())

    for i, e in enumerate(scene.events):
        if not e.labelled:
            continue
        roi = np.linalg.norm(scene.fields[i], axis=-1) > 0.3
        lag = e.apex - e.onset
        quiet = [f for f in range(0, cfg.n_frames - lag) if not busy[f:f + lag + 1].any()]
        assert len(quiet) >= 10, "clip too busy to measure a background"
        picks = [quiet[j] for j in np.linspace(0, len(quiet) - 1, 10).astype(int)]
        background = max(roi_flow(f, f + lag, roi) for f in picks)
        signal = roi_flow(e.onset, e.apex, roi)
        assert signal > 2.0 * background, (e.kind, e.au, signal, background)


def test_outside_intervals_only_distractor_motion():
    """With every distractor off, frames outside labelled intervals are exactly the neutral face."""
    cfg = preset("casme_sq", seconds=5, seed=3, min_me=2, min_mae=1, distractors=Distractors.none(), **SMALL)
    frames, labels = generate(cfg)
    frames = list(frames)
    neutral = frames[0]
    inside = np.zeros(len(frames), bool)
    for r in labels.itertuples():
        inside[r.onset + 1:r.offset] = True  # onset and offset frames are neutral by definition
        assert np.abs(frames[r.apex].astype(int) - neutral.astype(int)).max() > 0, "apex shows no change"
    for f in np.flatnonzero(~inside):
        assert np.array_equal(frames[f], neutral), f"frame {f} moves outside every labelled interval"
    # and blinks and talking appear only inside their own (unlabelled) events
    cfg_b = cfg.with_(distractors=replace(Distractors.none(), blink_per_min=30.0, talk_per_min=30.0))
    scene, _ = build_scene(cfg_b)
    fr = list(render(scene, cfg_b.n_frames))
    busy = _busy(scene.events, cfg_b.n_frames)
    assert {"blink", "talk"} <= {e.kind for e in scene.events}
    for e in scene.events:
        if not e.labelled:
            moved = any(not np.array_equal(fr[f], fr[e.onset]) for f in range(e.onset, e.offset + 1))
            assert moved, f"{e.kind} at {e.onset} shows no change"
    still = np.flatnonzero(~busy)
    for f in still:
        assert np.array_equal(fr[f], fr[still[0]]), f"frame {f} moves outside every event"


def test_profile_peaks_at_apex():
    cfg = preset("casme_sq", seconds=4, seed=5, distractors=Distractors.none(), **SMALL)
    frames, labels = generate(cfg)
    frames = [f.astype(np.int16) for f in frames]
    for r in labels.itertuples():
        change = [np.abs(frames[f] - frames[r.onset]).sum() for f in range(r.onset, r.offset + 1)]
        assert int(np.argmax(change)) + r.onset == r.apex
        assert change[0] == 0 and change[-1] == 0


def test_same_seed_same_frames_and_labels():
    cfg = preset("casme_sq", seconds=2, seed=7, **SMALL)

    def digest(c):
        frames, labels = generate(c)
        h = hashlib.sha256()
        for f in frames:
            h.update(f.tobytes())
        return h.hexdigest(), labels

    a, la = digest(cfg)
    b, lb = digest(cfg)
    c, lc = digest(cfg.with_(seed=8))
    assert a == b and la.equals(lb)
    assert a != c


@pytest.mark.parametrize("name", ["casme_sq", "samm_lv"])
def test_frames_have_the_configured_size(name):
    cfg = preset(name, seconds=0.1, seed=0)
    frames, _ = generate(cfg)
    frames = list(frames)
    assert len(frames) == cfg.n_frames
    assert frames[0].shape == (cfg.height, cfg.width, 3) and frames[0].dtype == np.uint8
