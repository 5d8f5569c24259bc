"""`microexp ensemble`: average the class probabilities of finished `microexp loso` runs (seeds or models)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from microexp.cli.common import check_number, check_output, console, handle_errors


@handle_errors
def ensemble(
    runs: Annotated[list[Path], typer.Argument(help="Two or more finished `microexp loso` output folders.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder for predictions.csv and summary.json.")],
    n_boot: Annotated[int, typer.Option("--n-boot", help="Subject-level bootstrap resamples for the CIs.")] = 2000,
):
    """Probability-averaged ensemble of LOSO runs of one selection mode, with subject-level bootstrap CIs."""
    from microexp.recognition.ensemble import ensemble_runs

    check_number("--n-boot", n_boot, 1, 1_000_000)
    check_output(out, list(runs))
    s = ensemble_runs(runs, out, n_boot=n_boot)
    m, ci = s["metrics"]["all"], s["uf1_ci95"]
    console.print(f"ensemble of {len(runs)} runs, selection {s['select']}, samples={s['samples']}", markup=False)
    for mem in s["members"]:
        a, (lo, hi) = mem["metrics"]["all"], mem["uf1_ci95"]
        console.print(f"  member {mem['run']}: UF1 {a['uf1']:.4f} [{lo:.4f}, {hi:.4f}]  UAR {a['uar']:.4f}")
    console.print(f"  ensemble: UF1 {m['uf1']:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]  UAR {m['uar']:.4f}")
    console.print(f"wrote {out}/predictions.csv, summary.json")


def register(app: typer.Typer) -> None:
    app.command("ensemble")(ensemble)
