"""`microexp loso`: leave-one-subject-out training/evaluation of a recogniser on the composite flow set."""

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


def _parse_json_opt(text: str | None, what: str) -> dict:
    from microexp.errors import ConfigError

    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{what} must be a JSON object: {err.msg}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be a JSON object")
    return value


def train_config_for(model: str, epochs: int | None, lr: float | None, train_json: str | None):
    """The architecture's default training settings with command-line overrides applied."""
    import dataclasses

    from microexp.errors import ConfigError
    from microexp.recognition.registry import get_arch

    cfg = get_arch(model).train
    over = _parse_json_opt(train_json, "--train-config")
    if epochs is not None:
        over["epochs"] = epochs
    if lr is not None:
        over["lr"] = lr
    names = {f.name for f in dataclasses.fields(cfg)}
    bad = sorted(set(over) - names)
    if bad:
        raise ConfigError(f"unknown training option(s): {', '.join(bad)}")
    over = {k: tuple(v) if isinstance(v, list) else v for k, v in over.items()}
    return dataclasses.replace(cfg, **over)


def model_overrides_for(model: str, weights: Path | None, model_json: str | None) -> dict:
    from microexp.errors import ConfigError

    over = _parse_json_opt(model_json, "--model-config")
    if weights is not None:
        if model != "slstt":
            raise ConfigError("--weights (ImageNet ViT weights) applies to --model slstt only")
        over.update(weights=str(weights), allow_scratch=False)
    return over


@handle_errors
def loso(
    data: Annotated[str, typer.Option(
        "--data", help="composite-flow:DIR (HTNet layout), casme2|samm|smic|casme3|mmew|4dme:ROOT (the dataset "
                       "folder as distributed) or composite:casme2=DIR,samm=DIR,smic=DIR[,list=FILE]")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder; rerunning resumes finished folds.")],
    model: Annotated[str, typer.Option(
        "--model", help="Recogniser: ststnet | mmnet | mmnet-flow | slstt | slstt-scratch")] = "ststnet",
    protocol: Annotated[str | None, typer.Option(
        "--protocol", help="casme2-5class | samm-5class | smic-3class | casme3-4class | casme3-7class | "
                           "mmew-4class | 4dme-3class | composite-3class | composite-holdout (default: the "
                           "dataset's)")] = None,
    flow: Annotated[str, typer.Option(
        "--flow", help="Flow for 28x28 inputs from datasets: farneback | dis | tvl1")] = "dis",
    magnify: Annotated[float, typer.Option(
        "--magnify", help="Eulerian magnification alpha before the flow (0 = off).")] = 0.0,
    select: Annotated[str, typer.Option(
        "--select", help="last | inner-val | oracle (oracle = test-selected, paper reproduction only)")] = "last",
    subjects: Annotated[str | None, typer.Option(
        "--subjects", help="Comma-separated test subjects, e.g. casme2/sub01,samm/006")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of weights init and batch order.")] = 0,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Override the model's default epoch budget.")
                      ] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Override the learning rate.")] = None,
    val_subjects: Annotated[int, typer.Option(
        "--val-subjects", help="inner-val: validation subjects per fold.")] = 6,
    weights: Annotated[Path | None, typer.Option("--weights", help="slstt: ImageNet ViT-B/16 weights file.")
                       ] = None,
    train_config: Annotated[str | None, typer.Option(
        "--train-config", help="JSON overrides of the training settings.")] = None,
    model_config: Annotated[str | None, typer.Option(
        "--model-config", help="JSON overrides of the model config.")] = None,
    executor: ExecutorOpt = "local",
    workers: WorkersOpt = 1,
    address: AddressOpt = None,
):
    """Train one model per held-out subject; write predictions.csv, summary.json and confusion.png."""
    from microexp.eval.protocol import check_select_mode
    from microexp.features.magnify import MagnifyConfig
    from microexp.recognition.data import parse_data_spec
    from microexp.recognition.loso import run_loso
    from microexp.recognition.registry import get_arch
    from microexp.recognition.samples import load_for_model

    check_training_numbers(epochs, lr, seed)
    check_number("--val-subjects", val_subjects, 1, 1000)
    check_number("--workers", workers, 1, 4096)
    check_number("--magnify", magnify, 0, 1000)
    check_select_mode(select)
    get_arch(model)  # unknown names fail before any data is read
    _, root = parse_data_spec(data)
    check_output(out, [Path(root)])
    tcfg = train_config_for(model, epochs, lr, train_config)
    over = model_overrides_for(model, weights, model_config)
    subs = [s.strip() for s in subjects.split(",") if s.strip()] if subjects else None
    with progress_bar("faces and flows") as update:
        flows, implied = load_for_model(data, model, protocol=protocol, flow=flow,
                                        magnify=MagnifyConfig(alpha=magnify) if magnify > 0 else None,
                                        model_overrides=over, progress=update)
    over = {**implied, **over}
    from microexp.experiments.executor import make_executor

    # one torch thread per fold everywhere: fold results then match byte for byte across executors
    with make_executor(executor, workers=workers, address=address, threads_per_task=1) as ex, \
            progress_bar(f"LOSO {model} [{select}]") as update:
        summary = run_loso(model, flows, out, select=select, seed=seed, subjects=subs, train_config=tcfg,
                           model_overrides=over, n_val_subjects=val_subjects, executor=ex, progress=update)
    m = summary["metrics"]
    console.print(f"{model} LOSO [{summary['select']}] folds={summary['folds']} samples={summary['samples']}")
    for part, r in m.items():
        console.print(f"  {part:7s} n={r['n']:3d}  UF1 {r['uf1']:.4f}  UAR {r['uar']:.4f}  acc {r['accuracy']:.4f}")
    console.print(f"wrote {out}/predictions.csv, summary.json, confusion.png")


def check_training_numbers(epochs: int | None, lr: float | None, seed: int | None) -> None:
    """The options every training command shares, checked the same way everywhere."""
    check_number("--epochs", epochs, 1, 100_000)
    check_number("--lr", lr, 0, 10, lo_open=True)
    check_number("--seed", seed, 0)


def register(app: typer.Typer) -> None:
    app.command("loso")(loso)
