"""`microexp train spotter`: LOSO training + evaluation of a learned spotter (refcnn3d | mesnet)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from microexp.cli.common import console, handle_errors, progress_bar


def add_spotter_command(train_app: typer.Typer) -> None:
    train_app.command("spotter")(spotter)


@handle_errors
def spotter(
    model: str = typer.Option("refcnn3d", "--model", help="refcnn3d | mesnet"),
    data: str = typer.Option(..., "--data", help="DATASET:ROOT with DATASET casme_sq, samm_lv, casme3 or synth "
                                                 "(a `microexp synth suite` folder; a bare folder means synth)."),
    out: Path = typer.Option(..., "--out", help="Output folder: folds/, predictions.csv, megc_*.csv, summary.json, "
                                               "summary.png."),
    epochs: int = typer.Option(None, "--epochs", help="Training epochs per fold (fixed budget)."),
    lr: float = typer.Option(None, "--lr", help="Learning rate (default: the model's)."),
    size: int = typer.Option(None, "--size", help="Crop side in pixels (default 128)."),
    p: float = typer.Option(None, "--p", help="Fixed peak threshold p (default: chosen on each fold's training "
                                             "subjects)."),
    kinds: str = typer.Option("me,mae", "--kinds", help="Expression types to train: me, mae or both."),
    no_lcn: bool = typer.Option(False, "--no-lcn", help="refcnn3d without LCN (ablation)."),
    subjects: str = typer.Option(None, "--subjects", help="Comma-separated test subjects (default: all)."),
    seed: int = typer.Option(0, "--seed"),
    threads: int = typer.Option(1, "--threads", help="torch threads per fold."),
    model_config: str = typer.Option(None, "--model-config", help="JSON overrides of the model config."),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="Crop cache (default $MICROEXP_CACHE or "
                                                            "~/.cache/microexp)."),
    final: bool = typer.Option(False, "--final", help="Also train on every subject and write OUT/model.pt "
                                                      "for `microexp spot --weights`."),
):
    """Train per LOSO fold, write per-fold weights, MEGC predictions and the MEGC tables (resumable)."""
    from microexp.errors import ConfigError
    from microexp.spotting.registry import save_checkpoint, trainable
    from microexp.spotting.train import SpotTrainConfig, fit_final, load_spot_data, run_loso

    if model not in trainable():
        raise ConfigError(f"--model must be one of {', '.join(trainable())}, got {model!r}")
    over = {}
    if model_config:
        try:
            over = json.loads(model_config)
        except json.JSONDecodeError as err:
            raise ConfigError(f"--model-config is not JSON ({err.msg})") from None
        if not isinstance(over, dict):
            raise ConfigError("--model-config must be a JSON object")
    if no_lcn:
        if model != "refcnn3d":
            raise ConfigError("--no-lcn applies to refcnn3d only")
        over["lcn"] = False
    kind_list = tuple(k.strip() for k in kinds.split(",") if k.strip())
    kw = {"kinds": kind_list, "seed": seed, "threads": threads, "model": over}
    for name, value in (("epochs", epochs), ("lr", lr), ("size", size), ("p", p)):
        if value is not None:
            kw[name] = value
    cfg = SpotTrainConfig(**kw)
    spot_data = load_spot_data(data)
    wanted = [s.strip() for s in subjects.split(",")] if subjects else None
    with progress_bar(f"LOSO {model}") as update:
        summary = run_loso(model, spot_data, out, cfg, cache_dir=cache_dir, subjects=wanted, progress=update)
    import pandas as pd

    for sem, rows in summary["tables"].items():
        console.print(f"[bold]{sem}[/]")
        console.print(pd.DataFrame(rows).set_index("type").round(4).to_string())
    console.print(f"{summary['n_folds']} folds, training {summary['train_s']} s, inference "
                  f"{summary['infer_fps']} frames/s; wrote {out}/predictions.csv, megc_*.csv, summary.json")
    if final:
        save_checkpoint(out / "model.pt", fit_final(model, spot_data, cfg, cache_dir=cache_dir))
        console.print(f"wrote {out / 'model.pt'}")
