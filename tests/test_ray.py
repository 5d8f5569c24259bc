"""Ray executor on a local 2-CPU cluster: ``prepare`` and ``loso`` give the local executor's results.

All checks run inside ONE test so that one cluster serves them whatever xdist does: with pytest 9.2 and
pytest-xdist 3.8, ``--dist loadgroup`` silently ignores ``xdist_group`` (pytest-dev/pytest-xdist#1386) and
separate tests could land on two workers, each starting its own cluster on the shared cores.
"""

from __future__ import annotations

import filecmp
import json
import os

import pandas as pd
import pytest
from typer.testing import CliRunner

from microexp.cli.main import app

from conftest import shared_path

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'microexp[ray]'); Ray tests skipped")

pytestmark = pytest.mark.xdist_group("ray")

LOSO_SUBJECTS = "casme2/1,samm/6"
TIMING_KEYS = ("fold_cpu_seconds", "wall_seconds_this_run")


@pytest.fixture(scope="module")
def cluster():
    """One local cluster; the executors join it and leave it running."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _rows(report_csv):
    df = pd.read_csv(report_csv, keep_default_na=False)
    return df[["name", "status", "key", "frames", "face_frames"]].sort_values("name").to_dict("records")


def check_prepare_equals_local_and_names_a_corrupt_video(tmp_path):
    from microexp.synth import write_suite

    suite = tmp_path / "suite"
    write_suite(suite, 2, "casme_sq", seed=0, seconds=1.0)
    runner = CliRunner()
    local = runner.invoke(app, ["prepare", "synth", str(suite), "--cache-dir", str(tmp_path / "local")])
    remote = runner.invoke(app, ["prepare", "synth", str(suite), "--cache-dir", str(tmp_path / "ray"),
                                 "--executor", "ray"])
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    assert ray.is_initialized()  # the executor joined the fixture's cluster and left it running
    a = _rows(tmp_path / "local" / "prepare_report_synth.csv")
    b = _rows(tmp_path / "ray" / "prepare_report_synth.csv")
    assert a == b
    assert [r["status"] for r in a] == ["built", "built"] and all(r["face_frames"] > 0 for r in a)
    for r in a:
        assert filecmp.cmp(tmp_path / "local" / "crops" / r["key"] / "crops.u8",
                           tmp_path / "ray" / "crops" / r["key"] / "crops.u8", shallow=False)

    # a corrupt video fails with its name; the others finish (here: straight from the cache)
    (suite / "broken.mp4").write_bytes(b"not a video")
    again = runner.invoke(app, ["prepare", "videos", str(suite), "--cache-dir", str(tmp_path / "ray"),
                                "--executor", "ray"])
    assert again.exit_code == 1, again.output
    assert "0 built, 2 already cached, 1 failed" in again.output
    assert "failed: broken.mp4: VideoError" in again.output


def check_loso_equals_local(tmp_path):
    data = f"composite-flow:{shared_path('realdata', 'htnet')}"
    common = ["loso", "--model", "ststnet", "--data", data, "--subjects", LOSO_SUBJECTS, "--epochs", "2",
              "--seed", "7"]
    runner = CliRunner()
    local = runner.invoke(app, common + ["--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    remote = runner.invoke(app, common + ["--out", str(tmp_path / "ray"), "--executor", "ray"])
    assert remote.exit_code == 0, remote.output
    a, b = tmp_path / "local", tmp_path / "ray"
    assert (a / "predictions.csv").read_bytes() == (b / "predictions.csv").read_bytes()
    assert len(pd.read_csv(a / "predictions.csv")) > 5
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for s in (sa, sb):
        for k in TIMING_KEYS:
            s.pop(k)
        s.pop("data")
    assert sa == sb and sa["folds"] == 2


def check_dead_worker_is_reported_not_raised():
    from microexp.experiments.executor import RayExecutor

    ex = RayExecutor(max_retries=0)
    res = ex.map(os._exit, [5], names=["killer"])
    assert not res[0].ok and res[0].name == "killer"
    assert "Worker" in res[0].error or "Died" in res[0].error


def test_ray_executor_matches_local(cluster, tmp_path):
    check_prepare_equals_local_and_names_a_corrupt_video(tmp_path / "prepare")
    check_loso_equals_local(tmp_path / "loso")
    check_dead_worker_is_reported_not_raised()
