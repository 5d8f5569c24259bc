"""OF-FD's per-frame measurement: ROI layout on the reference frame, head-motion alignment, ROI flows.

A ``WindowTracker`` turns one window's frames into channel displacements against the window's first frame.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from microexp.errors import ConfigError
from microexp.face.align import apply_to_points, crop_transform, warp
from microexp.face.landmarks import BROW_L, BROW_R, RIGID, FaceBox, LandmarkDetector, half_inner_canthal
from microexp.face.landmarks import MOUTH as LM_MOUTH
from microexp.face.motion import MODES, compose, head_motion
from microexp.face.track import find_face, verify_near
from microexp.features.flow import compute_flow, top_p_mean
from microexp.spotting.offd_config import BROW, MOUTH, NOSE, NOSE_WINGS, OFFDConfig


@dataclass(frozen=True)
class Channel:
    name: str
    group: str
    box: int  # index into the box list
    rows: tuple[int, int]  # slice within the box's flow
    cols: tuple[int, int]
    top_p: float


@dataclass(frozen=True)
class RoiLayout:
    boxes: list[tuple[int, int, int, int]]  # (r0, r1, c0, c1) in crop px, half-open
    channels: list[Channel]
    anchors: np.ndarray  # (k, 2) rigid landmarks in crop px: where head motion is measured
    crop_size: tuple[int, int]

    def rigid_region(self, margin: int) -> tuple[int, int, int, int]:
        """(r0, r1, c0, c1) around the rigid anchors, ``margin`` px wider, inside the crop."""
        w, h = self.crop_size
        (x0, y0), (x1, y1) = self.anchors.min(0) - margin, self.anchors.max(0) + margin
        return _clip_box(y0, y1, x0, x1, h, w)

    def corners(self) -> np.ndarray:
        """(4·boxes, 2) corners (x, y) of the ROI boxes: the extent over which head motion must be undone."""
        return np.array([(c, r) for r0, r1, c0, c1 in self.boxes for r in (r0, r1) for c in (c0, c1)],
                        dtype=np.float64)


def _clip_box(r0, r1, c0, c1, h, w):
    r0, r1 = int(np.clip(round(r0), 0, h - 2)), int(np.clip(round(r1), 1, h))
    c0, c1 = int(np.clip(round(c0), 0, w - 2)), int(np.clip(round(c1), 1, w))
    return r0, max(r1, r0 + 2), c0, max(c1, c0 + 2)


def roi_layout(lm: np.ndarray, cfg: OFFDConfig) -> RoiLayout:
    """ROI boxes and channels from landmarks in crop coordinates (spec §3.4)."""
    s = cfg.scale()
    w, h = cfg.crop.size
    x, y = lm[:, 0], lm[:, 1]

    def bbox(idx):
        idx = list(idx)
        return x[idx].min(), x[idx].max(), y[idx].min(), y[idx].max()

    boxes, channels = [], []

    def add_box(r0, r1, c0, c1):
        boxes.append(_clip_box(r0, r1, c0, c1, h, w))
        return len(boxes) - 1

    def sub(name, group, b, centre, rows, cols, p):
        r0, _, c0, _ = boxes[b]
        rr = (int(round(y[centre] + rows[0] * s - r0)), int(round(y[centre] + rows[1] * s - r0)))
        cc = (int(round(x[centre] + cols[0] * s - c0)), int(round(x[centre] + cols[1] * s - c0)))
        channels.append(Channel(name, group, b, rr, cc, p))

    def whole(name, group, b, p):
        r0, r1, c0, c1 = boxes[b]
        m = int(round(10 * s))
        channels.append(Channel(name, group, b, (m, max(m + 1, r1 - r0 - m)), (m, max(m + 1, c1 - c0 - m)), p))

    pa, pb, pm, pn = cfg.top_p_subs
    wa, wb, wm = cfg.top_p_whole
    x0, x1, y0, y1 = bbox(BROW_R)
    ba = add_box(y0 - 15 * s, y1 + 5 * s, x0 - 5 * s, x1)
    x0, x1, y0, y1 = bbox(BROW_L)
    bb = add_box(y0 - 15 * s, y1 + 5 * s, x0, x1)
    x0, x1, y0, y1 = bbox(LM_MOUTH)
    bm = add_box(y0 - 15 * s, y1 + 10 * s, x0 - 20 * s, x1 + 20 * s)
    x0, x1, y0, y1 = bbox(NOSE_WINGS)
    bn = add_box(y0 - 20 * s, y1 + 5 * s, x0 - 30 * s, x1 + 30 * s)
    use_subs = cfg.channels in ("subs", "all")
    use_whole = cfg.channels in ("whole", "all")
    if use_whole:
        whole("browA", BROW, ba, wa)
    if use_subs:
        for c in (20, 19, 18):
            sub(f"browA_{c}", BROW, ba, c, (-10, 10), (-10, 10), pa)
    if use_whole:
        whole("browB", BROW, bb, wb)
    if use_subs:
        for c in (23, 24, 25):
            sub(f"browB_{c}", BROW, bb, c, (-10, 10), (-10, 10), pb)
    if use_whole:
        whole("mouth", MOUTH, bm, wm)
    if use_subs:
        sub("mouth_48", MOUTH, bm, 48, (-10, 10), (-10, 20), pm)
        sub("mouth_54", MOUTH, bm, 54, (-10, 10), (-20, 10), pm)
        for c in (51, 57, 62):
            sub(f"mouth_{c}", MOUTH, bm, c, (-10, 10), (-10, 10), pm)
    # nose wings: sub-ROIs in every variant (the whole-region variant uses them as its nose channels)
    sub("nose_31", NOSE, bn, 31, (-20, 5), (-20, 10), pn)
    sub("nose_35", NOSE, bn, 35, (-20, 5), (-10, 20), pn)
    return RoiLayout(boxes, channels, lm[list(RIGID)].astype(np.float32), (w, h))


def _channel_vectors(flows: list[np.ndarray], layout: RoiLayout) -> np.ndarray:
    out = np.zeros((len(layout.channels), 2), dtype=np.float32)
    for i, ch in enumerate(layout.channels):
        f = flows[ch.box]
        r0, r1 = max(0, ch.rows[0]), min(f.shape[0], ch.rows[1])
        c0, c1 = max(0, ch.cols[0]), min(f.shape[1], ch.cols[1])
        patch = f[r0:max(r1, r0 + 1), c0:max(c1, c0 + 1)]
        out[i] = top_p_mean(patch, ch.top_p)
    return out


def _roi_displacement(cfg: OFFDConfig, track: Track, crop: np.ndarray, g: np.ndarray) -> np.ndarray:
    """One aligned crop's channel displacement magnitudes (ROI flows against the reference patches)."""
    jobs = [(ref, crop[a:b, c:d]) for ref, (a, b, c, d) in zip(track.ref_patches, track.layout.boxes)]
    if cfg.photometric:
        jobs = [(ref, match_brightness(cur, ref)) for ref, cur in jobs]
    flows = [compute_flow(a, b, cfg.flow_method, cfg.flow) for a, b in jobs]
    vec = _channel_vectors(flows, track.layout)
    return np.linalg.norm(vec - g[None, :], axis=1)


def match_brightness(patch: np.ndarray, ref: np.ndarray, region: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """``patch`` with the mean and contrast of ``ref`` (measured over ``region`` = (r0, r1, c0, c1) when
    given): flow and LK assume constant brightness, and a 15 % gain change of a still real face read as
    3 px of motion without this."""
    p = patch.astype(np.float32)
    a, b = (p, ref) if region is None else (p[region[0]:region[1], region[2]:region[3]],
                                            ref[region[0]:region[1], region[2]:region[3]])
    sd = float(a.std())
    if sd < 1e-3:
        return patch
    # the float32 mapping of each grey level, applied as a table: the very values the elementwise
    # arithmetic gives (the same float32 operations, in the same order), in one pass over the pixels
    out = (GREY_LEVELS - float(a.mean())) * (float(b.std()) / sd) + float(b.mean())
    return cv2.LUT(patch, np.clip(out + 0.5, 0, 255).astype(np.uint8))


GREY_LEVELS = np.arange(256, dtype=np.float32)


@dataclass
class Track:
    """The face tracked through one window: crop transform and ROI layout fixed on its reference frame."""

    M: np.ndarray  # current source → crop transform (follows the head)
    M0: np.ndarray  # the reference frame's transform
    layout: RoiLayout
    ref_crop: np.ndarray
    ref_patches: list[np.ndarray]
    box: FaceBox  # on the reference frame
    u: float
    landmarks: np.ndarray  # (68, 2) source px on the reference frame

    @property
    def box_center(self) -> tuple[float, float]:
        return self.box.center


class WindowTracker:
    """Per-frame ROI displacement against a window's reference frame, with head-motion re-alignment."""

    def __init__(self, cfg: OFFDConfig, detector: LandmarkDetector, threads: int = 2):
        if cfg.align not in MODES:
            raise ConfigError(f"unknown OF-FD align mode {cfg.align!r}; choose one of {', '.join(MODES)}")
        self.cfg = cfg
        self.det = detector
        # OpenCV releases the GIL: ROI flows of successive frames run in worker threads (``measure_async``)
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None
        self.lk_win = int(round(15 * cfg.crop.px_per_u / 32.0)) * 2 + 1  # 31 px at 32 px per u

    def start(self, gray: np.ndarray, near: tuple[float, float] | None = None) -> Track | None:
        found = find_face(self.det, gray, near)
        if found is None:
            return None
        box, lm = found
        M = crop_transform(lm, self.cfg.crop)
        crop = warp(gray, M, self.cfg.crop.size)
        lm_crop = apply_to_points(M, lm)
        again = self.det.find(crop, near=(crop.shape[1] / 2, crop.shape[0] / 2))
        if again is not None and again[0].width > 0.4 * crop.shape[1]:
            lm_crop = again[1]  # landmarks re-detected on the crop define the ROIs (spec §3.3)
        layout = roi_layout(lm_crop, self.cfg)
        patches = [crop[r0:r1, c0:c1] for r0, r1, c0, c1 in layout.boxes]
        return Track(M, M.copy(), layout, crop, patches, box, half_inner_canthal(lm), lm)

    def _warp(self, track: Track, gray: np.ndarray) -> np.ndarray:
        crop = warp(gray, track.M, self.cfg.crop.size)
        if not self.cfg.photometric:
            return crop
        # gain and offset from the rigid region only: an open mouth or raised brows must not change them
        return match_brightness(crop, track.ref_crop, track.layout.rigid_region(self.lk_win // 2))

    def align(self, track: Track, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Re-warp the crop until the head's rigid points sit where they were on the reference frame.

        Returns (crop, residual): the residual translation is measured on the very crop returned (the
        reference code shifted once more after its last measurement and subtracted a stale vector).
        The window follows the head (``track.M`` persists across frames), so a still head costs one
        measurement per frame and a moving one a re-warp whenever it has moved by the trigger.
        """
        cfg = self.cfg
        crop = self._warp(track, gray)
        trigger = cfg.align_trigger_px * cfg.scale()
        corners = track.layout.corners()
        for attempt in range(cfg.align_passes + 1):
            hm = head_motion(track.ref_crop, crop, track.layout.anchors, cfg.align, self.lk_win, corners)
            if not hm.ok or hm.size <= trigger or attempt == cfg.align_passes:
                return crop, hm.residual
            # A maps the current crop onto the reference: applying it after M brings the content back
            # (the reference code moved the window by −g, i.e. the content by +g: the motion doubled).
            track.M = compose(hm.A, track.M)
            crop = self._warp(track, gray)
        return crop, np.zeros(2, np.float32)  # unreachable: the loop returns on its last attempt

    def measure(self, track: Track, gray: np.ndarray) -> np.ndarray:
        """Channel displacement magnitudes for one frame; updates the track's crop transform."""
        return self.measure_async(track, gray)()

    def measure_async(self, track: Track, gray: np.ndarray) -> Callable[[], np.ndarray]:
        """``measure`` in two halves: the alignment now, the ROI flows later; call the result for the values.

        Only the alignment is sequential (the crop transform carries over to the next frame); with a pool,
        this frame's flows run in a worker while the caller aligns the next frames (OpenCV releases the
        GIL), so both cores stay busy. The values are the very same as ``measure``'s.
        """
        crop, g = self.align(track, gray)
        self.last_residual = g
        if self.pool is None:
            vals = _roi_displacement(self.cfg, track, crop, g)
            return lambda: vals
        return self.pool.submit(_roi_displacement, self.cfg, track, crop, g).result

    def still_there(self, track: Track, gray: np.ndarray) -> FaceBox | None:
        """The tracked face near its current place (the shared cheap check), or None when it is gone."""
        # where the reference box centre is now: through the reference transform into the crop, and back
        # out through the current one (which follows the head)
        q = apply_to_points(track.M0, np.array([track.box.center]))
        cx, cy = apply_to_points(cv2.invertAffineTransform(track.M), q)[0]
        return verify_near(self.det, gray, (float(cx), float(cy)), float(track.box.width))
