"""``microexp datasets list`` and ``info`` through typer's CliRunner."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from microexp.cli.main import app

from conftest import shared_path

runner = CliRunner()


def test_list_names_every_dataset():
    res = runner.invoke(app, ["datasets", "list"])
    assert res.exit_code == 0, res.output
    for name in ("casme2", "samm", "smic", "casme_sq", "samm_lv", "casme3", "mmew", "4dme", "composite"):
        assert name in res.output
    assert "NOT checked" in res.output  # 4dme / mmew / smic are spec-only


def test_info_on_real_file():
    res = runner.invoke(app, ["datasets", "info", "casme_sq",
                              str(shared_path("annotations", "casme_sq", "code_final.xlsx")), "--no-subjects"])
    assert res.exit_code == 0, res.output
    assert "357 rows, 22 subjects, 95 videos" in res.output
    assert "mae 300, me 57" in res.output
    assert "44  offset = 0 in the file" in res.output


def test_info_on_fake_folder_reports_problems(tmp_path):
    root = tmp_path / "SAMM"
    (root / "SAMM" / "006" / "006_1_2").mkdir(parents=True)
    for n in range(10, 15):
        (root / "SAMM" / "006" / "006_1_2" / f"006_{n:05d}.jpg").write_bytes(b"")
    pd.DataFrame([["006", "006_1_2", 10, 12, 14, "Anger"], ["006", "006_1_2", 10, 12, 14, "Anger"],
                  ["007", "007_1_1", 1, 2, 3, "Other"]],
                 columns=["Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Estimated Emotion"]
                 ).to_csv(root / "SAMM_Micro_FACS_Codes_v2.csv", index=False)
    res = runner.invoke(app, ["datasets", "info", "samm", str(root), "--annotation",
                              str(root / "SAMM_Micro_FACS_Codes_v2.csv")])
    assert res.exit_code == 0, res.output
    assert "3 rows, 2 subjects" in res.output and "samm/006 2" in res.output
    assert "duplicated sample id" in res.output and "frame folder missing" in res.output


def test_info_errors_are_one_line_exit_2(tmp_path):
    res = runner.invoke(app, ["datasets", "info", "nosuch", str(tmp_path)])
    assert res.exit_code == 2 and "unknown dataset" in res.output
    bad = tmp_path / "bad.csv"
    bad.write_text("Subject,Filename\n01,EP\n")
    res = runner.invoke(app, ["datasets", "info", "casme2", str(bad)])
    assert res.exit_code == 2 and "missing column 'OnsetFrame'" in res.output
