"""Action-unit displacement templates: sums of Gaussian bumps anchored on the 68 landmarks.

Each component is a smooth (H, W, 2) field over a box around the face, split into the subject's right and
left halves so expressions can be asymmetric (most spontaneous MEs are). Directions are given in the face's
own frame (x along the eyes, away from the midline; y down the face) so a rolled face still frowns downward.
Fields are normalised to a peak of 1 so an event's amplitude is its largest displacement in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# component -> list of (anchor, (out, down) direction, sigma in IOD, weight).
# An anchor is a landmark index or a tuple (index, d_out, d_down): the landmark shifted by that many IOD.
_A = tuple
COMPONENTS: dict[str, list[_A]] = {
    "1+2": [*[(i, (0.0, -1.0), 0.2, 1.0) for i in (17, 18, 19, 20, 21, 22, 23, 24, 25, 26)],
            *[((i, 0.0, -0.3), (0.0, -0.7), 0.3, 1.0) for i in (18, 20, 23, 25)]],
    "4": [*[(i, (-0.5, 0.8), 0.17, 1.0) for i in (20, 21, 22, 23)],
          *[(i, (-0.3, 0.6), 0.17, 0.6) for i in (18, 19, 24, 25)],
          *[((i, -0.05, 0.1), (-0.4, 0.2), 0.12, 0.5) for i in (21, 22)]],
    "6": [*[((i, 0.1, 0.45), (0.1, -1.0), 0.25, 1.0) for i in (41, 46)],
          *[(i, (0.0, -0.5), 0.1, 0.6) for i in (40, 41, 46, 47)]],
    "12": [*[(i, (0.75, -0.6), 0.14, 1.0) for i in (48, 54)],
           *[((i, 0.15, -0.25), (0.4, -0.5), 0.2, 0.6) for i in (48, 54)]],
    "7": [*[(i, (0.0, -1.0), 0.08, 1.0) for i in (40, 41, 46, 47)],
          *[(i, (0.0, 0.5), 0.08, 0.6) for i in (37, 38, 43, 44)]],
    "9": [*[(i, (0.0, -1.0), 0.12, 1.0) for i in (31, 32, 34, 35)],
          *[(i, (0.0, -0.6), 0.12, 0.8) for i in (28, 29, 33)],
          *[(i, (0.0, -0.5), 0.12, 0.7) for i in (50, 51, 52)],
          *[(i, (-0.2, 0.4), 0.15, 0.5) for i in (21, 22)]],
    "15": [*[(i, (0.2, 1.0), 0.14, 1.0) for i in (48, 54)],
           *[(i, (0.0, 0.5), 0.12, 0.6) for i in (59, 55)]],
    "26": [*[(i, (0.0, 1.0), 0.15, 1.0) for i in (56, 57, 58, 65, 66, 67)],
           *[(i, (0.0, 1.0), 0.25, 1.0) for i in (7, 8, 9)]],
}
COMPONENT_NAMES = tuple(COMPONENTS)


@dataclass(frozen=True)
class FaceFrame:
    """Face-aligned axes: ``ex`` from the subject's right eye to the left eye, ``ey`` down the face."""

    centre_x: float
    ex: np.ndarray
    ey: np.ndarray
    iod: float


def face_frame(lm: np.ndarray) -> FaceFrame:
    r, l_ = lm[36:42].mean(0), lm[42:48].mean(0)
    d = l_ - r
    iod = float(np.linalg.norm(d))
    ex = d / max(iod, 1e-6)
    ey = np.array([-ex[1], ex[0]])
    return FaceFrame(float(((r + l_) / 2) @ ex), ex, ey, iod)


def face_box(lm: np.ndarray, width: int, height: int, margin_iod: float = 0.9) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) around the landmarks plus a margin: every template decays to ~0 inside it."""
    iod = face_frame(lm).iod
    m = margin_iod * iod
    x0, y0 = np.floor(lm.min(0) - m).astype(int)
    x1, y1 = np.ceil(lm.max(0) + m).astype(int)
    y0 -= int(0.4 * iod)  # forehead above the brows
    return max(0, int(x0)), max(0, int(y0)), min(width, int(x1)), min(height, int(y1))


def _anchor(lm: np.ndarray, spec, fr: FaceFrame) -> tuple[np.ndarray, float]:
    """Anchor point and its side sign (-1 subject's right = image left, +1 image right, 0 on the midline)."""
    if isinstance(spec, tuple):
        i, d_out, d_down = spec
    else:
        i, d_out, d_down = spec, 0.0, 0.0
    p = lm[i].astype(np.float64)
    rel = float(p @ fr.ex) - fr.centre_x
    side = 0.0 if abs(rel) < 0.05 * fr.iod else float(np.sign(rel))
    p = p + (side * d_out * fr.ex + d_down * fr.ey) * fr.iod
    return p, side


def component_fields(lm: np.ndarray, box: tuple[int, int, int, int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per component, (right-half field, left-half field) over ``box``; their sum peaks at 1 px."""
    fr = face_frame(lm)
    x0, y0, x1, y1 = box
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)
    out = {}
    for name, anchors in COMPONENTS.items():
        halves = [np.zeros((y1 - y0, x1 - x0, 2), np.float32) for _ in range(2)]
        for spec, (d_out, d_down), sigma, weight in anchors:
            p, side = _anchor(lm, spec, fr)
            s = sigma * fr.iod
            gx = np.exp(-((xs - p[0]) ** 2) / (2 * s * s)).astype(np.float32)
            gy = np.exp(-((ys - p[1]) ** 2) / (2 * s * s)).astype(np.float32)
            bump = np.outer(gy, gx)
            sgn = side if side != 0 else 0.0
            v = (sgn * d_out * fr.ex + d_down * fr.ey) * weight
            shares = (1.0, 0.0) if side < 0 else (0.0, 1.0) if side > 0 else (0.5, 0.5)
            for h, share in zip(halves, shares):
                if share:
                    h[..., 0] += float(v[0] * share) * bump
                    h[..., 1] += float(v[1] * share) * bump
        peak = float(np.sqrt(((halves[0] + halves[1]) ** 2).sum(-1)).max())
        out[name] = (halves[0] / peak, halves[1] / peak)
    return out


@dataclass(frozen=True)
class Eyelid:
    """What a blink needs for one eye: a region, the closing lid's texture and a sweep coordinate.

    A closing lid occludes the eye, which no smooth warp can do without folding the skin, so a blink is
    drawn by sweeping skin texture from above the eye down over a feathered eye mask.
    """

    x0: int
    y0: int
    lid: np.ndarray  # (h, w, 3) float32 skin texture shown where the lid covers the eye
    mask: np.ndarray  # (h, w) float32 in [0, 1], the eye opening, feathered
    depth: np.ndarray  # (h, w) float32: distance below the upper lid, in units of the eye opening


def eyelids(image: np.ndarray, lm: np.ndarray) -> list[Eyelid]:
    fr = face_frame(lm)
    out = []
    for idx in (range(36, 42), range(42, 48)):
        pts = lm[list(idx)].astype(np.float64)
        upper, lower = (pts[1] + pts[2]) / 2, (pts[4] + pts[5]) / 2
        opening = max(float(np.linalg.norm(lower - upper)), 0.05 * fr.iod)
        width = float(np.linalg.norm(pts[3] - pts[0]))
        pad = int(np.ceil(0.25 * width + 2 * opening))
        x0, y0 = np.floor(pts.min(0)).astype(int) - pad
        x1, y1 = np.ceil(pts.max(0)).astype(int) + pad
        h_img, w_img = image.shape[:2]
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w_img, x1), min(h_img, y1)
        # the lid: skin from above the eye, moved down by 1.6 openings
        shift = 1.6 * opening * fr.ey
        M = np.array([[1, 0, shift[0] - x0], [0, 1, shift[1] - y0]], dtype=np.float64)
        lid = cv2.warpAffine(image, M, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        poly = np.round(pts - [x0, y0]).astype(np.int32)
        centre = poly.mean(0)
        grown = np.round(centre + (poly - centre) * 1.3).astype(np.int32)
        cv2.fillPoly(mask, [grown], 255)
        k = max(3, int(0.6 * opening) | 1)
        maskf = cv2.GaussianBlur(mask, (k, k), 0).astype(np.float32) / 255
        X, Y = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
        top = upper - 0.3 * opening * fr.ey
        depth = ((X - top[0]) * fr.ey[0] + (Y - top[1]) * fr.ey[1]) / opening
        out.append(Eyelid(int(x0), int(y0), lid, maskf, depth.astype(np.float32)))
    return out


def apply_blink(img: np.ndarray, lids: list[Eyelid], closure: float) -> None:
    """Cover the eyes in place down to ``closure`` (0 open, 1 closed) of the opening, with a soft lid edge."""
    if closure <= 0:
        return
    for e in lids:
        h, w = e.mask.shape
        cover = np.clip((closure * 1.6 - e.depth) / 0.25, 0.0, 1.0) * e.mask
        roi = img[e.y0:e.y0 + h, e.x0:e.x0 + w].astype(np.float32)
        edge = np.exp(-((closure * 1.6 - e.depth) ** 2) / 0.02) * e.mask * closure  # dark lash line
        out = roi * (1 - cover[..., None]) + e.lid * cover[..., None]
        out *= (1 - 0.35 * edge)[..., None]
        img[e.y0:e.y0 + h, e.x0:e.x0 + w] = np.clip(out, 0, 255).astype(np.uint8)


def combine(fields: dict[str, tuple[np.ndarray, np.ndarray]], weights: dict[str, float],
            right: float, left: float) -> np.ndarray:
    """Weighted sum of components with per-side strength, renormalised to a peak of 1."""
    out = None
    for name, w in weights.items():
        r, l_ = fields[name]
        f = (w * right) * r + (w * left) * l_
        out = f if out is None else out + f
    peak = float(np.sqrt((out ** 2).sum(-1)).max())
    return out / max(peak, 1e-9)


def list_flow_templates(folder: str | Path) -> list[Path]:
    """Composite-set flow images (u, v, strain PNGs) usable as real ME displacement templates."""
    from microexp.io.frames import IMAGE_SUFFIXES, natural_key

    files = [p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: natural_key(p.name))


def flow_template_field(path: str | Path, lm: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """A real onset->apex flow image (R = u, G = v, min-max normalised) mapped onto the face, peak 1.

    The images are face-aligned crops without a known zero, so the median (mostly still skin) is taken
    as zero motion and weak residual motion is shrunk away; the crop is stretched over the landmark
    bounding box. None when the image is flat.
    """
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        return None
    uv = img[..., [2, 1]].astype(np.float32)
    uv -= np.median(uv.reshape(-1, 2), axis=0)
    uv = cv2.GaussianBlur(uv, (0, 0), 1.0)
    # soft-shrink: the normalised images carry low-level flow noise everywhere; keep the strong motion only
    mag = np.sqrt((uv ** 2).sum(-1, keepdims=True))
    cut = 0.35 * float(mag.max())
    uv *= np.clip(mag - cut, 0, None) / np.maximum(mag, 1e-6)
    uv = cv2.GaussianBlur(uv, (0, 0), 0.8)
    x0, y0, x1, y1 = box
    fx0, fy0 = lm.min(0)
    fx1, fy1 = lm.max(0)
    fy0 -= 0.25 * (fy1 - fy0)  # the crops include the forehead above the brows
    w, h = int(round(fx1 - fx0)), int(round(fy1 - fy0))
    if w < 4 or h < 4:
        return None
    patch = cv2.resize(uv, (w, h), interpolation=cv2.INTER_CUBIC)
    field = np.zeros((y1 - y0, x1 - x0, 2), np.float32)
    ox, oy = int(round(fx0)) - x0, int(round(fy0)) - y0
    sx0, sy0 = max(0, -ox), max(0, -oy)
    dx0, dy0 = max(0, ox), max(0, oy)
    cw = min(w - sx0, field.shape[1] - dx0)
    ch = min(h - sy0, field.shape[0] - dy0)
    if cw <= 0 or ch <= 0:
        return None
    field[dy0:dy0 + ch, dx0:dx0 + cw] = patch[sy0:sy0 + ch, sx0:sx0 + cw]
    # feather the patch edge so the field is smooth where the crop ends
    k = max(3, int(0.1 * w) | 1)
    mask = np.zeros(field.shape[:2], np.float32)
    mask[dy0:dy0 + ch, dx0:dx0 + cw] = 1
    mask = cv2.GaussianBlur(mask, (k, k), 0)
    field *= mask[..., None]
    peak = float(np.sqrt((field ** 2).sum(-1)).max())
    return None if peak < 1e-6 else field / peak
