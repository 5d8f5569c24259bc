"""Dataset loaders: annotation files read by header name, frames found in the folder as distributed.

``read_annotations(name, path)`` reads one annotation file; ``load(name, root)`` finds it inside a dataset
folder and adds frame paths and fps. Derived sets: ``load_composite_flow`` / ``load_composite_apex``
(HTNet layout) and ``load_lbptop`` / ``load_hoof`` (ACII19 feature zips). See docs/datasets.md.
"""

from microexp.datasets.composite import COMPOSITE_CLASSES, COMPOSITE_EMOTION_MAP, COMPOSITE_LABELS
from microexp.datasets.composite_flow import load_composite_apex, load_composite_flow
from microexp.datasets.features import load_feature_set, load_hoof, load_lbp_magnified, load_lbptop
from microexp.datasets.fixes import apply_fixes
from microexp.datasets.long_video import list_videos, spotting_gt, to_intervals
from microexp.datasets.registry import REGISTRY, find_annotation, load, names, read_annotations, spec

__all__ = [
    "COMPOSITE_CLASSES", "COMPOSITE_EMOTION_MAP", "COMPOSITE_LABELS", "REGISTRY", "apply_fixes", "find_annotation",
    "load",
    "load_composite_apex", "load_composite_flow", "load_feature_set", "load_hoof", "load_lbp_magnified",
    "load_lbptop", "list_videos", "names", "read_annotations", "spec", "spotting_gt", "to_intervals",
]
