"""Swift and the catalog for a connection id, with Airflow only when Airflow is needed to read it.

A connection given in the environment (``AIRFLOW_CONN_<CONN_ID>``, JSON or URI) is read here as Airflow
would read it (`connection`), and the Airflow-free cores serve it: `SwiftClient`, and `CatalogClient` (the
catalog on a pymongo client made as MongoHook makes it). Importing Airflow costs seconds, more than a small
insert; these paths skip it. Any other connection, and any environment value this package does not read
(Airflow may read it otherwise, or look further), is Airflow's: `SwiftHook` and `CatalogHook` then behave
as they always do (metadata database, secrets backend, "isn't defined").

`ConnectionSource` says which it was, for a command's ``-v``. This module imports the stores' clients and
Airflow only when it builds one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_datalake.hooks.connection import (
    ConnectionParseError,
    EnvConnection,
    env_var,
    from_environment,
)

if TYPE_CHECKING:
    from airflow_provider_datalake.hooks.swift_client import SwiftClient
    from datalake_catalog.catalog import Catalog

AIRFLOW = "Airflow (metadata database / secrets backend)"
#: In a connection id, what Airflow's multi-team mode reads as a team's namespace: left to Airflow.
_TEAM_SEPARATOR = "___"


@dataclass(frozen=True)
class ConnectionSource:
    """Where connection ``conn_id`` is read from: ``connection`` when the environment gives it, else None
    (Airflow reads it), with ``note`` saying why an environment value was left to Airflow."""

    conn_id: str
    connection: EnvConnection | None = field(default=None, repr=False)
    note: str | None = None

    def describe(self) -> str:
        """One line for a human, never a secret: ``environment (AIRFLOW_CONN_SWIFT_DEFAULT)``, or
        ``Airflow (metadata database / secrets backend)`` and why the environment's value was not used."""
        if self.connection is not None:
            return f"environment ({env_var(self.conn_id)})"
        return f"{AIRFLOW}; {self.note}" if self.note else AIRFLOW


def _locate(conn_id: str, unsupported: Callable[[EnvConnection], str | None]) -> ConnectionSource:
    if _TEAM_SEPARATOR in conn_id:
        return ConnectionSource(conn_id)
    try:
        conn = from_environment(conn_id)
    except ConnectionParseError as exc:
        return ConnectionSource(conn_id, note=f"{exc}: left to Airflow")
    if conn is None:
        return ConnectionSource(conn_id)
    if why := unsupported(conn):
        return ConnectionSource(conn_id, note=f"{env_var(conn_id)}: {why}: left to Airflow")
    return ConnectionSource(conn_id, conn)


def locate_swift(conn_id: str) -> ConnectionSource:
    """Where Swift connection ``conn_id`` is read from (nothing is built or imported)."""
    return _locate(conn_id, lambda _conn: None)


def _mongo_unsupported(conn: EnvConnection) -> str | None:
    """Why MongoHook would refuse this connection (it raises then), or None."""
    if conn.conn_type != "mongo":
        return f"conn_type {conn.conn_type!r} is not 'mongo'"
    if conn.port and conn.extra_dejson.get("srv"):
        return "an SRV connection has no port"
    return None


def locate_catalog(conn_id: str) -> ConnectionSource:
    """Where catalog connection ``conn_id`` is read from; a connection MongoHook would refuse is left to
    it, to refuse as it does."""
    return _locate(conn_id, _mongo_unsupported)


def _mask(conn: EnvConnection) -> None:
    """In a process that runs Airflow (a task), hide the connection's secrets from its logs, as Airflow
    does for the connections it reads; elsewhere there are no such logs, and Airflow is not imported."""
    log = sys.modules.get("airflow.sdk.log")
    if log is not None:
        if conn.password:
            log.mask_secret(conn.password)
        if conn.extra:
            log.mask_secret(conn.extra_dejson)


def open_swift(source: ConnectionSource) -> SwiftClient:
    """The Swift client of ``source``: `SwiftClient` on the environment's connection, else `SwiftHook`."""
    if source.connection is not None:
        from airflow_provider_datalake.hooks.swift_client import SwiftClient

        _mask(source.connection)
        return SwiftClient(source.conn_id, source.connection)
    from airflow_provider_datalake.hooks.swift import SwiftHook

    return SwiftHook(source.conn_id)


def open_catalog(source: ConnectionSource, database: str | None = None) -> Catalog:
    """The catalog of ``source``: `CatalogClient` on the environment's connection, else `CatalogHook`."""
    if source.connection is not None:
        from airflow_provider_datalake.hooks.catalog_client import CatalogClient

        _mask(source.connection)
        return CatalogClient(source.connection, database)
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    return CatalogHook(source.conn_id, database)


def swift_for(conn_id: str) -> SwiftClient:
    """The Swift client of connection ``conn_id`` (see the module's docstring for which)."""
    return open_swift(locate_swift(conn_id))


def catalog_for(conn_id: str, database: str | None = None) -> Catalog:
    """The catalog of connection ``conn_id`` (see the module's docstring for which)."""
    return open_catalog(locate_catalog(conn_id), database)
