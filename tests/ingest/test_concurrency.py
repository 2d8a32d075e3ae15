"""Eight writers at once, inserting the same and different files: Swift and the catalog agree."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from airflow_provider_datalake import insert_datalake, reconcile
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.hooks.swift import SwiftHook
from airflow_provider_datalake.samples import write_blob
from tests.ingest.conftest import assert_consistent

pytestmark = pytest.mark.stack


def test_eight_writers_same_and_different_files(lake: dict, tmp_path: Path) -> None:
    shared = []
    for i in range(4):
        path = tmp_path / f"shared{i}.bin"
        write_blob(path, (i + 1) * 200_000, seed=40 + i)
        shared.append(path)

    def writer(n: int) -> list[tuple[str, Path]]:
        swift, catalog = SwiftHook(lake["swift_conn_id"]), CatalogHook(lake["mongo_conn_id"])
        own = tmp_path / f"own{n}.bin"
        write_blob(own, 150_000 + n, seed=80 + n)
        results = []
        for path in [*shared, own, *reversed(shared)]:
            rec = insert_datalake(
                path, format="blob", container=lake["container"], swift=swift, catalog=catalog
            )
            results.append((rec["_id"], path))
        return results

    with ThreadPoolExecutor(8) as pool:
        results = [item for chunk in pool.map(writer, range(8)) for item in chunk]

    records = {r["_id"]: r for r in assert_consistent(lake)}
    assert len(records) == 4 + 8  # each shared content once, each writer's own file once
    for rid, path in results:
        assert records[rid]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    report = reconcile(
        containers=[lake["container"]],
        swift_conn_id=lake["swift_conn_id"],
        mongo_conn_id=lake["mongo_conn_id"],
    )
    assert report.clean and not report.rolled_back and not report.rolled_forward
