"""Worker processes for per-photo work (decoding and detection for `infer`, synthesis), results in order with a
bounded look-ahead. multiprocessing.Pool waits forever for the result of a worker that died — the OOM killer on a
huge photo, a crash in a native library — so a run hung; here the pool's break is seen, the photo awaited is tried
again alone on a fresh pool, and only a photo that kills that one too is given up.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

# what a photo whose worker died twice is skipped with
WORKER_DIED = "the process reading it died (out of memory, or a crash in a native library)"


# how often a worker looks whether the process that started it is still there
PARENT_CHECK_SECONDS = 0.5


def _exit_with_parent(parent: int) -> None:
    # A worker whose main process was killed (kill -9, the OOM killer) waited on its queue forever, holding its
    # memory and the main process's stdout (a pipe reading `--json` never ended): it goes when its parent does.
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _worker_start(initializer: Callable | None, initargs: tuple) -> None:
    # Ctrl-C reaches the whole process group; the main process stops the workers (`Workers.close`), so theirs would
    # only print a traceback each from the middle of multiprocessing
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a forked worker inherits the CLI's SIGTERM handler (raise KeyboardInterrupt), and `Workers.close` stops
    # workers with SIGTERM: each printed a traceback at the end of every run
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _failed(exc: BaseException) -> Future:
    future: Future = Future()
    future.set_exception(exc)
    return future


class Workers:
    """A process pool that can be started again after a worker died (`restart`)."""

    def __init__(self, workers: int, context: str = "spawn", initializer: Callable | None = None, initargs=()):
        self.workers, self.context, self.initializer, self.initargs = workers, context, initializer, initargs
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context(self.context),
            initializer=_worker_start,
            initargs=(self.initializer, self.initargs),
        )

    def submit(self, fn: Callable, job) -> Future:
        try:
            return self.executor.submit(fn, job)
        except BrokenProcessPool as exc:  # broken since the last result was taken: say so where it is awaited
            return _failed(exc)
        except OSError:
            # The executor's manager thread marks the pool broken and closes its queues without the lock submit
            # holds (seen in CPython 3.11): a submit racing it spawns a worker with a closed queue, "handle is closed"
            if not getattr(self.executor, "_broken", False):
                raise
            return _failed(BrokenProcessPool(self.executor._broken))

    def restart(self) -> None:
        self.close()
        self.executor = self._start()

    def close(self) -> None:
        # stopped at once, also on Ctrl-C: shutdown alone lets each worker finish its photo first. The executor
        # has no public way to stop its processes before Python 3.14 (terminate_workers).
        for process in list((getattr(self.executor, "_processes", None) or {}).values()):
            process.terminate()
        self.executor.shutdown(wait=True, cancel_futures=True)


def ordered_ahead(
    pool: Workers,
    fn: Callable,
    jobs: Iterable,
    window: int,
    pixels: Callable[[object], int] | None = None,
    budget: int = 0,
    died: Callable[[object], object] | None = None,
) -> Iterator:
    """fn over jobs in the pool, results in order, at most `window` jobs ahead (Pool.imap has no limit: it would
    hold every decoded photo of a large folder in memory); with `pixels` (a result's size), fewer when the photos
    are big: as many as `budget` pixels hold of the size of the last one taken (a folder's photos are mostly alike),
    one before any. When a worker dies the pool breaks and which job killed it is not known: the job awaited is run
    again alone on a fresh pool, `died(job)` taking its place if it kills that one too; the jobs behind it that had
    not finished go again."""
    ahead: deque = deque()  # (job, future)
    limit = 1 if pixels else window  # until a photo's size is known (a first burst of 48 MP photos: 5.7 GB)

    def take():
        job, future = ahead.popleft()
        try:
            return future.result()
        except BrokenProcessPool:
            behind = list(ahead)
            ahead.clear()
            pool.restart()
            try:
                result = pool.submit(fn, job).result()
            except BrokenProcessPool:
                if died is None:
                    raise
                pool.restart()
                result = died(job)
            for j, f in behind:  # those done before the break keep their results
                kept = f.done() and not f.cancelled() and f.exception() is None
                ahead.append((j, f) if kept else (j, pool.submit(fn, j)))
            return result

    for job in jobs:
        ahead.append((job, pool.submit(fn, job)))
        while len(ahead) >= limit:
            result = take()
            if pixels and (size := pixels(result)):
                limit = max(1, min(window, budget // size))
            yield result
    while ahead:
        yield take()
