"""Ground truth beside the detections: which labelled expressions were found, missed, or falsely alarmed.

The marks come from the MEGC scorer itself (``microexp.eval.spotting``, ``megc2020`` preset: a ground truth
is a hit when a detection of the same type overlaps it with IoU >= 0.5), so the plot, the report and the
printed table always agree with ``microexp evaluate spotting``. Frames are 0-based inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from microexp.errors import AnnotationError, InputError
from microexp.eval.spotting import SpottingReport, evaluate, iou_matrix, settings_tag
from microexp.records import Interval

HIT, MISS, FALSE_ALARM = "hit", "miss", "false alarm"
#: Colours of the three marks, shared by spot.png and report.html.
STATUS_COLOURS = {HIT: "#59a14f", MISS: "#e15759", FALSE_ALARM: "#b07aa1"}


@dataclass(frozen=True)
class Mark:
    """One interval with its verdict: ``status`` hit/miss (ground truth) or hit/false alarm (detection).

    ``match`` is the index of the best-overlapping interval of the same type on the other side and ``iou``
    that overlap (None when the other side has no interval of this type), so a near miss shows how near.
    """

    onset: int
    offset: int
    kind: str
    status: str
    iou: float | None
    match: int | None


@dataclass
class TruthComparison:
    """Ground truth of one video against its detections, with the scorer's report they were drawn from."""

    source: str
    video: str
    truth: list[Mark]
    detections: list[Mark]
    report: SpottingReport

    def counts(self) -> dict[str, int]:
        return {"hits": sum(m.status == HIT for m in self.truth),
                "misses": sum(m.status == MISS for m in self.truth),
                "false_alarms": sum(m.status == FALSE_ALARM for m in self.detections)}

    def summary(self) -> str:
        c = self.counts()
        src = f" {self.source}" if self.source else ""
        return (f"ground truth{src} ({len(self.truth)} expressions of {self.video}): {c['hits']} found, "
                f"{c['misses']} missed, {c['false_alarms']} false alarm{'' if c['false_alarms'] == 1 else 's'} (IoU >= "
                f"{self.report.settings.iou_threshold:g}, scorer {settings_tag(self.report.settings)})")

    def to_dict(self) -> dict:
        """JSON-ready: the scorer's table and every mark."""
        def marks(ms):
            return [{"onset": m.onset, "offset": m.offset, "type": m.kind, "status": m.status,
                     "iou": None if m.iou is None else round(m.iou, 4), "match": m.match} for m in ms]

        return {"source": self.source, "video": self.video, **self.report.to_dict(),
                "truth": marks(self.truth), "detections": marks(self.detections), "counts": self.counts()}


def read_truth(path: str | Path, names: list[str], frame_base: int = 0) -> pd.DataFrame:
    """Rows of the GT file that belong to this video (its ``video`` cell equals one of ``names``), 0-based.

    Reads the synth label CSV (``video,onset,apex,offset,type,...``), MEGC CSVs (``vid,onset,offset,type``)
    and MEGC2020 ``all_Info.txt`` with the ``megc_io`` readers; other videos' rows are dropped. Raises a
    one-line ``AnnotationError`` naming the file when no row is this video's.
    """
    from microexp.eval.megc_io import read_megc2020_gt, read_megc_csv

    path = Path(path)
    if not path.is_file():
        raise InputError("no such ground-truth file", path)
    gt = read_megc2020_gt(path) if path.suffix.lower() == ".txt" else read_megc_csv(path, frame_base)
    wanted = {str(n).strip().lower() for n in names}
    mine = gt[gt["video"].str.strip().str.lower().isin(wanted)].copy()
    if mine.empty:
        seen = list(dict.fromkeys(gt["video"]))
        listed = ", ".join(seen[:5]) + (f" … ({len(seen)} videos)" if len(seen) > 5 else "")
        what = f"videos in it: {listed}" if seen else "it has no rows"
        raise AnnotationError(f"no ground-truth row for video {' or '.join(repr(n) for n in names)} "
                              f"(the 'video' column must name the input; {what})", path)
    mine.attrs = {"source": str(path)}
    return mine.reset_index(drop=True)


def compare_truth(gt: pd.DataFrame, intervals: list[Interval], video: str) -> TruthComparison:
    """Score ``intervals`` (one video's detections, in order) against its ground truth and mark each side."""
    g = gt.assign(video=video)
    p = pd.DataFrame([{"video": video, "onset": iv.onset, "offset": iv.offset, "type": iv.kind,
                       "score": float(iv.score)} for iv in intervals],
                     columns=["video", "onset", "offset", "type", "score"])
    report = evaluate(g, p, "megc2020")
    s = report.settings
    hit_gt = set(report.pairs["gt_row"].astype(int))
    hit_pred = set(report.pairs["pred_row"].astype(int))
    g_on, g_off = report_frames(report, g)
    g_kind = g["type"].to_numpy()
    p_on, p_off, p_kind = p["onset"].to_numpy(), p["offset"].to_numpy(), p["type"].to_numpy()
    iou = iou_matrix(p_on, p_off, g_on, g_off, s.zero_length_iou_zero)  # (pred, gt)
    same = p_kind[:, None] == g_kind[None, :]
    iou = np.where(same, iou, -1.0)
    truth = [Mark(int(g_on[j]), int(g_off[j]), str(g_kind[j]), HIT if j in hit_gt else MISS,
                  *_best(iou[:, j])) for j in range(len(g))]
    dets = [Mark(int(p_on[i]), int(p_off[i]), str(p_kind[i]), HIT if i in hit_pred else FALSE_ALARM,
                 *_best(iou[i, :])) for i in range(len(p))]
    return TruthComparison(str(gt.attrs.get("source", "")), video, truth, dets, report)


def report_frames(report: SpottingReport, g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """GT onset/offset as the scorer used them (a CAS offset annotated 0 becomes the apex)."""
    from microexp.eval.spotting import prepare

    prepared, _, _ = prepare(g, g.iloc[:0], report.settings)
    return prepared["onset"].to_numpy(), prepared["offset"].to_numpy()


def _best(row: np.ndarray) -> tuple[float | None, int | None]:
    if row.size == 0 or row.max() < 0:
        return None, None
    k = int(np.argmax(row))
    return float(row[k]), k


def beyond_video(cmp: TruthComparison, n_frames: int) -> int:
    """How many ground-truth intervals end after the last frame (a GT for another cut of the video?)."""
    return sum(m.offset >= n_frames for m in cmp.truth)


def format_table(report: SpottingReport) -> str:
    """The scorer's table as ``microexp evaluate spotting`` prints it."""
    return report.table.to_string(float_format=lambda x: f"{x:.4f}")
