"""Dataset registry: ``read_annotations(name, path)`` for one file, ``load(name, root)`` for a whole folder.

Each entry names its reader, the annotation file names to look for inside a dataset folder (first match wins,
case-insensitive, shallowest first), its frame rate and whether the reader was checked against a real file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from microexp.datasets import casme2, casme3, casme_sq, composite, dfme, fourdme, mmew, samm, smic
from microexp.errors import ConfigError, InputError


@dataclass(frozen=True)
class DatasetSpec:
    """What the toolkit knows about one dataset name."""

    name: str
    title: str
    reader: Callable[..., pd.DataFrame]
    annotation_names: tuple[str, ...]
    fps: float | None
    long_video: bool
    checked: bool  # reader verified on a real annotation file in ../shared
    protocol: Callable[[pd.DataFrame], pd.DataFrame] | None = None


def _protocol(reader, proto):
    def read(path, **kw):
        return proto(reader(path, **kw))
    return read


REGISTRY: dict[str, DatasetSpec] = {s.name: s for s in (
    DatasetSpec("casme2", "CASME II (255 coded clips)", casme2.read_casme2,
                ("CASME2-coding-20190701.xlsx", "CASME2-coding-20140508.xlsx", "CASME2-coding-updated.xlsx",
                 "CASME2-coding-*.xlsx", "CASME2_label_Ver_2.xls"), casme2.FPS, False, True),
    DatasetSpec("casme2_5class", "CASME II 5-class protocol", _protocol(casme2.read_casme2, casme2.five_class),
                ("CASME2-coding-20190701.xlsx", "CASME2-coding-20140508.xlsx", "CASME2-coding-*.xlsx"),
                casme2.FPS, False, True, casme2.five_class),
    DatasetSpec("casme2_3class_mmnet", "CASME II 3-class (MMNet's, not MEGC)",
                _protocol(casme2.read_casme2, casme2.three_class_mmnet),
                ("CASME2-coding-20190701.xlsx", "CASME2-coding-20140508.xlsx", "CASME2-coding-*.xlsx"),
                casme2.FPS, False, True, casme2.three_class_mmnet),
    DatasetSpec("samm", "SAMM micro-expressions (159)", samm.read_samm,
                ("SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM_20181215_Micro_FACS_Codes_v2.xlsx", "SAMM*Micro*FACS*.xlsx"),
                samm.FPS, False, True),
    DatasetSpec("samm_5class", "SAMM 5-class protocol", _protocol(samm.read_samm, samm.five_class),
                ("SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM_20181215_Micro_FACS_Codes_v2.xlsx", "SAMM*Micro*FACS*.xlsx"),
                samm.FPS, False, True, samm.five_class),
    DatasetSpec("smic", "SMIC-HS / SMIC-E-HS (164)", partial(smic.read_smic, variant="hs"),
                ("SMIC-HS-E_annotation_2019.xlsx", "SMIC-HS-E_annotation.xlsx", "smic.xlsx", "coding.csv"),
                smic.FPS["hs"], False, False),
    DatasetSpec("smic_vis", "SMIC-E-VIS", partial(smic.read_smic, variant="vis"),
                ("SMIC-VIS-E_annotation.xlsx", "SMIC_VIS_E_annotation.xlsx"), smic.FPS["vis"], False, False),
    DatasetSpec("smic_nir", "SMIC-E-NIR", partial(smic.read_smic, variant="nir"),
                ("SMIC-NIR-E_annotation.xlsx", "SMIC_NIR_E_annotation.xlsx"), smic.FPS["nir"], False, False),
    DatasetSpec("casme_sq", "CAS(ME)^2 long videos (357: 300 MaE, 57 ME)", casme_sq.read_casme_sq,
                ("CAS(ME)^2code_final.xlsx", "CAS(ME)^2code_final(Updated).xlsx", "code_final.xlsx",
                 "CASME_sq_gt.xlsx"), casme_sq.FPS, True, True),
    DatasetSpec("samm_lv", "SAMM Long Videos V2/V3 (502: 343 MaE, 159 ME)", samm.read_samm_lv,
                ("SAMM_LongVideos_V3_Release.xlsx", "SAMM_LongVideos_V2_Release.xlsx", "SAMMLV_gt.xlsx",
                 "SAMM_LongVideos.xlsx"), samm.FPS, True, True),
    DatasetSpec("casme3", "CAS(ME)^3 Part A (4206: 3346 MaE, 860 ME)", casme3.read_casme3,
                ("CAS(ME)3_part_A_v2.xls", "CAS(ME)3_part_A_v1.xls", "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"),
                casme3.FPS, True, True),
    DatasetSpec("casme3_c", "CAS(ME)^3 Part C (165 ME)", casme3.read_casme3_c,
                ("CAS(ME)3_part_C_ME.xlsx", "CAS(ME)3_part_C.xls"), casme3.FPS, True, True),
    DatasetSpec("mmew", "MMEW micro-expressions (unverified layout)", mmew.read_mmew,
                ("MMEW_Micro_Exp.xlsx",), mmew.FPS, False, False),
    DatasetSpec("4dme", "4DME micro-expressions (unverified layout)", fourdme.read_4dme,
                ("4DME_Labelling_Micro_release v1.xlsx", "4DME_Labelling_Micro_release*.xlsx",
                 "Micro and Macro-expression labels.xlsx"), fourdme.FPS, False, False),
    DatasetSpec("dfme", "DFME (per-row fps)", dfme.read_dfme,
                ("training_full_with_AU.xlsx", "testA_full_with_AU.xlsx", "testB_full_with_AU.xlsx"),
                None, False, True),
    DatasetSpec("composite", "MEGC2019 composite 3-class (442)", composite.read_composite,
                ("combined_3class_gt.csv", "combined_3_class2_for_optical_flow.csv"), None, False, True),
)}


def spec(name: str) -> DatasetSpec:
    """The registry entry for ``name`` (case-insensitive; ``-`` and ``_`` alike)."""
    key = str(name).strip().lower().replace("-", "_")
    key = {"cas(me)^2": "casme_sq", "casme^2": "casme_sq", "cas(me)^3": "casme3", "sammlv": "samm_lv",
           "fourdme": "4dme", "megc2019": "composite"}.get(key, key)
    if key not in REGISTRY:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[key]


def parse_data_spec(text: str, *, default: str | None = None, kinds: tuple[str, ...] | None = None
                    ) -> tuple[str, Path]:
    """``NAME:ROOT`` (what every ``--data`` option takes) -> (lower-case name, ROOT).

    A bare folder gets ``default`` (an error without one); ``kinds`` lists the names the caller accepts.
    """
    name, sep, root = str(text).partition(":")
    if not sep:
        if default is None:
            raise ConfigError(f"data must look like NAME:FOLDER, got {text!r}")
        name, root = default, str(text)
    name = name.strip().lower()
    if not name or not root.strip():
        raise ConfigError(f"data must look like NAME:FOLDER, got {text!r}")
    if kinds is not None and name not in kinds:
        raise ConfigError(f"unknown data kind {name!r}; supported: {', '.join(kinds)}")
    return name, Path(root)


def read_annotations(name: str, path: str | Path, **options) -> pd.DataFrame:
    """Read one annotation file of dataset ``name`` into the standard table (see docs/datasets.md)."""
    s = spec(name)
    path = Path(path)
    if path.is_dir():
        raise InputError("expected an annotation file, got a folder (use load for a dataset folder)", path)
    df = s.reader(path, **options)
    df.attrs["name"] = s.name
    return df


def find_annotation(name: str, root: str | Path, max_depth: int = 4) -> Path:
    """The annotation file of ``name`` inside ``root``: the first of the spec's names found, shallowest first."""
    import fnmatch

    s = spec(name)
    root = Path(root)
    if root.is_file():
        return root
    if not root.is_dir():
        raise InputError("dataset folder not found", root)
    found: list[tuple[int, int, Path]] = []
    base_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).parts) - base_depth
        if depth >= max_depth:
            dirnames[:] = []
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if len(filenames) > 200 and not any(f.lower().endswith((".xlsx", ".xls", ".csv")) for f in filenames[:200]):
            dirnames[:] = []  # a frame folder
            continue
        for f in filenames:
            for rank, pattern in enumerate(s.annotation_names):
                if fnmatch.fnmatch(f.lower(), pattern.lower()):
                    found.append((rank, depth, Path(dirpath) / f))
                    break
    if not found:
        raise InputError(f"no {s.name} annotation file found (looked for {', '.join(s.annotation_names)})", root)
    return sorted(found, key=lambda t: (t[0], t[1], str(t[2])))[0][2]


def load(name: str, root: str | Path, *, annotation: str | Path | None = None,
         frames_dir: str | Path | None = None, **options) -> pd.DataFrame:
    """Find the annotation file inside ``root``, read it and add each sample's frames, video path and fps.

    Adds ``frames_dir, n_frames, frames, frames_ok`` (and ``video_path`` for CAS(ME)^2) and recomputes
    ``first_frame`` and the 0-based ``onset/apex/offset`` from the files on disk. ``annotation`` overrides the file,
    ``frames_dir`` the frame folder (absolute or relative to ``root``).
    """
    from microexp.datasets.frames import attach_frames, casme_sq_video_paths

    s = spec(name)
    root = Path(root)
    path = Path(annotation) if annotation is not None else find_annotation(s.name, root)
    df = read_annotations(s.name, path, **options)
    if root.is_dir() and s.name == "composite":
        df = _attach_htnet(df, root)
    elif root.is_dir():
        df = attach_frames(df, s.name, root, frames_dir)
        if s.name == "casme_sq":
            df["video_path"] = casme_sq_video_paths(df, root)
    df.attrs["root"] = str(root)
    return df


def _attach_htnet(df: pd.DataFrame, root: Path) -> pd.DataFrame:
    """For a composite list inside an HTNet-layout folder, add ``flow_path`` and ``apex_path`` ('' if absent)."""
    from microexp.datasets.composite_flow import APEX_DIR, find_htnet_root, flow_image_path, htnet_sample_name

    try:
        base = find_htnet_root(root)
    except InputError:
        return df
    df = df.copy()
    names_ = [htnet_sample_name(d, s, c) for d, s, c in zip(df["dataset"], df["subject"], df["clip"], strict=True)]
    flows = [flow_image_path(base, *n.split("_", 1)) for n in names_]
    df["flow_path"] = [str(p) if p.is_file() else "" for p in flows]
    apex = []
    for d, s, c in zip(df["dataset"], df["subject"], df["clip"], strict=True):
        # SMIC crops are named with the clip's unpadded form (s01_s1_ne_01.jpg)
        clip = f"s{int(c.split('_')[0][1:])}_{c.split('_', 1)[1]}" if d == "smic" and "_" in c else c
        p = base / APEX_DIR / f"{htnet_sample_name(d, s, clip)}.jpg"
        apex.append(str(p) if p.is_file() else "")
    df["apex_path"] = apex
    return df


def names() -> list[str]:
    return list(REGISTRY)
