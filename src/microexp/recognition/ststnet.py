"""STSTNet: the shallow triple-stream CNN of Liong et al. (FG 2019) on 28x28 onset->apex flow images.

Three parallel 3x3 convolution streams (3, 5 and 8 filters) read the same u/v/strain image; each stream is
conv -> ReLU -> BatchNorm -> max-pool(3, stride 3) -> dropout; the 16 maps are concatenated, average-pooled
2x2 and fed to one linear layer. With 28x28 input and padding 2 that is 16 x 5 x 5 = 400 features.
The defaults below are the paper's; ``load_published_ststnet`` reads the authors' per-subject ``.pth`` files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from microexp.errors import ModelError
from microexp.io.weights import load_torch_file


@dataclass(frozen=True)
class STSTNetConfig:
    """Paper defaults (3-class MEGC2019 composite, 28x28x3 input)."""

    in_channels: int = 3
    num_classes: int = 3
    stream_channels: tuple[int, ...] = (3, 5, 8)
    kernel_size: int = 3
    padding: int = 2
    pool: int = 3
    dropout: float = 0.5
    input_size: int = 28


class _Stream(nn.Module):
    def __init__(self, cfg: STSTNetConfig, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(cfg.in_channels, out_channels, cfg.kernel_size, padding=cfg.padding)
        self.bn = nn.BatchNorm2d(out_channels)
        self.pool = nn.MaxPool2d(cfg.pool, stride=cfg.pool, padding=1)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ReLU before BatchNorm is the published order; the released weights depend on it.
        return self.drop(self.pool(self.bn(torch.relu(self.conv(x)))))


class STSTNet(nn.Module):
    def __init__(self, cfg: STSTNetConfig):
        super().__init__()
        self.cfg = cfg
        self.streams = nn.ModuleList(_Stream(cfg, c) for c in cfg.stream_channels)
        self.avgpool = nn.AvgPool2d(2, stride=2)
        side = feature_side(cfg)
        self.fc = nn.Linear(sum(cfg.stream_channels) * side * side, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([s(x) for s in self.streams], dim=1)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def feature_side(cfg: STSTNetConfig) -> int:
    """Side of the pooled feature map (5 for the paper's 28x28 input)."""
    conv = cfg.input_size + 2 * cfg.padding - cfg.kernel_size + 1
    pooled = (conv + 2 - cfg.pool) // cfg.pool + 1
    return pooled // 2


def build_ststnet(cfg: STSTNetConfig | None = None) -> STSTNet:
    return STSTNet(cfg or STSTNetConfig())


# ---------------------------------------------------------------- published weights (christy1206/STSTNet)

_PUBLISHED_PREFIX = {"conv1": "streams.0.conv", "conv2": "streams.1.conv", "conv3": "streams.2.conv",
                     "bn1": "streams.0.bn", "bn2": "streams.1.bn", "bn3": "streams.2.bn", "fc": "fc"}


def map_published_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the authors' flat keys (``conv1.weight``, ``bn2.running_mean``, ...) to this module's names."""
    out = {}
    for key, value in state.items():
        head, _, tail = key.partition(".")
        if head not in _PUBLISHED_PREFIX:
            raise ModelError(f"unexpected key {key!r} in a published STSTNet state dict")
        out[f"{_PUBLISHED_PREFIX[head]}.{tail}"] = value
    return out


def load_published_ststnet(path: str | Path) -> STSTNet:
    """Build the paper configuration and load one of the authors' per-subject weight files (eval mode)."""
    path = Path(path)
    state = load_torch_file(path, "published STSTNet weights")
    model = build_ststnet()
    try:
        model.load_state_dict(map_published_keys(state), strict=True)
    except RuntimeError as err:
        raise ModelError(f"weights do not fit STSTNet: {err}", path) from err
    return model.eval()


def published_input(x_uvs: torch.Tensor) -> torch.Tensor:
    """Convert our (u, v, strain) in [0, 1] to what the published weights saw.

    The authors fed ``cv2.imread`` output unscaled: channels in BGR order of an image stored as RGB =
    (u, v, strain), i.e. (strain, v, u), values 0..255.
    """
    return torch.flip(x_uvs, dims=[1]) * 255.0
