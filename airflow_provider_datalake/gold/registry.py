"""The stores of the gold zone: a target's ``store`` name -> the module that loads into it.

Each store module has the same shape: a ``make_loader(target, fields)`` that builds its loader on the
official Airflow hook of the target's connection, and a loader class implementing `gold.common.GoldLoader`.
A new store is one module and one line here.

Store modules are imported on first use: each imports its driver (psycopg, pymongo, influxdb_client,
neo4j), and a run loads only the stores its descriptor targets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

from airflow_provider_datalake.descriptors.model import FieldSpec
from airflow_provider_datalake.gold.common import GoldLoader

#: store name (a target's ``store``) -> module holding its ``make_loader``
STORES: dict[str, str] = {
    "postgres": "airflow_provider_datalake.gold.postgres",
    "influxdb": "airflow_provider_datalake.gold.influxdb",
    "mongodb": "airflow_provider_datalake.gold.mongo",
    "neo4j": "airflow_provider_datalake.gold.neo4j",
}

if TYPE_CHECKING:  # mypy checks that every store's make_loader builds a GoldLoader
    from airflow_provider_datalake.gold import influxdb, mongo, neo4j, postgres

    _FACTORIES: tuple[Callable[[Any, list[FieldSpec]], GoldLoader], ...] = (
        postgres.make_loader,
        influxdb.make_loader,
        mongo.make_loader,
        neo4j.make_loader,
    )


def make_loader(target: Any, fields: Sequence[FieldSpec]) -> GoldLoader:
    """The loader of a descriptor's target, whatever its store."""
    try:
        module = STORES[target.store]
    except KeyError:
        raise ValueError(f"no loader for store {target.store!r}; known: {', '.join(STORES)}") from None
    factory: Callable[[Any, list[FieldSpec]], GoldLoader] = import_module(module).make_loader
    return factory(target, list(fields))
