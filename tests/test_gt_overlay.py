"""`spot|analyze VIDEO --gt GT.csv`: ground truth beside the detections, marked as the MEGC scorer matches them."""

import json
from dataclasses import replace

import pandas as pd
import pytest
from typer.testing import CliRunner

from microexp.cli.main import app
from microexp.errors import AnnotationError, InputError
from microexp.records import Expression, Interval
from microexp.report.truth import FALSE_ALARM, HIT, MISS, compare_truth, read_truth

from conftest import shared_path

runner = CliRunner()

# Detections: one ME (frames 10-20) and one MaE (40-60).
DETECTED = [Interval(10, 14, 20, "me", 2.0), Interval(40, 45, 60, "mae", 1.5)]
# Truth for "clip": an ME the first detection finds (IoU 9/11), an MaE the second overlaps with IoU 10/21 < 0.5
# (a near miss, so the second detection is a false alarm), and an ME nothing finds. "other" must be ignored.
SYNTH_LABELS = """video,onset,apex,offset,type,emotion,au
clip,11,15,19,me,negative,4
other,10,15,20,me,negative,4
clip,41,45,50,mae,positive,12
clip,30,32,34,me,surprise,1+2
"""


def _gt(tmp_path, text=SYNTH_LABELS, name="gt.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _check_marks(cmp):
    assert [m.status for m in cmp.truth] == [HIT, MISS, MISS]
    assert [m.status for m in cmp.detections] == [HIT, FALSE_ALARM]
    assert cmp.truth[0].iou == pytest.approx(9 / 11) and cmp.truth[0].match == 0
    assert cmp.truth[1].iou == pytest.approx(10 / 21) and cmp.truth[1].match == 1  # below 0.5: a miss
    assert cmp.truth[2].iou == 0.0  # an ME detection exists, but does not touch it
    assert cmp.counts() == {"hits": 1, "misses": 2, "false_alarms": 1}
    t = cmp.report.table
    assert t.loc["me", ["n_pred", "tp", "fp", "fn"]].tolist() == [1, 1, 0, 1]
    assert t.loc["mae", ["n_pred", "tp", "fp", "fn"]].tolist() == [1, 0, 1, 1]
    assert t.loc["overall", ["n_pred", "tp", "fp", "fn", "n_gt"]].tolist() == [2, 1, 1, 2, 3]
    assert t.loc["overall", "f1"] == pytest.approx(0.4)


def test_known_hit_miss_and_false_alarm(tmp_path):
    cmp = compare_truth(read_truth(_gt(tmp_path), ["clip", "clip.mp4"]), DETECTED, "clip")
    _check_marks(cmp)
    d = cmp.to_dict()
    assert [m["status"] for m in d["truth"]] == ["hit", "miss", "miss"]
    assert d["table"]["overall"]["tp"] == 1 and d["scorer"] == "megc2020"


def test_type_must_match():
    """A MaE detection over an ME label is not a hit (the scorer matches per type)."""
    gt = pd.DataFrame({"video": ["v"], "onset": [10], "offset": [20], "type": ["me"]})
    cmp = compare_truth(gt, [Interval(10, 15, 20, "mae")], "v")
    assert cmp.truth[0].status == MISS and cmp.truth[0].iou is None
    assert cmp.detections[0].status == FALSE_ALARM


def test_megc_csv_and_frame_base(tmp_path):
    megc = _gt(tmp_path, "vid,pred_onset,pred_offset,type\nclip,11,19,micro-expression\nclip,41,50,macro\n"
                         "clip,30,34,me\nx,1,2,me\n")
    _check_marks(compare_truth(read_truth(megc, ["clip"]), DETECTED, "clip"))
    one_based = _gt(tmp_path, "video,onset,offset,type\nCLIP.mp4,12,20,me\n", "b1.csv")
    rows = read_truth(one_based, ["clip", "clip.mp4"], frame_base=1)  # file name, any case, matches
    assert rows[["onset", "offset"]].values.tolist() == [[11, 19]]


@pytest.mark.parametrize("text,needle", [
    ("video,onset,offset,type\nother,1,5,me\n", "no ground-truth row for video 'clip'"),
    ("video,start,end,type\nclip,1,5,me\n", "missing column(s) 'onset', 'offset'"),
    ("video,onset,offset,type\nclip,a,5,me\n", "row 2: onset 'a' is not a whole frame number"),
    ("video,onset,offset,type\nclip,1,5,smile\n", "type 'smile' is not me/mae"),
    ("video;onset;offset;type\nclip;1;5;me\n", "separated by semicolons"),
    ("", "empty file"),
])
def test_bad_gt_one_line_errors(tmp_path, text, needle):
    p = _gt(tmp_path, text)
    with pytest.raises(AnnotationError) as err:
        read_truth(p, ["clip"])
    assert needle in str(err.value) and str(p) in str(err.value) and "\n" not in str(err.value)
    # the CLI refuses it before any video is decoded (the "video" here is not even a video)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not a video")
    for cmd in ("spot", "analyze"):
        res = runner.invoke(app, [cmd, str(video), "--gt", str(p), "-o", str(tmp_path / cmd)])
        assert res.exit_code == 2, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], res.output
    with pytest.raises(InputError, match="no such ground-truth file"):
        read_truth(tmp_path / "missing.csv", ["clip"])


# ---- the CLI on a real clip, with the detections replaced by known ones -----------------------------------

@pytest.fixture(scope="module")
def single():
    from microexp.pipeline import analyze

    video = shared_path("video", "single_face.mp4")  # 72 frames
    return video, analyze(video)


def _gt_for(tmp_path, stem):
    return _gt(tmp_path, SYNTH_LABELS.replace("clip,", f"{stem},"))


def test_spot_cli_draws_and_prints_truth(single, tmp_path, monkeypatch):
    import microexp.spotting.api as api

    video, res = single
    monkeypatch.setattr(api, "spot_video", lambda *a, **k: replace(res.spot, intervals=list(DETECTED)))
    out = tmp_path / "out"
    r = runner.invoke(app, ["spot", str(video), "--gt", str(_gt_for(tmp_path, video.stem)), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "1 found, 2 missed, 1 false alarm " in r.output
    rows = {ln.split()[0]: ln.split()[1:] for ln in r.output.splitlines() if ln.split()[:1] in
            (["me"], ["mae"], ["overall"])}
    assert rows["me"][:5] == ["1", "1", "0", "1", "2"]  # n_pred tp fp fn n_gt
    assert rows["overall"][:5] == ["2", "1", "1", "2", "3"] and rows["overall"][-1] == "0.4000"
    assert (out / "spot.png").read_bytes()[:4] == b"\x89PNG"
    assert len(pd.read_csv(out / "intervals.csv")) == 2


def test_analyze_cli_report_and_json_carry_marks(single, tmp_path, monkeypatch):
    import microexp.pipeline as pipeline

    video, res = single
    fake = replace(res, spot=replace(res.spot, intervals=list(DETECTED)),
                   expressions=[Expression(iv, "negative", {"negative": 0.7, "positive": 0.3}) for iv in DETECTED],
                   thumbnails=[None, None])
    monkeypatch.setattr(pipeline, "analyze", lambda *a, **k: fake)
    out = tmp_path / "out"
    r = runner.invoke(app, ["analyze", str(video), "--gt", str(_gt_for(tmp_path, video.stem)), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "1 found, 2 missed, 1 false alarm " in r.output
    g = json.loads((out / "result.json").read_text())["ground_truth"]
    assert [m["status"] for m in g["truth"]] == ["hit", "miss", "miss"]
    assert [m["status"] for m in g["detections"]] == ["hit", "false alarm"]
    assert g["table"]["mae"]["fp"] == 1
    html = (out / "report.html").read_text()
    assert "Against the ground truth" in html and html.count(">false alarm</span>") == 2  # legend + table
    assert html.count(">miss</span>") == 3  # legend + two missed labels
    assert "IoU 0.48, below 0.5" in html  # the near miss says how near


def test_analyze_without_gt_has_no_truth_section(single, tmp_path, monkeypatch):
    import microexp.pipeline as pipeline

    video, res = single
    monkeypatch.setattr(pipeline, "analyze", lambda *a, **k: res)
    out = tmp_path / "out"
    r = runner.invoke(app, ["analyze", str(video), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "ground_truth" not in json.loads((out / "result.json").read_text())
    assert "Against the ground truth" not in (out / "report.html").read_text()


def test_demo_marks_its_own_labels(single, tmp_path, monkeypatch):
    """`demo` scores against the clip's labels: detections equal to the labels are all hits, none missed."""
    import microexp.pipeline as pipeline
    from microexp.synth.generate import labels_path

    _, res = single

    def fake(video, **_):
        labels = pd.read_csv(labels_path(video))
        ivs = [Interval(int(r.onset), int(r.apex), int(r.offset), r.type) for r in labels.itertuples()]
        return replace(res, spot=replace(res.spot, intervals=ivs), thumbnails=[None] * len(ivs),
                       expressions=[Expression(iv, "negative", {"negative": 1.0}) for iv in ivs])

    monkeypatch.setattr(pipeline, "analyze", fake)
    out = tmp_path / "demo"
    r = runner.invoke(app, ["demo", "--seconds", "2", "-o", str(out)])
    assert r.exit_code == 0, r.output
    g = json.loads((out / "result.json").read_text())["ground_truth"]
    n = len(pd.read_csv(out / "demo_clip.csv"))
    assert n >= 1 and [m["status"] for m in g["truth"]] == ["hit"] * n
    assert f"{n} found, 0 missed, 0 false alarms" in r.output
    assert "Against the ground truth" in (out / "report.html").read_text()


def test_demo_names_each_miss_with_its_amplitude(single, tmp_path, monkeypatch):
    """A bare "3 missed" says nothing about why: each miss is listed with its peak motion (% IOD) as the
    generator recorded it."""
    import microexp.pipeline as pipeline

    _, res = single
    monkeypatch.setattr(pipeline, "analyze", lambda video, **_: replace(
        res, spot=replace(res.spot, intervals=[]), thumbnails=[], expressions=[]))
    out = tmp_path / "demo"
    r = runner.invoke(app, ["demo", "--seconds", "4", "-o", str(out)])
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "demo_clip.json").read_text())
    labelled = [e for e in meta["events"] if e["kind"] in ("me", "mae")]  # blinks etc. are not labels
    assert labelled
    line = " ".join(ln for ln in r.output.splitlines() if "peak motion" in ln)
    for e in labelled:
        pct = 100 * e["amplitude_px"] / meta["iod_px"]
        assert f"{e['kind']} {e['onset']}-{e['offset']}: {pct:.1f} %" in line, line


def test_demo_passes_its_preset_and_rejects_an_unknown_one(single, tmp_path, monkeypatch):
    import microexp.pipeline as pipeline

    _, res = single
    seen = []
    monkeypatch.setattr(pipeline, "analyze", lambda video, **k: seen.append(k.get("preset")) or res)
    r = runner.invoke(app, ["demo", "--seconds", "2", "--preset", "me", "-o", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    assert seen == ["me"]
    r = runner.invoke(app, ["demo", "--seconds", "2", "--preset", "nope", "-o", str(tmp_path / "b")])
    assert r.exit_code != 0 and "unknown OF-FD preset" in r.output
    assert not (tmp_path / "b" / "demo_clip.mp4").exists()


def test_analyze_folder_pools_and_warns(single, tmp_path, monkeypatch):
    """A folder: each video with rows gets its truth, one without is drawn without (a warning), tables pooled."""
    import shutil

    import microexp.pipeline as pipeline

    video, res = single
    folder = tmp_path / "videos"
    folder.mkdir()
    for stem in ("a", "b", "c"):
        shutil.copy(video, folder / f"{stem}.mp4")
    fake = replace(res, spot=replace(res.spot, intervals=list(DETECTED)),
                   expressions=[Expression(iv, "negative", {"negative": 1.0}) for iv in DETECTED],
                   thumbnails=[None, None])
    monkeypatch.setattr(pipeline, "analyze", lambda *a, **k: fake)
    gt = _gt(tmp_path, SYNTH_LABELS + SYNTH_LABELS.split("\n", 1)[1].replace("clip,", "b.mp4,"))
    gt.write_text(gt.read_text().replace("clip,", "a,"))
    r = runner.invoke(app, ["analyze", str(folder), "--gt", str(gt), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "no ground-truth rows for 1 video(s), drawn without truth: c.mp4" in r.output
    pooled = r.output.split("(pooled):")[1]
    overall = next(ln.split() for ln in pooled.splitlines() if ln.startswith("overall"))
    assert overall[1:6] == ["4", "2", "2", "4", "6"]
    assert "ground_truth" in json.loads((tmp_path / "out" / "b" / "result.json").read_text())
    assert "ground_truth" not in json.loads((tmp_path / "out" / "c" / "result.json").read_text())
    none = _gt(tmp_path, "video,onset,offset,type\nzzz,1,5,me\n", "none.csv")
    r = runner.invoke(app, ["analyze", str(folder), "--gt", str(none), "-o", str(tmp_path / "out2")])
    assert r.exit_code == 2 and "no ground-truth row for any of the 3 videos" in r.output


def test_bad_gt_base_and_gt_as_output(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not a video")
    gt = _gt(tmp_path)
    res = runner.invoke(app, ["spot", str(video), "--gt", str(gt), "--gt-base", "2", "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--gt-base must be 0 or 1" in res.output
    assert len(res.output.strip().splitlines()) == 1
    (tmp_path / "o").mkdir()
    inside = _gt(tmp_path / "o", name="intervals.csv")  # a GT where the results go would be overwritten
    res = runner.invoke(app, ["spot", str(video), "--gt", str(inside), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "overwrite the input" in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1
