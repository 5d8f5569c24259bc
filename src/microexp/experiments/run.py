"""Run the folds of an experiment: skip the finished ones, run the rest on an executor, store each as it lands.

Recognition LOSO and spotting LOSO both go through :func:`run_experiment`; they differ only in the fold
tasks they build and the fold function they pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from microexp.errors import MicroexpError
from microexp.experiments.executor import item_name
from microexp.experiments.store import FoldStore

Progress = Callable[[int, int | None], None]
#: Anything with the builtin ``map``'s signature, or an executor from :func:`make_executor`.
MapLike = Callable[[Callable, Iterable], Iterable]


@dataclass
class ExperimentResult:
    """Results by fold key (finished earlier or now), and how long the folds run now took."""

    results: dict[str, dict]
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_experiment(folds: Sequence[Any], fold_fn: Callable[[Any], dict], store: FoldStore, *,
                   make_task: Callable[[Any], Any] | None = None, executor=None,
                   progress: Progress | None = None, key: Callable[[Any], str] = item_name) -> ExperimentResult:
    """Run ``fold_fn(make_task(fold))`` for every fold not yet in ``store``; save each result atomically.

    ``key(fold)`` names a fold in the store (default: its ``test_subject``/``name``). ``make_task`` builds the
    fold's self-contained task (default: the fold itself) only for folds that still have to run.
    ``fold_fn`` must be a picklable module-level function returning a JSON-able dict that depends only on its
    task (seed it with :func:`fold_seed`). ``executor``: None (in-process, in order), a ``map``-like callable
    returning results in task order, or an executor (``LocalExecutor`` / ``RayExecutor``). Failed folds do not
    stop the others: finished folds are saved first, then one MicroexpError names every failure.
    """
    keys = [key(f) for f in folds]
    if len(set(keys)) != len(keys):
        raise MicroexpError(f"two folds share one key ({len(keys) - len(set(keys))} repeated)")
    results = {k: store.load(k) for k in keys if store.has(k)}
    reused = list(results)
    todo = [k for k in keys if k not in results]
    pending = [(make_task or _same)(f) for f, k in zip(folds, keys, strict=True) if k not in results]
    total = len(folds)
    if progress is not None:
        progress(len(results), total)
    ran: list[str] = []
    failed: list[str] = []
    t0 = time.perf_counter()
    if hasattr(executor, "imap"):
        stream = _from_executor(executor, fold_fn, pending, todo, failed)
    else:
        stream = zip(todo, (executor or map)(fold_fn, pending), strict=False)
    for k, result in stream:
        store.save(k, result)
        results[k] = result
        ran.append(k)
        if progress is not None:
            progress(len(results), total)
    if failed:
        more = f" (+{len(failed) - 5} more)" if len(failed) > 5 else ""
        raise MicroexpError(f"{len(failed)} of {len(pending)} folds failed: {'; '.join(failed[:5])}{more}")
    if len(ran) != len(pending):
        raise MicroexpError(f"the executor returned {len(ran)} results for {len(pending)} folds")
    return ExperimentResult(results, ran, reused, time.perf_counter() - t0)


def _same(fold):
    return fold


def _from_executor(executor, fn, tasks: list, keys: list[str], failed: list[str]):
    for res in executor.imap(fn, tasks, names=keys):
        if res.ok:
            yield keys[res.index], res.value
        else:
            failed.append(f"{keys[res.index]}: {res.error}")
