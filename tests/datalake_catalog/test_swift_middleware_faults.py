"""The catalogue middleware when something dies, in the stack's real Swift proxy: the catalog stopped during a
PUT (refused with 503, nothing stored), and the proxy itself SIGKILLed in the middle of a body (its pending
record is what lets reconcile settle it: afterwards no orphan object, no dangling record)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.stack

STACK_PY = REPO / "devstack" / "stack.py"


def _stack(*args: str) -> None:
    proc = subprocess.run([sys.executable, str(STACK_PY), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _records(container: str) -> list[dict]:
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    return list(CatalogHook().raw_objects.find({"swift_container": container}))


def _proxy_pid() -> int:
    stack_dir = Path(os.environ.get("DATALAKE_STACK_DIR") or REPO / ".stack")
    return int((stack_dir / "run" / "swift-proxy.pid").read_text().split()[0])


def test_a_put_while_the_catalog_is_down_is_refused_and_stores_nothing(
    container: str, auth: tuple[str, str]
) -> None:
    url, token = auth
    h = {"X-Auth-Token": token}
    assert httpx.put(f"{url}/{container}", headers=h).status_code in (201, 202)
    try:
        _stack("down", "ferretdb")
        resp = httpx.put(f"{url}/{container}/while-down.csv", headers=h, content=b"a,b\n1,2\n", timeout=120)
        assert resp.status_code == 503, resp.text
        assert "catalog is unreachable" in resp.text
        assert httpx.head(f"{url}/{container}/while-down.csv", headers=h).status_code == 404
    finally:
        _stack("up", "mongo")
    assert _records(container) == []
    # and once the catalog is back, the same PUT goes through and is catalogued
    assert httpx.put(f"{url}/{container}/while-down.csv", headers=h, content=b"a,b\n1,2\n").status_code == 201
    (rec,) = _records(container)
    assert rec["status"] == "committed"


def test_a_proxy_killed_mid_body_leaves_nothing_once_reconciled(
    container: str, auth: tuple[str, str]
) -> None:
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.ingest.reconcile import reconcile

    url, token = auth
    h = {"X-Auth-Token": token}
    assert httpx.put(f"{url}/{container}", headers=h).status_code in (201, 202)
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    try:
        sock.sendall(
            f"PUT {parts.path}/{container}/cut.bin HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"X-Auth-Token: {token}\r\nContent-Length: {8 << 20}\r\n\r\n".encode()
        )
        sock.sendall(os.urandom(1 << 20))
        deadline = time.monotonic() + 30
        while not _records(container):  # the pending record is written before the body goes down
            assert time.monotonic() < deadline, "no pending record for the PUT in flight"
            time.sleep(0.05)
        (pending,) = _records(container)
        assert pending["status"] == "pending" and pending["lease_until"] is not None
        try:
            os.kill(_proxy_pid(), signal.SIGKILL)
        finally:
            _stack("up", "swift")
    finally:
        sock.close()
    # The record outlives the proxy: nothing is lost track of. Once its lease is over, reconcile settles it.
    assert [r["_id"] for r in _records(container)] == [pending["_id"]]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)  # past the middleware's lease
    report = reconcile(catalog=CatalogHook(), containers=[container], now=later)
    assert _records(container) == [] and report.orphans == []
    assert httpx.head(f"{url}/{container}/cut.bin", headers=h).status_code == 404
    listing = httpx.get(f"{url}/{container}", headers=h, params={"format": "json"})
    assert listing.status_code == 200 and listing.json() == []
