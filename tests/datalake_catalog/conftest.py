"""Fixtures of the catalogue middleware's tests on the stack's real Swift proxy."""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import conn_json


@pytest.fixture(scope="module")
def auth() -> tuple[str, str]:
    """(storage URL, token) of the stack's TempAuth user."""
    conn = conn_json("swift_default")
    resp = httpx.get(
        f"http://{conn['host']}:{conn['port']}/auth/v1.0",
        headers={"X-Auth-User": conn["login"], "X-Auth-Key": conn["password"]},
    )
    if resp.status_code != 200:
        pytest.fail(
            f"Swift's TempAuth refused the stack's user ({resp.status_code}): is `make stack-up` done?"
        )
    return resp.headers["X-Storage-Url"], resp.headers["X-Auth-Token"]


@pytest.fixture
def container(auth: tuple[str, str]) -> Iterator[str]:
    """A fresh container (and bucket) of the raw zone; its objects, segments and records go afterwards."""
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    name = f"test-mw-{uuid.uuid4().hex[:8]}"
    yield name
    url, token = auth
    # httpx's 5-second default is short for a Swift busy with another workload (a soak)
    swift = httpx.Client(headers={"X-Auth-Token": token}, timeout=60)
    for cont in (name, f"{name}_segments", f"{name}+segments"):
        listing = swift.get(f"{url}/{cont}", params={"format": "json"})
        if listing.status_code == 200:
            for obj in listing.json():
                swift.delete(
                    f"{url}/{cont}/{urllib.parse.quote(obj['name'])}", params={"multipart-manifest": "delete"}
                )
            swift.delete(f"{url}/{cont}")
    swift.close()
    CatalogHook().raw_objects.delete_many({"swift_container": name})
