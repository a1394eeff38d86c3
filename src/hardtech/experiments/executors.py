"""Executors a sweep runs on: in-process, a local process pool, or Dask.

Every option yields a :class:`concurrent.futures.Executor` and the number of
tasks it runs at once (its parallelism), so the sweep loop is the same for all:

* in-process (default): :class:`InlineExecutor` runs a task when it is
  submitted — one at a time, in the coordinator;
* ``workers=N``: a :class:`~concurrent.futures.ProcessPoolExecutor` of N
  processes started with ``spawn`` (a forked child would inherit the
  coordinator's open DuckDB connection);
* ``scheduler="tcp://host:port"``: a Dask distributed ``Client`` connected to a
  running scheduler, through ``Client.get_executor()``;
* ``dask_local=N``: a Dask ``LocalCluster`` of N single-threaded worker
  processes on this machine.

Dask is optional (``pip install 'hardtech[dask]'``).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


class ExecutorError(ValueError):
    """Executor options that cannot be used (one line)."""


class InlineExecutor(cf.Executor):
    """Runs each task in the calling thread at submit time (returns a finished future)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn(*args, **kwargs)`` now; its result (or exception) in a finished future."""
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - delivered through the future like other executors
            future.set_exception(exc)
        return future


@dataclass
class ExecutorInfo:
    """An executor, how many tasks it runs at once, a label, and how to rebuild it after a crash."""

    executor: cf.Executor
    parallelism: int
    label: str
    rebuild: Callable[[], cf.Executor] | None = None
    inline: bool = False
    refresh: Callable[[], int] | None = None  # current parallelism (Dask: workers come and go)


def _exit_with_parent(parent_pid: int, every: float = 1.0) -> None:
    """Worker initializer: end this worker when the coordinator is gone (e.g. killed with SIGKILL).

    A pool worker blocks on its task queue, whose pipe it also holds open, so it
    would never notice; a daemon thread checks the parent pid once a second.
    """
    import os
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="hardtech-parent-watch", daemon=True).start()


def _process_pool(n: int) -> cf.ProcessPoolExecutor:
    import os

    return cf.ProcessPoolExecutor(
        max_workers=n,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


def _import_dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise ExecutorError("Dask is not installed: pip install 'hardtech[dask]' (or 'dask[distributed]')") from None
    return distributed


def check_options(workers: int | None, scheduler: str | None, dask_local: int | None) -> None:
    """Refuse contradictory or bad executor options (before anything runs)."""
    given = [
        name
        for name, v in (("--workers", workers), ("--scheduler", scheduler), ("--dask-local", dask_local))
        if v is not None
    ]
    if len(given) > 1:
        raise ExecutorError(f"{' and '.join(given)}: give at most one of --workers, --scheduler, --dask-local")
    if workers is not None and not 1 <= workers <= 1024:
        raise ExecutorError(f"--workers: {workers} must be in 1..1024")
    if dask_local is not None and not 1 <= dask_local <= 1024:
        raise ExecutorError(f"--dask-local: {dask_local} must be in 1..1024")
    if scheduler is not None:
        if (
            not scheduler.startswith(("tcp://", "tls://", "ws://", "wss://", "inproc://"))
            or ":" not in scheduler.split("://", 1)[1]
        ):
            raise ExecutorError(f"--scheduler: {scheduler!r} must be an address like tcp://HOST:PORT")
    if scheduler is not None or dask_local is not None:
        _import_dask()


@contextlib.contextmanager
def open_executor(
    workers: int | None = None,
    scheduler: str | None = None,
    dask_local: int | None = None,
    connect_timeout: float = 20.0,
) -> Iterator[ExecutorInfo]:
    """Open the executor the options ask for; shut it down (and any local cluster) on exit."""
    check_options(workers, scheduler, dask_local)
    if scheduler is None and dask_local is None:
        if workers is None:
            yield ExecutorInfo(InlineExecutor(), 1, "in-process", inline=True)
            return
        holder = ExecutorInfo(
            _process_pool(workers),
            workers,
            f"{workers} local worker process(es)",
            rebuild=lambda: _process_pool(workers),
        )
        try:
            yield holder
        finally:
            holder.executor.shutdown(wait=True, cancel_futures=True)
        return

    distributed = _import_dask()
    for name in ("distributed", "distributed.worker", "distributed.scheduler", "distributed.nanny", "distributed.core"):
        logging.getLogger(name).setLevel(logging.ERROR)
    cluster = None
    try:
        if dask_local is not None:
            cluster = distributed.LocalCluster(
                n_workers=dask_local,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = distributed.Client(cluster)
            label = f"Dask LocalCluster of {dask_local} worker(s)"
        else:
            try:
                client = distributed.Client(scheduler, timeout=connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise ExecutorError(f"--scheduler: cannot reach {scheduler} ({type(exc).__name__}: {exc})") from None
            label = f"Dask scheduler {scheduler}"
        try:
            try:
                client.wait_for_workers(1, timeout=connect_timeout)
            except (TimeoutError, OSError):
                pass  # no worker yet: tasks wait on the scheduler until one joins
            threads = sum(client.nthreads().values()) or 1
            executor = client.get_executor(pure=False)
            yield ExecutorInfo(
                executor,
                threads,
                f"{label} ({threads} thread(s))",
                refresh=lambda: sum(client.nthreads().values()) or 1,
            )
            executor.shutdown(wait=False)
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
