"""Long-video helpers: scorer ground truth, Interval records, and the video list of a fake tree."""

from __future__ import annotations

import pandas as pd
import pytest

from microexp.datasets import list_videos, read_annotations, spotting_gt, to_intervals
from microexp.errors import ConfigError

from conftest import shared_path


def test_spotting_gt_zero_based_real_samm_lv():
    df = read_annotations("samm_lv", shared_path("annotations", "samm_lv", "SAMM_LongVideos_V2_Release.xlsx"))
    gt = spotting_gt(df)
    assert len(gt) == 502 and "frame_base" not in gt.attrs
    ok = ~df["clipped"]
    assert ((gt["onset_annot"] - gt["onset"])[ok] == 1).all()  # SAMM-LV files start at frame 1
    assert (gt["onset"][~ok] == 0).all() and (gt["onset_annot"][~ok] == 0).all()
    iv = to_intervals(df)
    assert sum(len(v) for v in iv.values()) == 502 and len(iv) == 147
    assert all(i.onset <= i.apex <= i.offset for v in iv.values() for i in v)
    assert {i.kind for v in iv.values() for i in v} == {"me", "mae"}


def test_spotting_gt_needs_videos():
    df = read_annotations("casme2", shared_path("annotations", "casme2", "CASME2-coding-20190701.xlsx"))
    with pytest.raises(ConfigError):
        spotting_gt(df)


def _touch(folder, n):
    folder.mkdir(parents=True)
    for k in range(1, n + 1):
        (folder / f"img{k}.jpg").write_bytes(b"")


def test_list_videos_fake_trees(tmp_path):
    cas = tmp_path / "cas"
    _touch(cas / "rawpic" / "s15" / "15_0101disgustingteeth", 4)
    _touch(cas / "rawpic" / "s19" / "23_0502funnyerrors", 3)
    v = list_videos("casme_sq", cas)
    assert list(v["video"]) == ["s15_0101", "s19_0502"] and list(v["quirk"]) == [False, True]
    assert list(v["n_frames"]) == [4, 3] and list(v["first_frame"]) == [1, 1]
    samm = tmp_path / "samm"
    _touch(samm / "SAMM_longvideos" / "006_1", 5)
    _touch(samm / "SAMM_longvideos" / "007_3", 2)
    assert list(list_videos("samm_lv", samm)["video"]) == ["006_1", "007_3"]
    c3 = tmp_path / "c3"
    _touch(c3 / "RGB" / "spNO.1" / "a" / "color", 2)
    _touch(c3 / "RGB" / "spNO.12" / "b" / "color", 2)
    assert list(list_videos("casme3", c3)["video"]) == ["spNO.12_b", "spNO.1_a"]
    assert isinstance(list_videos("samm_lv", tmp_path / "cas"), pd.DataFrame)


@pytest.mark.parametrize("name, fname, published", [
    ("casme_sq", ("casme_sq", "code_final.xlsx"), (6558, 130, 357)),
    ("samm_lv", ("samm_lv", "SAMM_LongVideos_V2_Release.xlsx"), (1792, 51, 502)),
])
def test_xlsx_ground_truth_reproduces_megc2020_table(name, fname, published):
    """The loaders' GT, scored against the MDMD predictions, gives the published MEGC2020 counts."""
    from microexp.eval.megc_io import read_megc2020_predictions
    from microexp.eval.spotting import evaluate

    root = shared_path("realdata", "HeyingGithub__Baseline-project-for-MEGC2020_spotting", "MDMD_results")
    prefix, me_rng, mae_rng = {"casme_sq": ("ME2", (7, 16), (17, None)),
                               "samm_lv": ("SAMM_MEGC", (47, 105), (106, None))}[name]
    pred = pd.concat([read_megc2020_predictions(root / f"results_API/{prefix}_micro_txtClips/p1", "me", me_rng),
                      read_megc2020_predictions(root / f"results_API/{prefix}_macro_txtClips/p1", "mae", mae_rng)],
                     ignore_index=True)
    gt = spotting_gt(read_annotations(name, shared_path("annotations", *fname)))
    t = evaluate(gt, pred, "megc2020").table
    assert tuple(int(t.loc["overall", c]) for c in ("n_pred", "tp", "n_gt")) == published
