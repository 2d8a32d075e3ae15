"""The hooks' errors where Airflow looks connections up: its "isn't defined", typed.

Only the Airflow hooks import this module (it imports Airflow); the errors themselves are in `errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_datalake.hooks.errors import ConnectionNotDefined


class AirflowConnectionNotDefined(ConnectionNotDefined, AirflowNotFoundException):
    """Airflow knows no connection with this id: a `ConnectionNotDefined` for the package's callers, and
    the `AirflowNotFoundException` that callers of Airflow hooks catch."""


@contextmanager
def connection_defined(conn_id: str) -> Iterator[None]:
    """Airflow's "isn't defined" for ``conn_id`` becomes `AirflowConnectionNotDefined`."""
    try:
        yield
    except AirflowNotFoundException as err:
        if isinstance(err, ConnectionNotDefined):
            raise
        raise AirflowConnectionNotDefined(conn_id) from err
