"""Interrupted work: `prepare`, `loso` and `train spotter` are stopped mid-run by a signal, rerun, and must
finish with results identical to an uninterrupted run; nothing half-written is ever taken as finished.

Each command runs in a subprocess (a real signal, a real process exit); the reference run is in-process.
The data is tiny and made here (scikit-image's astronaut, a fake HTNet flow layout); nothing from ../shared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from fake_htnet import noisy_cue, write_htnet
from robust_helpers import Case, canvas, face_image, invoke, paste, write_clip

pytestmark = [pytest.mark.xdist_group("robust_interrupt"), pytest.mark.usefixtures("one_torch_thread")]

REPO = Path(__file__).resolve().parents[1]
# SIGINT may be ignored in a background job's children; restore Python's Ctrl-C handler first
LAUNCH = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
          "sys.argv[0] = 'microexp'; from microexp.cli.main import app; app()")


# ---- the cases (rendered into docs/robustness.md) ------------------------------------------------------------------

INTERRUPT_CASES = [
    Case("prepare-SIGTERM", "`microexp prepare videos DIR --cache C` stopped by SIGTERM after the first video",
         "Exit 143 with `interrupted; finished work is kept and a rerun resumes`; the entry being built is "
         "removed (no temp folder left), finished entries keep their `COMPLETE` marker; the rerun reports them "
         "`cached`, builds the rest, and every entry is byte-identical to an uninterrupted run's."),
    Case("prepare-SIGKILL", "the same, killed with SIGKILL while the second entry is being written",
         "No cleanup can run: the half-built entry stays as a hidden temp folder, never under its key, so it is "
         "never read; the rerun builds that video again and the cache matches an uninterrupted run's."),
    Case("loso-SIGINT", "`microexp loso` (4 folds) interrupted with Ctrl-C after the first fold",
         "Exit 130; finished folds stay (`folds/<subject>.json`, written atomically: the file is the marker), "
         "no `predictions.csv`/`summary.json` yet; the rerun skips finished folds (not retrained) and "
         "`predictions.csv`, every fold's predictions and final loss match an uninterrupted run exactly."),
    Case("train-spotter-SIGTERM", "`microexp train spotter` (3 folds) stopped by SIGTERM after the first fold",
         "Exit 143; a fold counts as finished only when its `folds/<subject>.json` file exists (written after "
         "its weights); the rerun trains the missing folds, and weights (bit for bit), fold predictions "
         "and the MEGC tables equal an uninterrupted run's."),
]


def start(args: list, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", LAUNCH, *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt_when(proc: subprocess.Popen, ready, sig: int, timeout: float = 240.0) -> tuple[int, str]:
    """Send ``sig`` as soon as ``ready()`` is true; returns (exit code, stderr)."""
    t0 = time.monotonic()
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"finished (exit {proc.returncode}) before it could be interrupted:\n{out}\n{err}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise AssertionError("timed out waiting for the first finished unit of work")
        time.sleep(0.02)
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()
        raise
    return proc.returncode, err


def finish(args: list, cwd: Path) -> str:
    proc = start(args, cwd)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"rerun failed (exit {proc.returncode}):\n{out}\n{err}"
    return out


EXPECTED_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -9}


def check_stopped(code: int, err: str, sig: int) -> None:
    assert code == EXPECTED_EXIT[sig], f"exit {code}:\n{err}"
    assert "Traceback" not in err
    if sig != signal.SIGKILL:
        assert "interrupted; finished work is kept and a rerun resumes" in err


def temp_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*")]


def finished(folds: Path) -> list[Path]:
    """Finished fold files; pathlib's glob also matches the hidden temp file of a fold being written."""
    return sorted(p for p in folds.glob("*.json") if not p.name.startswith(".")) if folds.is_dir() else []


# ---- prepare: one cache entry per video ---------------------------------------------------------------------------

FACE = face_image()


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """Four clips; the first is short so it finishes early and the others are still running at the signal."""
    d = tmp_path_factory.mktemp("videos")
    for k, n in enumerate((6, 30, 30, 30)):
        write_clip(d / f"clip{k}.mp4", n, lambda i, k=k: paste(canvas(seed=(i + k) % 4), FACE, 20 + (i + k) % 3,
                                                                  0, 0.75))
    return d


def _entries(cache: Path) -> dict[str, Path]:
    crops = cache / "crops"
    return {p.name: p for p in crops.iterdir() if not p.name.startswith(".")} if crops.is_dir() else {}


def _complete(cache: Path) -> list[str]:
    return [k for k, p in _entries(cache).items() if (p / "COMPLETE").is_file()]


@pytest.fixture(scope="module")
def prepared_reference(videos, tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("ref_cache")
    res = invoke(["prepare", "videos", videos, "--cache-dir", cache])
    assert res.exit_code == 0, res.output
    return cache


@pytest.mark.parametrize("case", [c for c in INTERRUPT_CASES if c.id.startswith("prepare-")], ids=lambda c: c.id)
def test_prepare_interrupted_resumes_identically(case, videos, prepared_reference, tmp_path):
    sig = getattr(signal, case.id.split("-")[1])
    cache = tmp_path / "cache"
    args = ["prepare", "videos", videos, "--cache-dir", cache]
    # SIGKILL while the second entry is being built (its temp folder exists): no cleanup at all runs
    if sig == signal.SIGKILL:
        def ready():
            return len(_complete(cache)) >= 1 and any((cache / "crops").glob(".*"))
    else:
        def ready():
            return len(_complete(cache)) >= 1
    code, err = interrupt_when(start(args, REPO), ready, sig)
    check_stopped(code, err, sig)
    done = _complete(cache)
    assert 1 <= len(done) < 4, done
    assert set(_entries(cache)) == set(done), "an entry without its COMPLETE marker is in place"
    if sig == signal.SIGTERM:
        assert temp_leftovers(cache) == [], "the interrupted build left its temp folder"
    assert not (cache / "prepare_report_videos.csv").exists()

    finish(args, REPO)
    report = pd.read_csv(cache / "prepare_report_videos.csv")
    assert sorted(report["status"]) == sorted(["cached"] * len(done) + ["built"] * (4 - len(done)))
    ref = _entries(prepared_reference)
    got = _entries(cache)
    assert set(got) == set(ref) and len(got) == 4
    for key, entry in ref.items():
        assert (got[key] / "crops.u8").read_bytes() == (entry / "crops.u8").read_bytes(), key
        with np.load(entry / "meta.npz") as a, np.load(got[key] / "meta.npz") as b:
            for name in ("face", "index", "time", "transforms"):
                np.testing.assert_array_equal(a[name], b[name])


# ---- loso: one fold file per held-out subject ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def htnet(tmp_path_factory) -> Path:
    """A fake HTNet composite-flow folder: 3 datasets x 2 subjects x 6 noisy 28x28 flow images."""
    return write_htnet(tmp_path_factory.mktemp("htnet"), noisy_cue(), per_subject=6)


def loso_args(htnet: Path, out: Path) -> list:
    return ["loso", "--model", "ststnet", "--data", f"composite-flow:{htnet}", "--out", out, "--epochs", "25",
            "--seed", "3", "--subjects", "casme2/sub01,samm/006,smic/s01,casme2/sub02"]


def _fold(path: Path) -> dict:
    d = json.loads(path.read_text())["result"]  # the fold store's file: {fingerprint, key, result}
    return {k: v for k, v in d.items() if k not in ("seconds", "cpu_seconds")}


def test_loso_interrupted_resumes_identically(htnet, tmp_path):
    ref = tmp_path / "ref"
    res = invoke(loso_args(htnet, ref))
    assert res.exit_code == 0, res.output
    out = tmp_path / "run"
    folds = out / "folds"
    code, err = interrupt_when(start(loso_args(htnet, out), REPO),
                               lambda: bool(finished(folds)), signal.SIGINT)
    check_stopped(code, err, signal.SIGINT)
    kept = [p.name for p in finished(folds)]
    assert 1 <= len(kept) < 4 and temp_leftovers(out) == []
    assert not (out / "predictions.csv").exists() and not (out / "summary.json").exists()
    mtimes = {n: (folds / n).stat().st_mtime_ns for n in kept}

    finish(loso_args(htnet, out), REPO)
    assert {n: (folds / n).stat().st_mtime_ns for n in kept} == mtimes  # finished folds were not retrained
    assert [p.name for p in finished(folds)] == [p.name for p in finished(ref / "folds")]
    for p in finished(ref / "folds"):
        assert _fold(folds / p.name) == _fold(p), p.name  # same predictions and the same final loss, bit for bit
    assert (out / "predictions.csv").read_bytes() == (ref / "predictions.csv").read_bytes()
    a, b = (json.loads((d / "summary.json").read_text()) for d in (ref, out))
    assert a["metrics"] == b["metrics"] and a["samples"] == b["samples"] == 24


# ---- train spotter: per subject a fold file (info, predictions; the marker) and its weights ----------------------

@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    """A spotting suite of three 48-frame clips (three subjects); the face moves up for 8 frames in each."""
    d = tmp_path_factory.mktemp("suite")
    rows = []
    for k in range(3):
        def frame(i, k=k):
            dy = 3 if 12 + 4 * k <= i < 20 + 4 * k else 0
            return paste(canvas(seed=(i + k) % 3), FACE, 20 + k, 6 - dy, 0.75)

        write_clip(d / f"v{k}.mp4", 48, frame)
        rows.append((f"v{k}", f"p{k}", 12 + 4 * k, 16 + 4 * k, 19 + 4 * k, "me", "x", ""))
    pd.DataFrame(rows, columns=["video", "subject", "onset", "apex", "offset", "type", "emotion", "au"]
                 ).to_csv(d / "index.csv", index=False)
    return d


def spotter_args(suite: Path, out: Path, cache: Path) -> list:
    return ["train", "spotter", "--spotter", "refcnn3d", "--data", f"synth:{suite}", "--out", out, "--epochs", "2",
            "--size", "32", "--types", "me", "--seed", "1", "--cache-dir", cache]


def _weights(path: Path) -> dict:
    return torch.load(path, weights_only=False)["models"]["me"]["state_dict"]


def _info(path: Path) -> dict:
    info = json.loads(path.read_text())["result"]["info"]["kinds"]["me"]
    return {k: v for k, v in info.items() if k not in ("fit_s", "infer_s")}


def test_train_spotter_interrupted_resumes_identically(suite, tmp_path):
    cache = tmp_path / "cache"
    ref = tmp_path / "ref"
    res = invoke(spotter_args(suite, ref, cache))
    assert res.exit_code == 0, res.output
    out = tmp_path / "run"
    code, err = interrupt_when(start(spotter_args(suite, out, cache), REPO),
                               lambda: bool(finished(out / "folds")), signal.SIGTERM)
    check_stopped(code, err, signal.SIGTERM)
    done = [p.stem for p in finished(out / "folds")]
    assert 1 <= len(done) < 3 and temp_leftovers(out) == []
    for sub in done:  # the fold file is written last: a finished fold has its weights
        assert (out / "folds" / f"{sub}.weights.pt").is_file()
    assert not (out / "summary.json").exists()

    finish(spotter_args(suite, out, cache), REPO)
    for sub in ("p0", "p1", "p2"):
        a, b = ref / "folds", out / "folds"
        wa, wb = _weights(a / f"{sub}.weights.pt"), _weights(b / f"{sub}.weights.pt")
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), sub
        fa, fb = (json.loads((d / f"{sub}.json").read_text())["result"] for d in (a, b))
        assert fa["predictions"] == fb["predictions"], sub
        assert _info(a / f"{sub}.json") == _info(b / f"{sub}.json"), sub
    for name in ("predictions.csv", "megc_megc2020.csv", "megc_softnet.csv"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
