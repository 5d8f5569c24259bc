"""Real check: the authors' 68 STSTNet weights, run by our model on the HTNet flow images, reproduce their log."""

from __future__ import annotations

import pytest

from microexp.errors import InputError
from microexp.recognition.data import load_composite
from microexp.recognition.published import read_python_log, rerun_published

from conftest import shared_path

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def flows():
    return load_composite(shared_path("realdata", "htnet"))


def test_published_weights_reproduce_all_442_predictions(flows):
    ststnet = shared_path("realdata", "christy1206__STSTNet")
    r = rerun_published(flows, ststnet)
    assert r["samples"] == 442 and r["subjects"] == 68
    assert r["gt_match"] == 442  # same samples in the same order as the authors' run
    assert r["pred_match"] == 442
    assert round(r["uf1"], 4) == 0.7209 and round(r["uar"], 4) == 0.7250


def test_log_reader(tmp_path):
    p = tmp_path / "log.txt"
    p.write_text("Subject: 006 \nPredicted   : [0, 1] \nGround Truth: [0, 2] \nUF1: 0.5 | UAR: nan \n")
    assert read_python_log(p) == [("006", [0, 1], [0, 2])]
    with pytest.raises(InputError):
        read_python_log(tmp_path / "none.txt")
