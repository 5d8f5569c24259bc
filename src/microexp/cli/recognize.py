"""`microexp recognize`: emotion of an onset/apex pair of aligned face crops, or of ready-made flow images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

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


@handle_errors
def recognize(
    onset: Annotated[Path | None, typer.Option("--onset", help="Aligned onset face crop (image).")] = None,
    apex: Annotated[Path | None, typer.Option("--apex", help="Aligned apex face crop, same size as --onset.")
                    ] = None,
    flow_image: Annotated[list[Path] | None, typer.Option(
        "--flow-image", help="Flow image(s) in the u/v/strain PNG encoding (repeatable).")] = None,
    weights: Annotated[Path | None, typer.Option(
        "--weights", help="Recogniser checkpoint (default: the shipped one).")] = None,
    flow: Annotated[str, typer.Option(
        "--flow", help="Optical flow for --onset/--apex: dis | tvl1 | farneback.")] = "dis",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
):
    """Classify micro-expressions as negative / positive / surprise with the default recogniser."""
    import numpy as np

    from microexp.errors import ConfigError
    from microexp.recognition.api import flow_from_faces, recognize_flow
    from microexp.recognition.data import read_flow_png

    flow_images = list(flow_image or [])
    if flow not in ("dis", "tvl1", "farneback"):
        raise ConfigError(f"--flow must be dis, tvl1 or farneback, got {flow!r} (flow images go in --flow-image)")
    if flow_images and (onset or apex):
        raise ConfigError("give either --onset/--apex or --flow-image, not both")
    if not flow_images and not (onset and apex):
        raise ConfigError("give --onset and --apex (aligned face crops), or one or more --flow-image files")
    if flow_images:
        names = [str(p) for p in flow_images]
        for p in flow_images:
            if not p.is_file():
                from microexp.errors import InputError

                raise InputError("flow image not found", p)
        x = np.stack([read_flow_png(p) for p in flow_images])
    else:
        names = [f"{onset} -> {apex}"]
        x = flow_from_faces(_read_gray(onset), _read_gray(apex), method=flow)[None]
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


def register(app: typer.Typer) -> None:
    app.command("recognize")(recognize)
