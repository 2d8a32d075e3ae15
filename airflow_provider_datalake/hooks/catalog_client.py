"""The catalog on a connection's fields, without Airflow: `datalake_catalog.catalog.Catalog` on a pymongo
client made from the connection as Airflow's MongoHook makes it (same URI, same client options), so a
connection means the same server, database and settings whether Airflow read it or not.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote_plus, urlunsplit

from pymongo import MongoClient

from airflow_provider_datalake.hooks.connection import ConnectionFields
from datalake_catalog.catalog import DEFAULT_DATABASE, Catalog


def client_arguments(conn: ConnectionFields) -> tuple[str, dict[str, Any]]:
    """The URI and keyword options of the pymongo client MongoHook makes for this connection.

    The extra holds MongoClient options, except ``srv`` (the ``mongodb+srv`` scheme) and
    ``allow_insecure``, which with TLS on (``ssl`` or ``tls``) accepts any certificate.
    """
    options = conn.extra_dejson
    scheme = "mongodb+srv" if options.pop("srv", False) else "mongodb"
    netloc = conn.host
    if conn.login is not None and conn.password is not None:
        netloc = f"{quote_plus(conn.login)}:{quote_plus(conn.password)}@{netloc}"
    if conn.port:
        netloc = f"{netloc}:{conn.port}"
    uri = urlunsplit((scheme, netloc, f"/{conn.schema}" if conn.schema else "", "", ""))
    allow_insecure = str(options.pop("allow_insecure", "false")).lower() == "true"
    tls = any(str(options.get(key, "false")).lower() == "true" for key in ("ssl", "tls"))
    if tls and allow_insecure:
        options.pop("ssl", None)
        options["tlsAllowInvalidCertificates"] = True
    return uri, options


class CatalogClient(Catalog):
    """`Catalog` on connection ``conn``'s server (database: ``database``, else the connection's schema,
    else ``datalake``). The pymongo client is made at first use, as the hook's is. Which connections
    MongoHook refuses (another ``conn_type``, an SRV one with a port) is `connect`'s to check."""

    def __init__(self, conn: ConnectionFields, database: str | None = None) -> None:
        super().__init__(None, database or conn.schema or DEFAULT_DATABASE, name=conn.conn_id)
        self.connection = conn
        self.mongo_conn_id = conn.conn_id
        self._client_lock = threading.Lock()

    @property
    def pymongo_client(self) -> MongoClient[dict[str, Any]]:
        """The client (thread-safe, pooled), made once."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    uri, options = client_arguments(self.connection)
                    self._client = MongoClient(uri, **options)
        client: MongoClient[dict[str, Any]] = self._client
        return client

    def close(self) -> None:
        """Close the client, if one was made."""
        if self._client is not None:
            self._client.close()
            self._client = None
