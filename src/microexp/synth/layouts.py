"""Small synthetic micro-expression datasets written in the real folder layouts, with their annotation sheets.

For end-to-end tests of ``--data NAME:ROOT``: the dataset registry must find the sheet and the frames exactly
as it would in the distributed dataset. Every clip is one ``microexp.synth`` clip holding one labelled
micro-expression of a chosen emotion (the synthetic face's AU templates differ per emotion, so the classes are
learnable), written as numbered JPEG frames. Synthetic: not real footage, never a benchmark.

Layouts written: CASME II (``CASME2_RAW_selected/sub01/EP01_01/img46.jpg`` + ``CASME2-coding-20190701.xlsx``) and
SAMM (``SAMM/006/006_1_1/006_05562.jpg`` + ``SAMM_Micro_FACS_Codes_v2.xlsx``) and SMIC-E-HS
(``SMIC-E_raw image/HS_long/SMIC-HS-E/s1/micro/negative/s1_ne_01/image000046.bmp`` + ``SMIC-HS-E_annotation.xlsx``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import pandas as pd

from microexp.io.atomic import write_with

#: synthetic emotion -> CASME II class (the synth's templates know negative, positive, surprise, others)
CASME2_EMOTION = {"negative": "disgust", "positive": "happiness", "surprise": "surprise", "others": "others"}
SAMM_EMOTION = {"negative": "Anger", "positive": "Happiness", "surprise": "Surprise", "others": "Other"}


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
    frames, labels = generate(sc, video=f"synth{seed}")
    me = labels[labels["type"] == "me"] if "type" in labels.columns else labels
    return list(frames), me.iloc[0]


def _write(root: Path, cfg: LayoutConfig, folder_of, frame_name, row_of, sheet: str, title_rows: int = 0) -> Path:
    rows, k = [], 0
    for s in range(1, cfg.subjects + 1):
        for c in range(cfg.clips_per_subject):
            emotion = cfg.emotions[k % len(cfg.emotions)]
            frames, ev = _clip(cfg, emotion, cfg.seed * 1000 + k)
            k += 1
            folder = root / folder_of(s, c)
            folder.mkdir(parents=True, exist_ok=True)
            for i, img in enumerate(frames):
                cv2.imwrite(str(folder / frame_name(s, cfg.first_frame + i)), img)
            on, ap, off = (cfg.first_frame + int(ev[x]) for x in ("onset", "apex", "offset"))
            rows.append(row_of(s, c, on, ap, off, str(ev.get("au", "")) or "synthetic", emotion))
    table = pd.DataFrame(rows)

    def save(p: Path) -> None:
        with pd.ExcelWriter(p, engine="openpyxl") as xw:  # SAMM's sheet has title rows above the header
            table.to_excel(xw, index=False, startrow=title_rows)
    write_with(root / sheet, save)
    return root


def write_casme2(root: str | Path, config: LayoutConfig | None = None) -> Path:
    """A tiny CASME II: ``ROOT/CASME2_RAW_selected/subNN/EPxx_yy/imgN.jpg`` and the 2019 coding sheet."""
    return _write(Path(root), config or LayoutConfig(),
                  lambda s, c: f"CASME2_RAW_selected/sub{s:02d}/EP{c + 1:02d}_{s:02d}",
                  lambda s, n: f"img{n}.jpg",
                  lambda s, c, on, ap, off, au, emo: {
                      "Subject": f"{s:02d}", "Filename": f"EP{c + 1:02d}_{s:02d}", "OnsetFrame": on,
                      "ApexFrame": ap, "OffsetFrame": off, "Action Units": au,
                      "Estimated Emotion": CASME2_EMOTION[emo]},
                  "CASME2-coding-20190701.xlsx")


def write_samm(root: str | Path, config: LayoutConfig | None = None) -> Path:
    """A tiny SAMM: ``ROOT/SAMM/006/006_1_1/006_05562.jpg`` and ``SAMM_Micro_FACS_Codes_v2.xlsx`` (title rows
    above the header, as in the distributed sheet)."""
    cfg = config or LayoutConfig(first_frame=5562)
    return _write(Path(root), cfg,
                  lambda s, c: f"SAMM/{5 + s:03d}/{5 + s:03d}_{c + 1}_1",
                  lambda s, n: f"{5 + s:03d}_{n:05d}.jpg",
                  lambda s, c, on, ap, off, au, emo: {
                      "Subject": f"{5 + s:03d}", "Filename": f"{5 + s:03d}_{c + 1}_1", "Inducement Code": c + 1,
                      "Onset Frame": on, "Apex Frame": ap, "Offset Frame": off, "Duration": off - on + 1,
                      "Type": "Micro - 1/2", "Action Units": au, "Estimated Emotion": SAMM_EMOTION[emo]},
                  "SAMM_Micro_FACS_Codes_v2.xlsx", title_rows=3)


SMIC_CODE = {"negative": "ne", "positive": "po", "surprise": "sur"}


def write_smic(root: str | Path, config: LayoutConfig | None = None) -> Path:
    """A tiny SMIC-E-HS: ``ROOT/SMIC-E_raw image/HS_long/SMIC-HS-E/s1/micro/negative/s1_ne_01/image000046.bmp``
    and ``SMIC-HS-E_annotation.xlsx`` (no apex column, as in SMIC; the emotion is in the clip name)."""
    cfg = config or LayoutConfig()
    if set(cfg.emotions) - set(SMIC_CODE):
        raise ValueError(f"SMIC has only {sorted(SMIC_CODE)}")

    def clip(s: int, c: int) -> str:
        return f"s{s}_{SMIC_CODE[cfg.emotions[((s - 1) * cfg.clips_per_subject + c) % len(cfg.emotions)]]}_{c + 1:02d}"

    def folder(s: int, c: int) -> str:
        emotion = cfg.emotions[((s - 1) * cfg.clips_per_subject + c) % len(cfg.emotions)]
        return f"SMIC-E_raw image/HS_long/SMIC-HS-E/s{s}/micro/{emotion}/{clip(s, c)}"

    return _write(Path(root), cfg, folder, lambda s, n: f"image{n:06d}.bmp",
                  lambda s, c, on, ap, off, au, emo: {
                      "Subject": f"s{s}", "Filename": clip(s, c), "FirstF": cfg.first_frame,
                      "OnsetF": on, "OffsetF": off},
                  "SMIC-HS-E_annotation.xlsx")
