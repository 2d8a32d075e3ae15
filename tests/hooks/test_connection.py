"""Connections read from AIRFLOW_CONN_* without Airflow: both forms, their edge cases, and what is refused.

Pure and fast: no server. The last test holds the parser to Airflow's own (the Task SDK's Connection, which
gives the hooks their connections) on every value the others accept.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_datalake.hooks.connection import (
    ConnectionParseError,
    EnvConnection,
    env_var,
    from_environment,
    parse_connection,
)

SECRET = "s3cr3t-Pa55"


def fields(conn: EnvConnection) -> dict[str, Any]:
    """What a hook reads, with the extra decoded."""
    return {
        "conn_type": conn.conn_type,
        "host": conn.host,
        "login": conn.login,
        "password": conn.password,
        "schema": conn.schema,
        "port": conn.port,
        "extra": conn.extra_dejson,
    }


#: (value, the fields it gives), each as Airflow reads it; `test_same_as_airflow` checks them all.
ACCEPTED: dict[str, tuple[str, dict[str, Any]]] = {
    "json": (
        '{"conn_type": "swift", "host": "127.0.0.1", "port": 18080, "login": "test:tester", '
        f'"password": "{SECRET}", "extra": {{"slo_threshold_mb": 1, "insecure": false}}}}',
        {
            "conn_type": "swift",
            "host": "127.0.0.1",
            "login": "test:tester",
            "password": SECRET,
            "schema": None,
            "port": 18080,
            "extra": {"slo_threshold_mb": 1, "insecure": False},
        },
    ),
    "json extra as a string": (
        '{"conn_type": "mongo", "host": "h", "schema": "datalake", "extra": "{\\"srv\\": false}"}',
        {
            "conn_type": "mongo",
            "host": "h",
            "login": None,
            "password": None,
            "schema": "datalake",
            "port": None,
            "extra": {"srv": False},
        },
    ),
    "json port as a string, type with a dash": (
        '{"conn_type": "my-swift", "host": "h", "port": "8080"}',
        {
            "conn_type": "my_swift",
            "host": "h",
            "login": None,
            "password": None,
            "schema": None,
            "port": 8080,
            "extra": {},
        },
    ),
    "json empty port, type and extra count as absent": (
        '  {"conn_type": "", "host": "h", "port": 0, "extra": {}, "description": "d"}\n',
        {
            "conn_type": None,
            "host": "h",
            "login": None,
            "password": None,
            "schema": None,
            "port": None,
            "extra": {},
        },
    ),
    "json postgresql": (
        '{"conn_type": "postgresql", "host": "h"}',
        {
            "conn_type": "postgres",
            "host": "h",
            "login": None,
            "password": None,
            "schema": None,
            "port": None,
            "extra": {},
        },
    ),
    "uri percent-encoded": (
        "swift-tempauth://test%3Atester:p%40ss%2Fw%3Ard%20x@Swift.Example:8080/my%20db",
        {
            "conn_type": "swift_tempauth",
            "host": "swift.example",
            "login": "test:tester",
            "password": "p@ss/w:rd x",
            "schema": "my db",
            "port": 8080,
            "extra": {},
        },
    ),
    "uri __extra__": (
        "mongo://u:pw@127.0.0.1:27018/datalake?__extra__="
        "%7B%22srv%22%3A+false%2C+%22serverSelectionTimeoutMS%22%3A+5000%7D",
        {
            "conn_type": "mongo",
            "host": "127.0.0.1",
            "login": "u",
            "password": "pw",
            "schema": "datalake",
            "port": 27018,
            "extra": {"srv": False, "serverSelectionTimeoutMS": 5000},
        },
    ),
    "uri query params are the extra, as strings": (
        "swift://h?auth_version=3&project_name=lake&insecure=true&region_name=&x=%7B%22a%22%3A1%7D",
        {
            "conn_type": "swift",
            "host": "h",
            "login": None,
            "password": None,
            "schema": "",
            "port": None,
            "extra": {
                "auth_version": "3",
                "project_name": "lake",
                "insecure": "true",
                "region_name": "",
                "x": '{"a":1}',
            },
        },
    ),
    "uri without port, host or path": (
        "mongo://",
        {
            "conn_type": "mongo",
            "host": "",
            "login": None,
            "password": None,
            "schema": "",
            "port": None,
            "extra": {},
        },
    ),
    "uri login without password": (
        "swift://alice@h:5000",
        {
            "conn_type": "swift",
            "host": "h",
            "login": "alice",
            "password": None,
            "schema": "",
            "port": 5000,
            "extra": {},
        },
    ),
    "uri host with its own scheme": (
        "swift://https://test%3Atester:pw@Swift.Example:443/auth",
        {
            "conn_type": "swift",
            "host": "https://swift.example",
            "login": "test:tester",
            "password": "pw",
            "schema": "auth",
            "port": 443,
            "extra": {},
        },
    ),
    "uri encoded slash in the host": (
        "mongo://%2Ftmp%2FSock:1/db",
        {
            "conn_type": "mongo",
            "host": "/tmp/Sock",
            "login": None,
            "password": None,
            "schema": "db",
            "port": 1,
            "extra": {},
        },
    ),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_accepted_values(case: str) -> None:
    value, expected = ACCEPTED[case]
    conn = parse_connection("some_id", value)
    assert conn.conn_id == "some_id"
    assert fields(conn) == expected


def test_json_extra_string_and_dict_read_the_same() -> None:
    as_dict = parse_connection("c", '{"conn_type": "swift", "extra": {"a": 1, "b": [1, 2]}}')
    as_text = parse_connection("c", json.dumps({"conn_type": "swift", "extra": '{"a": 1, "b": [1, 2]}'}))
    assert as_dict.extra_dejson == as_text.extra_dejson == {"a": 1, "b": [1, 2]}


def test_extra_dejson_is_a_new_dict_each_time() -> None:
    conn = parse_connection("c", '{"extra": {"srv": false}}')
    conn.extra_dejson.pop("srv")  # MongoHook pops from it
    assert conn.extra_dejson == {"srv": False}


def test_the_repr_hides_the_password_and_the_extra() -> None:
    value = {"login": "u", "password": SECRET, "extra": {"token": SECRET}}
    conn = parse_connection("c", json.dumps(value))
    assert SECRET not in repr(conn) and "login='u'" in repr(conn)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('{"conn_type": "swift", "uri": "swift://h"}', "unknown key(s) 'uri'"),
        ('{"conn_id": "x"}', "unknown key(s) 'conn_id'"),
        ('{"host": "h",}', "not valid JSON"),
        ('{"extra": [1, 2]}', "extra is a list"),
        ('{"extra": "not json"}', "extra is not JSON"),
        ('{"extra": "[1]"}', "extra is not a JSON object"),
        ('{"port": "80a"}', "port is not an integer"),
        ('{"port": 80.5}', "port is a float"),
        ('{"login": 12}', "login is a int"),
        ("swift://h:80a", "not a valid URI"),
        ("swift://h:99999", "not a valid URI"),
        ("swift://[::1/x", "not a valid URI"),
        ("host:8080", "neither a JSON object nor a URI"),
        ("a://b://c://d", "neither a JSON object nor a URI"),
        ("swift://u:p@https:x://h", "the host's scheme holds '@' or ':'"),
        ("mongo://h?__extra__=%5B1%5D", "__extra__ is not a JSON object"),
        ("mongo://h?__extra__=nope", "__extra__ is not JSON"),
    ],
)
def test_refused_values_say_why(value: str, reason: str) -> None:
    with pytest.raises(ConnectionParseError) as err:
        parse_connection("c", value)
    assert reason in str(err.value)


def test_from_environment_reads_the_variable_of_the_id() -> None:
    assert env_var("swift_default") == "AIRFLOW_CONN_SWIFT_DEFAULT"
    env = {"AIRFLOW_CONN_MY_CONN": "swift://h:1", "AIRFLOW_CONN_EMPTY": ""}
    conn = from_environment("my_conn", env)
    assert conn is not None and (conn.conn_id, conn.host, conn.port) == ("my_conn", "h", 1)
    assert from_environment("other", env) is None
    assert from_environment("empty", env) is None  # Airflow too: an empty value is no connection


def test_a_refused_variable_is_named_and_its_value_not_shown() -> None:
    env = {"AIRFLOW_CONN_BAD": f'{{"password": "{SECRET}", "extra": [1]}}'}
    with pytest.raises(ConnectionParseError) as err:
        from_environment("bad", env)
    assert str(err.value) == "AIRFLOW_CONN_BAD: extra is a list, not an object"
    env = {"AIRFLOW_CONN_BAD": f'{{"password": "{SECRET}" "x"}}'}
    with pytest.raises(ConnectionParseError) as err:
        from_environment("bad", env)
    assert SECRET not in str(err.value) and "not valid JSON" in str(err.value)


def test_same_as_airflow() -> None:
    """Every accepted value, read by the Task SDK's Connection: the same fields (imports Airflow)."""
    from airflow.sdk.definitions.connection import Connection

    for case, (value, _) in ACCEPTED.items():
        stripped = value.strip()
        if stripped.startswith("{"):
            theirs = Connection.from_json(stripped, conn_id="some_id")
        else:
            theirs = Connection.from_uri(stripped, conn_id="some_id")
        ours = parse_connection("some_id", value)
        for name in ("conn_type", "host", "login", "password", "schema", "port"):
            assert getattr(ours, name) == getattr(theirs, name), (case, name)
        assert ours.extra_dejson == theirs.extra_dejson, case
