"""OpenStack Swift as an Airflow hook: `SwiftClient` on an Airflow connection (``swift_default``).

Everything about uploads, reads and listings is in `swift_client`, which needs no Airflow; this hook only
reads its connection through Airflow (its metadata database, environment or secrets backend) at first use
and logs through Airflow's hook logger. Its names are re-exported here.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.bases.hook import BaseHook

from airflow_provider_datalake.hooks.airflow_errors import connection_defined
from airflow_provider_datalake.hooks.connection import ConnectionFields
from airflow_provider_datalake.hooks.swift_client import (
    PutResult,
    SwiftAuthRefused,
    SwiftClient,
    SwiftError,
    SwiftIntegrityError,
    SwiftNotFound,
    SwiftUnreachable,
    UploadAborted,
)

__all__ = [
    "PutResult",
    "SwiftAuthRefused",
    "SwiftClient",
    "SwiftError",
    "SwiftHook",
    "SwiftIntegrityError",
    "SwiftNotFound",
    "SwiftUnreachable",
    "UploadAborted",
]


class SwiftHook(SwiftClient, BaseHook):
    """`SwiftClient` on the Airflow connection ``swift_conn_id``, read when the hook is first used."""

    conn_name_attr = "swift_conn_id"
    default_conn_name = "swift_default"
    conn_type = "swift"
    hook_name = "OpenStack Swift"

    def __init__(
        self,
        swift_conn_id: str = default_conn_name,
        *,
        slo_threshold: int | None = None,
        segment_size: int | None = None,
        segment_threads: int | None = None,
    ) -> None:
        """Sizes in bytes; None takes ``slo_threshold_mb`` (256) / ``segment_size_mb`` (100) from the
        connection, and ``segment_threads`` (segments of one large object sent at once, 10) too. Nothing is
        read or contacted here, because hooks get built at DAG parse time."""
        BaseHook.__init__(self)
        SwiftClient.__init__(
            self,
            swift_conn_id,
            slo_threshold=slo_threshold,
            segment_size=segment_size,
            segment_threads=segment_threads,
        )

    @property
    def log(self) -> Any:
        """Airflow's logger of this hook."""
        return BaseHook.log.__get__(self)

    def _read_connection(self) -> ConnectionFields:
        with connection_defined(self.swift_conn_id):
            connection: ConnectionFields = self.get_connection(self.swift_conn_id)
            return connection
