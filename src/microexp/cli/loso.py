"""`microexp loso`: leave-one-subject-out training/evaluation of a recogniser on the composite flow set."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from microexp.cli.common import console, handle_errors, progress_bar


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


def register(app: typer.Typer) -> None:
    @app.command("loso")
    @handle_errors
    def loso(
        model: str = typer.Option("ststnet", "--model", help="ststnet | mmnet | mmnet-flow | slstt | slstt-scratch"),
        data: str = typer.Option(..., "--data", help="composite-flow:DIR (HTNet layout) or casme2|samm|smic:ROOT "
                                                     "(the dataset folder as distributed)"),
        protocol: str | None = typer.Option(None, "--protocol",
                                            help="casme2-5class | samm-5class | smic-3class | casme3-4class | casme3-7class | composite-holdout (default per dataset)"),
        flow: str = typer.Option("dis", "--flow", help="flow for 28x28 inputs from datasets: farneback | dis | tvl1"),
        magnify: float = typer.Option(0.0, "--magnify", help="Eulerian magnification alpha before the flow (0 = off)"),
        select: str = typer.Option("last", "--select",
                                   help="last | inner-val | oracle (oracle = test-selected, paper reproduction only)"),
        out: Path = typer.Option(..., "--out", help="output folder; rerunning resumes finished folds"),
        subjects: str | None = typer.Option(None, "--subjects", help="comma-separated test subjects, e.g. casme2/sub01,samm/006"),
        seed: int = typer.Option(0, "--seed"),
        epochs: int | None = typer.Option(None, "--epochs", help="override the model's default epoch budget"),
        lr: float | None = typer.Option(None, "--lr", help="override the learning rate"),
        val_subjects: int = typer.Option(6, "--val-subjects", help="inner-val: validation subjects per fold"),
        weights: Path | None = typer.Option(None, "--weights", help="slstt: ImageNet ViT-B/16 weights file"),
        train_config: str | None = typer.Option(None, "--train-config", help="JSON overrides of the training settings"),
        model_config: str | None = typer.Option(None, "--model-config", help="JSON overrides of the model config"),
        executor: str = typer.Option("local", "--executor", help="local (this machine) or ray (one task per fold)"),
        workers: int = typer.Option(1, "--workers", help="local: fold processes (1 = in-process); ray: local cluster CPUs"),
        address: str | None = typer.Option(None, "--address", help="ray: 'auto' or ray://HOST:PORT of a running cluster"),
    ):
        """Train one model per held-out subject; write predictions.csv, summary.json and confusion.png."""
        from microexp.eval.protocol import check_select_mode
        from microexp.features.magnify import MagnifyConfig
        from microexp.recognition.data import parse_data_spec
        from microexp.recognition.loso import run_loso
        from microexp.recognition.registry import get_arch
        from microexp.recognition.samples import load_for_model

        check_select_mode(select)
        get_arch(model)  # unknown names fail before any data is read
        parse_data_spec(data)
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
                               model_overrides=over, n_val_subjects=val_subjects, executor=ex,
                               progress=update)
        m = summary["metrics"]
        console.print(f"{model} LOSO [{summary['select']}] folds={summary['folds']} samples={summary['samples']}")
        for part, r in m.items():
            console.print(f"  {part:7s} n={r['n']:3d}  UF1 {r['uf1']:.4f}  UAR {r['uar']:.4f}  acc {r['accuracy']:.4f}")
        console.print(f"wrote {out}/predictions.csv, summary.json, confusion.png")
