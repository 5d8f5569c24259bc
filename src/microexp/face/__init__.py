"""Face stage: detection, 68 landmarks, alignment, head motion and the face track of a video."""

from microexp.face.align import CropSpec, crop_transform, similarity_align, warp
from microexp.face.landmarks import LICENCE_NOTE, FaceBox, LandmarkDetector, half_inner_canthal
from microexp.face.track import FaceTrack, FaceTrackBuilder

__all__ = ["CropSpec", "FaceBox", "FaceTrack", "FaceTrackBuilder", "LICENCE_NOTE", "LandmarkDetector",
           "crop_transform", "half_inner_canthal", "similarity_align", "warp"]
