"""Composite (MEGC2019 CDE) flow and apex loaders: real HTNet files plus fake trees built here."""

from __future__ import annotations

import numpy as np
import pytest

from microexp.datasets.common import norm_subject
from microexp.datasets.composite_flow import (
    COMPOSITE_LABELS,
    load_composite_apex,
    load_composite_flow,
    read_composite_list,
)
from microexp.errors import AnnotationError, InputError

from conftest import shared_path


def test_official_label_mapping():
    assert COMPOSITE_LABELS == {"negative": 0, "positive": 1, "surprise": 2}


def test_real_composite_flow_counts():
    root = shared_path("realdata", "htnet")
    X, index = load_composite_flow(root)
    assert X.shape == (442, 3, 28, 28) and X.dtype == np.float32
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert index["label"].value_counts().to_dict() == {0: 250, 1: 109, 2: 83}
    assert index["dataset"].value_counts().to_dict() == {"smic": 164, "casme2": 145, "samm": 133}
    assert index["subject_key"].nunique() == 68
    assert set(index["subject"][index["dataset"] == "casme2"]) >= {"01", "26"}
    assert "sub01_EP02_01f" in set(index["sample"])
    # u, v are signed flow scaled around 0.5; strain is a magnitude skewed to 0: channel order is (u, v, strain)
    means = X.mean(axis=(0, 2, 3))
    assert abs(means[0] - 0.5) < 0.1 and abs(means[1] - 0.5) < 0.1 and means[2] < 0.25
    assert all(p.endswith(" .png") for p in index["path"])


def test_real_composite_matches_official_gt():
    gt_path = shared_path("annotations", "megc2019_composite", "combined_3class_gt.csv")
    _, index = load_composite_flow(shared_path("realdata", "htnet"))
    lines = [ln.split(",") for ln in gt_path.read_text().split()]
    # the official file writes SAMM subjects unpadded ('6'), HTNet padded ('006'): compare normalised ids
    official = {(d, norm_subject(d, s), c): int(lab) for d, s, c, lab in lines}
    ours = {(d, s, c): lab for d, s, c, lab in zip(index["dataset"], index["subject"], index["clip"], index["label"],
                                                    strict=True)}
    assert len(official) == 442 and ours == official


def test_real_apex_crops():
    X, index = load_composite_apex(shared_path("realdata", "htnet"), size=32)
    assert X.shape == (442, 32, 32, 3) and X.dtype == np.uint8
    assert (index["dataset"] == "smic").sum() == 164


def _fake_tree(tmp_path, names=("sub01_EP02_01f", "006_006_1_2"), space=True):
    import cv2

    root = tmp_path / "htnet"
    (root / "datasets" / "STSNet_whole_norm_u_v_os").mkdir(parents=True)
    (root / "datasets" / "combined_datasets_whole").mkdir(parents=True)
    rows = ["dataset,sub,filename_o,label,apex,imagename,sub_filename"]
    rng = np.random.default_rng(0)
    for k, name in enumerate(names):
        sub, clip = name.split("_", 1)
        ds = "casme2" if sub.startswith("sub") else "samm"
        rows.append(f"{ds},{sub},{clip},{k % 3},,{name}.jpg,")
        img = np.zeros((28, 28, 3), np.uint8)
        img[..., 2] = 200 + k  # R channel in RGB = u
        img[..., 0] = 10  # B = strain
        fname = f"{name} .png" if space else f"{name}.png"
        cv2.imwrite(str(root / "datasets" / "STSNet_whole_norm_u_v_os" / fname), img)
        cv2.imwrite(str(root / "datasets" / "combined_datasets_whole" / f"{name}.jpg"),
                    rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    (root / "combined_3_class2_for_optical_flow.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("space", [True, False])
def test_fake_tree_channels_and_names(tmp_path, space):
    root = _fake_tree(tmp_path, space=space)
    X, index = load_composite_flow(root / "datasets" / "STSNet_whole_norm_u_v_os")  # sub-folder accepted
    assert list(index["subject"]) == ["01", "006"]
    assert list(index["label"]) == [0, 1]
    assert np.allclose(X[:, 0, 0, 0], [200 / 255, 201 / 255])  # u from the red channel
    assert np.allclose(X[:, 2], 10 / 255)
    A, _ = load_composite_apex(root)
    assert A.shape == (2, 40, 40, 3)


def test_missing_image_is_typed(tmp_path):
    root = _fake_tree(tmp_path)
    next((root / "datasets" / "STSNet_whole_norm_u_v_os").iterdir()).unlink()
    with pytest.raises(InputError, match="flow image missing"):
        load_composite_flow(root)


def test_not_a_layout(tmp_path):
    with pytest.raises(InputError, match="HTNet-layout"):
        load_composite_flow(tmp_path)


@pytest.mark.parametrize("text, match", [
    ("", "empty"),
    ("dataset,sub,label\ncasme2,sub01,1\n", "filename_o"),
    ("dataset,sub,filename_o,label\ncasme2,sub01,EP02_01f,pos\n", "'label' row 2"),
    ("dataset,sub,filename_o,label\nfoo,sub01,EP02_01f,1\n", "unknown dataset"),
    ("dataset,sub,filename_o,label\ncasme2,sub01,EP,1\ncasme2,sub01,EP,0\n", "duplicated"),
])
def test_malformed_list(tmp_path, text, match):
    p = tmp_path / "list.csv"
    p.write_text(text)
    with pytest.raises(AnnotationError, match=match) as info:
        read_composite_list(p)
    assert "list.csv" in str(info.value) and "\n" not in str(info.value)


def test_load_composite_in_htnet_folder_adds_image_paths():
    from microexp.datasets import load

    df = load("composite", shared_path("realdata", "htnet"))
    assert len(df) == 442 and (df["flow_path"] != "").all() and (df["apex_path"] != "").all()
    assert df["apex_path"][df["dataset"] == "smic"].iloc[0].endswith("s01_s1_ne_01.jpg")
