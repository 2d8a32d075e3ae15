"""Small objects: ``insert_datalake()`` of 1 KiB objects vs the naive pair with no atomicity.

The baseline is what a producer would write without the data lake: a swiftclient ``put_object`` then a pymongo
``insert_one`` of an equivalent document, on the same servers (its own container and database). Each side
reuses one set of clients. Variants run in turn, rotated every round, on fresh distinct content; the median
objects/s over the rounds is reported.

Each timed run starts from an empty catalog collection (indexes kept), so that every run measures the same
thing: N inserts into a catalog growing from 0 to N records. FerretDB v1.24's SQLite backend (the local stack)
never uses its ``_id`` index (it indexes ``sjson->"_id"`` but looks up ``sjson->'$._id'``), so every update by
``_id`` scans the collection and ours slows down as the catalog grows; the baseline only inserts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench import common

FORMAT = "bench_small"
CONTENT_TYPE = "application/octet-stream"
WARMUP = 10  # objects per variant before timing: auth, containers, indexes, connection pools
VARIANTS = ("ours", "ours_dedupe", "baseline")


def run(*, n: int, rounds: int, size: int, tag: str, seed: int) -> dict[str, Any]:
    from airflow_provider_datalake import insert_datalake
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.hooks.swift import SwiftHook

    common.quiet_logs()
    ours_db, naive_db = f"bench_{tag}", f"bench_{tag}_naive"
    ours_container, naive_container = f"bench-{tag}", f"bench-{tag}-naive"
    swift, catalog = SwiftHook(), CatalogHook(database=ours_db)
    conn, client = common.swift_connection(), common.mongo_client()
    naive = client[naive_db]["raw_objects"]
    rng = random.Random(seed)

    def ours(dedupe: bool) -> Callable[[list[bytes]], None]:
        def insert_all(payloads: list[bytes]) -> None:
            for data in payloads:
                insert_datalake(
                    data,
                    format=FORMAT,
                    container=ours_container,
                    content_type=CONTENT_TYPE,
                    dedupe=dedupe,
                    swift=swift,
                    catalog=catalog,
                )

        return insert_all

    def baseline(payloads: list[bytes]) -> None:
        for data in payloads:
            record_id, now = uuid.uuid4().hex, dt.datetime.now(dt.UTC)
            name = f"{FORMAT}/{now:%Y/%m/%d}/{record_id}"
            meta = {"X-Object-Meta-Record-Id": record_id, "X-Object-Meta-Format": FORMAT}
            etag = conn.put_object(naive_container, name, data, content_type=CONTENT_TYPE, headers=meta)
            naive.insert_one(
                {
                    "_id": record_id,
                    "format": FORMAT,
                    "content_type": CONTENT_TYPE,
                    "original_object_name": None,
                    "swift_user": swift.user,
                    "swift_container": naive_container,
                    "swift_object_id": name,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "md5": etag,
                    "etag": etag,
                    "segments": 0,
                    "dedupe": False,
                    "dedupe_key": f"unique:{record_id}",
                    "status": "committed",
                    "creation_date": now,
                    "last_modified": now,
                    "lease_until": None,
                    "successful_operations": [],
                    "failed_operations": [],
                    "application": None,
                    "data_processing": "default",
                    "processed_data_area_service": [],
                    "other_data": {},
                }
            )

    runners: dict[str, Callable[[list[bytes]], None]] = {
        "ours": ours(False),
        "ours_dedupe": ours(True),
        "baseline": baseline,
    }
    rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
    try:
        conn.put_container(naive_container)
        for runner in runners.values():
            runner([rng.randbytes(size) for _ in range(min(WARMUP, n))])
        for index in range(rounds):
            shift = index % len(VARIANTS)
            for name in VARIANTS[shift:] + VARIANTS[:shift]:
                # Every timed run starts from an empty catalog collection (see the module docstring).
                catalog.raw_objects.delete_many({})
                naive.delete_many({})
                payloads = [rng.randbytes(size) for _ in range(n)]  # distinct: dedupe never short-cuts
                start = time.perf_counter()
                runners[name](payloads)
                rates[name].append(n / (time.perf_counter() - start))
                coll, query = (
                    (naive, {}) if name == "baseline" else (catalog.raw_objects, {"status": "committed"})
                )
                if (stored := coll.count_documents(query)) != n:
                    raise RuntimeError(f"{name}: {stored} records stored, expected {n}")
            done = "  ".join(f"{name} {rates[name][-1]:.0f}/s" for name in VARIANTS)
            common.say(f"small objects, round {index + 1}/{rounds}: {done}")
    finally:
        _cleanup(client, catalog, (ours_db, naive_db), (ours_container, naive_container))

    medians = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "object_size": size,
        "n": n,
        "rounds": rounds,
        "objects_per_s": {name: {"median": medians[name], "rounds": rates[name]} for name in VARIANTS},
        "ratio": medians["ours"] / medians["baseline"],
        "ratio_dedupe": medians["ours_dedupe"] / medians["baseline"],
        "goal_ratio": 0.8,
    }


def _cleanup(client: Any, catalog: Any, databases: tuple[str, ...], containers: tuple[str, ...]) -> None:
    common.drop_containers(list(containers))
    for database in databases:
        client.drop_database(database)
    client.close()
    catalog.get_conn().close()
