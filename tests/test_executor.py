"""Local executor: input order, failures carried with the item's name, pool crash recovery, thread pinning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from microexp.errors import ConfigError, MicroexpError
from microexp.experiments.executor import LocalExecutor, TaskResult, item_name, make_executor, run_task


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"bad item {x}")
    return x


def die_on_two(x: int) -> int:
    """Kills its worker process on item 2, like a decoder segfault would."""
    if x == 2:
        os._exit(3)
    return x + 100


def torch_threads(_x) -> int:
    import torch

    return torch.get_num_threads()


def test_in_process_map_keeps_order_and_reports_progress():
    seen = []
    res = LocalExecutor().map(square, [3, 1, 2], progress=lambda d, t: seen.append((d, t)))
    assert [r.value for r in res] == [9, 1, 4]
    assert [r.index for r in res] == [0, 1, 2]
    assert all(r.ok and r.error is None for r in res)
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)


def test_failure_carries_name_and_error_and_others_finish():
    res = LocalExecutor().map(fail_on_three, [1, 3, 5], names=["a.mp4", "corrupt.mp4", "c.mp4"])
    assert [r.ok for r in res] == [True, False, True]
    bad = res[1]
    assert bad.name == "corrupt.mp4" and bad.value is None
    assert bad.error == "ValueError: bad item 3" and bad.error_type == "ValueError"
    assert res[2].value == 5


def test_run_experiment_saves_finished_folds_then_raises_naming_failures(tmp_path):
    from microexp.experiments import FoldStore, run_experiment

    store = FoldStore(tmp_path, "fp1")
    with pytest.raises(MicroexpError, match=r"1 of 3 folds failed: 3: ValueError: bad item 3"):
        run_experiment([1, 3, 5], fail_on_three_dict, store, executor=LocalExecutor(), key=str)
    assert store.has("1") and store.has("5") and not store.has("3")  # the others were saved first
    assert store.load("5") == {"x": 5}


def fail_on_three_dict(x: int) -> dict:
    return {"x": fail_on_three(x)}


def test_pool_matches_in_process():
    items = list(range(7))
    seq = LocalExecutor(1).map(square, items)
    par = LocalExecutor(2).map(square, items)
    assert [r.value for r in par] == [r.value for r in seq] == [i * i for i in items]
    assert [r.name for r in par] == [str(i) for i in items]


def test_pool_survives_a_dying_worker():
    res = LocalExecutor(2).map(die_on_two, [0, 1, 2, 3])
    assert [r.value for r in res if r.ok] == [100, 101, 103]
    assert res[2].name == "2" and res[2].error_type == "WorkerDied"


def test_threads_per_task_pins_torch_and_restores():
    import torch

    before = torch.get_num_threads()
    res = LocalExecutor(threads_per_task=1).map(torch_threads, [0])
    assert res[0].value == 1
    assert torch.get_num_threads() == before


def test_item_names():
    class Fold:
        test_subject = "casme2/sub01"

    assert item_name(Path("/x/y/clip.mp4")) == "clip.mp4"
    assert item_name(Fold()) == "casme2/sub01"
    assert item_name({"name": "v1"}) == "v1"
    assert item_name(42) == "42"


def test_bad_configurations_raise_config_errors():
    with pytest.raises(ConfigError, match="unknown executor"):
        make_executor("dask")
    with pytest.raises(ConfigError, match="--address only applies"):
        make_executor("local", address="auto")
    with pytest.raises(TypeError):  # no GPU option: training runs on the CPU on every executor
        make_executor("local", gpus_per_task=1)
    with pytest.raises(ConfigError, match="at least 1"):
        make_executor("local", workers=0)
    with pytest.raises(ConfigError, match="2 names for 3 items"):
        LocalExecutor().map(square, [1, 2, 3], names=["a", "b"])


def test_run_task_message_for_silent_exception():
    def boom(_):
        raise RuntimeError()

    r = run_task(boom, 0, "x", 0)
    assert isinstance(r, TaskResult) and not r.ok
    assert r.error.startswith("RuntimeError: raised at test_executor.py:")


def test_ray_address_nobody_listens_on_fails_fast():
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'microexp[ray]')")
    import ray

    if ray.is_initialized():
        pytest.skip("a Ray cluster is already joined in this process")
    with pytest.raises(ConfigError, match="no Ray cluster answers at 127.0.0.1:1"):
        make_executor("ray", address="127.0.0.1:1")
