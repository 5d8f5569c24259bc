"""`microexp evaluate spotting|recognition|strs`: score predictions and say which scorer produced the number."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from microexp.cli.common import check_number, check_output, handle_errors
from microexp.errors import ConfigError, InputError

BASES = "frame numbering of the file: 0 (0-based) or 1 (1-based, as annotated)"

if TYPE_CHECKING:  # pandas costs ~0.5 s at start-up: imported where a table is built
    import pandas as pd


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Score spotting, recognition and spot-then-recognise results.", no_args_is_help=True)
    sub.command("spotting")(spotting_cmd)
    sub.command("recognition")(recognition_cmd)
    sub.command("strs")(strs_cmd)
    app.add_typer(sub, name="evaluate")


@handle_errors
def spotting_cmd(
    gt: Annotated[Path, typer.Option("--gt", help="Ground truth: CSV video,onset,offset,type or MEGC2020 all_Info.txt.")],
    pred: Annotated[Path, typer.Option("--pred", help="Predictions: MEGC CSV (vid,pred_onset,pred_offset,type).")],
    semantics: Annotated[str, typer.Option("--semantics", help="megc2020 | softnet | strs")] = "megc2020",
    gt_base: Annotated[int | None, typer.Option("--gt-base", help=f"GT {BASES}; default 1 for all_Info.txt, else 0.")] = None,
    pred_base: Annotated[int, typer.Option("--pred-base", help=f"Prediction {BASES}.")] = 0,
    iou: Annotated[float | None, typer.Option("--iou", help="IoU threshold (default 0.5, >=).")] = None,
    switch: Annotated[list[str] | None, typer.Option("--set", help="Override one switch, e.g. --set zero_length_iou_zero=false.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the table: .csv, .json, or a folder (both).")] = None,
    log: Annotated[Path | None, typer.Option("--log", help="Write the per-interval TP/FP/FN log (R1 format).")] = None,
):
    """Score spotted intervals: N_pred, TP, FP, FN, N_GT, P, R, F1 per type and overall."""
    from microexp.eval.megc_io import write_interval_log
    from microexp.eval.spotting import evaluate, settings_tag

    check_number("--iou", iou, 0, 1, lo_open=True)
    _check_base("--gt-base", gt_base)
    _check_base("--pred-base", pred_base)
    _check_outputs([gt, pred], out, log)
    switches = _parse_switches(switch)
    if iou is not None:
        switches["iou_threshold"] = iou
    g = _read_gt(gt, gt_base)
    p = _read_pred(pred, pred_base)
    report = evaluate(g, p, semantics, **switches)
    typer.echo(_settings_line(report.settings))
    typer.echo(_fmt(report.table))
    if report.per_dataset is not None:
        typer.echo("per dataset:")
        typer.echo(_fmt(report.per_dataset))
    if any(report.ignored.values()):
        typer.echo("ignored: " + ", ".join(f"{k}={v}" for k, v in report.ignored.items() if v))
    if out is not None:  # the CSV says which scorer produced it
        table = report.table.assign(scorer=settings_tag(report.settings))
        _write_outputs(out, table, report.to_dict(), "spotting")
    if log is not None:
        write_interval_log(report.log, log)
        typer.echo(f"log: {log} (FP lines = predictions that matched no GT)")


@handle_errors
def recognition_cmd(
    log: Annotated[Path, typer.Argument(help="Per-sample log: CSV subject,sample,true,pred[,dataset] or MEGC text log.")],
    labels: Annotated[str | None, typer.Option("--labels", help="Comma-separated class list (default: all seen).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the table: .csv, .json, or a folder (both).")] = None,
):
    """UF1 / UAR pooled over all LOSO folds, per dataset part when a dataset column is present."""
    from microexp.eval.protocol import selection_label
    from microexp.eval.reclog import oracle_note, read_any_log
    from microexp.eval.recognition import evaluate_log

    _check_outputs([log], out)
    df = read_any_log(log)
    label_list = None
    if labels:
        label_list = [_num(x.strip()) for x in labels.split(",") if x.strip()]
    try:
        table = evaluate_log(df, label_list)
    except InputError as err:  # name the log file in the one-line message
        if err.path is not None:
            raise
        raise type(err)(err.problem, log) from None
    note = oracle_note(df)
    modes = sorted(df["selection"].dropna().unique()) if "selection" in df.columns else []
    table["selection"] = "+".join(selection_label(m) for m in modes) if modes else "unrecorded"
    if note:
        typer.echo(note)
    typer.echo(_fmt(table))
    if out is not None:
        payload = {"table": table.reset_index().to_dict(orient="records"), "selection_note": note}
        _write_outputs(out, table, payload, "recognition")


@handle_errors
def strs_cmd(
    gt: Annotated[Path, typer.Option("--gt", help="Ground truth CSV video,onset,offset,emotion[,type,subject].")],
    pred: Annotated[Path, typer.Option("--pred", help="Predictions CSV, e.g. as written by `microexp analyze`.")],
    kind: Annotated[str | None, typer.Option("--type", help="Score only me or mae (default: types ignored, as MEGC2023).")] = None,
    gt_base: Annotated[int, typer.Option("--gt-base", help=f"GT {BASES}.")] = 0,
    pred_base: Annotated[int, typer.Option("--pred-base", help=f"Prediction {BASES}.")] = 0,
    switch: Annotated[list[str] | None, typer.Option("--set", help="Override one spotting switch, e.g. --set iou_threshold=0.5.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the result as .json (or a folder).")] = None,
):
    """Spot-then-recognise score: STRS = spotting F1 x analysis F1 on the matched pairs."""
    from microexp.eval.megc_io import read_megc_csv
    from microexp.eval.strs import evaluate_strs

    if kind is not None and kind not in ("me", "mae"):
        raise ConfigError(f"--type must be me or mae, got {kind!r}")
    _check_base("--gt-base", gt_base)
    _check_base("--pred-base", pred_base)
    _check_outputs([gt, pred], out)
    g = read_megc_csv(gt, gt_base, need_type=kind is not None)
    p = read_megc_csv(pred, pred_base, need_type=kind is not None)
    r = evaluate_strs(g, p, kind=kind, **_parse_switches(switch))
    typer.echo(_settings_line(r.spotting.settings))
    typer.echo(f"STRS {r.strs:.4f}   spotting F1 {r.spotting_f1:.4f}   analysis F1 {r.analysis_f1:.4f}")
    typer.echo(_fmt(r.spotting.table))
    a = r.analysis
    typer.echo(f"analysis on {a['n_pairs']} matched pairs: P_A {a['precision']:.4f} R_A {a['recall']:.4f} "
               f"UF1 {a['uf1']:.4f} UAR {a['uar']:.4f} macro-precision {a['macro_precision']:.4f}")
    typer.echo(_fmt(r.per_class))
    if out is not None:
        _write_outputs(out, r.per_class, r.to_dict(), "strs")


# ---- helpers ----------------------------------------------------------------------------------------------

def _check_base(option: str, base: int | None) -> None:
    if base is not None and base not in (0, 1):
        raise ConfigError(f"{option} must be 0 or 1 (the number of the first frame), got {base}")


def _check_outputs(inputs: list[Path], out: Path | None, log: Path | None = None) -> None:
    """Before scoring: --out (a .csv/.json file or a folder) and --log can be written and overwrite no input."""
    if out is not None:
        as_file = out.suffix.lower() in (".csv", ".json")
        check_output(out, inputs, is_dir=not as_file,
                     outputs=() if as_file else ("spotting.csv", "spotting.json", "recognition.csv",
                                                 "recognition.json", "strs.csv", "strs.json"))
    if log is not None:
        check_output(log, inputs, is_dir=False)


def _read_gt(path: Path, base: int | None):
    from microexp.eval.megc_io import read_megc2020_gt, read_megc_csv

    if not path.exists():
        raise InputError("no such ground-truth file", path)
    if path.suffix.lower() == ".txt":
        if base not in (None, 1):
            raise ConfigError("all_Info.txt is 1-based; --gt-base 0 does not apply to it")
        return read_megc2020_gt(path)
    return read_megc_csv(path, 0 if base is None else base)


def _read_pred(path: Path, base: int):
    from microexp.eval.megc_io import read_megc_csv

    return read_megc_csv(path, base)


def _parse_switches(items) -> dict:
    from microexp.eval.spotting import SWITCHES

    out = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in SWITCHES:
            raise ConfigError(f"--set expects NAME=VALUE with NAME one of {', '.join(SWITCHES)}; got {item!r}")
        v = val.strip()
        if v.lower() in ("true", "yes", "1", "on"):
            out[key] = True
        elif v.lower() in ("false", "no", "0", "off"):
            out[key] = False
        else:
            try:
                out[key] = float(v)
            except ValueError:
                out[key] = v
    return out


def _settings_line(settings) -> str:
    from dataclasses import asdict

    from microexp.eval.spotting import settings_tag

    d = asdict(settings)
    return f"scorer {settings_tag(settings)}: " + " ".join(f"{k}={v}" for k, v in d.items())


def _fmt(df: pd.DataFrame) -> str:
    return df.to_string(float_format=lambda x: f"{x:.4f}")


def _write_outputs(out: Path, table: pd.DataFrame, payload: dict, stem: str) -> None:
    from microexp.io.atomic import write_json, write_with

    suffix = out.suffix.lower()
    written = []
    if suffix == ".csv":
        written.append(write_with(out, lambda tmp: table.to_csv(tmp)))
    elif suffix == ".json":
        written.append(write_json(out, payload))
    else:
        written.append(write_with(out / f"{stem}.csv", lambda tmp: table.to_csv(tmp)))
        written.append(write_json(out / f"{stem}.json", payload))
    typer.echo("wrote " + ", ".join(str(w) for w in written))


def _num(s: str):
    try:
        return int(s)
    except ValueError:
        return s
