"""The ``datalake://`` asset URIs: what the raw zone and the gold targets are called in Airflow's asset graph.

Raw objects of a format are ``datalake://raw/<format>`` (the format DAG's schedule); objects nobody described
are ``datalake://raw/_unformatted/<dag id>``. What a load task writes is a gold asset, named by store,
connection id and the store's own names, so two descriptors writing one table declare one asset, and no
connection is looked up while a DAG file is parsed:

- ``datalake://gold/postgres/<conn id>/<schema>/<table>``
- ``datalake://gold/influxdb/<conn id>/<bucket>/<measurement>``, or ``.../<bucket>`` alone when the
  measurement is a template (the names it renders to are known only from the rows)
- ``datalake://gold/mongodb/<conn id>/<database>/<collection>``
- ``datalake://gold/neo4j/<conn id>/<database>/node/<Label>`` and ``.../relationship/<TYPE>``

A bucket or database left to the connection (the target gives none) is the segment ``_default``. Every
segment is percent-quoted, ``/`` included, so a bucket such as ``db/retention`` stays one segment.

`sanitize_uri` is the handler Airflow's provider manager calls on every ``datalake://`` URI (provider info
``asset-uris``): it refuses a malformed one with ValueError when the Asset is made, at parse time, rather
than letting a typo make an asset no DAG will ever see. Standard library only: every DAG file's parse
imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, quote, unquote

SCHEME = "datalake"
#: The segment standing for a bucket or database the target leaves to its connection.
CONNECTION_DEFAULT = "_default"
#: Path segments after ``gold/<store>`` of each gold store's URIs, as (min, max): InfluxDB's measurement may
#: be absent (a templated measurement), Neo4j's has a kind (node | relationship) before the name.
_GOLD_SEGMENTS = {"postgres": (3, 3), "influxdb": (2, 3), "mongodb": (3, 3), "neo4j": (4, 4)}
NEO4J_KINDS = ("node", "relationship")


@dataclass(frozen=True, slots=True)
class GoldAsset:
    """One gold asset a target writes: its URI, a readable name (unique with the URI: it names the
    connection too), the store and what kind of thing it is there (table, measurement, bucket, collection,
    node, relationship). ``target`` is the descriptor target (load task) that writes it."""

    target: str
    uri: str
    name: str
    store: str
    kind: str


def quote_segment(value: str) -> str:
    """One path segment, percent-quoted (``/`` too)."""
    return quote(value, safe="")


def raw_uri(fmt: str) -> str:
    """The raw objects of format ``fmt``."""
    return f"{SCHEME}://raw/{quote_segment(fmt)}"


def unformatted_uri(dag_id: str) -> str:
    """The raw objects no descriptor matched, as watched by DAG ``dag_id``."""
    return f"{SCHEME}://raw/_unformatted/{quote_segment(dag_id)}"


def gold_uri(store: str, conn_id: str, *names: str) -> str:
    """A gold asset's URI: ``datalake://gold/<store>/<conn id>/<names...>``, each part quoted."""
    if not conn_id or not all(names):
        raise ValueError(f"a gold asset of {store} needs a connection id and non-empty names")
    return f"{SCHEME}://gold/" + "/".join(quote_segment(part) for part in (store, conn_id, *names))


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's ``asset-uris`` handler for ``datalake``: check the URI's form, return it normalised.

    Airflow has already lower-cased the scheme, dropped the fragment and any trailing ``/``. The path's
    segments come back in one quoting (``%2f`` and ``%2F`` are one asset). ValueError names what is wrong.
    """
    text = uri.geturl()
    if uri.username is not None or uri.password is not None or uri.port is not None:
        raise ValueError(f"{text}: a datalake URI has no user, password nor port")
    if uri.query:
        raise ValueError(f"{text}: a datalake URI takes no query")
    if not uri.path.startswith("/"):
        raise ValueError(f"{text}: a datalake URI needs a path after the zone (raw or gold)")
    segments = [unquote(s) for s in uri.path[1:].split("/")]
    if not all(segments) or any(s.isspace() for s in segments):
        raise ValueError(f"{text}: empty segment in a datalake URI")
    zone = uri.hostname
    if zone == "raw":
        if not (len(segments) == 1 or (len(segments) == 2 and segments[0] == "_unformatted")):
            raise ValueError(f"{text}: a raw asset is datalake://raw/<format> or raw/_unformatted/<dag id>")
    elif zone == "gold":
        store, rest = segments[0], segments[1:]
        if store not in _GOLD_SEGMENTS:
            raise ValueError(f"{text}: unknown gold store {store!r} (known: {', '.join(_GOLD_SEGMENTS)})")
        low, high = _GOLD_SEGMENTS[store]
        if not low <= len(rest) <= high:
            raise ValueError(f"{text}: a {store} asset is {_gold_form(store)}")
        if store == "neo4j" and rest[2] not in NEO4J_KINDS:
            raise ValueError(f"{text}: a neo4j asset is {_gold_form(store)}")
    else:
        raise ValueError(f"{text}: a datalake URI is datalake://raw/... or datalake://gold/...")
    return uri._replace(netloc=zone, path="/" + "/".join(quote_segment(s) for s in segments))


def _gold_form(store: str) -> str:
    return {
        "postgres": "datalake://gold/postgres/<conn id>/<schema>/<table>",
        "influxdb": "datalake://gold/influxdb/<conn id>/<bucket>[/<measurement>]",
        "mongodb": "datalake://gold/mongodb/<conn id>/<database>/<collection>",
        "neo4j": "datalake://gold/neo4j/<conn id>/<database>/node|relationship/<name>",
    }[store]
