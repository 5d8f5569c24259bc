"""The files ``analyze`` writes: intervals.csv, result.json, scores.npz and a self-contained report.html."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from microexp.io.atomic import write_json, write_text, write_with
from microexp.report.plots import plot_curve
from microexp.spotting.outputs import write_trace_scores
from microexp.version import __version__

ANALYZE_COLUMNS = ["video", "onset", "apex", "offset", "type", "emotion", "confidence", "onset_s", "apex_s",
                   "offset_s", "score", "open", "reference", "rested"]


def intervals_table(result, name: str) -> pd.DataFrame:
    """One row per expression; frames 0-based inclusive, seconds from the video's timestamps."""
    times = result.frame_times()

    def sec(i):
        return round(float(times[min(i, len(times) - 1)]), 4) if len(times) else float("nan")

    rows = [{"video": name, "onset": e.interval.onset, "apex": e.interval.apex, "offset": e.interval.offset,
             "type": e.interval.kind, "emotion": e.emotion, "confidence": round(e.confidence, 4),
             "onset_s": sec(e.interval.onset), "apex_s": sec(e.interval.apex), "offset_s": sec(e.interval.offset),
             "score": round(float(e.interval.score), 4), "open": bool(e.interval.open),
             "reference": e.reference, "rested": e.rested} for e in result.expressions]
    df = pd.DataFrame(rows, columns=ANALYZE_COLUMNS)
    # nullable: an interval with no face has neither (written as empty cells, null in result.json)
    return df.astype({"reference": "Int64", "rested": "boolean"})


def result_dict(result, name: str, truth=None) -> dict:
    info = result.spot.info
    table = intervals_table(result, name)
    return {
        "video": {"name": name, "path": str(info.path), "frames": result.n_frames, "fps": info.fps,
                  "duration": float(result.frame_times()[-1]) if result.n_frames else 0.0,
                  "width": info.width, "height": info.height, "codec": info.codec,
                  "face_frames": result.face_frames,
                  "no_face_ranges": [list(r) for r in result.no_face_ranges()]},
        "frames_note": "frame numbers are 0-based and inclusive",
        "models": result.models,
        "settings": result.settings,
        "warnings": list(getattr(result, "warnings", None) or []),
        "expressions": [
            {**row, "probabilities": e.probabilities}
            for row, e in zip(table.to_dict(orient="records"), result.expressions)
        ],
        **({"ground_truth": truth.to_dict()} if truth is not None else {}),
    }


def _png_b64(img: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", img)
    return base64.b64encode(buf.tobytes()).decode("ascii") if ok else ""


CURVE_WHAT = {  # what the plotted score is, per spotter (the report's caption)
    "offd": "the strongest ROI displacement relative to its local floor",
    "refcnn3d": "the model's score of each frame against its reference frames t ± k, smoothed over 2k frames",
    "mesnet": "the highest clip-proposal probability of any clip covering the frame",
}


def render_report(result, name: str, plot_png: bytes, truth=None) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("microexp", "report"), autoescape=select_autoescape(["html", "j2"]))
    tpl = env.get_template("report.html.j2")
    table = intervals_table(result, name)
    exprs = []
    verdicts = [m.status for m in truth.detections] if truth is not None else [None] * len(table)
    for row, e, th, v in zip(table.to_dict(orient="records"), result.expressions, result.thumbnails, verdicts):
        probs = sorted(e.probabilities.items(), key=lambda kv: -kv[1])
        thumbs = None
        if th:  # the reference face first when the reading compared the apex with another frame than the onset
            named = ([(f"reference ({e.reference})", th.reference)] if th.reference is not None else []) + \
                [("onset", th.onset), ("apex", th.apex), ("offset", th.offset)]
            thumbs = [(label, _png_b64(t)) for label, t in named]
        exprs.append({**row, "probabilities": probs, "verdict": v, "thumbs": thumbs,
                      "rested": e.rested, "reference": e.reference})  # None, not the table's pd.NA: tested in if
    no_face = result.no_face_ranges()
    times = result.frame_times()
    spotter = getattr(getattr(result, "spot", None), "spotter", "offd")
    return tpl.render(curve_what=CURVE_WHAT.get(spotter, CURVE_WHAT["offd"]),
        video=name, n_frames=result.n_frames, fps=result.fps, duration=float(times[-1]) if len(times) else 0.0,
        face_frames=result.face_frames, expressions=exprs, n_me=int((table.type == "me").sum()),
        n_mae=int((table.type == "mae").sum()), plot_png=base64.b64encode(plot_png).decode("ascii"),
        no_face=no_face, no_face_total=sum(b - a + 1 for a, b in no_face),
        settings=sorted(result.settings.items()), models=sorted(result.models.items()), version=__version__,
        truth=_truth_view(truth, times) if truth is not None else None)


def _truth_view(truth, times: np.ndarray) -> dict:
    """What the report's ground-truth section shows: the scorer's table and one row per labelled expression."""
    from microexp.eval.spotting import settings_tag
    from microexp.report.truth import STATUS_COLOURS

    def sec(i):
        return float(times[max(0, min(i, len(times) - 1))]) if len(times) else float("nan")

    table = [{"type": k, **{c: (int(v) if c in ("n_pred", "tp", "fp", "fn", "n_gt") else float(v))
                            for c, v in row.items()}} for k, row in truth.report.table.iterrows()]
    rows = [{"onset": m.onset, "offset": m.offset, "type": m.kind, "status": m.status, "iou": m.iou,
             "match": None if m.match is None or m.status != "hit" else m.match + 1,
             "onset_s": sec(m.onset), "offset_s": sec(m.offset)} for m in truth.truth]
    return {"source": truth.source, "summary": truth.summary(), "counts": truth.counts(), "table": table,
            "rows": rows, "colours": STATUS_COLOURS, "iou": truth.report.settings.iou_threshold,
            "scorer": settings_tag(truth.report.settings)}


def write_analysis(result, out_dir: str | Path, name: str | None = None, truth=None) -> dict[str, Path]:
    """Write all outputs atomically (``truth``: ground truth drawn in spot.png and report.html); their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = name or Path(result.video).stem
    spot = result.spot
    t = spot.trace
    table = intervals_table(result, name)
    paths = {"intervals": write_with(out / "intervals.csv", lambda tmp: table.to_csv(tmp, index=False))}
    paths["result"] = write_json(out / "result.json", result_dict(result, name, truth))
    paths["scores"] = write_trace_scores(out / "scores.npz", spot)
    plot_path = plot_curve(out / "spot.png", t.time, t.score, spot.intervals, result.frame_times(), t.face,
                           title=f"{name} — {spot.spotter}: {len(spot.intervals)} expressions", truth=truth)
    paths["plot"] = plot_path
    paths["report"] = write_text(out / "report.html", render_report(result, name, plot_path.read_bytes(), truth))
    return paths
