"""Run one function over many independent items: in-process, in a local process pool, or as Ray tasks.

Why: preparing a dataset (one task per video) and a LOSO run (one task per held-out subject) are
embarrassingly parallel, and users who outgrow one machine should only swap ``--executor local`` for
``--executor ray``. A failing item never stops the others: it comes back as a :class:`TaskResult` that
carries the item's name and the error, and the caller decides what to report.

``fn`` must be picklable (a module-level function) for ``workers > 1`` and for Ray; items and return values
travel between processes, so keep them small (paths, ids, summaries) and put bulk data on shared storage.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microexp.errors import ConfigError

KINDS = ("local", "ray")
Progress = Callable[[int, int | None], None]


@dataclass
class TaskResult:
    """Outcome of one item: ``value`` when it worked, ``error`` (one line, with the type) when it did not."""

    name: str
    index: int
    value: Any = None
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def item_name(item: Any) -> str:
    """A human name for an item: its ``name``/``test_subject`` attribute, a path's file name, or its text."""
    for attr in ("name", "test_subject", "video"):
        value = getattr(item, attr, None)
        if isinstance(value, (str, Path)):
            return Path(value).name if isinstance(value, Path) else value
    if isinstance(item, Path):
        return item.name
    if isinstance(item, dict):
        for key in ("name", "test_subject", "video"):
            if key in item:
                return str(item[key])
    return str(item)[:80]


def run_task(fn: Callable[[Any], Any], item: Any, name: str, index: int, threads: int | None = None) -> TaskResult:
    """Call ``fn(item)`` and turn any exception into a failed TaskResult (runs inside the worker).

    ``threads`` pins torch's and OpenCV's thread counts for the call: float sums in torch depend on the thread
    count, so a task gives byte-identical results in-process, in a pool and on Ray only with a fixed count.
    """
    t0 = time.perf_counter()
    restore = _set_threads(threads) if threads else None
    try:
        value = fn(item)
    except Exception as err:  # a task must never take the others down
        msg = str(err).strip().splitlines()[0] if str(err).strip() else _last_frame(err)
        return TaskResult(name, index, error=f"{type(err).__name__}: {msg}", error_type=type(err).__name__,
                          seconds=time.perf_counter() - t0)
    finally:
        if restore is not None:
            _set_threads(*restore)
    return TaskResult(name, index, value=value, seconds=time.perf_counter() - t0)


def _set_threads(n: int, n_cv: int | None = None) -> tuple[int, int]:
    """Set torch (when loaded) and OpenCV thread counts; returns the previous (torch, cv2) counts."""
    import cv2

    before_cv = cv2.getNumThreads()
    cv2.setNumThreads(n if n_cv is None else n_cv)
    torch = sys.modules.get("torch")
    before = n
    if torch is not None:
        before = torch.get_num_threads()
        torch.set_num_threads(n)
    return before, before_cv


def _last_frame(err: BaseException) -> str:
    tb = traceback.extract_tb(err.__traceback__)
    return f"raised at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "no message"


class _Base:
    kind = "base"

    def imap(self, fn: Callable, items: Iterable, names: list[str] | None = None) -> Iterator[TaskResult]:
        raise NotImplementedError

    def map(self, fn: Callable, items: Iterable, progress: Progress | None = None,
            names: list[str] | None = None) -> list[TaskResult]:
        """Run ``fn`` on every item; results in input order, failures included (never raised)."""
        items = list(items)
        out: list[TaskResult | None] = [None] * len(items)
        if progress is not None:
            progress(0, len(items))
        for done, res in enumerate(self.imap(fn, items, names), start=1):
            out[res.index] = res
            if progress is not None:
                progress(done, len(items))
        return out  # type: ignore[return-value]

    def close(self) -> None:
        """Release workers (a Ray cluster started here is shut down; one we only joined is left running)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _names(items: list, names: list[str] | None) -> list[str]:
    if names is not None and len(names) != len(items):
        raise ConfigError(f"got {len(names)} names for {len(items)} items")
    return list(names) if names is not None else [item_name(it) for it in items]


def _limit_threads(n: int) -> None:
    """Pool worker initialiser: give each worker its share of the cores instead of all of them."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    try:
        import cv2

        cv2.setNumThreads(n)
    except ImportError:  # pragma: no cover - cv2 is a core dependency
        pass


class LocalExecutor(_Base):
    """In-process (``workers=1``, no pickling, easiest to debug) or a process pool of ``workers``."""

    kind = "local"

    def __init__(self, workers: int = 1, threads_per_task: int | None = None):
        if workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        self.workers = int(workers)
        self.threads_per_task = threads_per_task

    def imap(self, fn: Callable, items: Iterable, names: list[str] | None = None) -> Iterator[TaskResult]:
        """Results as tasks finish (input order when ``workers == 1``)."""
        items = list(items)
        names = _names(items, names)
        if self.workers == 1 or len(items) <= 1:
            for i, (item, name) in enumerate(zip(items, names, strict=True)):
                yield run_task(fn, item, name, i, self.threads_per_task)
            return
        yield from self._pool(fn, items, names)

    def _pool(self, fn: Callable, items: list, names: list[str]) -> Iterator[TaskResult]:
        """At most ``workers`` items in flight, so when a worker dies (segfault, out of memory) only those
        few are suspects; each suspect is rerun alone and blamed only if it kills its worker again."""
        from collections import deque
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        queue = deque(range(len(items)))
        while queue:
            suspects: list[int] = []
            with self._new_pool(min(self.workers, len(queue))) as pool:
                running: dict = {}
                while queue or running:
                    while queue and len(running) < self.workers:
                        i = queue.popleft()
                        running[pool.submit(run_task, fn, items[i], names[i], i, self.threads_per_task)] = i
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    if any(isinstance(f.exception(), BrokenProcessPool) for f in finished):
                        wait(running)  # a broken pool fails every in-flight future at once
                        finished = set(running)
                    for fut in finished:
                        i = running.pop(fut)
                        err = fut.exception()
                        if isinstance(err, BrokenProcessPool):
                            suspects.append(i)
                        else:
                            yield fut.result() if err is None else _lost(names[i], i, err)
                    if suspects:
                        break
            for i in suspects:  # alone in a fresh single-worker pool
                with self._new_pool(1) as solo:
                    fut = solo.submit(run_task, fn, items[i], names[i], i, self.threads_per_task)
                    wait([fut])
                    err = fut.exception()
                if isinstance(err, BrokenProcessPool):
                    yield TaskResult(names[i], i, error="WorkerDied: the worker process died on this item",
                                     error_type="WorkerDied")
                else:
                    yield fut.result() if err is None else _lost(names[i], i, err)

    def _new_pool(self, n: int):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        threads = self.threads_per_task or max(1, (os.cpu_count() or 1) // self.workers)
        # forkserver: safe with the threads torch/OpenCV started in this process, cheaper than spawn
        return ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("forkserver"),
                                   initializer=_limit_threads, initargs=(threads,))


def _lost(name: str, index: int, err: BaseException) -> TaskResult:
    """A task whose result never came back (e.g. it could not be pickled)."""
    return TaskResult(name, index, error=f"{type(err).__name__}: {err}"[:300], error_type=type(err).__name__)


class RayExecutor(_Base):
    """One Ray task per item. Joins ``address`` (``auto`` or ``ray://HOST:PORT``) or starts a local cluster.

    Tasks reserve CPUs only: every training loop here runs on the CPU (byte-identical folds on any worker), so
    reserving GPUs would only idle them.
    """

    kind = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, cpus_per_task: float = 1,
                 threads_per_task: int | None = None, max_retries: int = 1):
        try:
            import ray
        except ImportError:
            raise ConfigError("--executor ray needs Ray: pip install 'microexp[ray]'") from None
        if cpus_per_task < 0:
            raise ConfigError("resources per task must not be negative")
        self._ray = ray
        self.cpus_per_task = float(cpus_per_task)
        self.max_retries = int(max_retries)
        self.threads_per_task = threads_per_task
        self._started = False
        if not ray.is_initialized():
            if address:
                _check_reachable(address)
            try:
                if address:
                    ray.init(address=address, log_to_driver=False)
                else:
                    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as err:
                raise ConfigError(f"cannot start or join a Ray cluster at {address or 'local'}: "
                                  f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
            self._started = True

    def imap(self, fn: Callable, items: Iterable, names: list[str] | None = None) -> Iterator[TaskResult]:
        """Results as tasks finish; a task whose worker died comes back failed with Ray's reason."""
        ray = self._ray
        items = list(items)
        names = _names(items, names)
        remote = ray.remote(run_task).options(num_cpus=self.cpus_per_task, max_retries=self.max_retries)
        fn_ref = ray.put(fn)
        refs = {remote.remote(fn_ref, item, name, i, self.threads_per_task): i for i, (item, name) in enumerate(zip(items, names, strict=True))}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                i = refs[ref]
                try:
                    yield ray.get(ref)
                except Exception as err:  # worker crash, node loss, unpicklable result
                    msg = str(err).strip().splitlines()
                    yield TaskResult(names[i], i, error=f"{type(err).__name__}: {msg[0] if msg else ''}"[:300],
                                     error_type=type(err).__name__)

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
        self._started = False


def _check_reachable(address: str) -> None:
    """Fail in seconds on a HOST:PORT nobody listens on (Ray itself retries for minutes)."""
    import socket

    if address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except (OSError, ValueError):
        raise ConfigError(f"no Ray cluster answers at {address} (start one with `ray start --head`)") from None


def make_executor(kind: str = "local", workers: int = 1, address: str | None = None,
                  threads_per_task: int | None = None) -> LocalExecutor | RayExecutor:
    """``local`` (``workers`` processes; 1 = in-process) or ``ray`` (``address``, or a local cluster with
    ``workers`` CPUs when more than 1, all CPUs otherwise).

    ``threads_per_task`` pins each task's torch/OpenCV threads (and is the CPUs a Ray task reserves); LOSO
    passes 1 so that a fold gives the same bytes wherever it runs.
    """
    if threads_per_task is not None and threads_per_task < 1:
        raise ConfigError(f"threads per task must be at least 1, got {threads_per_task}")
    if kind == "local":
        if address:
            raise ConfigError("--address only applies to --executor ray")
        return LocalExecutor(workers, threads_per_task=threads_per_task)
    if kind == "ray":
        return RayExecutor(address=address, workers=workers if workers and workers > 1 else None,
                           cpus_per_task=threads_per_task or 1,
                           threads_per_task=threads_per_task)
    raise ConfigError(f"unknown executor {kind!r}; choose from {', '.join(KINDS)}")
