"""The format run's operators, without a store: what they are given and how the load finds its descriptor.
Their work against the real catalog, Swift and stores is tested through the generated DAGs
(tests/factory/test_end_to_end.py, tests/gold/test_fanout.py, tests/factory/test_live_airflow.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_datalake.descriptors.loader import parse_descriptor
from airflow_provider_datalake.format_cache import CACHE_NAME
from airflow_provider_datalake.operators.formats import ClaimRawObjectsOperator, LoadRawObjectOperator
from tests.factory.test_dags import GOOD


def test_load_needs_a_descriptor_or_where_to_read_it() -> None:
    with pytest.raises(ValueError, match="descriptor or the cache_path"):
        LoadRawObjectOperator(task_id="load", format="fmt_a", target="t", record_id="r")


def test_load_takes_one_object_or_a_list_never_both_nor_none() -> None:
    desc = parse_descriptor(GOOD.format(name="fmt_a"))
    for ids in ({}, {"record_id": "r", "record_ids": ["r"]}):
        with pytest.raises(ValueError, match="record_id or record_ids"):
            LoadRawObjectOperator(task_id="load", format="fmt_a", target="t", descriptor=desc, **ids)
    several = LoadRawObjectOperator(
        task_id="l", format="fmt_a", target="t", descriptor=desc, record_ids=["a"]
    )
    assert several.record_ids == ["a"] and "record_ids" in several.template_fields


def test_claim_shares_objects_out_in_lists_of_at_least_one() -> None:
    with pytest.raises(ValueError, match="per_task must be at least 1"):
        ClaimRawObjectsOperator(task_id="claim", format="fmt_a", per_task=0)


def test_load_resolves_its_descriptor_from_an_object_its_data_or_the_cache(tmp_path: Path) -> None:
    desc = parse_descriptor(GOOD.format(name="fmt_a"))
    as_object = LoadRawObjectOperator(task_id="a", format="fmt_a", target="t", record_id="r", descriptor=desc)
    as_data = LoadRawObjectOperator(
        task_id="b", format="fmt_a", target="t", record_id="r", descriptor=desc.model_dump(mode="json")
    )
    cache = tmp_path / CACHE_NAME
    entry = {"version": 3, "yaml": GOOD.format(name="fmt_a")}
    cache.write_text(json.dumps({"descriptors": {"fmt_a": entry}}))
    from_cache = LoadRawObjectOperator(
        task_id="c", format="fmt_a", target="t", record_id="r", cache_path=cache
    )
    assert as_object.resolve_descriptor() is desc
    assert as_data.resolve_descriptor() == desc
    assert from_cache.resolve_descriptor() == desc
    assert from_cache.cache_path == str(cache)
