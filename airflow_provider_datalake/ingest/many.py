"""Many atomic inserts at once: `insert_many()`, and the engine `datalake insert --jobs` runs on.

Each source still goes through the two-phase protocol of `insert_datalake` on its own, in a worker thread
with its own Swift client (a client is not thread-safe; the catalog's pymongo client is, and is shared).
Outcomes are handed back in input order, whatever order the inserts finish in.

Ctrl-C reaches only the main thread, which is waiting for the workers: it sets a shared ``cancel`` event,
and each insert in flight stops at its next step and rolls back, unless its record is committed already
(what committed stays committed). The main thread waits for those rollbacks with further interrupts held,
so "rolled back" is true when it says so, then reports: committed ones as done, the ones in flight as
interrupted, the ones not started as not attempted. A failure of the world (a store unreachable,
credentials refused) stops new inserts from starting; those in flight finish either way. The first insert
runs alone, so that a store failing it leaves the rest not attempted, and the others start with the Swift
token it got.

Memory is bounded by the inserts in flight: a worker streams its source (a piece of a non-seekable stream
is spooled to a temp file past a few MiB), and at most a few times ``jobs`` outcomes wait to be reported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from airflow_provider_datalake.ingest.errors import Cancelled
from airflow_provider_datalake.ingest.insert import MAX_JOBS, insert_datalake
from airflow_provider_datalake.interrupts import interrupts_held

DEFAULT_JOBS = 10  # as `swift upload`'s object threads: small files are latency-bound, not CPU-bound
WINDOW = 4  # outcomes waiting for an earlier one, per job: bounds what a slow first file holds back
WAIT_STEP = 0.1  # seconds the main thread waits for the inserts at a time: how late a Ctrl-C may be taken


def check_jobs(jobs: int) -> int:
    """``jobs`` if it is a usable number of parallel inserts; a ValueError saying the range otherwise."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
        raise ValueError(f"jobs must be an integer from 1 to {MAX_JOBS}, not {jobs!r}")
    return jobs


class NotStarted(Exception):
    """The outcome of a source whose insert never began: the batch was interrupted or stopped first."""


@dataclass
class Run:
    """How a batch ended: ``interrupted`` by Ctrl-C; ``stopped_by`` the failure that stopped new inserts."""

    interrupted: bool = False
    stopped_by: BaseException | None = None


def run_parallel(
    count: int,
    work: Callable[[int, threading.Event], Any],
    *,
    jobs: int,
    report: Callable[[int, Any, BaseException | None], None],
    stops: Callable[[BaseException], bool] = lambda _exc: False,
) -> Run:
    """Run ``work(index, cancel)`` for each index on ``jobs`` threads; ``report(index, result, error)`` in
    index order, in this thread (``error`` is `NotStarted` for an index never begun). An error for which
    ``stops`` is true starts no new work. See the module's docstring for Ctrl-C."""
    check_jobs(jobs)
    cancel = threading.Event()
    run = Run()
    futures: dict[int, Future[Any]] = {}
    submitted = reported = 0

    def started(index: int) -> Any:
        if cancel.is_set() or run.stopped_by is not None:
            raise NotStarted("not attempted")
        return work(index, cancel)

    def report_ready(all_done: bool) -> None:
        nonlocal reported
        while reported in futures and (all_done or futures[reported].done()):
            future = futures[reported]
            error = future.exception()
            with interrupts_held():  # a Ctrl-C here would lose or repeat this outcome
                report(reported, None if error else future.result(), error)
                del futures[reported]
                reported += 1
            if not all_done and isinstance(error, KeyboardInterrupt) and not isinstance(error, Cancelled):
                raise KeyboardInterrupt  # the work itself was interrupted: stop the batch as Ctrl-C does
            if error is not None and run.stopped_by is None and stops(error):
                run.stopped_by = error

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="datalake-insert")
    try:
        while reported < count:
            while submitted < count and run.stopped_by is None and submitted - reported < jobs * WINDOW:
                # the first alone: it authenticates and meets the stores once for all (a token to share, a
                # container made); if they fail it, the rest is not attempted, as one by one
                if sum(not f.done() for f in futures.values()) >= (jobs if reported else 1):
                    break
                with interrupts_held():  # a future made but not kept would go unwaited for
                    futures[submitted] = pool.submit(started, submitted)
                    submitted += 1
            report_ready(all_done=False)
            if run.stopped_by is not None and not futures:
                break
            running = [f for f in futures.values() if not f.done()]
            if running:
                # Ctrl-C is taken between two waits, never inside one: a KeyboardInterrupt raised while
                # `wait` takes the futures' locks can leave one taken, and its insert then never ends.
                with interrupts_held():
                    wait(running, timeout=WAIT_STEP, return_when=FIRST_COMPLETED)
    except KeyboardInterrupt:
        run.interrupted = True
        cancel.set()
        with interrupts_held():  # a second Ctrl-C waits for the rollbacks in flight
            wait(list(futures.values()))
        report_ready(all_done=True)
    finally:
        cancel.set()  # whatever ended the loop (an error in `report`), no insert goes on behind our back
        pool.shutdown(wait=True)
    for index in range(reported, count):
        report(index, None, NotStarted("not attempted"))
    return run


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during `insert_many`: ``results`` holds each source's outcome as `insert_many` returns them
    (the committed records stay committed; the ones in flight were rolled back)."""

    def __init__(self, results: list[dict[str, Any] | BaseException]) -> None:
        super().__init__("interrupted: the inserts in flight were rolled back")
        self.results = results


def insert_many(
    sources: Sequence[Any],
    *,
    jobs: int = DEFAULT_JOBS,
    swift_conn_id: str = "swift_default",
    mongo_conn_id: str = "mongo_default",
    swift: Any = None,
    catalog: Any = None,
    **options: Any,
) -> list[dict[str, Any] | BaseException]:
    """`insert_datalake` for each source (paths, bytes or binary streams), ``jobs`` at a time; returns, in
    input order, each one's committed record or the exception it failed with (`NotStarted` for the ones
    not tried after a store became unreachable). ``options`` are `insert_datalake`'s (format, container,
    dedupe, ...). Ctrl-C raises `BatchInterrupted` with the same list, after the rollbacks in flight."""
    from airflow_provider_datalake.hooks.connect import catalog_for, swift_for
    from airflow_provider_datalake.hooks.errors import outside_failure

    for forbidden in ("progress", "cancel", "source"):
        if forbidden in options:
            raise TypeError(f"insert_many() does not take {forbidden}=")
    check_jobs(jobs)
    swift = swift or swift_for(swift_conn_id)
    catalog = catalog or catalog_for(mongo_conn_id)
    local = threading.local()

    def work(index: int, cancel: threading.Event) -> dict[str, Any]:
        if not hasattr(local, "swift"):
            local.swift = swift.clone()
        rec: dict[str, Any] = insert_datalake(
            sources[index], swift=local.swift, catalog=catalog, cancel=cancel, **options
        )
        return rec

    results: list[dict[str, Any] | BaseException] = []
    run = run_parallel(
        len(sources),
        work,
        jobs=jobs,
        report=lambda _i, rec, error: results.append(error if error is not None else rec),
        stops=lambda exc: outside_failure(exc) is not None,
    )
    if run.interrupted:
        raise BatchInterrupted(results)
    return results
