"""The gold zone's contract without a server: the registry of stores, LoadResult, the error types."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest

from airflow_provider_datalake.descriptors.model import InfluxTarget, MongoTarget, Neo4jTarget, PostgresTarget
from airflow_provider_datalake.gold.common import GoldLoadError, GoldSchemaError, LoadResult
from airflow_provider_datalake.gold.registry import STORES, make_loader


@pytest.mark.parametrize("store", sorted(STORES))
def test_every_registered_store_module_has_a_make_loader(store: str) -> None:
    assert callable(importlib.import_module(STORES[store]).make_loader)


def test_the_registry_knows_every_store_a_descriptor_may_target() -> None:
    targets = (PostgresTarget, InfluxTarget, MongoTarget, Neo4jTarget)
    assert {t.model_fields["store"].default for t in targets} == set(STORES)


def test_an_unknown_store_is_refused_with_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match=r"no loader for store 'nope'; known: postgres, influxdb, mongodb, neo4j"
    ):
        make_loader(SimpleNamespace(store="nope"), [])


def test_one_except_clause_catches_every_gold_failure() -> None:
    assert issubclass(GoldSchemaError, GoldLoadError)


def test_as_dict_keeps_rows_rejected_only_for_stores_that_reject_rows() -> None:
    all_or_nothing = LoadResult(rows_written=3, rows_in=3, mode="merge", table="s.t")
    assert all_or_nothing.as_dict() == {"rows_written": 3, "rows_in": 3, "mode": "merge", "table": "s.t"}
    rejecting = LoadResult(2, 3, "overwrite", "b/m", rows_rejected=0)
    assert rejecting.as_dict()["rows_rejected"] == 0
