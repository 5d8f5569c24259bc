"""`microexp train spotter`: LOSO training + evaluation of a learned spotter (refcnn3d | mesnet)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from microexp.cli.common import (
    AddressOpt,
    ExecutorOpt,
    WorkersOpt,
    check_number,
    check_output,
    console,
    handle_errors,
    progress_bar,
)


def add_spotter_command(train_app: typer.Typer) -> None:
    train_app.command("spotter")(spotter)


@handle_errors
def spotter(
    data: Annotated[str, typer.Option(
        "--data", help="DATASET:ROOT with DATASET casme_sq, samm_lv, casme3 or synth (a `microexp synth suite` "
                       "folder; a bare folder means synth).")],
    out: Annotated[Path, typer.Option(
        "-o", "--out", help="Output folder: folds/, predictions.csv, megc_*.csv, summary.json, summary.png.")],
    spotter: Annotated[str, typer.Option("--spotter", help="Learned spotter to train: refcnn3d | mesnet.")
                       ] = "refcnn3d",
    epochs: Annotated[int | None, typer.Option("--epochs", help="Training epochs per fold (fixed budget).")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate (default: the model's).")] = None,
    size: Annotated[int | None, typer.Option("--size", help="Crop side in pixels (default 128).")] = None,
    p: Annotated[float | None, typer.Option(
        "--p", help="Fixed peak threshold p in (0, 1] (default: chosen on each fold's training subjects).")] = None,
    kinds: Annotated[str, typer.Option("--types", help="Expression types to train: me, mae or both (me,mae).")
                     ] = "me,mae",
    no_lcn: Annotated[bool, typer.Option("--no-lcn", help="refcnn3d without LCN (ablation).")] = False,
    exclude_other: Annotated[bool, typer.Option(
        "--exclude-other", help="refcnn3d: keep the other type's expressions out of a type's training frames "
                                "(not in the paper; docs/spotting.md).")] = False,
    subjects: Annotated[str | None, typer.Option(
        "--subjects", help="Comma-separated test subjects (default: all).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of weights init and batch order.")] = 0,
    threads: Annotated[int, typer.Option("--threads", help="torch threads per fold.")] = 1,
    model_config: Annotated[str | None, typer.Option(
        "--model-config", help="JSON overrides of the model config.")] = None,
    cache_dir: Annotated[Path | None, typer.Option(
        "--cache-dir", help="Crop cache (default $MICROEXP_CACHE or ~/.cache/microexp).")] = None,
    final: Annotated[bool, typer.Option(
        "--final", help="Also train on every subject and write OUT/model.pt for `microexp spot --weights`.")
                      ] = False,
    executor: ExecutorOpt = "local",
    workers: WorkersOpt = 1,
    address: AddressOpt = None,
):
    """Train per LOSO fold, write per-fold weights, MEGC predictions and the MEGC tables (resumable)."""
    from microexp.errors import ConfigError
    from microexp.spotting.registry import save_checkpoint, trainable
    from microexp.spotting.train import SpotTrainConfig, fit_final, load_spot_data, run_loso

    if spotter not in trainable():
        raise ConfigError(f"--spotter must be one of {', '.join(trainable())} (offd is training-free), got {spotter!r}")
    check_number("--epochs", epochs, 1, 100_000)
    check_number("--lr", lr, 0, 10, lo_open=True)
    check_number("--size", size, 16, 1024)
    check_number("--p", p, 0, 1, lo_open=True)
    check_number("--threads", threads, 1, 1024)
    check_number("--seed", seed, 0)
    check_number("--workers", workers, 1, 4096)
    kind_list = tuple(k.strip() for k in kinds.split(",") if k.strip())
    if not kind_list or set(kind_list) - {"me", "mae"}:
        raise ConfigError(f"--types must be me, mae or me,mae, got {kinds!r}")
    check_output(out, [Path(data.partition(":")[2] or data)])
    model = spotter
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
    if exclude_other and model != "refcnn3d":
        raise ConfigError("--exclude-other applies to refcnn3d only")
    kw = {"kinds": kind_list, "seed": seed, "threads": threads, "model": over, "exclude_other": exclude_other}
    for name, value in (("epochs", epochs), ("lr", lr), ("size", size), ("p", p)):
        if value is not None:
            kw[name] = value
    cfg = SpotTrainConfig(**kw)
    spot_data = load_spot_data(data)
    wanted = [s.strip() for s in subjects.split(",")] if subjects else None
    from microexp.experiments.executor import make_executor

    # the same experiment layer as `microexp loso`: folds in-process, in local processes or as Ray tasks
    with make_executor(executor, workers=workers, address=address, threads_per_task=threads) as ex, \
            progress_bar(f"LOSO {model}") as update:
        summary = run_loso(model, spot_data, out, cfg, cache_dir=cache_dir, subjects=wanted, progress=update,
                           executor=ex)
    import pandas as pd

    for sem, rows in summary["tables"].items():
        console.print(f"[bold]{sem}[/]")
        console.print(pd.DataFrame(rows).set_index("type").round(4).to_string())
    console.print(f"{summary['n_folds']} folds, training {summary['train_s']} s, inference "
                  f"{summary['infer_fps']} frames/s; wrote {out}/predictions.csv, megc_*.csv, summary.json")
    if final:
        save_checkpoint(out / "model.pt", fit_final(model, spot_data, cfg, cache_dir=cache_dir))
        console.print(f"wrote {out / 'model.pt'}")
