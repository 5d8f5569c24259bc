"""The experiment layer: folds depend only on (seed, subject), fingerprints cover the subject list, the fold
store refuses a run with another fingerprint, run_experiment resumes and keys results by fold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microexp.errors import ConfigError, InputError
from microexp.experiments import (
    FoldStore,
    content_digest,
    fingerprint,
    fold_seed,
    loso_splits,
    run_experiment,
    safe_name,
    validation_subjects,
)


def _index(n_subjects: int = 10) -> pd.DataFrame:
    return pd.DataFrame({"subject": np.repeat([f"sub{i:02d}" for i in range(1, n_subjects + 1)], 2),
                         "dataset": "casme2"})


def test_validation_subjects_do_not_depend_on_requested_subjects_or_their_order():
    df = _index()
    every = {f.test_subject: f.val_subjects for f in loso_splits(df, n_val_subjects=3, seed=5)}
    some = loso_splits(df, n_val_subjects=3, seed=5, subjects=["sub07", "sub02"])
    other_order = loso_splits(df, n_val_subjects=3, seed=5, subjects=["sub02", "sub07"])
    assert {f.test_subject: f.val_subjects for f in some} == {
        f.test_subject: f.val_subjects for f in other_order} == {k: every[k] for k in ("casme2/7", "casme2/2")}
    # and only on (seed, subject): a different seed draws differently for at least one fold
    reseeded = {f.test_subject: f.val_subjects for f in loso_splits(df, n_val_subjects=3, seed=6)}
    assert reseeded != every
    assert all(k not in v for k, v in every.items())


def test_validation_subjects_function_is_pure():
    subs = [f"casme2/{i}" for i in range(1, 11)]
    a = validation_subjects("casme2/4", subs, 3, seed=1)
    assert a == validation_subjects("casme2/4", list(reversed(subs)), 3, seed=1)
    assert len(set(a)) == 3 and "casme2/4" not in a
    with pytest.raises(ConfigError):
        validation_subjects("casme2/4", subs, 9, seed=1)


def test_fold_seed_and_safe_name():
    assert fold_seed(3, "casme2/1") == fold_seed(3, "casme2/1") != fold_seed(3, "casme2/2")
    assert fold_seed(3, "casme2/1") != fold_seed(4, "casme2/1")
    assert safe_name("casme2/6") == "casme2__6" and safe_name("../x y") == "__x_y"


def test_fingerprint_covers_settings_content_and_subject_list():
    base = fingerprint(settings={"a": 1}, content="c", subjects=["x/1", "x/2"])
    assert base == fingerprint(settings={"a": 1}, content="c", subjects=["x/2", "x/1"])
    assert base != fingerprint(settings={"a": 2}, content="c", subjects=["x/1", "x/2"])
    assert base != fingerprint(settings={"a": 1}, content="d", subjects=["x/1", "x/2"])
    assert base != fingerprint(settings={"a": 1}, content="c", subjects=["x/1", "x/2", "x/3"])
    t = pd.DataFrame({"label": [0, 1], "subject": ["1", "2"]})
    x = np.zeros((2, 3), np.float32)
    d = content_digest([x], t)
    assert d != content_digest([x], t.assign(label=[1, 0]))  # relabelled, same count
    assert d != content_digest([x + 1], t)
    assert d != content_digest([x.astype(np.float64)], t)


def test_store_refuses_another_fingerprint_and_foreign_fold_files(tmp_path):
    s = FoldStore(tmp_path, "aaa", meta={"note": "first"})
    s.save("casme2/1", {"v": 1})
    assert FoldStore(tmp_path, "aaa").load("casme2/1") == {"v": 1}
    assert (tmp_path / "folds" / "casme2__1.json").is_file()
    with pytest.raises(ConfigError, match="different settings or data"):
        FoldStore(tmp_path, "bbb")
    # a fold file copied in from another run is refused, not reused
    other = FoldStore(tmp_path / "o", "ccc")
    other.save("casme2/2", {"v": 2})
    (tmp_path / "folds" / "casme2__2.json").write_text((tmp_path / "o" / "folds" / "casme2__2.json").read_text())
    with pytest.raises(ConfigError, match="another run"):
        s.load("casme2/2")
    (tmp_path / "folds" / "casme2__2.json").write_text("{half")
    with pytest.raises(InputError, match="unreadable"):
        s.load("casme2/2")
    # folds without run.json: refuse rather than guess
    (tmp_path / "bare" / "folds").mkdir(parents=True)
    (tmp_path / "bare" / "folds" / "x.json").write_text("{}")
    with pytest.raises(ConfigError, match="without run.json"):
        FoldStore(tmp_path / "bare", "aaa")
    assert json.loads((tmp_path / "run.json").read_text()) == {"fingerprint": "aaa", "note": "first"}


def double(task: dict) -> dict:
    return {"key": task["name"], "twice": 2 * task["x"]}


def test_run_experiment_resumes_and_keys_by_fold(tmp_path):
    folds = [{"name": f"s{i}", "x": i} for i in range(4)]
    built = []

    def make_task(f):
        built.append(f["name"])
        return f

    store = FoldStore(tmp_path, "fp")
    r1 = run_experiment(folds[:2], double, store, make_task=make_task)
    assert r1.ran == ["s0", "s1"] and r1.reused == []
    ticks = []
    r2 = run_experiment(folds, double, FoldStore(tmp_path, "fp"), make_task=make_task,
                        progress=lambda d, n: ticks.append((d, n)))
    assert r2.reused == ["s0", "s1"] and r2.ran == ["s2", "s3"]
    assert built == ["s0", "s1", "s2", "s3"]  # finished folds are never rebuilt
    assert ticks[0] == (2, 4) and ticks[-1] == (4, 4)
    assert {k: v["twice"] for k, v in r2.results.items()} == {"s0": 0, "s1": 2, "s2": 4, "s3": 6}
    with pytest.raises(Exception, match="share one key"):
        run_experiment([folds[0], folds[0]], double, FoldStore(tmp_path / "d", "fp"))


def test_parse_data_spec_is_the_one_reader_of_data_options():
    from microexp.datasets.registry import parse_data_spec

    assert parse_data_spec("composite-flow:/d/htnet") == ("composite-flow", Path("/d/htnet"))
    assert parse_data_spec("CASME_SQ:/x", kinds=("casme_sq",)) == ("casme_sq", Path("/x"))
    assert parse_data_spec("/suite", default="synth") == ("synth", Path("/suite"))
    for bad in ("/suite", "x:", ":/d"):
        with pytest.raises(ConfigError):
            parse_data_spec(bad)
    with pytest.raises(ConfigError, match="supported: composite-flow"):
        parse_data_spec("samm:/d", kinds=("composite-flow",))


def test_one_definition_of_shared_helpers():
    """One owner per helper: the copies removed in this package must stay removed."""
    import microexp.datasets.common as common
    import microexp.datasets.frames as frames
    import microexp.eval.protocol as protocol
    import microexp.io.frames as io_frames
    import microexp.prepare as prepare
    import microexp.recognition.loso as rloso
    from microexp.datasets import smic
    from microexp.datasets.composite import COMPOSITE_CLASSES
    from microexp.datasets.composite_flow import COMPOSITE_CLASSES as flow_classes

    assert frames.VIDEO_SUFFIXES is io_frames.VIDEO_SUFFIXES and frames.list_frames is io_frames.list_frames
    assert not hasattr(common, "natural_key") and not hasattr(common, "list_frames")
    assert not hasattr(protocol, "loso_splits") and not hasattr(rloso, "_fingerprint") and not hasattr(rloso, "_safe")
    assert not hasattr(prepare, "list_videos") and not hasattr(prepare, "report_dict")
    assert not hasattr(smic, "CLASSES") and flow_classes is COMPOSITE_CLASSES and rloso.CLASSES is COMPOSITE_CLASSES
    assert io_frames.natural_key("img2") < io_frames.natural_key("img10") < io_frames.natural_key("IMG11")
