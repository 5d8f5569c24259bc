"""A weights file that cannot be read gets one line that says what is wrong with it, in words a person can act on
(torch's own text names miniz internals or a pickle opcode's byte as a ``KeyError``)."""

from __future__ import annotations

import pickle

import pytest
import torch

from microexp.errors import ModelError
from microexp.io.weights import load_torch_file


@pytest.fixture
def good(tmp_path):
    p = tmp_path / "ok.pt"
    torch.save({"w": torch.arange(4000, dtype=torch.float32)}, p)
    return p


def _refused(path, expected: str):
    with pytest.raises(ModelError) as info:
        load_torch_file(path, "spotter checkpoint")
    text = str(info.value)
    assert "\n" not in text and str(path.name) in text, text
    assert "cannot read spotter checkpoint: " + expected in text, text


def test_good_file_loads(good):
    assert torch.equal(load_torch_file(good)["w"], torch.arange(4000, dtype=torch.float32))


def test_truncated_copy(good, tmp_path):
    bad = tmp_path / "cut.pt"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _refused(bad, "truncated torch file")


def test_damaged_entry(good, tmp_path):
    raw = bytearray(good.read_bytes())
    raw[200:300] = bytes(100)  # inside the first entry's header: the archive is still a zip
    bad = tmp_path / "damaged.pt"
    bad.write_bytes(bytes(raw))
    _refused(bad, "damaged torch file")


@pytest.mark.parametrize("content, expected", [
    (b"", "the file is empty"),
    (b"hello world\n", "not a torch weights file"),  # torch says "KeyError: 101" here
    (bytes(range(7, 250)), "not a torch weights file"),
])
def test_not_weights(tmp_path, content, expected):
    bad = tmp_path / "model.pt"
    bad.write_bytes(content)
    _refused(bad, expected)


class _Code:  # a class reference in a pickle: loading it unrestricted would import and call things
    pass


def test_pickle_with_objects_is_refused(tmp_path):
    bad = tmp_path / "pickled.pt"
    bad.write_bytes(pickle.dumps({"x": _Code}, protocol=4))
    _refused(bad, "holds Python objects other than tensors")
