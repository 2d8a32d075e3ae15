"""Parallel atomic inserts: the engine's order and stop rules (pure, fast), and `insert_many` on the stack."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest

from airflow_provider_datalake import insert_many
from airflow_provider_datalake.ingest import InsertError, NotStarted
from airflow_provider_datalake.ingest.many import check_jobs, run_parallel
from airflow_provider_datalake.samples import write_blob
from tests.ingest.conftest import assert_consistent


def _collect() -> tuple[list[tuple[int, object, BaseException | None]], object]:
    seen: list[tuple[int, object, BaseException | None]] = []
    return seen, lambda i, result, error: seen.append((i, result, error))


def test_outcomes_come_in_input_order_whatever_order_the_work_ends_in() -> None:
    seen, report = _collect()

    def work(i: int, _cancel: threading.Event) -> int:
        time.sleep(0.02 * (5 - i % 5))  # the later ones end first
        return i * 10

    run = run_parallel(12, work, jobs=4, report=report)  # type: ignore[arg-type]
    assert [(i, r) for i, r, _ in seen] == [(i, i * 10) for i in range(12)]
    assert not run.interrupted and run.stopped_by is None


def test_at_most_jobs_run_at_once() -> None:
    running, peak, lock = 0, 0, threading.Lock()

    def work(_i: int, _cancel: threading.Event) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1

    run_parallel(30, work, jobs=3, report=lambda *_: None)
    assert peak == 3


def test_a_failure_of_one_is_its_own_and_a_stopping_one_starts_nothing_new() -> None:
    seen, report = _collect()

    def work(i: int, _cancel: threading.Event) -> int:
        if i == 1:
            raise ValueError("bad file")
        if i == 3:
            raise ConnectionError("store down")
        time.sleep(0.05)
        return i

    run = run_parallel(
        40,
        work,
        jobs=2,
        report=report,
        stops=lambda e: isinstance(e, ConnectionError),  # type: ignore[arg-type]
    )
    assert isinstance(run.stopped_by, ConnectionError)
    assert [i for i, _, _ in seen] == list(range(40))  # every source gets an outcome
    assert isinstance(seen[1][2], ValueError) and seen[2][1] == 2
    not_started = [i for i, _, e in seen if isinstance(e, NotStarted)]
    assert not_started and not_started == list(range(not_started[0], 40)) and not_started[0] <= 6


def test_an_interrupted_work_stops_the_batch_like_ctrl_c() -> None:
    seen, report = _collect()

    def work(i: int, cancel: threading.Event) -> int:
        if i == 2:
            raise KeyboardInterrupt
        if cancel.wait(0.2):  # a long insert: stops when cancelled
            raise InterruptedError("rolled back")
        return i

    run = run_parallel(10, work, jobs=3, report=report)  # type: ignore[arg-type]
    assert run.interrupted
    assert [i for i, _, _ in seen] == list(range(10))
    assert isinstance(seen[2][2], KeyboardInterrupt)
    assert isinstance(seen[-1][2], NotStarted)


@pytest.mark.parametrize("jobs", [0, 65, 2.5, True, "4"])
def test_jobs_out_of_range_is_a_clear_error(jobs: object) -> None:
    with pytest.raises(ValueError, match="jobs must be an integer from 1 to 64"):
        check_jobs(jobs)  # type: ignore[arg-type]


@pytest.mark.stack
def test_insert_many_paths_and_bytes_in_input_order(lake: dict, tmp_path: Path) -> None:
    sources: list[object] = []
    for i in range(24):
        path = tmp_path / f"f{i:02d}.bin"
        write_blob(path, [1 << 10, 300 << 10, 3 << 20][i % 3], seed=500 + i)  # plain and SLO objects
        sources.append(path)
    sources.append(b"some bytes")
    sources.append(tmp_path / "missing.bin")
    sources.append(sources[0])  # the same content again: dedupe returns its record
    results = insert_many(
        sources,
        jobs=8,
        format="blob",
        container=lake["container"],
        swift_conn_id=lake["swift_conn_id"],
        mongo_conn_id=lake["mongo_conn_id"],
    )
    assert len(results) == len(sources)
    missing = results[25]
    assert isinstance(missing, InsertError) and "file not found" in str(missing)
    records = {r["_id"]: r for r in assert_consistent(lake)}
    assert len(records) == 25
    for source, rec in zip(sources[:25], results[:25], strict=True):
        assert isinstance(rec, dict)
        data = source.read_bytes() if isinstance(source, Path) else source
        assert records[rec["_id"]]["sha256"] == hashlib.sha256(data).hexdigest()  # type: ignore[arg-type]
    assert isinstance(results[26], dict) and results[26]["_id"] == results[0]["_id"]  # type: ignore[index]


def test_insert_many_refuses_what_it_sets_itself() -> None:
    with pytest.raises(TypeError, match="progress"):
        insert_many([b"x"], progress=print)
