"""Feature stage: LCN, dense optical flow, optical strain, ROI features."""

from microexp.features.flow import METHODS, FarnebackParams, compute_flow, top_p_mean
from microexp.features.lcn import lcn
from microexp.features.strain import optical_strain

__all__ = ["METHODS", "FarnebackParams", "compute_flow", "lcn", "optical_strain", "top_p_mean"]
