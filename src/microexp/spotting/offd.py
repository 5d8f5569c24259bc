"""OF-FD: the training-free optical-flow spotter (He et al., PRL 2022; Yu/Cai MEGC2022 code lineage).

Windows of ≈6.7 s share one reference frame (their first). Per frame, Farneback flow of small landmark ROIs
against the reference, minus the nose-tip motion, gives one displacement curve per ROI. Each curve is
low-passed, detrended (EMD), thresholded with a local-prominence test, grown to ≈1/3 of the peak and the
channels are union-merged. Constants live in seconds and in canonical crop pixels (``px_per_u`` per half
inner-canthal distance), so the spotter is frame-rate and face-size free. See ``../shared/specs/offd.md``;
the reference-code bugs listed in its §3.14 are fixed here, not copied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial

import cv2
import numpy as np

from microexp.errors import ConfigError
from microexp.face.align import CropSpec, apply_to_points, crop_transform, warp
from microexp.face.landmarks import BROW_L, BROW_R, RIGID, LandmarkDetector, half_inner_canthal
from microexp.face.landmarks import MOUTH as LM_MOUTH
from microexp.face.motion import MODES, compose, head_motion
from microexp.features.flow import FarnebackParams, compute_flow, top_p_mean
from microexp.spotting.postprocess import merge_overlapping, runs

# Channel groups; thresholds T2 are set per group.
BROW, MOUTH, NOSE = "brow", "mouth", "nose"
NOSE_WINGS = range(30, 36)  # the reference code's nose-wing box: the tip (30) and the nose base


@dataclass(frozen=True)
class OFFDConfig:
    """Defaults = the S1 CAS(ME)^3 code path (MEGC2022 winner); every pixel value is in canonical crop px."""

    name: str = "offd_cas_megc2022"
    work_rate_hz: float = 30.0
    window_s: float = 200 / 30
    hop_s: float = 100 / 30
    crop: CropSpec = CropSpec()
    flow: FarnebackParams = FarnebackParams()
    flow_method: str = "farneback"
    align: str = "similarity"  # head-motion model fitted to the rigid landmarks: "similarity" | "translation"
    align_trigger_px: float = 0.25  # re-warp when head motion moves any ROI corner by more (see docs)
    align_passes: int = 3
    channels: str = "subs"  # "subs" (13 sub-ROIs), "whole" (5 whole regions) or "all" (16)
    top_p_whole: tuple[float, float, float] = (0.2, 0.3, 0.3)  # brow A, brow B, mouth
    top_p_subs: tuple[float, float, float, float] = (0.2, 0.3, 0.2, 0.2)  # brow A, brow B, mouth, nose
    lowpass_hz: float = 2.0
    detrend: str = "emd"  # "emd" | "none"
    t1: float = 1.6
    t2: dict = field(default_factory=lambda: {BROW: 2.0, MOUTH: 2.05, NOSE: 2.3})
    td: float = 0.5
    local_min_radius_s: float = 1.0
    run_gap_s: float = 0.1
    grow_fraction: float = 0.33
    cliff_px: float = 0.3
    cliff_span_s: float = 1 / 3
    split: bool = False
    split_min_len_s: float = 20 / 30
    split_margin_s: float = 8 / 30
    split_depth_px: float = 0.7
    fuse_overlap: float = 0.2
    min_len_s: float = 0.40
    max_len_s: float | None = 200 / 30
    echo_suppress: bool = True
    echo_gap_s: float = 0.5
    echo_min_len_s: float = 0.5
    me_mae_split_s: float = 0.5
    face_check_s: float = 0.2  # how often the tracked face is verified (marks no-face frames)
    adaptive_scale: bool = False  # microexp extension: scale thresholds by the video's own noise level
    constants_px_per_u: float = 32.0  # crop resolution at which the preset's pixel constants were set

    def frames(self, seconds: float, rate: float) -> int:
        return max(1, int(round(seconds * rate)))

    def scale(self) -> float:
        """Pixel constants are stored as set on their source's crop (CAS 256 px / 8 u = 32 px per u, SAMM
        320 px / 9 u = 35.6 px per u); this converts them to the crop in use."""
        return self.crop.px_per_u / self.constants_px_per_u


PRESETS: dict[str, OFFDConfig] = {
    "offd_cas_megc2022": OFFDConfig(),
    "offd_samm_megc2022": OFFDConfig(
        name="offd_samm_megc2022", crop=CropSpec((-4.5, 4.5), (-3.5, 5.5), 320 / 9), constants_px_per_u=320 / 9,
        channels="whole", lowpass_hz=5.0, t1=1.3, t2={BROW: 1.55, MOUTH: 1.4, NOSE: 1.4}, td=0.8, min_len_s=0.35, max_len_s=None,
        echo_suppress=False),
    "offd_casme2_he": OFFDConfig(
        name="offd_casme2_he", channels="all", lowpass_hz=5.0, t1=1.4, t2={BROW: 1.925, MOUTH: 1.85, NOSE: 2.10},
        td=0.8, split=True, fuse_overlap=0.1, echo_suppress=False),
    "offd_sammlv_he": OFFDConfig(
        name="offd_sammlv_he", crop=CropSpec((-4.5, 4.5), (-3.5, 5.5), 320 / 9), constants_px_per_u=320 / 9, channels="all",
        lowpass_hz=5.0,
        t1=1.4, t2={BROW: 1.65, MOUTH: 1.5, NOSE: 1.5}, td=0.8, split=True, fuse_overlap=0.34, min_len_s=0.35,
        max_len_s=None, echo_suppress=False),
}
PRESET_ALIASES = {"default": "offd_cas_megc2022", "casme_sq": "offd_casme2_he", "samm_lv": "offd_sammlv_he",
                  "cas": "offd_cas_megc2022", "samm": "offd_samm_megc2022"}


def get_preset(name: str) -> OFFDConfig:
    key = PRESET_ALIASES.get(name, name)
    if key not in PRESETS:
        raise ConfigError(f"unknown OF-FD preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    return PRESETS[key]


# ---------------------------------------------------------------------------------------------------------
# ROI geometry (canonical px at 32 px per u, scaled by cfg.scale())


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


# ---------------------------------------------------------------------------------------------------------
# Temporal processing of one channel (spec §3.8–3.9)


def ideal_lowpass(x: np.ndarray, cutoff_hz: float, rate_hz: float) -> np.ndarray:
    """Zero FFT bins from the one nearest ``cutoff_hz`` up to its mirror, then |ifft| (as the reference does)."""
    n = x.size
    spec = np.fft.fft(x)
    b = int(round(cutoff_hz * n / rate_hz))
    if 0 < b < n - b:
        spec[b:n - b] = 0
    return np.abs(np.fft.ifft(spec))


def emd_detrend(y: np.ndarray) -> np.ndarray:
    """Signal minus its EMD residue (PyEMD appends the residue as its last row)."""
    try:
        from PyEMD import EMD

        imfs = EMD().emd(y, np.arange(y.size, dtype=float))
    except Exception:  # noqa: BLE001 - EMD can fail on degenerate signals; fall back to mean removal
        return y - y.mean()
    if imfs.ndim != 2 or imfs.shape[0] < 2:
        return y - y.mean()
    return imfs[:-1].sum(axis=0)


def window_floor(y: np.ndarray, radius: int) -> np.ndarray:
    """``min(y[max(0, j - radius):j + radius])`` for every j, vectorised (the window the reference uses)."""
    pad = np.full(radius, np.inf)
    yp = np.concatenate([pad, y, pad])
    return np.lib.stride_tricks.sliding_window_view(yp, 2 * radius).min(axis=1)[: y.size]


def detect_channel(y: np.ndarray, d, t1: float, t2: float, td: float, radius: int,
                   gap: int) -> list[tuple[int, int]]:
    """Candidates ≥ T1, prominence test over ±radius on the signal (T2) and its detrended copy (Td).

    ``d`` may be a callable returning the detrended copy: EMD is the slowest step after flow, and most
    channels of most windows have no candidate at all, so it is computed only when one passes T2.
    """
    ys = y - y.min()
    cand = np.nonzero(ys >= t1)[0]
    keep = []
    n = ys.size
    for s, e in runs(cand, gap):
        for j in range(s, e + 1):  # the reference code skipped each run's last frame: fixed
            lo, hi = max(0, j - radius), min(n, j + radius)
            if ys[j] - ys[lo:hi].min() > t2:
                if callable(d):
                    d = d()
                if d[j] - d[lo:hi].min() > td:
                    keep.append(j)
    return runs(keep, gap)


def grow(y: np.ndarray, s: int, e: int, cfg_frac: float, radius: int, cliff: float, span: int) -> tuple[int, int]:
    """Boundary growth (``expend``): extend the core to where the bump falls below ≈1/3 of its prominence."""
    n = y.size
    high = float(y[s:e + 1].max())
    # onset
    lo, hi = max(0, s - radius), min(n, s + radius)
    imin = lo + int(np.argmin(y[lo:hi]))
    vmin = float(y[imin])
    onset = s
    if imin < s:
        onset = imin
        for j in range(s - 1, imin - 1, -1):
            if y[j] - vmin < cfg_frac * (high - vmin):
                onset = j
                break
            if y[j] > y[j + 1]:
                onset = min(j + 2, s)
                break
    else:
        a = max(0, s - span)
        k = a + int(np.argmin(y[a:s + 1]))
        if y[s] - y[k] > cliff:
            onset = min(k + 1, s)
    # offset
    lo, hi = max(0, e - radius + 1), min(n, e + radius + 1)
    imin = lo + int(np.argmin(y[lo:hi]))
    vmin = float(y[imin])
    offset = e
    if imin > e:
        offset = imin
        for j in range(e + 1, imin + 1):
            if y[j] - vmin < cfg_frac * (high - vmin):
                offset = j
                break
            if y[j] > y[j - 1]:
                offset = max(j - 2, e)
                break
    else:
        b = min(n, e + span + 1)
        k = e + int(np.argmin(y[e:b]))
        if y[e] - y[k] > cliff:
            offset = max(k - 1, e)
    return int(onset), int(max(offset, onset))


def split_interval(y: np.ndarray, on: int, off: int, min_len: int, margin: int, depth: float) -> list[tuple[int, int]]:
    """S2's ``divide``: cut an interval at a deep valley between two peaks."""
    if off - on < min_len or off - margin <= on + margin:
        return [(on, off)]
    v = on + margin + int(np.argmin(y[on + margin:off - margin]))
    left, right = float(y[on:v].max()) if v > on else 0.0, float(y[v + 1:off + 1].max()) if v < off else 0.0
    if left - y[v] > max(depth, 0.33 * left) and right - y[v] > max(depth, 0.33 * right):
        return [(on, v - 1), (v + 1, off)]
    return [(on, off)]


@dataclass
class WindowResult:
    start: int  # processed-frame index of the reference
    length: int
    signals: np.ndarray  # (n_channels, length) raw displacement per channel (reference = 0)
    filtered: np.ndarray  # (n_channels, length) low-passed; NaN at the trimmed ends
    score: np.ndarray  # (length,) max over channels of (filtered − local floor) / T2
    spans: list[tuple[int, int]]  # window-relative fused intervals


def analyse_window(signals: np.ndarray, groups: list[str], cfg: OFFDConfig, rate: float,
                   thresholds: tuple[float, dict, float] | None = None) -> tuple[list[tuple[int, int]],
                                                                                np.ndarray, np.ndarray]:
    """Detect intervals in one window's channel curves; returns (window-relative spans, filtered, score)."""
    c, n = signals.shape
    filtered = np.full((c, n), np.nan)
    score = np.zeros(n)
    if n < 8:
        return [], filtered, score
    t1, t2s, td = thresholds or (cfg.t1, cfg.t2, cfg.td)
    s = cfg.scale()
    radius = cfg.frames(cfg.local_min_radius_s, rate)
    gap = cfg.frames(cfg.run_gap_s, rate)
    span = cfg.frames(cfg.cliff_span_s, rate)
    spans: list[tuple[int, int]] = []
    for ch in range(c):
        x = signals[ch, 1:-1]
        y = ideal_lowpass(x, cfg.lowpass_hz, rate)
        if cfg.detrend == "emd":
            d = partial(emd_detrend, y)
        else:
            d = y - y.mean()
        filtered[ch, 1:-1] = y
        t2 = t2s[groups[ch]] * s
        floor = window_floor(y, radius)
        score[1:-1] = np.maximum(score[1:-1], (y - floor) / t2)
        for cs, ce in detect_channel(y, d, t1 * s, t2, td * s, radius, gap):
            on, off = grow(y, cs, ce, cfg.grow_fraction, radius, cfg.cliff_px * s, span)
            parts = [(on, off)]
            if cfg.split:
                parts = split_interval(y, on, off, cfg.frames(cfg.split_min_len_s, rate),
                                       cfg.frames(cfg.split_margin_s, rate), cfg.split_depth_px * s)
            spans.extend((a + 1, b + 1) for a, b in parts)  # trimmed sample i is window frame i + 1
    return merge_overlapping(spans, cfg.fuse_overlap), filtered, score


def next_hop(spans: list[tuple[int, int]], length: int, default: int) -> int:
    """Adaptive hop: never start the next window (its reference) inside an expression (spec §3.2)."""
    mid = 0.5 * length
    straddling = [sp for sp in spans if sp[0] < mid < sp[1]]
    if not straddling:
        return default
    on, off = max(straddling, key=lambda sp: sp[1])  # the reference took the last in loop order: use the latest end
    if off < 0.75 * length:
        move = off + 0.1 * length
    elif on > 0.25 * length:
        move = on - 0.1 * length
    else:
        move = min(off, length - 0.055 * length) + 0.05 * length
    return max(1, int(round(move)))


def finalize(spans: list[tuple[int, int]], cfg: OFFDConfig, rate: float) -> list[tuple[int, int]]:
    """Video-level length filter, union-merge and echo suppression (spec §3.11)."""
    lo = cfg.frames(cfg.min_len_s, rate)
    hi = cfg.frames(cfg.max_len_s, rate) if cfg.max_len_s else None
    kept = [sp for sp in spans if sp[1] - sp[0] >= lo and (hi is None or sp[1] - sp[0] <= hi)]
    kept = merge_overlapping(sorted(kept), cfg.fuse_overlap)
    kept.sort()
    if cfg.echo_suppress:
        gap, min_len = cfg.frames(cfg.echo_gap_s, rate), cfg.frames(cfg.echo_min_len_s, rate)
        out: list[tuple[int, int]] = []
        for sp in kept:
            if out and sp[0] - out[-1][1] < gap and sp[1] - sp[0] > min_len:
                continue
            out.append(sp)
        kept = out
    return kept


# ---------------------------------------------------------------------------------------------------------
# Streaming driver


@dataclass
class Track:
    """The face tracked through one window: crop transform and ROI layout fixed on its reference frame."""

    M: np.ndarray  # current source → crop transform (follows the head)
    M0: np.ndarray  # the reference frame's transform
    layout: RoiLayout
    ref_crop: np.ndarray
    ref_patches: list[np.ndarray]
    box_center: tuple[float, float]
    face_width: float
    u: float
    landmarks: np.ndarray  # (68, 2) source px on the reference frame


class WindowTracker:
    """Per-frame ROI displacement against a window's reference frame, with head-motion re-alignment."""

    def __init__(self, cfg: OFFDConfig, detector: LandmarkDetector, threads: int = 2):
        if cfg.align not in MODES:
            raise ConfigError(f"unknown OF-FD align mode {cfg.align!r}; choose one of {', '.join(MODES)}")
        self.cfg = cfg
        self.det = detector
        # OpenCV releases the GIL: the ROI flows of one frame run in parallel threads
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None
        self.lk_win = int(round(15 * cfg.crop.px_per_u / 32.0)) * 2 + 1  # 31 px at 32 px per u

    def start(self, gray: np.ndarray, near: tuple[float, float] | None = None) -> Track | None:
        found = self.det.find(gray, near=near)
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
        return Track(M, M.copy(), layout, crop, patches, box.center, float(box.width), half_inner_canthal(lm), lm)

    def align(self, track: Track, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Re-warp the crop until the head's rigid points sit where they were on the reference frame.

        Returns (crop, residual): the residual translation is measured on the very crop returned (the
        reference code shifted once more after its last measurement and subtracted a stale vector).
        The window follows the head (``track.M`` persists across frames), so a still head costs one
        measurement per frame and a moving one a re-warp whenever it has moved by the trigger.
        """
        cfg = self.cfg
        crop = warp(gray, track.M, cfg.crop.size)
        trigger = cfg.align_trigger_px * cfg.scale()
        corners = track.layout.corners()
        for attempt in range(cfg.align_passes + 1):
            hm = head_motion(track.ref_crop, crop, track.layout.anchors, cfg.align, self.lk_win, corners)
            if not hm.ok or hm.size <= trigger or attempt == cfg.align_passes:
                return crop, hm.residual
            # A maps the current crop onto the reference: applying it after M brings the content back
            # (the reference code moved the window by −g, i.e. the content by +g: the motion doubled).
            track.M = compose(hm.A, track.M)
            crop = warp(gray, track.M, cfg.crop.size)
        return crop, np.zeros(2, np.float32)  # unreachable: the loop returns on its last attempt

    def measure(self, track: Track, gray: np.ndarray) -> np.ndarray:
        """Channel displacement magnitudes for one frame; updates the track's crop transform."""
        cfg = self.cfg
        crop, g = self.align(track, gray)
        jobs = [(ref, crop[a:b, c:d]) for ref, (a, b, c, d) in zip(track.ref_patches, track.layout.boxes)]
        if self.pool is not None:
            flows = list(self.pool.map(lambda j: compute_flow(j[0], j[1], cfg.flow_method, cfg.flow), jobs))
        else:
            flows = [compute_flow(a, b, cfg.flow_method, cfg.flow) for a, b in jobs]
        vec = _channel_vectors(flows, track.layout)
        return np.linalg.norm(vec - g[None, :], axis=1)

    def still_there(self, track: Track, gray: np.ndarray) -> bool:
        """Cheap check that the tracked face is still present near its place (detector on a local region)."""
        # where the reference box centre is now: through the reference transform into the crop, and back
        # out through the current one (which follows the head)
        q = apply_to_points(track.M0, np.array([track.box_center]))
        cx, cy = apply_to_points(cv2.invertAffineTransform(track.M), q)[0]
        half = track.face_width
        h, w = gray.shape[:2]
        x0, x1 = int(max(0, cx - half)), int(min(w, cx + half))
        y0, y1 = int(max(0, cy - half)), int(min(h, cy + half))
        if x1 - x0 < 40 or y1 - y0 < 40:
            return False
        region = gray[y0:y1, x0:x1]
        scale = min(1.0, 200.0 / max(region.shape))
        if scale < 1.0:
            region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return bool(self.det.detect(region, upsample=0 if scale < 1.0 or half > 100 else 1))


@dataclass
class OFFDResult:
    """Everything the spotter measured; ``spans`` are inclusive intervals in *processed* frames."""

    config: OFFDConfig
    rate: float  # processed-frame rate
    proc_index: np.ndarray  # processed frame -> original frame index
    proc_time: np.ndarray  # processed frame -> seconds
    face: np.ndarray  # processed frame -> face found (bool)
    score: np.ndarray  # processed frame -> max normalised prominence over channels (≥ 1 passes T2)
    displacement: np.ndarray  # processed frame × channel, last window's raw displacement (px)
    channel_names: list[str]
    spans: list[tuple[int, int]]
    windows: list[tuple[int, int]]  # (start, length) in processed frames


def resample_stream(frames: Iterable, rate: float) -> Iterator[tuple[int, float, np.ndarray]]:
    """Constant-rate stream by timestamps (nearest frame to each grid time): handles VFR and strides."""
    prev = None
    k = 0
    t0 = None
    for fr in frames:
        if t0 is None:
            t0 = fr.time
        t = fr.time - t0
        while t >= k / rate - 1e-9:
            g = k / rate
            if prev is not None and abs(prev.time - t0 - g) < abs(t - g):
                yield prev.index, prev.time - t0, prev.image
            else:
                yield fr.index, t, fr.image
            k += 1
        prev = fr
    if prev is not None and k > 0 and prev.time - t0 > (k - 1) / rate + 0.5 / rate:
        yield prev.index, prev.time - t0, prev.image


def working_rate(fps: float, work_rate_hz: float) -> float:
    stride = max(1, int(round(fps / work_rate_hz)))
    return fps / stride


def run_offd(frames: Iterable, fps: float, cfg: OFFDConfig | None = None, detector: LandmarkDetector | None = None,
             progress: Callable[[int, int | None], None] | None = None,
             total_frames: int | None = None) -> OFFDResult:
    """Run OF-FD over a stream of ``Frame`` records (grey or BGR); memory holds one window of crops at most."""
    cfg = cfg or OFFDConfig()
    det = detector or LandmarkDetector()
    tracker = WindowTracker(cfg, det)
    rate = working_rate(fps, cfg.work_rate_hz)
    W = cfg.frames(cfg.window_s, rate)
    hop_default = cfg.frames(cfg.hop_s, rate)
    check_every = cfg.frames(cfg.face_check_s, rate)
    stream = resample_stream(frames, rate)

    proc_index: list[int] = []
    proc_time: list[float] = []
    buffer: dict[int, np.ndarray] = {}
    face: dict[int, bool] = {}
    score: dict[int, float] = {}
    disp: dict[int, np.ndarray] = {}
    spans_all: list[tuple[int, int]] = []
    windows: list[tuple[int, int]] = []
    channel_names: list[str] = []
    exhausted = False

    def fetch(i: int) -> np.ndarray | None:
        nonlocal exhausted
        while i >= len(proc_index) and not exhausted:
            try:
                idx, t, img = next(stream)
            except StopIteration:
                exhausted = True
                break
            if img.ndim == 3:
                img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            buffer[len(proc_index)] = img
            proc_index.append(idx)
            proc_time.append(t)
            if progress:
                progress(idx + 1, total_frames)
        return buffer.get(i)

    start = 0
    near = None
    while True:
        ref = fetch(start)
        if ref is None:
            break
        track = tracker.start(ref, near=near)
        if track is None:
            # No face on this candidate reference: skip ahead one check interval. The skipped frames are
            # marked "no face" (not analysed) rather than guessed.
            for k in range(start, start + check_every):
                face[k] = False
            for k in [k for k in buffer if k < start + check_every]:
                del buffer[k]
            start += check_every
            continue
        near = track.box_center
        if not channel_names:
            channel_names = [c.name for c in track.layout.channels]
        face[start] = True
        sig = [np.zeros(len(track.layout.channels))]
        end = start + 1
        while end < start + W:
            img = fetch(end)
            if img is None:
                break
            if (end - start) % check_every == 0 and not tracker.still_there(track, img):
                face[end] = False
                break  # tracking lost: cut the window; the next one re-detects from here
            face.setdefault(end, True)
            sig.append(tracker.measure(track, img))
            end += 1
        length = end - start
        signals = np.stack(sig, axis=1)
        groups = [c.group for c in track.layout.channels]
        spans, filtered, sc = analyse_window(signals, groups, cfg, rate)
        windows.append((start, length))
        for j in range(length):
            score[start + j] = max(score.get(start + j, 0.0), float(sc[j]))
            disp[start + j] = signals[:, j].astype(np.float32)
        spans_all.extend((start + a, start + b) for a, b in spans)
        if end >= len(proc_index) and exhausted:
            break
        if length < W:  # cut by a lost face: restart at the failing frame
            nxt = end if end > start else start + 1
        else:
            nxt = start + min(next_hop(spans, length, hop_default), length - 1)
        for k in [k for k in buffer if k < nxt]:
            del buffer[k]
        start = nxt

    if tracker.pool is not None:
        tracker.pool.shutdown(wait=False)
    n = len(proc_index)
    face = {k: v for k, v in face.items() if k < n}
    face_arr = np.array([face.get(i, False) for i in range(n)], dtype=bool)
    # frames inside analysed windows count as face frames unless a check failed on them
    for s0, ln in windows:
        for i in range(s0, s0 + ln):
            face_arr[i] = face.get(i, True)
    nch = len(channel_names)
    disp_arr = np.full((n, nch), np.nan, dtype=np.float32)
    for i, v in disp.items():
        if v.size == nch:
            disp_arr[i] = v
    return OFFDResult(cfg, rate, np.asarray(proc_index, dtype=int), np.asarray(proc_time, dtype=float), face_arr,
                      np.array([score.get(i, 0.0) for i in range(n)]), disp_arr, channel_names,
                      finalize(spans_all, cfg, rate), windows)


def with_overrides(cfg: OFFDConfig, **overrides) -> OFFDConfig:
    bad = [k for k in overrides if not hasattr(cfg, k)]
    if bad:
        raise ConfigError(f"unknown OF-FD option(s): {', '.join(bad)}")
    return replace(cfg, **overrides)
