"""Synthetic labelled face videos with micro- and macro-expressions (``microexp synth``).

Everything produced is marked synthetic (a frame tag, ``"synthetic": true`` in the JSON sidecar).
"""

from microexp.synth.config import PRESETS, Distractors, Durations, SynthConfig, preset
from microexp.synth.generate import (
    LABEL_COLUMNS,
    SUITE_COLUMNS,
    demo_config,
    generate,
    labels_path,
    make_demo_video,
    write_clip,
    write_suite,
)

__all__ = ["LABEL_COLUMNS", "PRESETS", "SUITE_COLUMNS", "Distractors", "Durations", "SynthConfig", "demo_config",
           "generate", "labels_path", "make_demo_video", "preset", "write_clip", "write_suite"]
