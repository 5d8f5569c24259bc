"""Generator configuration and the two presets, with every statistic traced to the real annotations.

Durations, rates and onset->apex fractions were computed from the MEGC2020 ground truth
(``../shared/realdata/HeyingGithub__Baseline-project-for-MEGC2020_spotting/.../all_Info.txt``) and the frame
counts in ``cas_duration.csv`` / ``samm_duration.csv``; emotion shares from CAS(ME)^2 ``code_final.xlsx``.
ME amplitudes cover the real onset->apex motion measured by ``benchmarks/measure_real_me.py`` (0.9-4.3 % of
the inter-ocular distance, with the weak end below it); MaE amplitudes could not be measured here (no real MaE
frames are available) and keep their earlier 2-8 % range. Nothing here was tuned against a spotter; ``docs/synth.md`` lists the source numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from microexp.errors import ConfigError


@dataclass(frozen=True)
class Durations:
    """A clipped normal (ME) or clipped log-normal (MaE) total duration in seconds."""

    centre: float  # mean (normal) or median (log-normal)
    spread: float  # sd in seconds (normal) or sigma of log (log-normal)
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Distractors:
    """Unlabelled motion that makes spotting hard in the real datasets. Rates are per minute."""

    blink_per_min: float = 12.0  # spontaneous blinking while watching video is ~10-20 / min
    blink_s: tuple[float, float] = (0.15, 0.35)
    drift_px_iod: float = 0.04  # slow translation amplitude, fraction of inter-ocular distance
    drift_roll_deg: float = 0.6
    drift_scale: float = 0.008
    turn_per_min: float = 2.0  # small quick head rotations (new pose held afterwards, or back)
    turn_deg: tuple[float, float] = (0.8, 3.0)
    turn_s: tuple[float, float] = (0.4, 1.5)
    talk_per_min: float = 0.8  # talking-like mouth bursts
    talk_s: tuple[float, float] = (1.0, 3.0)
    talk_hz: tuple[float, float] = (3.0, 5.0)
    talk_iod: tuple[float, float] = (0.015, 0.04)
    flicker: float = 0.006  # relative gain of a mains-aliased sinusoid
    light_drift: float = 0.02  # slow relative gain drift
    noise_sigma: float = 1.5  # sensor noise, grey levels
    crf: int = 23  # H.264 quality (compression artefacts)

    @classmethod
    def none(cls) -> Distractors:
        """No distractors at all (for tests that check the labels against the rendered motion)."""
        return cls(blink_per_min=0.0, drift_px_iod=0.0, drift_roll_deg=0.0, drift_scale=0.0, turn_per_min=0.0,
                   talk_per_min=0.0, flicker=0.0, light_drift=0.0, noise_sigma=0.0, crf=18)


@dataclass(frozen=True)
class SynthConfig:
    """Everything that defines one clip; the same config (seed included) gives the same frames and labels."""

    seconds: float = 60.0
    fps: float = 30.0
    seed: int = 0
    width: int = 640
    height: int = 480
    face_px: int = 200  # jaw width (landmarks 0-16) on the canvas
    faces: tuple[str, ...] = ()  # image paths; empty = scikit-image's astronaut
    preset: str = "casme_sq"
    me_per_min: float = 0.41
    mae_per_min: float = 2.14
    min_me: int = 1  # at least this many of each per clip (short clips would often hold none)
    min_mae: int = 1
    me_duration: Durations = Durations(0.42, 0.066, 0.27, 0.50)  # seconds as (offset - onset) / fps
    mae_duration: Durations = Durations(1.08, 0.525, 0.50, 4.0, log=True)
    apex_fraction: tuple[float, float, float, float] = (0.39, 0.13, 0.15, 0.85)  # mean, sd, low, high
    me_amplitude_iod: tuple[float, float] = (0.007, 0.045)  # log-uniform peak displacement (docs/synth.md)
    mae_amplitude_iod: tuple[float, float] = (0.02, 0.08)
    min_gap_s: float = 0.5  # between labelled expressions
    edge_s: float = 0.5  # no expression this close to the clip ends
    me_emotions: dict = field(default_factory=lambda: {"negative": 21, "others": 19, "surprise": 9, "positive": 8})
    mae_emotions: dict = field(default_factory=lambda: {"positive": 116, "negative": 105, "others": 63,
                                                        "surprise": 16})
    flow_templates: str | None = None  # folder of composite-set flow images used as extra ME templates
    flow_template_share: float = 0.5  # share of MEs drawn from flow templates when a folder is given
    distractors: Distractors = Distractors()
    watermark: bool = True  # a static "SYNTHETIC" tag in a corner

    @property
    def n_frames(self) -> int:
        return max(1, int(round(self.seconds * self.fps)))

    def with_(self, **changes) -> SynthConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["faces"] = [str(f) for f in self.faces]
        return d

    def validate(self) -> SynthConfig:
        if self.seconds <= 0 or self.fps <= 0:
            raise ConfigError(f"seconds and fps must be positive (got {self.seconds}, {self.fps})")
        if self.width < 64 or self.height < 64 or self.width % 2 or self.height % 2:
            raise ConfigError(f"frame size must be even and at least 64x64 (got {self.width}x{self.height})")
        if not 40 <= self.face_px <= min(self.width, self.height):
            raise ConfigError(f"face_px {self.face_px} must lie in [40, {min(self.width, self.height)}]")
        for f in self.faces:
            if not Path(f).is_file():
                raise ConfigError("face image not found", f)
        if self.flow_templates is not None and not Path(self.flow_templates).is_dir():
            raise ConfigError("flow-template folder not found", self.flow_templates)
        return self


# Real statistics (durations as (offset - onset) / fps, the MEGC typing quantity; rates per minute of video):
#   CAS(ME)^2: 97 videos, 139.9 min. ME 57 (0.41/min): mean 0.419 s, sd 0.066, range 0.27-0.53.
#              MaE 300 (2.14/min); the 267 in (0.5, 4] s have quartiles 0.77 / 1.13 / 1.67 s, p90 2.13 s,
#              fitted by a log-normal (median 1.08 s, sigma 0.525) truncated to [0.5, 4]. Apex fraction 0.39 +- 0.13.
#   SAMM-LV:  147 videos, 40.3 min. ME 159 (3.94/min): mean 0.367 s, sd 0.095, range 0.15-0.50.
#              MaE 343 (8.51/min); the 313 in (0.5, 4] s: quartiles 0.74 / 1.03 / 1.68 s, p90 2.31 s ->
#              log-normal median 0.84 s, sigma 0.775, truncated (30 MaEs over 4 s, up to 25.9 s, are not
#              modelled). Apex fraction 0.46 +- 0.19.
PRESETS: dict[str, SynthConfig] = {
    "casme_sq": SynthConfig(),
    "samm_lv": SynthConfig(
        fps=200.0, width=480, height=360, face_px=170, preset="samm_lv", me_per_min=3.94, mae_per_min=8.51,
        me_duration=Durations(0.37, 0.095, 0.15, 0.50),
        mae_duration=Durations(0.84, 0.775, 0.50, 4.0, log=True),
        apex_fraction=(0.46, 0.19, 0.15, 0.85),
    ),
}


def preset(name: str, **changes) -> SynthConfig:
    """A preset with overrides, e.g. ``preset('samm_lv', seconds=20, seed=3)``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown synth preset {name!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **changes)
