"""What the benchmarks share: the stack's connections, the raw baseline clients, cleanup, measures.

Only the standard library is imported at module level, so that a benchmark's worker process can measure its
own import footprint.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import swiftclient
    from pymongo import MongoClient

MB = 1_000_000  # figures are printed in decimal megabytes
SWIFT_RETRIES = 2  # as SwiftHook, so the baseline client is configured alike
SWIFT_TIMEOUT = 60.0


def conn_json(conn_id: str) -> dict[str, Any]:
    """A connection of the stack, as Airflow reads it from ``AIRFLOW_CONN_<ID>``."""
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not raw:
        raise SystemExit(
            f"AIRFLOW_CONN_{conn_id.upper()} is not set: run `make bench`, or load the stack's env first "
            "(`set -a && . .stack/env && set +a`)"
        )
    conn: dict[str, Any] = json.loads(raw)
    return conn


def swift_auth() -> dict[str, str]:
    """TempAuth v1 credentials of ``swift_default`` (what the local stack uses)."""
    conn = conn_json("swift_default")
    version = str((conn.get("extra") or {}).get("auth_version") or "1.0").lower().removeprefix("v")
    if version not in ("1", "1.0"):
        raise SystemExit(f"the benchmark baseline speaks TempAuth v1 only, not auth_version {version!r}")
    host = str(conn["host"])
    base = host.rstrip("/") if "://" in host else f"http://{host}:{conn.get('port') or 80}"
    return {
        "authurl": f"{base}/auth/v1.0",
        "user": conn.get("login") or "",
        "key": conn.get("password") or "",
    }


def swift_connection() -> swiftclient.Connection:
    import swiftclient

    auth = swift_auth()
    return swiftclient.Connection(
        **auth, auth_version="1.0", retries=SWIFT_RETRIES, timeout=SWIFT_TIMEOUT, starting_backoff=0.5
    )


def swift_service_options(**extra: Any) -> dict[str, Any]:
    """Options for ``swiftclient.service.SwiftService`` (the library behind the ``swift`` CLI)."""
    auth = swift_auth()
    return {
        "auth": auth["authurl"],
        "user": auth["user"],
        "key": auth["key"],
        "auth_version": "1.0",
        "retries": SWIFT_RETRIES,
        **extra,
    }


def mongo_client() -> MongoClient[dict[str, Any]]:
    """A plain pymongo client on the catalog's server (``mongo_default``)."""
    from pymongo import MongoClient

    conn = conn_json("mongo_default")
    extra = conn.get("extra") or {}
    options = {key: value for key, value in extra.items() if key.endswith("MS")}
    if str(extra.get("ssl") or extra.get("tls") or "").lower() == "true":
        options["tls"] = True
    return MongoClient(
        host=conn["host"],
        port=int(conn.get("port") or 27017),
        username=conn.get("login") or None,
        password=conn.get("password") or None,
        **options,
    )


def delete_swift(container: str, objects: list[str] | None = None) -> list[str]:
    """Delete objects (SLO segments included), or a whole container with its objects; return the errors.

    A missing container or object is not an error: cleanup runs whatever state a failed run left.
    """
    from swiftclient.service import SwiftError, SwiftService

    errors = []
    with SwiftService(options=swift_service_options()) as service:
        try:
            service.stat(container=container)
        except SwiftError:  # the container is absent
            return []
        for res in service.delete(container=container, objects=objects):
            if not res["success"] and getattr(res.get("error"), "http_status", None) != 404:
                errors.append(f"{container}/{res.get('object') or ''}: {res.get('error')}")
    return errors


def drop_containers(containers: list[str], attempts: int = 3) -> None:
    """Delete the bench's containers and their ``_segments``, retrying a little: a concurrent test run may
    be restarting the Swift proxy. What could not be deleted is named on stderr."""
    errors: list[str] = []
    for attempt in range(attempts):
        if attempt:
            time.sleep(5)
        errors = [e for c in containers for name in (c, f"{c}_segments") for e in delete_swift(name)]
        if not errors:
            return
    say(f"cleanup: {len(errors)} deletes failed, delete by hand: " + "; ".join(errors[:5]))


def vmhwm_bytes() -> int:
    """Peak resident set size of this process so far (``VmHWM``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send whatever writes to fd 1 (Airflow's log lines included) to stderr, so stdout keeps the table."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def quiet_logs() -> None:
    """Airflow logs every hook call at INFO; keep warnings (a failed rollback is worth seeing)."""
    import logging

    logging.disable(logging.INFO)
    # SwiftService logs each failure with its traceback, and also returns it, which is what we check.
    logging.getLogger("swiftclient.service").setLevel(logging.CRITICAL)


def human_size(size: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def say(message: str) -> None:
    """Progress, on stderr."""
    print(message, file=sys.stderr, flush=True)


def campus_mqtt_under(raw: dict[str, Any], prefix: str, tag: str) -> dict[str, Any]:
    """``examples/neocampus_mqtt.yaml`` (loaded as ``raw``) renamed so that a run touches only names of its
    own: format ``<prefix>_<tag>``, its PostgreSQL schema, InfluxDB measurement, MongoDB collection and
    Neo4j labels and relationship types. Used by the soak and by the fault matrix."""
    raw["name"], raw["match"] = f"{prefix}_{tag}", {}
    pg, influx, mongo, neo = raw["targets"]
    pg["schema"] = f"{prefix}_{tag}"
    influx["measurement"] = f"{prefix}_{tag}_{{{{ kind }}}}"
    mongo["collection"] = f"{prefix}_{tag}"
    for node in neo["nodes"]:
        node["label"] = f"{node['label']}_{tag}"
    for rel in neo["relationships"]:
        rel.update({k: f"{rel[k]}_{tag}" for k in ("from", "to")}, type=f"{rel['type']}_{tag}")
    return raw
