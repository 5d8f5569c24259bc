"""Public generator API: a config in, frames and labels out; clips and whole LOSO-ready suites on disk.

Labels use 0-based inclusive frame indices (``onset`` is the last neutral frame, ``offset`` the first frame
back at neutral) in the MEGC columns ``vid, onset, offset, type`` plus ``apex, emotion, au``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from microexp.errors import ConfigError, InputError
from microexp.io.atomic import write_json, write_with
from microexp.synth.config import SynthConfig
from microexp.synth.config import preset as _preset
from microexp.synth.encode import write_video_reproducible
from microexp.synth.face import DEFAULT_FACE, BaseFace, prepare_face
from microexp.synth.render import Scene, render
from microexp.synth.templates import (
    combine,
    component_fields,
    face_box,
    flow_template_field,
    list_flow_templates,
)
from microexp.synth.timeline import (
    Event,
    head_track,
    light_track,
    schedule_distractors,
    schedule_expressions,
)

LABEL_COLUMNS = ["vid", "onset", "apex", "offset", "type", "emotion", "au"]
SUITE_COLUMNS = ["video", "subject", "onset", "apex", "offset", "type", "emotion", "au"]
Progress = Callable[[int, int | None], None]


def build_scene(config: SynthConfig, face: str | None = None) -> tuple[Scene, list[Event]]:
    """Schedule every event and precompute its displacement field; returns the scene and labelled events."""
    cfg = config.validate()
    face = face or (cfg.faces[cfg.seed % len(cfg.faces)] if cfg.faces else DEFAULT_FACE)
    base: BaseFace = prepare_face(str(face), cfg.width, cfg.height, cfg.face_px)
    lm = np.asarray(base.landmarks, dtype=np.float64)
    box = face_box(lm, cfg.width, cfg.height)
    seeds = np.random.SeedSequence(cfg.seed).spawn(5)
    r_expr, r_dist, r_head, r_light, r_noise = (np.random.default_rng(s) for s in seeds)
    templates = list_flow_templates(cfg.flow_templates) if cfg.flow_templates else []
    if cfg.flow_templates and not templates:
        raise InputError("flow-template folder holds no images", cfg.flow_templates)
    expressions = schedule_expressions(cfg, r_expr, n_templates=len(templates))
    distractors = schedule_distractors(cfg, r_dist)
    comps = component_fields(lm, box)
    iod = base.iod
    events: list[Event] = []
    fields: dict[int, np.ndarray] = {}
    for ev in expressions + distractors:
        if ev.kind == "blink":
            field = None  # drawn as an occluding lid (amplitude = closure depth), not a warp
        else:
            field = None
            if ev.template:
                field = flow_template_field(templates[int(ev.template)], lm, box)
                if field is None:
                    ev.template = ""
                else:
                    ev.template = templates[int(ev.template)].name
                    ev.au = "flow"
            if field is None:
                field = combine(comps, ev.weights, ev.right, ev.left)
            ev.amplitude_px = ev.amplitude_px * iod  # amplitudes are scheduled in IOD units
        fields[len(events)] = field
        events.append(ev)
    pose = head_track(cfg, r_head, iod)
    gain = light_track(cfg, r_light)
    scene = Scene(base, box, fields, events, pose, gain, int(r_noise.integers(2**31)),
                  cfg.distractors.noise_sigma, cfg.fps, cfg.watermark)
    return scene, [e for e in events if e.labelled]


def labels_frame(events: list[Event], vid: str) -> pd.DataFrame:
    rows = [(vid, e.onset, e.apex, e.offset, e.kind, e.emotion, e.au) for e in events if e.labelled]
    df = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    df = df.astype({"onset": int, "apex": int, "offset": int})
    df.attrs["frame_base"] = 0
    return df


def generate(config: SynthConfig, vid: str = "synth", face: str | None = None
             ) -> tuple[Iterator[np.ndarray], pd.DataFrame]:
    """Frames (a lazy iterator of BGR uint8 images) and the ground-truth labels of one clip."""
    scene, labelled = build_scene(config, face)
    labels = labels_frame(labelled, vid)
    labels.attrs["events"] = [_event_dict(e) for e in scene.events]
    labels.attrs["subject"] = scene.face.subject
    labels.attrs["iod_px"] = scene.face.iod
    labels.attrs["box"] = scene.box
    labels.attrs["landmarks"] = np.asarray(scene.face.landmarks).tolist()
    return render(scene, config.n_frames), labels


def _event_dict(e: Event) -> dict:
    return {"kind": e.kind, "onset": e.onset, "apex": e.apex, "offset": e.offset,
            "amplitude_px": round(float(e.amplitude_px), 4), "emotion": e.emotion, "au": e.au,
            "right": round(e.right, 3), "left": round(e.left, 3), "template": e.template}


def _counted(frames: Iterator[np.ndarray], total: int, progress: Progress | None) -> Iterator[np.ndarray]:
    for i, fr in enumerate(frames):
        yield fr
        if progress is not None and (i % 25 == 0 or i == total - 1):
            progress(i + 1, total)


def labels_path(video: str | Path) -> Path:
    """``clip.mp4`` -> ``clip.csv`` (ground truth beside the video)."""
    return Path(video).with_suffix(".csv")


def write_clip(path: str | Path, config: SynthConfig, face: str | None = None, vid: str | None = None,
               progress: Progress | None = None) -> pd.DataFrame:
    """Write the H.264 video, ``<name>.csv`` (labels) and ``<name>.json`` (config, all events, synthetic)."""
    path = Path(path)
    if path.suffix.lower() not in (".mp4", ".mkv", ".mov", ".avi"):
        raise ConfigError("output video must end in .mp4, .mkv, .mov or .avi", path)
    vid = vid or path.stem
    frames, labels = generate(config, vid=vid, face=face)
    write_video_reproducible(path, _counted(frames, config.n_frames, progress), config.fps,
                             crf=config.distractors.crf)
    write_with(labels_path(path), lambda tmp: labels.to_csv(tmp, index=False))
    meta = {"synthetic": True, "generator": "microexp.synth", "frame_base": 0, "vid": vid,
            "subject": labels.attrs["subject"], "n_frames": config.n_frames, "fps": config.fps,
            "iod_px": labels.attrs["iod_px"], "config": config.to_dict(), "events": labels.attrs["events"]}
    write_json(path.with_suffix(".json"), meta)
    return labels


def suite_configs(n_videos: int, preset: str = "casme_sq", faces=None, seed: int = 0,
                  seconds: float | None = None, **overrides) -> list[tuple[str, str, SynthConfig]]:
    """(video id, face, config) of every suite video; lets callers render a suite's videos in parallel."""
    if n_videos < 1:
        raise ConfigError(f"--videos must be at least 1 (got {n_videos})")
    faces = [str(f) for f in (faces or [DEFAULT_FACE])]
    changes = dict(overrides)
    if seconds is not None:
        changes["seconds"] = seconds
    out = []
    for i in range(n_videos):
        face = faces[i % len(faces)]
        cfg = _preset(preset, seed=seed * 1000 + i, faces=(face,) if face != DEFAULT_FACE else (), **changes)
        out.append((f"v{i:03d}", face, cfg))
    return out


def write_suite(directory: str | Path, n_videos: int = 20, preset: str = "casme_sq",
                faces: list[str] | tuple[str, ...] | None = None, seed: int = 0, seconds: float | None = None,
                progress: Progress | None = None, **overrides) -> pd.DataFrame:
    """A benchmark set: ``v000.mp4``... with labels, plus ``index.csv`` (one subject per base face, for LOSO).

    Videos cycle through the faces; video i uses seed ``seed * 1000 + i``. A rerun keeps finished videos whose
    sidecar config matches, so an interrupted suite resumes.
    """
    directory = Path(directory)
    configs = suite_configs(n_videos, preset, faces, seed, seconds, **overrides)
    faces = list(dict.fromkeys(face for _, face, _ in configs))
    frames_total = sum(cfg.n_frames for _, _, cfg in configs)
    done_frames = 0
    parts = []
    for vid, face, cfg in configs:
        video = directory / f"{vid}.mp4"

        def step(d, _t, base=done_frames):
            if progress is not None:
                progress(base + d, frames_total)

        labels = _reuse(video, cfg)
        if labels is None:
            labels = write_clip(video, cfg, face=face, vid=vid, progress=step)
            subject = labels.attrs["subject"]
        else:
            subject = json.loads(video.with_suffix(".json").read_text())["subject"]
        done_frames += cfg.n_frames
        if progress is not None:
            progress(done_frames, frames_total)
        part = labels.rename(columns={"vid": "video"})
        part.insert(1, "subject", subject)
        parts.append(part[SUITE_COLUMNS])
    index = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=SUITE_COLUMNS)
    write_with(directory / "index.csv", lambda tmp: index.to_csv(tmp, index=False))
    write_json(directory / "suite.json", {"synthetic": True, "preset": preset, "n_videos": n_videos,
                                          "seed": seed, "faces": faces, "frame_base": 0,
                                          "videos": [v for v, _, _ in configs]})
    index.attrs["frame_base"] = 0
    return index


def _reuse(video: Path, cfg: SynthConfig) -> pd.DataFrame | None:
    meta_path, csv = video.with_suffix(".json"), labels_path(video)
    if not (video.is_file() and csv.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    if json.loads(json.dumps(cfg.to_dict())) != meta.get("config"):
        return None
    return pd.read_csv(csv, dtype={"au": str})


def demo_config(seconds: float = 20.0, seed: int = 0) -> SynthConfig:
    """The ``make demo`` clip: CAS(ME)^2 durations and amplitudes, denser events so a short clip shows several."""
    minutes = seconds / 60
    return _preset("casme_sq", seconds=seconds, seed=seed, min_me=max(2, round(9 * minutes)),
                  min_mae=max(2, round(6 * minutes)))


def make_demo_video(path: str | Path, seconds: float = 20.0, seed: int = 0,
                    progress: Progress | None = None) -> pd.DataFrame:
    """Write the demo clip (astronaut face, several MEs and MaEs) and return its labels."""
    return write_clip(path, demo_config(seconds, seed), progress=progress)
