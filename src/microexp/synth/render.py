"""Frame rendering: backward-warp the neutral face by the summed event fields, move the head, light, noise.

Per frame the cost is one small remap over the face box (only while something moves the face), one affine
warp of the whole frame (only when the head pose is not the identity), a gain and an add of pre-drawn noise:
about 5 ms at 640x480 on one core.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from microexp.synth.face import BaseFace
from microexp.synth.templates import apply_blink, eyelids
from microexp.synth.timeline import Event, profile

NOISE_BANK = 8


@dataclass
class Scene:
    """Everything the renderer needs; built by ``microexp.synth.generate``."""

    face: BaseFace
    box: tuple[int, int, int, int]
    fields: dict  # event index -> (h, w, 2) unit field over ``box``
    events: list[Event]
    pose: np.ndarray  # (n, 4): dx, dy, roll deg, scale
    gain: np.ndarray  # (n,)
    noise_seed: int
    noise_sigma: float
    fps: float
    watermark: bool = True


def active_lists(events: list[Event], n: int) -> list[list[int]]:
    act: list[list[int]] = [[] for _ in range(n)]
    for i, e in enumerate(events):
        for f in range(max(0, e.onset + 1), min(n, e.offset)):
            act[f].append(i)
    return act


def render(scene: Scene, n: int) -> Iterator[np.ndarray]:
    """Yield ``n`` BGR uint8 frames."""
    base = scene.face.image
    h, w = base.shape[:2]
    x0, y0, x1, y1 = scene.box
    gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    disp = np.zeros((y1 - y0, x1 - x0, 2), np.float32)
    centre = scene.face.landmarks.mean(0).astype(np.float64)
    rng = np.random.default_rng(scene.noise_seed)
    bank = None
    if scene.noise_sigma > 0:
        bank = [np.round(rng.standard_normal(base.shape) * scene.noise_sigma).astype(np.int16)
                for _ in range(NOISE_BANK)]
    active = active_lists(scene.events, n)
    lids = None
    for f in range(n):
        img = base
        closure = 0.0
        warped = False
        if active[f]:
            disp[:] = 0
            for i in active[f]:
                ev = scene.events[i]
                p = profile(ev, f, scene.fps)
                if p <= 0:
                    continue
                if ev.kind == "blink":
                    closure = max(closure, p * ev.amplitude_px)
                else:
                    cv2.scaleAdd(scene.fields[i], p * ev.amplitude_px, disp, dst=disp)
                    warped = True
        if warped:
            img = base.copy()
            img[y0:y1, x0:x1] = cv2.remap(base, gx - disp[..., 0], gy - disp[..., 1], cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REPLICATE)
        if closure > 0:
            lids = lids or eyelids(base, scene.face.landmarks)
            img = img.copy() if img is base else img
            apply_blink(img, lids, closure)
        dx, dy, roll, scale = scene.pose[f]
        if dx or dy or roll or scale != 1.0:
            M = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(roll), float(scale))
            M[0, 2] += dx
            M[1, 2] += dy
            img = cv2.warpAffine(img, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        g = float(scene.gain[f])
        if g != 1.0:
            img = cv2.convertScaleAbs(img, alpha=g)
        elif img is base:
            img = base.copy()
        if scene.watermark:
            _watermark(img)
        if bank is not None:
            k = int(rng.integers(NOISE_BANK * 4))
            noise = bank[k % NOISE_BANK] if k < NOISE_BANK else cv2.flip(bank[k % NOISE_BANK], k // NOISE_BANK - 2)
            img = cv2.add(img, noise, dtype=cv2.CV_8U)
        yield img


def _watermark(img: np.ndarray) -> None:
    """A static tag so nobody mistakes a frame for real footage."""
    h = img.shape[0]
    scale = max(0.3, h / 1200)
    cv2.putText(img, "SYNTHETIC", (6, h - 8), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
