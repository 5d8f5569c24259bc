"""`microexp recognize`: emotion of an onset/apex pair of aligned face crops, or of ready-made flow images."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from microexp.cli.common import console, handle_errors


def _read_gray(path: Path):
    import cv2

    from microexp.errors import InputError

    if not path.is_file():
        raise InputError("image not found", path)
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError("cannot read image", path)
    return img


def register(app: typer.Typer) -> None:
    @app.command("recognize")
    @handle_errors
    def recognize(
        onset: Path | None = typer.Option(None, "--onset", help="aligned onset face crop (image)"),
        apex: Path | None = typer.Option(None, "--apex", help="aligned apex face crop, same size as --onset"),
        flow: list[Path] = typer.Option([], "--flow", help="flow image(s) in the u/v/strain PNG encoding (repeatable)"),
        weights: Path | None = typer.Option(None, "--weights", help="recogniser checkpoint (default: the shipped one)"),
        method: str = typer.Option("dis", "--method", help="optical flow for --onset/--apex: dis | tvl1 | farneback"),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    ):
        """Classify micro-expressions as negative / positive / surprise with the default recogniser."""
        import numpy as np

        from microexp.errors import ConfigError
        from microexp.recognition.api import flow_from_faces, recognize_flow
        from microexp.recognition.data import read_flow_png

        if flow and (onset or apex):
            raise ConfigError("give either --onset/--apex or --flow, not both")
        if not flow and not (onset and apex):
            raise ConfigError("give --onset and --apex (aligned face crops), or one or more --flow images")
        if flow:
            names = [str(p) for p in flow]
            for p in flow:
                if not p.is_file():
                    from microexp.errors import InputError

                    raise InputError("flow image not found", p)
            x = np.stack([read_flow_png(p) for p in flow])
        else:
            names = [f"{onset} -> {apex}"]
            x = flow_from_faces(_read_gray(onset), _read_gray(apex), method=method)[None]
        labels, probs = recognize_flow(x, weights=weights)
        from microexp.recognition.weights import load_default

        classes = load_default(weights)[1]["classes"]
        rows = [{"input": n, "emotion": lab, "probabilities": {c: round(float(v), 4) for c, v in zip(classes, p, strict=True)}}
                for n, lab, p in zip(names, labels, probs, strict=True)]
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        for r in rows:
            pr = "  ".join(f"{c} {v:.3f}" for c, v in r["probabilities"].items())
            console.print(f"{r['input']}: [bold]{r['emotion']}[/]  ({pr})", highlight=False)
