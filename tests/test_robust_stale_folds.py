"""Resuming must never reuse a fold computed from other data: after the labels change, a rerun into the same
output folder either retrains the fold or refuses with a one-line error (exit 2). Reusing the old fold
silently gives a table that looks right and is wrong.

These two cases FAIL with the code as of this writing (recognition/loso.py fingerprints settings and the
sample count, not the data; spotting/train.py fingerprints the data set's *name*, not its labels); they are
reported to the lead, whose helpers own those files.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from robust_helpers import invoke
from test_robust_interrupt import htnet, spotter_args, suite  # noqa: F401  (module fixtures)

pytestmark = [pytest.mark.xdist_group("robust_interrupt"), pytest.mark.usefixtures("one_torch_thread")]


def _refused(res) -> bool:
    return res.exit_code == 2 and "Traceback" not in res.output


def test_loso_rerun_after_relabelling_is_not_silently_resumed(htnet, tmp_path):  # noqa: F811
    import shutil

    data = tmp_path / "htnet"
    shutil.copytree(htnet, data)
    out = tmp_path / "run"
    args = ["loso", "--model", "ststnet", "--data", f"composite-flow:{data}", "--out", out, "--epochs", "2",
            "--subjects", "casme2/sub01"]
    assert invoke(args).exit_code == 0
    fold = out / "folds" / "casme2__1.json"
    before = fold.read_text()
    csv = data / "combined_3_class2_for_optical_flow.csv"
    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    df["label"] = df["label"].map({"0": "2", "1": "0", "2": "1"})  # every label changes, the count does not
    df.to_csv(csv, index=False)
    res = invoke(args)
    if _refused(res):
        return
    assert res.exit_code == 0, res.output
    assert fold.read_text() != before, "fold trained on the old labels was reused after the labels changed"


def test_train_spotter_rerun_after_relabelling_is_not_silently_resumed(suite, tmp_path):  # noqa: F811
    import shutil

    data = tmp_path / "suite"
    shutil.copytree(suite, data)
    out, cache = tmp_path / "run", tmp_path / "cache"
    args = spotter_args(data, out, cache)
    args[args.index("--data") + 1] = f"synth:{data}"
    assert invoke(args).exit_code == 0
    marker = out / "folds" / "p0.json"
    before = json.loads(marker.read_text())
    idx = pd.read_csv(data / "index.csv")
    idx["onset"] += 20
    idx["apex"] += 20
    idx["offset"] += 20  # the expressions are annotated elsewhere now
    idx.to_csv(data / "index.csv", index=False)
    res = invoke(args)
    if _refused(res):
        return
    assert res.exit_code == 0, res.output
    assert json.loads(marker.read_text()) != before, "fold trained on the old labels was reused"
