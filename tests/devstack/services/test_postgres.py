"""PostgreSQL (devstack/services/postgres.py): the gold zone's role and database."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.stack


def test_postgres_accepts_the_datalake_role(postgres_conn: dict) -> None:
    with psycopg.connect(
        host=postgres_conn["host"],
        port=postgres_conn["port"],
        user=postgres_conn["login"],
        password=postgres_conn["password"],
        dbname=postgres_conn["schema"],
        connect_timeout=5,
    ) as conn:
        assert conn.execute("select current_user, current_database()").fetchone() == ("datalake", "datalake")
