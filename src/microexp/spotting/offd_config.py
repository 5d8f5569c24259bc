"""OF-FD settings: one dataclass and the presets taken verbatim from the reference code (spec offd.md §5.1)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from microexp.errors import ConfigError
from microexp.face.align import CropSpec
from microexp.features.flow import FarnebackParams

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
    photometric: bool = True  # match each ROI patch's mean/contrast to the reference before flow (microexp)
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
    echo_keeps_stronger: bool = True  # an "echo" stronger than the interval before it is kept (microexp)
    me_mae_split_s: float = 0.5
    # never-neutral footage (microexp; docs/spotting.md "Never-neutral footage"): spec §5's reference option
    reference: str = "window_first"  # "window_first" (published) | "lag": every window measures t against t − k
    after_open: str = "lag"  # window after an open interval: "lag" (microexp) | "window_first" (the reference code)
    lag_split: bool = False  # cut lagged windows' spans at face-level pauses (offd_lag.split_at_pauses; measured, off)
    lag_s: float = 0.655  # k = 0.5 × mean macro-expression duration (CAS(ME)^2 1.31 s; benchmarks/offd_lag_constant.py)
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
        echo_suppress=False, lag_s=1.084),
    "offd_casme2_he": OFFDConfig(
        name="offd_casme2_he", channels="all", lowpass_hz=5.0, t1=1.4, t2={BROW: 1.925, MOUTH: 1.85, NOSE: 2.10},
        td=0.8, split=True, fuse_overlap=0.1, echo_suppress=False),
    "offd_sammlv_he": OFFDConfig(
        name="offd_sammlv_he", crop=CropSpec((-4.5, 4.5), (-3.5, 5.5), 320 / 9), constants_px_per_u=320 / 9, channels="all",
        lowpass_hz=5.0,
        t1=1.4, t2={BROW: 1.65, MOUTH: 1.5, NOSE: 1.5}, td=0.8, split=True, fuse_overlap=0.34, min_len_s=0.35,
        max_len_s=None, echo_suppress=False, lag_s=1.084),
    # microexp's own preset, NOT a published one (docs/spotting.md, "A micro-expression preset"): the default's
    # channels and rules with the 5-Hz low-pass of the other published presets; thresholds from the noise floor
    # measured on real faces without expressions (`python benchmarks/offd_noise_floor.py`: largest prominence
    # brow 2.19, mouth 1.69, nose 0.91 px; T2 = 1.25 × that, rounded up to 0.05; T1 = 0.8 and Td = 0.25 × the
    # smallest T2, the S1 CAS ratios); length gate scaled to the ⅓-height width of a 5-Hz bump (0.61 × the
    # expression's duration): 0.61 × 0.2 s (the shortest real MEs, p10). Fixed before the sensitivity benchmark
    # was run with it. ME/MaE split: first 0.61 × 0.5 s = 0.30 s, which typed most found MEs as MaE; re-set by a
    # rule fixed before measuring to the longest detected length of a planted 0.5-s brow raise on a real frame
    # (`python benchmarks/offd_realframes.py --part typing --preset me`: 11 frames = 0.37 s; 0.7-s raises: 0.50 s).
    "offd_me_noisefloor": OFFDConfig(
        name="offd_me_noisefloor", lowpass_hz=5.0, t1=0.92, t2={BROW: 2.75, MOUTH: 2.15, NOSE: 1.15}, td=0.29,
        min_len_s=0.12, me_mae_split_s=0.37),
}
PRESET_ALIASES = {"default": "offd_cas_megc2022", "casme_sq": "offd_casme2_he", "samm_lv": "offd_sammlv_he",
                  "cas": "offd_cas_megc2022", "samm": "offd_samm_megc2022", "me": "offd_me_noisefloor"}


def get_preset(name: str) -> OFFDConfig:
    key = PRESET_ALIASES.get(name, name)
    if key not in PRESETS:
        names = sorted(PRESET_ALIASES) + sorted(PRESETS)
        raise ConfigError(f"unknown OF-FD preset {name!r}; choose one of {', '.join(names)}")
    return PRESETS[key]


def with_overrides(cfg: OFFDConfig, **overrides) -> OFFDConfig:
    bad = [k for k in overrides if not hasattr(cfg, k)]
    if bad:
        raise ConfigError(f"unknown OF-FD option(s): {', '.join(bad)}")
    return replace(cfg, **overrides)
