"""Training loop shared by every recogniser: seeded, CPU-deterministic, with per-epoch scores for selection.

Only training data shapes the weights. Scores on validation subjects (inner-val) or on the held-out subject
(oracle) are *recorded* at checkpoints so that the LOSO runner can pick an epoch afterwards; ``last`` ignores
them. The held-out subject is scored only when the caller asks for oracle mode.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from microexp.errors import ConfigError
from microexp.recognition.data import hflip_uvs


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser settings. Defaults are STSTNet's (Adam 5e-5, batch 256, 800 epochs, no augmentation)."""

    epochs: int = 800
    lr: float = 5e-5
    batch_size: int = 256
    weight_decay: float = 0.0
    optimizer: str = "adam"  # adam | adamw | sgd
    momentum: float = 0.9
    schedule: str = "constant"  # constant | cosine | exp | step
    gamma: float = 0.987  # exp: per-epoch factor (MMNet); step: factor at step_epochs
    decay_epochs: int = 0  # exp: decay only during the first N epochs (0 = all)
    step_epochs: tuple[int, ...] = ()
    hflip: bool = False  # mirror augmentation (the u channels below are negated)
    flow_channels: tuple[int, ...] = (0,)  # channels holding min-max scaled u (mirror: u -> 1 - u); () for RGB
    shift: int = 0  # random translation in pixels (train only)
    class_weighted: bool = False  # inverse-frequency weights in the loss
    label_smoothing: float = 0.0
    eval_every: int = 0  # checkpoint interval for inner-val / oracle scoring (0 = every epoch)


@dataclass
class TrainResult:
    model: nn.Module
    epochs_scored: list[int] = field(default_factory=list)  # 1-based epochs with recorded scores
    scores: dict[str, list[float]] = field(default_factory=dict)  # set name -> UF1 per scored epoch
    preds: dict[str, list[np.ndarray]] = field(default_factory=dict)  # set name -> predictions per scored epoch
    probs: dict[str, list[np.ndarray]] = field(default_factory=dict)  # set name -> class probabilities per epoch
    losses: list[float] = field(default_factory=list)


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer {cfg.optimizer!r}")


def lr_factor(cfg: TrainConfig, epoch: int) -> float:
    """Learning-rate multiplier for 0-based ``epoch``."""
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "cosine":
        return 0.5 * (1.0 + np.cos(np.pi * epoch / max(1, cfg.epochs)))
    if cfg.schedule == "exp":
        n = epoch if cfg.decay_epochs <= 0 else min(epoch, cfg.decay_epochs)
        return cfg.gamma ** n
    if cfg.schedule == "step":
        return cfg.gamma ** sum(epoch >= s for s in cfg.step_epochs)
    raise ConfigError(f"unknown schedule {cfg.schedule!r}")


def _augment(x: np.ndarray, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    if cfg.hflip:
        flip = rng.random(len(x)) < 0.5
        if flip.any():
            x = x.copy()
            x[flip] = hflip_uvs(x[flip], cfg.flow_channels)
    if cfg.shift > 0:
        x = x.copy()
        pad = cfg.shift
        padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge")
        h, w = x.shape[2:]
        offs = rng.integers(0, 2 * pad + 1, size=(len(x), 2))
        for i, (dy, dx) in enumerate(offs):
            x[i] = padded[i, :, dy:dy + h, dx:dx + w]
    return x


@torch.no_grad()
def predict_proba(model: nn.Module, X: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Softmax probabilities, eval mode, in batches."""
    model.eval()
    out = []
    for i in range(0, len(X), batch_size):
        out.append(torch.softmax(model(torch.as_tensor(X[i:i + batch_size])), dim=1).numpy())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


def _uf1(y: np.ndarray, p: np.ndarray, n_classes: int) -> float:
    f1 = []
    for c in range(n_classes):
        tp = np.sum((y == c) & (p == c))
        denom = np.sum(y == c) + np.sum(p == c)
        if denom:
            f1.append(2 * tp / denom)
    return float(np.mean(f1)) if f1 else float("nan")


def train_model(
    build: Callable[[], nn.Module],
    X: np.ndarray,
    y: np.ndarray,
    cfg: TrainConfig,
    *,
    seed: int = 0,
    score_sets: dict[str, tuple[np.ndarray, np.ndarray | None]] | None = None,
    keep_states: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
) -> TrainResult:
    """Train a freshly built model on (X, y); record predictions (and UF1 where labels are given) on
    ``score_sets`` at checkpoints.

    ``keep_states`` additionally keeps a copy of the weights at every checkpoint (for selecting a model, not
    only predictions). Deterministic for a fixed ``seed`` on CPU.
    """
    if cfg.epochs <= 0:
        raise ConfigError(f"epochs must be positive, got {cfg.epochs}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build()
    n_classes = int(model(torch.zeros((1, *X.shape[1:]), dtype=torch.float32)).shape[1]) if len(X) else 0
    model.train()
    opt = _optimizer(model, cfg)
    base_lrs = [g["lr"] for g in opt.param_groups]
    weight = None
    if cfg.class_weighted:
        counts = np.bincount(y, minlength=n_classes).astype(np.float64)
        w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / n_classes, 0.0)
        weight = torch.as_tensor(w, dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
    yt = torch.as_tensor(y, dtype=torch.long)
    res = TrainResult(model=model)
    states: list[dict] = []
    score_sets = score_sets or {}
    every = cfg.eval_every if cfg.eval_every > 0 else 1
    for epoch in range(cfg.epochs):
        f = lr_factor(cfg, epoch)
        for g, b in zip(opt.param_groups, base_lrs, strict=True):
            g["lr"] = b * f
        model.train()
        order = rng.permutation(len(X))
        total = 0.0
        for i in range(0, len(X), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            xb = torch.as_tensor(_augment(X[idx], cfg, rng))
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        res.losses.append(total / max(1, len(X)))
        last = epoch == cfg.epochs - 1
        if score_sets and ((epoch + 1) % every == 0 or last):
            res.epochs_scored.append(epoch + 1)
            for name, (xs, ys) in score_sets.items():
                proba = predict_proba(model, xs) if len(xs) else np.zeros((0, n_classes), dtype=np.float32)
                pred = proba.argmax(1)
                res.preds.setdefault(name, []).append(pred)
                res.probs.setdefault(name, []).append(proba)
                if ys is not None:  # sets without labels are only predicted, never scored
                    res.scores.setdefault(name, []).append(_uf1(np.asarray(ys), pred, n_classes))
            if keep_states:
                states.append(copy.deepcopy(model.state_dict()))
        if progress is not None:
            progress(epoch + 1, cfg.epochs)
    if keep_states:
        res.states = states  # type: ignore[attr-defined]
    model.eval()
    return res
