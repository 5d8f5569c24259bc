"""`train spotter --data DATASET:ROOT` on fake CAS(ME)^2 and CAS(ME)^3 layouts (SAMM-LV: test_spotting_learned_loso).

A user with the licensed data gets the papers' protocol from the dataset's own folder tree: videos, subjects and
0-based typed ground truth come from the dataset registry, and a tree without frames is a one-line error.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from microexp.errors import InputError
from microexp.spotting.train import load_spot_data


def _frames(folder: Path, numbers, pattern="img{}.jpg"):
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (folder / pattern.format(n)).write_bytes(b"")


def _casme_sq_sheet(root: Path, rows) -> None:
    path = root / "CAS(ME)^2code_final.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path) as w:
        pd.DataFrame(rows).to_excel(w, sheet_name="CASFEcode_final", header=False, index=False)
        pd.DataFrame([[15, "s15", 1], [19, "s19", 2]]).to_excel(w, sheet_name="naming rule1", header=False,
                                                                index=False)
        pd.DataFrame([["0401", "anger1"], ["0502", "happy1"]]).to_excel(w, sheet_name="naming rule2", header=False,
                                                                        index=False)


def test_casme_sq_layout_gives_loso_data(tmp_path):
    root = tmp_path / "CASME^2"
    _casme_sq_sheet(root, [[1, "anger1_1", 3, 4, 6, "4", "negative", "macro-expression", "anger"],
                           [1, "anger1_2", 8, 9, 10, "12", "positive", "micro-expression", "anger"],
                           [2, "happy1_1", 2, 3, 4, "12", "positive", "micro-expression", "happiness"]])
    _frames(root / "rawpic" / "s15" / "15_0401girlcrashing", range(1, 12))
    _frames(root / "rawpic" / "s19" / "23_0502funnyerrors", range(1, 12))  # the real tree's folder quirk
    data = load_spot_data(f"casme_sq:{root}")
    assert [(v.video, v.subject, v.fps) for v in data.videos] == [("s15_0401", "s15", 30.0), ("s19_0502", "s19", 30.0)]
    assert all(Path(v.source).is_dir() for v in data.videos)
    assert data.gt[["video", "onset", "offset", "type"]].values.tolist() == [
        ["s15_0401", 2, 5, "mae"], ["s15_0401", 7, 9, "me"], ["s19_0502", 1, 3, "me"]]  # sheet frame 1 -> 0


def test_casme3_layout_gives_loso_data(tmp_path):
    root = tmp_path / "CASME3"
    header = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class"]
    rows = [["spNO.1", "a", "3", "4", "5", "4", "Micro-expression", "II"],
            ["spNO.1", "a", "6", "8", "9", "12", "Macro-expression", "I"],
            ["spNO.2", "b", "2", "3", "4", "4", "Micro-expression", "II"]]
    root.mkdir()
    pd.DataFrame(rows, columns=header).to_excel(root / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", index=False)
    for subj, clip in (("spNO.1", "a"), ("spNO.2", "b")):
        _frames(root / "part_A" / "RGB" / subj / clip / "color", range(1, 11), "{}.jpg")
    data = load_spot_data(f"casme3:{root}")
    assert [v.video for v in data.videos] == ["spNO.1_a", "spNO.2_b"]
    assert len({v.subject for v in data.videos}) == 2  # two subjects: two LOSO folds
    got = data.gt.sort_values(["video", "onset"])[["video", "onset", "offset", "type"]].values.tolist()
    assert got == [["spNO.1_a", 2, 4, "me"], ["spNO.1_a", 5, 8, "mae"], ["spNO.2_b", 1, 3, "me"]]


def test_dataset_tree_without_frames_is_one_line_error(tmp_path):
    root = tmp_path / "CASME^2"
    _casme_sq_sheet(root, [[1, "anger1_1", 3, 4, 6, "4", "negative", "macro-expression", "anger"]])
    with pytest.raises(InputError) as err:
        load_spot_data(f"casme_sq:{root}")
    assert "\n" not in str(err.value) and str(root) in str(err.value)
