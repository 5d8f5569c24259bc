"""LBP-TOP / HOOF feature-set loaders: the real ACII19 zips and fake zips built here."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from scipy.io import savemat

from microexp.datasets import load_hoof, load_lbp_magnified, load_lbptop
from microexp.datasets.common import norm_subject
from microexp.errors import AnnotationError, InputError

from conftest import shared_path

ACII = "Trunpm__ACII19-Apex-Time-Network"


def test_real_lbptop_and_hoof_match_official_composite():
    X, index = load_lbptop(shared_path("realdata", ACII, "LBP-TOP", "Features.zip"))
    assert X.shape == (442, 177) and X.dtype == np.float32 and np.isfinite(X).all()
    assert index["label"].value_counts().to_dict() == {0: 250, 1: 109, 2: 83}
    assert index["subject_key"].nunique() == 68
    gt = shared_path("annotations", "megc2019_composite", "combined_3class_gt.csv").read_text().split()
    official = {(d, norm_subject(d, s), c): int(lab) for d, s, c, lab in (ln.split(",") for ln in gt)}
    ours = dict(zip(zip(index["dataset"], index["subject"], index["clip"], strict=True), index["label"], strict=True))
    assert ours == official
    H, hidx = load_hoof(shared_path("realdata", ACII, "HOOF", "Features.zip"), "HOOF_TIM64_8")
    assert H.shape == (442, 512) and list(hidx["clip"]) == list(index["clip"])


def _fake_zip(tmp_path, names, shape=(3, 59)):
    rng = np.random.default_rng(1)
    zpath = tmp_path / "LBP-TOP" / "Features.zip"
    zpath.parent.mkdir(parents=True)
    arrays = {}
    with zipfile.ZipFile(zpath, "w") as zf:
        for n in names:
            buf = io.BytesIO()
            arrays[n] = rng.random(shape)
            savemat(buf, {"Histogram": arrays[n]})
            zf.writestr(f"LBPTOP_TIM10_333_4/Features/{n}.mat", buf.getvalue())
    return zpath, arrays


def test_fake_zip_with_labels_keeps_label_order(tmp_path):
    zpath, arrays = _fake_zip(tmp_path, ["casme2-sub01-EP02_01f", "samm-6-006_1_2"])
    (tmp_path / "Data").mkdir()
    (tmp_path / "Data" / "Apex_Cropped_images.txt").write_text(
        "samm-6-006_1_2-006_05588.jpg 2\ncasme2-sub01-EP02_01f-img59.jpg 1\n")
    X, index = load_lbptop(zpath)
    assert list(index["subject_key"]) == ["samm/006", "casme2/01"] and list(index["label"]) == [2, 1]
    assert np.allclose(X[0], arrays["samm-6-006_1_2"].ravel()) and list(index["emotion"]) == ["surprise", "positive"]


def test_fake_zip_missing_features_and_bad_labels(tmp_path):
    zpath, _ = _fake_zip(tmp_path, ["casme2-sub01-EP02_01f"])
    lab = tmp_path / "labels.txt"
    lab.write_text("smic-s01-s01_ne_01-image1.jpg 0\n")
    with pytest.raises(InputError, match="have no LBPTOP_TIM10_333_4 features"):
        load_lbptop(zpath, labels=lab)
    lab.write_text("casme2-sub01-EP02_01f-img59.jpg happy\n")
    with pytest.raises(AnnotationError, match="line 1"):
        load_lbptop(zpath, labels=lab)
    with pytest.raises(InputError, match="no .mat features"):
        load_lbptop(zpath, "LBPTOP_TIM64_333_8")


def test_real_lbp_magnified():
    X, index = load_lbp_magnified(shared_path("realdata", "IcedDoggie__Micro-Expression-with-Deep-Learning",
                                              "LBP_Magnified"))
    assert X.shape == (247, 177) and index["subject"].nunique() == 26
