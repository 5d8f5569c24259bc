"""MESNet (Wang et al., IEEE TIP 2021): 2+1D backbone, Clip Proposal Network, Classification-Regression Network.

Reconstruction of ``../shared/specs/mesnet.md`` §2 (the paper's layer sizes are unpublished):

* backbone: per frame 4 × [Conv2d 3×3, BN, ReLU, MaxPool 2] (16-32-64-128), global average pool, then
  2 × Conv1d(k 3) over time -> S ∈ R^{128×N} for an N-frame window;
* CPN: five parallel dilated 1-D branches, one per anchor length L_i (training-GT length quantiles
  10/30/50/70/90 %), each scoring at every t the clip ``[t − L_i/2, t + L_i/2]``;
* CRN: S over each proposal (extended by 10 %), resampled to 16 steps, FC 2048 -> 256 -> (score, r1, r2),
  decoded as ``[a + r1 (b − a), b + r2 (b − a)]``;
* long videos: overlapping windows (256 frames, stride 128 at the working rate; high-fps video is
  subsampled to about 50 fps), proposals mapped back to native frames, NMS over the union.

Each window is centred on its own mean frame before the backbone (our choice, UNCONFIRMED): the network then
sees what changes inside the window rather than who the subject is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from microexp.errors import InputError
from microexp.records import Interval
from microexp.spotting.postprocess import nms

POS_SHARE = 0.5  # share of every epoch's windows drawn from windows that hold an expression


@dataclass(frozen=True)
class MESNetConfig:
    """Defaults from the spec (§2); anchors are in working-rate frames and come from the training GT."""

    anchors: tuple[int, int, int, int, int] = (10, 12, 14, 15, 17)
    size: int = 128
    channels: tuple[int, int, int, int] = (16, 32, 64, 128)
    window: int = 256
    stride: int = 128
    subsample: int = 1  # 4 for SAMM-LV at 200 fps
    pos_iou: float = 0.5
    neg_iou: float = 0.3
    top_k: int = 100
    cpn_nms: float = 0.7
    n_cr: int = 16
    extend: float = 0.1
    lam: float = 1.0
    t_nms: float = 0.5
    centre_window: bool = True
    norm: str = "none"  # "batch": BatchNorm2d in the frame CNN (its running statistics fit windows poorly)

    def dilations(self) -> tuple[int, ...]:
        return tuple(max(1, int(round(a / 4))) for a in self.anchors)


class MESNet(nn.Module):
    def __init__(self, cfg: MESNetConfig):
        super().__init__()
        self.cfg = cfg
        layers, cin = [], 1
        for c in cfg.channels:
            norm = nn.BatchNorm2d(c) if cfg.norm == "batch" else nn.Identity()
            layers += [nn.Conv2d(cin, c, 3, padding=1), norm, nn.ReLU(), nn.MaxPool2d(2)]
            cin = c
        self.frame_net = nn.Sequential(*layers)
        d = cfg.channels[-1]
        self.temporal = nn.Sequential(nn.Conv1d(d, d, 3, padding=1), nn.ReLU(), nn.Conv1d(d, d, 3, padding=1),
                                      nn.ReLU())
        self.cpn = nn.ModuleList(
            nn.Sequential(nn.Conv1d(d, d, 3, padding=dil, dilation=dil), nn.ReLU(), nn.Conv1d(d, 1, 1))
            for dil in cfg.dilations())
        self.crn_fc = nn.Sequential(nn.Linear(d * cfg.n_cr, 256), nn.ReLU())
        self.crn_cls = nn.Linear(256, 1)
        self.crn_reg = nn.Linear(256, 2)

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W) in [0, 1] -> S (B, 128, T)."""
        b, t, h, w = frames.shape
        if self.cfg.centre_window:  # what changes in the window, at one scale per window
            frames = frames - frames.mean(dim=1, keepdim=True)
            frames = frames / frames.flatten(1).std(dim=1).clamp_min(1e-3).view(b, 1, 1, 1)
        x = self.frame_net(frames.reshape(b * t, 1, h, w)).mean(dim=(2, 3))
        return self.temporal(x.view(b, t, -1).transpose(1, 2))

    def proposals_logits(self, s: torch.Tensor) -> torch.Tensor:
        """(B, 128, T) -> (B, n_anchors, T) CPN logits."""
        return torch.cat([br(s) for br in self.cpn], dim=1)

    def crn(self, s: torch.Tensor, spans: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One window's S (128, T) and proposals (P, 2) [a, b] in window frames -> (P,) logits, (P, 2) r."""
        if spans.numel() == 0:
            return s.new_zeros(0), s.new_zeros(0, 2)
        feat = roi_resample(s, spans, self.cfg.n_cr, self.cfg.extend)
        h = self.crn_fc(feat.flatten(1))
        return self.crn_cls(h).squeeze(1), self.crn_reg(h)


def build_mesnet(cfg: MESNetConfig | None = None) -> MESNet:
    return MESNet(cfg or MESNetConfig())


def roi_resample(s: torch.Tensor, spans: torch.Tensor, n: int, extend: float) -> torch.Tensor:
    """S over each [a, b] (extended by ``extend`` of its length each side) at n points, linear interpolation."""
    t = s.shape[1]
    a, b = spans[:, 0].float(), spans[:, 1].float()
    ext = extend * (b - a)
    u = torch.linspace(0, 1, n, device=s.device)
    pos = ((a - ext)[:, None] + (b - a + 2 * ext)[:, None] * u[None]).clamp(0, t - 1)  # (P, n)
    lo = pos.floor().long().clamp(0, t - 1)
    hi = (lo + 1).clamp(max=t - 1)
    w = (pos - lo.float()).unsqueeze(1)  # (P, 1, n)
    return s[:, lo].permute(1, 0, 2) * (1 - w) + s[:, hi].permute(1, 0, 2) * w  # (P, C, n)


def anchors_from_lengths(lengths, subsample: int = 1) -> tuple[int, ...]:
    """10/30/50/70/90 % quantiles of inclusive GT lengths, in working-rate frames (≥ 2)."""
    x = np.asarray(lengths, dtype=float) / max(1, subsample)
    if x.size == 0:
        raise InputError("no ground-truth intervals to derive MESNet anchors from")
    return tuple(max(2, int(round(q))) for q in np.quantile(x, [0.1, 0.3, 0.5, 0.7, 0.9]))


def anchor_spans(t: int, anchors) -> np.ndarray:
    """(n_anchors, T, 2) inclusive spans [t − L/2, t + L/2 − 1] (length L) at every position."""
    pos = np.arange(t)
    out = np.empty((len(anchors), t, 2), np.float64)
    for i, length in enumerate(anchors):
        out[i, :, 0] = pos - length // 2
        out[i, :, 1] = pos - length // 2 + length - 1
    return out


def iou_many(spans: np.ndarray, gts: list[tuple[int, int]]) -> np.ndarray:
    """IoU of every span (..., 2) with every GT -> (..., n_gt), inclusive frames."""
    if not gts:
        return np.zeros(spans.shape[:-1] + (0,))
    g = np.asarray(gts, dtype=np.float64)
    a, b = spans[..., 0:1], spans[..., 1:2]
    inter = np.clip(np.minimum(b, g[:, 1]) - np.maximum(a, g[:, 0]) + 1, 0, None)
    union = (b - a + 1) + (g[:, 1] - g[:, 0] + 1) - inter
    return inter / np.maximum(union, 1e-9)


def cpn_targets(t: int, anchors, gts: list[tuple[int, int]], pos_iou: float, neg_iou: float,
                valid: int | None = None) -> np.ndarray:
    """(n_anchors, T) labels: 1 positive, 0 negative, −1 ignored (IoU between the two thresholds, padding)."""
    spans = anchor_spans(t, anchors)
    best = iou_many(spans, gts).max(axis=-1) if gts else np.zeros(spans.shape[:2])
    y = np.full(best.shape, -1.0, np.float32)
    y[best >= pos_iou] = 1.0
    y[best < neg_iou] = 0.0
    if valid is not None:
        y[:, valid:] = -1.0
    return y


def encode(prop: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Regression targets r1 = (g1 − a)/(b − a), r2 = (g2 − b)/(b − a)."""
    w = np.maximum(prop[..., 1] - prop[..., 0], 1e-6)
    return np.stack([(gt[..., 0] - prop[..., 0]) / w, (gt[..., 1] - prop[..., 1]) / w], axis=-1)


def decode(prop: np.ndarray, r: np.ndarray) -> np.ndarray:
    w = prop[..., 1] - prop[..., 0]
    return np.stack([prop[..., 0] + r[..., 0] * w, prop[..., 1] + r[..., 1] * w], axis=-1)


def window_starts(n: int, window: int, stride: int) -> list[int]:
    """Window starts covering [0, n): stride apart, the last one flush with the end."""
    if n <= window:
        return [0]
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] + window < n:
        starts.append(n - window)
    return starts


def _window_frames(seq, start: int, cfg: MESNetConfig) -> tuple[torch.Tensor, int]:
    """Working-rate frames of one window (padded by edge repetition) and its number of real frames."""
    idx = np.arange(start, start + cfg.window) * cfg.subsample
    n = seq.n_frames
    valid = int((idx < n).sum())
    idx = np.clip(idx, 0, n - 1)
    crops = np.asarray(seq.crops[idx], dtype=np.float32) / 255.0
    if crops.shape[-1] != cfg.size:
        import cv2

        crops = np.stack([cv2.resize(c, (cfg.size, cfg.size), interpolation=cv2.INTER_AREA) for c in crops])
    return torch.from_numpy(crops), valid


def _proposals(logits: torch.Tensor, anchors, top_k: int, nms_iou: float, valid: int) -> tuple[np.ndarray, np.ndarray]:
    """Top CPN clips of one window after NMS: (P, 2) spans and (P,) probabilities."""
    prob = torch.sigmoid(logits).detach().numpy()[:, :valid]
    spans = anchor_spans(valid, anchors)
    flat_p = prob.reshape(-1)
    flat_s = spans.reshape(-1, 2)
    order = np.argsort(-flat_p, kind="stable")[: top_k * 4]
    keep = nms([tuple(flat_s[i]) for i in order], flat_p[order], nms_iou)[:top_k]
    sel = order[keep]
    return flat_s[sel], flat_p[sel]


def class_weight(pos_counts, neg_counts, pos_items, pos_share: float = 0.5, cap: float = 200.0) -> float:
    """α = N_neg/N_pos over the anchors an epoch actually draws, so the imbalance is corrected once.

    An epoch draws ``pos_share`` of its windows from the windows holding an expression and the rest from all
    windows; α computed on the raw windows would correct again what the oversampling already corrected
    (positives then weigh several times the negatives and proposals flood).
    """
    pc, nc = np.asarray(pos_counts, float), np.asarray(neg_counts, float)
    sel = np.asarray(pos_items, int)
    n_pos = pos_share * pc[sel].mean() + (1 - pos_share) * pc.mean()
    n_neg = pos_share * nc[sel].mean() + (1 - pos_share) * nc.mean()
    return float(min(n_neg / max(n_pos, 1e-9), cap))


def fit_mesnet(seqs: list, spans: list[list[tuple[int, int]]], train_cfg, seed: int, kind: str = "me",
               progress=None, on_epoch=None):
    """Train CPN and CRN jointly on the training videos of one type; returns (model, meta).

    meta holds the anchors, the class weight α (see ``class_weight``) and the CRN threshold chosen on the
    training videos (never on the test subject). ``on_epoch``: see ``spotting.loop.train_epochs``.
    """
    from microexp.spotting.loop import train_epochs

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    fps = float(np.median([s.fps for s in seqs]))
    sub = max(1, int(round(fps / 50.0)))
    lengths = [b - a + 1 for sp in spans for a, b in sp]
    over = dict(train_cfg.model)
    cfg = MESNetConfig(**{**over, "anchors": anchors_from_lengths(lengths, sub), "subsample": sub,
                          "size": int(over.get("size", train_cfg.size))})
    model = build_mesnet(cfg)
    # windows (video, start) and their labels; positive windows oversampled to half of every epoch
    items, pos_items, pos_counts, neg_counts = [], [], [], []
    for vi, (seq, sp) in enumerate(zip(seqs, spans, strict=True)):
        n_work = (seq.n_frames + sub - 1) // sub
        gts = [(a / sub, b / sub) for a, b in sp]
        for st in window_starts(n_work, cfg.window, cfg.stride):
            local = [(a - st, b - st) for a, b in gts if b >= st and a < st + cfg.window]
            valid = min(cfg.window, n_work - st)
            y = cpn_targets(cfg.window, cfg.anchors, local, cfg.pos_iou, cfg.neg_iou, valid)
            pos_counts.append(int((y == 1).sum()))
            neg_counts.append(int((y == 0).sum()))
            items.append((vi, st, local, y, valid))
            if local:
                pos_items.append(len(items) - 1)
    if not pos_items:
        raise InputError("no training window holds an expression of this type")
    alpha = class_weight(pos_counts, neg_counts, pos_items, POS_SHARE)
    opt = torch.optim.Adam(model.parameters(), lr=train_cfg.lr or 1e-4, weight_decay=1e-4)
    per_epoch = max(len(items), 2 * len(pos_items))
    batch = max(1, min(train_cfg.batch, 8))
    anchors_all = anchor_spans(cfg.window, cfg.anchors)

    def batches(_epoch):
        n_pos = int(round(per_epoch * POS_SHARE))
        order = np.concatenate([rng.choice(pos_items, size=n_pos, replace=True),
                                rng.choice(len(items), size=per_epoch - n_pos, replace=True)])
        rng.shuffle(order)
        for s in range(0, len(order), batch):
            yield [items[i] for i in order[s:s + batch]]

    def loss_of(chosen):
        x = torch.stack([_window_frames(seqs[vi], st, cfg)[0] for vi, st, *_ in chosen])
        if train_cfg.augment and rng.random() < 0.5:
            x = x.flip(-1)
        s_feat = model.features(x)
        logits = model.proposals_logits(s_feat)
        y = torch.from_numpy(np.stack([it[3] for it in chosen]))
        mask = y >= 0
        l_cpn = F.binary_cross_entropy_with_logits(logits[mask], y[mask], pos_weight=torch.tensor(alpha))
        l_cls, l_reg, n_cr = 0.0, 0.0, 0
        for j, (_, _, local, yj, valid) in enumerate(chosen):
            props, _ = _proposals(logits[j], cfg.anchors, 48, cfg.cpn_nms, valid)
            pos_anchor = anchors_all[yj == 1]
            if len(pos_anchor):
                pos_anchor = pos_anchor[rng.permutation(len(pos_anchor))[:16]]
                props = np.concatenate([props, pos_anchor])
            if len(props) == 0:
                continue
            ious = iou_many(props, local)
            best = ious.max(axis=1) if local else np.zeros(len(props))
            lab = np.where(best >= cfg.pos_iou, 1.0, np.where(best < cfg.neg_iou, 0.0, -1.0))
            keep = lab >= 0
            if not keep.any():
                continue
            props, lab = props[keep], lab[keep]
            cls, reg = model.crn(s_feat[j], torch.from_numpy(props))
            l_cls = l_cls + F.binary_cross_entropy_with_logits(cls, torch.from_numpy(lab).float())
            if (lab == 1).any() and local:
                g = np.asarray(local)[ious[keep].argmax(axis=1)]
                tgt = torch.from_numpy(encode(props, g)).float()
                pm = torch.from_numpy(lab == 1)
                l_reg = l_reg + F.smooth_l1_loss(reg[pm], tgt[pm], beta=1.0)
            n_cr += 1
        return l_cpn + (l_cls + cfg.lam * l_reg) / max(n_cr, 1)

    history = train_epochs(model, opt, train_cfg.epochs, batches, loss_of, int(np.ceil(per_epoch / batch)),
                           progress, on_epoch)
    threshold = _choose_threshold(model, seqs, spans, train_cfg)
    return model, {"anchors": cfg.anchors, "subsample": sub, "alpha": round(alpha, 2), "loss": history,
                   "threshold": threshold}


def _choose_threshold(model: MESNet, seqs, spans, train_cfg) -> float:
    """T_CRN from a grid, by F1 (count_found_gt) on the training videos."""
    import pandas as pd

    from microexp.eval.spotting import evaluate

    raw = [detect(model, seq) for seq in seqs]
    gt = pd.DataFrame([(str(i), a, b, "me") for i, sp in enumerate(spans) for a, b in sp],
                      columns=["video", "onset", "offset", "type"])
    best, best_f1 = 0.5, -1.0
    for thr in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        rows = [(str(i), iv.onset, iv.offset, "me") for i, d in enumerate(raw)
                for iv in _finish(d, thr, model.cfg.t_nms, "me")]
        pred = pd.DataFrame(rows, columns=["video", "onset", "offset", "type"])
        f1 = float(evaluate(gt, pred, train_cfg.select_semantics, types=("me",))
                   .table.loc["me", "f1"]) if len(gt) else 0.0
        if f1 > best_f1:
            best, best_f1 = thr, f1
    return best


@torch.no_grad()
def detect(model: MESNet, seq) -> list[tuple[float, float, float]]:
    """All CRN-refined clips of a video before thresholding: (onset, offset, p_ME) in native frames.

    Only clips with a face on every frame: where no face was found the crops are blank, and an expression
    nobody can see is no answer (a face that appears after 3 s gave 25 "expressions" before)."""
    model.eval()
    cfg = model.cfg
    n_work = (seq.n_frames + cfg.subsample - 1) // cfg.subsample
    face = np.asarray(seq.face, bool)
    out = []
    for st in window_starts(n_work, cfg.window, cfg.stride):
        x, valid = _window_frames(seq, st, cfg)
        s = model.features(x[None])
        props, _ = _proposals(model.proposals_logits(s)[0], cfg.anchors, cfg.top_k, cfg.cpn_nms, valid)
        if len(props) == 0:
            continue
        cls, reg = model.crn(s[0], torch.from_numpy(props))
        spans = decode(props, reg.numpy().astype(np.float64))
        prob = torch.sigmoid(cls).numpy()
        for (a, b), p in zip(spans, prob, strict=True):
            on = int(round((a + st) * cfg.subsample))
            off = int(round((b + st + 1) * cfg.subsample - 1))
            on, off = max(0, on), min(seq.n_frames - 1, off)
            if off > on and face[on:off + 1].all():
                out.append((on, off, float(p)))
    return out


def _finish(raw, threshold: float, t_nms: float, kind: str) -> list[Interval]:
    kept = [r for r in raw if r[2] >= threshold]
    spans = [(r[0], r[1]) for r in kept]
    keep = nms(spans, [r[2] for r in kept], t_nms)
    out = [Interval(kept[i][0], (kept[i][0] + kept[i][1]) // 2, kept[i][1], kind, kept[i][2]) for i in keep]
    return sorted(out, key=lambda iv: (iv.onset, iv.offset))


def spot_sequence(model: MESNet, seq, kind: str, threshold: float) -> list[Interval]:
    """Intervals of one video: windows -> CPN -> CRN -> p ≥ threshold -> NMS over all windows."""
    return _finish(detect(model, seq), threshold, model.cfg.t_nms, kind)


@torch.no_grad()
def frame_curve(model: MESNet, seq) -> np.ndarray:
    """Per native frame: the highest CPN probability of any clip centred there (for plots); 0 without a face."""
    cfg = model.cfg
    n_work = (seq.n_frames + cfg.subsample - 1) // cfg.subsample
    curve = np.zeros(n_work)
    for st in window_starts(n_work, cfg.window, cfg.stride):
        x, valid = _window_frames(seq, st, cfg)
        p = torch.sigmoid(model.proposals_logits(model.features(x[None]))[0]).max(dim=0).values.numpy()
        curve[st:st + valid] = np.maximum(curve[st:st + valid], p[:valid])
    return np.where(np.asarray(seq.face, bool), np.repeat(curve, cfg.subsample)[: seq.n_frames], 0.0)


# ---------------------------------------------------------------------------------------------------------
# Registry entry


def _pack(model: MESNet, meta: dict) -> dict:
    from dataclasses import asdict

    return {"config": asdict(model.cfg), "state_dict": model.state_dict(), "threshold": float(meta["threshold"]),
            "alpha": meta.get("alpha")}


def _unpack(m: dict, fps_scale: float = 1.0) -> tuple[MESNet, dict]:
    """Rebuild a packed model; anchors are in working-rate frames, so the subsample factor follows the rate."""
    cfg = dict(m["config"])
    for key in ("anchors", "channels"):
        cfg[key] = tuple(cfg[key])
    cfg["subsample"] = max(1, int(round(cfg.get("subsample", 1) * fps_scale)))
    net = build_mesnet(MESNetConfig(**cfg))
    net.load_state_dict(m["state_dict"])
    return net.eval(), {"threshold": float(m["threshold"])}


def _detect(model: MESNet, meta: dict, seq, kind: str) -> list[Interval]:
    return spot_sequence(model, seq, kind, meta["threshold"])


def _score(model: MESNet, meta: dict, seq, kind: str):
    from microexp.spotting.learned import KindScore

    curve = frame_curve(model, seq)
    return KindScore(_detect(model, meta, seq, kind), curve, curve / max(meta["threshold"], 1e-9))


def _spotter():
    from microexp.spotting.learned import LearnedSpotter

    return LearnedSpotter("mesnet", MESNetConfig, fit_mesnet, _pack, _unpack, _detect, _score)


SPOTTER = _spotter()
