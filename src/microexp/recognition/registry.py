"""Architecture registry: name -> (config class, builder, default training settings).

Each architecture keeps its paper defaults in its own config dataclass; the registry only adds the training
defaults used by ``microexp loso`` / ``microexp train recognizer`` for the composite flow set (28x28 u/v/strain).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from microexp.errors import ConfigError
from microexp.recognition.train import TrainConfig


@dataclass(frozen=True)
class Arch:
    name: str
    config_cls: type
    builder: Callable[..., nn.Module]
    train: TrainConfig
    flow_defaults: dict  # config overrides for the 28x28 composite flow input
    with_apex: bool = False  # input = flow and apex face stacked on channels (MMNet flow variant)


STSTNET_PAPER_TRAIN = TrainConfig()
STSTNET_TRAIN = TrainConfig(epochs=80, lr=1e-3, batch_size=64, hflip=True, schedule="cosine")


def _ststnet() -> Arch:
    from microexp.recognition.ststnet import STSTNetConfig, build_ststnet

    # The paper trains 800 epochs at Adam 5e-5 (TrainConfig() defaults, ~95 s per fold on one CPU core).
    # Our default reaches the same honest UF1 in a tenth of the time: Adam 1e-3, cosine decay, 80 epochs,
    # batch 64, mirror augmentation.
    return Arch("ststnet", STSTNetConfig, build_ststnet, STSTNET_TRAIN, {})


def _mmnet() -> Arch:
    from microexp.recognition.mmnet import MMNetConfig, build_mmnet

    # flow variant: batch 32, AdamW 8e-4 with the code's weight decay and exp decay for 50 epochs;
    # 20 epochs (~280 steps on 435 samples, about half the code's ~600 steps on CASME II) so that a
    # 68-fold LOSO costs ~10 CPU-minutes; fixed before any LOSO run (documented in docs/recognition.md).
    train = TrainConfig(epochs=20, lr=8e-4, batch_size=32, weight_decay=0.6, optimizer="adamw",
                        schedule="exp", gamma=0.987, decay_epochs=50, hflip=True)
    return Arch("mmnet", MMNetConfig, build_mmnet, train, MMNetConfig.flow_variant_overrides(), with_apex=True)


def _slstt() -> Arch:
    from microexp.recognition.slstt import SLSTTConfig, build_slstt

    train = TrainConfig(epochs=60, lr=1e-3, batch_size=32, weight_decay=0.05, optimizer="adamw",
                        schedule="cosine", hflip=True)
    return Arch("slstt", SLSTTConfig, build_slstt, train, SLSTTConfig.flow_scratch_overrides())


_ARCHS: dict[str, Callable[[], Arch]] = {"ststnet": _ststnet, "mmnet": _mmnet, "slstt": _slstt}
ARCH_NAMES = tuple(_ARCHS)


def get_arch(name: str) -> Arch:
    if name not in _ARCHS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(ARCH_NAMES)}")
    return _ARCHS[name]()


def make_config(name: str, overrides: dict | None = None, *, flow: bool = True):
    """The architecture's config: paper defaults, plus the flow-input overrides, plus ``overrides``."""
    arch = get_arch(name)
    fields = {f.name for f in dataclasses.fields(arch.config_cls)}
    values = dict(arch.flow_defaults) if flow else {}
    values.update(overrides or {})
    bad = sorted(set(values) - fields)
    if bad:
        raise ConfigError(f"unknown {name} option(s): {', '.join(bad)}")
    return arch.config_cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()})


def build(name: str, config) -> nn.Module:
    return get_arch(name).builder(config)
