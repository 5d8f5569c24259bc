"""Can the labelled faces we hold teach a *state* reader (what a face shows, not how it changed)?

Issue 16 asks that the crying and the laugh of ``WolfgangLanger_Pexels.mp4`` be read negative and positive through
``analyze`` on the clip as it is, mirrored, resized and re-timed. The shipped recogniser reads change (flow from a
reference face to the apex), and on this clip no face is neutral: crying from the first frame, a hand over the
mouth, then a laugh from about frame 246 to the end. Wherever the spotter's interval starts inside an expression,
a change reader has nothing right to compare with. A state reader would not need a reference; the only labelled
faces in ``../shared`` are the 442 apex crops of the MEGC2019 composite (negative / positive / surprise), so this
probe trains the simplest honest one on them and looks at what it says on the clip.

Model: each apex crop -> 68 landmarks (dlib; the whole crop as the face box when HOG finds none) -> the same
eye-levelled 64 px crop ``analyze`` would take (``face.align.similarity_align``), histogram-equalised -> HOG
(16 px blocks, 8 px cells, 9 bins) -> standardised, class-balanced logistic regression. Settings fixed before the
run: C in {0.01, 0.1}, both reported. Leave-one-subject-out (68 subjects) UF1 / UAR say whether it reads the
held-out subjects' expressions; a model fitted on all 442 then reads every 6th frame of the clip, as it is,
mirrored and at half size (a state reader has no frame rate). The segments were picked by looking at the frames
(crying 0-140, hand over the mouth / look-up 144-240, laugh 246-471).

    python benchmarks/macro_state_probe.py [--out benchmarks/results/macro_state_probe.md]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

SHARED = Path(os.environ.get("MICROEXP_SHARED", Path(__file__).resolve().parents[2] / "shared"))
HTNET = SHARED / "realdata" / "htnet"
CLIP = SHARED / "video" / "WolfgangLanger_Pexels.mp4"
SEGMENTS = (("crying", 0, 141), ("hand over mouth / look-up", 144, 241), ("laugh", 246, 472))
CS = (0.01, 0.1)
SIZE = 64
STEP = 6


def _hog() -> cv2.HOGDescriptor:
    return cv2.HOGDescriptor((SIZE, SIZE), (16, 16), (8, 8), (8, 8), 9)


def face_features(gray: np.ndarray, lm: np.ndarray, hog: cv2.HOGDescriptor) -> np.ndarray:
    from microexp.face.align import similarity_align

    crop, _ = similarity_align(gray, lm, SIZE)
    return hog.compute(cv2.equalizeHist(crop)).ravel()


def composite_features(det, hog):
    from microexp.datasets.composite_flow import APEX_DIR, LIST_NAME, read_composite_list
    from microexp.face.landmarks import FaceBox

    df = read_composite_list(HTNET / LIST_NAME)
    X, y, subj, whole_box = [], [], [], 0
    for r in df.itertuples():
        gray = cv2.imread(str(HTNET / APEX_DIR / r.imagename), cv2.IMREAD_GRAYSCALE)
        found = det.find(gray)
        if found is None:  # tight crops: the face fills the image
            whole_box += 1
            lm = det.landmarks(gray, FaceBox(0, 0, gray.shape[1], gray.shape[0]))
        else:
            lm = found[1]
        X.append(face_features(gray, lm, hog))
        y.append(int(r.label))
        subj.append(r.subject_key)
    names = df.groupby("label").emotion.first().to_dict()
    return np.array(X), np.array(y), np.array(subj), [names[k] for k in sorted(names)], whole_box


def _model(C: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, class_weight="balanced"))


def loso(X, y, subj, C: float, classes: list[str]) -> dict:
    from microexp.eval.recognition import evaluate

    pred = np.zeros_like(y)
    for s in np.unique(subj):
        te = subj == s
        pred[te] = _model(C).fit(X[~te], y[~te]).predict(X[te])
    m = evaluate([classes[i] for i in y], [classes[i] for i in pred], labels=classes)
    return {"uf1": float(m["uf1"]), "uar": float(m["uar"])}


def clip_readings(model, det, hog) -> dict[str, list[tuple[int, list[float] | None]]]:
    from microexp.io.video import VideoSource

    frames = [f.image for f in VideoSource(CLIP).frames(gray=True)]
    variants = {"original": lambda g: g, "mirrored": lambda g: g[:, ::-1].copy(),
                "half size": lambda g: cv2.resize(g, (g.shape[1] // 2, g.shape[0] // 2), interpolation=cv2.INTER_AREA)}
    out = {}
    for name, tf in variants.items():
        rows = []
        for i in range(0, len(frames), STEP):
            g = tf(frames[i])
            found = det.find(g)
            p = None if found is None else model.predict_proba(face_features(g, found[1], hog)[None])[0].tolist()
            rows.append((i, p))
        out[name] = rows
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results/macro_state_probe.md")
    args = ap.parse_args()
    if not (HTNET.is_dir() and CLIP.is_file()):
        sys.exit(f"needs {HTNET} and {CLIP} (set MICROEXP_SHARED)")
    from microexp.face.landmarks import LandmarkDetector

    det, hog = LandmarkDetector(), _hog()
    X, y, subj, classes, whole_box = composite_features(det, hog)
    result = {"samples": len(y), "subjects": len(np.unique(subj)), "classes": classes,
              "class_counts": np.bincount(y).tolist(), "whole_crop_box": whole_box, "loso": {}, "clip": {}}
    for C in CS:
        result["loso"][str(C)] = loso(X, y, subj, C, classes)
        result["clip"][str(C)] = clip_readings(_model(C).fit(X, y), det, hog)
    lines = ["# A state reader from the composite apex crops (`python benchmarks/macro_state_probe.py`)", "",
             f"{len(y)} apex crops, {result['subjects']} subjects, classes {dict(zip(classes, result['class_counts']))}; "
             f"HOG found no face on {whole_box} tight crops (whole crop used as the box). Chance UF1 is about 0.33.", "",
             "| C | LOSO UF1 | LOSO UAR |", "|---|---|---|"]
    lines += [f"| {C} | {v['uf1']:.3f} | {v['uar']:.3f} |" for C, v in result["loso"].items()]
    lines += ["", f"Model fitted on all {len(y)} crops, every {STEP}th frame of `{CLIP.name}`: mean probability per "
              "segment (segments picked by looking at the frames), and the share of frames whose top class is each.", "",
              "| C | variant | segment | frames with a face | " + " | ".join(f"mean {c}" for c in classes) + " | " +
              " | ".join(f"top {c}" for c in classes) + " |", "|---" * (4 + 2 * len(classes)) + "|"]
    for C, per in result["clip"].items():
        for variant, rows in per.items():
            for seg, lo, hi in SEGMENTS:
                P = np.array([p for i, p in rows if lo <= i < hi and p is not None])
                n_all = sum(1 for i, _ in rows if lo <= i < hi)
                mean = P.mean(0) if len(P) else np.full(len(classes), np.nan)
                top = np.bincount(P.argmax(1), minlength=len(classes)) / max(1, len(P))
                lines.append(f"| {C} | {variant} | {seg} | {len(P)}/{n_all} | " + " | ".join(f"{v:.2f}" for v in mean)
                             + " | " + " | ".join(f"{v:.2f}" for v in top) + " |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from microexp.io.atomic import write_json, write_text

    write_text(out, "\n".join(lines) + "\n")
    write_json(out.with_suffix(".json"), result)
    _plot(result, classes, out.with_suffix(".png"))
    print("\n".join(lines))


def _plot(result: dict, classes: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per = result["clip"][str(CS[-1])]
    fig, axes = plt.subplots(len(per), 1, figsize=(9, 2.2 * len(per)), sharex=True)
    for ax, (variant, rows) in zip(np.atleast_1d(axes), per.items(), strict=True):
        idx = [i for i, p in rows if p is not None]
        P = np.array([p for _, p in rows if p is not None])
        for k, c in enumerate(classes):
            ax.plot(idx, P[:, k], label=c)
        for seg, lo, hi in SEGMENTS:
            ax.axvspan(lo, hi, alpha=0.08, color="k" if seg != "laugh" else "g")
            ax.text((lo + hi) / 2, 1.02, seg, ha="center", fontsize=7)
        ax.set_ylim(0, 1.12)
        ax.set_ylabel(variant)
    axes[0].legend(loc="upper left", fontsize=7, ncol=3)
    axes[-1].set_xlabel(f"frame of {CLIP.name}")
    fig.suptitle(f"HOG + logistic regression (C={CS[-1]}) trained on the composite apex crops", fontsize=9)
    fig.tight_layout()
    from microexp.io.atomic import write_with

    write_with(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)


if __name__ == "__main__":
    main()
