"""OF-FD: the training-free optical-flow spotter (He et al., PRL 2022; Yu/Cai MEGC2022 code lineage).

Windows of ≈6.7 s share one reference frame (their first). Per frame, Farneback flow of small landmark ROIs
against the reference, after the crop is re-aligned on the head's rigid points, gives one displacement
curve per ROI. Each curve is low-passed, detrended (EMD), thresholded with a local-prominence test, grown
to ≈1/3 of the peak and the channels are union-merged. Constants live in seconds and in canonical crop
pixels (``px_per_u`` per half inner-canthal distance), so the spotter is frame-rate and face-size free.
See ``../shared/specs/offd.md``; the reference-code bugs listed in its §3.14 (and the ones found since, in
docs/spotting.md) are fixed here, not copied.

The parts: ``offd_config`` (settings, presets), ``offd_track`` (per-frame measurement), ``offd_signal``
(one window's curves → intervals), ``offd_stream`` (frame buffer, window loop, ``OFFDStream``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from microexp.face.landmarks import LandmarkDetector
from microexp.io.video import Frame
from microexp.spotting.offd_config import (
    BROW,
    MOUTH,
    NOSE,
    PRESET_ALIASES,
    PRESETS,
    OFFDConfig,
    get_preset,
    with_overrides,
)
from microexp.spotting.offd_signal import (
    analyse_window,
    detect_channel,
    emd_detrend,
    finalize,
    grow,
    ideal_lowpass,
    split_interval,
    window_floor,
)
from microexp.spotting.offd_stream import (
    FRAME_RAM_BYTES,
    FrameBuffer,
    OFFDResult,
    OFFDStream,
    Resampler,
    next_hop,
    resample_stream,
    working_rate,
)
from microexp.spotting.offd_track import Channel, RoiLayout, Track, WindowTracker, roi_layout

__all__ = ["BROW", "MOUTH", "NOSE", "PRESETS", "PRESET_ALIASES", "Channel", "FrameBuffer", "OFFDConfig",
           "OFFDResult", "OFFDStream", "Resampler", "RoiLayout", "Track", "WindowTracker", "analyse_window",
           "detect_channel", "emd_detrend", "finalize", "get_preset", "grow", "ideal_lowpass", "next_hop",
           "resample_stream", "roi_layout", "run_offd", "split_interval", "window_floor", "with_overrides",
           "working_rate"]


def run_offd(frames: Iterable[Frame], fps: float, cfg: OFFDConfig | None = None,
             detector: LandmarkDetector | None = None, progress: Callable[[int, int | None], None] | None = None,
             total_frames: int | None = None, keep_frames: bool = False, keep_before_s: float = 0.0,
             keep_filter=None, keep_after_s: float = 0.0, on_ready=None,
             frame_ram_bytes: int | None = FRAME_RAM_BYTES) -> OFFDResult:
    """Run OF-FD over a stream of ``Frame`` records (grey or BGR); memory holds one window of frames (and the
    kept frames of the intervals in flight: see ``OFFDStream``)."""
    stream = OFFDStream(fps, cfg, detector, keep_frames=keep_frames, progress=progress, total_frames=total_frames,
                        keep_before_s=keep_before_s, keep_filter=keep_filter, keep_after_s=keep_after_s,
                        on_ready=on_ready, frame_ram_bytes=frame_ram_bytes)
    for fr in frames:
        stream.push(fr)
    stream.close()
    return stream.result()
