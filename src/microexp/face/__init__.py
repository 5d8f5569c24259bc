"""Face stage: detection, 68 landmarks, alignment and per-window crops."""

from microexp.face.align import CropSpec, crop_transform, similarity_align, warp
from microexp.face.landmarks import LICENCE_NOTE, FaceBox, LandmarkDetector, half_inner_canthal

__all__ = ["CropSpec", "FaceBox", "LICENCE_NOTE", "LandmarkDetector", "crop_transform", "half_inner_canthal",
           "similarity_align", "warp"]
