"""`microexp train`: fit models on a whole data set (`train recognizer` here, `train spotter` in train_spotter)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from microexp.cli.common import check_number, check_output, console, handle_errors, progress_bar

train_app = typer.Typer(help="Train models on a whole data set.", no_args_is_help=True)


@handle_errors
def recognizer(
    data: Annotated[str, typer.Option(
        "--data", help="composite-flow:DIR (HTNet layout), casme2|samm|smic|casme3|mmew|4dme:ROOT or "
                       "composite:casme2=DIR,samm=DIR,smic=DIR[,list=FILE]")],
    out: Annotated[Path, typer.Option(
        "-o", "--out", help="Checkpoint path (.pt); the model card goes next to it (.md).")],
    model: Annotated[str, typer.Option(
        "--model", help="Recogniser: ststnet | mmnet | mmnet-flow | slstt | slstt-scratch")] = "ststnet",
    protocol: Annotated[str | None, typer.Option(
        "--protocol", help="casme2-5class | samm-5class | smic-3class | casme3-4class | casme3-7class | "
                           "mmew-4class | 4dme-3class | composite-3class (default: the dataset's)")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of weights init and batch order.")] = 0,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Override the model's default epoch budget.")
                      ] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Override the learning rate.")] = None,
    loso_summary: Annotated[Path | None, typer.Option(
        "--loso-summary", help="summary.json of a LOSO run with the same settings, quoted in the model card.")
                            ] = None,
    weights: Annotated[Path | None, typer.Option("--weights", help="slstt: ImageNet ViT-B/16 weights file.")
                       ] = None,
    train_config: Annotated[str | None, typer.Option(
        "--train-config", help="JSON overrides of the training settings.")] = None,
    model_config: Annotated[str | None, typer.Option(
        "--model-config", help="JSON overrides of the model config.")] = None,
    threads: Annotated[int, typer.Option(
        "--threads", help="torch threads (1, the default, gives bit-identical weights on every run).")] = 1,
):
    """Train a recogniser on all samples and write weights plus a model card."""
    import torch

    from microexp.cli.loso import check_training_numbers, model_overrides_for, train_config_for
    from microexp.errors import ConfigError
    from microexp.recognition.data import parse_data_spec
    from microexp.recognition.fit import fit_recognizer

    if out.suffix != ".pt":
        raise ConfigError(f"--out must end in .pt, got {out.name!r}")
    from microexp.recognition.registry import get_arch
    from microexp.recognition.samples import load_for_model

    check_training_numbers(epochs, lr, seed)
    check_number("--threads", threads, 1, 1024)
    get_arch(model)
    _, root = parse_data_spec(data)
    check_output(out, [Path(root)], is_dir=False)
    tcfg = train_config_for(model, epochs, lr, train_config)
    over = model_overrides_for(model, weights, model_config)
    with progress_bar("faces and flows") as update:
        flows, implied = load_for_model(data, model, protocol=protocol, model_overrides=over, progress=update)
    over = {**implied, **over}
    parts = ["microexp", "train", "recognizer", "--model", model, "--data", data, "--out", str(out),
             "--seed", str(seed)]
    for flag, value in (("--protocol", protocol), ("--epochs", epochs), ("--lr", lr), ("--loso-summary", loso_summary),
                        ("--weights", weights), ("--train-config", train_config), ("--model-config", model_config)):
        if value is not None:
            parts += [flag, str(value)]
    if threads != 1:
        parts += ["--threads", str(threads)]
    command = " ".join(shlex.quote(p) for p in parts)
    torch.set_num_threads(threads)
    with progress_bar(f"train {model}", tcfg.epochs) as update:
        meta = fit_recognizer(model, flows, out, seed=seed, train_config=tcfg, model_overrides=over,
                              command=command, loso_summary=loso_summary, progress=update)
    console.print(f"wrote {out} and {out.with_suffix('.md')} ({meta['train_seconds']} s)")


def register(app: typer.Typer) -> None:
    from microexp.cli.train_spotter import add_spotter_command

    train_app.command("recognizer")(recognizer)
    add_spotter_command(train_app)
    app.add_typer(train_app, name="train")
