"""The catalog core's pure parts (datalake_catalog/catalog.py): the guard matcher FerretDB writes rely on."""

from __future__ import annotations

import datetime as dt

import pytest

from datalake_catalog.catalog import matches

NOW = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)
DOC = {
    "_id": "r1",
    "status": "committed",
    "format": None,
    "inference": {"state": "inferring", "run_id": "run-1", "until": NOW.replace(tzinfo=None)},
    "tags": ["a", "b"],
    "size": 10,
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, True),
        ({"status": "committed"}, True),
        ({"status": "processing"}, False),
        ({"format": None}, True),  # null matches null …
        ({"application": None}, True),  # … and a missing field
        ({"inference.run_id": "run-1"}, True),
        ({"inference.run_id": "run-2"}, False),
        ({"inference.nothing": None}, True),
        ({"inference.state.deeper": None}, True),
        ({"status": {"$in": ["pending", "committed"]}}, True),
        ({"status": {"$in": ["pending"]}}, False),
        ({"status": {"$nin": ["pending"]}}, True),
        ({"status": {"$ne": "committed"}}, False),
        ({"inference": {"$exists": False}}, False),
        ({"lease_until": {"$exists": False}}, True),
        ({"inference.until": {"$lt": NOW + dt.timedelta(seconds=1)}}, True),  # naive stored, aware bound
        ({"inference.until": {"$lt": NOW}}, False),
        ({"inference.until": {"$lte": NOW}}, True),
        ({"lease_until": {"$lt": NOW}}, False),  # missing never compares
        ({"size": {"$gt": 9, "$lt": 11}}, True),
        ({"size": {"$gte": 11}}, False),
        ({"size": {"$lt": "z"}}, False),  # other types never compare
        ({"tags": "b"}, True),  # equality on an array matches an element
        ({"tags": ["a", "b"]}, True),
        ({"status": "committed", "inference.run_id": "run-2"}, False),
    ],
)
def test_matches_decides_as_mongodb_does(query: dict, expected: bool) -> None:
    assert matches(DOC, query) is expected


def test_an_operator_it_does_not_know_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match=r"\$regex"):
        matches(DOC, {"status": {"$regex": "^comm"}})
