"""What each gold target says it writes (its load task's outlets): named from the target alone, one asset per
table, measurement, collection, node label and relationship type."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_datalake.descriptors.loader import load_descriptor, parse_descriptor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

CUSTOM = """\
name: readings
parser: {kind: csv}
fields:
  - {name: building}
  - {name: room}
  - {name: value, type: float}
  - {name: time, type: timestamp}
targets:
  - {store: postgres, conn_id: pg.prod, schema: gold, table: readings}
  - store: influxdb
    conn_id: influx_prod
    bucket: telemetry/autogen
    measurement: readings
    tags: [building]
    fields: [value]
    time: time
  - {store: mongodb, collection: readings, database: lake}
  - store: neo4j
    database: campus
    nodes:
      - {label: Building, keys: [building]}
      - {label: Room, keys: [building, room]}
    relationships:
      - {type: HAS, from: Building, to: Room}
      - {type: HAS, from: Room, to: Room}
"""


def _assets(text: str) -> dict[str, list[tuple[str, str, str]]]:
    desc = parse_descriptor(text)
    return {t.name: [(a.uri, a.name, a.kind) for a in t.assets()] for t in desc.targets}


def test_every_store_names_what_it_writes() -> None:
    assert _assets(CUSTOM) == {
        "postgres_readings": [
            ("datalake://gold/postgres/pg.prod/gold/readings", "postgres:gold.readings@pg.prod", "table")
        ],
        "influxdb_readings": [
            (
                "datalake://gold/influxdb/influx_prod/telemetry%2Fautogen/readings",
                "influxdb:telemetry/autogen/readings@influx_prod",
                "measurement",
            )
        ],
        "mongodb_readings": [
            (
                "datalake://gold/mongodb/mongo_gold/lake/readings",
                "mongodb:lake.readings@mongo_gold",
                "collection",
            )
        ],
        "neo4j_graph": [
            (
                "datalake://gold/neo4j/neo4j_default/campus/node/Building",
                "neo4j:campus/(:Building)@neo4j_default",
                "node",
            ),
            (
                "datalake://gold/neo4j/neo4j_default/campus/node/Room",
                "neo4j:campus/(:Room)@neo4j_default",
                "node",
            ),
            (
                "datalake://gold/neo4j/neo4j_default/campus/relationship/HAS",
                "neo4j:campus/[:HAS]@neo4j_default",
                "relationship",
            ),
        ],
    }


def test_defaults_left_to_the_connection_and_templated_measurements() -> None:
    desc = load_descriptor(EXAMPLES / "neocampus_mqtt.yaml")
    assets = {t.store: t.assets() for t in desc.targets}
    (influx,) = assets["influxdb"]
    # the measurement is '{{ kind }}': the bucket as a whole, the connection's own bucket
    assert influx.uri == "datalake://gold/influxdb/influxdb_default/_default"
    assert (influx.name, influx.kind) == ("influxdb:_default/*@influxdb_default", "bucket")
    assert [a.uri for a in assets["neo4j"]] == [
        "datalake://gold/neo4j/neo4j_default/_default/node/Building",
        "datalake://gold/neo4j/neo4j_default/_default/node/Room",
        "datalake://gold/neo4j/neo4j_default/_default/node/Sensor",
        "datalake://gold/neo4j/neo4j_default/_default/relationship/HAS_ROOM",
        "datalake://gold/neo4j/neo4j_default/_default/relationship/HAS_SENSOR",
    ]
    (pg,) = assets["postgres"]
    assert pg.uri == "datalake://gold/postgres/postgres_default/public/mqtt_readings"
    assert all(a.target == t.name for t in desc.targets for a in t.assets())


def test_one_asset_has_one_name_and_one_uri() -> None:
    """Airflow keeps an asset active only while no other asset shares its name or its URI."""
    desc = load_descriptor(EXAMPLES / "neocampus_mqtt.yaml")
    other = parse_descriptor(CUSTOM)
    assets = [a for d in (desc, other) for t in d.targets for a in t.assets()]
    assert len({a.uri for a in assets}) == len({a.name for a in assets}) == len(assets)
