"""Catalog records as a lake that ran for a while holds them, for measuring and testing the catalog at campus
scale without storing a million files."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_datalake.samples.common import check_count, naive_utc

#: The share of each state in a catalog that has run for a while: almost everything processed.
CATALOG_STATES = (("processed", 0.985), ("failed", 0.012), ("committed", 0.002), ("processing", 0.001))


def catalog_records(
    count: int,
    seed: int = 0,
    *,
    formats: int = 25,
    start: datetime | None = None,
    every: timedelta = timedelta(seconds=30),
    container: str = "raw",
) -> Iterator[dict]:
    """Catalog records as a lake that ran for a while holds them: ``formats`` formats (``format_00``...),
    one record every ``every`` from ``start`` on (oldest first), in the states of `CATALOG_STATES`, with
    the fields and outcomes the real insert and loads write. The committed ones have no format: at rest,
    every object of a described format has been taken, and what waits is waiting for a descriptor.
    Ids are deterministic hex strings, so the same seed gives the same catalog."""
    check_count(count)
    rng = random.Random(seed)  # noqa: S311 (seeded test data, not security)
    begin = naive_utc(start, datetime(2025, 1, 1))
    states = [name for name, _ in CATALOG_STATES]
    weights = [share for _, share in CATALOG_STATES]
    for n in range(count):
        created = begin + every * n
        state = rng.choices(states, weights)[0]
        # At rest, what stays committed is what waits for a format (a descriptor, or a steward's review).
        fmt = f"format_{rng.randrange(formats):02d}" if state != "committed" else None
        rid = hashlib.sha256(f"{seed}:{n}".encode()).hexdigest()[:32]
        sha = hashlib.sha256(f"{seed}:{n}:content".encode()).hexdigest()
        size = int(rng.lognormvariate(9, 1.5)) + 1
        record: dict[str, Any] = {
            "_id": rid,
            "format": fmt,
            "content_type": "application/x-ndjson",
            "original_object_name": f"gateway-{rng.randrange(40):02d}/{created:%Y%m%dT%H%M%S}.jsonl",
            "swift_user": "datalake",
            "swift_account": "AUTH_datalake",
            "swift_container": container,
            "swift_object_id": f"{fmt or '_unformatted'}/{created:%Y/%m/%d}/{rid}",
            "sha256": sha,
            "size": size,
            "md5": hashlib.md5(sha.encode(), usedforsecurity=False).hexdigest(),
            "etag": None,
            "segments": 0,
            "dedupe": True,
            "dedupe_key": f"{fmt or '-'}:{sha}",
            "application": f"gateway-{rng.randrange(40):02d}",
            "creation_date": created,
            "last_modified": created + timedelta(seconds=rng.randrange(1, 120)),
            "lease_until": None,
            "status": state,
            "successful_operations": [],
            "failed_operations": [],
        }
        if state in ("processed", "failed"):
            outcome = {"target": "postgres", "run_id": f"raw__{created:%Y%m%dT%H%M%S}", "finished": created}
            if state == "processed":
                record["successful_operations"] = [{**outcome, "rows": rng.randrange(1, 5000), "bad_rows": 0}]
                record["processed_data_area_service"] = ["postgres"]
            else:
                record["failed_operations"] = [{**outcome, "error": "too many bad rows: 61 of 100 (max 5%)"}]
        elif state == "processing":
            record.update(
                processing_run=f"raw__{created:%Y%m%dT%H%M%S}",
                processing_started=created,
                processing_attempts=1,
                max_attempts=3,
                lease_seconds=300.0,
                lease_until=created + timedelta(seconds=300),
            )
        yield record
