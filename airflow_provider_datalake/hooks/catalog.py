"""The catalog as an Airflow hook: `datalake_catalog.catalog.Catalog` on the official MongoHook's connection
(``mongo_default``; database = the connection's schema). Everything about records and their state machine
is in `datalake_catalog.catalog`, shared with the Swift proxy's middleware; its names are re-exported here.
The same catalog without Airflow, on a connection read from the environment, is `catalog_client`.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.mongo.hooks.mongo import MongoHook
from pymongo import MongoClient

from airflow_provider_datalake.hooks.airflow_errors import connection_defined
from datalake_catalog.catalog import (
    CONTAINERS_COMPLETE,
    COUNT_CAP,
    DEFAULT_DATABASE,
    INDEXES,
    LOCK_TTL,
    RAW_CONTAINERS,
    RAW_OBJECTS,
    RECORD_LOCKS,
    RETIRED_INDEXES,
    TRANSITIONS,
    VISIBLE,
    Catalog,
    Status,
    dedupe_key,
    is_duplicate_key,
    utcnow,
)
from datalake_catalog.errors import (
    CatalogAuthRefused,
    CatalogError,
    CatalogUnreachable,
    DuplicateContent,
    InvalidTransition,
)

__all__ = [
    "CONTAINERS_COMPLETE",
    "COUNT_CAP",
    "DEFAULT_DATABASE",
    "INDEXES",
    "LOCK_TTL",
    "RAW_CONTAINERS",
    "RAW_OBJECTS",
    "RECORD_LOCKS",
    "RETIRED_INDEXES",
    "TRANSITIONS",
    "VISIBLE",
    "CatalogAuthRefused",
    "CatalogError",
    "CatalogHook",
    "CatalogUnreachable",
    "DuplicateContent",
    "InvalidTransition",
    "Status",
    "dedupe_key",
    "is_duplicate_key",
    "utcnow",
]


class CatalogHook(Catalog, MongoHook):  # type: ignore[misc]  # Catalog's find/count, not MongoHook's generic ones
    """Raw-object records on the official MongoHook (connection ``mongo_default``; database = its schema)."""

    hook_name = "Datalake catalog (MongoDB)"

    def __init__(self, mongo_conn_id: str = "mongo_default", database: str | None = None) -> None:
        with connection_defined(mongo_conn_id):  # MongoHook reads the connection here
            MongoHook.__init__(self, mongo_conn_id=mongo_conn_id)
        Catalog.__init__(
            self, None, database or self.connection.schema or DEFAULT_DATABASE, name=mongo_conn_id
        )

    @property
    def pymongo_client(self) -> MongoClient[dict[str, Any]]:
        """MongoHook's client, made at first use from the Airflow connection."""
        return self.get_conn()
