"""The datalake:// asset URIs: one segment per name whatever it holds, and malformed URIs refused as the
Asset is made (the provider's handler, registered through its provider info)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from airflow.sdk import Asset

from airflow_provider_datalake.asset_uris import gold_uri, raw_uri, sanitize_uri, unformatted_uri


def test_each_name_is_one_quoted_segment() -> None:
    assert raw_uri("neocampus_mqtt") == "datalake://raw/neocampus_mqtt"
    assert (
        unformatted_uri("datalake_unknown_formats") == "datalake://raw/_unformatted/datalake_unknown_formats"
    )
    assert gold_uri("influxdb", "influx.prod", "telemetry/autogen", "co2") == (
        "datalake://gold/influxdb/influx.prod/telemetry%2Fautogen/co2"
    )
    assert gold_uri("neo4j", "neo4j_default", "my db", "node", "Room?#") == (
        "datalake://gold/neo4j/neo4j_default/my%20db/node/Room%3F%23"
    )


def test_a_gold_uri_needs_every_name() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        gold_uri("postgres", "postgres_default", "public", "")
    with pytest.raises(ValueError, match="non-empty"):
        gold_uri("postgres", "", "public", "t")


@pytest.mark.parametrize(
    "uri",
    [
        "datalake://raw/fmt_a",
        "datalake://raw/_unformatted/datalake_unknown_formats",
        "datalake://gold/postgres/postgres_default/public/readings",
        "datalake://gold/influxdb/influxdb_default/_default/co2",
        "datalake://gold/influxdb/influxdb_default/telemetry%2Fautogen",
        "datalake://gold/mongodb/mongo_gold/datalake_gold/messages",
        "datalake://gold/neo4j/neo4j_default/_default/node/Room",
        "datalake://gold/neo4j/neo4j_default/campus/relationship/HAS_ROOM",
    ],
)
def test_the_forms_we_make_are_kept_as_they_are(uri: str) -> None:
    assert sanitize_uri(urlsplit(uri)).geturl() == uri
    assert Asset(uri=uri).uri == uri  # through Airflow, with our handler


def test_quoting_is_normalised_so_one_asset_has_one_uri() -> None:
    assert (
        sanitize_uri(urlsplit("datalake://GOLD/influxdb/c/db%2fret/m")).geturl()
        == "datalake://gold/influxdb/c/db%2Fret/m"
    )
    assert sanitize_uri(urlsplit("datalake://raw/a%5Fb")).geturl() == "datalake://raw/a_b"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("datalake://raw", "needs a path"),
        ("datalake://silver/fmt", "raw/... or datalake://gold"),
        ("datalake://raw/a/b", "a raw asset is"),
        ("datalake://raw/fmt?x=1", "no query"),
        ("datalake://user:pw@raw/fmt", "no user"),
        ("datalake://raw:8080/fmt", "no user, password nor port"),
        ("datalake://gold/postgres//public/t", "empty segment"),
        ("datalake://gold/postgres/c/%20/t", "empty segment"),
        ("datalake://gold/oracle/c/s/t", "unknown gold store"),
        ("datalake://gold/postgres/c/t", "<conn id>/<schema>/<table>"),
        ("datalake://gold/mongodb/c/db/coll/extra", "<database>/<collection>"),
        ("datalake://gold/influxdb/c", "<bucket>"),
        ("datalake://gold/neo4j/c/db/Room", "node|relationship"),
        ("datalake://gold/neo4j/c/db/label/Room", "node|relationship"),
    ],
)
def test_malformed_uris_are_refused(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("|", r"\|").replace("?", r"\?")):
        sanitize_uri(urlsplit(uri))


def test_airflow_refuses_a_malformed_asset_when_it_is_made() -> None:
    with pytest.raises(ValueError, match="unknown gold store"):
        Asset(uri="datalake://gold/oracle/c/s/t")
