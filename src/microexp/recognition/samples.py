"""Recognition inputs from a dataset as distributed: ``casme2:ROOT`` + a named protocol -> a :class:`FlowSet`.

Path: the dataset registry reads the annotation sheet and finds every clip's frames (``datasets.registry.load``);
each clip goes through the one face track with the crop cache (``features.cache.get_or_build_crops``); the
onset's crop transform is applied to every frame used (the flow must see the face move, not the crop); then the
input the model reads is built (``registry.INPUTS``):

* ``flow28`` / ``flow28+apex``: onset->apex flow (Farneback, DIS or TV-L1) and optical strain, encoded as the
  composite set's 3 x 28 x 28 u/v/strain (plus the 28 x 28 apex face, ImageNet-normalised);
* ``frames224``: onset and apex RGB faces at the model's size, ImageNet-normalised, stacked (6 channels);
* ``flowseq384``: T long-term Farneback flows (onset -> T frames spread over onset..offset), HSV-encoded with
  the magnitude min-max scaled per frame (SLSTT's encoding), at the model's size, ImageNet-normalised.

Optional Eulerian magnification (``features.magnify``) of the onset->apex crop sequence before the flow.
Samples whose frames are missing or where no face is found are left out and listed in ``index.attrs['skipped']``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from microexp.errors import ConfigError, InputError
from microexp.recognition.data import IMAGENET_MEAN, IMAGENET_STD, FlowSet, subject_key


@dataclass(frozen=True)
class Protocol:
    """A named class protocol: which dataset reader, which rows, which label order."""

    name: str
    dataset: str  # dataset registry name (its reader may already apply the row filter and labels)
    classes: tuple[str, ...]
    note: str
    mapping: dict | None = None  # annotated emotion (lower case) -> class; rows of other emotions are dropped
    annotation: str | None = None  # glob of the sheet to read inside ROOT, when not the registry's first choice


def _protocols() -> dict[str, Protocol]:
    from microexp.datasets import casme2, samm

    return {p.name: p for p in (
        Protocol("casme2-5class", "casme2_5class", casme2.FIVE_CLASSES,
                 "CASME II, 5 classes (fear and sadness dropped), MMNet's label order"),
        Protocol("samm-5class", "samm_5class", samm.FIVE_CLASSES, "SAMM, 5 classes (anger, contempt, happiness, "
                 "surprise, other)"),
        Protocol("smic-3class", "smic", ("negative", "positive", "surprise"), "SMIC-HS, its own 3 classes"),
        Protocol("casme3-7class", "casme3", CASME3_7, "CAS(ME)^3 Part A micro-expressions, 7 emotions",
                 {c: c for c in CASME3_7}, CASME3_ME_SHEET),
        Protocol("casme3-4class", "casme3", ("negative", "positive", "surprise", "others"),
                 "CAS(ME)^3 Part A micro-expressions, 4 classes (anger, disgust, fear, sad -> negative)",
                 {"anger": "negative", "disgust": "negative", "fear": "negative", "sad": "negative",
                  "happy": "positive", "surprise": "surprise", "others": "others"}, CASME3_ME_SHEET),
        Protocol("mmew-4class", "mmew", MMEW_4, "MMEW micro-expressions, MMNet's 4 classes (layout unconfirmed)",
                 {c: c for c in MMEW_4}),
        Protocol("4dme-3class", "4dme", COMPOSITE_3, "4DME micro-expressions, negative/positive/surprise "
                 "(others dropped; label names unconfirmed)", {c: c for c in COMPOSITE_3}),
    )}


def composite_part(dataset: str) -> Protocol:
    """The MEGC2019 composite's 3-class mapping applied to one source database read from its own root."""
    from microexp.datasets.composite import COMPOSITE_EMOTION_MAP

    return Protocol("composite-3class", dataset, COMPOSITE_3, "MEGC2019 composite (SMIC + CASME II + SAMM), "
                    "negative/positive/surprise by the guideline's per-database mapping",
                    COMPOSITE_EMOTION_MAP[dataset])


CASME3_7 = ("anger", "disgust", "fear", "happy", "sad", "surprise", "others")
MMEW_4 = ("happiness", "surprise", "disgust", "others")
COMPOSITE_3 = ("negative", "positive", "surprise")
CASME3_ME_SHEET = "*JpgIndex_v2*.xls*"  # the ME sheet with emotions (the v2 .xls has no emotion column)
PROTOCOL_NAMES = ("casme2-5class", "samm-5class", "smic-3class", "casme3-7class", "casme3-4class", "mmew-4class",
                  "4dme-3class", "composite-3class", "composite-holdout")


def protocol_rows(df: pd.DataFrame, proto: Protocol) -> pd.DataFrame:
    """The protocol's rows with ``label`` (index into ``proto.classes``); readers that label already pass."""
    if proto.mapping is None:
        if "label" in df.columns:
            return df
        out = df[df["emotion"].isin(proto.classes)].copy()
        out["label"] = out["emotion"].map({c: i for i, c in enumerate(proto.classes)}).astype(int)
        return out.reset_index(drop=True)
    emo = df["emotion"].astype(str).str.strip().str.lower()
    keep = emo.isin(proto.mapping)
    if "type" in df.columns:
        keep &= df["type"] == "me"
    out = df[keep].copy()
    out["label"] = emo[keep].map(lambda e: proto.classes.index(proto.mapping[e])).astype(int)
    return out.reset_index(drop=True)


def _find_sheet(root: Path, pattern: str) -> Path:
    hits = sorted((p for depth in range(4) for p in root.glob("/".join(["*"] * depth + [pattern]))
                   if p.is_file()), key=lambda p: (len(p.parts), str(p)))
    if not hits:
        raise InputError(f"no annotation sheet matching {pattern} found", root)
    return hits[0]


def get_protocol(name: str) -> Protocol:
    table = _protocols()
    if name not in table:
        raise ConfigError(f"unknown protocol {name!r}; choose one of {', '.join(table)}")
    return table[name]


@dataclass(frozen=True)
class InputSpec:
    """How to turn a clip into a model input."""

    kind: str = "flow28"  # a key of registry.INPUTS
    size: int = 28  # image side for frames224 / flowseq384 (the model config's ``img``)
    frames: int = 11  # T for flowseq384
    flow: str = "dis"  # farneback | dis | tvl1 (flow28 inputs)
    crop: int = 128  # aligned crop side the flow is computed on
    magnify: object | None = None  # a features.magnify.MagnifyConfig, or None


def _norm_rgb(bgr: np.ndarray, size: int) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    return ((rgb.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)


def hsv_flow(flow: np.ndarray) -> np.ndarray:
    """SLSTT's flow image: hue = direction, saturation 255, value = magnitude min-max scaled per frame (BGR)."""
    mag, ang = cv2.cartToPolar(np.ascontiguousarray(flow[..., 0]), np.ascontiguousarray(flow[..., 1]))
    hsv = np.zeros(flow.shape[:2] + (3,), np.uint8)
    hsv[..., 0] = (ang * 180 / np.pi / 2).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = cv2.normalize(mag, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


def clip_input(files: list[Path], onset: int, apex: int, offset: int, transform: np.ndarray,
               spec: InputSpec) -> np.ndarray:
    """One sample's input from its frame files (0-based onset/apex/offset positions) and the onset's crop
    transform (source pixels -> ``spec.crop`` crop)."""
    from microexp.face.align import warp
    from microexp.recognition.api import flow_from_sequence

    size = (spec.crop, spec.crop)

    def crop(i: int, gray: bool = True) -> np.ndarray:
        img = cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
        if img is None:
            raise InputError("cannot read frame image", files[i])
        return warp(img, transform, size)

    if spec.kind in ("flow28", "flow28+apex"):
        idx = range(onset, apex + 1) if spec.magnify is not None else (onset, apex)
        x = flow_from_sequence([crop(i) for i in idx], method=spec.flow, magnify=spec.magnify)
        if spec.kind == "flow28+apex":
            x = np.concatenate([x, _norm_rgb(crop(apex, gray=False), 28)])
        return x
    if spec.kind == "frames224":
        return np.concatenate([_norm_rgb(crop(onset, gray=False), spec.size),
                               _norm_rgb(crop(apex, gray=False), spec.size)])
    if spec.kind == "flowseq384":
        from microexp.features.flow import compute_flow

        first = crop(onset)
        last = max(offset, onset + 1)
        picks = np.linspace(onset, last, spec.frames + 1)[1:].round().astype(int)
        out = [_norm_rgb(hsv_flow(compute_flow(first, crop(int(min(i, len(files) - 1))), method="farneback")),
                         spec.size) for i in picks]
        return np.stack(out)
    raise ConfigError(f"unknown input kind {spec.kind!r}")


def load_dataset_set(name: str, root: str | Path, protocol: str | Protocol, spec: InputSpec, *,
                     cache_dir: str | Path | None = None,
                     progress: Callable[[int, int | None], None] | None = None,
                     rows: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> FlowSet:
    """Every usable sample of ``protocol`` from the dataset at ``root`` as model inputs plus an index
    (``rows`` narrows the protocol's rows first, e.g. to an official sample list)."""
    from microexp.datasets.registry import load
    from microexp.face.track import TrackConfig
    from microexp.features.cache import get_or_build_crops

    proto = protocol if isinstance(protocol, Protocol) else get_protocol(protocol)
    protocol = proto.name
    family = proto.dataset.split("_")[0]
    if name != family:
        raise ConfigError(f"protocol {protocol} is for {family}, not {name}")
    sheet = _find_sheet(Path(root), proto.annotation) if proto.annotation else None
    df = protocol_rows(load(proto.dataset, root, annotation=sheet), proto)
    if rows is not None:
        df = rows(df).reset_index(drop=True)
    usable = df[df["frames_ok"] & (df["frames_dir"] != "")].reset_index(drop=True)
    if usable.empty:
        raise InputError(f"no {protocol} sample has its onset, apex and offset frames on disk", root)
    xs, rows, skipped = [], [], []
    total = len(usable)
    for k, r in usable.iterrows():
        fps = float(r["fps"]) if "fps" in r and pd.notna(r["fps"]) else 30.0
        seq = get_or_build_crops(r["frames_dir"], fps=fps, size=spec.crop, cache_dir=cache_dir,
                                 config=TrackConfig(size=spec.crop, check_s=max(0.2, 2.0 / fps)))
        # onset/apex/offset are 0-based positions in the clip's sorted frame list (the annotated numbers are
        # in *_annot)
        on, off = int(r["onset"]), int(r["offset"])
        estimated = pd.isna(r["apex"])  # SMIC has no apex annotation: the midpoint, as MEB does (flagged)
        ap = (on + off) // 2 if estimated else int(r["apex"])
        if not seq.face[on] or not seq.face[ap]:
            skipped.append(f"{r['subject']}/{r['clip']}: no face on the onset or apex frame")
            continue
        files = [Path(r["frames_dir"]) / f for f in r["frames"]]
        xs.append(clip_input(files, on, ap, off, seq.transforms[on], spec))
        rows.append({"dataset": name, "subject": str(r["subject"]), "clip": str(r["clip"]),
                     "label": int(r["label"]), "emotion": r["emotion"], "sample": f"{r['subject']}_{r['clip']}",
                     "subject_key": subject_key(name, r["subject"]), "onset": on, "apex": ap, "offset": off,
                     "apex_estimated": bool(estimated)})
        if progress is not None:
            progress(k + 1, total)
    if not xs:
        raise InputError(f"no usable {protocol} sample (faces not found): {skipped[:3]}", root)
    index = pd.DataFrame(rows)
    index.attrs.update(skipped=skipped, protocol=protocol, classes=proto.classes, input=spec.kind)
    X = np.stack(xs).astype(np.float32)
    apex = None
    if spec.kind == "flow28+apex":
        X, apex = X[:, :3], X[:, 3:]
    return FlowSet(X, index, Path(root), apex, tuple(proto.classes), spec.kind)


def holdout_database(data: FlowSet) -> FlowSet:
    """The composite hold-out-database protocol: one fold per source database (train on the other two).

    Implemented as LOSO with the database as the "subject" (``subject = dataset``), so the experiment layer,
    resume and every output work unchanged; folds are named ``casme2/casme2``, ``samm/samm``, ``smic/smic``.
    """
    import dataclasses

    index = data.index.copy()
    index["subject_orig"] = index["subject"]
    index["subject"] = index["dataset"]
    index["subject_key"] = [subject_key(d, d) for d in index["dataset"]]
    index.attrs = {**data.index.attrs, "protocol": "composite-holdout"}
    if index["dataset"].nunique() < 2:
        raise InputError("the hold-out-database protocol needs samples of at least two databases", data.root)
    return dataclasses.replace(data, index=index)


DEFAULT_PROTOCOL = {"casme2": "casme2-5class", "samm": "samm-5class", "smic": "smic-3class",
                    "casme3": "casme3-4class", "mmew": "mmew-4class", "4dme": "4dme-3class",
                    "composite": "composite-3class"}
COMPOSITE_PARTS = ("smic", "casme2", "samm")


def parse_composite_roots(text: str) -> tuple[dict[str, Path], Path | None]:
    """``casme2=DIR,samm=DIR,smic=DIR[,list=FILE]`` -> ({database: root}, official list or None)."""
    roots: dict[str, Path] = {}
    listed = None
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or not value.strip() or key not in (*COMPOSITE_PARTS, "list"):
            raise ConfigError(f"composite data must look like composite:casme2=DIR,samm=DIR,smic=DIR[,list=FILE]; "
                              f"got {part!r}")
        if key == "list":
            listed = Path(value.strip())
        else:
            roots[key] = Path(value.strip())
    if not roots:
        raise ConfigError("composite data names no database root (casme2=DIR, samm=DIR, smic=DIR)")
    return roots, listed


def _clip_key(dataset: str, clip) -> str:
    import re

    c = str(clip).strip().lower()
    return re.sub(r"^s0*(\d+)_", r"s\1_", c) if dataset == "smic" else c


def load_composite_roots(text: str, spec: InputSpec, *, cache_dir: str | Path | None = None,
                         progress: Callable[[int, int | None], None] | None = None) -> FlowSet:
    """The MEGC2019 composite built from the databases' own roots (each through the one face track and the crop
    cache), labelled by the guideline's per-database mapping. With ``list=FILE`` (the official
    ``combined_3class_gt.csv`` you received with the challenge, or HTNet's copy) exactly the listed samples are
    kept, as the guideline asks; without it every sample whose emotion maps is used and the run says so."""
    import dataclasses

    from microexp.datasets.composite import read_composite

    roots, listed = parse_composite_roots(text)
    keep = None
    if listed is not None:
        official = read_composite(listed)
        keep = {(d, str(s), _clip_key(d, c)) for d, s, c in
                zip(official["dataset"], official["subject"], official["clip"], strict=True)}
    parts = []
    for db in COMPOSITE_PARTS:
        if db not in roots:
            continue
        rows = None
        if keep is not None:
            def rows(df, db=db):
                mask = [(db, str(s), _clip_key(db, c)) in keep for s, c in zip(df["subject"], df["clip"], strict=True)]
                return df[mask]
        parts.append(load_dataset_set(db, roots[db], composite_part(db), spec, cache_dir=cache_dir,
                                      progress=progress, rows=rows))
    first = parts[0]
    index = pd.concat([p.index for p in parts], ignore_index=True)
    index.attrs = {**first.index.attrs, "protocol": "composite-3class",
                   "skipped": [s for p in parts for s in p.index.attrs.get("skipped", [])],
                   "official_list": str(listed) if listed is not None else "",
                   "databases": [p.index["dataset"].iat[0] for p in parts]}
    apex = None if first.apex is None else np.concatenate([p.apex for p in parts])
    return dataclasses.replace(first, X=np.concatenate([p.X for p in parts]), index=index, apex=apex,
                               root=Path(",".join(f"{d}={r}" for d, r in roots.items())))


def load_for_model(data_spec: str, model: str, *, protocol: str | None = None, flow: str = "dis",
                   magnify=None, model_overrides: dict | None = None, cache_dir: str | Path | None = None,
                   progress: Callable[[int, int | None], None] | None = None) -> tuple[FlowSet, dict]:
    """The data of ``--data NAME:ROOT`` built for ``model``, plus the model-config overrides it implies
    (``num_classes`` of the protocol). One-line errors when the model cannot read the data."""
    import dataclasses

    from microexp.recognition.data import load_composite, parse_data_spec
    from microexp.recognition.registry import get_arch, make_config, require_input

    kind, root = parse_data_spec(data_spec)
    if kind == "composite-flow":
        if protocol not in (None, "composite-3class", "composite-holdout"):
            raise ConfigError(f"composite-flow protocols are composite-3class and composite-holdout, not {protocol}")
        arch = require_input(model, "flow28+apex")
        data = load_composite(root, with_apex=arch.with_apex)
        return (holdout_database(data) if protocol == "composite-holdout" else data), {}
    arch = get_arch(model)
    cfg = dataclasses.asdict(make_config(model, {k: v for k, v in (model_overrides or {}).items()
                                                 if k not in ("weights", "allow_scratch")}))
    spec = InputSpec(kind=arch.input, size=int(cfg.get("img", 28)), frames=int(cfg.get("frames", 11)),
                     flow=flow, magnify=magnify)
    if kind == "composite":
        if protocol not in (None, "composite-3class", "composite-holdout"):
            raise ConfigError(f"composite protocols are composite-3class and composite-holdout, not {protocol}")
        data = load_composite_roots(str(root), spec, cache_dir=cache_dir, progress=progress)
        return (holdout_database(data) if protocol == "composite-holdout" else data), {"num_classes": 3}
    proto = get_protocol(protocol or DEFAULT_PROTOCOL[kind])
    data = load_dataset_set(kind, root, proto.name, spec, cache_dir=cache_dir, progress=progress)
    return data, {"num_classes": len(proto.classes)}
