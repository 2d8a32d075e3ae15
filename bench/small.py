"""Small objects: ``insert_datalake()`` of 1 KiB objects vs the naive pair with no atomicity.

The baseline is what a producer would write without the data lake: a swiftclient ``put_object`` then a pymongo
``insert_one`` of an equivalent document, on the same servers (its own container and database). Each side
reuses one set of clients.

The variants take turns object by object (one object each, in an order rotated every turn), each on fresh
distinct content, and each object's time is added to its variant. The machine is shared (2 cores, the
stack's servers and Airflow on it) and its load comes in spells of a second or more: with one block of
objects per variant, a spell landed on whichever variant was running, and ``ours`` and ``ours_dedupe``, which
do the same work, differed by up to 8% in one run. Taking turns every few milliseconds gives every variant
the same share of each spell. Each variant's rate is its objects over its seconds; the ratio is ours over
the baseline of those. A round is ``n`` turns; the median of the per-round ratios is reported beside it.

Each round starts from empty catalog collections (indexes kept), so every round measures the same thing.
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

    def ours(dedupe: bool) -> Callable[[bytes], None]:
        def insert(data: bytes) -> None:
            insert_datalake(
                data,
                format=FORMAT,
                container=ours_container,
                content_type=CONTENT_TYPE,
                dedupe=dedupe,
                swift=swift,
                catalog=catalog,
            )

        return insert

    def baseline(data: bytes) -> None:
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

    runners: dict[str, Callable[[bytes], None]] = {
        "ours": ours(False),
        "ours_dedupe": ours(True),
        "baseline": baseline,
    }
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    try:
        conn.put_container(naive_container)
        for runner in runners.values():
            for _ in range(min(WARMUP, n)):
                runner(rng.randbytes(size))
        for index in range(rounds):
            # Every round starts from empty catalog collections (see the module docstring).
            catalog.raw_objects.delete_many({})
            naive.delete_many({})
            payloads = {name: [rng.randbytes(size) for _ in range(n)] for name in VARIANTS}  # distinct
            spent = dict.fromkeys(VARIANTS, 0.0)
            for turn in range(n):
                shift = (index * n + turn) % len(VARIANTS)
                for name in VARIANTS[shift:] + VARIANTS[:shift]:
                    start = time.perf_counter()
                    runners[name](payloads[name][turn])
                    spent[name] += time.perf_counter() - start
            for name in VARIANTS:
                seconds[name].append(spent[name])
                coll, query = (
                    (naive, {}) if name == "baseline" else (catalog.raw_objects, {"status": "committed"})
                )
                if name != "baseline":
                    query["dedupe"] = name == "ours_dedupe"
                if (stored := coll.count_documents(query)) != n:
                    raise RuntimeError(f"{name}: {stored} records stored, expected {n}")
            if (index + 1) % 5 == 0 or index + 1 == rounds:
                done = "  ".join(f"{name} {n / seconds[name][-1]:.0f}/s" for name in VARIANTS)
                common.say(f"small objects, round {index + 1}/{rounds}: {done}")
    finally:
        _cleanup(client, catalog, (ours_db, naive_db), (ours_container, naive_container))

    overall = {name: n * rounds / sum(values) for name, values in seconds.items()}
    per_round = {
        name: [b / o for o, b in zip(seconds[name], seconds["baseline"], strict=True)]
        for name in ("ours", "ours_dedupe")
    }
    return {
        "object_size": size,
        "n": n,
        "rounds": rounds,
        "objects_per_s": {
            name: {"overall": overall[name], "rounds": [n / t for t in seconds[name]]} for name in VARIANTS
        },
        "ratio": overall["ours"] / overall["baseline"],
        "ratio_dedupe": overall["ours_dedupe"] / overall["baseline"],
        "ratio_round_median": statistics.median(per_round["ours"]),
        "ratio_dedupe_round_median": statistics.median(per_round["ours_dedupe"]),
        "goal_ratio": 0.8,
    }


def _cleanup(client: Any, catalog: Any, databases: tuple[str, ...], containers: tuple[str, ...]) -> None:
    common.drop_containers(list(containers))
    for database in databases:
        client.drop_database(database)
    client.close()
    catalog.get_conn().close()
