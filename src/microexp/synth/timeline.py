"""When things happen: labelled expressions, unlabelled distractors, head pose and lighting over time.

All randomness comes from ``numpy.random.Generator`` streams spawned from the clip seed, one per purpose,
so adding a distractor type never moves the labelled expressions of an existing seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from microexp.synth.config import Durations, SynthConfig

# Which action-unit components each emotion uses (weights of the choices follow CAS(ME)^2's AU column:
# brow lowering dominates negative, AU12 with or without AU6 positive, AU1+2 surprise).
EMOTION_AUS: dict[str, list[tuple[tuple[str, ...], float]]] = {
    "positive": [(("6", "12"), 0.5), (("12",), 0.5)],
    "negative": [(("4",), 0.45), (("4", "7"), 0.2), (("4", "7", "9"), 0.1), (("9",), 0.1), (("15",), 0.1),
                 (("4", "15"), 0.05)],
    "surprise": [(("1+2",), 0.7), (("1+2", "26"), 0.3)],
    "others": [(("4",), 0.3), (("7",), 0.3), (("15",), 0.2), (("1+2",), 0.2)],
}


@dataclass
class Event:
    """A deformation over frames [onset, offset] (inclusive) peaking at apex."""

    kind: str  # "me", "mae" (labelled) or "blink", "talk" (distractors)
    onset: int
    apex: int
    offset: int
    amplitude_px: float
    emotion: str = ""
    au: str = ""
    weights: dict = field(default_factory=dict)  # component -> weight
    right: float = 1.0  # strength on the subject's right / left half
    left: float = 1.0
    template: str = ""  # flow-template file when the ME uses real flow
    hz: float = 0.0  # talking oscillation

    @property
    def labelled(self) -> bool:
        return self.kind in ("me", "mae")


def profile(ev: Event, f: int, fps: float) -> float:
    """Time profile in [0, 1]: raised-cosine rise onset->apex and fall apex->offset (0 at both ends)."""
    if f <= ev.onset or f >= ev.offset:
        return 0.0
    if ev.kind == "talk":
        env = 0.5 - 0.5 * np.cos(2 * np.pi * (f - ev.onset) / (ev.offset - ev.onset))
        return float(env * (0.5 - 0.5 * np.cos(2 * np.pi * ev.hz * (f - ev.onset) / fps)))
    if f <= ev.apex:
        return float(0.5 - 0.5 * np.cos(np.pi * (f - ev.onset) / max(ev.apex - ev.onset, 1)))
    return float(0.5 + 0.5 * np.cos(np.pi * (f - ev.apex) / max(ev.offset - ev.apex, 1)))


def sample_duration(rng: np.random.Generator, d: Durations) -> float:
    for _ in range(100):
        x = float(np.exp(rng.normal(np.log(d.centre), d.spread)) if d.log else rng.normal(d.centre, d.spread))
        if d.low <= x <= d.high:
            return x
    return float(np.clip(d.centre, d.low, d.high))


def _pick(rng: np.random.Generator, table: dict) -> str:
    keys = list(table)
    p = np.array([table[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def schedule_expressions(cfg: SynthConfig, rng: np.random.Generator, n_templates: int = 0) -> list[Event]:
    """Labelled MEs and MaEs, non-overlapping with a gap, counts Poisson at the preset's real rates."""
    fps, n = cfg.fps, cfg.n_frames
    minutes = cfg.seconds / 60
    n_me = max(cfg.min_me, int(rng.poisson(cfg.me_per_min * minutes)))
    n_mae = max(cfg.min_mae, int(rng.poisson(cfg.mae_per_min * minutes)))
    kinds = ["mae"] * n_mae + ["me"] * n_me  # long ones first: they are the hardest to fit
    taken: list[tuple[int, int]] = []
    gap = int(round(cfg.min_gap_s * fps))
    edge = int(round(cfg.edge_s * fps))
    events = []
    for kind in kinds:
        dur_s = sample_duration(rng, cfg.me_duration if kind == "me" else cfg.mae_duration)
        length = max(3, int(round(dur_s * fps)) + 1)  # frames, inclusive
        if kind == "me":  # MEGC typing: (offset - onset) / fps must stay <= 0.5 s for an ME
            length = min(length, int(np.floor(0.5 * fps)) + 1)
        else:
            length = max(length, int(np.floor(0.5 * fps)) + 2)
        lo, hi = edge, n - 1 - edge - (length - 1)
        if hi < lo:
            continue
        for _ in range(200):
            on = int(rng.integers(lo, hi + 1))
            off = on + length - 1
            if all(off + gap < a or on > b + gap for a, b in taken):
                break
        else:
            continue
        mean, sd, flo, fhi = cfg.apex_fraction
        frac = float(np.clip(rng.normal(mean, sd), flo, fhi))
        apex = int(np.clip(on + round(frac * (off - on)), on + 1, off - 1))
        emotion = _pick(rng, cfg.me_emotions if kind == "me" else cfg.mae_emotions)
        choices = EMOTION_AUS[emotion]
        aus = choices[int(rng.choice(len(choices), p=np.array([c[1] for c in choices])))][0]
        weights = {a: (1.0 if i == 0 else float(rng.uniform(0.5, 1.0))) for i, a in enumerate(aus)}
        lo_a, hi_a = cfg.me_amplitude_iod if kind == "me" else cfg.mae_amplitude_iod
        amp = float(np.exp(rng.uniform(np.log(lo_a), np.log(hi_a))))
        weak = float(rng.uniform(0.4, 1.0)) if rng.random() < 0.5 else 1.0  # half of them asymmetric
        right, left = (weak, 1.0) if rng.random() < 0.5 else (1.0, weak)
        template = ""
        if kind == "me" and n_templates and rng.random() < cfg.flow_template_share:
            template = str(int(rng.integers(n_templates)))
        taken.append((on, off))
        events.append(Event(kind, on, apex, off, amp, emotion, "+".join(aus), weights, right, left, template))
    return sorted(events, key=lambda e: e.onset)


def _bursts(rng: np.random.Generator, per_min: float, seconds: float, dur_s: tuple[float, float],
            fps: float, n: int) -> list[tuple[int, int]]:
    k = int(rng.poisson(per_min * seconds / 60)) if per_min > 0 else 0
    out = []
    for _ in range(k):
        length = max(3, int(round(rng.uniform(*dur_s) * fps)))
        on = int(rng.integers(0, max(1, n - length)))
        out.append((on, min(n - 1, on + length)))
    return out


def schedule_distractors(cfg: SynthConfig, rng: np.random.Generator) -> list[Event]:
    """Blinks (both eyes, sometimes partial) and talking-like mouth bursts; unlabelled."""
    d, fps, n = cfg.distractors, cfg.fps, cfg.n_frames
    out = []
    for on, off in _bursts(rng, d.blink_per_min, cfg.seconds, d.blink_s, fps, n):
        apex = int(np.clip(on + round(0.4 * (off - on)), on + 1, max(on + 1, off - 1)))
        depth = 1.0 if rng.random() < 0.8 else float(rng.uniform(0.4, 0.9))
        out.append(Event("blink", on, apex, off, depth))
    for on, off in _bursts(rng, d.talk_per_min, cfg.seconds, d.talk_s, fps, n):
        out.append(Event("talk", on, (on + off) // 2, off, float(rng.uniform(*d.talk_iod)),
                         weights={"26": 1.0, "12": float(rng.uniform(0.0, 0.4))}, hz=float(rng.uniform(*d.talk_hz))))
    return sorted(out, key=lambda e: e.onset)


def _smooth_walk(rng: np.random.Generator, t: np.ndarray, periods: tuple[float, float] = (6.0, 40.0)) -> np.ndarray:
    """Zero-mean slow wander in [-1, 1]: three sinusoids with random periods and phases."""
    out = np.zeros_like(t)
    for _ in range(3):
        out += np.sin(2 * np.pi * t / rng.uniform(*periods) + rng.uniform(0, 2 * np.pi)) * rng.uniform(0.5, 1.0)
    return out / 3.0


def head_track(cfg: SynthConfig, rng: np.random.Generator, iod: float) -> np.ndarray:
    """(n, 4) per-frame pose: dx, dy (px), roll (deg), scale; slow drift plus quick small turns held after."""
    d, fps, n = cfg.distractors, cfg.fps, cfg.n_frames
    t = np.arange(n) / fps
    pose = np.zeros((n, 4))
    pose[:, 0] = d.drift_px_iod * iod * _smooth_walk(rng, t)
    pose[:, 1] = d.drift_px_iod * iod * _smooth_walk(rng, t)
    pose[:, 2] = d.drift_roll_deg * _smooth_walk(rng, t)
    pose[:, 3] = 1.0 + d.drift_scale * _smooth_walk(rng, t)
    turns = sorted(_bursts(rng, d.turn_per_min, cfg.seconds, d.turn_s, fps, n))
    level = np.zeros(3)  # current roll and shift (px) from turns
    for on, off in turns:
        target = np.array([rng.uniform(-1, 1) * d.turn_deg[1],
                           rng.uniform(-1, 1) * 0.05 * iod, rng.uniform(-1, 1) * 0.03 * iod])
        if abs(target[0] - level[0]) < d.turn_deg[0]:
            target[0] = level[0] + np.sign(target[0] - level[0] or 1) * d.turn_deg[0]
        s = np.clip((np.arange(n) - on) / max(off - on, 1), 0, 1)
        s = 0.5 - 0.5 * np.cos(np.pi * s)
        delta = target - level
        pose[:, 2] += delta[0] * s
        pose[:, 0] += delta[1] * s
        pose[:, 1] += delta[2] * s
        level = target
    return pose


def light_track(cfg: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """Per-frame gain: slow drift, a mains-aliased flicker and small per-frame jitter."""
    d, fps, n = cfg.distractors, cfg.fps, cfg.n_frames
    t = np.arange(n) / fps
    alias_hz = abs(100.0 - fps * round(100.0 / fps)) or 0.0  # 100 Hz lamp flicker seen at this frame rate
    gain = 1.0 + d.light_drift * _smooth_walk(rng, t, (10.0, 60.0))
    gain += d.flicker * np.sin(2 * np.pi * alias_hz * t + rng.uniform(0, 2 * np.pi))
    gain += 0.25 * d.flicker * rng.standard_normal(n)
    return gain
