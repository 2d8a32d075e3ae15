"""The plugin's REST API, called on the stack's running Airflow API server with real logins: ``admin``,
``operator`` (Airflow's op role) and ``viewer``, whose passwords the stack's env file exports."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_datalake.airflow_rest import AirflowRest, AirflowRestError

API = "/datalake/api/v1"


def base_url() -> str:
    base = os.environ.get("AIRFLOW__API__BASE_URL")
    if not base:
        pytest.fail("AIRFLOW__API__BASE_URL is not set: run `make stack-up` (it writes .stack/env)")
    return base


def token(user: str) -> str:
    try:
        found = AirflowRest.from_env(user).token()
    except AirflowRestError as exc:
        pytest.fail(f"cannot log in to Airflow as {user}: {exc} (is the stack's Airflow up? `make stack-up`)")
    if found is None:
        pytest.fail(f"DATALAKE_AIRFLOW_{user.upper()}_PASSWORD is not set: run `make stack-up`")
    return found


def client(user: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token(user)}"} if user else {}
    return httpx.Client(base_url=base_url() + API, headers=headers, timeout=120)


@pytest.fixture(scope="session")
def admin() -> Iterator[httpx.Client]:
    with client("admin") as c:
        yield c


@pytest.fixture(scope="session")
def operator() -> Iterator[httpx.Client]:
    with client("operator") as c:
        yield c


@pytest.fixture(scope="session")
def viewer() -> Iterator[httpx.Client]:
    with client("viewer") as c:
        yield c


@pytest.fixture(scope="session")
def anonymous() -> Iterator[httpx.Client]:
    with client(None) as c:
        yield c


@pytest.fixture
def container() -> Iterator[str]:
    """A container of the stack's raw zone for one test; its objects and records are removed afterwards."""
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.hooks.swift import SwiftHook, SwiftNotFound

    name = f"test-api-{uuid.uuid4().hex[:10]}"
    yield name
    catalog = CatalogHook()
    catalog.raw_objects.delete_many({"swift_container": name})
    swift = SwiftHook()
    for cont in (name, f"{name}_segments"):
        try:
            for obj in list(swift.list_objects(cont)):
                swift.delete_object(cont, obj["name"], missing_ok=True)
            swift.get_conn().delete_container(cont)
        except SwiftNotFound:
            pass


def upload(c: httpx.Client, data: Any, container: str, name: str, **params: Any) -> httpx.Response:
    return c.post("/objects", params={"name": name, "container": container, **params}, content=data)
