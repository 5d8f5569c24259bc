"""Named recogniser configurations: name -> (family, config defaults, input, training defaults, label).

Each family keeps its paper defaults in its own config dataclass. The registry names both the papers'
configurations (``mmnet``, ``slstt``: what the papers ran, on the inputs they read) and our reduced variants for
the 28x28 composite flow set (``mmnet-flow``, ``slstt-scratch``); ``label`` says which one a result came from.
Checkpoints written before the split name their family (``mmnet``/``slstt``) and carry their full config, so
they rebuild unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from microexp.errors import ConfigError
from microexp.recognition.train import TrainConfig

# what an architecture reads (checked before any data is loaded or any model is trained)
INPUTS = {
    "flow28": "one onset->apex flow image, 3 x 28 x 28 (u, v, strain; the composite flow set)",
    "flow28+apex": "a 28 x 28 flow image plus the 28 x 28 apex face (6 channels)",
    "frames224": "aligned RGB onset and apex faces at 224 x 224 (ImageNet-normalised)",
    "flowseq384": "T long-term Farneback flow frames (onset -> frame t) at 384 x 384",
}


@dataclass(frozen=True)
class Arch:
    """One named configuration: the model family, its config defaults, its input and its training defaults."""

    name: str
    family: str  # ststnet | mmnet | slstt (the module that builds it)
    config_cls: type
    builder: Callable[..., nn.Module]
    train: TrainConfig
    defaults: dict  # config overrides on top of the family's (paper) defaults
    input: str  # a key of INPUTS
    paper: bool  # True: the published configuration; False: our reduced/adapted variant
    label: str  # one line saying which configuration this is; written into every output

    @property
    def with_apex(self) -> bool:
        return self.input == "flow28+apex"

    @property
    def flow_defaults(self) -> dict:  # older name, kept for callers that read it
        return self.defaults


STSTNET_PAPER_TRAIN = TrainConfig()
STSTNET_TRAIN = TrainConfig(epochs=80, lr=1e-3, batch_size=64, hflip=True, schedule="cosine")


def _ststnet() -> Arch:
    from microexp.recognition.ststnet import STSTNetConfig, build_ststnet

    # The paper trains 800 epochs at Adam 5e-5 (TrainConfig() defaults, ~95 s per fold on one CPU core).
    # Our default reaches the same honest UF1 in a tenth of the time: Adam 1e-3, cosine decay, 80 epochs,
    # batch 64, mirror augmentation.
    return Arch("ststnet", "ststnet", STSTNetConfig, build_ststnet, STSTNET_TRAIN, {}, "flow28", True,
                "ststnet (paper architecture on 28x28 u/v/strain flow; faster training schedule)")


def _mmnet() -> Arch:
    from microexp.recognition.mmnet import MMNetConfig, build_mmnet

    # the public 5-class code's recipe (specs/mmnet.md): batch 32, AdamW lr 8e-4 with weight decay 0.6,
    # ExponentialLR 0.987 over epochs 1-50, 74 epochs; flip augmentation (rotation/crop not reproduced)
    train = TrainConfig(epochs=74, lr=8e-4, batch_size=32, weight_decay=0.6, optimizer="adamw",
                        schedule="exp", gamma=0.987, decay_epochs=50, hflip=True, flow_channels=())
    return Arch("mmnet", "mmnet", MMNetConfig, build_mmnet, train, {}, "frames224", True,
                "mmnet (paper: RGB apex-onset at 224 px, onset into the position module, full widths, 9.4 M)")


def _mmnet_flow() -> Arch:
    from microexp.recognition.mmnet import MMNetConfig, build_mmnet

    # flow variant: batch 32, AdamW 8e-4 with the code's weight decay and exp decay for 50 epochs;
    # 20 epochs (~280 steps on 435 samples, about half the code's ~600 steps on CASME II) so that a
    # 68-fold LOSO costs ~10 CPU-minutes; fixed before any LOSO run (documented in docs/recognition.md).
    train = TrainConfig(epochs=20, lr=8e-4, batch_size=32, weight_decay=0.6, optimizer="adamw",
                        schedule="exp", gamma=0.987, decay_epochs=50, hflip=True)
    return Arch("mmnet-flow", "mmnet", MMNetConfig, build_mmnet, train, MMNetConfig.flow_variant_overrides(),
                "flow28+apex", False,
                "mmnet-flow (our reduced variant: 28x28 flow + apex face, widths cut 4-8x; not the paper's)")


def _slstt() -> Arch:
    from microexp.recognition.slstt import SLSTTConfig, build_slstt

    # paper: ViT-B/16 at 384 from user-supplied ImageNet weights, T = 11 long-term flows, LSTM aggregation;
    # the released code's effective recipe (specs/slstt.md): SGD 0.01, momentum 0.9, wd 1e-4, 40 epochs,
    # lr x 0.1 at epoch 30, batch 2
    train = TrainConfig(epochs=40, lr=0.01, batch_size=2, weight_decay=1e-4, optimizer="sgd", momentum=0.9,
                        schedule="step", gamma=0.1, step_epochs=(30,), hflip=True)
    return Arch("slstt", "slstt", SLSTTConfig, build_slstt, train, {}, "flowseq384", True,
                "slstt (paper: ViT-B/16 from user-supplied ImageNet weights, long-term Farneback flows, LSTM)")


def _slstt_scratch() -> Arch:
    from microexp.recognition.slstt import SLSTTConfig, build_slstt

    train = TrainConfig(epochs=60, lr=1e-3, batch_size=32, weight_decay=0.05, optimizer="adamw",
                        schedule="cosine", hflip=True)
    return Arch("slstt-scratch", "slstt", SLSTTConfig, build_slstt, train, SLSTTConfig.flow_scratch_overrides(),
                "flow28", False,
                "slstt-scratch (our small ViT from random init on 28x28 flow, T = 1; not comparable with the paper)")


_ARCHS: dict[str, Callable[[], Arch]] = {"ststnet": _ststnet, "mmnet": _mmnet, "mmnet-flow": _mmnet_flow,
                                         "slstt": _slstt, "slstt-scratch": _slstt_scratch}
ARCH_NAMES = tuple(_ARCHS)


def get_arch(name: str) -> Arch:
    if name not in _ARCHS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(ARCH_NAMES)}")
    return _ARCHS[name]()


def accepts(arch: Arch, available: str) -> bool:
    """Whether data of kind ``available`` can feed ``arch`` (flow-only models ignore an extra apex face)."""
    return available == arch.input or (arch.input == "flow28" and available == "flow28+apex")


def require_input(name: str, available: str) -> Arch:
    """The architecture, or a one-line error when the data cannot feed it (e.g. mmnet on composite-flow)."""
    arch = get_arch(name)
    if not accepts(arch, available):
        alt = [n for n in ARCH_NAMES if accepts(get_arch(n), available)]
        raise ConfigError(f"{name} reads {INPUTS[arch.input]}, but the data gives "
                          f"{INPUTS.get(available, available)}; models that read it: {', '.join(alt) or 'none'}")
    return arch


def make_config(name: str, overrides: dict | None = None, *, flow: bool = True):
    """The configuration's model config: family (paper) defaults, plus the named configuration's defaults
    (``flow=False`` skips them: checkpoints carry their full config), plus ``overrides``."""
    arch = get_arch(name)
    fields = {f.name for f in dataclasses.fields(arch.config_cls)}
    values = dict(arch.defaults) if flow else {}
    values.update(overrides or {})
    bad = sorted(set(values) - fields)
    if bad:
        raise ConfigError(f"unknown {name} option(s): {', '.join(bad)}")
    return arch.config_cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()})


def build(name: str, config) -> nn.Module:
    return get_arch(name).builder(config)
