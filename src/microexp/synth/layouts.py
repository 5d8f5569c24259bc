"""Small synthetic micro-expression datasets written in the real folder layouts, with their annotation sheets.

For end-to-end tests of ``--data NAME:ROOT``: the dataset registry must find the sheet and the frames exactly
as it would in the distributed dataset. Every clip is one ``microexp.synth`` clip holding one labelled
micro-expression of a chosen emotion (the synthetic face's AU templates differ per emotion, so the classes are
learnable), written as numbered JPEG frames. Synthetic: not real footage, never a benchmark.

Layouts written: CASME II (``CASME2_RAW_selected/sub01/EP01_01/img46.jpg`` + ``CASME2-coding-20190701.xlsx``),
SAMM (``SAMM/006/006_1_1/006_05562.jpg`` + ``SAMM_Micro_FACS_Codes_v2.xlsx``), SMIC-E-HS
(``SMIC-E_raw image/HS_long/SMIC-HS-E/s1/micro/negative/s1_ne_01/image000046.bmp`` + ``SMIC-HS-E_annotation.xlsx``),
CAS(ME)^3 Part A (``part_A/data/RGB/spNO.1/a/color/1.jpg`` + ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx``, sheet
``label``), MMEW (``MMEW_Final/Micro_Expression/happiness/S01-01-001/1.jpg`` + ``MMEW_Micro_Exp.xlsx``) and 4DME
(``4DME/gray/S01/S01_01/Frame_000000001.jpg`` + ``4DME_Labelling_Micro_release v1.xlsx``). The MMEW and 4DME
layouts follow the one library that reads them (MEB) and are unconfirmed against the real datasets.
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


def _write(root: Path, cfg: LayoutConfig, folder_of, frame_name, row_of, sheet: str, title_rows: int = 0,
           sheet_name: str = "Sheet1") -> Path:
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
            table.to_excel(xw, index=False, startrow=title_rows, sheet_name=sheet_name)
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


#: synthetic emotion -> CAS(ME)^3 Part A emotion (lower case, as in its JpgIndex sheet)
CASME3_EMOTION = {"negative": "disgust", "positive": "happy", "surprise": "surprise", "others": "others"}
#: synthetic emotion -> MMEW folder / sheet emotion (MMNet's 4-class set names)
MMEW_EMOTION = {"negative": "disgust", "positive": "happiness", "surprise": "surprise", "others": "others"}


def write_casme3(root: str | Path, config: LayoutConfig | None = None) -> Path:
    """A tiny CAS(ME)^3 Part A: ``ROOT/part_A/data/RGB/spNO.N/<letter>/color/<n>.jpg`` (frames from 1, one video per
    row here) and ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` (sheet ``label``, the ME sheet with emotions)."""
    cfg = config or LayoutConfig(first_frame=1)
    if cfg.clips_per_subject > 13:
        raise ValueError("CAS(ME)^3 has 13 videos (a-m) per subject")
    return _write(Path(root), cfg,
                  lambda s, c: f"part_A/data/RGB/spNO.{s}/{'abcdefghijklm'[c]}/color",
                  lambda s, n: f"{n}.jpg",
                  lambda s, c, on, ap, off, au, e: {
                      "Subject": f"spNO.{s}", "Filename": "abcdefghijklm"[c], "Onset": on, "Apex": ap,
                      "Offset": off, "AU": au, "Objective class": "I", "emotion": CASME3_EMOTION[e]},
                  "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", sheet_name="label")


def write_mmew(root: str | Path, config: LayoutConfig | None = None) -> Path:
    """A tiny MMEW: ``ROOT/MMEW_Final/Micro_Expression/<emotion>/S01-01-001/<n>.jpg`` and ``MMEW_Micro_Exp.xlsx``
    at the dataset root (clip name person-emotion-sample; layout after MEB, unconfirmed)."""
    cfg = config or LayoutConfig(first_frame=1)
    root = Path(root)
    names = list(MMEW_EMOTION.values())

    def emotion(s: int, c: int) -> str:
        return MMEW_EMOTION[cfg.emotions[((s - 1) * cfg.clips_per_subject + c) % len(cfg.emotions)]]

    def clip(s: int, c: int) -> str:
        return f"S{s:02d}-{names.index(emotion(s, c)) + 1:02d}-{c + 1:03d}"

    _write(root / "MMEW_Final", cfg, lambda s, c: f"Micro_Expression/{emotion(s, c)}/{clip(s, c)}",
           lambda s, n: f"{n}.jpg",
           lambda s, c, on, ap, off, au, e: {
               "Subject": f"S{s:02d}", "Filename": clip(s, c), "OnsetFrame": on, "ApexFrame": ap,
               "OffsetFrame": off, "Action Units": au, "Estimated Emotion": MMEW_EMOTION[e], "remarks": ""},
           "MMEW_Micro_Exp.xlsx")
    return root


def write_4dme(root: str | Path, config: LayoutConfig | None = None) -> Path:
    """A tiny 4DME: ``ROOT/4DME/gray/S01/S01_01/Frame_000000001.jpg`` and ``4DME_Labelling_Micro_release v1.xlsx``
    (emotions written Negative/Positive/Surprise/Others; layout after MEB, unconfirmed)."""
    cfg = config or LayoutConfig(first_frame=1)
    root = Path(root)
    _write(root / "4DME", cfg, lambda s, c: f"gray/S{s:02d}/S{s:02d}_{c + 1:02d}",
           lambda s, n: f"Frame_{n:09d}.jpg",
           lambda s, c, on, ap, off, au, e: {
               "sub_ID": f"S{s:02d}", "fold_name": f"S{s:02d}_{c + 1:02d}", "Onset": on, "Apex": ap,
               "Offset": off, "AUs": au, "Emotion": e.capitalize()},
           "4DME_Labelling_Micro_release v1.xlsx")
    return root
