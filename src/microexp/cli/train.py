"""`microexp train`: fit models on a whole data set (sub-app; `recognizer` here, `spotter` may join later)."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from microexp.cli.common import console, handle_errors, progress_bar

train_app = typer.Typer(help="Train models on a whole data set.", no_args_is_help=True)


@train_app.command("recognizer")
@handle_errors
def recognizer(
    model: str = typer.Option("ststnet", "--model", help="ststnet | mmnet | mmnet-flow | slstt | slstt-scratch"),
    data: str = typer.Option(..., "--data", help="composite-flow:DIR (HTNet layout) or casme2|samm|smic:ROOT"),
    protocol: str | None = typer.Option(None, "--protocol", help="casme2-5class | samm-5class | smic-3class"),
    out: Path = typer.Option(..., "--out", help="checkpoint path (.pt); the model card goes next to it (.md)"),
    seed: int = typer.Option(0, "--seed"),
    epochs: int | None = typer.Option(None, "--epochs"),
    lr: float | None = typer.Option(None, "--lr"),
    loso_summary: Path | None = typer.Option(None, "--loso-summary", help="summary.json of a LOSO run with the same settings, quoted in the model card"),
    weights: Path | None = typer.Option(None, "--weights", help="slstt: ImageNet ViT-B/16 weights file"),
    train_config: str | None = typer.Option(None, "--train-config", help="JSON overrides of the training settings"),
    model_config: str | None = typer.Option(None, "--model-config", help="JSON overrides of the model config"),
    threads: int = typer.Option(1, "--threads", min=1,
                                help="torch threads (1, the default, gives bit-identical weights on every run)"),
):
    """Train a recogniser on all samples and write weights plus a model card."""
    import torch

    from microexp.cli.loso import model_overrides_for, train_config_for
    from microexp.errors import ConfigError
    from microexp.recognition.data import parse_data_spec
    from microexp.recognition.fit import fit_recognizer

    if out.suffix != ".pt":
        raise ConfigError(f"--out must end in .pt, got {out.name!r}")
    from microexp.recognition.registry import get_arch
    from microexp.recognition.samples import load_for_model

    get_arch(model)
    parse_data_spec(data)
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

    add_spotter_command(train_app)
    app.add_typer(train_app, name="train")
