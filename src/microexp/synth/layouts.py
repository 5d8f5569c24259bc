"""Small synthetic micro-expression datasets written in the real folder layouts, with their annotation sheets.

For end-to-end tests of ``--data NAME:ROOT``: the dataset registry must find the sheet and the frames exactly
as it would in the distributed dataset. Every clip is one ``microexp.synth`` clip holding one labelled
micro-expression of a chosen emotion (the synthetic face's AU templates differ per emotion, so the classes are
learnable), written as numbered JPEG frames. Synthetic: not real footage, never a benchmark.

Layouts written: CASME II (``CASME2_RAW_selected/sub01/EP01_01/img46.jpg`` + ``CASME2-coding-20190701.xlsx``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import pandas as pd

from microexp.io.atomic import write_with

#: synthetic emotion -> CASME II class (the synth's templates know negative, positive, surprise, others)
CASME2_EMOTION = {"negative": "disgust", "positive": "happiness", "surprise": "surprise", "others": "others"}


@dataclass(frozen=True)
class LayoutConfig:
    subjects: int = 3
    clips_per_subject: int = 3
    emotions: tuple[str, ...] = ("positive", "negative", "surprise")
    seconds: float = 1.4
    fps: float = 30.0
    width: int = 320
    height: int = 240
    face_px: int = 130
    first_frame: int = 46  # file numbers start here (CASME II clips start at their original frame numbers)
    seed: int = 0


def _clip(cfg: LayoutConfig, emotion: str, seed: int):
    from microexp.synth.config import Distractors, SynthConfig
    from microexp.synth.generate import generate

    sc = SynthConfig(seconds=cfg.seconds, fps=cfg.fps, seed=seed, width=cfg.width, height=cfg.height,
                     face_px=cfg.face_px, me_per_min=1.0, mae_per_min=0.0, min_me=1, min_mae=0,
                     me_amplitude_iod=(0.03, 0.05), edge_s=0.3, min_gap_s=0.2,
                     me_emotions={emotion: 1}, distractors=Distractors(), watermark=True)
    frames, labels = generate(sc, vid=f"synth{seed}")
    me = labels[labels["type"] == "me"] if "type" in labels.columns else labels
    return list(frames), me.iloc[0]


def write_casme2(root: str | Path, config: LayoutConfig | None = None) -> Path:
    """A tiny CASME II: ``ROOT/CASME2_RAW_selected/subNN/EPxx_yy/imgN.jpg`` and the 2019 coding sheet."""
    cfg = config or LayoutConfig()
    root = Path(root)
    rows = []
    k = 0
    for s in range(1, cfg.subjects + 1):
        for c in range(cfg.clips_per_subject):
            emotion = cfg.emotions[k % len(cfg.emotions)]
            frames, ev = _clip(cfg, emotion, cfg.seed * 1000 + k)
            k += 1
            clip = f"EP{c + 1:02d}_{s:02d}"
            folder = root / "CASME2_RAW_selected" / f"sub{s:02d}" / clip
            folder.mkdir(parents=True, exist_ok=True)
            for i, img in enumerate(frames):
                cv2.imwrite(str(folder / f"img{cfg.first_frame + i}.jpg"), img)
            rows.append({"Subject": f"{s:02d}", "Filename": clip,
                         "OnsetFrame": cfg.first_frame + int(ev["onset"]),
                         "ApexFrame": cfg.first_frame + int(ev["apex"]),
                         "OffsetFrame": cfg.first_frame + int(ev["offset"]),
                         "Action Units": str(ev.get("au", "")) or "synthetic",
                         "Estimated Emotion": CASME2_EMOTION[emotion]})
    sheet = root / "CASME2-coding-20190701.xlsx"
    write_with(sheet, lambda p: pd.DataFrame(rows).to_excel(p, index=False, engine="openpyxl"))
    return root
